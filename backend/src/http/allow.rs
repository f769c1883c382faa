//! The methods each route takes, read from the OpenAPI spec, for the `Allow` header that a
//! 405 answer must carry (RFC 9110, section 15.5.6).

/// The order methods are listed in.
const ORDER: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Path templates (`/api/chats/{id}`) with the methods they take, as an `Allow` value.
#[derive(Debug, Default)]
pub struct RouteMethods {
    routes: Vec<(Vec<String>, String)>,
}

impl RouteMethods {
    /// From the spec's `paths`: `{"/api/chats/{id}": {"get": …, "patch": …}}`.
    pub fn from_spec(spec: &serde_json::Value) -> Self {
        let paths = spec.get("paths").and_then(|p| p.as_object());
        let routes = paths
            .into_iter()
            .flatten()
            .map(|(template, operations)| {
                let mut methods: Vec<String> = operations
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(method, _)| method.to_ascii_uppercase())
                    .collect();
                methods.sort_by_key(|m| ORDER.iter().position(|o| o == m).unwrap_or(ORDER.len()));
                (segments(template).map(str::to_owned).collect(), methods.join(", "))
            })
            .collect();
        Self { routes }
    }

    /// The `Allow` value for a request path, if a documented route matches it.
    pub fn allowed(&self, path: &str) -> Option<&str> {
        let path: Vec<&str> = segments(path).collect();
        self.routes
            .iter()
            .find(|(template, _)| {
                template.len() == path.len()
                    && template.iter().zip(&path).all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
            })
            .map(|(_, allow)| allow.as_str())
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_templates_by_segment() {
        let spec = serde_json::json!({"paths": {
            "/api/chats": {"get": {}, "post": {}},
            "/api/chats/{id}": {"get": {}, "patch": {}, "delete": {}},
            "/api/chats/{id}/messages": {"get": {}, "post": {}},
        }});
        let routes = RouteMethods::from_spec(&spec);
        assert_eq!(routes.allowed("/api/chats"), Some("GET, POST"));
        assert_eq!(routes.allowed("/api/chats/42"), Some("GET, PATCH, DELETE"));
        assert_eq!(routes.allowed("/api/chats/42/messages"), Some("GET, POST"));
        assert_eq!(routes.allowed("/api/nothing"), None);
    }
}
