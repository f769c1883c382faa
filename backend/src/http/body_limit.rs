//! Refuses request bodies over a size limit with 413, whether or not they announce a length.
//! One limit for every route, and larger ones for the routes that take uploads.

use poem::{Body, Endpoint, Middleware, Request, http::header};

use crate::api::ApiError;

#[derive(Clone)]
pub struct BodyLimit {
    pub max_bytes: usize,
    /// Paths with a limit of their own, the first that matches; `*` in a pattern stands for
    /// one path segment.
    pub uploads: &'static [(&'static str, usize)],
}

impl BodyLimit {
    fn for_path(&self, path: &str) -> usize {
        self.uploads.iter().find(|(pattern, _)| matches(pattern, path)).map_or(self.max_bytes, |(_, max)| *max)
    }
}

fn matches(pattern: &str, path: &str) -> bool {
    let (mut pattern, mut path) = (pattern.split('/'), path.split('/'));
    loop {
        match (pattern.next(), path.next()) {
            (None, None) => return true,
            (Some("*"), Some(segment)) if !segment.is_empty() => {}
            (Some(expected), Some(segment)) if expected == segment => {}
            _ => return false,
        }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint { inner, limit: self.clone() }
    }
}

pub struct BodyLimitEndpoint<E> {
    inner: E,
    limit: BodyLimit,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut req: Request) -> poem::Result<Self::Output> {
        let max_bytes = self.limit.for_path(req.uri().path());
        let declared: Option<u64> =
            req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
        match declared {
            Some(len) if len > max_bytes as u64 => {
                return Err(too_large(max_bytes).into());
            }
            Some(0) | None if !chunked => {}
            // A body of unknown or announced length: read it under the limit.
            _ => {
                let bytes = req.take_body().into_bytes_limit(max_bytes).await.map_err(|_| too_large(max_bytes))?;
                req.set_body(Body::from_bytes(bytes));
            }
        }
        self.inner.call(req).await
    }
}

fn too_large(max_bytes: usize) -> ApiError {
    ApiError::new(
        poem::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {max_bytes} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn a_star_stands_for_one_segment() {
        assert!(matches("/api/characters/*/avatar", "/api/characters/12/avatar"));
        assert!(!matches("/api/characters/*/avatar", "/api/characters//avatar"));
        assert!(!matches("/api/characters/*", "/api/characters/12/avatar"));
        assert!(matches("/api/chats/import", "/api/chats/import"));
        assert!(!matches("/api/chats/import", "/api/chats/import/x"));
    }
}
