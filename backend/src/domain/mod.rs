//! Domain values, valid by construction: parse once at the boundary, trust afterwards.

pub mod api_key;
pub mod character;
pub mod chat;
pub mod days;
pub mod ids;
pub mod lorebook;
pub mod paging;
pub mod persona;
pub mod room;
pub mod system;
pub mod user;

pub use api_key::{ApiKey, ApiKeyDraft};
pub use character::{CardFields, Character, CharacterDraft, CharacterFilter, PromptDraft, SharedPrompt};
pub use chat::{
    Alternative, Chat, ConversationFilter, Message, MessagePage, MessageText, TokenUsage, TranscriptFormat,
    TranscriptMessage,
};
pub use days::DayRange;
pub use ids::{
    AnnouncementId, ApiKeyId, CharacterId, ChatId, LorebookId, MessageId, PersonaId, PromptId, RoomId, RoomMessageId,
    UserId,
};
pub use lorebook::SavedLorebook;
pub use paging::Page;
pub use persona::{Persona, PersonaDraft, Speaker};
pub use room::{Room, RoomChange, RoomDraft, RoomMessage};
pub use system::{ExternalUserId, System, SystemChange, SystemDraft, SystemId, SystemTotals};
pub use user::{Email, Password, User, UserOrder, Username};

pub use troupe_types::rules::RuleViolation;
