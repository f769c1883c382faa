//! Troupe's own chat file: one JSON document holding every field of every message and
//! alternative, so an export imports back to the same chat.

use serde::{Deserialize, Serialize};
use troupe_types::{MessageStatus, Role, UsageSource};

use super::{ImportError, Names, line_error};
use crate::{
    clock::{Millis, rfc3339},
    domain::{Alternative, TokenUsage, TranscriptMessage},
};

/// What the `format` field holds: how an import tells this file from a SillyTavern one.
pub const FORMAT: &str = "troupe-chat";
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct File {
    format: String,
    version: u32,
    title: String,
    user_name: String,
    character_name: String,
    model: String,
    created_at: String,
    messages: Vec<FileMessage>,
}

#[derive(Serialize, Deserialize)]
struct FileMessage {
    role: Role,
    created_at: String,
    #[serde(default)]
    edited_at: Option<String>,
    /// Which alternative is shown.
    #[serde(default)]
    selected: usize,
    alternatives: Vec<FileAlternative>,
}

#[derive(Serialize, Deserialize)]
struct FileAlternative {
    content: String,
    #[serde(default = "complete")]
    status: MessageStatus,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    prompt_tokens: i64,
    #[serde(default)]
    completion_tokens: i64,
    #[serde(default)]
    usage_source: Option<UsageSource>,
    created_at: String,
}

fn complete() -> MessageStatus {
    MessageStatus::Complete
}

/// The chat as Troupe's file: `title` and `model` are the chat's.
pub fn write(names: &Names, title: &str, model: &str, created_at: Millis, messages: &[TranscriptMessage]) -> String {
    let file = File {
        format: FORMAT.into(),
        version: VERSION,
        title: title.into(),
        user_name: names.user.clone(),
        character_name: names.character.clone(),
        model: model.into(),
        created_at: rfc3339(created_at),
        messages: messages
            .iter()
            .map(|m| FileMessage {
                role: m.role,
                created_at: rfc3339(m.created_at),
                edited_at: m.edited_at.map(rfc3339),
                selected: m.selected,
                alternatives: m
                    .alternatives
                    .iter()
                    .map(|a| FileAlternative {
                        content: a.content.clone(),
                        status: a.status,
                        model: a.model.clone(),
                        prompt_tokens: a.usage.prompt_tokens,
                        completion_tokens: a.usage.completion_tokens,
                        usage_source: a.usage_source,
                        created_at: rfc3339(a.created_at),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&file).expect("chat files serialise") + "\n"
}

/// The messages of a Troupe chat file; what was charged stays in the file's numbers but is
/// charged to no one (see `uncharged`). An error names the line it was found on.
pub fn read(text: &str, now: Millis) -> Result<Vec<TranscriptMessage>, ImportError> {
    let file: File = serde_json::from_str(text).map_err(|e| line_error(e.line(), &e.to_string()))?;
    if file.version != VERSION {
        return Err(line_error(1, &format!("version {} of the format is not known here", file.version)));
    }
    let time = |text: &str| chrono::DateTime::parse_from_rfc3339(text).map_or(now, |t| t.timestamp_millis());
    file.messages
        .into_iter()
        .map(|m| {
            if m.alternatives.is_empty() || m.selected >= m.alternatives.len() {
                return Err(line_error(1, "a message needs alternatives, and `selected` among them"));
            }
            let alternatives = m
                .alternatives
                .into_iter()
                .map(|a| Alternative {
                    content: a.content,
                    status: a.status,
                    model: a.model,
                    usage: TokenUsage { prompt_tokens: a.prompt_tokens, completion_tokens: a.completion_tokens },
                    usage_source: a.usage_source,
                    token_count: 0,
                    created_at: time(&a.created_at),
                })
                .collect();
            Ok(TranscriptMessage {
                role: m.role,
                created_at: time(&m.created_at),
                edited_at: m.edited_at.as_deref().map(time),
                alternatives,
                selected: m.selected,
            })
        })
        .collect()
}
