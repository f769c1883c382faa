//! Chats and messages (`/api/chats`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Chat {
    pub id: i64,
    pub character_id: i64,
    pub character_name: String,
    pub title: String,
    pub model: String,
    pub created_at: String,
    pub last_message_at: String,
    pub message_count: i64,
    /// Who the user is in this chat; `null`: their default persona, else their username.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub persona_id: Option<i64>,
    /// Standalone lorebooks used beside the character's own.
    pub lorebook_ids: Vec<i64>,
}

/// Body of `POST /api/chats`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CreateChat {
    pub character_id: i64,
    /// A model id from `/api/models`; default: the character's model, else the server default.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub model: Option<String>,
    /// One of the user's personas; absent or `null`: the default.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub persona_id: Option<i64>,
}

/// Body of `PATCH /api/chats/{id}`; absent fields stay as they are (`null` is refused, except
/// for `persona_id`, where it means the default persona).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct UpdateChat {
    /// 1–100 characters.
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub model: Option<String>,
    #[serde(default, deserialize_with = "crate::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub persona_id: Option<Option<i64>>,
    /// The user's own lorebooks, replacing the chat's list (at most 20).
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub lorebook_ids: Option<Vec<i64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ChatList {
    pub items: Vec<Chat>,
    pub total: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", oai(rename_all = "lowercase"))]
pub enum Role {
    User,
    Assistant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", oai(rename_all = "lowercase"))]
pub enum MessageStatus {
    Complete,
    /// The client went away mid-stream; what arrived is kept and charged.
    Incomplete,
    /// The model provider failed; `content` may hold what arrived before.
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", oai(rename_all = "lowercase"))]
pub enum UsageSource {
    /// Reported by the model provider.
    Provider,
    /// Counted by Troupe's tokenizer.
    Estimated,
}

/// Token fields: `prompt_tokens` and `completion_tokens` are what the turn was charged (on the
/// assistant message; zero on user messages and greetings); `token_count` is the size of this
/// message's own text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Message {
    pub id: i64,
    pub chat_id: i64,
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub model: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub token_count: i64,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub usage_source: Option<UsageSource>,
    pub created_at: String,
    /// Which of the message's alternatives is shown and used by later prompts (from 0).
    pub alternative_index: i64,
    /// How many alternatives the message has: 1 unless it was regenerated (or is a greeting
    /// with alternates).
    pub alternative_count: i64,
    /// When the text was last edited, RFC 3339; `null` if never.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub edited_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MessageList {
    /// Oldest first.
    pub items: Vec<Message>,
    /// Pass as `before_id` to get the page before this one; absent on the first page.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub next_before_id: Option<i64>,
}

/// Body of `PUT /api/chats/{id}/messages/{message_id}/alternative`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SelectAlternative {
    /// From 0 to `alternative_count - 1`.
    pub index: i64,
}

/// Body of `PATCH /api/chats/{id}/messages/{message_id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct EditMessage {
    /// A user message: trimmed, 1 to `MAX_MESSAGE_CHARS` characters; an assistant message:
    /// 1 to 8,000 characters.
    pub content: String,
}

/// Body of `POST /api/chats/{id}/branch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct BranchChat {
    /// The new chat holds copies of the messages up to and including this one.
    pub message_id: i64,
}

/// Body of `POST /api/chats/{id}/messages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SendMessage {
    /// Trimmed; 1 to `MAX_MESSAGE_CHARS` (default 200) Unicode characters.
    pub content: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub source: UsageSource,
}

/// A finished turn: the JSON answer of a send, and the SSE `done` event's data (without
/// `user_message`, which the stream sent first).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ChatTurn {
    pub user_message: Message,
    pub assistant_message: Message,
    pub usage: Usage,
}

/// SSE `done` event, and the JSON answer of a regeneration: the reply (for a regeneration, the
/// message with its new alternative selected) and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TurnDone {
    pub assistant_message: Message,
    pub usage: Usage,
}

/// SSE `delta` event: the next piece of the reply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TurnDelta {
    pub text: String,
}

/// SSE `error` event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TurnError {
    pub code: String,
    pub message: String,
}

/// One event of a streamed turn. On the wire the SSE `event:` field carries its name
/// (`user_message`, `delta`, `done`, `error`: the variants' names, in snake case) and `data:`
/// its JSON: `user_message` first, any number of `delta`, then exactly one of `done` or `error`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", content = "data", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Union))]
pub enum TurnEvent {
    UserMessage(Message),
    Delta(TurnDelta),
    Done(TurnDone),
    Error(TurnError),
}

impl TurnEvent {
    /// The SSE event's name and data.
    pub fn to_sse(&self) -> (String, String) {
        let tagged = serde_json::to_value(self).expect("turn events serialise");
        let name = tagged["event"].as_str().expect("adjacently tagged").to_owned();
        (name, tagged["data"].to_string())
    }

    /// The event an SSE `event:` name and `data:` JSON carry; `None` for a name this version
    /// does not know (a newer server may add events).
    pub fn from_sse(name: &str, data: &str) -> Option<Result<Self, serde_json::Error>> {
        // The same names `to_sse` takes from serde (a test holds them together); matched by
        // hand, as serde's reader of tagged enums would add ~10 KB to the web app.
        let parsed = match name {
            "user_message" => serde_json::from_str(data).map(Self::UserMessage),
            "delta" => serde_json::from_str(data).map(Self::Delta),
            "done" => serde_json::from_str(data).map(Self::Done),
            "error" => serde_json::from_str(data).map(Self::Error),
            _ => return None,
        };
        Some(parsed)
    }
}

#[cfg(test)]
mod turn_event_tests {
    use super::*;

    #[test]
    fn every_event_reads_back_what_it_writes() {
        let message = Message {
            id: 1,
            chat_id: 2,
            role: Role::User,
            content: "hi".into(),
            status: MessageStatus::Complete,
            model: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            token_count: 1,
            usage_source: None,
            created_at: "2026-11-25T00:00:00.000Z".into(),
            alternative_index: 0,
            alternative_count: 1,
            edited_at: None,
        };
        let usage = Usage { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, source: UsageSource::Provider };
        let events = [
            TurnEvent::UserMessage(message.clone()),
            TurnEvent::Delta(TurnDelta { text: "Hel".into() }),
            TurnEvent::Done(TurnDone { assistant_message: message, usage }),
            TurnEvent::Error(TurnError { code: "upstream_error".into(), message: "no".into() }),
        ];
        for event in events {
            let (name, data) = event.to_sse();
            assert_eq!(TurnEvent::from_sse(&name, &data).unwrap().unwrap(), event, "{name}");
        }
        assert_eq!(TurnEvent::Delta(TurnDelta { text: "x".into() }).to_sse().0, "delta");
        assert!(TurnEvent::from_sse("mystery", "{}").is_none());
    }
}

/// What a message must fit on this server, for the signed-in user (`GET /api/limits`), so a
/// client can check before sending.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct MessageLimits {
    /// Characters (Unicode scalar values) a message may hold after trimming.
    pub max_message_chars: i64,
    /// Messages per minute; 0 means no limit.
    pub messages_per_minute: i64,
    /// Replies that may stream at once.
    pub max_concurrent_streams: i64,
    /// Tokens per UTC day for this user (their own quota, else the server's default); `null`
    /// means unlimited.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub daily_token_quota: Option<i64>,
    /// Bytes this account stores: message texts (every alternative), characters with their
    /// avatars, lorebooks.
    #[serde(default)]
    pub storage_used_bytes: i64,
    /// Bytes it may store (its own quota, else the server's `STORAGE_QUOTA_MB`); `null` means
    /// unlimited.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub storage_quota_bytes: Option<i64>,
}
