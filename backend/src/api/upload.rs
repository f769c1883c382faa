//! Uploaded files. `Upload`: the raw request body (any content type), or the `file` part of a
//! `multipart/form-data` body — what a browser form or `curl -F file=@chat.jsonl` sends.
//! `Uploads`: every `file` part of a `multipart/form-data` body, with its file name.

use poem::{Request, RequestBody, http::StatusCode};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ExtractParamOptions,
    registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef, Registry},
};

use super::ApiError;

/// The file's bytes.
pub struct Upload(pub Vec<u8>);

/// The files' names and bytes, in the order they came.
pub struct Uploads(pub Vec<(String, Vec<u8>)>);

fn binary() -> MetaSchema {
    MetaSchema { format: Some("binary"), ..MetaSchema::new("string") }
}

fn invalid(message: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", message).with_field("file")
}

impl<'a> ApiExtractor<'a> for Upload {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(_: &mut Registry) {}

    fn request_meta() -> Option<MetaRequest> {
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

impl<'a> ApiExtractor<'a> for Uploads {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(_: &mut Registry) {}

    fn request_meta() -> Option<MetaRequest> {
        let files =
            MetaSchema { items: Some(Box::new(MetaSchemaRef::Inline(Box::new(binary())))), ..MetaSchema::new("array") };
        let form = MetaSchema {
            properties: vec![("file", MetaSchemaRef::Inline(Box::new(files)))],
            required: vec!["file"],
            ..MetaSchema::new("object")
        };
        Some(MetaRequest {
            description: Some(
                "One or more `file` parts, each a file with its file name (a part without one is a form value, not a file: 400)",
            ),
            content: vec![MetaMediaType {
                content_type: "multipart/form-data",
                schema: MetaSchemaRef::Inline(Box::new(form)),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let boundary = request.content_type().and_then(|ct| multer::parse_boundary(ct).ok());
        let Some(boundary) = boundary else {
            return Err(invalid("expected a multipart/form-data body with `file` parts").into());
        };
        let bytes = body.take()?.into_bytes().await?;
        let mut form =
            multer::Multipart::new(futures::stream::once(async move { Ok::<_, std::io::Error>(bytes) }), boundary);
        let mut files = Vec::new();
        while let Some(field) = form.next_field().await.map_err(|_| invalid("the multipart body is malformed"))? {
            if field.name() == Some("file") {
                let name = field.file_name().ok_or_else(|| invalid("a `file` part has no file name"))?.to_owned();
                let file = field.bytes().await.map_err(|_| invalid("a file part is malformed"))?;
                files.push((name, file.to_vec()));
            }
        }
        if files.is_empty() {
            return Err(invalid("the multipart body has no `file` part").into());
        }
        Ok(Self(files))
    }
}
