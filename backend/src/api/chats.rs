//! `/api/chats`: chats, their messages, and sending a message (JSON or SSE).

use std::time::Duration;

use tokio::sync::mpsc;

use futures::{StreamExt, stream, stream::BoxStream};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::{EventStream, Json},
};
use troupe_types::{
    BranchChat, Chat, ChatList, ChatTurn, CreateChat, MessageLimits, MessageList, SendMessage, TurnDelta, TurnDone,
    TurnError, TurnEvent, UpdateChat, Usage,
};

use super::{ApiTags, credentials::Authenticated, error::ApiError, payload::JsonBody};
use crate::{
    domain::{ChatId, MessageId, Page},
    error::AppError,
    services::turns::{FinishedTurn, StartedTurn, TurnProgress},
    state::AppState,
};

#[derive(Default)]
pub struct ChatsApi;

#[derive(ApiResponse)]
enum LimitsResponse {
    /// The limits in force for this user.
    #[oai(status = 200)]
    Limits(Json<MessageLimits>),
}

#[derive(ApiResponse)]
enum ListResponse {
    /// The caller's chats, latest activity first.
    #[oai(status = 200)]
    Chats(Json<ChatList>),
}

#[derive(ApiResponse)]
enum CreatedResponse {
    /// Created, with the character's greeting (if any) as its first message.
    #[oai(status = 201)]
    Created(Json<Chat>),
}

#[derive(ApiResponse)]
enum ChatResponse {
    /// The chat.
    #[oai(status = 200)]
    Chat(Json<Chat>),
}

#[derive(ApiResponse)]
enum DeletedResponse {
    /// Deleted with its messages; recorded usage stays.
    #[oai(status = 204)]
    Deleted,
}

#[derive(ApiResponse)]
enum MessagesResponse {
    /// A page of messages, oldest first.
    #[oai(status = 200)]
    Messages(Json<MessageList>),
}

#[derive(ApiResponse)]
enum SendResponse {
    /// (`Accept: application/json` or anything but SSE) The whole turn, once the reply is complete.
    #[oai(status = 201)]
    Turn(Json<Box<ChatTurn>>),
    /// (`Accept: text/event-stream`) The turn as it happens: `user_message`, any number of
    /// `delta` `{text}`, then `done` `{assistant_message, usage}` or `error` `{code, message}`.
    #[oai(status = 200)]
    Stream(EventStream<BoxStream<'static, TurnEvent>>),
}

#[OpenApi(tag = "ApiTags::Chats")]
impl ChatsApi {
    /// What a message must fit
    ///
    /// The server's message limits for the signed-in user, so a client can check a message
    /// (length in characters) before sending it, and what the account stores against its
    /// storage quota.
    #[oai(path = "/api/limits", method = "get", operation_id = "message_limits")]
    async fn limits(&self, auth: Authenticated, state: Data<&AppState>) -> Result<LimitsResponse, ApiError> {
        Ok(LimitsResponse::Limits(Json(state.chats.limits_for(&auth.0.user).await?)))
    }

    /// List my chats
    #[oai(path = "/api/chats", method = "get", operation_id = "list_chats")]
    async fn list(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ListResponse, ApiError> {
        let page = Page::parse(limit.0, page.0).map_err(AppError::from)?;
        let (items, total) = state.chats.list(&auth.0.user, None, page).await?;
        Ok(ListResponse::Chats(Json(ChatList { items: items.into_iter().map(Into::into).collect(), total })))
    }

    /// Start a chat
    ///
    /// With a character the caller can see. `model` defaults to the character's, else the
    /// server default; an unknown model is 422 `unknown_model`.
    #[oai(path = "/api/chats", method = "post", operation_id = "create_chat")]
    async fn create(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        body: JsonBody<CreateChat>,
    ) -> Result<CreatedResponse, ApiError> {
        let chat = state.chats.create(&auth.0.user, body.0).await?;
        Ok(CreatedResponse::Created(Json(chat.into())))
    }

    /// Get a chat
    #[oai(path = "/api/chats/:id", method = "get", operation_id = "get_chat")]
    async fn get(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
    ) -> Result<ChatResponse, ApiError> {
        Ok(ChatResponse::Chat(Json(state.chats.get(&auth.0.user, id.0).await?.into())))
    }

    /// Rename a chat or change its model
    #[oai(path = "/api/chats/:id", method = "patch", operation_id = "update_chat")]
    async fn update(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        body: JsonBody<UpdateChat>,
    ) -> Result<ChatResponse, ApiError> {
        Ok(ChatResponse::Chat(Json(state.chats.update(&auth.0.user, id.0, body.0).await?.into())))
    }

    /// Delete a chat
    #[oai(path = "/api/chats/:id", method = "delete", operation_id = "delete_chat")]
    async fn delete(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
    ) -> Result<DeletedResponse, ApiError> {
        state.chats.delete(&auth.0.user, id.0).await?;
        Ok(DeletedResponse::Deleted)
    }

    /// A page of a chat's messages
    ///
    /// The `limit` (1–200, default 50) newest messages before `before_id`, oldest first.
    /// `next_before_id` fetches the page before.
    #[oai(path = "/api/chats/:id/messages", method = "get", operation_id = "list_messages")]
    async fn messages(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        before_id: Query<Option<MessageId>>,
        limit: Query<Option<i64>>,
    ) -> Result<MessagesResponse, ApiError> {
        let page = Page::parse(limit.0, None).map_err(AppError::from)?;
        let messages = state.chats.messages(&auth.0.user, id.0, before_id.0, page).await?;
        Ok(MessagesResponse::Messages(Json(messages.into())))
    }

    /// Branch a chat
    ///
    /// A new chat with the same character and model, holding copies of the messages up to and
    /// including `message_id` (alternatives and all). Copies are never charged: the new chat's
    /// messages carry no charged tokens and the ledger does not count it as a chat started.
    /// Counts as a create for `RATE_LIMIT_WRITES_PER_MINUTE`.
    #[oai(path = "/api/chats/:id/branch", method = "post", operation_id = "branch_chat")]
    async fn branch(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        body: JsonBody<BranchChat>,
    ) -> Result<CreatedResponse, ApiError> {
        let chat = state.chats.branch(&auth.0.user, id.0, MessageId::new(body.0.message_id)).await?;
        Ok(CreatedResponse::Created(Json(chat.into())))
    }

    /// Send a message
    ///
    /// `content` is trimmed and must be 1 to `MAX_MESSAGE_CHARS` (default 200) characters
    /// (422 `message_too_long`). Checked in order: chat ownership (404), length (422), rate
    /// limit (429 `rate_limited`), daily token quota (429 `quota_exceeded`), concurrent streams
    /// (429 `too_many_streams`). The user message is stored before the model is called. A
    /// provider failure stores the reply with `status: error` and answers 502 `upstream_error`
    /// or 504 `upstream_timeout` (or an `error` event). A client that goes away mid-stream
    /// leaves an `incomplete` reply, charged.
    #[oai(path = "/api/chats/:id/messages", method = "post", operation_id = "send_message")]
    async fn send(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<ChatId>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
        body: JsonBody<SendMessage>,
    ) -> Result<SendResponse, ApiError> {
        let mut turn = state.chats.send(&auth.0.user, id.0, &body.0.content).await?;
        if wants_stream(accept.0) {
            return Ok(SendResponse::Stream(turn_events(turn)));
        }
        let user_message = turn.user_message.take().expect("a sent message is stored first");
        let done = turn_done(finished(turn.events).await?);
        let answer = ChatTurn {
            user_message: user_message.into(),
            assistant_message: done.assistant_message,
            usage: done.usage,
        };
        Ok(SendResponse::Turn(Json(Box::new(answer))))
    }
}

/// Waits for the end of a reply.
pub(super) async fn finished(mut events: mpsc::Receiver<TurnProgress>) -> Result<FinishedTurn, ApiError> {
    while let Some(event) = events.recv().await {
        if let TurnProgress::Finished(result) = event {
            return Ok(result?);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("the turn ended without a result")).into())
}

/// A turn as SSE events: `user_message` (when it has one), `delta`s, then `done` or `error`.
pub(super) fn turn_events(turn: StartedTurn) -> EventStream<BoxStream<'static, TurnEvent>> {
    let StartedTurn { user_message, events } = turn;
    let first = stream::iter(user_message.map(|m| TurnEvent::UserMessage(m.into())));
    let rest = stream::unfold(events, |mut events| async move {
        let event = match events.recv().await? {
            TurnProgress::Delta(text) => TurnEvent::Delta(TurnDelta { text }),
            TurnProgress::Finished(Ok(done)) => TurnEvent::Done(turn_done(done)),
            TurnProgress::Finished(Err(error)) => {
                let error = ApiError::from(error);
                TurnEvent::Error(TurnError { code: error.code.to_owned(), message: error.message })
            }
        };
        Some((event, events))
    });
    EventStream::new(first.chain(rest).boxed()).keep_alive(Duration::from_secs(15)).to_event(|event| {
        let (name, data) = event.to_sse();
        poem::web::sse::Event::message(data).event_type(name)
    })
}

/// Whether the client asked for the reply as it streams.
pub(super) fn wants_stream(accept: Option<String>) -> bool {
    accept.is_some_and(|a| a.contains("text/event-stream"))
}

pub(super) fn turn_done(done: FinishedTurn) -> TurnDone {
    TurnDone { usage: usage(&done), assistant_message: done.assistant_message.into() }
}

pub(super) fn usage(done: &FinishedTurn) -> Usage {
    Usage {
        prompt_tokens: done.usage.prompt_tokens,
        completion_tokens: done.usage.completion_tokens,
        total_tokens: done.usage.total(),
        source: done.source,
    }
}
