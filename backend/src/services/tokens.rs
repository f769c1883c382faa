//! Token counting with a real BPE tokenizer (OpenAI's cl100k_base via tiktoken-rs). Providers
//! with other tokenizers are close enough for budgeting; their own reported usage, when
//! present, is what gets charged. cl100k rather than o200k: it needs half the memory (about
//! 24 MB against 47 MB), loaded on the first message rather than at start-up.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    num::NonZeroUsize,
    sync::{LazyLock, Mutex},
};

use lru::LruCache;
use tiktoken_rs::CoreBPE;

/// Tokens a chat format adds around each message (role and separators).
const PER_MESSAGE_OVERHEAD: usize = 4;

fn bpe() -> &'static CoreBPE {
    tiktoken_rs::cl100k_base_singleton()
}

/// Tokens in `text`.
pub fn count(text: &str) -> usize {
    if text.is_empty() { 0 } else { bpe().encode_ordinary(text).len() }
}

/// Texts at least this long are counted on a blocking thread: BPE merging costs milliseconds
/// on long texts, and more on adversarial ones (long runs without a word break).
const OFF_EXECUTOR_BYTES: usize = 2048;

/// Texts counted lately, by a hash of their content: a character's system text is the same
/// turn after turn, and is counted once per version of the character and its shared prompts.
static COUNTED: LazyLock<Mutex<LruCache<u64, usize>>> =
    LazyLock::new(|| Mutex::new(LruCache::new(NonZeroUsize::new(4096).expect("not zero"))));

/// Tokens in `text`, without holding up the async executor on a long text.
pub async fn count_off_executor(text: String) -> usize {
    if text.len() < OFF_EXECUTOR_BYTES {
        return count(&text);
    }
    tokio::task::spawn_blocking(move || count(&text)).await.expect("counting tokens does not panic")
}

/// `count_off_executor`, remembered: the same text is counted once.
pub async fn count_remembered(text: &str) -> usize {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    let key = hasher.finish();
    if let Some(&tokens) = COUNTED.lock().expect("token cache lock").get(&key) {
        return tokens;
    }
    let tokens = count_off_executor(text.to_owned()).await;
    COUNTED.lock().expect("token cache lock").put(key, tokens);
    tokens
}

/// Tokens `text` takes as one chat message.
pub fn count_message(text: &str) -> usize {
    message_cost(count(text))
}

/// Tokens a message of `content_tokens` takes in a chat prompt.
pub fn message_cost(content_tokens: usize) -> usize {
    content_tokens + PER_MESSAGE_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tokens_not_characters() {
        assert_eq!(count(""), 0);
        let words = count("hello world");
        assert!((1..=3).contains(&words), "{words}");
        assert!(count(&"안녕하세요 ".repeat(20)) > 20);
        assert_eq!(count_message("hi"), count("hi") + PER_MESSAGE_OVERHEAD);
    }

    #[tokio::test]
    async fn long_and_remembered_counts_agree_with_plain_ones() {
        let long = "The tavern is warm tonight. ".repeat(200);
        assert_eq!(count_off_executor(long.clone()).await, count(&long));
        assert_eq!(count_remembered(&long).await, count(&long));
        assert_eq!(count_remembered(&long).await, count(&long), "from the cache");
        let mut hasher = DefaultHasher::new();
        long.hash(&mut hasher);
        assert!(COUNTED.lock().unwrap().contains(&hasher.finish()), "counted once, then remembered");
    }
}
