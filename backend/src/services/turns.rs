//! Turns: the checks before a message, prompt assembly, streaming the reply from the provider,
//! and storing what it cost.
//!
//! A turn runs in its own task so that the reply is stored whatever the client does: the HTTP
//! side only listens to `TurnProgress`es. If it stops listening mid-stream, the partial reply
//! is stored as `incomplete` and charged. Deleting the chat stops its turns (`stop`); what they
//! generated is charged all the same (the generation record outlives the chat).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use troupe_types::{MessageLimits, MessageStatus, Role, UsageSource};

use super::{
    Lorebooks, Personas, Prompts,
    catalog::{ModelCatalog, ModelSpec},
    limits::{KeyedLimit, PerUserSlots, QuotaReservations, Reservation, Slot, message_limit},
    lore::{self, Lore},
    prompt_assembly::{PastTurn, PromptAssembler, SystemText},
    tokens,
};
use crate::{
    clock::{now_millis, secs_until_midnight},
    config::LimitSettings,
    domain::{Character, Chat, ChatId, Message, MessageId, MessageText, TokenUsage, User, UserId},
    error::AppError,
    providers::{CharacterSketch, ChatRequest, ProviderError, ProviderSet, StreamEvent, Turn},
    storage::{
        Db, characters, chats,
        messages::{self, NewMessage, ReplyTarget},
        stats,
    },
};

/// How many recent messages are considered for the prompt before fitting the window.
const HISTORY_LIMIT: i64 = 200;
/// Deltas buffered toward a slow client before the turn waits for it.
const EVENT_BUFFER: usize = 64;

/// What a turn tells the HTTP side as it goes (which tells the client in its own terms).
#[derive(Debug)]
pub enum TurnProgress {
    Delta(String),
    Finished(Result<FinishedTurn, AppError>),
}

#[derive(Debug)]
pub struct FinishedTurn {
    pub assistant_message: Message,
    pub usage: TokenUsage,
    pub source: UsageSource,
}

/// A turn under way: the stored user message (none for a regeneration) and the reply as it
/// comes.
pub struct StartedTurn {
    pub user_message: Option<Message>,
    pub events: mpsc::Receiver<TurnProgress>,
}

/// A reply ready to run: what to ask, and the quota and stream slot it holds meanwhile.
struct PreparedReply {
    model: ModelSpec,
    request: ChatRequest,
    prompt_tokens: usize,
    slot: Slot,
    reservation: Option<Reservation>,
}

/// Where a prompt's parts come from, besides the chat and its character.
#[derive(Clone)]
pub struct PromptSources {
    pub prompts: Prompts,
    pub personas: Personas,
    pub lorebooks: Lorebooks,
}

/// Runs turns: the limits on them, and the replies under way.
#[derive(Clone)]
pub struct Turns {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    catalog: Arc<ModelCatalog>,
    providers: Arc<ProviderSet>,
    sources: PromptSources,
    message_limit: KeyedLimit<UserId>,
    streams: Arc<PerUserSlots>,
    reservations: Arc<QuotaReservations>,
    running: RunningTurns,
    limits: LimitSettings,
}

impl Turns {
    pub fn new(
        db: Db,
        catalog: Arc<ModelCatalog>,
        providers: Arc<ProviderSet>,
        sources: PromptSources,
        limits: LimitSettings,
    ) -> Self {
        let inner = Inner {
            db,
            catalog,
            providers,
            sources,
            message_limit: message_limit(limits.messages_per_minute),
            streams: PerUserSlots::new(limits.max_concurrent_streams),
            reservations: Arc::default(),
            running: RunningTurns::default(),
            limits,
        };
        Self { inner: Arc::new(inner) }
    }

    /// Replies streaming right now, over all users.
    pub fn active_streams(&self) -> usize {
        self.inner.streams.open_total()
    }

    /// Lets the message limiter forget users who are back to full allowance.
    pub fn forget_idle_limits(&self) {
        self.inner.message_limit.forget_idle();
    }

    /// Stops the replies under way in `chat` (it was deleted); each is charged for what it
    /// generated.
    pub fn stop(&self, chat: ChatId) {
        self.inner.running.stop(chat);
    }

    /// Checks, in the contract's order, then stores the user message and starts the reply:
    /// length (422), rate limit, daily quota, concurrent streams (429). The caller has checked
    /// that `chat` is the user's.
    #[tracing::instrument(skip_all, fields(user.id = %user.id, chat.id = %chat.id), err(level = "info"))]
    pub async fn send(&self, user: &User, chat: Chat, content: &str) -> Result<StartedTurn, AppError> {
        let inner = &self.inner;
        let text = MessageText::parse(content, inner.limits.max_message_chars)?;
        self.check_rate(user)?;
        let new_turn = PastTurn::counted(Role::User, text.as_str());
        let token_count = new_turn.tokens as i64;
        let mut turns = self.history(&chat, None).await?;
        turns.push(new_turn);
        let running = inner.running.enter(chat.id);
        let reply = self.prepare(user, &chat, &turns).await?;
        let user_message = messages::add_user_message(
            &inner.db,
            &chat,
            &NewMessage {
                role: Role::User,
                content: text.as_str(),
                status: MessageStatus::Complete,
                model: Some(&reply.model.id),
                usage: TokenUsage::default(),
                usage_source: None,
                token_count,
                upstream_latency_ms: None,
            },
        )
        .await?
        .ok_or(AppError::NotFound)?;
        let events = self.start(chat, reply, running, ReplyTarget::NewMessage);
        Ok(StartedTurn { user_message: Some(user_message), events })
    }

    /// Answers the chat's last message again, as a new alternative of that reply (selected once
    /// it is stored). Only the last message, a reply to something the user said, may be
    /// regenerated (409 `not_last_message`), and not while a reply streams in the chat (409
    /// `reply_in_progress`); then the same limits as sending. A failed regeneration adds no
    /// alternative (the earlier ones stay) and is charged what the provider billed.
    #[tracing::instrument(skip_all, fields(user.id = %user.id, chat.id = %chat.id), err(level = "info"))]
    pub async fn regenerate(&self, user: &User, chat: Chat, message_id: MessageId) -> Result<StartedTurn, AppError> {
        let inner = &self.inner;
        messages::find(&inner.db, chat.id, message_id).await?.ok_or(AppError::NotFound)?;
        let running = inner.running.enter_alone(chat.id).ok_or(AppError::Conflict(
            "reply_in_progress",
            "a reply is still being written in this chat; wait for it or stop it first",
        ))?;
        let last = messages::last(&inner.db, chat.id).await?;
        if last.is_none_or(|m| m.id != message_id || m.role != Role::Assistant) {
            return Err(AppError::Conflict("not_last_message", "only the chat's last reply can be regenerated"));
        }
        let turns = self.history(&chat, Some(message_id)).await?;
        if !turns.iter().any(|t| t.turn.role == Role::User) {
            return Err(AppError::Conflict(
                "not_last_message",
                "a greeting is not generated; choose among its alternatives instead",
            ));
        }
        self.check_rate(user)?;
        let reply = self.prepare(user, &chat, &turns).await?;
        let events = self.start(chat, reply, running, ReplyTarget::Alternative(message_id));
        Ok(StartedTurn { user_message: None, events })
    }

    fn check_rate(&self, user: &User) -> Result<(), AppError> {
        self.inner.message_limit.check(&user.id).map_err(|retry_after_secs| AppError::RateLimited { retry_after_secs })
    }

    /// The prompt answering the last of `turns`, and the quota and stream slot the reply holds
    /// while it runs (429 when either is spent).
    async fn prepare(&self, user: &User, chat: &Chat, turns: &[PastTurn]) -> Result<PreparedReply, AppError> {
        let inner = &self.inner;
        let model = self.model_of(chat);
        let character =
            characters::find_including_deleted(&inner.db, chat.character_id).await?.ok_or(AppError::NotFound)?;
        let speaker = inner.sources.personas.speaker(user, chat.persona_id).await?;
        let lore = self.lore(&character, chat, turns).await?;
        let shared = inner.sources.prompts.enabled_texts().await?;
        let assembler =
            PromptAssembler { shared_prompts: &shared, character: &character, speaker: &speaker, lore: &lore };
        let system = SystemText::counted(assembler.system_text()).await;
        let post_history = match assembler.post_history_text() {
            Some(text) => Some(SystemText::counted(text).await),
            None => None,
        };
        let with_examples: Vec<PastTurn> = assembler.example_turns().into_iter().chain(turns.iter().cloned()).collect();
        let prompt = PromptAssembler::assemble(
            system,
            post_history,
            &with_examples,
            model.context_window,
            model.max_output_tokens,
        );
        let worst_case = prompt.estimated_tokens as i64 + i64::from(model.max_output_tokens);
        let reservation = self.reserve_quota(user, worst_case).await?;
        let slot = inner.streams.acquire(user.id).ok_or(AppError::TooManyStreams { max: inner.streams.max() })?;
        let c = &character.fields;
        let request = ChatRequest {
            upstream_model: model.upstream_model().to_owned(),
            system: prompt.system,
            messages: prompt.messages,
            post_history: prompt.post_history,
            max_output_tokens: model.max_output_tokens,
            conversation_id: chat.dify_conversation_id.clone(),
            end_user: format!("troupe-user-{}", user.id),
            character: CharacterSketch {
                name: c.name.clone(),
                description: c.description.clone(),
                personality: c.personality.clone(),
                scenario: c.scenario.clone(),
            },
        };
        Ok(PreparedReply { model, request, prompt_tokens: prompt.estimated_tokens, slot, reservation })
    }

    /// The lorebook entries `turns` (oldest first, the answered one last) bring in, from the
    /// character's book and the chat's. Scanned on a blocking thread: books are large.
    async fn lore(&self, character: &Character, chat: &Chat, turns: &[PastTurn]) -> Result<Lore, AppError> {
        let books = self.inner.sources.lorebooks.for_turn(character, chat).await?;
        if books.is_empty() {
            return Ok(Lore::default());
        }
        let messages: Vec<String> = turns.iter().map(|t| t.turn.content.clone()).collect();
        tokio::task::spawn_blocking(move || {
            let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
            lore::scan(&books.iter().collect::<Vec<_>>(), &messages)
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))
    }

    /// Runs the reply in a task of its own; its progress comes through the receiver.
    fn start(
        &self,
        chat: Chat,
        reply: PreparedReply,
        running: RunningTurn,
        target: ReplyTarget,
    ) -> mpsc::Receiver<TurnProgress> {
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let turn = TurnTask {
            turns: self.clone(),
            chat,
            model: reply.model,
            request: reply.request,
            prompt_tokens: reply.prompt_tokens,
            target,
            events,
            chat_deleted: running,
            _slot: reply.slot,
            _reservation: reply.reservation,
        };
        tokio::spawn(turn.run());
        receiver
    }

    /// The chat's recent messages (before `before`, if given) that a prompt may include: failed
    /// replies are left out.
    async fn history(&self, chat: &Chat, before: Option<MessageId>) -> Result<Vec<PastTurn>, AppError> {
        Ok(messages::page(&self.inner.db, chat.id, before, HISTORY_LIMIT)
            .await?
            .into_iter()
            .filter(|m| m.status != MessageStatus::Error && !m.content.is_empty())
            .map(|m| PastTurn { tokens: m.token_count as usize, turn: Turn { role: m.role, content: m.content } })
            .collect())
    }

    /// The longest message a user may send, in characters.
    pub fn max_message_chars(&self) -> usize {
        self.inner.limits.max_message_chars
    }

    /// The limits a message of `user` must fit (what `send` enforces).
    pub fn limits_for(&self, user: &User) -> MessageLimits {
        let limits = &self.inner.limits;
        MessageLimits {
            max_message_chars: limits.max_message_chars as i64,
            messages_per_minute: i64::from(limits.messages_per_minute),
            max_concurrent_streams: limits.max_concurrent_streams as i64,
            daily_token_quota: user.daily_token_quota.or(limits.default_daily_token_quota),
        }
    }

    /// Admits a turn whose worst case is `worst_case` tokens while the day's usage plus the
    /// user's turns under way stay under the quota, and holds that worst case until the turn's
    /// usage is recorded (see `QuotaReservations`). Unlimited users reserve nothing.
    async fn reserve_quota(&self, user: &User, worst_case: i64) -> Result<Option<Reservation>, AppError> {
        let Some(quota) = user.daily_token_quota.or(self.inner.limits.default_daily_token_quota) else {
            return Ok(None);
        };
        let now = now_millis();
        let used = stats::tokens_on(&self.inner.db, user.id, now).await?;
        match self.inner.reservations.reserve(user.id, quota, used, worst_case) {
            Some(reservation) => Ok(Some(reservation)),
            None => Err(AppError::QuotaExceeded { quota, retry_after_secs: secs_until_midnight(now) }),
        }
    }

    /// The chat's model, or the default if the catalogue no longer offers it.
    fn model_of(&self, chat: &Chat) -> ModelSpec {
        let catalog = &self.inner.catalog;
        catalog
            .get(&chat.model)
            .unwrap_or_else(|| {
                tracing::warn!(model = chat.model, "chat's model is no longer offered; using the default");
                catalog.default_model()
            })
            .clone()
    }
}

/// How the reply stream ended.
enum Ending {
    Complete,
    ClientGone,
    ChatDeleted,
    Failed(ProviderError),
}

/// The chats with replies streaming now, so that deleting a chat can stop them. In this
/// process's memory: with several instances, each stops its own.
#[derive(Default)]
struct RunningTurns {
    by_chat: Arc<Mutex<HashMap<ChatId, (CancellationToken, usize)>>>,
}

impl RunningTurns {
    /// Registers a turn of `chat`; its token is cancelled when the chat is deleted.
    fn enter(&self, chat: ChatId) -> RunningTurn {
        self.register(chat, false).expect("joining is always allowed")
    }

    /// Registers a turn of `chat` unless one is under way there.
    fn enter_alone(&self, chat: ChatId) -> Option<RunningTurn> {
        self.register(chat, true)
    }

    fn register(&self, chat: ChatId, alone: bool) -> Option<RunningTurn> {
        let mut by_chat = self.by_chat.lock().expect("running turns lock");
        if alone && by_chat.contains_key(&chat) {
            return None;
        }
        let (token, turns) = by_chat.entry(chat).or_insert_with(|| (CancellationToken::new(), 0));
        *turns += 1;
        Some(RunningTurn { chat, token: token.clone(), by_chat: Arc::clone(&self.by_chat) })
    }

    fn stop(&self, chat: ChatId) {
        if let Some((token, _)) = self.by_chat.lock().expect("running turns lock").get(&chat) {
            token.cancel();
        }
    }
}

/// One turn's registration; leaves the registry when dropped.
struct RunningTurn {
    chat: ChatId,
    token: CancellationToken,
    by_chat: Arc<Mutex<HashMap<ChatId, (CancellationToken, usize)>>>,
}

impl Drop for RunningTurn {
    fn drop(&mut self) {
        let mut by_chat = self.by_chat.lock().expect("running turns lock");
        if let Some((_, turns)) = by_chat.get_mut(&self.chat) {
            *turns -= 1;
            if *turns == 0 {
                by_chat.remove(&self.chat);
            }
        }
    }
}

/// One reply in flight (see the module docs).
struct TurnTask {
    turns: Turns,
    chat: Chat,
    model: ModelSpec,
    request: ChatRequest,
    prompt_tokens: usize,
    /// Where the reply goes: a new message, or a new alternative of the one regenerated.
    target: ReplyTarget,
    events: mpsc::Sender<TurnProgress>,
    /// Cancelled when the chat is deleted (or messages are).
    chat_deleted: RunningTurn,
    _slot: Slot,
    /// Released when the task ends, after the reply's usage is recorded.
    _reservation: Option<Reservation>,
}

impl TurnTask {
    async fn run(self) {
        let labels = [("provider", self.model.provider.as_str().to_owned()), ("model", self.model.id.clone())];
        metrics::gauge!("active_streams").increment(1.0);
        let started = Instant::now();
        let (text, reported, ending) = self.stream_reply(started, &labels).await;
        let latency = started.elapsed();
        metrics::gauge!("active_streams").decrement(1.0);
        metrics::histogram!("upstream_request_duration_seconds", &labels).record(latency.as_secs_f64());

        let result = self.store_reply(text, reported, ending, latency).await;
        if let Ok(done) = &result {
            metrics::counter!(
                "tokens_charged_total",
                &[labels[0].clone(), labels[1].clone(), ("kind", "prompt".into())]
            )
            .increment(done.usage.prompt_tokens as u64);
            metrics::counter!(
                "tokens_charged_total",
                &[labels[0].clone(), labels[1].clone(), ("kind", "completion".into())]
            )
            .increment(done.usage.completion_tokens as u64);
        }
        // The client may be gone; the reply is stored either way.
        let _ = self.events.send(TurnProgress::Finished(result)).await;
    }

    /// Pulls the reply from the provider and forwards it, until it ends, fails, or nobody is
    /// listening any more.
    async fn stream_reply(
        &self,
        started: Instant,
        labels: &[(&'static str, String); 2],
    ) -> (String, Option<TokenUsage>, Ending) {
        let inner = &self.turns.inner;
        let mut text = String::new();
        let mut reported = None;
        let started_stream = tokio::select! {
            started = inner.providers.stream(self.model.provider, self.request.clone()) => started,
            () = self.chat_deleted.token.cancelled() => return (text, None, Ending::ChatDeleted),
        };
        let mut stream = match started_stream {
            Ok(stream) => stream,
            Err(e) => return (text, None, Ending::Failed(e)),
        };
        let mut first_token: Option<Duration> = None;
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                () = self.events.closed() => return (text, reported, Ending::ClientGone),
                () = self.chat_deleted.token.cancelled() => return (text, reported, Ending::ChatDeleted),
            };
            match next {
                None => return (text, reported, Ending::Complete),
                Some(Ok(StreamEvent::Delta(piece))) => {
                    if first_token.is_none() {
                        let ttft = started.elapsed();
                        first_token = Some(ttft);
                        metrics::histogram!("upstream_time_to_first_token_seconds", labels).record(ttft.as_secs_f64());
                    }
                    text.push_str(&piece);
                    if self.events.send(TurnProgress::Delta(piece)).await.is_err() {
                        return (text, reported, Ending::ClientGone);
                    }
                }
                Some(Ok(StreamEvent::Usage(usage))) => reported = Some(usage),
                Some(Ok(StreamEvent::ConversationId(id))) => {
                    if let Err(e) = chats::set_dify_conversation(&inner.db, self.chat.id, &id).await {
                        tracing::warn!(error = ?e, "could not keep the Dify conversation id");
                    }
                }
                Some(Err(e)) => return (text, reported, Ending::Failed(e)),
            }
        }
    }

    /// Stores the reply with its status and what it is charged: the provider's usage when it
    /// reported one; otherwise our own count — except after a provider failure, where only
    /// tokens the provider reported as billed are charged. A reply whose chat was deleted is
    /// charged like one the client left, though there is no chat left to hold it.
    async fn store_reply(
        &self,
        text: String,
        reported: Option<TokenUsage>,
        ending: Ending,
        latency: Duration,
    ) -> Result<FinishedTurn, AppError> {
        let text_tokens = tokens::count_off_executor(text.clone()).await as i64;
        let estimated = TokenUsage { prompt_tokens: self.prompt_tokens as i64, completion_tokens: text_tokens };
        let (status, usage, source, failure) = match ending {
            Ending::Failed(error) => {
                self.log_failure(&error);
                let source = reported.map(|_| UsageSource::Provider);
                (MessageStatus::Error, reported.unwrap_or_default(), source, Some(error))
            }
            Ending::Complete | Ending::ClientGone | Ending::ChatDeleted => {
                let status = if matches!(ending, Ending::Complete) {
                    MessageStatus::Complete
                } else {
                    MessageStatus::Incomplete
                };
                match reported {
                    Some(usage) => (status, usage, Some(UsageSource::Provider), None),
                    None => (status, estimated, Some(UsageSource::Estimated), None),
                }
            }
        };
        // A failed regeneration adds no alternative: the earlier ones stay as they were.
        let target = match (&failure, self.target) {
            (Some(_), ReplyTarget::Alternative(_)) => ReplyTarget::Nowhere,
            (_, target) => target,
        };
        let stored = messages::add_reply(
            &self.turns.inner.db,
            &self.chat,
            &NewMessage {
                role: Role::Assistant,
                content: &text,
                status,
                model: Some(&self.model.id),
                usage,
                usage_source: source,
                token_count: text_tokens,
                upstream_latency_ms: Some(latency.as_millis() as i64),
            },
            target,
        )
        .await?;
        if let Some(error) = failure {
            return Err(AppError::Upstream { timeout: error.is_timeout(), message: public_message(&error) });
        }
        match stored {
            Some(assistant_message) => {
                Ok(FinishedTurn { assistant_message, usage, source: source.unwrap_or(UsageSource::Estimated) })
            }
            None => {
                Err(AppError::Conflict("chat_deleted", "the chat or message was deleted while the reply was written"))
            }
        }
    }

    fn log_failure(&self, error: &ProviderError) {
        let provider = self.model.provider.as_str();
        metrics::counter!("upstream_errors_total", "provider" => provider, "model" => self.model.id.clone(), "kind" => error.kind())
            .increment(1);
        match error {
            ProviderError::Status { status, detail, .. } => {
                tracing::warn!(provider, model = self.model.id, status, detail, "model provider failed")
            }
            other => {
                tracing::warn!(provider, model = self.model.id, error = ?other, "model provider failed")
            }
        }
    }
}

/// What the client is told: what kind of failure, never keys, URLs or bodies.
fn public_message(error: &ProviderError) -> String {
    match error {
        ProviderError::Timeout => "the model did not answer in time".into(),
        ProviderError::Status { status: 429, .. } => "the model provider is busy; try again shortly".into(),
        ProviderError::Status { status, .. } => {
            format!("the model provider failed (HTTP {status})")
        }
        ProviderError::Connect(_) => "the model provider could not be reached".into(),
        ProviderError::Dropped => "the model's reply was cut off".into(),
        ProviderError::Malformed(_) => "the model provider sent a reply Troupe could not read".into(),
        ProviderError::Upstream(_) => "the model provider reported an error".into(),
    }
}
