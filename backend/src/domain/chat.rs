//! Chats, messages and what a turn costs.

use troupe_types::{MessageStatus, Role, UsageSource};

use super::{CharacterId, ChatId, DayRange, LorebookId, MessageId, PersonaId, RuleViolation, SystemId, UserId};
use crate::clock::{Millis, rfc3339};

#[derive(Clone, Debug, PartialEq)]
pub struct Chat {
    pub id: ChatId,
    pub user_id: UserId,
    pub character_id: CharacterId,
    pub character_name: String,
    pub title: String,
    pub model: String,
    pub dify_conversation_id: Option<String>,
    pub message_count: i64,
    pub created_at: Millis,
    pub last_message_at: Millis,
    /// Who the user is in this chat; `None`: their default persona.
    pub persona_id: Option<PersonaId>,
    /// Standalone lorebooks used beside the character's, in order.
    pub lorebook_ids: Vec<LorebookId>,
}

impl From<Chat> for troupe_types::Chat {
    fn from(c: Chat) -> Self {
        Self {
            id: c.id.get(),
            character_id: c.character_id.get(),
            character_name: c.character_name,
            title: c.title,
            model: c.model,
            created_at: rfc3339(c.created_at),
            last_message_at: rfc3339(c.last_message_at),
            message_count: c.message_count,
            persona_id: c.persona_id.map(PersonaId::get),
            lorebook_ids: c.lorebook_ids.into_iter().map(LorebookId::get).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MessageId,
    pub chat_id: ChatId,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub usage: TokenUsage,
    pub usage_source: Option<UsageSource>,
    pub token_count: i64,
    pub created_at: Millis,
    /// The selected alternative (from 0) and how many there are.
    pub alternative_index: i64,
    pub alternative_count: i64,
    pub edited_at: Option<Millis>,
}

impl From<Message> for troupe_types::Message {
    fn from(m: Message) -> Self {
        Self {
            id: m.id.get(),
            chat_id: m.chat_id.get(),
            role: m.role,
            content: m.content,
            status: m.status,
            model: m.model,
            prompt_tokens: m.usage.prompt_tokens,
            completion_tokens: m.usage.completion_tokens,
            token_count: m.token_count,
            usage_source: m.usage_source,
            created_at: rfc3339(m.created_at),
            alternative_index: m.alternative_index,
            alternative_count: m.alternative_count,
            edited_at: m.edited_at.map(rfc3339),
        }
    }
}

/// What the admins' conversation browser narrows by; absent parts do not narrow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    pub user_id: Option<UserId>,
    pub character_id: Option<CharacterId>,
    /// Chats active within these days.
    pub active: Option<DayRange>,
    /// Substring of the title, the character's name or any message; blank narrows nothing.
    pub text: Option<String>,
    /// Chats of this system's users, or of one of them.
    pub system_id: Option<SystemId>,
    pub external_user_id: Option<String>,
}

impl ConversationFilter {
    /// From the query's parts: days only when `from` or `to` is given.
    pub fn parse(
        user_id: Option<UserId>,
        character_id: Option<CharacterId>,
        from: Option<&str>,
        to: Option<&str>,
        text: Option<String>,
    ) -> Result<Self, RuleViolation> {
        let active = if from.is_some() || to.is_some() { Some(DayRange::parse(from, to)?) } else { None };
        let text = text.filter(|t| !t.trim().is_empty());
        Ok(Self { user_id, character_id, active, text, system_id: None, external_user_id: None })
    }

    /// Narrowed to a system's users (`system_id`), or to one of them (`external_user_id`, which
    /// needs the system).
    pub fn of_system(
        mut self,
        system_id: Option<&str>,
        external_user_id: Option<String>,
    ) -> Result<Self, RuleViolation> {
        let system_id = system_id.filter(|s| !s.is_empty()).map(SystemId::parse).transpose().map_err(|mut v| {
            v.field = "system_id";
            v
        })?;
        let external_user_id = external_user_id.filter(|e| !e.is_empty());
        if external_user_id.is_some() && system_id.is_none() {
            let message = "an external user is named within a system: give system_id too";
            return Err(RuleViolation::new("external_user_id", "system_required", message));
        }
        self.system_id = system_id;
        self.external_user_id = external_user_id;
        Ok(self)
    }
}

/// A page of a chat's messages, oldest first, with the cursor of the page before it.
#[derive(Clone, Debug, PartialEq)]
pub struct MessagePage {
    pub items: Vec<Message>,
    /// `before_id` for the older page; `None` when this page is not full (nothing older).
    pub next_before_id: Option<MessageId>,
}

impl MessagePage {
    /// `items` as fetched with `limit`: a full page may have more before it.
    pub fn new(items: Vec<Message>, limit: i64) -> Self {
        let next_before_id = items.first().filter(|_| items.len() as i64 == limit).map(|m| m.id);
        Self { items, next_before_id }
    }
}

impl From<MessagePage> for troupe_types::MessageList {
    fn from(page: MessagePage) -> Self {
        Self {
            items: page.items.into_iter().map(Into::into).collect(),
            next_before_id: page.next_before_id.map(MessageId::get),
        }
    }
}

/// One alternative of a message: a reply the model gave (again), or one of a greeting's texts.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub usage: TokenUsage,
    pub usage_source: Option<UsageSource>,
    pub token_count: i64,
    pub created_at: Millis,
}

impl Alternative {
    /// A text nobody was charged for (a greeting, an imported or copied message).
    pub fn uncharged(content: String, token_count: i64, created_at: Millis) -> Self {
        Self {
            content,
            status: MessageStatus::Complete,
            model: None,
            usage: TokenUsage::default(),
            usage_source: None,
            token_count,
            created_at,
        }
    }
}

/// A message with every alternative: what exports write, and what copies (branches) and
/// imports store.
#[derive(Clone, Debug, PartialEq)]
pub struct TranscriptMessage {
    pub role: Role,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    /// At least one; the message shows `alternatives[selected]`.
    pub alternatives: Vec<Alternative>,
    pub selected: usize,
}

impl TranscriptMessage {
    pub fn shown(&self) -> &Alternative {
        &self.alternatives[self.selected]
    }
}

/// The file formats a chat exports to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum TranscriptFormat {
    /// SillyTavern's chat file: a header line, then a JSON object per message.
    Jsonl,
    /// Troupe's own, with every field and alternative.
    Json,
    /// `Name: text` blocks.
    Txt,
}

impl TranscriptFormat {
    pub const ALL: [Self; 3] = [Self::Jsonl, Self::Json, Self::Txt];

    /// The media type the file is sent as.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jsonl => "application/jsonl; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
            Self::Txt => "text/plain; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Jsonl => "jsonl",
            Self::Json => "json",
            Self::Txt => "txt",
        }
    }
}

/// Tokens charged for a turn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

impl TokenUsage {
    pub fn total(&self) -> i64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// A chat message's text: trimmed, 1 to `max_chars` Unicode characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, troupe_types::rules::RuleViolation> {
        troupe_types::rules::check_message(raw, max_chars).map(|t| Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
