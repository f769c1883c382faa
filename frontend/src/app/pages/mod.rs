//! One module per screen.

pub mod auth;
pub mod card_import;
pub mod character_form;
pub mod characters;
pub mod chat;
pub mod lorebooks;
pub mod personas;
