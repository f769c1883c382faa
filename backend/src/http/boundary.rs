//! The outermost layer of every request: a request id, one log line, metrics, and the
//! conversion of every error into the contract's JSON shape.

use std::{sync::Arc, time::Instant};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    error::{MethodNotAllowedError, NotFoundError, ParseJsonError, ReadBodyError},
    http::{HeaderValue, Method, StatusCode, header},
};
use poem_openapi::{
    OperationId,
    error::{ContentTypeError, ParseParamError, ParseRequestPayloadError},
};
use tracing::Instrument;

use super::{allow::RouteMethods, spa::is_server_path};
use crate::api::{ApiError, v1::error::V1Error};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Wraps the whole app; see the module docs.
pub struct RequestBoundary {
    /// For the `Allow` header of 405 answers.
    pub routes: Arc<RouteMethods>,
}

impl<E: Endpoint + 'static> poem::Middleware<E> for RequestBoundary {
    type Output = RequestBoundaryEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RequestBoundaryEndpoint { inner: Arc::new(inner), routes: Arc::clone(&self.routes) }
    }
}

pub struct RequestBoundaryEndpoint<E> {
    inner: Arc<E>,
    routes: Arc<RouteMethods>,
}

impl<E: Endpoint + 'static> Endpoint for RequestBoundaryEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let request_id = incoming_request_id(&req).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let span = tracing::info_span!("request", id = %request_id, %method, %path);
        let started = Instant::now();

        let (mut resp, operation) = match self.inner.call(req).instrument(span.clone()).await {
            Ok(out) => {
                let resp = out.into_response();
                let operation = resp.data::<OperationId>().map(|op| op.0);
                (resp, operation)
            }
            Err(err) => {
                let operation = err.data::<OperationId>().map(|op| op.0);
                (span.in_scope(|| error_response(err)), operation)
            }
        };

        // `/v1` speaks OpenAI's error shape, whichever layer refused the request.
        if is_v1_path(&path) {
            resp = crate::api::v1::error::translate(resp).await;
        }
        let status = resp.status();
        let route = operation.unwrap_or_else(|| route_without_operation(&path, status));
        let elapsed = started.elapsed();
        let labels = [
            ("route", route.to_owned()),
            ("method", method_label(&method).to_owned()),
            ("status", status.as_u16().to_string()),
        ];
        metrics::counter!("http_requests_total", &labels).increment(1);
        metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
        span.in_scope(|| {
            tracing::info!(status = status.as_u16(), route, latency_ms = elapsed.as_secs_f64() * 1000.0, "request")
        });

        let headers = resp.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            headers.insert(REQUEST_ID_HEADER, value);
        }
        if status == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.routes.allowed(&path).and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(header::ALLOW, allow);
        }
        // API answers are per user and per moment: no cache may keep them (an answer that may be
        // cached says so itself).
        if (is_server_path(&path) || path == "/metrics") && !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        Ok(resp)
    }
}

fn is_v1_path(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// A bounded metrics label for a method: the standard ones by name, any other as `other` (a
/// client may invent methods; each would otherwise add series to `/metrics`).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A client's own request id, if it is a sane token (printable, at most 128 bytes).
fn incoming_request_id(req: &Request) -> Option<String> {
    let id = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic());
    sane.then(|| id.to_owned())
}

/// A bounded metrics label for requests that did not reach an API operation.
fn route_without_operation(path: &str, status: StatusCode) -> &'static str {
    match path {
        "/metrics" => "metrics",
        "/openapi.json" => "openapi_spec",
        p if p.starts_with("/docs") => "docs",
        _ if status == StatusCode::NOT_FOUND => "not_found",
        p if is_server_path(p) => "api_unmatched",
        _ => "spa",
    }
}

/// Every error becomes `{"error": {...}}`: ours as they are, the framework's with a code.
fn error_response(err: poem::Error) -> Response {
    if err.is::<ApiError>() || err.is::<V1Error>() {
        return err.into_response();
    }
    let status = err.status();
    let api_error = if err.is::<NotFoundError>() {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    } else if err.is::<MethodNotAllowedError>() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
    } else if err.is::<ContentTypeError>() {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", "expected a JSON body (Content-Type: application/json)")
    } else if err.is::<ParseRequestPayloadError>() || err.is::<ParseJsonError>() {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", format!("the body is not valid: {err}"))
    } else if err.is::<ParseParamError>() {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", err.to_string())
    } else if matches!(err.downcast_ref::<ReadBodyError>(), Some(ReadBodyError::PayloadTooLarge)) {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the request body is too large")
    } else if status.is_server_error() {
        tracing::error!(error = %err, source = ?std::error::Error::source(&err), "request failed");
        ApiError::internal()
    } else {
        let code = match status {
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::FORBIDDEN => "forbidden",
            _ => "bad_request",
        };
        ApiError::new(status, code, err.to_string())
    };
    api_error.into_response()
}
