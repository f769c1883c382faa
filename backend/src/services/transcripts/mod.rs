//! Chat transcripts in and out: a chat exported as SillyTavern JSONL (so a SillyTavern user can
//! load it), as Troupe JSON (every field, so it imports back the same) or as text; and either
//! of the first two read back into a new chat.

mod sillytavern;
mod troupe;

use crate::{
    clock::Millis,
    domain::{Chat, TranscriptFormat, TranscriptMessage},
};

/// The largest chat file an import takes.
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;
/// The most messages an import takes; a longer file is refused before it is read.
pub const MAX_IMPORT_MESSAGES: usize = 20_000;

/// Who speaks in a transcript.
pub struct Names {
    pub user: String,
    pub character: String,
}

/// A chat written out as a file.
pub struct Exported {
    pub format: TranscriptFormat,
    pub file_name: String,
    pub body: String,
}

/// Why a chat file cannot be imported: where, and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based.
    pub line: usize,
    pub message: String,
}

fn line_error(line: usize, why: &str) -> ImportError {
    ImportError { line: line.max(1), message: why.to_owned() }
}

pub fn export(format: TranscriptFormat, names: &Names, chat: &Chat, messages: &[TranscriptMessage]) -> Exported {
    let body = match format {
        TranscriptFormat::Jsonl => sillytavern::write(names, chat.created_at, messages),
        TranscriptFormat::Json => troupe::write(names, &chat.title, &chat.model, chat.created_at, messages),
        TranscriptFormat::Txt => text(names, messages),
    };
    Exported { format, file_name: format!("troupe-chat-{}.{}", chat.id, format.extension()), body }
}

/// `Name: text` blocks, one per message (its shown alternative), a blank line apart.
fn text(names: &Names, messages: &[TranscriptMessage]) -> String {
    messages
        .iter()
        .map(|m| {
            let name = if m.role == troupe_types::Role::User { &names.user } else { &names.character };
            format!("{name}: {}\n", m.shown().content)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The messages of a chat file: Troupe JSON when it is one (its `format` says so), else
/// SillyTavern JSONL. A file of more than `MAX_IMPORT_MESSAGES` lines is refused before any of
/// it is parsed. Times that do not parse become `now`.
pub fn read(bytes: &[u8], now: Millis) -> Result<Vec<TranscriptMessage>, ImportError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        line_error(line, "the file is not UTF-8 text")
    })?;
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    if lines > MAX_IMPORT_MESSAGES + 1 {
        return Err(line_error(
            MAX_IMPORT_MESSAGES + 2,
            &format!("a chat file holds at most {MAX_IMPORT_MESSAGES} messages"),
        ));
    }
    let messages = if is_troupe_file(text) { troupe::read(text, now)? } else { sillytavern::read(text, now)? };
    if messages.is_empty() {
        return Err(line_error(1, "the file holds no messages"));
    }
    if messages.len() > MAX_IMPORT_MESSAGES {
        return Err(line_error(1, &format!("a chat file holds at most {MAX_IMPORT_MESSAGES} messages")));
    }
    Ok(messages)
}

/// Troupe's file is one JSON document whose `format` names it; SillyTavern's first line is a
/// JSON object of its own (its header).
fn is_troupe_file(text: &str) -> bool {
    let first = text.lines().next().unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(first) {
        Ok(value) => value.get("format").and_then(|f| f.as_str()) == Some(troupe::FORMAT),
        // Not a whole line of JSON: a document spread over lines, which only Troupe writes.
        Err(_) => first.trim_start().starts_with('{'),
    }
}

#[cfg(test)]
mod tests {
    use troupe_types::{MessageStatus, Role};

    use super::*;
    use crate::domain::{Alternative, ChatId, TokenUsage};

    fn chat() -> Chat {
        Chat {
            id: ChatId::new(7),
            user_id: crate::domain::UserId::new(1),
            character_id: crate::domain::CharacterId::new(2),
            character_name: "Aria".into(),
            title: "Aria".into(),
            model: "demo".into(),
            dify_conversation_id: None,
            message_count: 2,
            created_at: 1_795_627_200_000,
            last_message_at: 1_795_627_200_000,
            persona_id: None,
            lorebook_ids: vec![],
        }
    }

    fn messages() -> Vec<TranscriptMessage> {
        let reply = |content: &str| Alternative {
            content: content.into(),
            status: MessageStatus::Complete,
            model: Some("demo".into()),
            usage: TokenUsage { prompt_tokens: 10, completion_tokens: 3 },
            usage_source: None,
            token_count: 3,
            created_at: 1_795_627_260_000,
        };
        vec![
            TranscriptMessage {
                role: Role::User,
                created_at: 1_795_627_200_000,
                edited_at: None,
                alternatives: vec![Alternative::uncharged("Hello *there*".into(), 3, 1_795_627_200_000)],
                selected: 0,
            },
            TranscriptMessage {
                role: Role::Assistant,
                created_at: 1_795_627_260_000,
                edited_at: Some(1_795_627_300_000),
                alternatives: vec![reply("First"), reply("Second \"quoted\"\nline")],
                selected: 1,
            },
        ]
    }

    fn names() -> Names {
        Names { user: "bob".into(), character: "Aria".into() }
    }

    /// What survives any format: roles, texts, alternatives and the selection.
    fn shape(messages: &[TranscriptMessage]) -> Vec<(Role, Vec<String>, usize)> {
        messages
            .iter()
            .map(|m| (m.role, m.alternatives.iter().map(|a| a.content.clone()).collect(), m.selected))
            .collect()
    }

    #[test]
    fn both_files_read_back_what_was_written() {
        for format in [TranscriptFormat::Jsonl, TranscriptFormat::Json] {
            let exported = export(format, &names(), &chat(), &messages());
            let read = read(exported.body.as_bytes(), 0).unwrap();
            assert_eq!(shape(&read), shape(&messages()), "{format:?}");
            assert_eq!(read[1].created_at, 1_795_627_260_000, "{format:?} keeps times");
        }
        let lossless = read(export(TranscriptFormat::Json, &names(), &chat(), &messages()).body.as_bytes(), 0).unwrap();
        assert_eq!(lossless[1].edited_at, Some(1_795_627_300_000));
        assert_eq!(lossless[1].alternatives[0].usage.prompt_tokens, 10);
    }

    #[test]
    fn sillytavern_lines_follow_the_format() {
        let exported = export(TranscriptFormat::Jsonl, &names(), &chat(), &messages());
        let lines: Vec<serde_json::Value> = exported.body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines[0]["user_name"], "bob");
        assert_eq!(lines[0]["character_name"], "Aria");
        assert!(lines[0]["chat_metadata"].is_object());
        assert_eq!(lines[1]["is_user"], true);
        assert_eq!(lines[2]["swipes"].as_array().unwrap().len(), 2);
        assert_eq!(lines[2]["mes"], lines[2]["swipes"][lines[2]["swipe_id"].as_u64().unwrap() as usize]);
        assert_eq!(lines[2]["send_date"], "November 25, 2026 5:21pm");
    }

    #[test]
    fn text_is_name_and_words() {
        let exported = export(TranscriptFormat::Txt, &names(), &chat(), &messages());
        assert_eq!(exported.body, "bob: Hello *there*\n\nAria: Second \"quoted\"\nline\n");
    }

    #[test]
    fn malformed_files_name_their_line() {
        let file = "{\"user_name\":\"bob\"}\n{\"mes\":\"hi\",\"is_user\":true}\nnot json\n";
        assert_eq!(read(file.as_bytes(), 0).unwrap_err().line, 3);
        let missing = "{\"user_name\":\"bob\"}\n{\"is_user\":true}\n";
        assert_eq!(read(missing.as_bytes(), 0).unwrap_err().line, 2);
        let past = "{\"mes\":\"hi\",\"swipes\":[\"hi\"],\"swipe_id\":3}\n";
        assert_eq!(read(past.as_bytes(), 0).unwrap_err().line, 1);
        assert_eq!(read(b"", 0).unwrap_err().line, 1);
        let flood = "{\"mes\":\"x\"}\n".repeat(MAX_IMPORT_MESSAGES + 5);
        assert_eq!(read(flood.as_bytes(), 0).unwrap_err().line, MAX_IMPORT_MESSAGES + 2);
    }

    #[test]
    fn unknown_send_dates_become_the_import_time() {
        let file = "{\"mes\":\"hi\",\"is_user\":true,\"send_date\":\"at teatime\"}\n";
        assert_eq!(read(file.as_bytes(), 42).unwrap()[0].created_at, 42);
    }
}
