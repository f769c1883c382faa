//! One module per screen.

pub mod auth;
pub mod character_form;
pub mod characters;
pub mod chat;
