//! An uploaded file: the raw request body (any content type), or the `file` part of a
//! `multipart/form-data` body — what a browser form or `curl -F file=@chat.jsonl` sends.

use poem::{Request, RequestBody, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
};

use super::ApiError;

/// The file's bytes.
pub struct Upload(pub Vec<u8>);

impl<'a> ApiExtractor<'a> for Upload {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(_: &mut Registry) {}

    fn request_meta() -> Option<MetaRequest> {
        let binary = || MetaSchema { format: Some("binary"), ..MetaSchema::new("string") };
        let form = MetaSchema {
            properties: vec![("file", MetaSchemaRef::Inline(Box::new(binary())))],
            required: vec!["file"],
            ..MetaSchema::new("object")
        };
        Some(MetaRequest {
            description: Some("The file: a `multipart/form-data` body with one `file` part, or the raw body"),
            content: vec![
                MetaMediaType { content_type: "multipart/form-data", schema: MetaSchemaRef::Inline(Box::new(form)) },
                MetaMediaType {
                    content_type: "application/octet-stream",
                    schema: MetaSchemaRef::Inline(Box::new(binary())),
                },
            ],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bytes = body.take()?.into_bytes().await?;
        let boundary = request.content_type().and_then(|ct| multer::parse_boundary(ct).ok());
        let Some(boundary) = boundary else {
            return Ok(Self(bytes.to_vec()));
        };
        let invalid =
            |message: &str| ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message).with_field("file");
        let mut form =
            multer::Multipart::new(futures::stream::once(async move { Ok::<_, std::io::Error>(bytes) }), boundary);
        while let Some(field) = form.next_field().await.map_err(|_| invalid("the multipart body is malformed"))? {
            if field.name() == Some("file") {
                let file = field.bytes().await.map_err(|_| invalid("the file part is malformed"))?;
                return Ok(Self(file.to_vec()));
            }
        }
        Err(invalid("the multipart body has no `file` part").into())
    }
}
