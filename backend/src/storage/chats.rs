//! Chats. Creating one books it in the usage ledger through the database's triggers, in the
//! same statement (unless it is a branch or an import); its messages are `storage::messages`.

use sqlx::{Any, FromRow, Transaction};

use super::{Db, StorageError, messages};
use crate::{
    clock::now_millis,
    domain::{CharacterId, Chat, ChatId, TranscriptMessage, UserId},
};

const CHAT_COLUMNS: &str = "c.id, c.user_id, c.character_id, ch.name AS character_name, c.title, c.model, \
                            c.dify_conversation_id, c.message_count, c.created_at, c.last_message_at";
const CHAT_FROM: &str = "FROM chats c JOIN characters ch ON ch.id = c.character_id";

#[derive(FromRow)]
struct ChatRow {
    id: ChatId,
    user_id: UserId,
    character_id: CharacterId,
    character_name: String,
    title: String,
    model: String,
    dify_conversation_id: Option<String>,
    message_count: i64,
    created_at: i64,
    last_message_at: i64,
}

impl From<ChatRow> for Chat {
    fn from(r: ChatRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            character_id: r.character_id,
            character_name: r.character_name,
            title: r.title,
            model: r.model,
            dify_conversation_id: r.dify_conversation_id,
            message_count: r.message_count,
            created_at: r.created_at,
            last_message_at: r.last_message_at,
        }
    }
}

/// A chat about to be created.
pub struct NewChat<'a> {
    pub user_id: UserId,
    pub character_id: CharacterId,
    pub title: &'a str,
    pub model: &'a str,
    /// Whether the ledger counts it as a chat started (branches and imports are not).
    pub booked: bool,
}

/// Creates a chat holding `messages` (a greeting, a branch's copies, an import), in one
/// transaction. Only a booked chat counts in the ledger; its messages count if `booked` too.
#[tracing::instrument(skip_all, fields(user.id = %new.user_id), err(level = "warn"))]
pub async fn create(db: &Db, new: &NewChat<'_>, messages: &[TranscriptMessage]) -> Result<Chat, StorageError> {
    let mut tx = db.writer().begin().await?;
    let id: ChatId = sqlx::query_scalar(
        "INSERT INTO chats (user_id, character_id, title, model, created_at, last_message_at, booked) \
         VALUES ($1, $2, $3, $4, $5, $5, $6) RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.character_id)
    .bind(new.title)
    .bind(new.model)
    .bind(now_millis())
    .bind(i16::from(new.booked))
    .fetch_one(&mut *tx)
    .await?;
    if !messages.is_empty() {
        let chat = fetch_chat(&mut tx, id).await?;
        messages::insert_transcript(&mut tx, &chat, messages, new.booked).await?;
    }
    let chat = fetch_chat(&mut tx, id).await?;
    tx.commit().await?;
    Ok(chat)
}

async fn fetch_chat(tx: &mut Transaction<'_, Any>, id: ChatId) -> Result<Chat, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CHAT_COLUMNS} {CHAT_FROM} WHERE c.id = $1"));
    let row: ChatRow = sqlx::query_as(sql).bind(id).fetch_one(&mut **tx).await?;
    Ok(row.into())
}

/// A chat of `user_id`'s; `None` for other users' chats, as for missing ones.
#[tracing::instrument(skip_all, fields(chat.id = %id, user.id = %user_id), err(level = "warn"))]
pub async fn find_owned(db: &Db, id: ChatId, user_id: UserId) -> Result<Option<Chat>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CHAT_COLUMNS} {CHAT_FROM} WHERE c.id = $1 AND c.user_id = $2"));
    let row: Option<ChatRow> = sqlx::query_as(sql).bind(id).bind(user_id).fetch_optional(db.pool()).await?;
    Ok(row.map(Chat::from))
}

/// The user's chats, latest activity first.
#[tracing::instrument(skip_all, fields(user.id = %user_id), err(level = "warn"))]
pub async fn list_owned(db: &Db, user_id: UserId, limit: i64, offset: i64) -> Result<(Vec<Chat>, i64), StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CHAT_COLUMNS} {CHAT_FROM} WHERE c.user_id = $1 \
         ORDER BY c.last_message_at DESC, c.id DESC LIMIT $2 OFFSET $3"
    ));
    let rows: Vec<ChatRow> = sqlx::query_as(sql).bind(user_id).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let total: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM chats WHERE user_id = $1").bind(user_id).fetch_one(db.pool()).await?;
    Ok((rows.into_iter().map(Chat::from).collect(), total))
}

#[tracing::instrument(skip_all, fields(chat.id = %id), err(level = "warn"))]
pub async fn update(db: &Db, id: ChatId, title: Option<&str>, model: Option<&str>) -> Result<(), StorageError> {
    sqlx::query("UPDATE chats SET title = COALESCE($2, title), model = COALESCE($3, model) WHERE id = $1")
        .bind(id)
        .bind(title)
        .bind(model)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Deletes a chat and its messages; the usage ledger keeps what they cost.
#[tracing::instrument(skip_all, fields(chat.id = %id), err(level = "warn"))]
pub async fn delete(db: &Db, id: ChatId) -> Result<(), StorageError> {
    let mut tx = db.writer().begin().await?;
    sqlx::query("DELETE FROM messages WHERE chat_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM chats WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn set_dify_conversation(db: &Db, id: ChatId, conversation_id: &str) -> Result<(), StorageError> {
    sqlx::query("UPDATE chats SET dify_conversation_id = $2 WHERE id = $1")
        .bind(id)
        .bind(conversation_id)
        .execute(db.writer())
        .await?;
    Ok(())
}
