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
    #[serde(default, deserialize_with = "lenient::number", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub scan_depth: Option<i64>,
    /// Tokens the inserted entries may take at most; lower `priority` goes first.
    #[serde(default, deserialize_with = "lenient::number", skip_serializing_if = "Option::is_none")]
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
    #[serde(default, deserialize_with = "lenient::order")]
    #[cfg_attr(feature = "openapi", oai(default))]
    pub insertion_order: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub case_sensitive: Option<bool>,
    /// When the budget is spent, lower priority is left out first.
    #[serde(default, deserialize_with = "lenient::number", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub priority: Option<i64>,
    /// Inserted whatever the messages say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub constant: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", oai(skip_serializing_if_is_none, nullable))]
    pub selective: Option<bool>,
    #[serde(default, deserialize_with = "lenient::position", skip_serializing_if = "Option::is_none")]
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

/// Cards in the wild write numbers as decimals or strings, and positions as numbers (`0`
/// before the character, `1` after): read what can be read, and a position that is neither as
/// absent rather than refusing the card.
mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::EntryPosition;

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        let value = Value::deserialize(d)?;
        match &value {
            Value::Null => Ok(None),
            Value::Number(n) => Ok(n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => s.trim().parse::<f64>().map(|f| Some(f as i64)).map_err(serde::de::Error::custom),
            _ => Err(serde::de::Error::custom(format!("expected a number, found {value}"))),
        }
    }

    pub fn order<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        number(d).map(Option::unwrap_or_default)
    }

    pub fn position<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EntryPosition>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::String(s) if s == "before_char" => Some(EntryPosition::BeforeChar),
            Value::String(s) if s == "after_char" => Some(EntryPosition::AfterChar),
            Value::Number(n) if n.as_i64() == Some(0) => Some(EntryPosition::BeforeChar),
            Value::Number(n) if n.as_i64() == Some(1) => Some(EntryPosition::AfterChar),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_positions_as_cards_write_them() {
        let entry: LorebookEntry =
            serde_json::from_str(r#"{"keys": ["k"], "insertion_order": 10.0, "priority": "5", "position": 1}"#)
                .unwrap();
        assert_eq!(
            (entry.insertion_order, entry.priority, entry.position),
            (10, Some(5), Some(EntryPosition::AfterChar))
        );
        let odd: LorebookEntry = serde_json::from_str(r#"{"position": "at_depth"}"#).unwrap();
        assert_eq!(odd.position, None);
        assert!(serde_json::from_str::<LorebookEntry>(r#"{"insertion_order": [1]}"#).is_err());
    }
}
