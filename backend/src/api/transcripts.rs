//! `/api/chats/{id}/export` and `/api/chats/import`: chats as files, out and in.

use poem::{IntoResponse, Response, http::header, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
};
use troupe_types::Chat;

use super::{ApiTags, credentials::Authenticated, error::ApiError, upload::Upload};
use crate::{
    domain::{CharacterId, ChatId, TranscriptFormat},
    services::transcripts::Exported,
    state::AppState,
};

#[derive(Default)]
pub struct TranscriptsApi;

/// The chat as a file, in the media type of its format. Described by hand: the derive keeps
/// one media type per status, and this one answer has three.
struct ExportedFile(Exported);

impl ApiResponse for ExportedFile {
    fn meta() -> MetaResponses {
        let schema = |ty| MetaSchemaRef::Inline(Box::new(MetaSchema::new(ty)));
        let string = || schema("string");
        let content = TranscriptFormat::ALL
            .into_iter()
            .map(|format| {
                let ty = if format == TranscriptFormat::Json { "object" } else { "string" };
                MetaMediaType { content_type: format.content_type(), schema: schema(ty) }
            })
            .collect();
        let disposition = MetaHeader {
            name: "Content-Disposition".into(),
            description: Some("`attachment; filename=\"troupe-chat-{id}.{format}\"`".into()),
            required: true,
            deprecated: false,
            schema: string(),
        };
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The chat as a file: `application/jsonl` (SillyTavern), `application/json` (Troupe) or `text/plain`, by `format`.",
                status: Some(200),
                status_range: None,
                content,
                headers: vec![disposition],
            }],
        }
    }

    fn register(_: &mut Registry) {}
}

impl IntoResponse for ExportedFile {
    fn into_response(self) -> Response {
        let file = self.0;
        Response::builder()
            .content_type(file.format.content_type())
            .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file.file_name))
            .body(file.body)
    }
}

#[derive(ApiResponse)]
enum ImportResponse {
    /// The new chat, holding exactly the file's messages.
    #[oai(status = 201)]
    Imported(Json<Chat>),
}

#[OpenApi(tag = "ApiTags::Chats")]
impl TranscriptsApi {
    /// Export a chat
    ///
    /// `format=jsonl`: SillyTavern's chat file (a header line `{user_name, character_name,
    /// create_date, chat_metadata}`, then `{name, is_user, is_system, send_date, mes, swipes,
    /// swipe_id, extra}` per message, alternatives as swipes); `json`: Troupe's own, lossless;
    /// `txt`: `Name: text` blocks. Sent as an attachment.
    #[oai(path = "/api/chats/:id/export", method = "get", operation_id = "export_chat")]
    async fn export(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        format: Query<Option<TranscriptFormat>>,
    ) -> Result<ExportedFile, ApiError> {
        let format = format.0.unwrap_or(TranscriptFormat::Jsonl);
        Ok(ExportedFile(state.chats.export(&auth.0.user, id.0, format).await?))
    }

    /// Import a chat
    ///
    /// A SillyTavern JSONL chat or a Troupe JSON export, as the raw body or as the `file` part
    /// of a `multipart/form-data` body, becomes a new chat with `character_id` (one the caller
    /// can see) holding exactly the file's messages, swipes as alternatives and `swipe_id` the
    /// selected one. Imported messages are never charged. A `send_date` that does not parse
    /// becomes the import time. A malformed file answers 422 `invalid_file` with `field`
    /// `line N` and stores nothing. At most 16 MiB and 20,000 messages.
    #[oai(path = "/api/chats/import", method = "post", operation_id = "import_chat")]
    async fn import(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        character_id: Query<CharacterId>,
        file: Upload,
    ) -> Result<ImportResponse, ApiError> {
        let chat = state.chats.import(&auth.0.user, character_id.0, file.0).await?;
        Ok(ImportResponse::Imported(Json(chat.into())))
    }
}
