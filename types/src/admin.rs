//! The admin API (`/api/admin`), announcements and the live feed.

use serde::{Deserialize, Serialize};

/// A user with activity totals, for the admin user list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AdminUser {
    pub id: i64,
    pub username: String,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub email: Option<String>,
    pub is_admin: bool,
    pub disabled: bool,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub daily_token_quota: Option<i64>,
    pub created_at: String,
    /// Last message sent, RFC 3339.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub last_active_at: Option<String>,
    /// Chats ever started (deleting a chat does not lower it).
    pub chats: i64,
    /// Messages ever sent.
    pub messages: i64,
    pub total_tokens: i64,
    /// Tokens charged today (UTC).
    pub tokens_today: i64,
    /// API keys the user holds now.
    pub api_keys: i64,
    /// Bytes the account stores (see `/api/limits`).
    pub storage_used_bytes: i64,
    /// The account's own storage quota in MB: `null` follows the server's `STORAGE_QUOTA_MB`,
    /// 0 is unlimited.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub storage_quota_mb: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AdminUserList {
    pub items: Vec<AdminUser>,
    pub total: i64,
}

/// Body of `PATCH /api/admin/users/{id}`: absent fields stay; `daily_token_quota: null` means
/// unlimited; `is_admin` and `disabled` are `true` or `false` (`null` is refused).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct UpdateUser {
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub is_admin: Option<bool>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub disabled: Option<bool>,
    /// Absent: unchanged; `null`: unlimited; a number: tokens per UTC day.
    // Left out when serialising an absent change, so a client never clears a quota by accident.
    #[serde(default, deserialize_with = "crate::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub daily_token_quota: Option<Option<i64>>,
    /// Absent: unchanged; `null`: the server's default (`STORAGE_QUOTA_MB`); 0: unlimited; a
    /// number: MB this account may store. Lowering it below what the account stores deletes
    /// nothing: its next write that adds storage is refused.
    #[serde(default, deserialize_with = "crate::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub storage_quota_mb: Option<Option<i64>>,
}

/// A chat as admins see it: whose, and what it cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AdminChat {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    /// For an external user: the system and the system's id for the user.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub system_id: Option<String>,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub external_user_id: Option<String>,
    pub character_id: i64,
    pub character_name: String,
    pub title: String,
    pub model: String,
    pub created_at: String,
    pub last_message_at: String,
    pub message_count: i64,
    /// Tokens charged for the chat's stored messages.
    pub total_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AdminChatList {
    pub items: Vec<AdminChat>,
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DailyUsage {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct DailyUsageList {
    pub items: Vec<DailyUsage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct OverviewTotals {
    /// All accounts, whenever created.
    pub users: i64,
    /// Accounts created in the range.
    pub new_users: i64,
    /// Users with recorded usage in the range.
    pub active_users: i64,
    pub chats: i64,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// From the catalogue's prices; models without prices count as free.
    pub estimated_cost_usd: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct OverviewDay {
    pub day: String,
    pub new_users: i64,
    pub active_users: i64,
    pub chats: i64,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TopUser {
    pub user_id: i64,
    pub username: String,
    pub messages: i64,
    pub total_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct TopCharacter {
    pub character_id: i64,
    pub name: String,
    pub messages: i64,
    pub total_tokens: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ModelUsage {
    pub model: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub estimated_cost_usd: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Overview {
    /// The range, inclusive, `YYYY-MM-DD`.
    pub from: String,
    pub to: String,
    pub totals: OverviewTotals,
    /// One entry per day of the range, days without activity included.
    pub daily: Vec<OverviewDay>,
    /// The 10 users with the most tokens in the range.
    pub top_users: Vec<TopUser>,
    /// The 10 characters with the most tokens in the range.
    pub top_characters: Vec<TopCharacter>,
    pub by_model: Vec<ModelUsage>,
    /// Where the usage came from: `chat` (chats, in the web app or through `/api`), `api`
    /// (`/v1` completions, each one message) and `room` (rooms' character replies, each one
    /// message of the person who asked).
    pub by_source: Vec<SourceUsage>,
    /// Usage of each system's external users (systems without usage in the range left out).
    pub by_system: Vec<crate::SystemUsage>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SourceUsage {
    /// `chat`, `api` or `room`.
    pub source: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", oai(rename_all = "lowercase"))]
pub enum AnnouncementLevel {
    #[default]
    Info,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Announcement {
    pub id: i64,
    pub text: String,
    pub level: AnnouncementLevel,
    pub created_at: String,
    /// After this it is no longer listed.
    pub expires_at: String,
}

/// Body of `POST /api/admin/announcements`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct NewAnnouncement {
    /// 1–500 characters.
    pub text: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub level: AnnouncementLevel,
    /// How long it stays active: 1–720 hours, default 24.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub duration_hours: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct AnnouncementList {
    pub items: Vec<Announcement>,
}

/// What `/api/admin/live` pushes every ~2 s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct LiveStats {
    /// Users with a request in the last 5 minutes.
    pub online_users: i64,
    /// Replies streaming now.
    pub active_streams: i64,
    /// User messages in the last minute.
    pub messages_last_minute: i64,
    /// Tokens charged in the last minute.
    pub tokens_last_minute: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_quota_differs_from_absent_quota() {
        let absent: UpdateUser = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.daily_token_quota, None);
        let unlimited: UpdateUser = serde_json::from_str(r#"{"daily_token_quota": null}"#).unwrap();
        assert_eq!(unlimited.daily_token_quota, Some(None));
        let set: UpdateUser = serde_json::from_str(r#"{"daily_token_quota": 500}"#).unwrap();
        assert_eq!(set.daily_token_quota, Some(Some(500)));
    }
}

/// One message of an exported conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ExportedMessage {
    pub id: i64,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    pub status: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub created_at: String,
}

/// One exported conversation with its messages, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ExportedConversation {
    pub chat_id: i64,
    pub title: String,
    pub user_id: i64,
    pub username: String,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub system_id: Option<String>,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub external_user_id: Option<String>,
    pub character_name: String,
    pub model: String,
    pub messages: Vec<ExportedMessage>,
}

/// `GET /api/admin/conversations/export?format=json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct ConversationExport {
    pub items: Vec<ExportedConversation>,
}
