//! Wiring: database, services and the HTTP stack, bound to a listener.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use poem::{
    EndpointExt, IntoResponse, Route, Server,
    endpoint::make_sync,
    listener::{Acceptor, Listener, TcpListener},
    middleware::{CatchPanic, CookieJarManager, Cors},
};

use crate::{
    api::{self, ApiError},
    auth::secret,
    config::Config,
    http::{BodyLimit, CsrfGuard, RequestBoundary, allow::RouteMethods, embed, nodelay::NoDelayAcceptor, spa},
    services::{bulk, characters::cards, starters, transcripts::MAX_IMPORT_BYTES},
    shared::Shared,
    state::AppState,
    storage::{Db, quotas},
    telemetry,
};

/// Largest request body accepted, beside the routes in `BODY_LIMITS`.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Routes whose bodies may be larger than `MAX_BODY_BYTES` (`*` stands for one path segment).
const BODY_LIMITS: &[(&str, usize)] = &[
    ("/api/chats/import", MAX_IMPORT_BYTES),
    ("/api/characters/import", cards::MAX_IMPORT_BYTES),
    ("/api/characters/*/avatar", cards::MAX_AVATAR_BYTES),
    // A card with its lorebook, as JSON.
    ("/api/characters", MAX_CARD_JSON_BYTES),
    ("/api/characters/*", MAX_CARD_JSON_BYTES),
    ("/api/lorebooks", MAX_CARD_JSON_BYTES),
    ("/api/lorebooks/*", MAX_CARD_JSON_BYTES),
];
const MAX_CARD_JSON_BYTES: usize = 16 << 20;

/// A configured server bound to its address, ready to run.
pub struct Application {
    acceptor: NoDelayAcceptor,
    address: SocketAddr,
    app: poem::endpoint::BoxEndpoint<'static>,
    state: AppState,
}

impl Application {
    /// Connects and migrates the database, bootstraps the admin and the starter characters,
    /// and binds the listener (port 0 picks a free port; see `address`).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = Db::open(&config.database_url, config.database_wait).await?;
        db.migrate().await?;
        let secret = secret::resolve(&config)?;
        let shared = Shared::connect(config.redis_url.as_ref(), &config.redis_prefix).await?;
        quotas::set_default(&db, config.limits.storage_quota_mb).await.context("cannot apply STORAGE_QUOTA_MB")?;
        bulk::clean_up_abandoned(&db, &shared).await.context("cannot remove abandoned bulk writes")?;
        let state = AppState::build(&config, db, &secret, &shared)?;
        if let Some(admin) = &config.admin_bootstrap {
            state
                .accounts
                .bootstrap_admin(&admin.username, &admin.password)
                .await
                .map_err(|e| anyhow::anyhow!("cannot create the bootstrap admin: {e}"))?;
        }
        if config.starter_characters {
            let created =
                starters::ensure(&state.db).await.map_err(|e| anyhow::anyhow!("cannot create the starters: {e}"))?;
            if created > 0 {
                tracing::info!(created, "created the starter characters (STARTER_CHARACTERS=false turns them off)");
            }
        }
        let app = http_stack(&config, &state);
        let acceptor = TcpListener::bind(config.bind)
            .into_acceptor()
            .await
            .map(NoDelayAcceptor)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("the listener has no address")?;
        tracing::info!("listening on http://{address}");
        Ok(Self { acceptor, address, app, state })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The database the server uses (tests reach behind the API with it).
    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// Serves until Ctrl-C or SIGTERM, then lets in-flight requests finish (up to 10 s).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        tokio::spawn(housekeeping(self.state.clone()));
        let served = Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(self.app, shutdown_signal(), Some(Duration::from_secs(10)))
            .await;
        if let Err(e) = self.state.accounts.keys().flush_last_used().await {
            tracing::warn!(error = ?e, "could not record when API keys were last used");
        }
        served
    }
}

/// Routes and middleware, outermost last.
fn http_stack(config: &Config, state: &AppState) -> poem::endpoint::BoxEndpoint<'static> {
    let api = api::openapi_service();
    let spec: serde_json::Value = serde_json::from_str(&api.spec()).expect("the generated spec is JSON");
    let route_methods = Arc::new(RouteMethods::from_spec(&spec));
    let metrics = telemetry::metrics_handle();
    let routes = Route::new()
        .at("/openapi.json", api.spec_endpoint())
        .nest("/docs", api.swagger_ui())
        .at(
            "/metrics",
            make_sync(move |_| metrics.render().with_content_type("text/plain; version=0.0.4; charset=utf-8")),
        )
        .at("/embed", embed::EmbedPage::new(&config.static_dir))
        .at("/embed.js", poem::endpoint::make(embed::script))
        .nest("/", spa::ApiOrSpa { api: api.boxed(), spa: spa::spa_endpoint(&config.static_dir) });
    let cors =
        Cors::new().allow_origins(config.cors_allowed_origins.iter().map(String::as_str)).allow_credentials(true);
    routes
        .with_if(!config.cors_allowed_origins.is_empty(), cors)
        .with(CsrfGuard { allowed_origins: config.cors_allowed_origins.clone() })
        .with(BodyLimit { max_bytes: MAX_BODY_BYTES, uploads: BODY_LIMITS })
        .with(CookieJarManager::new())
        .with(CatchPanic::new().with_handler(|panic: Box<dyn std::any::Any + Send>| {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = message, "handler panicked");
            ApiError::internal()
        }))
        .data(state.clone())
        .with(RequestBoundary { routes: route_methods })
        .boxed()
}

/// Periodic clean-up: rate-limit state of idle clients, revocations of expired tokens; and
/// every minute, when API keys were last used.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    for round in 0u64.. {
        tick.tick().await;
        if let Err(e) = state.accounts.keys().flush_last_used().await {
            tracing::warn!(error = ?e, "could not record when API keys were last used");
        }
        if round % 10 != 0 {
            continue;
        }
        state.turns.limits().forget_idle();
        state.create_limit.forget_idle();
        state.auth_attempts.forget_idle();
        state.accounts.forget_idle_failures();
        match state.accounts.purge_expired_revocations().await {
            Ok(n) if n > 0 => tracing::info!(purged = n, "forgot revocations of expired tokens"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "could not purge expired revocations"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("can listen for SIGTERM");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
}
