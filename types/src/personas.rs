//! Personas (`/api/personas`): who the user is in a chat. `{{user}}` is the persona's name and
//! its description goes into the prompt.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Persona {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Used in chats that name no persona. At most one per user.
    pub is_default: bool,
    pub created_at: String,
}

/// Body of `POST /api/personas` and `PUT /api/personas/{id}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PersonaInput {
    /// 1–64 characters.
    pub name: String,
    /// At most 32,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub description: String,
    /// Makes this the default (the previous default stops being one).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub is_default: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PersonaList {
    pub items: Vec<Persona>,
}
