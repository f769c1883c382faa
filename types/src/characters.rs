//! Characters (`/api/characters`, and their cards) and shared prompts (`/api/prompts`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ErrorDetail, lorebooks::Lorebook};

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
    /// More first messages: a new chat offers them with `greeting` as its first message's
    /// alternatives.
    pub alternate_greetings: Vec<String>,
    /// Goes into the prompt after the history.
    pub post_history_instructions: String,
    /// For people reading the card, never for the model.
    pub creator_notes: String,
    pub creator: String,
    pub character_version: String,
    /// Other applications' data from the card, kept as it came.
    pub extensions: BTreeMap<String, Value>,
    /// The character's own lorebook.
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub character_book: Option<Lorebook>,
    /// An uploaded or imported image exists (`GET /api/characters/{id}/avatar`); it is shown
    /// instead of `avatar_url`.
    pub has_avatar: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// Body of `POST /api/characters` and `PUT /api/characters/{id}`. The fields up to `model`
/// are replaced as given (omitted ones become empty); the card's fields after them are kept
/// as they are when a PUT leaves them out or sends `null` (a POST starts them empty), and `character_book:
/// null` removes the lorebook. `{{char}}` and `{{user}}` in the texts are replaced by the
/// character's and the user's (persona's) names when chatting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CharacterInput {
    /// 1–128 characters.
    pub name: String,
    /// This and every other text: at most 32,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub description: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub personality: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub scenario: String,
    /// `{{original}}` in it stands for the shared prompts, which it then wraps.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub system_prompt: String,
    /// Becomes the first message of every new chat.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub greeting: String,
    /// Blocks that start with `<START>`, lines `{{user}}: …` and `{{char}}: …`; sent as example
    /// turns.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub example_dialogue: String,
    /// An `http(s)` image URL.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    #[cfg_attr(feature = "openapi", oai(nullable))]
    pub avatar_url: Option<String>,
    /// Up to 50 tags of 1–64 characters, kept in their case and order; duplicates (ignoring
    /// case) dropped.
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
    /// At most 100.
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub alternate_greetings: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub post_history_instructions: Option<String>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub creator_notes: Option<String>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub creator: Option<String>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub character_version: Option<String>,
    #[serde(default, deserialize_with = "crate::absent_or_value", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub extensions: Option<BTreeMap<String, Value>>,
    /// At most 2,000 entries of at most 16,000 characters each; `null` removes it.
    // Left out when serialising an absent change, so a client never drops a lorebook by accident.
    #[serde(default, deserialize_with = "crate::present", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(default, nullable))]
    pub character_book: Option<Option<Lorebook>>,
}

/// What `POST /api/characters/import` made of each file, in the order they came.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CardImports {
    pub items: Vec<CardImport>,
}

/// One file: the character it became, or why it did not (`not_a_character_card`,
/// `invalid_card`, `invalid_image`, or a rule a field broke, with `field`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct CardImport {
    pub file_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub character: Option<Character>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none))]
    pub error: Option<ErrorDetail>,
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
