//! Lorebooks (`/api/lorebooks`, and a character's `character_book`): entries of background
//! text that go into the prompt when their keys come up in the chat. The shape is Character
//! Card V2's `character_book` (V3's `use_regex` kept too), so cards carry them unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A lorebook. Absent values: `scan_depth` 2, `token_budget` unlimited, `recursive_scanning`
/// false.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct Lorebook {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub description: Option<String>,
    /// How many of the latest messages (the new one included) are searched for keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub scan_depth: Option<i64>,
    /// Tokens the inserted entries may take at most; lower `priority` goes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub token_budget: Option<i64>,
    /// Inserted entries' text is searched for keys too (a few rounds at most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub recursive_scanning: Option<bool>,
    /// Other applications' data, kept as it came.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub extensions: BTreeMap<String, Value>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub entries: Vec<LorebookEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct LorebookEntry {
    /// A number or a string, as the card had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub id: Option<Value>,
    /// Any of them in the scanned messages inserts the entry.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub keys: Vec<String>,
    /// With `selective`: one of these must appear as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub secondary_keys: Option<Vec<String>>,
    /// At most 16,000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub content: String,
    #[serde(default = "yes")]
    #[cfg_attr(feature = "openapi", oai(default = "yes"))]
    pub enabled: bool,
    /// Lower goes into the prompt first.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub insertion_order: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub case_sensitive: Option<bool>,
    /// When the budget is spent, lower priority is left out first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub priority: Option<i64>,
    /// Inserted whatever the messages say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub constant: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub selective: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub position: Option<EntryPosition>,
    /// Character Card V3: the keys are regular expressions. Kept, not applied: such an entry is
    /// never triggered by its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub use_regex: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub comment: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub extensions: BTreeMap<String, Value>,
}

/// Where an entry goes: before the character's description or after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", oai(rename_all = "snake_case"))]
pub enum EntryPosition {
    #[default]
    BeforeChar,
    AfterChar,
}

impl EntryPosition {
    /// A position as cards write it: the name, or `0` (before) and `1` (after).
    pub fn from_card(value: &Value) -> Option<Self> {
        match value {
            Value::String(s) if s == "before_char" => Some(Self::BeforeChar),
            Value::String(s) if s == "after_char" => Some(Self::AfterChar),
            Value::Number(n) if n.as_i64() == Some(0) => Some(Self::BeforeChar),
            Value::Number(n) if n.as_i64() == Some(1) => Some(Self::AfterChar),
            _ => None,
        }
    }
}

fn yes() -> bool {
    true
}

/// A standalone lorebook (`/api/lorebooks`), the user's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct SavedLorebook {
    pub id: i64,
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", oai(flatten))]
    pub book: Lorebook,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
pub struct LorebookList {
    pub items: Vec<SavedLorebook>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_reads_the_card_shape_strictly() {
        let entry: LorebookEntry =
            serde_json::from_str(r#"{"keys": ["k"], "insertion_order": 10, "position": "after_char"}"#).unwrap();
        assert_eq!((entry.insertion_order, entry.position), (10, Some(EntryPosition::AfterChar)));
        // Files are read leniently before this (the server's `world_info::settle`), the API not.
        for odd in [r#"{"position": 1}"#, r#"{"priority": "5"}"#, r#"{"insertion_order": [1]}"#] {
            assert!(serde_json::from_str::<LorebookEntry>(odd).is_err(), "{odd}");
        }
    }
}
