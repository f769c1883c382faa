//! The recent turns of chats, kept in memory from one turn to the next: reading a long chat's
//! last 200 messages again on every turn was the largest part of a turn's database work.
//!
//! A copy is served only while its chat's `HistoryStamp` (read with the chat on every turn) is
//! the one it was made at: a message added anywhere moves the count, one changed or deleted
//! anywhere moves the revision (migration 0013's triggers). A turn that stores a message moves
//! its copy along (`stored`), so the next turn of the same chat reads nothing; a copy that a
//! message stored elsewhere made stale is simply read again.

use std::sync::Arc;

use troupe_types::MessageStatus;

use super::{
    prompt_assembly::PastTurn,
    revisions::{RevisionCache, Weigh},
};
use crate::{
    domain::{ChatId, MessageId},
    error::AppError,
    providers::Turn,
    storage::{Db, chats::HistoryStamp, messages},
};

/// How many recent messages are considered for the prompt before fitting the window.
pub const HISTORY_LIMIT: usize = 200;
/// What the copies may take in memory.
const CACHE_BYTES: usize = 64 << 20;

pub struct ChatHistories {
    db: Db,
    copies: RevisionCache<ChatId, Vec<PastTurn>, HistoryStamp>,
}

impl Weigh for Vec<PastTurn> {
    fn weight(&self) -> usize {
        self.iter().map(|t| t.turn.content.len() + 48).sum()
    }
}

impl ChatHistories {
    pub fn new(db: Db) -> Self {
        Self { db, copies: RevisionCache::new(CACHE_BYTES) }
    }

    /// The chat's recent turns a prompt may include, oldest first, as of `stamp`.
    #[tracing::instrument(skip_all, fields(chat.id = %chat))]
    pub async fn recent(&self, chat: ChatId, stamp: HistoryStamp) -> Result<Arc<Vec<PastTurn>>, AppError> {
        self.copies.get_or_load(chat, stamp, self.read(chat, None)).await
    }

    /// The chat's recent turns before message `before` (a regeneration's), read afresh.
    pub async fn before(&self, chat: ChatId, before: MessageId) -> Result<Vec<PastTurn>, AppError> {
        self.read(chat, Some(before)).await
    }

    /// This process stored a message in `chat`, whose history was at `stamp` as far as it
    /// knew: the copy made at `stamp` is replaced with `turns` (the copy and the message, see
    /// `appended`) at the stamp returned; any other copy is dropped.
    pub fn stored(&self, chat: ChatId, stamp: HistoryStamp, turns: Arc<Vec<PastTurn>>) -> HistoryStamp {
        let next = HistoryStamp { message_count: stamp.message_count + 1, ..stamp };
        self.copies.advance(chat, stamp, next, turns);
        next
    }

    /// The last `HISTORY_LIMIT` messages (before `before`, if given) that a prompt may include:
    /// failed replies are left out.
    async fn read(&self, chat: ChatId, before: Option<MessageId>) -> Result<Vec<PastTurn>, AppError> {
        Ok(messages::page(&self.db, chat, before, HISTORY_LIMIT as i64)
            .await?
            .into_iter()
            .filter_map(|m| prompt_turn(m.status, m.role, &m.content, m.token_count))
            .collect())
    }
}

/// `turns` and then `added` (if a prompt may include it), the oldest left out beyond
/// `HISTORY_LIMIT`.
pub fn appended(turns: &[PastTurn], added: Option<PastTurn>) -> Vec<PastTurn> {
    let kept = turns.len().min(HISTORY_LIMIT - usize::from(added.is_some()));
    turns[turns.len() - kept..].iter().cloned().chain(added).collect()
}

/// A stored message as a turn of later prompts, unless no prompt includes it (a failed or
/// empty reply).
pub fn prompt_turn(status: MessageStatus, role: troupe_types::Role, content: &str, tokens: i64) -> Option<PastTurn> {
    (status != MessageStatus::Error && !content.is_empty())
        .then(|| PastTurn { tokens: tokens as usize, turn: Turn { role, content: content.into() } })
}
