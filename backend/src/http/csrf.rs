//! Cookie sessions are sent by browsers on cross-site requests too. An unsafe request — or a
//! WebSocket upgrade, which is a GET that opens a two-way channel — that carries the session
//! cookie and an `Origin` other than ours or an allowed one is refused with 403
//! `csrf_rejected`. Requests without `Origin` (non-browser clients) pass.

use poem::{Endpoint, Middleware, Request, http::Method, http::header};

use crate::api::{ApiError, credentials::session_cookie};

pub struct CsrfGuard {
    /// `scheme://host[:port]` origins allowed besides our own.
    pub allowed_origins: Vec<String>,
}

impl<E: Endpoint> Middleware<E> for CsrfGuard {
    type Output = CsrfGuardEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CsrfGuardEndpoint { inner, allowed_origins: self.allowed_origins.clone() }
    }
}

pub struct CsrfGuardEndpoint<E> {
    inner: E,
    allowed_origins: Vec<String>,
}

impl<E: Endpoint> Endpoint for CsrfGuardEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, req: Request) -> poem::Result<Self::Output> {
        let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let upgrade = req.headers().contains_key(header::UPGRADE);
        if (!safe || upgrade) && session_cookie(&req).is_some() {
            let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok());
            let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok());
            if let Some(origin) = origin
                && !origin_allowed(origin, host, &self.allowed_origins)
            {
                return Err(ApiError::new(
                    poem::http::StatusCode::FORBIDDEN,
                    "csrf_rejected",
                    "cross-site request refused: this origin may not use the session cookie",
                )
                .into());
            }
        }
        self.inner.call(req).await
    }
}

/// Ours when the origin's host and port equal the `Host` the request was sent to.
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let origin = origin.trim_end_matches('/');
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return true;
    }
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

#[cfg(test)]
mod tests {
    use super::origin_allowed;

    #[test]
    fn own_and_listed_origins_pass() {
        assert!(origin_allowed("http://localhost:8080", Some("localhost:8080"), &[]));
        assert!(origin_allowed("https://app.example", Some("api.example"), &["https://app.example".into()]));
    }

    #[test]
    fn foreign_and_opaque_origins_fail() {
        assert!(!origin_allowed("http://evil.example", Some("localhost:8080"), &[]));
        assert!(!origin_allowed("http://localhost:9999", Some("localhost:8080"), &[]));
        assert!(!origin_allowed("null", Some("localhost:8080"), &[]));
        assert!(!origin_allowed("http://localhost:8080", None, &[]));
    }
}
