//! Characters (`/api/characters`) and shared prompts (`/api/prompts`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", oai(rename_all = "lowercase"))]
pub enum Visibility {
    /// Only the owner (and admins) can see it.
    #[default]
    Private,
    /// Everyone can see and chat with it; only the owner (and admins) can change it.
    Public,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Character {
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub description: String,
    pub personality: String,
    pub scenario: String,
    pub system_prompt: String,
    pub greeting: String,
    pub example_dialogue: String,
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub avatar_url: Option<String>,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    /// The model new chats with this character use unless they pick one.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub model: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// Body of `POST /api/characters` and `PUT /api/characters/{id}` (a full replacement:
/// omitted optional fields become empty). `{{char}}` and `{{user}}` in the texts are replaced
/// by the character's and the user's names when chatting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CharacterInput {
    /// 1–64 characters.
    pub name: String,
    /// At most 2000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub description: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub personality: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub scenario: String,
    /// At most 8000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub system_prompt: String,
    /// At most 2000 characters; becomes the first message of every new chat.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub greeting: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub example_dialogue: String,
    /// An `http(s)` image URL.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub avatar_url: Option<String>,
    /// Up to 10 tags of 1–32 characters; stored lowercase, duplicates dropped.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub tags: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub visibility: Visibility,
    /// A model id from `/api/models`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub model: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CharacterList {
    pub items: Vec<Character>,
    /// How many match, over all pages.
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Prompt {
    pub id: i64,
    pub name: String,
    pub content: String,
    pub enabled: bool,
    /// Lower comes first.
    pub position: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// Body of `POST /api/prompts` and `PUT /api/prompts/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PromptInput {
    /// 1–64 characters.
    pub name: String,
    /// 1–8000 characters.
    pub content: String,
    #[serde(default = "enabled_by_default")]
    #[cfg_attr(feature = "openapi", oai(default = "enabled_by_default"))]
    pub enabled: bool,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub position: i64,
}

fn enabled_by_default() -> bool {
    true
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct PromptList {
    pub items: Vec<Prompt>,
}
