//! Chats, messages and what a turn costs.

use troupe_types::{MessageStatus, Role, UsageSource};

use super::{CharacterId, UserId};
use crate::clock::{Millis, rfc3339};

pub type ChatId = i64;
pub type MessageId = i64;

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
}

impl From<Chat> for troupe_types::Chat {
    fn from(c: Chat) -> Self {
        Self {
            id: c.id,
            character_id: c.character_id,
            character_name: c.character_name,
            title: c.title,
            model: c.model,
            created_at: rfc3339(c.created_at),
            last_message_at: rfc3339(c.last_message_at),
            message_count: c.message_count,
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
}

impl From<Message> for troupe_types::Message {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            chat_id: m.chat_id,
            role: m.role,
            content: m.content,
            status: m.status,
            model: m.model,
            prompt_tokens: m.usage.prompt_tokens,
            completion_tokens: m.usage.completion_tokens,
            token_count: m.token_count,
            usage_source: m.usage_source,
            created_at: rfc3339(m.created_at),
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

/// Text forms of the enums as the database stores them.
pub fn role_str(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

pub fn status_str(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Complete => "complete",
        MessageStatus::Incomplete => "incomplete",
        MessageStatus::Error => "error",
    }
}

pub fn source_str(source: UsageSource) -> &'static str {
    match source {
        UsageSource::Provider => "provider",
        UsageSource::Estimated => "estimated",
    }
}
