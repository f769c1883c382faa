//! Standalone lorebooks, each its owner's own, and the books a chat's turns read. As files
//! other tools write: `world_info`.

pub mod world_info;

use std::sync::Arc;

use troupe_types::{Lorebook, rules::RuleViolation};

use super::{
    limits::CreateLimit,
    lore::{self, PreparedBook},
    revisions::RevisionCache,
};
use crate::{
    domain::{ChatId, LorebookId, SavedLorebook, User, lorebook},
    error::AppError,
    storage::{Db, lorebooks},
};

/// A bound on what one account may store (each book holds up to 2,000 entries).
pub const MAX_LOREBOOKS: i64 = 100;
/// What the lorebooks chats use may take in memory (`Lorebooks::for_turn`).
const TURN_CACHE_BYTES: usize = 256 << 20;

#[derive(Clone)]
pub struct Lorebooks {
    db: Db,
    create_limit: CreateLimit,
    /// Books as turns use them, kept while their revision is current.
    for_turns: Arc<RevisionCache<LorebookId, PreparedBook>>,
}

impl Lorebooks {
    pub fn new(db: Db, create_limit: CreateLimit) -> Self {
        Self { db, create_limit, for_turns: Arc::new(RevisionCache::new(TURN_CACHE_BYTES)) }
    }

    pub async fn list(&self, user: &User) -> Result<Vec<SavedLorebook>, AppError> {
        Ok(lorebooks::list(&self.db, user.id).await?)
    }

    /// The user's own lorebook; anyone else's is `NotFound`.
    pub async fn get(&self, user: &User, id: LorebookId) -> Result<SavedLorebook, AppError> {
        lorebooks::find_owned(&self.db, id, user.id).await?.ok_or(AppError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(user.id = %user.id), err(level = "info"))]
    pub async fn create(&self, user: &User, book: Lorebook) -> Result<SavedLorebook, AppError> {
        let book = lorebook::check("book", book)?;
        if lorebooks::count(&self.db, user.id).await? >= MAX_LOREBOOKS {
            let message = format!("at most {MAX_LOREBOOKS} lorebooks");
            return Err(RuleViolation::new("book", "too_many_lorebooks", message).into());
        }
        self.create_limit.check(user.id).await?;
        let (book, entry_tokens) = counted(book).await?;
        Ok(lorebooks::insert(&self.db, user.id, &book, &entry_tokens).await?)
    }

    /// A lorebook file (see `world_info`), named `name` when the file names none.
    pub async fn import(&self, user: &User, bytes: Vec<u8>, name: Option<String>) -> Result<SavedLorebook, AppError> {
        let book = tokio::task::spawn_blocking(move || world_info::read(&bytes, name))
            .await
            .map_err(|e| AppError::Internal(e.into()))??;
        self.create(user, book).await
    }

    pub async fn update(&self, user: &User, id: LorebookId, book: Lorebook) -> Result<SavedLorebook, AppError> {
        let (book, entry_tokens) = counted(lorebook::check("book", book)?).await?;
        Ok(lorebooks::update(&self.db, id, user.id, &book, &entry_tokens).await?)
    }

    pub async fn delete(&self, user: &User, id: LorebookId) -> Result<(), AppError> {
        Ok(lorebooks::delete(&self.db, id, user.id).await?)
    }

    /// 404 unless every one of `ids` is the user's; 422 over the per-chat limit or when one
    /// is named twice.
    pub async fn check_for_chat(&self, user: &User, ids: &[LorebookId]) -> Result<(), AppError> {
        let max = troupe_types::rules::MAX_CHAT_LOREBOOKS;
        let invalid = |message: String| RuleViolation::new("lorebook_ids", "invalid_lorebooks", message);
        if ids.len() > max {
            return Err(invalid(format!("at most {max} lorebooks a chat")).into());
        }
        let mut distinct = ids.to_vec();
        distinct.sort();
        distinct.dedup();
        if distinct.len() != ids.len() {
            return Err(invalid("a lorebook is named twice".into()).into());
        }
        if lorebooks::owned_among(&self.db, user.id, ids).await?.len() != ids.len() {
            return Err(AppError::NotFound);
        }
        Ok(())
    }

    /// Chat `chat` uses `ids` (checked with `check_for_chat`), in that order.
    pub async fn set_for_chat(&self, chat: ChatId, ids: &[LorebookId]) -> Result<(), AppError> {
        Ok(lorebooks::set_for_chat(&self.db, chat, ids).await?)
    }

    /// The books a turn reads, as of the revisions it read with its chat, in that order. A book
    /// deleted since is left out.
    #[tracing::instrument(skip_all)]
    pub async fn for_turn(&self, books: &[(LorebookId, i64)]) -> Result<Vec<Arc<PreparedBook>>, AppError> {
        let mut prepared = Vec::with_capacity(books.len());
        for &(id, revision) in books {
            let load = async {
                let (book, entry_tokens) = lorebooks::for_turn(&self.db, id).await?.ok_or(AppError::NotFound)?;
                tokio::task::spawn_blocking(move || PreparedBook::new(book, entry_tokens))
                    .await
                    .map_err(|e| AppError::Internal(e.into()))
            };
            match self.for_turns.get_or_load(id, revision, load).await {
                Ok(book) => prepared.push(book),
                Err(AppError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(prepared)
    }
}

/// `book` with the size of each of its entries, counted off the executor.
async fn counted(book: Lorebook) -> Result<(Lorebook, Vec<u32>), AppError> {
    tokio::task::spawn_blocking(move || {
        let counts = lore::count_entries(&book);
        (book, counts)
    })
    .await
    .map_err(|e| AppError::Internal(e.into()))
}
