//! Completions for OpenAI's clients (`/v1`): a client's conversation answered by a catalogue
//! model as it is, or by a character (`character-<id>`), whose prompt comes first.
//!
//! Held to the same limits as chat turns (`GenerationLimits`) and charged the same way
//! (`Charge`), but stored nowhere: the generation record alone books the usage, as one message
//! of the `api` source. Like a turn, a completion runs in a task of its own, so it is charged
//! whatever the client does.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use troupe_types::Role;

use super::{
    Characters,
    catalog::{ModelCatalog, ModelSpec},
    generation::{self, Admitted, Charge, GenerationLimits, Progress},
    lore,
    prompt_assembly::{PastTurn, PromptAssembler, SystemText},
    tokens,
    turns::PromptSources,
};
use crate::{
    domain::{ApiKeyId, Character, CharacterId, RuleViolation, TokenUsage, User},
    error::AppError,
    providers::{CharacterSketch, ChatRequest, ProviderSet, Sampling, Turn},
    storage::{
        Db,
        characters::{self, CharacterModel},
        generations::{self, OwnGeneration, Source},
    },
};

/// The model id prefix that names a character.
pub const CHARACTER_MODEL_PREFIX: &str = "character-";
/// Deltas buffered toward a slow client before the completion waits for it.
const EVENT_BUFFER: usize = 64;

/// A message of the client's conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMessage {
    System(String),
    Said(Role, String),
}

/// A completion as asked for (already checked for shape by the HTTP side).
#[derive(Clone, Debug)]
pub struct CompletionRequest {
    /// A catalogue model id, or `character-<id>`.
    pub model: String,
    pub messages: Vec<ClientMessage>,
    /// The client's cap on the reply, within the model's own.
    pub max_tokens: Option<u32>,
    pub sampling: Sampling,
}

/// What a completion tells the HTTP side as it goes.
pub type CompletionProgress = Progress<FinishedCompletion>;

#[derive(Debug)]
pub struct FinishedCompletion {
    pub text: String,
    /// What the completion was charged (and booked).
    pub usage: TokenUsage,
    /// The reply stopped at the token limit rather than by itself.
    pub hit_token_limit: bool,
}

/// Answers `/v1` completions.
#[derive(Clone)]
pub struct Completions {
    db: Db,
    catalog: Arc<ModelCatalog>,
    providers: Arc<ProviderSet>,
    characters: Characters,
    sources: PromptSources,
    limits: Arc<GenerationLimits>,
}

/// Who answers a completion: a catalogue model, or a character on its model.
struct Answerer {
    model: ModelSpec,
    character: Option<Character>,
}

impl Completions {
    pub fn new(
        db: Db,
        (catalog, providers): (Arc<ModelCatalog>, Arc<ProviderSet>),
        characters: Characters,
        sources: PromptSources,
        limits: Arc<GenerationLimits>,
    ) -> Self {
        Self { db, catalog, providers, characters, sources, limits }
    }

    /// The catalogue's models.
    pub fn catalog_models(&self) -> &[ModelSpec] {
        self.catalog.all()
    }

    /// The characters `user` may chat with, as models.
    pub async fn character_models(&self, user: &User) -> Result<Vec<CharacterModel>, AppError> {
        Ok(characters::models_visible(&self.db, user.id).await?)
    }

    /// Checks, in the chat's order — the messages (each `user` one within `MAX_MESSAGE_CHARS`),
    /// the model (`NotFound`), the rate limit, the daily quota, the concurrent streams — then
    /// starts the reply.
    #[tracing::instrument(skip_all, fields(user.id = %user.id, model = request.model), err(level = "info"))]
    pub async fn start(
        &self,
        user: &User,
        key: Option<ApiKeyId>,
        request: CompletionRequest,
    ) -> Result<mpsc::Receiver<CompletionProgress>, AppError> {
        self.check_messages(&request.messages)?;
        let answerer = self.answerer(user, &request.model).await?;
        self.limits.check_rate(user).await?;
        let model = &answerer.model;
        let max_output_tokens = request.max_tokens.map_or(model.max_output_tokens, |m| m.min(model.max_output_tokens));
        let (system, post_history, turns) = self.prompt_parts(user, &answerer, request.messages).await?;
        let prompt = PromptAssembler::assemble(system, post_history, &turns, model.context_window, max_output_tokens);
        let admitted = self.limits.admit(user, prompt.estimated_tokens as i64 + i64::from(max_output_tokens)).await?;
        let character = answerer.character.as_ref();
        let sketch = character.map(CharacterSketch::from).unwrap_or_default();
        let provider_request = ChatRequest {
            upstream_model: model.upstream_model().to_owned(),
            system: prompt.system,
            messages: prompt.messages,
            post_history: prompt.post_history,
            max_output_tokens,
            conversation_id: None,
            end_user: format!("troupe-user-{}", user.id),
            character: sketch,
            sampling: request.sampling,
        };
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let task = CompletionTask {
            completions: self.clone(),
            record: Record { user: user.clone(), key, character: character.map(|c| c.id) },
            model: answerer.model,
            request: provider_request,
            prompt_tokens: prompt.estimated_tokens,
            events,
            _admitted: admitted,
        };
        tokio::spawn(task.run());
        Ok(receiver)
    }

    /// At least one `user` or `assistant` message; each `user` one within the length limit.
    fn check_messages(&self, messages: &[ClientMessage]) -> Result<(), AppError> {
        let max = self.limits.max_message_chars();
        let mut said = false;
        for message in messages {
            if let ClientMessage::Said(role, text) = message {
                said = true;
                if *role == Role::User && text.chars().count() > max {
                    let message = format!("each user message may be at most {max} characters");
                    return Err(RuleViolation::new("messages", "message_too_long", message).into());
                }
            }
        }
        if !said {
            return Err(RuleViolation::new("messages", "no_messages", "at least one user or assistant message").into());
        }
        Ok(())
    }

    /// The catalogue model or the character (one `user` can read) that `model` names.
    async fn answerer(&self, user: &User, model: &str) -> Result<Answerer, AppError> {
        if let Some(id) = model.strip_prefix(CHARACTER_MODEL_PREFIX) {
            let id = id.parse().map(CharacterId::new).map_err(|_| AppError::NotFound)?;
            let character = self.characters.get(user, id).await?;
            let model = character
                .fields
                .model
                .as_deref()
                .and_then(|m| self.catalog.get(m))
                .unwrap_or_else(|| self.catalog.default_model())
                .clone();
            return Ok(Answerer { model, character: Some(character) });
        }
        let model = self.catalog.get(model).ok_or(AppError::NotFound)?.clone();
        Ok(Answerer { model, character: None })
    }

    /// The system text (the character's, then the client's system messages), the post-history
    /// instructions, and the turns: the character's example dialogue, then the client's.
    async fn prompt_parts(
        &self,
        user: &User,
        answerer: &Answerer,
        messages: Vec<ClientMessage>,
    ) -> Result<(SystemText, Option<SystemText>, Vec<PastTurn>), AppError> {
        let mut client_system = Vec::new();
        let mut said = Vec::new();
        for message in messages {
            match message {
                ClientMessage::System(text) => client_system.push(text),
                ClientMessage::Said(role, content) => said.push(Turn { role, content: content.into() }),
            }
        }
        let said = count_turns(said).await?;
        let Some(character) = &answerer.character else {
            return Ok((SystemText::counted(client_system.join("\n\n")).await, None, said));
        };
        let speaker = self.sources.personas.speaker(user, None).await?;
        let prepared = self.sources.characters.for_turn(character.id, character.revision).await?;
        let messages: Vec<&str> = said.iter().map(|t| &*t.turn.content).collect();
        // The character's lorebook may fill the window at most; the history is fitted after.
        let room = (answerer.model.context_window as usize).saturating_sub(answerer.model.max_output_tokens as usize);
        let lore = lore::scan(&prepared.book.iter().collect::<Vec<_>>(), &messages, room);
        let shared = self.sources.prompts.enabled_texts().await?;
        let assembler = PromptAssembler { shared_prompts: &shared, character, speaker: &speaker };
        let system =
            std::iter::once(assembler.system_text(&lore)).chain(client_system).collect::<Vec<_>>().join("\n\n");
        let post_history = match assembler.post_history_text() {
            Some(text) => Some(SystemText::counted(text).await),
            None => None,
        };
        let turns = assembler.example_turns().await.into_iter().chain(said).collect();
        Ok((SystemText::counted(system).await, post_history, turns))
    }
}

/// Counts the turns' tokens on a blocking thread: a client may send long conversations.
async fn count_turns(turns: Vec<Turn>) -> Result<Vec<PastTurn>, AppError> {
    tokio::task::spawn_blocking(move || {
        turns.into_iter().map(|turn| PastTurn { tokens: tokens::count(&turn.content), turn }).collect()
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))
}

/// Whose completion it was, for the generation record.
struct Record {
    user: User,
    key: Option<ApiKeyId>,
    character: Option<CharacterId>,
}

/// One completion in flight.
struct CompletionTask {
    completions: Completions,
    record: Record,
    model: ModelSpec,
    request: ChatRequest,
    prompt_tokens: usize,
    events: mpsc::Sender<CompletionProgress>,
    /// Given back when the task ends, after the usage is recorded.
    _admitted: Admitted,
}

impl CompletionTask {
    async fn run(self) {
        let max_output_tokens = self.request.max_output_tokens;
        // Nothing stops a completion from outside: it ends by itself or with its client.
        let never = CancellationToken::new();
        let streamed =
            generation::stream(&self.completions.providers, &self.model, self.request.clone(), &never, &self.events)
                .await;
        let completion_tokens = tokens::count_off_executor(streamed.text.clone()).await as i64;
        let estimated = TokenUsage { prompt_tokens: self.prompt_tokens as i64, completion_tokens };
        let charge = Charge::settle(&self.model, streamed.ending, streamed.reported, estimated);
        let record = OwnGeneration {
            source: Source::Api,
            user_id: self.record.user.id,
            api_key_id: self.record.key,
            character_id: self.record.character,
            model: &self.model.id,
            status: charge.status,
            usage: charge.usage,
            usage_source: charge.source,
        };
        let recorded = generations::record_alone(&self.completions.db, &record).await;
        charge.record_metrics(&self.model);
        let result = match (recorded, &charge.failure) {
            (Err(e), _) => Err(e.into()),
            (Ok(()), Some(error)) => Err(Charge::upstream_error(error)),
            (Ok(()), None) => Ok(FinishedCompletion {
                text: streamed.text,
                usage: charge.usage,
                hit_token_limit: charge.usage.completion_tokens >= i64::from(max_output_tokens),
            }),
        };
        // The client may be gone; the completion is charged either way.
        let _ = self.events.send(Progress::Finished(result)).await;
    }
}
