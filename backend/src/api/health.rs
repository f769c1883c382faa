//! Liveness and readiness probes.

use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, payload::Json};

use super::{ApiTags, error::ApiError};
use crate::state::AppState;

#[derive(Default)]
pub struct HealthApi;

#[derive(Object)]
struct Status {
    /// `ok`
    status: String,
}

#[derive(ApiResponse)]
enum HealthResponse {
    /// The process is running.
    #[oai(status = 200)]
    Ok(Json<Status>),
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// The database answers.
    #[oai(status = 200)]
    Ready(Json<Status>),
}

#[OpenApi(tag = "ApiTags::Service")]
impl HealthApi {
    /// Liveness
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Result<HealthResponse, ApiError> {
        Ok(HealthResponse::Ok(Json(Status { status: "ok".into() })))
    }

    /// Readiness: 200 when the database answers, else 503 `not_ready`
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&AppState>) -> Result<ReadyResponse, ApiError> {
        match state.db.ping().await {
            Ok(()) => Ok(ReadyResponse::Ready(Json(Status { status: "ok".into() }))),
            Err(e) => {
                tracing::warn!(error = ?e, "database is not answering");
                Err(ApiError::new(
                    poem::http::StatusCode::SERVICE_UNAVAILABLE,
                    "not_ready",
                    "the database is not answering",
                ))
            }
        }
    }
}
