//! SillyTavern's chat file (JSONL): a header line `{user_name, character_name, create_date,
//! chat_metadata}`, then one line per message `{name, is_user, is_system, send_date, mes,
//! swipes, swipe_id, swipe_info, extra}`. Swipes are a message's alternatives.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use troupe_types::Role;

use super::{ImportError, Names, line_error};
use crate::{
    clock::Millis,
    domain::{Alternative, TranscriptMessage},
};

/// ST's own formats: `create_date` ("2026-11-25@17h20m13s") and `send_date`
/// ("November 25, 2026 5:20pm"), both written in UTC here.
const CREATE_DATE: &str = "%Y-%m-%d@%Hh%Mm%Ss";
const SEND_DATE: &str = "%B %-d, %Y %-I:%M%P";

#[derive(Serialize)]
struct Header<'a> {
    user_name: &'a str,
    character_name: &'a str,
    create_date: String,
    chat_metadata: Value,
}

#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(default)]
    name: String,
    #[serde(default)]
    is_user: bool,
    #[serde(default)]
    is_system: bool,
    #[serde(default)]
    send_date: Option<Value>,
    mes: String,
    #[serde(default)]
    swipes: Option<Vec<String>>,
    #[serde(default)]
    swipe_id: Option<usize>,
    #[serde(default)]
    swipe_info: Option<Vec<Value>>,
    #[serde(default)]
    extra: Option<Value>,
}

pub fn write(names: &Names, created_at: Millis, messages: &[TranscriptMessage]) -> String {
    let header = Header {
        user_name: &names.user,
        character_name: &names.character,
        create_date: format_time(created_at, CREATE_DATE),
        chat_metadata: json!({}),
    };
    let mut out = serde_json::to_string(&header).expect("headers serialise");
    for message in messages {
        let shown = message.shown();
        let is_user = message.role == Role::User;
        let extra = match &shown.model {
            Some(model) if !is_user => json!({ "model": model }),
            _ => json!({}),
        };
        let swipe_info = message
            .alternatives
            .iter()
            .map(|a| json!({ "send_date": format_time(a.created_at, SEND_DATE), "extra": {} }))
            .collect();
        let line = Line {
            name: if is_user { names.user.clone() } else { names.character.clone() },
            is_user,
            is_system: false,
            send_date: Some(Value::String(format_time(message.created_at, SEND_DATE))),
            mes: shown.content.clone(),
            swipes: Some(message.alternatives.iter().map(|a| a.content.clone()).collect()),
            swipe_id: Some(message.selected),
            swipe_info: Some(swipe_info),
            extra: Some(extra),
        };
        out.push('\n');
        out.push_str(&serde_json::to_string(&line).expect("lines serialise"));
    }
    out.push('\n');
    out
}

/// The messages of a SillyTavern chat file (the header line is optional); a line that is not
/// a message is an error naming it (1-based).
pub fn read(text: &str, now: Millis) -> Result<Vec<TranscriptMessage>, ImportError> {
    let mut messages = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(raw).map_err(|e| line_error(number, &e.to_string()))?;
        if number == 1 && value.get("mes").is_none() {
            // The header: who and when, nothing to store.
            continue;
        }
        let line: Line = serde_json::from_value(value).map_err(|e| line_error(number, &e.to_string()))?;
        messages.push(message(line, now).map_err(|why| line_error(number, why))?);
    }
    Ok(messages)
}

fn message(line: Line, now: Millis) -> Result<TranscriptMessage, &'static str> {
    let created_at = line.send_date.as_ref().and_then(parse_time).unwrap_or(now);
    let mut swipes = line.swipes.filter(|s| !s.is_empty()).unwrap_or_else(|| vec![line.mes.clone()]);
    let selected = line.swipe_id.unwrap_or(0);
    if selected >= swipes.len() {
        return Err("swipe_id points past the swipes");
    }
    // `mes` is what SillyTavern shows: it wins over a stale copy in `swipes`.
    swipes[selected] = line.mes;
    let role = if line.is_user { Role::User } else { Role::Assistant };
    let alternatives = swipes.into_iter().map(|content| Alternative::uncharged(content, 0, created_at)).collect();
    Ok(TranscriptMessage { role, created_at, edited_at: None, alternatives, selected })
}

fn format_time(at: Millis, format: &str) -> String {
    DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default().format(format).to_string()
}

/// A `send_date` as SillyTavern versions have written it: epoch milliseconds, RFC 3339 / ISO
/// 8601, or "November 25, 2026 5:20pm" (taken as UTC). `None` when it is none of these.
fn parse_time(value: &Value) -> Option<Millis> {
    if let Some(millis) = value.as_i64() {
        return Some(millis);
    }
    let text = value.as_str()?.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    ["%B %d, %Y %I:%M%P", "%B %d, %Y %I:%M %p", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", CREATE_DATE]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|naive| Utc.from_utc_datetime(&naive).timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_dates_in_every_known_form() {
        let at = |s: &str| parse_time(&Value::String(s.into()));
        let expected = Some(1_795_627_200_000); // 2026-11-25T17:20:00Z
        assert_eq!(at("2026-11-25T17:20:00Z"), expected);
        assert_eq!(at("November 25, 2026 5:20pm"), expected);
        assert_eq!(at("November 25, 2026 5:20 PM"), expected);
        assert_eq!(at("2026-11-25@17h20m00s"), expected);
        assert_eq!(parse_time(&json!(1_795_627_200_000_i64)), expected);
        assert_eq!(at("sometime"), None);
        assert_eq!(format_time(1_795_627_200_000, SEND_DATE), "November 25, 2026 5:20pm");
    }
}
