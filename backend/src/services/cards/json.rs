//! A card's JSON, in and out: Character Card V1 (flat fields, and TavernAI's older names), V2
//! (`chara_card_v2`) and V3 (`chara_card_v3`) in; V3 and the V2 backfill out.
//!
//! Troupe's own fields that no card has (the model, an avatar URL) travel in
//! `extensions.troupe`, which an import takes back out.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use troupe_types::{CharacterInput, Lorebook};

use super::CardError;
use crate::{domain::Character, services::lorebooks::world_info::settle};

/// The card's fields Troupe models (V2's, and V3's changes to them); every other field of a
/// V3 card's `data` is kept as it came.
const MODELLED: &[&str] = &[
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "system_prompt",
    "post_history_instructions",
    "alternate_greetings",
    "tags",
    "creator",
    "character_version",
    "creator_notes",
    "extensions",
    "character_book",
];

/// Where Troupe keeps its own fields inside `extensions`.
const TROUPE: &str = "troupe";

/// What a card's JSON holds: the character's fields, and the card fields Troupe keeps aside.
pub struct CardFields {
    pub input: CharacterInput,
    pub extra: BTreeMap<String, Value>,
}

/// Reads a card from its JSON.
pub fn read(value: Value) -> Result<CardFields, CardError> {
    let Value::Object(mut card) = value else { return Err(not_a_card()) };
    match card.get("spec").and_then(Value::as_str) {
        Some("chara_card_v2" | "chara_card_v3") => match card.remove("data") {
            Some(Value::Object(data)) => read_data(data, true),
            _ => Err(CardError::Invalid("`data` is not an object".into())),
        },
        _ if card.contains_key("char_name") => read_data(from_tavern_ai(card), false),
        _ if card.contains_key("name")
            && ["first_mes", "description", "personality", "mes_example"].iter().any(|f| card.contains_key(*f)) =>
        {
            read_data(card, false)
        }
        _ => Err(not_a_card()),
    }
}

fn not_a_card() -> CardError {
    CardError::NotACard("no character card in it (expected chara_card_v2/v3 or a V1 card's fields)".into())
}

/// TavernAI's older field names, as V1's.
fn from_tavern_ai(card: Map<String, Value>) -> Map<String, Value> {
    let renames = [
        ("char_name", "name"),
        ("char_persona", "personality"),
        ("world_scenario", "scenario"),
        ("char_greeting", "first_mes"),
        ("example_dialogue", "mes_example"),
    ];
    let mut v1 = Map::new();
    for (old, new) in renames {
        if let Some(value) = card.get(old) {
            v1.insert(new.to_owned(), value.clone());
        }
    }
    if let Some(description) = card.get("description") {
        v1.insert("description".into(), description.clone());
    }
    v1
}

/// The fields of a card's `data` (V2/V3) or of a flat V1 card; `keep_unknown` keeps V3's other
/// fields for export (a V1 file's other fields are an app's leftovers, not the card's).
fn read_data(mut data: Map<String, Value>, keep_unknown: bool) -> Result<CardFields, CardError> {
    let text = |data: &mut Map<String, Value>, field: &str| -> Result<String, CardError> {
        match data.remove(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(text)) => Ok(text),
            Some(_) => Err(CardError::Invalid(format!("`{field}` is not text"))),
        }
    };
    let name = text(&mut data, "name")?;
    if name.trim().is_empty() {
        return Err(CardError::Invalid("the card has no name".into()));
    }
    let mut extensions: BTreeMap<String, Value> = typed(&mut data, "extensions")?.unwrap_or_default();
    let troupe = extensions.remove(TROUPE).unwrap_or(Value::Null);
    let input = CharacterInput {
        name,
        description: text(&mut data, "description")?,
        personality: text(&mut data, "personality")?,
        scenario: text(&mut data, "scenario")?,
        system_prompt: text(&mut data, "system_prompt")?,
        greeting: text(&mut data, "first_mes")?,
        example_dialogue: text(&mut data, "mes_example")?,
        avatar_url: troupe.get("avatar_url").and_then(Value::as_str).map(str::to_owned),
        tags: typed(&mut data, "tags")?.unwrap_or_default(),
        visibility: Default::default(),
        model: troupe.get("model").and_then(Value::as_str).map(str::to_owned),
        alternate_greetings: Some(typed(&mut data, "alternate_greetings")?.unwrap_or_default()),
        post_history_instructions: Some(text(&mut data, "post_history_instructions")?),
        creator_notes: Some(text(&mut data, "creator_notes")?),
        creator: Some(text(&mut data, "creator")?),
        character_version: Some(text(&mut data, "character_version")?),
        extensions: Some(extensions),
        character_book: Some({
            if let Some(book) = data.get_mut("character_book") {
                settle(book);
            }
            typed::<Lorebook>(&mut data, "character_book")?
        }),
    };
    for field in MODELLED {
        data.remove(*field);
    }
    // V3 requires the list; an empty one is what every export writes anyway.
    if data.get("group_only_greetings").and_then(Value::as_array).is_some_and(Vec::is_empty) {
        data.remove("group_only_greetings");
    }
    let extra = if keep_unknown { data.into_iter().collect() } else { BTreeMap::new() };
    Ok(CardFields { input, extra })
}

/// Field `field` as a `T`, `None` when absent or null.
fn typed<T: DeserializeOwned>(data: &mut Map<String, Value>, field: &str) -> Result<Option<T>, CardError> {
    match data.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| CardError::Invalid(format!("`{field}` is not what the card spec says: {e}"))),
    }
}

/// The character as a Character Card V3.
pub fn v3(character: &Character) -> Value {
    let mut data = common_fields(character, character.fields.card.character_book.clone());
    for (field, value) in &character.fields.card.extra {
        data.entry(field.clone()).or_insert_with(|| value.clone());
    }
    data.entry("group_only_greetings").or_insert_with(|| json!([]));
    json!({"spec": "chara_card_v3", "spec_version": "3.0", "data": data})
}

/// The character as a Character Card V2, for applications that read only `chara`: V3's
/// lorebook decorators (`@@…` lines) are left out and the notes say a V3 card is beside it,
/// as the V3 spec asks.
pub fn v2(character: &Character) -> Value {
    let book = character.fields.card.character_book.clone().map(|mut book| {
        for entry in &mut book.entries {
            entry.content = entry.content.lines().filter(|l| !l.starts_with("@@")).collect::<Vec<_>>().join("\n");
        }
        book
    });
    let mut data = common_fields(character, book);
    let notes = data.get("creator_notes").and_then(Value::as_str).unwrap_or_default();
    let warning = "This character card is Character Card V3, but it is loaded as a Character Card V2. \
                   Please use a Character Card V3 compatible application to use this character card properly.";
    let notes = if notes.is_empty() { warning.to_owned() } else { format!("{notes}\n\n{warning}") };
    data.insert("creator_notes".into(), Value::String(notes));
    json!({"spec": "chara_card_v2", "spec_version": "2.0", "data": data})
}

fn common_fields(character: &Character, book: Option<Lorebook>) -> Map<String, Value> {
    let f = &character.fields;
    let mut extensions = f.card.extensions.clone();
    let troupe: Map<String, Value> = [("model", f.model.clone()), ("avatar_url", f.avatar_url.clone())]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), Value::String(v))))
        .collect();
    if !troupe.is_empty() {
        extensions.insert(TROUPE.into(), Value::Object(troupe));
    }
    let mut data = json!({
        "name": f.name,
        "description": f.description,
        "personality": f.personality,
        "scenario": f.scenario,
        "first_mes": f.greeting,
        "mes_example": f.example_dialogue,
        "system_prompt": f.system_prompt,
        "post_history_instructions": f.card.post_history_instructions,
        "alternate_greetings": f.card.alternate_greetings,
        "tags": f.tags,
        "creator": f.card.creator,
        "character_version": f.card.character_version,
        "creator_notes": f.card.creator_notes,
        "extensions": extensions,
    });
    let data = data.as_object_mut().expect("an object");
    if let Some(book) = book {
        data.insert("character_book".into(), serde_json::to_value(book).expect("plain data"));
    }
    std::mem::take(data)
}
