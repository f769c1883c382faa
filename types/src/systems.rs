//! The service gateway: systems (other products) whose users chat through Troupe —
//! `/api/admin/systems` for admins, `/api/service/…` for the systems themselves.

use serde::{Deserialize, Serialize};

use crate::{Chat, Message, Usage};

/// A connected system, with its usage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct System {
    /// `[a-z0-9_-]{2,32}`, chosen at creation; external users show as `id:user_id`.
    pub id: String,
    pub name: String,
    /// Origins (`https://quiz.example`) that may frame the embedded chat and mint chat tokens
    /// from a browser.
    pub allowed_origins: Vec<String>,
    /// The character of new chats when a request names none.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub default_character_id: Option<i64>,
    /// The model of new chats; `null`: the character's, else the server default.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub model: Option<String>,
    /// Tokens per UTC day for each of its users; `null`: the server default.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub daily_token_quota_per_user: Option<i64>,
    pub disabled: bool,
    /// The service key's first characters (`trs_` and 8 more).
    pub key_prefix: String,
    pub created_at: String,
    /// External users seen so far.
    pub users: i64,
    /// Messages and tokens of its users, all time.
    pub messages: i64,
    pub total_tokens: i64,
    /// Tokens of its users today (UTC).
    pub tokens_today: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SystemList {
    pub items: Vec<System>,
}

/// Body of `POST /api/admin/systems`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CreateSystem {
    /// `[a-z0-9_-]{2,32}`; cannot change later.
    pub id: String,
    /// 1–100 characters.
    pub name: String,
    /// At most 20 origins, each `scheme://host[:port]`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub default_character_id: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub model: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub daily_token_quota_per_user: Option<i64>,
}

/// Body of `PATCH /api/admin/systems/{id}`: absent fields stay; `null` clears the optional
/// ones; `disabled: false` brings a disabled system back (with the secrets it had).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct UpdateSystem {
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub default_character_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub model: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub daily_token_quota_per_user: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub disabled: Option<bool>,
}

/// Answer of `POST /api/admin/systems/{id}/rotate`, and part of the creation's answer: shown
/// this once, never again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SystemSecrets {
    /// `trs_` and 40 random characters: the system's backend sends it as `X-API-Key`.
    pub service_key: String,
    /// Signs the system's own chat tokens (HS256 `{system_id, user_id, exp}`).
    pub jwt_secret: String,
}

/// Answer of `POST /api/admin/systems`: the system and its secrets (shown this once).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CreatedSystem {
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", oai(flatten))]
    pub system: System,
    pub service_key: String,
    pub jwt_secret: String,
}

/// Body of `POST /api/service/chat`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ServiceChatRequest {
    /// The system's own id for its user: 1–128 printable characters, compared exactly.
    pub user_id: String,
    /// As in `POST /api/chats/{id}/messages`.
    pub message: String,
    /// Continue this chat of the same user; absent: a new chat.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub chat_id: Option<i64>,
    /// The character of a new chat; absent: the system's default character.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub character_id: Option<i64>,
    /// The user's language (`en`, `ko`, `es`, `zh`, `ja`); accepted for symmetry with chat
    /// tokens, the reply follows the character and the message.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub lang: Option<String>,
}

/// JSON answer of `POST /api/service/chat`: the turn, and the chat it happened in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ServiceTurn {
    pub chat_id: i64,
    pub user_message: Message,
    pub assistant_message: Message,
    pub usage: Usage,
}

/// Answer of `GET /api/service/conversations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ServiceConversations {
    pub user_id: String,
    pub items: Vec<Chat>,
    pub total: i64,
}

/// Body of `POST /api/service/chat-tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ChatTokenRequest {
    pub user_id: String,
    /// The embedded chat's language; absent: the browser's.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub lang: Option<String>,
    /// The character the embedded chat opens with; absent: the system's default.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub character_id: Option<i64>,
    /// 1–1440, default 60.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub ttl_minutes: Option<i64>,
}

/// Answer of `POST /api/service/chat-tokens`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ChatToken {
    /// A bearer token for the chat routes, as the external user.
    pub token: String,
    /// The embedded chat, opened with this token (a path on this server: `/embed?token=…`).
    pub url: String,
    pub expires_at: String,
}

/// One system's usage in a range, for the overview.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SystemUsage {
    pub system_id: String,
    /// External users with usage in the range.
    pub users: i64,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}
