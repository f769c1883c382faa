//! `/api/admin/conversations` and `/api/admin/chats/{id}/messages`: the history browser.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use troupe_types::{AdminChatList, MessageList};

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

#[OpenApi(tag = "ApiTags::Admin")]
impl ConversationsApi {
    /// Browse conversations across users
    ///
    /// Filters: `user_id`, `character_id`, activity between the days `from` and `to`, and `q`
    /// (title, character name or message text).
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
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ChatsResponse, ApiError> {
        let filter = ConversationFilter::parse(user_id.0, character_id.0, from.0.as_deref(), to.0.as_deref(), q.0)?;
        let (items, total) = state.conversations.list(&filter, Page::parse(limit.0, page.0)?).await?;
        Ok(ChatsResponse::Chats(Json(AdminChatList { items, total })))
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
