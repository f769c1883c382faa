//! `/api/chats/{id}/messages/{message_id}/…`: the conversation tools on one message —
//! regenerate, choose an alternative, edit, delete or rewind.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::{EventStream, Json},
};
use troupe_types::{EditMessage, Message, SelectAlternative, TurnDone, TurnEvent};

use super::{
    ApiTags,
    chats::{finished, turn_done, turn_events, wants_stream},
    credentials::Authenticated,
    error::ApiError,
    payload::JsonBody,
};
use crate::{
    domain::{ChatId, MessageId},
    state::AppState,
};

#[derive(Default)]
pub struct MessagesApi;

#[derive(ApiResponse)]
enum RegenerateResponse {
    /// (`Accept: application/json` or anything but SSE) The message with its new alternative
    /// selected, and what the alternative cost.
    #[oai(status = 201)]
    Regenerated(Json<Box<TurnDone>>),
    /// (`Accept: text/event-stream`) As sending does, without `user_message`: any number of
    /// `delta` `{text}`, then `done` `{assistant_message, usage}` or `error` `{code, message}`.
    #[oai(status = 200)]
    Stream(EventStream<futures::stream::BoxStream<'static, TurnEvent>>),
}

#[derive(ApiResponse)]
enum MessageResponse {
    /// The message as it is now.
    #[oai(status = 200)]
    Message(Json<Message>),
}

#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted; recorded usage stays.
    #[oai(status = 204)]
    Deleted,
}

#[OpenApi(tag = "ApiTags::Chats")]
impl MessagesApi {
    /// Regenerate the last reply
    ///
    /// Only the chat's last message, a reply, can be regenerated (409 `not_last_message`), and
    /// not while a reply is being written in the chat (409 `reply_in_progress`). The same limits
    /// as sending apply (rate limit, daily quota, concurrent streams: 429). The new reply becomes
    /// the message's newest alternative and the selected one; every generation is charged. A
    /// failed regeneration adds no alternative (the earlier ones stay) and answers 502/504 or an
    /// `error` event, charged only what the provider billed.
    #[oai(path = "/api/chats/:id/messages/:message_id/regenerate", method = "post", operation_id = "regenerate")]
    async fn regenerate(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        message_id: Path<MessageId>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
    ) -> Result<RegenerateResponse, ApiError> {
        let turn = state.chats.regenerate(&auth.0.user, id.0, message_id.0).await?;
        if wants_stream(accept.0) {
            return Ok(RegenerateResponse::Stream(turn_events(turn)));
        }
        Ok(RegenerateResponse::Regenerated(Json(Box::new(turn_done(finished(turn.events).await?)))))
    }

    /// Choose an alternative
    ///
    /// Shows alternative `index` (0 to `alternative_count - 1`, else 422) of a message; later
    /// prompts use it. Costs nothing.
    #[oai(
        path = "/api/chats/:id/messages/:message_id/alternative",
        method = "put",
        operation_id = "select_alternative"
    )]
    async fn select_alternative(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        message_id: Path<MessageId>,
        body: JsonBody<SelectAlternative>,
    ) -> Result<MessageResponse, ApiError> {
        let message = state.chats.select_alternative(&auth.0.user, id.0, message_id.0, body.0.index).await?;
        Ok(MessageResponse::Message(Json(message.into())))
    }

    /// Edit a message
    ///
    /// A user message follows the rule for sending (trimmed, 1 to `MAX_MESSAGE_CHARS`
    /// characters); a reply may hold 1 to 8,000. Later prompts see the new text; `edited_at` is
    /// set; recorded usage never changes.
    #[oai(path = "/api/chats/:id/messages/:message_id", method = "patch", operation_id = "edit_message")]
    async fn edit(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        message_id: Path<MessageId>,
        body: JsonBody<EditMessage>,
    ) -> Result<MessageResponse, ApiError> {
        let message = state.chats.edit(&auth.0.user, id.0, message_id.0, &body.0.content).await?;
        Ok(MessageResponse::Message(Json(message.into())))
    }

    /// Delete a message, or rewind
    ///
    /// Deletes the message; with `and_after=true` also every later one (and stops a reply
    /// being written in the chat). Recorded usage never changes.
    #[oai(path = "/api/chats/:id/messages/:message_id", method = "delete", operation_id = "delete_message")]
    async fn delete(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        message_id: Path<MessageId>,
        and_after: Query<Option<bool>>,
    ) -> Result<DeletedResponse, ApiError> {
        state.chats.delete_message(&auth.0.user, id.0, message_id.0, and_after.0.unwrap_or(false)).await?;
        Ok(DeletedResponse::Deleted)
    }
}
