//! `/api/service/…`: the service gateway's API, for other systems' backends (`X-API-Key:
//! trs_…`): chatting for their users, reading their users' conversations, minting chat tokens
//! for the embedded chat.

use futures::stream::BoxStream;
use poem::{Request, RequestBody, web::Data};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, OpenApi, SecurityScheme,
    auth::ApiKey,
    param::{Header, Path, Query},
    payload::{EventStream, Json},
    registry::Registry,
};
use troupe_types::{
    ChatToken, ChatTokenRequest, MessageList, ServiceChatRequest, ServiceConversations, ServiceTurn, TurnEvent,
};

use super::{
    ApiTags,
    chats::{finished, turn_done, turn_events, wants_stream},
    error::ApiError,
    payload::JsonBody,
};
use crate::{
    clock::rfc3339,
    domain::{CharacterId, ChatId, DayRange, ExternalUserId, MessageId, Page, System},
    error::{AppError, SessionProblem},
    services::gateway::ServiceMessage,
    state::AppState,
};

const KEY_HEADER: &str = "X-API-Key";

/// A system's service key (`trs_…`), from `POST /api/admin/systems`.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-Key", key_in = "header")]
#[allow(dead_code)] // documents the scheme; `ServiceKey` does the checking
struct ServiceKeyAuth(ApiKey);

/// The system a request comes from: 401 `invalid_service_key` for a missing, unknown or
/// rotated key, `system_disabled` for a disabled system.
pub struct ServiceKey(pub System);

impl<'a> ApiExtractor<'a> for ServiceKey {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        ServiceKeyAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        ServiceKeyAuth::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = req.data::<AppState>().expect("startup installs the AppState");
        let key = req.headers().get(KEY_HEADER).and_then(|v| v.to_str().ok()).map(str::trim);
        let system = match key {
            Some(key) => state.systems.authenticate_key(key).await,
            None => Err(AppError::Unauthenticated(SessionProblem::InvalidServiceKey)),
        };
        Ok(Self(system.map_err(ApiError::from)?))
    }
}

#[derive(Default)]
pub struct ServiceApi;

#[derive(ApiResponse)]
enum ChatResponse {
    /// (`Accept: application/json` or anything but SSE) The whole turn once the reply is
    /// complete, with the chat it happened in.
    #[oai(status = 201)]
    Turn(Json<Box<ServiceTurn>>),
    /// (`Accept: text/event-stream`) The turn as it happens, exactly as `POST
    /// /api/chats/{id}/messages` streams it: `user_message` (its `chat_id` names the chat), any
    /// number of `delta` `{text}`, then `done` or `error`.
    #[oai(status = 200)]
    Stream(EventStream<BoxStream<'static, TurnEvent>>),
}

#[derive(ApiResponse)]
enum ConversationsResponse {
    /// The user's chats, latest activity first.
    #[oai(status = 200)]
    Conversations(Json<ServiceConversations>),
}

#[derive(ApiResponse)]
enum MessagesResponse {
    /// A page of the chat's messages, oldest first.
    #[oai(status = 200)]
    Messages(Json<MessageList>),
}

#[derive(ApiResponse)]
enum TokenResponse {
    /// A chat token for the user, and the embedded chat's address with it.
    #[oai(status = 201)]
    Token(Json<ChatToken>),
}

#[OpenApi(tag = "ApiTags::Gateway")]
impl ServiceApi {
    /// Send a message for a system's user
    ///
    /// `user_id` is the system's id for its user (1–128 printable characters, compared
    /// exactly; 422 otherwise): a Troupe identity without a password, created on first use and
    /// shown to admins as `system:user_id`. Without `chat_id` a new chat starts with
    /// `character_id` (a public character) or the system's default character (422
    /// `character_required` when neither); its model is the system's (else the character's).
    /// With `chat_id` the chat must be that user's (404 otherwise). Then everything is as in
    /// `POST /api/chats/{id}/messages`: the message is 1 to `MAX_MESSAGE_CHARS` characters
    /// (422 on `message`), the user is held to the rate limit, the daily token quota (the
    /// system's per-user quota, else the server default) and the concurrent-stream limit
    /// (429). A new chat whose first message is refused is not kept.
    #[oai(path = "/api/service/chat", method = "post", operation_id = "service_chat")]
    async fn chat(
        &self,
        system: ServiceKey,
        state: Data<&AppState>,
        #[oai(name = "Accept")] accept: Header<Option<String>>,
        body: JsonBody<ServiceChatRequest>,
    ) -> Result<ChatResponse, ApiError> {
        let body = body.0;
        let request = ServiceMessage {
            user_id: body.user_id,
            message: body.message,
            chat_id: body.chat_id.map(ChatId::new),
            character_id: body.character_id.map(CharacterId::new),
        };
        let (chat_id, mut turn) = state.gateway.send(&system.0, request).await?;
        if wants_stream(accept.0) {
            return Ok(ChatResponse::Stream(turn_events(turn)));
        }
        let user_message = turn.user_message.take().expect("a sent message is stored first");
        let done = turn_done(finished(turn.events).await?);
        Ok(ChatResponse::Turn(Json(Box::new(ServiceTurn {
            chat_id: chat_id.get(),
            user_message: user_message.into(),
            assistant_message: done.assistant_message,
            usage: done.usage,
        }))))
    }

    /// A system's user's conversations
    ///
    /// The chats of `user_id` active between the days `from` and `to` (inclusive, UTC;
    /// optional), latest activity first, paged with `limit` and `page`. A user never seen has
    /// none.
    #[oai(path = "/api/service/conversations", method = "get", operation_id = "service_conversations")]
    #[allow(clippy::too_many_arguments)]
    async fn conversations(
        &self,
        system: ServiceKey,
        state: Data<&AppState>,
        user_id: Query<String>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
        limit: Query<Option<i64>>,
        page: Query<Option<i64>>,
    ) -> Result<ConversationsResponse, ApiError> {
        let window = match (&from.0, &to.0) {
            (None, None) => None,
            (from, to) => Some(DayRange::parse(from.as_deref(), to.as_deref())?),
        };
        let page = Page::parse(limit.0, page.0)?;
        let (chats, total) = state.gateway.conversations(&system.0, &user_id.0, window.as_ref(), page).await?;
        let items = chats.into_iter().map(Into::into).collect();
        Ok(ConversationsResponse::Conversations(Json(ServiceConversations { user_id: user_id.0, items, total })))
    }

    /// A conversation's messages
    ///
    /// Only chats of the system's own users (404 otherwise); paged like chat messages, with
    /// `before_id` and `next_before_id`.
    #[oai(path = "/api/service/conversations/:chat_id/messages", method = "get", operation_id = "service_messages")]
    async fn messages(
        &self,
        system: ServiceKey,
        state: Data<&AppState>,
        chat_id: Path<ChatId>,
        before_id: Query<Option<MessageId>>,
        limit: Query<Option<i64>>,
    ) -> Result<MessagesResponse, ApiError> {
        let page = Page::parse(limit.0, None)?;
        let messages = state.gateway.messages(&system.0, chat_id.0, before_id.0, page).await?;
        Ok(MessagesResponse::Messages(Json(messages.into())))
    }

    /// Mint a chat token
    ///
    /// A bearer token that authenticates as the system's user `user_id` on the chat routes
    /// (`/api/chats…`), `/api/models`, `/api/limits` and `/api/auth/me` only (403 elsewhere),
    /// for `ttl_minutes` (1–1440, default 60), and `url`, the embedded chat opened with it
    /// (`/embed?token=…`, with `lang` when given, on this server). `character_id` is the
    /// character the embedded chat opens with (default: the system's). When the request has an
    /// `Origin` header (a browser), it must be one of the system's `allowed_origins` (403).
    /// Rotating or disabling the system ends every token at once.
    #[oai(path = "/api/service/chat-tokens", method = "post", operation_id = "service_chat_token")]
    async fn chat_token(
        &self,
        system: ServiceKey,
        state: Data<&AppState>,
        #[oai(name = "Origin")] origin: Header<Option<String>>,
        body: JsonBody<ChatTokenRequest>,
    ) -> Result<TokenResponse, ApiError> {
        let body = body.0;
        let external = ExternalUserId::parse(&body.user_id)?;
        let lang = body.lang.as_deref().map(embed_lang).transpose()?;
        let character = body.character_id.map(CharacterId::new);
        let minted = state.systems.mint(&system.0, &external, character, body.ttl_minutes, origin.0.as_deref())?;
        let mut url = format!("/embed?token={}", minted.token);
        if let Some(lang) = lang {
            url.push_str("&lang=");
            url.push_str(lang);
        }
        let token = ChatToken { token: minted.token, url, expires_at: rfc3339(minted.expires_at) };
        Ok(TokenResponse::Token(Json(token)))
    }
}

/// The embedded chat's languages.
pub const EMBED_LANGUAGES: [&str; 5] = ["en", "ko", "es", "zh", "ja"];

fn embed_lang(lang: &str) -> Result<&'static str, ApiError> {
    EMBED_LANGUAGES.iter().find(|l| **l == lang).copied().ok_or_else(|| {
        crate::domain::RuleViolation::new("lang", "unknown_language", "one of en, ko, es, zh, ja").into()
    })
}
