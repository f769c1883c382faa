//! Input rules shared by the server (which enforces them) and the web app (which shows them
//! as the user types), so the two can never disagree.

/// A broken rule: which field, a stable code and a sentence for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleViolation {
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl RuleViolation {
    pub fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self { field, code, message: message.into() }
    }
}

pub const USERNAME_MIN_CHARS: usize = 3;
pub const USERNAME_MAX_CHARS: usize = 32;
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const EMAIL_MAX_CHARS: usize = 254;

/// 3–32 characters of `[A-Za-z0-9_]`.
pub fn check_username(username: &str) -> Result<(), RuleViolation> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !username.chars().all(allowed) {
        return Err(RuleViolation::new(
            "username",
            "invalid_username",
            "username may contain only letters A-Z, digits and underscores",
        ));
    }
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&username.len()) {
        return Err(RuleViolation::new(
            "username",
            "invalid_username",
            format!("username must be {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters long"),
        ));
    }
    Ok(())
}

/// 8–128 characters with at least one letter and one digit.
pub fn check_password(password: &str) -> Result<(), RuleViolation> {
    let chars = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(RuleViolation::new(
            "password",
            "weak_password",
            format!("password must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long"),
        ));
    }
    if !password.chars().any(char::is_alphabetic) || !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(RuleViolation::new(
            "password",
            "weak_password",
            "password must contain at least one letter and one digit",
        ));
    }
    Ok(())
}

/// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces.
/// Deliverability is not our business; typos like `bob@localhost` or `bob@@x.org` are.
pub fn check_email(email: &str) -> Result<(), RuleViolation> {
    let invalid = || RuleViolation::new("email", "invalid_email", "email is not a valid address");
    if email.chars().count() > EMAIL_MAX_CHARS || email.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok =
        !domain.contains('@') && domain.split('.').count() >= 2 && domain.split('.').all(|label| !label.is_empty());
    if local.is_empty() || !domain_ok {
        return Err(invalid());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["abc", "Alice_99", &"a".repeat(32)] {
            assert_eq!(check_username(ok), Ok(()), "{ok}");
        }
        for bad in ["ab", &"a".repeat(33), "with space", "한국어", "dash-ed", ""] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert_eq!(check_password("abcdefg1"), Ok(()));
        assert_eq!(check_password("비밀번호비밀번호1"), Ok(()));
        for bad in ["abcdefgh", "12345678", "abc1", &format!("a1{}", "x".repeat(127))] {
            assert!(check_password(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(check_email("bob@example.org"), Ok(()));
        for bad in ["bob", "bob@", "@x.org", "bob@localhost", "bob@@x.org", "b ob@x.org", "bob@x..org"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}

pub const CHARACTER_NAME_MAX_CHARS: usize = 128;
/// Every other text of a character (what real cards need), and a persona's description.
pub const CHARACTER_TEXT_MAX_CHARS: usize = 32_000;
pub const MAX_ALTERNATE_GREETINGS: usize = 100;
pub const LOREBOOK_MAX_ENTRIES: usize = 2_000;
pub const LOREBOOK_ENTRY_MAX_CHARS: usize = 16_000;
/// Keys (and secondary keys) of one entry.
pub const LOREBOOK_MAX_KEYS: usize = 100;
pub const LOREBOOK_KEY_MAX_CHARS: usize = 200;
/// Standalone lorebooks one chat may use.
pub const MAX_CHAT_LOREBOOKS: usize = 20;
pub const PERSONA_NAME_MAX_CHARS: usize = 64;
pub const AVATAR_URL_MAX_CHARS: usize = 2000;
pub const TAG_MAX_CHARS: usize = 64;
pub const MAX_TAGS: usize = 50;
pub const PROMPT_NAME_MAX_CHARS: usize = 64;
pub const PROMPT_CONTENT_MAX_CHARS: usize = 8000;
pub const CHAT_TITLE_MAX_CHARS: usize = 100;
/// An assistant message edited by hand.
pub const EDITED_REPLY_MAX_CHARS: usize = 8000;
pub const ANNOUNCEMENT_MAX_CHARS: usize = 500;
/// How long an announcement stays active when its author does not say.
pub const ANNOUNCEMENT_DEFAULT_HOURS: i64 = 24;
pub const ANNOUNCEMENT_MAX_HOURS: i64 = 720;
/// The default of `MAX_MESSAGE_CHARS`.
pub const DEFAULT_MAX_MESSAGE_CHARS: usize = 200;

/// A text field of at most `max` characters (Unicode scalar values, not bytes); `required`
/// also refuses blank text.
pub fn check_text(field: &'static str, value: &str, max: usize, required: bool) -> Result<(), RuleViolation> {
    if required && value.trim().is_empty() {
        return Err(RuleViolation::new(field, "required", format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(RuleViolation::new(field, "too_long", format!("{field} must be at most {max} characters")));
    }
    Ok(())
}

/// A chat message: trimmed, then 1 to `max_chars` characters. Returns the trimmed text.
pub fn check_message(content: &str, max_chars: usize) -> Result<&str, RuleViolation> {
    let trimmed = content.trim();
    if trimmed.is_empty() {
        return Err(RuleViolation::new("content", "message_empty", "the message is empty"));
    }
    let chars = trimmed.chars().count();
    if chars > max_chars {
        return Err(RuleViolation::new(
            "content",
            "message_too_long",
            format!("the message has {chars} characters; at most {max_chars} are allowed"),
        ));
    }
    Ok(trimmed)
}

/// A reply edited by hand: trimmed, then 1 to `EDITED_REPLY_MAX_CHARS` characters. Returns the
/// trimmed text.
pub fn check_edited_reply(content: &str) -> Result<&str, RuleViolation> {
    let trimmed = content.trim();
    check_text("content", trimmed, EDITED_REPLY_MAX_CHARS, true)?;
    Ok(trimmed)
}

/// Tags: trimmed, kept in their case and order, duplicates (ignoring case) dropped; each 1–64
/// characters without control characters; at most 50. The list's length is checked before any
/// tag is looked at, so a flood of tags costs nothing (a list of more than 50 is refused even if
/// it holds duplicates).
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, RuleViolation> {
    let invalid = |message: String| RuleViolation::new("tags", "invalid_tags", message);
    if tags.len() > MAX_TAGS {
        return Err(invalid(format!("at most {MAX_TAGS} tags")));
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > TAG_MAX_CHARS || tag.chars().any(char::is_control) {
            return Err(invalid(format!("each tag must be 1 to {TAG_MAX_CHARS} characters")));
        }
        if !out.iter().any(|kept| kept.to_lowercase() == tag.to_lowercase()) {
            out.push(tag.to_owned());
        }
    }
    Ok(out)
}

/// How long an announcement stays active: 1 to `ANNOUNCEMENT_MAX_HOURS` hours.
pub fn check_announcement_hours(hours: i64) -> Result<(), RuleViolation> {
    if (1..=ANNOUNCEMENT_MAX_HOURS).contains(&hours) {
        Ok(())
    } else {
        Err(RuleViolation::new(
            "duration_hours",
            "invalid_duration",
            format!("duration_hours must be 1 to {ANNOUNCEMENT_MAX_HOURS}"),
        ))
    }
}

pub const ROOM_NAME_MAX_CHARS: usize = 80;
pub const ROOM_SLOW_MODE_MAX_SECS: i64 = 3600;
/// A mute lasts at most a week.
pub const ROOM_MUTE_MAX_MINUTES: i64 = 10_080;

/// A room's slow mode: 0 (off) to `ROOM_SLOW_MODE_MAX_SECS` seconds.
pub fn check_slow_mode(secs: i64) -> Result<(), RuleViolation> {
    if (0..=ROOM_SLOW_MODE_MAX_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(RuleViolation::new(
            "slow_mode_secs",
            "invalid_slow_mode",
            format!("slow_mode_secs must be 0 to {ROOM_SLOW_MODE_MAX_SECS}"),
        ))
    }
}

/// A mute's length: 0 (lift it) to `ROOM_MUTE_MAX_MINUTES`.
pub fn check_mute_minutes(minutes: i64) -> Result<(), RuleViolation> {
    if (0..=ROOM_MUTE_MAX_MINUTES).contains(&minutes) {
        Ok(())
    } else {
        Err(RuleViolation::new("minutes", "invalid_duration", format!("minutes must be 0 to {ROOM_MUTE_MAX_MINUTES}")))
    }
}

/// An optional `http(s)` URL without spaces.
pub fn check_url(field: &'static str, url: &str) -> Result<(), RuleViolation> {
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.chars().any(char::is_whitespace) || url.chars().count() > AVATAR_URL_MAX_CHARS {
        return Err(RuleViolation::new(field, "invalid_url", format!("{field} must be an http(s) URL")));
    }
    Ok(())
}

#[cfg(test)]
mod chat_rule_tests {
    use super::*;

    #[test]
    fn messages_count_characters_not_bytes() {
        let hangul = "가".repeat(200);
        assert_eq!(check_message(&hangul, 200), Ok(hangul.as_str()));
        assert_eq!(check_message(&"가".repeat(201), 200).unwrap_err().code, "message_too_long");
        let emoji = "😀".repeat(200);
        assert!(check_message(&emoji, 200).is_ok());
        assert_eq!(check_message("  hi  ", 200), Ok("hi"));
        assert_eq!(check_message("   ", 200).unwrap_err().code, "message_empty");
    }

    #[test]
    fn tags_are_normalised() {
        let tags = normalize_tags(&["Fantasy".into(), " fantasy ".into(), "Sci-Fi \"OC\"".into()]).unwrap();
        assert_eq!(tags, ["Fantasy", "Sci-Fi \"OC\""], "case and order kept, duplicates ignoring case dropped");
        assert!(normalize_tags(&["tab\there".into()]).is_err());
        assert!(normalize_tags(&["x".repeat(65)]).is_err());
        let fifty: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&fifty).unwrap().len(), 50);
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
        let flood: Vec<String> = (0..100_000).map(|i| format!("t{i}")).collect();
        assert_eq!(normalize_tags(&flood).unwrap_err().code, "invalid_tags");
    }
}
