//! Serves the built web apps: files from `STATIC_DIR`, `admin/index.html` for the admin
//! console's client-side routes (`/admin/…`), `account/index.html` for the account pages'
//! (`/account/…`), `rooms/index.html` for the live rooms' (`/rooms/…`) and `index.html` for
//! every other.

use std::path::Path;

use poem::{
    Endpoint, EndpointExt, IntoResponse,
    endpoint::StaticFilesEndpoint,
    http::{HeaderValue, Method, header},
};

/// `None` when the folder has no `index.html` (API-only deployments, or the SPA not built).
/// `index.html` is never cached (a new build must show at once); the files trunk names by
/// their content hash never change, so browsers may keep them for a year.
pub fn spa_endpoint(dir: &Path) -> Option<poem::endpoint::BoxEndpoint<'static>> {
    if !dir.join("index.html").is_file() {
        tracing::warn!(dir = %dir.display(), "no web app here (build it with frontend/build.sh): serving the API only");
        return None;
    }
    tracing::info!(dir = %dir.display(), "serving the web app");
    let files = StaticFilesEndpoint::new(dir).index_file("index.html").fallback_to_index().no_cache_index();
    let dir = dir.to_owned();
    let files = files.around(move |files, mut req| {
        let dir = dir.clone();
        async move {
            // A build file that is gone (an old hash after a deploy) is a 404, never index.html
            // under a name browsers would keep for a year.
            let path = req.uri().path().to_owned();
            let immutable = is_hashed_asset(&path) && !path.contains("..");
            let exists = !path.contains("..") && dir.join(path.trim_start_matches('/')).is_file();
            if immutable && !exists {
                return Err(poem::error::NotFoundError.into());
            }
            // The admin console, the account pages and the live rooms are apps of their own: their
            // client routes get their index.html.
            if let Some(index) = sub_app_index(&path).filter(|_| !exists) {
                *req.uri_mut() = poem::http::Uri::from_static(index);
            }
            // The file endpoint knows only GET; a HEAD gets the same headers (hyper drops the body).
            if req.method() == Method::HEAD {
                req.set_method(Method::GET);
            }
            let mut resp = files.call(req).await?.into_response();
            let found = resp.status().is_success();
            let headers = resp.headers_mut();
            // Everything else (the pages, the Markdown worker) is checked each time: a new build
            // must show at once.
            let cache = if immutable { IMMUTABLE } else { "no-cache" };
            if found {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            }
            // nginx adds the full set (with the CSP) in production; these hold without it too.
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
            Ok(resp)
        }
    });
    Some(files.boxed())
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The apps beside the main one: each owns a path and the paths under it, and is built into
/// the folder of that name (`frontend/build.sh`).
const SUB_APPS: [(&str, &str); 3] =
    [("/admin", "/admin/index.html"), ("/account", "/account/index.html"), ("/rooms", "/rooms/index.html")];

/// The `index.html` of the app whose client route `path` is, if it is not the main app's.
fn sub_app_index(path: &str) -> Option<&'static str> {
    SUB_APPS
        .iter()
        .find(|(root, _)| path == *root || path.strip_prefix(root).is_some_and(|rest| rest.starts_with('/')))
        .map(|(_, index)| *index)
}

/// `troupe-web-0123456789abcdef_bg.wasm`, `app-0123456789abcdef.css`: trunk's hashed names.
fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, ext)) = name.rsplit_once('.') else { return false };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let hash = stem.rsplit_once('-').map_or("", |(_, hash)| hash);
    // Trunk writes the 64-bit hash without leading zeros: up to 16 digits, now and then fewer.
    matches!(ext, "js" | "wasm" | "css")
        && (8..=16).contains(&hash.len())
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Paths that belong to the API and the service endpoints, never to the SPA.
pub fn is_server_path(path: &str) -> bool {
    path == "/api"
        || path.starts_with("/api/")
        || path == "/v1"
        || path.starts_with("/v1/")
        || matches!(path, "/healthz" | "/readyz")
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

#[cfg(test)]
mod tests {
    use super::{is_hashed_asset, sub_app_index};

    #[test]
    fn only_trunks_hashed_files_count_as_immutable() {
        assert!(is_hashed_asset("/troupe-web-4f2a9c0d1e3b5a7c_bg.wasm"));
        assert!(is_hashed_asset("/troupe-web-4f2a9c0d1e3b5a7c.js"));
        assert!(is_hashed_asset("/app-00112233aabbccdd.css"));
        assert!(is_hashed_asset("/troupe-web-b8cbd4d0c83161_bg.wasm"), "a hash with leading zeros left out");
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/troupe-web.js"));
        assert!(!is_hashed_asset("/chats/42"));
        assert!(!is_hashed_asset("/notes-4f2a9c0d1e3b5a7c.txt"));
        assert!(is_hashed_asset("/admin/troupe-admin-4f2a9c0d1e3b5a7c_bg.wasm"));
        assert!(!is_hashed_asset("/markdown-worker_bg.wasm"));
    }

    #[test]
    fn the_other_apps_have_the_paths_under_their_own() {
        assert_eq!(sub_app_index("/admin"), Some("/admin/index.html"));
        assert_eq!(sub_app_index("/admin/users"), Some("/admin/index.html"));
        assert_eq!(sub_app_index("/account/keys"), Some("/account/index.html"));
        assert_eq!(sub_app_index("/rooms"), Some("/rooms/index.html"));
        assert_eq!(sub_app_index("/rooms/7"), Some("/rooms/index.html"));
        assert_eq!(sub_app_index("/api/rooms/7/ws"), None);
        assert_eq!(sub_app_index("/administrators"), None);
        assert_eq!(sub_app_index("/accounting"), None);
        assert_eq!(sub_app_index("/api/admin/users"), None);
    }
}
