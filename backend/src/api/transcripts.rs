//! `/api/chats/{id}/export` and `/api/chats/import`: chats as files, out and in.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::{Json, PlainText},
};
use troupe_types::Chat;

use super::{ApiTags, credentials::Authenticated, error::ApiError, upload::Upload};
use crate::{
    domain::{CharacterId, ChatId, TranscriptFormat},
    state::AppState,
};

#[derive(Default)]
pub struct TranscriptsApi;

#[derive(ApiResponse)]
enum ExportResponse {
    /// SillyTavern's chat file.
    #[oai(status = 200, content_type = "application/jsonl; charset=utf-8")]
    Jsonl(PlainText<String>, #[oai(header = "Content-Disposition")] String),
    /// Troupe's own file, with every field and alternative.
    #[oai(status = 200, content_type = "application/json; charset=utf-8")]
    Json(PlainText<String>, #[oai(header = "Content-Disposition")] String),
    /// `Name: text` blocks.
    #[oai(status = 200, content_type = "text/plain; charset=utf-8")]
    Txt(PlainText<String>, #[oai(header = "Content-Disposition")] String),
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
    ) -> Result<ExportResponse, ApiError> {
        let format = format.0.unwrap_or(TranscriptFormat::Jsonl);
        let file = state.chats.export(&auth.0.user, id.0, format).await?;
        let disposition = format!("attachment; filename=\"{}\"", file.file_name);
        let body = PlainText(file.body);
        Ok(match format {
            TranscriptFormat::Jsonl => ExportResponse::Jsonl(body, disposition),
            TranscriptFormat::Json => ExportResponse::Json(body, disposition),
            TranscriptFormat::Txt => ExportResponse::Txt(body, disposition),
        })
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
