//! Standalone lorebooks (the book as JSON, Character Card V2's `character_book` shape) and the
//! chats that use them.

use sqlx::FromRow;
use troupe_types::Lorebook;

use super::{Db, StorageError, delete_owned, from_json, to_json};
use crate::{
    clock::now_millis,
    domain::{ChatId, LorebookId, SavedLorebook, UserId},
};

const COLUMNS: &str = "id, owner_id, book, created_at, updated_at";

#[derive(FromRow)]
struct LorebookRow {
    id: LorebookId,
    owner_id: UserId,
    book: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<LorebookRow> for SavedLorebook {
    type Error = StorageError;

    fn try_from(r: LorebookRow) -> Result<Self, StorageError> {
        Ok(Self {
            book: from_json(&format!("lorebook {}", r.id), "book", &r.book)?,
            id: r.id,
            owner_id: r.owner_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn saved(rows: Vec<LorebookRow>) -> Result<Vec<SavedLorebook>, StorageError> {
    rows.into_iter().map(SavedLorebook::try_from).collect()
}

/// The owner's lorebooks, oldest first.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(db: &Db, owner_id: UserId) -> Result<Vec<SavedLorebook>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM lorebooks WHERE owner_id = $1 ORDER BY id"));
    saved(sqlx::query_as(sql).bind(owner_id).fetch_all(db.pool()).await?)
}

/// How many lorebooks the owner has.
pub async fn count(db: &Db, owner_id: UserId) -> Result<i64, StorageError> {
    Ok(sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM lorebooks WHERE owner_id = $1")
        .bind(owner_id)
        .fetch_one(db.pool())
        .await?)
}

/// Lorebook `id` if it is the owner's.
pub async fn find_owned(db: &Db, id: LorebookId, owner_id: UserId) -> Result<Option<SavedLorebook>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM lorebooks WHERE id = $1 AND owner_id = $2"));
    let row: Option<LorebookRow> = sqlx::query_as(sql).bind(id).bind(owner_id).fetch_optional(db.pool()).await?;
    row.map(SavedLorebook::try_from).transpose()
}

/// Which of `ids` are the owner's, in one round trip (an owner has at most `MAX_LOREBOOKS`).
pub async fn owned_among(db: &Db, owner_id: UserId, ids: &[LorebookId]) -> Result<Vec<LorebookId>, StorageError> {
    let owned: Vec<LorebookId> =
        sqlx::query_scalar("SELECT id FROM lorebooks WHERE owner_id = $1").bind(owner_id).fetch_all(db.pool()).await?;
    Ok(ids.iter().copied().filter(|id| owned.contains(id)).collect())
}

/// The books chat `id` uses, in the chat's order.
pub async fn of_chat(db: &Db, chat_id: ChatId) -> Result<Vec<Lorebook>, StorageError> {
    let sql = sqlx::AssertSqlSafe(
        "SELECT l.id, l.owner_id, l.book, l.created_at, l.updated_at FROM lorebooks l \
         JOIN chat_lorebooks c ON c.lorebook_id = l.id WHERE c.chat_id = $1 ORDER BY c.position"
            .to_owned(),
    );
    Ok(saved(sqlx::query_as(sql).bind(chat_id).fetch_all(db.pool()).await?)?.into_iter().map(|l| l.book).collect())
}

/// A book's entries' sizes in tokens as stored with it, in entry order; `None` for a book saved
/// before sizes were stored.
pub type EntryTokens = Option<Vec<u32>>;

/// Lorebook `id` with its entries' stored sizes, for chat turns (`None` when it is gone).
#[tracing::instrument(skip_all, fields(lorebook.id = %id), err(level = "warn"))]
pub async fn for_turn(db: &Db, id: LorebookId) -> Result<Option<(Lorebook, EntryTokens)>, StorageError> {
    let row: Option<(String, Option<String>)> =
        sqlx::query_as("SELECT book, entry_tokens FROM lorebooks WHERE id = $1")
            .bind(id)
            .fetch_optional(db.pool())
            .await?;
    let Some((book, entry_tokens)) = row else { return Ok(None) };
    let place = format!("lorebook {id}");
    let entry_tokens = entry_tokens.as_deref().map(|t| from_json(&place, "entry_tokens", t)).transpose()?;
    Ok(Some((from_json(&place, "book", &book)?, entry_tokens)))
}

/// Stores a new lorebook with the size of each of its entries (`lore::count_entries`), kept so
/// that turns never count them.
#[tracing::instrument(skip_all, fields(user.id = %owner_id), err(level = "warn"))]
pub async fn insert(
    db: &Db,
    owner_id: UserId,
    book: &Lorebook,
    entry_tokens: &[u32],
) -> Result<SavedLorebook, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO lorebooks (owner_id, name, book, created_at, updated_at, entry_tokens) \
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING {COLUMNS}"
    ));
    let row: LorebookRow = sqlx::query_as(sql)
        .bind(owner_id)
        .bind(book.name.as_deref().unwrap_or_default())
        .bind(to_json(book))
        .bind(now_millis())
        .bind(to_json(&entry_tokens))
        .fetch_one(db.writer())
        .await?;
    row.try_into()
}

/// Replaces the owner's lorebook `id` (with its entries' sizes, as for `insert`); `NotFound`
/// when it is not theirs.
#[tracing::instrument(skip_all, fields(lorebook.id = %id), err(level = "warn"))]
pub async fn update(
    db: &Db,
    id: LorebookId,
    owner_id: UserId,
    book: &Lorebook,
    entry_tokens: &[u32],
) -> Result<SavedLorebook, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE lorebooks SET name = $3, book = $4, updated_at = $5, entry_tokens = $6 \
         WHERE id = $1 AND owner_id = $2 RETURNING {COLUMNS}"
    ));
    let row: Option<LorebookRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(owner_id)
        .bind(book.name.as_deref().unwrap_or_default())
        .bind(to_json(book))
        .bind(now_millis())
        .bind(to_json(&entry_tokens))
        .fetch_optional(db.writer())
        .await?;
    row.ok_or(StorageError::NotFound)?.try_into()
}

/// Deletes the owner's lorebook `id`; the chats that used it stop using it.
#[tracing::instrument(skip_all, fields(lorebook.id = %id), err(level = "warn"))]
pub async fn delete(db: &Db, id: LorebookId, owner_id: UserId) -> Result<(), StorageError> {
    let mut tx = db.writer().begin().await?;
    sqlx::query(
        "DELETE FROM chat_lorebooks WHERE lorebook_id = $1 AND lorebook_id IN \
                 (SELECT id FROM lorebooks WHERE owner_id = $2)",
    )
    .bind(id)
    .bind(owner_id)
    .execute(&mut *tx)
    .await?;
    delete_owned(&mut tx, "lorebooks", "owner_id", id.get(), owner_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Chat `chat_id` uses `ids`, in that order, instead of its earlier list.
#[tracing::instrument(skip_all, fields(chat.id = %chat_id), err(level = "warn"))]
pub async fn set_for_chat(db: &Db, chat_id: ChatId, ids: &[LorebookId]) -> Result<(), StorageError> {
    let mut tx = db.writer().begin().await?;
    sqlx::query("DELETE FROM chat_lorebooks WHERE chat_id = $1").bind(chat_id).execute(&mut *tx).await?;
    for (position, id) in ids.iter().enumerate() {
        sqlx::query("INSERT INTO chat_lorebooks (chat_id, lorebook_id, position) VALUES ($1, $2, $3)")
            .bind(chat_id)
            .bind(*id)
            .bind(position as i64)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}
