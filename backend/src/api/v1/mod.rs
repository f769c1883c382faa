//! `/v1`: the OpenAI-compatible API. Every character is a model (`character-<id>`) beside the
//! catalogue's; calls are authenticated with API keys, charged, limited and counted like chat
//! turns; errors take OpenAI's shape (`error::openai_error`, applied to every `/v1` answer by
//! the request boundary).

pub mod error;
pub mod wire;

use std::{sync::LazyLock, time::Duration};

use futures::{StreamExt, stream};
use poem::{
    IntoResponse, Request, RequestBody, Response,
    web::{
        Data,
        sse::{Event, SSE},
    },
};
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, OpenApi, SecurityScheme,
    auth::Bearer,
    param::Path,
    payload::Json,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
    types::Type,
};
use tokio::sync::mpsc;
use troupe_types::Role;

use self::{
    error::V1Error,
    wire::{
        AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatMessage, Choice, ChunkChoice,
        CompletionUsage, Content, Delta, MessageRole, OpenAiModel, OpenAiModelList, Stop,
    },
};
use super::{ApiTags, credentials::bearer_token, error::ApiError};
use crate::{
    clock::now_millis,
    domain::TokenUsage,
    error::AppError,
    providers::Sampling,
    services::{
        Session,
        accounts::Credential,
        api_keys::is_api_key,
        completions::{
            CHARACTER_MODEL_PREFIX, ClientMessage, CompletionProgress, CompletionRequest, FinishedCompletion,
        },
        generation::Progress,
    },
    state::AppState,
};

/// An API key (`trp_…`) from `POST /api/keys`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "trp_…")]
#[allow(dead_code)] // documents the scheme; `KeyHolder` does the checking
struct ApiKeyAuth(Bearer);

/// The user of a request made with an API key. `/v1` takes nothing else: a session token or
/// the cookie gets 401 `invalid_api_key` (sessions are for the web app, and a cookie would need
/// the CSRF rule on every call).
pub struct KeyHolder(pub Session);

impl<'a> ApiExtractor<'a> for KeyHolder {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        ApiKeyAuth::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        ApiKeyAuth::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let refused = |message: &str| ApiError::new(poem::http::StatusCode::UNAUTHORIZED, "invalid_api_key", message);
        let Some(token) = bearer_token(req) else {
            return Err(refused("send an API key as `Authorization: Bearer trp_…` (create one at /api/keys)").into());
        };
        if !is_api_key(&token) {
            return Err(refused("this API takes API keys (trp_…), not session tokens; create one at /api/keys").into());
        }
        let state = req.data::<AppState>().expect("startup installs the AppState");
        let session = state.accounts.authenticate(&token).await.map_err(ApiError::from)?;
        state.presence.touch(session.user.id);
        Ok(Self(session))
    }
}

#[derive(Default)]
pub struct V1Api;

#[derive(ApiResponse)]
enum ModelsResponse {
    /// The catalogue's models, then a `character-<id>` for every character the key's user can
    /// chat with (their own and the public ones).
    #[oai(status = 200)]
    Models(Json<OpenAiModelList>),
}

#[derive(ApiResponse)]
enum ModelResponse {
    /// The model.
    #[oai(status = 200)]
    Model(Json<OpenAiModel>),
}

/// The catalogue's models, then the characters `session`'s user can chat with.
async fn all_models(state: &AppState, session: &Session) -> Result<Vec<OpenAiModel>, V1Error> {
    let model =
        |id: String, created: i64, owned_by: String| OpenAiModel { id, object: "model".into(), created, owned_by };
    let catalog =
        state.completions.catalog_models().iter().map(|m| model(m.id.clone(), *STARTED_SECS, "troupe".into()));
    let characters = state.completions.character_models(&session.user).await?;
    let characters = characters
        .into_iter()
        .map(|c| model(format!("{CHARACTER_MODEL_PREFIX}{}", c.id), c.created_at / 1000, c.owner));
    Ok(catalog.chain(characters).collect())
}

/// When the catalogue's models count as created: the server's start.
static STARTED_SECS: LazyLock<i64> = LazyLock::new(|| now_millis() / 1000);

#[OpenApi(tag = "ApiTags::OpenAi")]
impl V1Api {
    /// List models
    #[oai(path = "/v1/models", method = "get", operation_id = "v1_list_models")]
    async fn models(&self, auth: KeyHolder, state: Data<&AppState>) -> Result<ModelsResponse, V1Error> {
        Ok(ModelsResponse::Models(Json(OpenAiModelList {
            object: "list".into(),
            data: all_models(&state, &auth.0).await?,
        })))
    }

    /// Retrieve a model
    ///
    /// One of the list's models; 404 `model_not_found` for any other.
    #[oai(path = "/v1/models/:model", method = "get", operation_id = "v1_retrieve_model")]
    async fn model(
        &self,
        auth: KeyHolder,
        state: Data<&AppState>,
        model: Path<String>,
    ) -> Result<ModelResponse, V1Error> {
        let found = all_models(&state, &auth.0).await?.into_iter().find(|m| m.id == model.0);
        found.map(|m| ModelResponse::Model(Json(m))).ok_or_else(|| V1Error::model_not_found(&model.0))
    }

    /// Create a chat completion
    ///
    /// OpenAI's request and answer. `model` is a catalogue id (the request goes to that
    /// model's provider as it is) or `character-<id>`: then the shared prompts, the character
    /// (with its lorebook's entries, its example dialogue and post-history instructions, and
    /// the user's default persona as `{{user}}`) come first, the client's `system` messages
    /// after the character's, and the character's model answers. Messages are `system`
    /// (`developer` is read as `system`), `user` and `assistant`, with text content (a string,
    /// or parts of type `text`); the oldest are left out when the conversation exceeds the
    /// model's context window, as in chats. Dify apps keep their own history: they get the
    /// last message only.
    ///
    /// Checked in order: the body (400 with `param`; each `user` message at most
    /// `MAX_MESSAGE_CHARS` characters, `param: "messages"`), the model (404
    /// `model_not_found`), the rate limit (429 `rate_limit_exceeded`), the daily token quota
    /// (429 `insufficient_quota`), concurrent streams (429 `too_many_streams`); nothing is
    /// charged for a refused request. Every completion is charged to the key's user — what
    /// `usage` says, booked as one message of the `api` source in the dashboard — including
    /// one the client leaves early. A provider failure is 502/504 (`server_error`), or an
    /// `error` chunk once the stream has started.
    #[oai(path = "/v1/chat/completions", method = "post", operation_id = "v1_create_chat_completion")]
    async fn create(
        &self,
        auth: KeyHolder,
        state: Data<&AppState>,
        body: super::payload::JsonBody<ChatCompletionRequest>,
    ) -> Result<CompletionResponse, V1Error> {
        let body = body.0;
        let request = completion_request(&body)?;
        let key = match auth.0.credential {
            Credential::ApiKey(key) => Some(key.id),
            Credential::Token(_) | Credential::Chat(_) => None,
        };
        let mut events = state.completions.start(&auth.0.user, key, request).await.map_err(|e| match e {
            AppError::NotFound => V1Error::model_not_found(&body.model),
            other => other.into(),
        })?;
        let answer = Answer {
            id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
            created: now_millis() / 1000,
            model: body.model,
        };
        if !body.stream.unwrap_or(false) {
            return Ok(CompletionResponse::Whole(Json(answer.whole(finished(events).await?))));
        }
        // A failure before the first token is an HTTP error, not a stream.
        let first = events.recv().await;
        if let Some(Progress::Finished(Err(error))) = first {
            return Err(error.into());
        }
        let include_usage = body.stream_options.and_then(|o| o.include_usage).unwrap_or(false);
        Ok(CompletionResponse::Stream(answer.stream(first, events, include_usage)))
    }
}

/// The service's request, from OpenAI's; 400 naming the `param` at fault.
fn completion_request(body: &ChatCompletionRequest) -> Result<CompletionRequest, V1Error> {
    let messages = body.messages.iter().enumerate().map(|(i, m)| client_message(i, m)).collect::<Result<_, _>>()?;
    let max_tokens = match body.max_completion_tokens.or(body.max_tokens) {
        Some(n) if n < 1 => return Err(V1Error::bad_param("max_tokens", "must be at least 1")),
        Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        None => None,
    };
    if body.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
        return Err(V1Error::bad_param("temperature", "must be between 0 and 2"));
    }
    if body.top_p.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
        return Err(V1Error::bad_param("top_p", "must be between 0 and 1"));
    }
    let stop = match &body.stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s.clone()],
        Some(Stop::Many(many)) if many.len() > 4 => {
            return Err(V1Error::bad_param("stop", "at most 4 stop sequences"));
        }
        Some(Stop::Many(many)) => many.clone(),
    };
    Ok(CompletionRequest {
        model: body.model.clone(),
        messages,
        max_tokens,
        sampling: Sampling { temperature: body.temperature, top_p: body.top_p, stop },
    })
}

fn client_message(index: usize, message: &ChatMessage) -> Result<ClientMessage, V1Error> {
    let text = match &message.content {
        None => String::new(),
        Some(Content::Text(text)) => text.clone(),
        Some(Content::Parts(parts)) => {
            let mut texts = Vec::new();
            for part in parts {
                match (part.kind.as_str(), &part.text) {
                    ("text", Some(text)) => texts.push(text.as_str()),
                    _ => {
                        let param = format!("messages[{index}].content");
                        return Err(V1Error::bad_param(&param, "only text content parts are supported"));
                    }
                }
            }
            texts.join("\n")
        }
    };
    Ok(match message.role {
        MessageRole::System | MessageRole::Developer => ClientMessage::System(text),
        MessageRole::User => ClientMessage::Said(Role::User, text),
        MessageRole::Assistant => ClientMessage::Said(Role::Assistant, text),
    })
}

/// Waits for the end of a completion.
async fn finished(mut events: mpsc::Receiver<CompletionProgress>) -> Result<FinishedCompletion, V1Error> {
    while let Some(event) = events.recv().await {
        if let Progress::Finished(result) = event {
            return Ok(result?);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("the completion ended without a result")).into())
}

/// What every answer of one completion shares.
struct Answer {
    id: String,
    created: i64,
    model: String,
}

impl Answer {
    fn whole(self, done: FinishedCompletion) -> ChatCompletion {
        let finish_reason = finish_reason(&done).into();
        ChatCompletion {
            id: self.id,
            object: "chat.completion".into(),
            created: self.created,
            model: self.model,
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage { role: "assistant".into(), content: done.text, refusal: None },
                finish_reason,
                logprobs: None,
            }],
            usage: usage(done.usage),
            system_fingerprint: None,
        }
    }

    fn chunk(&self, delta: Delta, finish_reason: Option<&str>, include_usage: bool) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish_reason.map(Into::into),
                logprobs: None,
            }],
            usage: include_usage.then_some(None),
        }
    }

    /// The completion as OpenAI streams it: a first chunk with the role, one per piece, one with
    /// the finish reason, then (with `include_usage`) one with the usage, then `[DONE]`.
    fn stream(
        self,
        first: Option<CompletionProgress>,
        events: mpsc::Receiver<CompletionProgress>,
        include_usage: bool,
    ) -> Response {
        let role = Delta { role: Some("assistant".into()), content: Some(String::new()) };
        let opening = data(&self.chunk(role, None, include_usage));
        let rest = stream::iter(first).chain(stream::unfold(events, |mut events| async move {
            events.recv().await.map(|event| (event, events))
        }));
        let events = stream::once(async { opening }).chain(rest.flat_map(move |event| {
            let out: Vec<Event> = match event {
                Progress::Delta(text) => {
                    vec![data(&self.chunk(Delta { role: None, content: Some(text) }, None, include_usage))]
                }
                Progress::Finished(Ok(done)) => {
                    let mut out = vec![data(&self.chunk(Delta::default(), Some(finish_reason(&done)), include_usage))];
                    if include_usage {
                        let mut last = self.chunk(Delta::default(), None, true);
                        last.choices.clear();
                        last.usage = Some(Some(usage(done.usage)));
                        out.push(data(&last));
                    }
                    out.push(Event::message("[DONE]"));
                    out
                }
                Progress::Finished(Err(error)) => vec![data(&error::openai_error(&ApiError::from(error)).1)],
            };
            stream::iter(out)
        }));
        SSE::new(events).keep_alive(Duration::from_secs(15)).into_response()
    }
}

fn data(value: &impl serde::Serialize) -> Event {
    Event::message(serde_json::to_string(value).expect("wire types serialize"))
}

fn finish_reason(done: &FinishedCompletion) -> &'static str {
    if done.hit_token_limit { "length" } else { "stop" }
}

fn usage(usage: TokenUsage) -> CompletionUsage {
    CompletionUsage {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.total(),
    }
}

/// A completion: whole (JSON) or streamed (SSE).
pub enum CompletionResponse {
    Whole(Json<ChatCompletion>),
    Stream(Response),
}

impl ApiResponse for CompletionResponse {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "`stream: false`: a `chat.completion` (JSON). `stream: true`: server-sent events, each \
                              `data: {chat.completion.chunk}`, ending with `data: [DONE]`.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType { content_type: "application/json", schema: ChatCompletion::schema_ref() },
                    MetaMediaType { content_type: "text/event-stream", schema: ChatCompletionChunk::schema_ref() },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        ChatCompletion::register(registry);
        ChatCompletionChunk::register(registry);
    }
}

impl IntoResponse for CompletionResponse {
    fn into_response(self) -> Response {
        match self {
            Self::Whole(json) => json.into_response(),
            Self::Stream(response) => response,
        }
    }
}
