//! Domain values, valid by construction: parse once at the boundary, trust afterwards.

pub mod character;
pub mod chat;
pub mod paging;
pub mod user;

pub use character::{Character, CharacterDraft, CharacterId, PromptDraft, PromptId, SharedPrompt};
pub use chat::{Chat, ChatId, Message, MessageId, MessageText, TokenUsage};
pub use paging::Page;
pub use user::{Email, Password, User, UserId, Username};

pub use troupe_types::rules::RuleViolation;
