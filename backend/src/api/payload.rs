//! Request bodies parsed strictly with serde. poem-openapi's own `Json` coerces numbers and
//! booleans into strings (`{"username": 42}` would pass as `"42"`); here a wrong type is a 400
//! that names the field. Unknown fields are ignored, for forward compatibility. The body must be
//! a JSON object (serde alone would also build a struct from an array).

use poem::{Request, RequestBody, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaRequest, Registry},
    types::Type,
};
use serde::de::DeserializeOwned;

use super::ApiError;

/// A JSON request body of type `T`, documented with `T`'s schema.
pub struct JsonBody<T>(pub T);

impl<'a, T: Type + DeserializeOwned + Send> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType { content_type: "application/json", schema: T::schema_ref() }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let invalid = |message: String| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message);
        if !request.content_type().is_some_and(is_json) {
            return Err(invalid("expected a JSON body (Content-Type: application/json)".into()).into());
        }
        let bytes = body.take()?.into_bytes().await?;
        // Every body the API takes is an object; serde would also read a struct from an array.
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(invalid("expected a JSON object".into()).into());
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
            let field = err.path().to_string();
            let error = invalid(format!("the body is not valid JSON of the expected shape: {}", err.inner()));
            if field == "." { error } else { error.with_field(field) }
        })?;
        Ok(Self(value))
    }
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The WebSocket handshake's answer.
pub struct Upgrade(pub poem::Response);

impl poem::IntoResponse for Upgrade {
    fn into_response(self) -> poem::Response {
        self.0
    }
}

impl poem_openapi::ApiResponse for Upgrade {
    fn meta() -> poem_openapi::registry::MetaResponses {
        poem_openapi::registry::MetaResponses {
            responses: vec![poem_openapi::registry::MetaResponse {
                description: "Switching to the WebSocket protocol",
                status: Some(101),
                status_range: None,
                content: vec![],
                headers: vec![],
            }],
        }
    }

    fn register(_: &mut Registry) {}
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_media_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=utf-8"));
        assert!(is_json("application/merge-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }
}
