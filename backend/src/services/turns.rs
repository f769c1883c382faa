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
    Lorebooks, Personas, Prompts,
    catalog::{ModelCatalog, ModelSpec},
    generation::{self, Admitted, Charge, GenerationLimits, Progress},
    lore::{self, Lore},
    prompt_assembly::{PastTurn, PromptAssembler},
    tokens,
};
use crate::{
    domain::{Character, Chat, ChatId, Message, MessageId, MessageText, TokenUsage, User},
    error::AppError,
    providers::{ChatRequest, ProviderSet, Turn},
    storage::{
        Db, characters, chats,
        messages::{self, NewMessage, ReplyTarget},
    },
};

/// How many recent messages are considered for the prompt before fitting the window.
const HISTORY_LIMIT: i64 = 200;
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
    limits: Arc<GenerationLimits>,
    running: RunningTurns,
}

impl Turns {
    pub fn new(
        db: Db,
        catalog: Arc<ModelCatalog>,
        providers: Arc<ProviderSet>,
        sources: PromptSources,
        limits: Arc<GenerationLimits>,
    ) -> Self {
        let inner = Inner { db, catalog, providers, sources, limits, running: RunningTurns::default() };
        Self { inner: Arc::new(inner) }
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
        let text = MessageText::parse(content, inner.limits.max_message_chars())?;
        inner.limits.check_rate(user).await?;
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
        inner.limits.check_rate(user).await?;
        let reply = self.prepare(user, &chat, &turns).await?;
        let events = self.start(chat, reply, running, ReplyTarget::Alternative(message_id));
        Ok(StartedTurn { user_message: None, events })
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
        let prompt = assembler.prompt_for(turns, &model).await;
        let admitted = inner.limits.admit(user, prompt.worst_case(&model)).await?;
        let prompt_tokens = prompt.estimated_tokens;
        let request = prompt.into_request(&model, user.id, &character, chat.dify_conversation_id.clone());
        Ok(PreparedReply { model, request, prompt_tokens, admitted })
    }

    /// The lorebook entries `turns` (oldest first, the answered one last) bring in, from the
    /// character's book and the chat's.
    async fn lore(&self, character: &Character, chat: &Chat, turns: &[PastTurn]) -> Result<Lore, AppError> {
        let books = self.inner.sources.lorebooks.for_turn(character, chat).await?;
        lore::scan_off_executor(books, turns.iter().map(|t| t.turn.content.clone()).collect()).await
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
            _admitted: reply.admitted,
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
    async fn store_reply(&self, streamed: generation::Streamed) -> Result<FinishedTurn, AppError> {
        let text_tokens = tokens::count_off_executor(streamed.text.clone()).await as i64;
        let estimated = TokenUsage { prompt_tokens: self.prompt_tokens as i64, completion_tokens: text_tokens };
        let charge = Charge::settle(&self.model, streamed.ending, streamed.reported, estimated);
        // A failed regeneration adds no alternative: the earlier ones stay as they were.
        let target = match (&charge.failure, self.target) {
            (Some(_), ReplyTarget::Alternative(_)) => ReplyTarget::Nowhere,
            (_, target) => target,
        };
        let stored = messages::add_reply(
            &self.turns.inner.db,
            &self.chat,
            &NewMessage {
                role: Role::Assistant,
                content: &streamed.text,
                status: charge.status,
                model: Some(&self.model.id),
                usage: charge.usage,
                usage_source: charge.source,
                token_count: text_tokens,
                upstream_latency_ms: Some(streamed.latency.as_millis() as i64),
            },
            target,
        )
        .await?;
        charge.record_metrics(&self.model);
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
