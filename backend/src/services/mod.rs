//! Domain rules, between the HTTP layer and storage.

pub mod accounts;
pub mod admin;
pub mod catalog;
pub mod characters;
pub mod chats;
pub mod limits;
pub mod live;
pub mod presence;
pub mod prompt_assembly;
pub mod prompts;
pub mod tokens;

pub use accounts::{Accounts, Session, SignedIn};
pub use admin::Admin;
pub use catalog::ModelCatalog;
pub use characters::Characters;
pub use chats::Chats;
pub use prompts::Prompts;
