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
};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use troupe_types::{MessageStatus, Role, UsageSource};

use super::{
    Characters, Lorebooks, Personas, Prompts,
    catalog::{ModelCatalog, ModelSpec},
    generation::{self, Admitted, Charge, Ending, GenerationLimits, Progress},
    history::{self, ChatHistories},
    lore::PreparedBook,
    personas,
    prompt_assembly::{PastTurn, PromptAssembler},
    tokens,
};
use crate::{
    domain::{Chat, ChatId, Message, MessageId, MessageText, TokenUsage, User},
    error::AppError,
    providers::{ChatRequest, ProviderSet},
    storage::{
        Db,
        chats::{self, ChatForTurn, HistoryStamp},
        messages::{self, ChatKey, NewMessage, ReplyTarget},
        quotas,
        turn_writes::TurnWrites,
    },
};

/// Deltas buffered toward a slow client before the turn waits for it.
const EVENT_BUFFER: usize = 64;

/// What a turn tells the HTTP side as it goes (which tells the client in its own terms).
pub type TurnProgress = Progress<FinishedTurn>;

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
    admitted: Admitted,
}

/// Where a prompt's parts come from, besides the chat (each keeps what turns read in memory,
/// see `services::revisions`).
#[derive(Clone)]
pub struct PromptSources {
    pub prompts: Prompts,
    pub characters: Characters,
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
    limits: Arc<GenerationLimits>,
    running: RunningTurns,
    histories: ChatHistories,
    writes: TurnWrites,
}

/// A new message's reply moves the chat's history copy along once it is stored: the copy as
/// of `stamp`, ending with the message answered.
struct HistoryCopy {
    stamp: HistoryStamp,
    turns: Arc<Vec<PastTurn>>,
}

impl Turns {
    pub fn new(
        db: Db,
        catalog: Arc<ModelCatalog>,
        providers: Arc<ProviderSet>,
        sources: PromptSources,
        limits: Arc<GenerationLimits>,
    ) -> Self {
        let histories = ChatHistories::new(db.clone());
        let writes = TurnWrites::start(db.clone());
        let running = RunningTurns::default();
        let inner = Inner { db, catalog, providers, sources, limits, running, histories, writes };
        Self { inner: Arc::new(inner) }
    }

    /// Stops the replies under way in `chat` (it was deleted); each is charged for what it
    /// generated.
    pub fn stop(&self, chat: ChatId) {
        self.inner.running.stop(chat);
    }

    /// Checks, in the contract's order, then stores the user message and starts the reply:
    /// the chat is the user's (404), length (422), rate limit, daily quota, concurrent streams
    /// (429). What the turn reads of its chat is one query; its character, lorebooks, shared
    /// prompts and history usually come from memory.
    #[tracing::instrument(skip_all, fields(user.id = %user.id, chat.id = %chat_id), err(level = "info"))]
    pub async fn send(&self, user: &User, chat_id: ChatId, content: &str) -> Result<StartedTurn, AppError> {
        let inner = &self.inner;
        let read = chats::for_turn(&inner.db, chat_id, user.id).await?.ok_or(AppError::NotFound)?;
        let text = MessageText::parse(content, inner.limits.max_message_chars())?;
        inner.limits.check_rate(user).await?;
        let new_turn = PastTurn::counted(Role::User, text.as_str());
        let token_count = new_turn.tokens as i64;
        let history = inner.histories.recent(chat_id, read.history).await?;
        let turns = Arc::new(history::appended(&history, Some(new_turn)));
        let running = inner.running.enter(chat_id);
        let reply = self.prepare(user, &read, &turns).await?;
        let message = NewMessage {
            role: Role::User,
            content: text.as_str().to_owned(),
            status: MessageStatus::Complete,
            model: Some(reply.model.id.clone()),
            usage: TokenUsage::default(),
            usage_source: None,
            token_count,
            upstream_latency_ms: None,
        };
        let user_message =
            inner.writes.user_message(ChatKey::from(&read.chat), message).await?.ok_or(AppError::NotFound)?;
        let stamp = inner.histories.stored(chat_id, read.history, Arc::clone(&turns));
        let copy = HistoryCopy { stamp, turns };
        let events = self.start(read.chat, reply, running, ReplyTarget::NewMessage, Some(copy));
        Ok(StartedTurn { user_message: Some(user_message), events })
    }

    /// Answers the chat's last message again, as a new alternative of that reply (selected once
    /// it is stored). Only the last message, a reply to something the user said, may be
    /// regenerated (409 `not_last_message`), and not while a reply streams in the chat (409
    /// `reply_in_progress`); then the same limits as sending. A failed regeneration adds no
    /// alternative (the earlier ones stay) and is charged what the provider billed.
    #[tracing::instrument(skip_all, fields(user.id = %user.id, chat.id = %chat_id), err(level = "info"))]
    pub async fn regenerate(
        &self,
        user: &User,
        chat_id: ChatId,
        message_id: MessageId,
    ) -> Result<StartedTurn, AppError> {
        let inner = &self.inner;
        let read = chats::for_turn(&inner.db, chat_id, user.id).await?.ok_or(AppError::NotFound)?;
        messages::find(&inner.db, chat_id, message_id).await?.ok_or(AppError::NotFound)?;
        let running = inner.running.enter_alone(chat_id).ok_or(AppError::Conflict(
            "reply_in_progress",
            "a reply is still being written in this chat; wait for it or stop it first",
        ))?;
        let last = messages::last(&inner.db, chat_id).await?;
        if last.is_none_or(|m| m.id != message_id || m.role != Role::Assistant) {
            return Err(AppError::Conflict("not_last_message", "only the chat's last reply can be regenerated"));
        }
        let turns = inner.histories.before(chat_id, message_id).await?;
        if !turns.iter().any(|t| t.turn.role == Role::User) {
            return Err(AppError::Conflict(
                "not_last_message",
                "a greeting is not generated; choose among its alternatives instead",
            ));
        }
        inner.limits.check_rate(user).await?;
        // A new alternative is stored whatever it takes (it is paid for), so a full account is
        // refused here, before it is generated.
        if quotas::of(&inner.db, user.id).await?.would_pass(1) {
            return Err(AppError::StorageQuotaExceeded);
        }
        let reply = self.prepare(user, &read, &turns).await?;
        // The new alternative changes a message: the chat's history copy is read again.
        let events = self.start(read.chat, reply, running, ReplyTarget::Alternative(message_id), None);
        Ok(StartedTurn { user_message: None, events })
    }

    /// The prompt answering the last of `turns`, and the quota and stream slot the reply holds
    /// while it runs (429 when either is spent).
    #[tracing::instrument(skip_all)]
    async fn prepare(&self, user: &User, read: &ChatForTurn, turns: &[PastTurn]) -> Result<PreparedReply, AppError> {
        let (inner, chat) = (&self.inner, &read.chat);
        let model = self.model_of(chat);
        let character = inner.sources.characters.for_turn(chat.character_id, read.character_revision).await?;
        let chat_books = inner.sources.lorebooks.for_turn(&read.lorebooks).await?;
        let books: Vec<&PreparedBook> = character.book.iter().chain(chat_books.iter().map(|b| &**b)).collect();
        let shared = inner.sources.prompts.enabled_texts_at(read.prompts_revision).await?;
        let speaker = personas::speaker_or_username(read.persona.clone(), user);
        let assembler = PromptAssembler { shared_prompts: &shared, character: &character.character, speaker: &speaker };
        let prompt = assembler.prompt_for(turns, &model, &books).await;
        let admitted = inner.limits.admit(user, prompt.worst_case(&model)).await?;
        let prompt_tokens = prompt.estimated_tokens;
        let request = prompt.into_request(&model, user.id, &character.character, chat.dify_conversation_id.clone());
        Ok(PreparedReply { model, request, prompt_tokens, admitted })
    }

    /// Runs the reply in a task of its own; its progress comes through the receiver.
    fn start(
        &self,
        chat: Chat,
        reply: PreparedReply,
        running: RunningTurn,
        target: ReplyTarget,
        history: Option<HistoryCopy>,
    ) -> mpsc::Receiver<TurnProgress> {
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let turn = TurnTask {
            turns: self.clone(),
            chat,
            model: reply.model,
            request: reply.request,
            prompt_tokens: reply.prompt_tokens,
            target,
            history,
            events,
            chat_deleted: running,
            _admitted: reply.admitted,
        };
        tokio::spawn(turn.run());
        receiver
    }

    /// The limits every generation is held to.
    pub fn limits(&self) -> &GenerationLimits {
        &self.inner.limits
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
    history: Option<HistoryCopy>,
    events: mpsc::Sender<TurnProgress>,
    /// Cancelled when the chat is deleted (or messages are).
    chat_deleted: RunningTurn,
    /// Given back when the task ends, after the reply's usage is recorded.
    _admitted: Admitted,
}

impl TurnTask {
    async fn run(self) {
        let inner = &self.turns.inner;
        let streamed = generation::stream(
            &inner.providers,
            &self.model,
            self.request.clone(),
            &self.chat_deleted.token,
            &self.events,
        )
        .await;
        if let Some(id) = &streamed.conversation_id
            && let Err(e) = chats::set_dify_conversation(&inner.db, self.chat.id, id).await
        {
            tracing::warn!(error = ?e, "could not keep the Dify conversation id");
        }
        let result = self.store_reply(streamed).await;
        // The client may be gone; the reply is stored either way.
        let _ = self.events.send(Progress::Finished(result)).await;
    }

    /// Stores the reply with its status and what it is charged (see `Charge::settle`). A reply
    /// whose chat was deleted is charged like one the client left, though there is no chat
    /// left to hold it.
    #[tracing::instrument(skip_all, fields(chat.id = %self.chat.id))]
    async fn store_reply(&self, streamed: generation::Streamed) -> Result<FinishedTurn, AppError> {
        // The model's own count of a whole reply when it reported one; ours otherwise.
        let text_tokens = match (&streamed.ending, streamed.reported) {
            (Ending::Complete, Some(usage)) => usage.completion_tokens,
            _ => tokens::count_off_executor(streamed.text.clone()).await as i64,
        };
        let estimated = TokenUsage { prompt_tokens: self.prompt_tokens as i64, completion_tokens: text_tokens };
        let charge = Charge::settle(&self.model, streamed.ending, streamed.reported, estimated);
        // A failed regeneration adds no alternative: the earlier ones stay as they were.
        let target = match (&charge.failure, self.target) {
            (Some(_), ReplyTarget::Alternative(_)) => ReplyTarget::Nowhere,
            (_, target) => target,
        };
        let reply = NewMessage {
            role: Role::Assistant,
            content: streamed.text,
            status: charge.status,
            model: Some(self.model.id.clone()),
            usage: charge.usage,
            usage_source: charge.source,
            token_count: text_tokens,
            upstream_latency_ms: Some(streamed.latency.as_millis() as i64),
        };
        let stored = self.turns.inner.writes.reply(ChatKey::from(&self.chat), reply, target).await?;
        charge.record_metrics(&self.model);
        if let (Some(message), Some(copy)) = (&stored, &self.history) {
            let added = history::prompt_turn(message.status, Role::Assistant, &message.content, text_tokens);
            let turns = Arc::new(history::appended(&copy.turns, added));
            self.turns.inner.histories.stored(self.chat.id, copy.stamp, turns);
        }
        if let Some(error) = &charge.failure {
            return Err(Charge::upstream_error(error));
        }
        match stored {
            Some(assistant_message) => Ok(FinishedTurn {
                assistant_message,
                usage: charge.usage,
                source: charge.source.unwrap_or(UsageSource::Estimated),
            }),
            None => {
                Err(AppError::Conflict("chat_deleted", "the chat or message was deleted while the reply was written"))
            }
        }
    }
}
