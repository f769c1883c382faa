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
pub mod models;
pub mod rules;

pub use admin::{
    AdminChat, AdminChatList, AdminUser, AdminUserList, Announcement, AnnouncementLevel, AnnouncementList, DailyUsage,
    DailyUsageList, LiveStats, ModelUsage, NewAnnouncement, Overview, OverviewDay, OverviewTotals, TopCharacter,
    TopUser, UpdateUser,
};
pub use auth::{AuthResponse, LoginRequest, RegisterRequest, User};
pub use characters::{Character, CharacterInput, CharacterList, Prompt, PromptInput, PromptList, Visibility};
pub use chats::{
    Chat, ChatList, ChatTurn, CreateChat, Message, MessageLimits, MessageList, MessageStatus, Role, SendMessage,
    TurnDelta, TurnDone, TurnError, UpdateChat, Usage, UsageSource,
};
pub use error::{ErrorBody, ErrorDetail};
pub use models::{Model, ModelList};
