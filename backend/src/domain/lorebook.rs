//! Lorebooks: the rules a book must meet. (Which entries a turn inserts: `services::lore`.)

use troupe_types::{
    Lorebook,
    rules::{self, RuleViolation, check_text},
};

use super::{LorebookId, UserId};
use crate::clock::{Millis, rfc3339};

/// A standalone lorebook, its owner's own.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedLorebook {
    pub id: LorebookId,
    pub owner_id: UserId,
    pub book: Lorebook,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl From<SavedLorebook> for troupe_types::SavedLorebook {
    fn from(l: SavedLorebook) -> Self {
        Self { id: l.id.get(), book: l.book, created_at: rfc3339(l.created_at), updated_at: rfc3339(l.updated_at) }
    }
}

/// `book` if it meets the rules (at most 2,000 entries of at most 16,000 characters, up to 100
/// keys of up to 200 characters each, a sane scan depth and budget), with blank keys dropped.
/// `field` names the book in the error.
pub fn check(field: &'static str, mut book: Lorebook) -> Result<Lorebook, RuleViolation> {
    let invalid = |message: String| RuleViolation::new(field, "invalid_lorebook", message);
    if book.entries.len() > rules::LOREBOOK_MAX_ENTRIES {
        return Err(invalid(format!("at most {} entries", rules::LOREBOOK_MAX_ENTRIES)));
    }
    for text in [&book.name, &book.description].into_iter().flatten() {
        check_text(field, text, rules::CHARACTER_TEXT_MAX_CHARS, false)?;
    }
    if book.scan_depth.is_some_and(|d| !(0..=1000).contains(&d)) {
        return Err(invalid("scan_depth must be 0 to 1000".into()));
    }
    if book.token_budget.is_some_and(|b| b < 0) {
        return Err(invalid("token_budget must not be negative".into()));
    }
    for (index, entry) in book.entries.iter_mut().enumerate() {
        if entry.content.chars().count() > rules::LOREBOOK_ENTRY_MAX_CHARS {
            let max = rules::LOREBOOK_ENTRY_MAX_CHARS;
            return Err(invalid(format!("entry {index}: the content is over {max} characters")));
        }
        for keys in [Some(&mut entry.keys), entry.secondary_keys.as_mut()].into_iter().flatten() {
            keys.retain(|k| !k.trim().is_empty());
            let too_long = keys.iter().any(|k| k.chars().count() > rules::LOREBOOK_KEY_MAX_CHARS);
            if keys.len() > rules::LOREBOOK_MAX_KEYS || too_long {
                let (max_keys, max_chars) = (rules::LOREBOOK_MAX_KEYS, rules::LOREBOOK_KEY_MAX_CHARS);
                return Err(invalid(format!("entry {index}: at most {max_keys} keys of {max_chars} characters")));
            }
        }
    }
    Ok(book)
}

#[cfg(test)]
mod tests {
    use troupe_types::LorebookEntry;

    use super::*;

    fn entry(content: &str) -> LorebookEntry {
        LorebookEntry { keys: vec!["dragon".into(), "  ".into()], content: content.into(), ..LorebookEntry::default() }
    }

    #[test]
    fn books_within_the_limits_pass_with_blank_keys_dropped() {
        let book = Lorebook { entries: vec![entry("Dragons sleep.")], ..Lorebook::default() };
        assert_eq!(check("character_book", book).unwrap().entries[0].keys, ["dragon"]);
        let long = Lorebook { entries: vec![entry(&"x".repeat(16_001))], ..Lorebook::default() };
        assert_eq!(check("character_book", long).unwrap_err().code, "invalid_lorebook");
        let many = Lorebook { entries: vec![entry("a"); 2_001], ..Lorebook::default() };
        assert!(check("book", many).is_err());
    }
}
