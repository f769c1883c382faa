//! Serves the built web app: files from `STATIC_DIR`, and `index.html` for client-side routes.

use std::path::Path;

use poem::{EndpointExt, endpoint::StaticFilesEndpoint};

/// `None` when the folder has no `index.html` (API-only deployments, or the SPA not built).
pub fn spa_endpoint(dir: &Path) -> Option<poem::endpoint::BoxEndpoint<'static>> {
    if !dir.join("index.html").is_file() {
        return None;
    }
    let files = StaticFilesEndpoint::new(dir).index_file("index.html").fallback_to_index().no_cache_index();
    Some(files.map_to_response().boxed())
}

/// Paths that belong to the API and the service endpoints, never to the SPA.
pub fn is_server_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz")
}

/// Sends API and service paths to the API, everything else to the SPA (or a JSON 404 when
/// there is no SPA to serve).
pub struct ApiOrSpa {
    pub api: poem::endpoint::BoxEndpoint<'static>,
    pub spa: Option<poem::endpoint::BoxEndpoint<'static>>,
}

impl poem::Endpoint for ApiOrSpa {
    type Output = poem::Response;

    async fn call(&self, req: poem::Request) -> poem::Result<poem::Response> {
        match &self.spa {
            Some(spa) if !is_server_path(req.uri().path()) => spa.call(req).await,
            _ => self.api.call(req).await,
        }
    }
}
