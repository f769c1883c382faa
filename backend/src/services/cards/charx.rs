//! CHARX: a zip holding the V3 card as `card.json` and its assets, the picture among them
//! (`embeded://` URIs, so spelt by the spec). Only what is needed is read, within limits: the
//! card and one icon, never more than their caps however the archive says it is made.

use std::io::{Cursor, Read};

use serde_json::Value;

use super::CardError;

pub const SIGNATURE: &[u8] = b"PK\x03\x04";
const MAX_ENTRIES: usize = 10_000;
const MAX_CARD_BYTES: u64 = 16 << 20;
const MAX_ICON_BYTES: u64 = 5 << 20;

/// The card JSON of a CHARX, and the bytes of its main icon when it has one inside.
pub fn read(bytes: &[u8]) -> Result<(Value, Option<Vec<u8>>), CardError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| CardError::Invalid(format!("the CHARX is not a readable zip: {e}")))?;
    if zip.len() > MAX_ENTRIES {
        return Err(CardError::Invalid(format!("the CHARX holds more than {MAX_ENTRIES} files")));
    }
    let card = match entry(&mut zip, "card.json", MAX_CARD_BYTES)? {
        Some(json) => serde_json::from_slice::<Value>(&json)
            .map_err(|e| CardError::Invalid(format!("card.json is not JSON: {e}")))?,
        None => return Err(CardError::NotACard("a zip without card.json".into())),
    };
    let icon = match icon_path(&card)? {
        Some(path) => Some(
            entry(&mut zip, &path, MAX_ICON_BYTES)?
                .ok_or_else(|| CardError::Invalid(format!("the icon `{path}` is not in the CHARX")))?,
        ),
        None => None,
    };
    Ok((card, icon))
}

/// The path inside the zip of the card's main icon (`type: icon`, the one named `main` if there
/// are several), when it is embedded. A path that would leave the archive is refused.
fn icon_path(card: &Value) -> Result<Option<String>, CardError> {
    let Some(assets) = card.pointer("/data/assets").and_then(Value::as_array) else { return Ok(None) };
    let icons: Vec<&Value> = assets.iter().filter(|a| a["type"] == "icon").collect();
    let main = icons.iter().find(|a| a["name"] == "main").or(icons.first());
    let Some(path) = main.and_then(|a| a["uri"].as_str()).and_then(|uri| uri.strip_prefix("embeded://")) else {
        return Ok(None);
    };
    if path.starts_with('/') || path.contains('\\') || path.split('/').any(|part| part == ".." || part.is_empty()) {
        return Err(CardError::Invalid(format!("the icon's path `{path}` leaves the archive")));
    }
    Ok(Some(path.to_owned()))
}

/// The bytes of `name`, at most `limit` of them (more is an error, found without inflating
/// past the limit); `None` when the zip has no such file.
fn entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str, limit: u64) -> Result<Option<Vec<u8>>, CardError> {
    let file = match zip.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(CardError::Invalid(format!("`{name}` cannot be read: {e}"))),
    };
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CardError::Invalid(format!("`{name}` cannot be read: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(CardError::Invalid(format!("`{name}` is larger than {limit} bytes")));
    }
    Ok(Some(bytes))
}
