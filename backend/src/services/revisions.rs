//! Values a chat turn would otherwise read from the database every time (characters, lorebooks,
//! the shared prompts), kept in memory by id with the revision they were read at. A turn's one
//! read of its chat returns the current revisions (`storage::chats::for_turn`), and a cached
//! value is served only when its revision is the current one: a change made through any
//! instance moves the revision in the database (migration 0013's triggers), so no instance
//! serves a value after it changed, and nothing has to be told.

use std::{
    hash::Hash,
    sync::{Arc, Mutex},
};

use lru::LruCache;

/// What a cached value takes in memory, roughly, in bytes.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// The latest values read, as many as fit `max_bytes` (the least recently used go first), each
/// with the revision `R` it was read at.
pub struct RevisionCache<K: Hash + Eq, V, R = i64> {
    inner: Mutex<Entries<K, V, R>>,
    max_bytes: usize,
}

struct Entries<K: Hash + Eq, V, R> {
    lru: LruCache<K, (R, Arc<V>)>,
    bytes: usize,
}

impl<K: Hash + Eq + Copy, V: Weigh, R: Copy + PartialEq> RevisionCache<K, V, R> {
    pub fn new(max_bytes: usize) -> Self {
        Self { inner: Mutex::new(Entries { lru: LruCache::unbounded(), bytes: 0 }), max_bytes }
    }

    /// `key`'s value if it was read at `revision`.
    pub fn get(&self, key: K, revision: R) -> Option<Arc<V>> {
        match self.inner.lock().expect("revision cache lock").lru.get(&key) {
            Some((at, value)) if *at == revision => Some(Arc::clone(value)),
            _ => None,
        }
    }

    /// `key`'s value at `revision`, or `load`ed and kept under that revision. (A value loaded
    /// later than `revision` was read may be newer still; it is served, and replaced at the
    /// next revision.)
    pub async fn get_or_load<E, F>(&self, key: K, revision: R, load: F) -> Result<Arc<V>, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(key, revision) {
            return Ok(value);
        }
        let value = Arc::new(load.await?);
        self.put(key, revision, Arc::clone(&value));
        Ok(value)
    }

    /// Replaces `key`'s value read at `from` with `value` at `to` (a change this process made
    /// and knows the result of); a value at any other revision, which the change may not fit,
    /// is dropped.
    pub fn advance(&self, key: K, from: R, to: R, value: Arc<V>) {
        let mut entries = self.inner.lock().expect("revision cache lock");
        match entries.lru.peek(&key).map(|(at, _)| *at) {
            Some(at) if at == from => self.put_in(&mut entries, key, to, value),
            Some(_) => {
                if let Some((_, gone)) = entries.lru.pop(&key) {
                    entries.bytes -= gone.weight();
                }
            }
            None => {}
        }
    }

    fn put(&self, key: K, revision: R, value: Arc<V>) {
        self.put_in(&mut self.inner.lock().expect("revision cache lock"), key, revision, value);
    }

    fn put_in(&self, entries: &mut Entries<K, V, R>, key: K, revision: R, value: Arc<V>) {
        entries.bytes += value.weight();
        if let Some((_, replaced)) = entries.lru.put(key, (revision, value)) {
            entries.bytes -= replaced.weight();
        }
        // The newest value stays even alone over the budget: the turn reading it needs it.
        while entries.bytes > self.max_bytes && entries.lru.len() > 1 {
            let (_, (_, evicted)) = entries.lru.pop_lru().expect("more than one entry");
            entries.bytes -= evicted.weight();
        }
    }
}

impl Weigh for Vec<String> {
    fn weight(&self) -> usize {
        self.iter().map(String::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weigh for String {
        fn weight(&self) -> usize {
            self.len()
        }
    }

    #[tokio::test]
    async fn serves_a_value_only_at_the_revision_it_was_read_at() {
        let cache: RevisionCache<i64, String> = RevisionCache::new(100);
        let load = |text: &str| std::future::ready(Ok::<_, ()>(text.to_owned()));
        assert_eq!(*cache.get_or_load(1, 0, load("first")).await.unwrap(), "first");
        assert_eq!(*cache.get_or_load(1, 0, load("not read")).await.unwrap(), "first", "from the cache");
        assert_eq!(*cache.get_or_load(1, 1, load("changed")).await.unwrap(), "changed", "a new revision is read");
        assert!(cache.get(1, 0).is_none(), "the old revision is gone");
    }

    #[tokio::test]
    async fn the_least_recently_used_go_when_over_the_budget() {
        let cache: RevisionCache<i64, String> = RevisionCache::new(10);
        let load = |text: &str| std::future::ready(Ok::<_, ()>(text.to_owned()));
        cache.get_or_load(1, 0, load("aaaa")).await.unwrap();
        cache.get_or_load(2, 0, load("bbbb")).await.unwrap();
        cache.get(1, 0);
        cache.get_or_load(3, 0, load("cccc")).await.unwrap();
        assert!(cache.get(2, 0).is_none(), "the least recently used went first");
        assert!(cache.get(1, 0).is_some() && cache.get(3, 0).is_some());
        cache.get_or_load(4, 0, load(&"d".repeat(50))).await.unwrap();
        assert!(cache.get(4, 0).is_some(), "a value over the whole budget is kept alone");
        assert!(cache.get(1, 0).is_none() && cache.get(3, 0).is_none());
    }

    #[tokio::test]
    async fn advancing_replaces_only_the_value_it_started_from() {
        let cache: RevisionCache<i64, String> = RevisionCache::new(100);
        cache.get_or_load(1, 5, std::future::ready(Ok::<_, ()>("a".to_owned()))).await.unwrap();
        cache.advance(1, 5, 6, Arc::new("ab".into()));
        assert_eq!(cache.get(1, 6).as_deref().map(String::as_str), Some("ab"));
        cache.advance(1, 5, 6, Arc::new("ac".into()));
        assert!(cache.get(1, 6).is_none(), "a change from another revision drops the value");
        cache.advance(2, 0, 1, Arc::new("new".into()));
        assert!(cache.get(2, 1).is_none(), "nothing to advance, nothing kept");
    }
}
