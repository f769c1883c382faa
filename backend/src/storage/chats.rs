//! Chats, their messages, and the usage ledger that every charged message writes in the same
//! transaction (so recorded usage always equals the sum over messages).

use sqlx::{Any, FromRow, Transaction};
use troupe_types::{MessageStatus, Role, UsageSource};

use super::{Db, StorageError};
use crate::{
    clock::{Millis, day, now_millis},
    domain::{
        Chat, ChatId, Message, MessageId, TokenUsage, UserId,
        chat::{role_str, source_str, status_str},
    },
};

const CHAT_COLUMNS: &str = "c.id, c.user_id, c.character_id, ch.name AS character_name, c.title, c.model, \
                            c.dify_conversation_id, c.message_count, c.created_at, c.last_message_at";
const CHAT_FROM: &str = "FROM chats c JOIN characters ch ON ch.id = c.character_id";
const MESSAGE_COLUMNS: &str = "id, chat_id, role, content, status, model, prompt_tokens, completion_tokens, \
                               token_count, usage_source, created_at";

#[derive(FromRow)]
struct ChatRow {
    id: i64,
    user_id: i64,
    character_id: i64,
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

#[derive(FromRow)]
struct MessageRow {
    id: i64,
    chat_id: i64,
    role: String,
    content: String,
    status: String,
    model: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    token_count: i64,
    usage_source: Option<String>,
    created_at: i64,
}

impl From<MessageRow> for Message {
    fn from(r: MessageRow) -> Self {
        Self {
            id: r.id,
            chat_id: r.chat_id,
            role: if r.role == "user" { Role::User } else { Role::Assistant },
            content: r.content,
            status: match r.status.as_str() {
                "complete" => MessageStatus::Complete,
                "incomplete" => MessageStatus::Incomplete,
                _ => MessageStatus::Error,
            },
            model: r.model,
            usage: TokenUsage { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens },
            usage_source: r
                .usage_source
                .map(|s| if s == "provider" { UsageSource::Provider } else { UsageSource::Estimated }),
            token_count: r.token_count,
            created_at: r.created_at,
        }
    }
}

/// A message about to be stored.
pub struct NewMessage<'a> {
    pub role: Role,
    pub content: &'a str,
    pub status: MessageStatus,
    pub model: Option<&'a str>,
    pub usage: TokenUsage,
    pub usage_source: Option<UsageSource>,
    pub token_count: i64,
    pub upstream_latency_ms: Option<i64>,
}

/// What a message adds to the ledger.
#[derive(Clone, Copy, Default)]
struct LedgerEntry {
    messages: i64,
    chats: i64,
    usage: TokenUsage,
}

/// Creates a chat and, when the character has one, its greeting (not charged).
#[tracing::instrument(skip_all, fields(user.id = user_id), err(level = "warn"))]
pub async fn create(
    db: &Db,
    user_id: UserId,
    character_id: i64,
    title: &str,
    model: &str,
    greeting: Option<(&str, i64)>,
) -> Result<Chat, StorageError> {
    let now = now_millis();
    let mut tx = db.writer().begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO chats (user_id, character_id, title, model, created_at, last_message_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(character_id)
    .bind(title)
    .bind(model)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    record_usage(&mut tx, user_id, now, model, character_id, LedgerEntry { chats: 1, ..Default::default() }).await?;
    if let Some((text, token_count)) = greeting {
        let greeting = NewMessage {
            role: Role::Assistant,
            content: text,
            status: MessageStatus::Complete,
            model: None,
            usage: TokenUsage::default(),
            usage_source: None,
            token_count,
            upstream_latency_ms: None,
        };
        insert_message_in(&mut tx, id, user_id, &greeting, now).await?;
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
#[tracing::instrument(skip_all, fields(chat.id = id, user.id = user_id), err(level = "warn"))]
pub async fn find_owned(db: &Db, id: ChatId, user_id: UserId) -> Result<Option<Chat>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CHAT_COLUMNS} {CHAT_FROM} WHERE c.id = $1 AND c.user_id = $2"));
    let row: Option<ChatRow> = sqlx::query_as(sql).bind(id).bind(user_id).fetch_optional(db.pool()).await?;
    Ok(row.map(Chat::from))
}

/// The user's chats, latest activity first.
#[tracing::instrument(skip_all, fields(user.id = user_id), err(level = "warn"))]
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

#[tracing::instrument(skip_all, fields(chat.id = id), err(level = "warn"))]
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
#[tracing::instrument(skip_all, fields(chat.id = id), err(level = "warn"))]
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

/// A page of messages, oldest first: the `limit` newest before `before_id` (or the newest).
#[tracing::instrument(skip_all, fields(chat.id = chat_id), err(level = "warn"))]
pub async fn messages_page(
    db: &Db,
    chat_id: ChatId,
    before_id: Option<MessageId>,
    limit: i64,
) -> Result<Vec<Message>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    ));
    let rows: Vec<MessageRow> =
        sqlx::query_as(sql).bind(chat_id).bind(before_id.unwrap_or(i64::MAX)).bind(limit).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().rev().map(Message::from).collect())
}

/// Stores a message, moves the chat's activity, and books its cost, in one transaction.
/// A user message counts as one message of the day; an assistant reply adds its tokens.
#[tracing::instrument(skip_all, fields(chat.id = chat.id), err(level = "warn"))]
pub async fn add_message(db: &Db, chat: &Chat, new: &NewMessage<'_>) -> Result<Message, StorageError> {
    let now = now_millis();
    let mut tx = db.writer().begin().await?;
    let message = insert_message_in(&mut tx, chat.id, chat.user_id, new, now).await?;
    let entry = LedgerEntry { messages: i64::from(new.role == Role::User), chats: 0, usage: new.usage };
    let model = new.model.unwrap_or(&chat.model);
    if entry.messages > 0 || entry.usage.total() > 0 {
        record_usage(&mut tx, chat.user_id, now, model, chat.character_id, entry).await?;
    }
    tx.commit().await?;
    Ok(message)
}

/// Inserts a message and bumps its chat's counters. Starts with a write, so SQLite takes the
/// write lock at once and waits (busy_timeout) instead of failing on a lock upgrade.
async fn insert_message_in(
    tx: &mut Transaction<'_, Any>,
    chat_id: ChatId,
    user_id: UserId,
    m: &NewMessage<'_>,
    now: Millis,
) -> Result<Message, StorageError> {
    sqlx::query("UPDATE chats SET message_count = message_count + 1, last_message_at = $2 WHERE id = $1")
        .bind(chat_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO messages (chat_id, user_id, role, content, status, model, prompt_tokens, completion_tokens, \
         token_count, usage_source, upstream_latency_ms, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {MESSAGE_COLUMNS}"
    ));
    let row: MessageRow = sqlx::query_as(sql)
        .bind(chat_id)
        .bind(user_id)
        .bind(role_str(m.role))
        .bind(m.content)
        .bind(status_str(m.status))
        .bind(m.model)
        .bind(m.usage.prompt_tokens)
        .bind(m.usage.completion_tokens)
        .bind(m.token_count)
        .bind(m.usage_source.map(source_str))
        .bind(m.upstream_latency_ms)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.into())
}

/// Books a ledger entry: the day's row (per user, model, character) and the user's lifetime
/// totals. Both move together, in the caller's transaction.
async fn record_usage(
    tx: &mut Transaction<'_, Any>,
    user_id: UserId,
    at: Millis,
    model: &str,
    character_id: i64,
    e: LedgerEntry,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO usage_daily (user_id, day, model, character_id, messages, chats, prompt_tokens, completion_tokens) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET \
         messages = usage_daily.messages + excluded.messages, \
         chats = usage_daily.chats + excluded.chats, \
         prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens, \
         completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens",
    )
    .bind(user_id)
    .bind(day(at))
    .bind(model)
    .bind(character_id)
    .bind(e.messages)
    .bind(e.chats)
    .bind(e.usage.prompt_tokens)
    .bind(e.usage.completion_tokens)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO user_totals (user_id, chats, messages, prompt_tokens, completion_tokens) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id) DO UPDATE SET \
         chats = user_totals.chats + excluded.chats, \
         messages = user_totals.messages + excluded.messages, \
         prompt_tokens = user_totals.prompt_tokens + excluded.prompt_tokens, \
         completion_tokens = user_totals.completion_tokens + excluded.completion_tokens",
    )
    .bind(user_id)
    .bind(e.chats)
    .bind(e.messages)
    .bind(e.usage.prompt_tokens)
    .bind(e.usage.completion_tokens)
    .execute(&mut **tx)
    .await?;
    if e.messages > 0 {
        sqlx::query("UPDATE users SET last_active_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Tokens the user was charged today (UTC), for the daily quota.
#[tracing::instrument(skip_all, fields(user.id = user_id), err(level = "warn"))]
pub async fn tokens_used_on(db: &Db, user_id: UserId, at: Millis) -> Result<i64, StorageError> {
    let used: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM usage_daily WHERE user_id = $1 AND day = $2",
    )
    .bind(user_id)
    .bind(day(at))
    .fetch_one(db.pool())
    .await?;
    Ok(used.unwrap_or(0))
}
