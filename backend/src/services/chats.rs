//! Chats and their messages, as their owner sees them.

use std::sync::Arc;

use troupe_types::{CreateChat, Role, UpdateChat, rules};

use super::{
    Characters, Lorebooks, Personas, Turns,
    bulk::BulkWrites,
    catalog::ModelCatalog,
    characters::known_model,
    limits::CreateLimit,
    prompt_assembly::fill_names,
    tokens,
    transcripts::{self, Exported, Names},
    turns::StartedTurn,
};
use crate::{
    clock::now_millis,
    domain::{
        Alternative, Character, CharacterId, Chat, ChatId, DayRange, LorebookId, Message, MessageId, MessagePage,
        MessageText, Page, PersonaId, RuleViolation, TokenUsage, TranscriptFormat, TranscriptMessage, User,
    },
    error::AppError,
    storage::{
        Db,
        chats::{self, NewChat},
        messages, quotas,
    },
};

#[derive(Clone)]
pub struct Chats {
    db: Db,
    catalog: Arc<ModelCatalog>,
    characters: Characters,
    create_limit: CreateLimit,
    /// Imports and branches are bulk writes.
    bulk_writes: BulkWrites,
    turns: Turns,
    personas: Personas,
    lorebooks: Lorebooks,
}

impl Chats {
    pub fn new(
        db: Db,
        catalog: Arc<ModelCatalog>,
        characters: Characters,
        (create_limit, bulk_writes): (CreateLimit, BulkWrites),
        turns: Turns,
        (personas, lorebooks): (Personas, Lorebooks),
    ) -> Self {
        Self { db, catalog, characters, create_limit, bulk_writes, turns, personas, lorebooks }
    }

    /// Starts a chat with a character the user can see; its greeting becomes the first
    /// message (not charged).
    #[tracing::instrument(skip_all, fields(user.id = %user.id), err(level = "info"))]
    pub async fn create(&self, user: &User, request: CreateChat) -> Result<Chat, AppError> {
        let character = self.characters.get(user, CharacterId::new(request.character_id)).await?;
        self.create_limit.check(user.id).await?;
        let model = match request.model.or_else(|| character.fields.model.clone()) {
            Some(model) => {
                known_model(&self.catalog, &model)?;
                model
            }
            None => self.catalog.default_model().id.clone(),
        };
        let persona_id = request.persona_id.map(PersonaId::new);
        if let Some(id) = persona_id {
            self.personas.check_owned(user, id).await?;
        }
        let speaker = self.personas.speaker(user, persona_id).await?;
        let greetings = self.greetings(&character, &speaker.name).await;
        let new = NewChat {
            user_id: user.id,
            character_id: character.id,
            title: character.name(),
            model: &model,
            persona_id,
            booked: true,
        };
        Ok(chats::create(&self.db, &new, &greetings).await?)
    }

    /// The character's greeting as a chat's first message, its alternate greetings as the
    /// message's alternatives (not charged); none when it has no greeting. `user_name` is who
    /// the user is in the chat.
    async fn greetings(&self, character: &Character, user_name: &str) -> Vec<TranscriptMessage> {
        let now = now_millis();
        let mut alternatives = Vec::new();
        let fields = &character.fields;
        for text in std::iter::once(&fields.greeting).chain(&fields.card.alternate_greetings) {
            let text = fill_names(text, character.name(), user_name).trim().to_owned();
            if !text.is_empty() {
                let tokens = tokens::count_off_executor(text.clone()).await as i64;
                alternatives.push(Alternative::uncharged(text, tokens, now));
            }
        }
        if alternatives.is_empty() {
            return Vec::new();
        }
        vec![TranscriptMessage { role: Role::Assistant, created_at: now, edited_at: None, alternatives, selected: 0 }]
    }

    /// The user's chats (active within `window`, if given), latest activity first.
    pub async fn list(&self, user: &User, window: Option<&DayRange>, page: Page) -> Result<(Vec<Chat>, i64), AppError> {
        Ok(chats::list_owned(&self.db, user.id, window, page.limit, page.offset).await?)
    }

    /// The user's own chat; anyone else's is `NotFound`.
    pub async fn get(&self, user: &User, id: ChatId) -> Result<Chat, AppError> {
        chats::find_owned(&self.db, id, user.id).await?.ok_or(AppError::NotFound)
    }

    pub async fn update(&self, user: &User, id: ChatId, change: UpdateChat) -> Result<Chat, AppError> {
        self.get(user, id).await?;
        let title = change.title.map(|t| t.trim().to_owned());
        if let Some(title) = &title {
            rules::check_text("title", title, rules::CHAT_TITLE_MAX_CHARS, true)?;
        }
        if let Some(model) = &change.model {
            known_model(&self.catalog, model)?;
        }
        let persona_id = change.persona_id.map(|id| id.map(PersonaId::new));
        if let Some(Some(id)) = persona_id {
            self.personas.check_owned(user, id).await?;
        }
        let lorebook_ids: Option<Vec<LorebookId>> =
            change.lorebook_ids.map(|ids| ids.into_iter().map(LorebookId::new).collect());
        if let Some(ids) = &lorebook_ids {
            self.lorebooks.check_for_chat(user, ids).await?;
        }
        chats::update(&self.db, id, title.as_deref(), change.model.as_deref()).await?;
        if let Some(persona_id) = persona_id {
            chats::set_persona(&self.db, id, persona_id).await?;
        }
        if let Some(ids) = &lorebook_ids {
            self.lorebooks.set_for_chat(id, ids).await?;
        }
        self.get(user, id).await
    }

    /// Deletes the chat and stops its replies under way (each is charged for what it generated).
    pub async fn delete(&self, user: &User, id: ChatId) -> Result<(), AppError> {
        self.get(user, id).await?;
        chats::delete(&self.db, id).await?;
        self.turns.stop(id);
        Ok(())
    }

    pub async fn messages(
        &self,
        user: &User,
        id: ChatId,
        before_id: Option<MessageId>,
        page: Page,
    ) -> Result<MessagePage, AppError> {
        self.get(user, id).await?;
        let items = messages::page(&self.db, id, before_id, page.limit).await?;
        Ok(MessagePage::new(items, page.limit))
    }

    /// A message of the user's own chat.
    async fn message(&self, user: &User, chat_id: ChatId, id: MessageId) -> Result<(Chat, Message), AppError> {
        let chat = self.get(user, chat_id).await?;
        let message = messages::find(&self.db, chat.id, id).await?.ok_or(AppError::NotFound)?;
        Ok((chat, message))
    }

    /// Generates the chat's last reply again (see `Turns::regenerate`).
    pub async fn regenerate(&self, user: &User, chat_id: ChatId, id: MessageId) -> Result<StartedTurn, AppError> {
        self.turns.regenerate(user, chat_id, id).await
    }

    /// Shows alternative `index` of a message; later prompts see it. Costs nothing.
    pub async fn select_alternative(
        &self,
        user: &User,
        chat_id: ChatId,
        id: MessageId,
        index: i64,
    ) -> Result<Message, AppError> {
        let (_, message) = self.message(user, chat_id, id).await?;
        if !(0..message.alternative_count).contains(&index) {
            return Err(RuleViolation {
                field: "index",
                code: "invalid_alternative",
                message: format!("index must be 0 to {}", message.alternative_count - 1),
            }
            .into());
        }
        if message.alternative_count == 1 {
            return Ok(message);
        }
        Ok(messages::select_alternative(&self.db, message.id, index).await?)
    }

    /// Replaces a message's text: a user message follows the rule for sending, a reply may be
    /// up to 8,000 characters. Later prompts see the new text; what was charged stays.
    pub async fn edit(&self, user: &User, chat_id: ChatId, id: MessageId, content: &str) -> Result<Message, AppError> {
        let (_, message) = self.message(user, chat_id, id).await?;
        let text = match message.role {
            Role::User => MessageText::parse(content, self.turns.limits().max_message_chars())?.as_str().to_owned(),
            Role::Assistant => rules::check_edited_reply(content)?.to_owned(),
        };
        let tokens = tokens::count_off_executor(text.clone()).await as i64;
        Ok(messages::edit(&self.db, message.id, &text, tokens).await?)
    }

    /// Deletes a message, or with `and_after` it and every later one (a rewind, which also
    /// stops a reply under way in the chat). Recorded usage stays.
    pub async fn delete_message(
        &self,
        user: &User,
        chat_id: ChatId,
        id: MessageId,
        and_after: bool,
    ) -> Result<(), AppError> {
        let (chat, message) = self.message(user, chat_id, id).await?;
        if and_after {
            self.turns.stop(chat.id);
        }
        messages::delete(&self.db, chat.id, message.id, and_after).await?;
        Ok(())
    }

    /// A new chat holding copies of the messages up to and including `id`, alternatives and
    /// all. Copies are never charged: the new chat and its messages count for nothing in the
    /// ledger, and carry no charged tokens.
    pub async fn branch(&self, user: &User, chat_id: ChatId, id: MessageId) -> Result<Chat, AppError> {
        let (chat, _) = self.message(user, chat_id, id).await?;
        self.create_limit.check(user.id).await?;
        let _permit = self.bulk_writes.admit(user.id).await?;
        let copies: Vec<TranscriptMessage> = messages::transcript(&self.db, chat.id)
            .await?
            .into_iter()
            .take_while(|(message, _)| message.id <= id)
            .map(|(message, alternatives)| uncharged(transcript_message(message, alternatives)))
            .collect();
        self.check_room_for(user, &copies).await?;
        let new = NewChat {
            user_id: user.id,
            character_id: chat.character_id,
            title: &chat.title,
            model: &chat.model,
            persona_id: chat.persona_id,
            booked: false,
        };
        let branch = chats::create(&self.db, &new, &copies).await?;
        if chat.lorebook_ids.is_empty() {
            return Ok(branch);
        }
        self.lorebooks.set_for_chat(branch.id, &chat.lorebook_ids).await?;
        self.get(user, branch.id).await
    }

    /// The chat written out as a file of `format`.
    pub async fn export(&self, user: &User, chat_id: ChatId, format: TranscriptFormat) -> Result<Exported, AppError> {
        let chat = self.get(user, chat_id).await?;
        let messages: Vec<TranscriptMessage> = messages::transcript(&self.db, chat.id)
            .await?
            .into_iter()
            .map(|(message, alternatives)| transcript_message(message, alternatives))
            .collect();
        let speaker = self.personas.speaker(user, chat.persona_id).await?;
        let names = Names { user: speaker.name, character: chat.character_name.clone() };
        Ok(transcripts::export(format, &names, &chat, &messages))
    }

    /// A new chat with `character_id` holding exactly the messages of a chat file (SillyTavern
    /// JSONL or Troupe JSON; see `transcripts::read`), never charged: the file's token numbers
    /// are dropped and the ledger counts none of it. Nothing is stored if the file is malformed
    /// (422 naming the line). Counts as a create for `RATE_LIMIT_WRITES_PER_MINUTE`.
    pub async fn import(&self, user: &User, character_id: CharacterId, file: Vec<u8>) -> Result<Chat, AppError> {
        let character = self.characters.get(user, character_id).await?;
        self.create_limit.check(user.id).await?;
        let _permit = self.bulk_writes.admit(user.id).await?;
        let messages = tokio::task::spawn_blocking(move || -> Result<Vec<TranscriptMessage>, AppError> {
            let messages = transcripts::read(&file, now_millis())
                .map_err(|e| AppError::InvalidFile { line: e.line, message: e.message })?;
            Ok(messages.into_iter().map(uncharged).map(counted).collect())
        })
        .await
        .map_err(|e| AppError::Internal(e.into()))??;
        self.check_room_for(user, &messages).await?;
        let model = character.fields.model.clone().unwrap_or_else(|| self.catalog.default_model().id.clone());
        let model = if self.catalog.get(&model).is_some() { model } else { self.catalog.default_model().id.clone() };
        let new = NewChat {
            user_id: user.id,
            character_id: character.id,
            title: character.name(),
            model: &model,
            persona_id: None,
            booked: false,
        };
        Ok(chats::create(&self.db, &new, &messages).await?)
    }

    /// 403 `storage_quota_exceeded` when `messages` would not fit in the user's storage: a bulk
    /// write is refused from its size before it writes (the database's triggers refuse any
    /// row past the quota as well).
    async fn check_room_for(&self, user: &User, messages: &[TranscriptMessage]) -> Result<(), AppError> {
        let bytes = messages.iter().map(messages::stored_bytes).sum();
        if quotas::of(&self.db, user.id).await?.would_pass(bytes) {
            return Err(AppError::StorageQuotaExceeded);
        }
        Ok(())
    }

    /// The limits a message must fit (see `Turns::limits_for`).
    pub async fn limits_for(&self, user: &User) -> Result<troupe_types::MessageLimits, AppError> {
        let storage = quotas::of(&self.db, user.id).await?;
        Ok(troupe_types::MessageLimits {
            storage_used_bytes: storage.used_bytes,
            storage_quota_bytes: storage.quota_bytes,
            ..self.turns.limits().limits_for(user)
        })
    }

    /// The longest message anyone may send, in characters.
    pub fn max_message_chars(&self) -> usize {
        self.turns.limits().max_message_chars()
    }

    /// Sends a message in the user's own chat (see `Turns::send`).
    pub async fn send(&self, user: &User, chat_id: ChatId, content: &str) -> Result<StartedTurn, AppError> {
        self.turns.send(user, chat_id, content).await
    }
}

/// A message with its alternatives (a message never regenerated is its own only one).
fn transcript_message(message: Message, alternatives: Vec<Alternative>) -> TranscriptMessage {
    let alternatives = if alternatives.is_empty() {
        vec![Alternative {
            content: message.content,
            status: message.status,
            model: message.model,
            usage: message.usage,
            usage_source: message.usage_source,
            token_count: message.token_count,
            created_at: message.created_at,
        }]
    } else {
        alternatives
    };
    let selected = usize::try_from(message.alternative_index).unwrap_or(0).min(alternatives.len() - 1);
    TranscriptMessage {
        role: message.role,
        created_at: message.created_at,
        edited_at: message.edited_at,
        alternatives,
        selected,
    }
}

/// The same message with nothing charged: copies and imports cost no one anything.
fn uncharged(mut message: TranscriptMessage) -> TranscriptMessage {
    for alternative in &mut message.alternatives {
        alternative.usage = TokenUsage::default();
        alternative.usage_source = None;
    }
    message
}

/// Each alternative's size in tokens, counted (imported files do not carry it).
fn counted(mut message: TranscriptMessage) -> TranscriptMessage {
    for alternative in &mut message.alternatives {
        alternative.token_count = tokens::count(&alternative.content) as i64;
    }
    message
}
