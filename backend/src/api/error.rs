//! The one place where errors become HTTP answers in the contract's shape:
//! `{"error": {"code", "message", "field"?}}` for every 4xx and 5xx.

use poem::{IntoResponse, Response, error::ResponseError, http::StatusCode};
use poem_openapi::{
    ApiResponse,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::Type,
};
use troupe_types::{ErrorBody, ErrorDetail, rules::RuleViolation};

use crate::error::AppError;

/// An error answer. Every operation documents it as its `4XX` and `5XX` responses.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    /// Seconds, sent as `Retry-After` where waiting helps.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), field: None, retry_after: None }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// The opaque answer for failures that are ours; the cause goes to the log, not the client.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "something went wrong on our side")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code: self.code.to_owned(), message: self.message.clone(), field: self.field.clone() },
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        use StatusCode as S;
        match err {
            AppError::Invalid(v) => Self::new(S::UNPROCESSABLE_ENTITY, v.code, v.message).with_field(v.field),
            AppError::InvalidFile { line, message } => {
                Self::new(S::UNPROCESSABLE_ENTITY, "invalid_file", message).with_field(format!("line {line}"))
            }
            AppError::InvalidImage(message) => Self::new(S::UNPROCESSABLE_ENTITY, "invalid_image", message),
            AppError::TooLarge(message) => Self::new(S::PAYLOAD_TOO_LARGE, "payload_too_large", message),
            AppError::UsernameTaken => Self::new(S::CONFLICT, "username_taken", err.to_string()).with_field("username"),
            AppError::Conflict(code, message) => Self::new(S::CONFLICT, code, message),
            AppError::InvalidCredentials => Self::new(S::UNAUTHORIZED, "invalid_credentials", err.to_string()),
            AppError::LoginDisabled => Self::new(S::FORBIDDEN, "account_disabled", err.to_string()),
            AppError::Unauthenticated(problem) => Self::new(S::UNAUTHORIZED, problem.code(), problem.to_string()),
            AppError::NotFound => Self::not_found(),
            AppError::Forbidden(_) => Self::new(S::FORBIDDEN, "forbidden", err.to_string()),
            AppError::RateLimited { retry_after_secs } => {
                Self::new(S::TOO_MANY_REQUESTS, "rate_limited", err.to_string()).retry_after(retry_after_secs)
            }
            AppError::QuotaExceeded { retry_after_secs, .. } => {
                Self::new(S::TOO_MANY_REQUESTS, "quota_exceeded", err.to_string()).retry_after(retry_after_secs)
            }
            AppError::BulkWriteRunning => {
                Self::new(S::TOO_MANY_REQUESTS, "bulk_write_in_progress", err.to_string()).retry_after(5)
            }
            AppError::BulkWritesFull => {
                Self::new(S::TOO_MANY_REQUESTS, "bulk_writes_busy", err.to_string()).retry_after(5)
            }
            AppError::StorageQuotaExceeded => Self::new(S::FORBIDDEN, "storage_quota_exceeded", err.to_string()),
            AppError::Busy { retry_after_secs } => {
                Self::new(S::SERVICE_UNAVAILABLE, "busy", err.to_string()).retry_after(retry_after_secs)
            }
            AppError::TooManyStreams { .. } => {
                Self::new(S::TOO_MANY_REQUESTS, "too_many_streams", err.to_string()).retry_after(1)
            }
            AppError::TooManyLiveConnections { .. } => {
                Self::new(S::TOO_MANY_REQUESTS, "too_many_connections", err.to_string()).retry_after(5)
            }
            AppError::TooManyRooms { .. } => {
                Self::new(S::TOO_MANY_REQUESTS, "too_many_rooms", err.to_string()).retry_after(5)
            }
            AppError::SlowMode { retry_after_secs } => {
                Self::new(S::TOO_MANY_REQUESTS, "slow_mode", err.to_string()).retry_after(retry_after_secs)
            }
            AppError::Muted { .. } => Self::new(S::FORBIDDEN, "muted", err.to_string()),
            AppError::Upstream { timeout: true, message } => Self::new(S::GATEWAY_TIMEOUT, "upstream_timeout", message),
            AppError::Upstream { timeout: false, message } => Self::new(S::BAD_GATEWAY, "upstream_error", message),
            AppError::Internal(cause) => {
                tracing::error!(error = ?cause, "request failed");
                Self::internal()
            }
        }
    }
}

impl From<RuleViolation> for ApiError {
    fn from(v: RuleViolation) -> Self {
        AppError::from(v).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = poem_openapi::payload::Json(self.body()).into_response();
        resp.set_status(self.status);
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert("retry-after", secs.into());
        }
        resp
    }
}

/// Lets an `ApiError` travel as a `poem::Error` (from extractors and middleware).
impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        self.clone().into_response()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        error_responses(
            "Client error (400 malformed body, 401 not signed in, 403 not allowed, 404 not found or not yours, \
             409 conflict, 413 body too large, 422 validation failed, 429 rate limited)",
            "Server error; the body never carries internal detail. 503 `busy` (with Retry-After): no database \
             connection came free within DATABASE_WAIT_MS",
            ErrorBody::schema_ref(),
        )
    }

    fn register(registry: &mut Registry) {
        ErrorBody::register(registry);
    }
}

/// The `4XX` and `5XX` answers an operation documents, with their body's schema (`Retry-After`
/// on the first, for 429).
pub fn error_responses(client: &'static str, server: &'static str, schema: MetaSchemaRef) -> MetaResponses {
    let body = || vec![MetaMediaType { content_type: "application/json; charset=utf-8", schema: schema.clone() }];
    MetaResponses {
        responses: vec![
            MetaResponse {
                description: client,
                status: None,
                status_range: Some("4XX".into()),
                content: body(),
                headers: vec![MetaHeader {
                    name: "Retry-After".into(),
                    description: Some("Seconds to wait before retrying (429 only)".into()),
                    required: false,
                    deprecated: false,
                    schema: u64::schema_ref(),
                }],
            },
            MetaResponse {
                description: server,
                status: None,
                status_range: Some("5XX".into()),
                content: body(),
                headers: vec![MetaHeader {
                    name: "Retry-After".into(),
                    description: Some("Seconds to wait before retrying (503 `busy`)".into()),
                    required: false,
                    deprecated: false,
                    schema: u64::schema_ref(),
                }],
            },
        ],
    }
}
