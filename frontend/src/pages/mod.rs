//! One module per screen.

pub mod admin;
pub mod auth;
pub mod character_form;
pub mod characters;
pub mod chat;
pub mod not_found;
pub mod prompts;
