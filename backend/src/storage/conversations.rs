//! Chats across users, for the admins' history browser.

use sqlx::FromRow;

use super::{Db, StorageError, like_pattern};
use crate::domain::{CharacterId, ChatId, ConversationFilter, UserId};

#[derive(FromRow)]
pub struct ConversationRow {
    pub id: ChatId,
    pub user_id: UserId,
    pub username: String,
    pub character_id: CharacterId,
    pub character_name: String,
    pub title: String,
    pub model: String,
    pub created_at: i64,
    pub last_message_at: i64,
    pub message_count: i64,
    pub total_tokens: i64,
}

const CHAT_WHERE: &str = "WHERE ($1 = 0 OR c.user_id = $1) AND ($2 = 0 OR c.character_id = $2) \
     AND c.last_message_at >= $3 AND c.created_at < $4 \
     AND ($5 = '' OR lower(c.title) LIKE $5 ESCAPE '\\' OR lower(ch.name) LIKE $5 ESCAPE '\\' \
          OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND lower(m.content) LIKE $5 ESCAPE '\\'))";

/// Chats across users, latest activity first, with their stored messages' tokens.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(
    db: &Db,
    filter: &ConversationFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ConversationRow>, i64), StorageError> {
    let text = filter.text.as_deref().map(|t| like_pattern(&t.to_lowercase())).unwrap_or_default();
    let (user, character) = (filter.user_id.map_or(0, UserId::get), filter.character_id.map_or(0, CharacterId::get));
    let (from, to) = filter.active.map_or((i64::MIN, i64::MAX), |days| (days.start_millis(), days.end_millis()));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT c.id, c.user_id, u.username, c.character_id, ch.name AS character_name, c.title, c.model, \
         c.created_at, c.last_message_at, c.message_count, \
         COALESCE((SELECT CAST(SUM(m.prompt_tokens + m.completion_tokens) AS BIGINT) FROM messages m \
                   WHERE m.chat_id = c.id), 0) AS total_tokens \
         FROM chats c JOIN users u ON u.id = c.user_id JOIN characters ch ON ch.id = c.character_id \
         {CHAT_WHERE} ORDER BY c.last_message_at DESC, c.id DESC LIMIT $6 OFFSET $7"
    ));
    let rows: Vec<ConversationRow> = sqlx::query_as(sql)
        .bind(user)
        .bind(character)
        .bind(from)
        .bind(to)
        .bind(&text)
        .bind(limit)
        .bind(offset)
        .fetch_all(db.pool())
        .await?;
    let count = sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM chats c JOIN characters ch ON ch.id = c.character_id {CHAT_WHERE}"
    ));
    let total: i64 = sqlx::query_scalar(count)
        .bind(user)
        .bind(character)
        .bind(from)
        .bind(to)
        .bind(&text)
        .fetch_one(db.pool())
        .await?;
    Ok((rows, total))
}

pub async fn exists(db: &Db, id: ChatId) -> Result<bool, StorageError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM chats WHERE id = $1").bind(id).fetch_optional(db.pool()).await?;
    Ok(found.is_some())
}
