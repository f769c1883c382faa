//! The HTTP API: poem-openapi operations per resource, documented at `/docs`.

pub mod auth;
pub mod error;
pub mod payload;
pub mod service;
pub mod session;

use poem_openapi::{OpenApiService, Tags};

pub use error::ApiError;

#[derive(Tags)]
enum ApiTags {
    /// Accounts and sessions
    Auth,
    /// Liveness, readiness
    Service,
}

pub type Apis = (auth::AuthApi, service::ServiceApi);

/// The documented API. Building it needs no state, so the spec can be generated anywhere.
pub fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (auth::AuthApi, service::ServiceApi),
        "Troupe",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Self-hosted character chat. Every 4xx/5xx answer has the body \
             `{\"error\": {\"code\", \"message\", \"field\"?}}`. Authenticate with \
             `Authorization: Bearer <token>` or the `troupe_session` cookie.",
    )
}
