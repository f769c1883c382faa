//! Which lorebook entries a turn inserts (contract Part 2, "Lorebooks"): an entry whose keys
//! appear in the book's last `scan_depth` messages, or that is `constant`; a `selective` one
//! only with a secondary key too; in `insertion_order`, within `token_budget`. Keys are found
//! with one Aho–Corasick pass per text (the automaton built once per set of keys), so a turn
//! costs about the same whatever the number of keys.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    num::NonZeroUsize,
    sync::{Arc, LazyLock, Mutex},
};

use aho_corasick::AhoCorasick;
use lru::LruCache;
use troupe_types::{EntryPosition, Lorebook, LorebookEntry};

use super::tokens;
use crate::error::AppError;

/// Absent `scan_depth`: the new message and the one before it.
pub const DEFAULT_SCAN_DEPTH: usize = 2;
/// Rounds of searching inserted entries for further keys (`recursive_scanning`).
const MAX_RECURSION: usize = 3;

/// The entries' texts to insert, by place, each list in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lore {
    pub before_char: Vec<String>,
    pub after_char: Vec<String>,
}

/// `scan` on a blocking thread (books are large); nothing to scan costs nothing.
pub async fn scan_off_executor(books: Vec<Lorebook>, messages: Vec<String>) -> Result<Lore, AppError> {
    if books.is_empty() {
        return Ok(Lore::default());
    }
    tokio::task::spawn_blocking(move || {
        let messages: Vec<&str> = messages.iter().map(String::as_str).collect();
        scan(&books.iter().collect::<Vec<_>>(), &messages)
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))
}

/// What `books` insert for a conversation whose messages are `messages` (oldest first, the new
/// one last). Each book is scanned with its own depth, budget and recursion.
pub fn scan(books: &[&Lorebook], messages: &[&str]) -> Lore {
    let mut chosen: Vec<&LorebookEntry> = books.iter().flat_map(|book| scan_book(book, messages)).collect();
    chosen.sort_by_key(|entry| entry.insertion_order);
    let mut lore = Lore::default();
    for entry in chosen {
        let place = match entry.position.unwrap_or_default() {
            EntryPosition::BeforeChar => &mut lore.before_char,
            EntryPosition::AfterChar => &mut lore.after_char,
        };
        place.push(entry.content.clone());
    }
    lore
}

/// The entries of `book` that go in, in insertion order.
fn scan_book<'b>(book: &'b Lorebook, messages: &[&str]) -> Vec<&'b LorebookEntry> {
    let entries = &book.entries;
    let matcher = KeyMatcher::of(entries);
    let depth = book.scan_depth.map_or(DEFAULT_SCAN_DEPTH, |d| d.max(0) as usize);
    let window = messages[messages.len().saturating_sub(depth)..].join("\n");
    let mut inserted: Vec<bool> = entries.iter().map(|e| e.enabled && e.constant == Some(true)).collect();
    let mut text = window;
    let rounds = if book.recursive_scanning == Some(true) { 1 + MAX_RECURSION } else { 1 };
    for _ in 0..rounds {
        let found = matcher.triggered(&text);
        let newly: Vec<usize> = (0..entries.len()).filter(|&i| found[i] && !inserted[i]).collect();
        if newly.is_empty() {
            break;
        }
        for &i in &newly {
            inserted[i] = true;
        }
        text = newly.iter().map(|&i| entries[i].content.as_str()).collect::<Vec<_>>().join("\n");
    }
    let mut chosen: Vec<&LorebookEntry> = entries.iter().zip(inserted).filter(|(_, i)| *i).map(|(e, _)| e).collect();
    if let Some(budget) = book.token_budget {
        within_budget(&mut chosen, budget.max(0) as usize);
    }
    chosen.sort_by_key(|entry| entry.insertion_order);
    chosen
}

/// Leaves out entries, lowest `priority` first (and of equal priority the latest in insertion
/// order), until the rest take at most `budget` tokens.
fn within_budget(chosen: &mut Vec<&LorebookEntry>, budget: usize) {
    let mut sized: Vec<(&LorebookEntry, usize)> = chosen.iter().map(|e| (*e, tokens::count(&e.content))).collect();
    let mut total: usize = sized.iter().map(|(_, t)| t).sum();
    // Most wanted first: the ones at the end are dropped first.
    sized.sort_by_key(|(e, _)| (std::cmp::Reverse(e.priority.unwrap_or(0)), e.insertion_order));
    while total > budget {
        let (_, tokens) = sized.pop().expect("over budget means something is left");
        total -= tokens;
    }
    *chosen = sized.into_iter().map(|(e, _)| e).collect();
}

/// Finds which entries' keys a text holds. Keys of case-insensitive entries are matched
/// against the lowercased text. Built once per distinct set of keys (see `KeyMatcher::of`).
struct KeyMatcher {
    entries: usize,
    /// Over lowercased keys and over keys as written; each pattern's entry and kind.
    folded: Option<(AhoCorasick, Vec<(usize, KeyKind)>)>,
    exact: Option<(AhoCorasick, Vec<(usize, KeyKind)>)>,
    /// Entries that need a secondary key as well (selective, with secondary keys).
    needs_secondary: Vec<bool>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum KeyKind {
    Primary,
    Secondary,
}

/// Matchers built lately, by a hash of what they match: a chat's books are the same turn after
/// turn, and building one for a thousand entries costs milliseconds.
static MATCHERS: LazyLock<Mutex<LruCache<u64, Arc<KeyMatcher>>>> =
    LazyLock::new(|| Mutex::new(LruCache::new(NonZeroUsize::new(256).expect("not zero"))));

impl KeyMatcher {
    /// The matcher for `entries`, from the cache when their keys were seen lately.
    fn of(entries: &[LorebookEntry]) -> Arc<Self> {
        let mut hasher = DefaultHasher::new();
        for entry in entries {
            (entry.enabled, entry.use_regex, entry.case_sensitive, entry.selective).hash(&mut hasher);
            (&entry.keys, &entry.secondary_keys).hash(&mut hasher);
        }
        let key = hasher.finish();
        if let Some(matcher) = MATCHERS.lock().expect("matcher cache lock").get(&key) {
            return Arc::clone(matcher);
        }
        let matcher = Arc::new(Self::new(entries));
        MATCHERS.lock().expect("matcher cache lock").put(key, Arc::clone(&matcher));
        matcher
    }

    fn new(entries: &[LorebookEntry]) -> Self {
        let (mut folded, mut exact) = (Vec::new(), Vec::new());
        for (i, entry) in entries.iter().enumerate() {
            // Regular-expression keys are kept for export, not applied: never triggered by keys.
            if !entry.enabled || entry.use_regex == Some(true) {
                continue;
            }
            let secondary = entry.secondary_keys.iter().flatten().map(|k| (k, KeyKind::Secondary));
            for (key, kind) in entry.keys.iter().map(|k| (k, KeyKind::Primary)).chain(secondary) {
                if entry.case_sensitive == Some(true) {
                    exact.push((key.clone(), (i, kind)));
                } else {
                    folded.push((key.to_lowercase(), (i, kind)));
                }
            }
        }
        // A selective entry without secondary keys behaves as not selective.
        let needs_secondary = entries
            .iter()
            .map(|e| e.selective == Some(true) && e.secondary_keys.as_ref().is_some_and(|keys| !keys.is_empty()))
            .collect();
        Self { entries: entries.len(), folded: automaton(folded), exact: automaton(exact), needs_secondary }
    }

    /// For each entry: do `text`'s keys insert it (primary key, and a secondary one when
    /// selective)?
    fn triggered(&self, text: &str) -> Vec<bool> {
        let n = self.entries;
        let (mut primary, mut secondary) = (vec![false; n], vec![false; n]);
        let lowered = if self.folded.is_some() { text.to_lowercase() } else { String::new() };
        for (automaton, haystack) in [(&self.folded, lowered.as_str()), (&self.exact, text)] {
            let Some((ac, owners)) = automaton else { continue };
            for found in ac.find_overlapping_iter(haystack) {
                let (entry, kind) = owners[found.pattern().as_usize()];
                match kind {
                    KeyKind::Primary => primary[entry] = true,
                    KeyKind::Secondary => secondary[entry] = true,
                }
            }
        }
        (0..n).map(|i| primary[i] && (!self.needs_secondary[i] || secondary[i])).collect()
    }
}

/// One automaton over `keys`, with each pattern's owner; `None` when there are none.
fn automaton(keys: Vec<(String, (usize, KeyKind))>) -> Option<(AhoCorasick, Vec<(usize, KeyKind)>)> {
    if keys.is_empty() {
        return None;
    }
    let (patterns, owners): (Vec<String>, Vec<(usize, KeyKind)>) = keys.into_iter().unzip();
    let ac = AhoCorasick::new(&patterns).expect("lorebook keys are bounded in number and length");
    Some((ac, owners))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(keys: &[&str], content: &str) -> LorebookEntry {
        LorebookEntry {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            content: content.into(),
            enabled: true,
            ..LorebookEntry::default()
        }
    }

    fn book(entries: Vec<LorebookEntry>) -> Lorebook {
        Lorebook { entries, ..Lorebook::default() }
    }

    fn inserted(book: &Lorebook, messages: &[&str]) -> Vec<String> {
        let lore = scan(&[book], messages);
        lore.before_char.into_iter().chain(lore.after_char).collect()
    }

    #[test]
    fn keys_in_the_last_two_messages_insert_ignoring_case() {
        let b = book(vec![entry(&["Dragon"], "Dragons hoard gold."), entry(&["elf"], "Elves sing.")]);
        assert_eq!(inserted(&b, &["an elf", "hello", "a DRAGON!"]), ["Dragons hoard gold."]);
        assert_eq!(inserted(&b, &["hello", "an elf", "a dragon"]), ["Dragons hoard gold.", "Elves sing."]);
        let deep = Lorebook { scan_depth: Some(3), ..b.clone() };
        assert_eq!(inserted(&deep, &["an elf", "hello", "x"]), ["Elves sing."]);
    }

    #[test]
    fn case_sensitive_constant_disabled_and_regex_entries() {
        let sensitive = LorebookEntry { case_sensitive: Some(true), ..entry(&["Rome"], "City.") };
        let constant = LorebookEntry { constant: Some(true), ..entry(&[], "Always.") };
        let disabled = LorebookEntry { enabled: false, constant: Some(true), ..entry(&["x"], "Never.") };
        let regex = LorebookEntry { use_regex: Some(true), ..entry(&["/ro.e/"], "Regex.") };
        let b = book(vec![sensitive, constant, disabled, regex]);
        assert_eq!(inserted(&b, &["rome /ro.e/"]), ["Always."]);
        assert_eq!(inserted(&b, &["Rome"]), ["City.", "Always."]);
    }

    #[test]
    fn selective_entries_need_a_secondary_key_unless_they_have_none() {
        let selective = LorebookEntry {
            selective: Some(true),
            secondary_keys: Some(vec!["fire".into()]),
            ..entry(&["dragon"], "Fire dragon.")
        };
        let empty_secondary = LorebookEntry { selective: Some(true), ..entry(&["dragon"], "Any dragon.") };
        let b = book(vec![selective, empty_secondary]);
        assert_eq!(inserted(&b, &["a dragon"]), ["Any dragon."]);
        assert_eq!(inserted(&b, &["a dragon breathes fire"]), ["Fire dragon.", "Any dragon."]);
    }

    #[test]
    fn order_position_budget_and_priority() {
        let first = LorebookEntry { insertion_order: 1, priority: Some(10), ..entry(&["a"], "one two three") };
        let second = LorebookEntry {
            insertion_order: 2,
            position: Some(EntryPosition::AfterChar),
            priority: Some(1),
            ..entry(&["a"], "four five six")
        };
        let mut b = book(vec![second.clone(), first.clone()]);
        let lore = scan(&[&b], &["a"]);
        assert_eq!((lore.before_char, lore.after_char), (vec!["one two three".into()], vec!["four five six".into()]));
        b.token_budget = Some(tokens::count("one two three") as i64);
        assert_eq!(inserted(&b, &["a"]), ["one two three"], "the lower priority is left out");
        b.token_budget = Some(0);
        assert!(inserted(&b, &["a"]).is_empty());
    }

    #[test]
    fn recursion_follows_keys_in_inserted_entries_a_few_rounds() {
        let chain = |key: &str, next: &str| entry(&[key], &format!("see {next}"));
        let b =
            book(vec![chain("k0", "k1"), chain("k1", "k2"), chain("k2", "k3"), chain("k3", "k4"), chain("k4", "k5")]);
        assert_eq!(inserted(&b, &["k0"]), ["see k1"]);
        let recursive = Lorebook { recursive_scanning: Some(true), ..b };
        assert_eq!(inserted(&recursive, &["k0"]), ["see k1", "see k2", "see k3", "see k4"]);
    }
}
