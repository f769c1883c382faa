//! Domain rules, between the HTTP layer and storage: one module per subject.

pub mod accounts;
pub mod announcements;
pub mod avatars;
pub mod cards;
pub mod catalog;
pub mod characters;
pub mod chats;
pub mod conversations;
pub mod generation;
pub mod limits;
pub mod live;
pub mod lore;
pub mod lorebooks;
pub mod personas;
pub mod presence;
pub mod prompt_assembly;
pub mod prompts;
pub mod starters;
pub mod stats;
pub mod tokens;
pub mod transcripts;
pub mod turns;
pub mod users;

pub use accounts::{Accounts, Session, SignedIn};
pub use announcements::Announcements;
pub use catalog::ModelCatalog;
pub use characters::Characters;
pub use chats::Chats;
pub use conversations::Conversations;
pub use lorebooks::Lorebooks;
pub use personas::Personas;
pub use prompts::Prompts;
pub use stats::Stats;
pub use turns::Turns;
pub use users::Users;
