//! Troupe's wire types: the JSON bodies of the HTTP API, shared by the server and the web app.
//!
//! Plain serde structs; with the `openapi` feature they also derive poem-openapi's traits
//! so the server documents exactly what it sends. Times are RFC 3339 strings in UTC.
#![forbid(unsafe_code)]

pub mod admin;
pub mod auth;
pub mod characters;
pub mod chats;
pub mod error;
pub mod keys;
pub mod lorebooks;
pub mod models;
pub mod personas;
pub mod rooms;
pub mod rules;
pub mod systems;

pub use admin::{
    AdminChat, AdminChatList, AdminUser, AdminUserList, Announcement, AnnouncementLevel, AnnouncementList,
    ConversationExport, DailyUsage, DailyUsageList, ExportedConversation, ExportedMessage, LiveStats, ModelUsage,
    NewAnnouncement, Overview, OverviewDay, OverviewTotals, SourceUsage, TopCharacter, TopUser, UpdateUser,
};
pub use auth::{AuthResponse, LoginRequest, RegisterRequest, RegistrationInfo, User};
pub use characters::{
    CardImport, CardImports, Character, CharacterInput, CharacterList, Prompt, PromptInput, PromptList, Visibility,
};
pub use chats::{
    BranchChat, Chat, ChatList, ChatTurn, CreateChat, EditMessage, Message, MessageLimits, MessageList, MessageStatus,
    Role, SelectAlternative, SendMessage, TurnDelta, TurnDone, TurnError, TurnEvent, UpdateChat, Usage, UsageSource,
};
pub use error::{ErrorBody, ErrorDetail};
pub use keys::{ApiKey, ApiKeyList, CreateApiKey, CreatedApiKey};
pub use lorebooks::{EntryPosition, Lorebook, LorebookEntry, LorebookList, SavedLorebook};
pub use models::{Model, ModelList};
pub use personas::{Persona, PersonaInput, PersonaList};
pub use rooms::{
    ClientFrame, CreateRoom, MuteUser, ReplyMode, Room, RoomList, RoomMessage, RoomMessageKind, RoomMessageList,
    ServerFrame, UpdateRoom,
};
pub use systems::{
    ChatToken, ChatTokenRequest, CreateSystem, CreatedSystem, ServiceChatRequest, ServiceConversations, ServiceTurn,
    System, SystemList, SystemSecrets, SystemUsage, UpdateSystem,
};

/// Tells a field that is present (even as `null`) from one that is absent (use with
/// `#[serde(default)]` on an `Option<Option<T>>`).
fn present<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// For optional request fields where `null` is not a value: absent is `None`, a value is
/// `Some`, and `null` fails like any other wrong type (use with `#[serde(default)]`).
fn absent_or_value<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod null_tests {
    use super::*;

    #[test]
    fn null_means_what_each_field_says() {
        let quota: UpdateUser = serde_json::from_str(r#"{"daily_token_quota": null}"#).unwrap();
        assert_eq!(quota.daily_token_quota, Some(None), "null quota = unlimited");
        assert_eq!(serde_json::from_str::<UpdateUser>("{}").unwrap(), UpdateUser::default(), "absent = unchanged");
        assert!(serde_json::from_str::<UpdateUser>(r#"{"is_admin": null}"#).is_err());
        assert!(serde_json::from_str::<UpdateChat>(r#"{"title": null}"#).is_err());
        let chat: CreateChat = serde_json::from_str(r#"{"character_id": 1, "model": null}"#).unwrap();
        assert_eq!(chat.model, None, "null model = the default");
    }
}
