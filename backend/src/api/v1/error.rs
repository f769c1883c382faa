//! `/v1`'s errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with
//! OpenAI's status codes. One mapping from Troupe's errors (`openai_error`), used by `/v1`'s
//! operations and, through `translate`, by the request boundary for every other failure under
//! `/v1` (unknown routes, bodies too large, refused credentials).

use poem::{
    IntoResponse, Response,
    error::ResponseError,
    http::{HeaderValue, StatusCode, header},
};
use poem_openapi::{
    ApiResponse,
    registry::{MetaResponses, Registry},
    types::Type,
};

use super::wire::{OpenAiError, OpenAiErrorDetail};
use crate::{
    api::{ApiError, error::error_responses},
    error::AppError,
};

/// An error answer under `/v1`.
#[derive(Debug)]
pub struct V1Error(pub ApiError);

impl V1Error {
    /// 400 naming the request field at fault.
    pub fn bad_param(param: &str, message: &str) -> Self {
        Self(ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", format!("{param}: {message}")).with_field(param))
    }

    pub fn model_not_found(model: &str) -> Self {
        let message = format!("the model `{model}` does not exist or you do not have access to it");
        Self(ApiError::new(StatusCode::NOT_FOUND, "model_not_found", message).with_field("model"))
    }
}

impl From<AppError> for V1Error {
    fn from(e: AppError) -> Self {
        Self(e.into())
    }
}

impl From<ApiError> for V1Error {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

/// OpenAI's status and body for one of Troupe's errors.
pub fn openai_error(error: &ApiError) -> (StatusCode, OpenAiError) {
    openai_shape(error.status, error.code, error.message.clone(), error.field.clone())
}

/// OpenAI's status, type and code for Troupe's status and code.
fn openai_shape(status: StatusCode, code: &str, message: String, param: Option<String>) -> (StatusCode, OpenAiError) {
    let (status, kind, code) = match (status, code) {
        // OpenAI answers 400 to every request it cannot take as it is.
        (StatusCode::UNPROCESSABLE_ENTITY, code) => (StatusCode::BAD_REQUEST, "invalid_request_error", code),
        (StatusCode::UNAUTHORIZED, code) => (StatusCode::UNAUTHORIZED, "invalid_request_error", code),
        (StatusCode::FORBIDDEN, code) => (StatusCode::FORBIDDEN, "permission_error", code),
        (StatusCode::TOO_MANY_REQUESTS, "quota_exceeded") => {
            (StatusCode::TOO_MANY_REQUESTS, "insufficient_quota", "insufficient_quota")
        }
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited") => {
            (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", "rate_limit_exceeded")
        }
        (StatusCode::TOO_MANY_REQUESTS, code) => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", code),
        (status, code) if status.is_server_error() => (status, "server_error", code),
        (status, code) => (status, "invalid_request_error", code),
    };
    (status, OpenAiError { error: OpenAiErrorDetail { message, kind: kind.into(), param, code: Some(code.into()) } })
}

impl IntoResponse for V1Error {
    fn into_response(self) -> Response {
        let (status, body) = openai_error(&self.0);
        let mut resp = poem_openapi::payload::Json(body).into_response();
        resp.set_status(status);
        if let Some(secs) = self.0.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl ResponseError for V1Error {
    fn status(&self) -> StatusCode {
        openai_error(&self.0).0
    }

    fn as_response(&self) -> Response {
        Self(self.0.clone()).into_response()
    }
}

impl std::fmt::Display for V1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for V1Error {}

impl ApiResponse for V1Error {
    fn meta() -> MetaResponses {
        error_responses(
            "OpenAI's error shape: 400 `invalid_request_error` (with `param`), 401 `invalid_api_key`, 403, \
             404 `model_not_found`, 413, 429 `rate_limit_exceeded` / `insufficient_quota` / `too_many_streams`",
            "`server_error`: 502 the model provider failed, 504 it timed out",
            OpenAiError::schema_ref(),
        )
    }

    fn register(registry: &mut Registry) {
        OpenAiError::register(registry);
    }
}

/// Rewrites an error answered in Troupe's shape into OpenAI's (answers already in OpenAI's
/// shape, and successes, pass as they are).
pub async fn translate(resp: Response) -> Response {
    if !(resp.status().is_client_error() || resp.status().is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.into_bytes().await.unwrap_or_default();
    let parsed: Option<troupe_types::ErrorBody> = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .filter(|v| v["error"].get("type").is_none())
        .and_then(|v| serde_json::from_value(v).ok());
    let Some(ours) = parsed else {
        return Response::from_parts(parts, bytes.into());
    };
    let (status, body) = openai_shape(parts.status, &ours.error.code, ours.error.message, ours.error.field);
    let mut resp = Response::from_parts(parts, serde_json::to_vec(&body).expect("serializes").into());
    resp.set_status(status);
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp
}
