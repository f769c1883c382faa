//! Which lorebook entries a turn inserts (contract Part 2, "Lorebooks"): an entry whose keys
//! appear in the book's last `scan_depth` messages, or that is `constant`; a `selective` one
//! only with a secondary key too; in `insertion_order`, within `token_budget` and the room the
//! model's window leaves. Everything that costs in proportion to a book's size is done once per
//! revision of the book (`PreparedBook`): its entries are counted in tokens when it is saved,
//! its keys built into one Aho–Corasick automaton when it is first read. A turn then finds
//! keys in one pass over the scanned messages and adds stored counts, so it costs about the
//! same whatever the size of the book.

use std::cmp::Reverse;

use aho_corasick::AhoCorasick;
use rayon::prelude::*;
use troupe_types::{EntryPosition, Lorebook, LorebookEntry};

use super::{revisions::Weigh, tokens};

/// Absent `scan_depth`: the new message and the one before it.
pub const DEFAULT_SCAN_DEPTH: usize = 2;
/// Rounds of searching inserted entries for further keys (`recursive_scanning`).
const MAX_RECURSION: usize = 3;
/// What the line break between two entries of a prompt takes.
const SEPARATOR_TOKENS: usize = 1;

/// The entries' texts to insert, by place, each list in insertion order, and their size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lore {
    pub before_char: Vec<String>,
    pub after_char: Vec<String>,
    /// The inserted entries' tokens, as counted when their books were saved, and their line
    /// breaks.
    pub tokens: usize,
}

/// Each entry's size in tokens, in entry order: what is stored with a book when it is saved.
/// Large books are counted on several threads; call it off the async executor.
pub fn count_entries(book: &Lorebook) -> Vec<u32> {
    book.entries.par_iter().map(|entry| u32::try_from(tokens::count(&entry.content)).unwrap_or(u32::MAX)).collect()
}

/// A lorebook ready for turns: its entries' sizes and its key matcher. Making one costs in
/// proportion to the book (call it off the async executor); it is kept per revision of the
/// book (`services::revisions`).
pub struct PreparedBook {
    book: Lorebook,
    entry_tokens: Vec<u32>,
    matcher: KeyMatcher,
}

impl PreparedBook {
    /// `book` with the entry counts stored with it; counted here when there are none or they
    /// do not fit the entries (a book saved before counts were stored).
    pub fn new(book: Lorebook, stored_tokens: Option<Vec<u32>>) -> Self {
        let entry_tokens = match stored_tokens {
            Some(counts) if counts.len() == book.entries.len() => counts,
            _ => count_entries(&book),
        };
        let matcher = KeyMatcher::new(&book.entries);
        Self { book, entry_tokens, matcher }
    }
}

impl Weigh for PreparedBook {
    /// The entries' texts and keys, and the keys again in the matcher.
    fn weight(&self) -> usize {
        let keys = |e: &LorebookEntry| -> usize {
            e.keys.iter().chain(e.secondary_keys.iter().flatten()).map(String::len).sum()
        };
        self.book.entries.iter().map(|e| e.content.len() + 2 * keys(e) + 64).sum()
    }
}

/// What `books` insert for a conversation whose messages are `messages` (oldest first, the new
/// one last), within `room` tokens. Each book is scanned with its own depth, budget and
/// recursion, in order: a book later in the list gets the room the ones before it left.
pub fn scan(books: &[&PreparedBook], messages: &[&str], mut room: usize) -> Lore {
    let mut chosen: Vec<&LorebookEntry> = Vec::new();
    let mut lore = Lore::default();
    for book in books {
        let (entries, tokens) = scan_book(book, messages, room);
        room -= tokens;
        lore.tokens += tokens;
        chosen.extend(entries);
    }
    chosen.sort_by_key(|entry| entry.insertion_order);
    for entry in chosen {
        let place = match entry.position.unwrap_or_default() {
            EntryPosition::BeforeChar => &mut lore.before_char,
            EntryPosition::AfterChar => &mut lore.after_char,
        };
        place.push(entry.content.clone());
    }
    lore
}

/// The entries of `book` that go in, and their tokens (at most `room`).
fn scan_book<'b>(prepared: &'b PreparedBook, messages: &[&str], room: usize) -> (Vec<&'b LorebookEntry>, usize) {
    let entries = &prepared.book.entries;
    let depth = prepared.book.scan_depth.map_or(DEFAULT_SCAN_DEPTH, |d| d.max(0) as usize);
    let budget = prepared.book.token_budget.map_or(room, |b| (b.max(0) as usize).min(room));
    let mut triggered: Vec<bool> = entries.iter().map(|e| e.enabled && e.constant == Some(true)).collect();
    // Constant entries are in from the start; only entries keys brought in are searched again.
    let mut searched = triggered.clone();
    let mut text = messages[messages.len().saturating_sub(depth)..].join("\n");
    let rounds = if prepared.book.recursive_scanning == Some(true) { 1 + MAX_RECURSION } else { 1 };
    let mut accepted = Vec::new();
    let mut tokens = 0;
    for round in 0..rounds {
        for (i, found) in prepared.matcher.triggered(&text).into_iter().enumerate() {
            triggered[i] |= found;
        }
        (accepted, tokens) = within_budget(prepared, &triggered, budget);
        if round + 1 == rounds {
            break;
        }
        let newly: Vec<usize> = accepted.iter().copied().filter(|&i| !searched[i]).collect();
        if newly.is_empty() {
            break;
        }
        for &i in &newly {
            searched[i] = true;
        }
        text = newly.iter().map(|&i| entries[i].content.as_str()).collect::<Vec<_>>().join("\n");
    }
    (accepted.into_iter().map(|i| &entries[i]).collect(), tokens)
}

/// The `triggered` entries that fit `budget` tokens (each with the line break before it), most
/// wanted first (highest `priority`, then earliest in insertion order): the first one that does
/// not fit and every one after it are left out. Returns their indexes and their tokens.
fn within_budget(prepared: &PreparedBook, triggered: &[bool], budget: usize) -> (Vec<usize>, usize) {
    let entries = &prepared.book.entries;
    let mut wanted: Vec<usize> = (0..entries.len()).filter(|&i| triggered[i]).collect();
    wanted.sort_by_key(|&i| (Reverse(entries[i].priority.unwrap_or(0)), entries[i].insertion_order));
    let mut total = 0;
    let mut accepted = Vec::new();
    for i in wanted {
        let cost = prepared.entry_tokens[i] as usize + SEPARATOR_TOKENS;
        if total + cost > budget {
            break;
        }
        total += cost;
        accepted.push(i);
    }
    (accepted, total)
}

/// Finds which entries' keys a text holds. Keys of case-insensitive entries are matched
/// against the lowercased text.
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

impl KeyMatcher {
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
        inserted_within(book, messages, usize::MAX)
    }

    fn inserted_within(book: &Lorebook, messages: &[&str], room: usize) -> Vec<String> {
        let lore = scan(&[&PreparedBook::new(book.clone(), None)], messages, room);
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
        let lore = scan(&[&PreparedBook::new(b.clone(), None)], &["a"], usize::MAX);
        assert_eq!((lore.before_char, lore.after_char), (vec!["one two three".into()], vec!["four five six".into()]));
        assert_eq!(lore.tokens, tokens::count("one two three") + tokens::count("four five six") + 2);
        b.token_budget = Some(tokens::count("one two three") as i64 + 1);
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

    #[test]
    fn the_window_bounds_what_goes_in_and_later_books_get_what_is_left() {
        let constant = |content: &str| LorebookEntry { constant: Some(true), ..entry(&[], content) };
        let b = book(vec![constant("first"), constant("second")]);
        // Counts as stored with the book, not counted again: each entry "takes" 10 tokens, and
        // one for its line break.
        let stored = || PreparedBook::new(b.clone(), Some(vec![10, 10]));
        let (one, two) = (stored(), stored());
        let lore = scan(&[&one, &two], &["hi"], 35);
        assert_eq!(lore.before_char, ["first", "second", "first"], "the second book gets the 13 left");
        assert_eq!(lore.tokens, 33);
        assert_eq!(inserted_within(&b, &["hi"], 0), Vec::<String>::new());
    }

    #[test]
    fn stored_counts_that_do_not_fit_the_entries_are_counted_again() {
        let b = book(vec![LorebookEntry { constant: Some(true), ..entry(&[], "one two three") }]);
        let prepared = PreparedBook::new(b, Some(vec![1, 2]));
        assert_eq!(prepared.entry_tokens, vec![tokens::count("one two three") as u32]);
    }

    #[test]
    fn entries_left_out_for_room_bring_in_nothing_by_recursion() {
        let opener = LorebookEntry { priority: Some(1), ..entry(&["k0"], "see k1") };
        let long = LorebookEntry { priority: Some(2), ..entry(&["k0"], &"far too long ".repeat(50)) };
        let follower = entry(&["k1"], "found");
        let b = Lorebook { recursive_scanning: Some(true), ..book(vec![opener, long, follower]) };
        let room = tokens::count("see k1") + tokens::count("found") + 2;
        assert_eq!(inserted_within(&b, &["k0"], room), Vec::<String>::new(), "the long one is wanted first");
        let b = Lorebook { entries: vec![b.entries[0].clone(), b.entries[2].clone()], ..b };
        assert_eq!(inserted_within(&b, &["k0"], room), ["see k1", "found"]);
    }
}
