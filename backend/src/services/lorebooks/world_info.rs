//! Lorebook files as other tools write them: SillyTavern's world info (`{entries: {"0": {key,
//! keysecondary, content, constant, selective, order, position, disable, …}}}`), Character Card
//! V3's `{spec: "lorebook_v3", data}`, or a bare `character_book`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use troupe_types::{EntryPosition, Lorebook, LorebookEntry, rules::RuleViolation};

/// The lorebook in `bytes`, `name` when the file names none.
pub fn read(bytes: &[u8], name: Option<String>) -> Result<Lorebook, RuleViolation> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON: {e}")))?;
    let Value::Object(mut file) = value else {
        return Err(invalid("expected a JSON object".into()));
    };
    let mut book = if file.get("spec").and_then(Value::as_str) == Some("lorebook_v3") {
        let mut data = file.remove("data").unwrap_or_default();
        settle(&mut data);
        typed(data)?
    } else if let Some(Value::Object(entries)) = file.get("entries") {
        let entries = entries.values().cloned().map(world_info_entry).collect::<Result<Vec<_>, _>>()?;
        let mut book = Lorebook { entries, ..Lorebook::default() };
        book.name = file.get("name").and_then(Value::as_str).map(str::to_owned);
        book.description = file.get("description").and_then(Value::as_str).map(str::to_owned);
        book
    } else if file.get("entries").is_some_and(Value::is_array) {
        let mut book = Value::Object(file);
        settle(&mut book);
        typed(book)?
    } else {
        return Err(invalid("no lorebook in it (expected world info `entries` or `lorebook_v3`)".into()));
    };
    if book.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        book.name = name;
    }
    Ok(book)
}

/// Reads `book` (a `character_book` as JSON) the way cards in the wild write it: numbers as
/// decimals or text, positions as `0` (before the character) and `1` (after). Positions Troupe
/// does not have (tools have more places) move into the entry's `extensions`, kept but not
/// applied. What still does not fit is then refused by the strict types.
pub fn settle(book: &mut Value) {
    let Some(book) = book.as_object_mut() else { return };
    for field in ["scan_depth", "token_budget"] {
        settle_number(book, field);
    }
    let Some(entries) = book.get_mut("entries").and_then(Value::as_array_mut) else { return };
    for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
        for field in ["insertion_order", "priority"] {
            settle_number(entry, field);
        }
        let Some(position) = entry.get("position").filter(|p| !p.is_null()) else { continue };
        if let Some(known) = EntryPosition::from_card(position) {
            entry.insert("position".into(), serde_json::to_value(known).expect("an enum serialises"));
            continue;
        }
        let position = entry.remove("position").expect("just seen");
        if let Some(extensions) = entry.entry("extensions").or_insert_with(|| Value::Object(Map::new())).as_object_mut()
        {
            extensions.entry("position").or_insert(position);
        }
    }
}

/// `10.0` and `"10"` become `10`; a blank text or null becomes absent.
fn settle_number(fields: &mut Map<String, Value>, name: &str) {
    let settled = match fields.get(name) {
        Some(Value::Number(n)) if !n.is_i64() => n.as_f64().map(|f| Value::from(f as i64)),
        Some(Value::String(s)) if s.trim().is_empty() => Some(Value::Null),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok().map(|f| Value::from(f as i64)),
        Some(Value::Null) => Some(Value::Null),
        _ => None,
    };
    match settled {
        Some(Value::Null) => drop(fields.remove(name)),
        Some(value) => drop(fields.insert(name.into(), value)),
        None => {}
    }
}

fn invalid(message: String) -> RuleViolation {
    RuleViolation::new("file", "invalid_lorebook", message)
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, RuleViolation> {
    serde_json::from_value(value).map_err(|e| invalid(format!("not a lorebook: {e}")))
}

/// One SillyTavern entry; what has no place in the card's shape stays in `extensions` (as
/// SillyTavern itself does when it writes a card).
fn world_info_entry(value: Value) -> Result<LorebookEntry, RuleViolation> {
    let Value::Object(mut fields) = value else {
        return Err(invalid("an entry is not an object".into()));
    };
    let mut field = |name: &str| take(&mut fields, name);
    let mut entry = LorebookEntry {
        id: field("uid"),
        keys: typed(field("key").unwrap_or_else(|| Value::Array(vec![])))?,
        secondary_keys: field("keysecondary").map(typed).transpose()?,
        content: typed(field("content").unwrap_or_else(|| Value::String(String::new())))?,
        enabled: !field("disable").and_then(|v| v.as_bool()).unwrap_or(false),
        constant: field("constant").and_then(|v| v.as_bool()),
        selective: field("selective").and_then(|v| v.as_bool()),
        case_sensitive: field("caseSensitive").and_then(|v| v.as_bool()),
        comment: field("comment").and_then(|v| v.as_str().map(str::to_owned)),
        ..LorebookEntry::default()
    };
    // Order, priority and position as the card shape reads them; SillyTavern's own position
    // (it has more places than before/after the character) stays in extensions as well.
    let mut shaped = Map::new();
    for (from, to) in [("order", "insertion_order"), ("priority", "priority")] {
        if let Some(v) = take(&mut fields, from) {
            shaped.insert(to.into(), v);
        }
    }
    if let Some(position) = fields.get("position").filter(|p| EntryPosition::from_card(p).is_some()) {
        shaped.insert("position".into(), position.clone());
    }
    let mut book = json!({"entries": [shaped]});
    settle(&mut book);
    let numbers: Lorebook = typed(book)?;
    let numbers = &numbers.entries[0];
    (entry.insertion_order, entry.priority, entry.position) =
        (numbers.insertion_order, numbers.priority, numbers.position);
    entry.extensions = fields.into_iter().collect::<BTreeMap<_, _>>();
    Ok(entry)
}

/// Field `name`, unless absent or null.
fn take(fields: &mut Map<String, Value>, name: &str) -> Option<Value> {
    fields.remove(name).filter(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sillytavern_world_info_maps_to_the_card_shape() {
        let file = br#"{"entries": {"0": {"uid": 0, "key": ["dragon"], "keysecondary": ["red"],
            "content": "Dragons hoard gold.", "constant": false, "selective": true, "order": 100,
            "position": 1, "disable": false, "comment": "Dragons", "probability": 100, "depth": 4},
            "1": {"uid": 1, "key": [], "content": "Always.", "constant": true, "disable": true,
            "order": "5", "position": 4}}}"#;
        let book = read(file, Some("World".into())).unwrap();
        assert_eq!(book.name.as_deref(), Some("World"));
        let dragon = book.entries.iter().find(|e| e.comment.as_deref() == Some("Dragons")).unwrap();
        assert_eq!(dragon.keys, ["dragon"]);
        assert_eq!(dragon.secondary_keys.as_deref(), Some(&["red".to_owned()][..]));
        assert_eq!(
            (dragon.insertion_order, dragon.position, dragon.selective),
            (100, Some(EntryPosition::AfterChar), Some(true))
        );
        assert_eq!(dragon.extensions["probability"], 100);
        let always = book.entries.iter().find(|e| e.constant == Some(true)).unwrap();
        assert!(!always.enabled);
        assert_eq!((always.insertion_order, always.position), (5, None));
        assert_eq!(always.extensions["position"], 4);
    }

    #[test]
    fn numbers_and_positions_as_cards_write_them() {
        let mut book = json!({"scan_depth": "3", "token_budget": 500.0, "entries": [
            {"keys": ["k"], "insertion_order": 10.0, "priority": "5", "position": 1},
            {"keys": ["k"], "insertion_order": " ", "position": "before_char"}]});
        settle(&mut book);
        let book: Lorebook = serde_json::from_value(book).unwrap();
        assert_eq!((book.scan_depth, book.token_budget), (Some(3), Some(500)));
        let first = &book.entries[0];
        assert_eq!(
            (first.insertion_order, first.priority, first.position),
            (10, Some(5), Some(EntryPosition::AfterChar))
        );
        assert_eq!((book.entries[1].insertion_order, book.entries[1].position), (0, Some(EntryPosition::BeforeChar)));
    }

    #[test]
    fn positions_cards_do_not_know_move_to_extensions() {
        let bare = br#"{"entries": [{"keys": ["k"], "content": "c", "position": "at_depth"}, {"position": 1}]}"#;
        let book = read(bare, None).unwrap();
        assert_eq!((book.entries[0].position, &book.entries[0].extensions["position"]), (None, &json!("at_depth")));
        assert_eq!(book.entries[1].position, Some(EntryPosition::AfterChar));
    }

    #[test]
    fn v3_lorebooks_and_bare_books_read_and_others_are_refused() {
        let v3 = br#"{"spec": "lorebook_v3", "data": {"name": "V3", "entries": [{"keys": ["k"], "content": "c",
            "enabled": true, "insertion_order": 0, "use_regex": false, "extensions": {}}]}}"#;
        assert_eq!(read(v3, None).unwrap().name.as_deref(), Some("V3"));
        let bare = br#"{"entries": [{"keys": ["k"], "content": "c"}]}"#;
        assert_eq!(read(bare, Some("file".into())).unwrap().name.as_deref(), Some("file"));
        assert_eq!(read(b"[1]", None).unwrap_err().code, "invalid_lorebook");
        assert_eq!(read(br#"{"name": "x"}"#, None).unwrap_err().code, "invalid_lorebook");
    }
}
