//! `/api/admin/conversations` and `/api/admin/chats/{id}/messages`: the history browser, and
//! its export.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::{Json, PlainText},
};
use troupe_types::{AdminChatList, ConversationExport, MessageList};

use crate::{
    api::{ApiTags, credentials::AdminOnly, error::ApiError},
    domain::{CharacterId, ChatId, ConversationFilter, MessageId, Page, UserId},
    state::AppState,
};

#[derive(Default)]
pub struct ConversationsApi;

#[derive(ApiResponse)]
enum ChatsResponse {
    /// Chats with message and token counts, latest activity first.
    #[oai(status = 200)]
    Chats(Json<AdminChatList>),
}

#[derive(ApiResponse)]
enum MessagesResponse {
    /// A page of the chat's messages, oldest first.
    #[oai(status = 200)]
    Messages(Json<MessageList>),
}

#[derive(ApiResponse)]
enum CsvResponse {
    /// One row per message: `chat_id, chat_title, user_id, username, system_id,
    /// external_user_id, character, model, message_id, role, status, content, prompt_tokens,
    /// completion_tokens, created_at`, RFC 4180 quoting.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>, #[oai(header = "Content-Disposition")] String),
}

#[derive(ApiResponse)]
enum JsonResponse {
    /// The conversations with their messages, oldest first.
    #[oai(status = 200)]
    Json(Json<ConversationExport>, #[oai(header = "Content-Disposition")] String),
}

/// The browser's filters, as the list and the export both take them.
struct Filters {
    user_id: Option<UserId>,
    character_id: Option<CharacterId>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    system_id: Option<String>,
    external_user_id: Option<String>,
}

impl Filters {
    fn parse(self) -> Result<ConversationFilter, ApiError> {
        let filter = ConversationFilter::parse(
            self.user_id,
            self.character_id,
            self.from.as_deref(),
            self.to.as_deref(),
            self.q,
        )?;
        Ok(filter.of_system(self.system_id.as_deref(), self.external_user_id)?)
    }
}

#[OpenApi(tag = "ApiTags::Admin")]
impl ConversationsApi {
    /// Browse conversations across users
    ///
    /// Filters: `user_id`, `character_id`, activity between the days `from` and `to`,
    /// `system_id` (chats of that system's external users) and `external_user_id` (one of them;
    /// needs `system_id`), and `q`: a substring of the title, the character's name or any
    /// message, ignoring case (served by a full-text index for 3 or more characters).
    #[oai(path = "/api/admin/conversations", method = "get", operation_id = "admin_conversations")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        user_id: Query<Option<UserId>>,
        character_id: Query<Option<CharacterId>>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        q: Query<Option<String>>,
        system_id: Query<Option<String>>,
        external_user_id: Query<Option<String>>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ChatsResponse, ApiError> {
        let filter = Filters {
            user_id: user_id.0,
            character_id: character_id.0,
            from: from.0,
            to: to.0,
            q: q.0,
            system_id: system_id.0,
            external_user_id: external_user_id.0,
        }
        .parse()?;
        let (items, total) = state.conversations.list(&filter, Page::parse(limit.0, page.0)?).await?;
        Ok(ChatsResponse::Chats(Json(AdminChatList { items, total })))
    }

    /// Export conversations as CSV
    ///
    /// The messages of the latest 1,000 chats matching the browser's filters (the same query
    /// parameters), one row each, for download.
    #[oai(
        path = "/api/admin/conversations/export.csv",
        method = "get",
        operation_id = "admin_export_conversations_csv"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn export_csv(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        user_id: Query<Option<UserId>>,
        character_id: Query<Option<CharacterId>>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        q: Query<Option<String>>,
        system_id: Query<Option<String>>,
        external_user_id: Query<Option<String>>,
    ) -> Result<CsvResponse, ApiError> {
        let filter = Filters {
            user_id: user_id.0,
            character_id: character_id.0,
            from: from.0,
            to: to.0,
            q: q.0,
            system_id: system_id.0,
            external_user_id: external_user_id.0,
        }
        .parse()?;
        let csv = state.conversations.export_csv(&filter).await?;
        Ok(CsvResponse::Csv(PlainText(csv), attachment("csv")))
    }

    /// Export conversations as JSON
    ///
    /// The latest 1,000 chats matching the browser's filters (the same query parameters) with
    /// their messages, for download.
    #[oai(
        path = "/api/admin/conversations/export.json",
        method = "get",
        operation_id = "admin_export_conversations_json"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn export_json(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        user_id: Query<Option<UserId>>,
        character_id: Query<Option<CharacterId>>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        q: Query<Option<String>>,
        system_id: Query<Option<String>>,
        external_user_id: Query<Option<String>>,
    ) -> Result<JsonResponse, ApiError> {
        let filter = Filters {
            user_id: user_id.0,
            character_id: character_id.0,
            from: from.0,
            to: to.0,
            q: q.0,
            system_id: system_id.0,
            external_user_id: external_user_id.0,
        }
        .parse()?;
        let export = state.conversations.export_json(&filter).await?;
        Ok(JsonResponse::Json(Json(export), attachment("json")))
    }

    /// Any chat's messages
    #[oai(path = "/api/admin/chats/:id/messages", method = "get", operation_id = "admin_chat_messages")]
    async fn messages(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        id: Path<ChatId>,
        before_id: Query<Option<MessageId>>,
        limit: Query<Option<i64>>,
    ) -> Result<MessagesResponse, ApiError> {
        let messages = state.conversations.messages(id.0, before_id.0, Page::parse(limit.0, None)?).await?;
        Ok(MessagesResponse::Messages(Json(messages.into())))
    }
}

/// The `Content-Disposition` of an export named for now.
fn attachment(extension: &str) -> String {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    format!("attachment; filename=\"troupe-conversations-{stamp}.{extension}\"")
}
