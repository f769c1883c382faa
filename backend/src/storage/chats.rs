//! Chats and their messages. Inserting either books its usage through the database's triggers,
//! in the same statement (so recorded usage always equals the sum over messages).

use sqlx::{Any, FromRow, Transaction};
use troupe_types::{MessageStatus, Role, UsageSource};

use super::{
    Db, StorageError,
    text::{DbText, optional},
};
use crate::{
    clock::{Millis, day, now_millis},
    domain::{CharacterId, Chat, ChatId, Message, MessageId, TokenUsage, UserId},
};

const CHAT_COLUMNS: &str = "c.id, c.user_id, c.character_id, ch.name AS character_name, c.title, c.model, \
                            c.dify_conversation_id, c.message_count, c.created_at, c.last_message_at";
const CHAT_FROM: &str = "FROM chats c JOIN characters ch ON ch.id = c.character_id";
const MESSAGE_COLUMNS: &str = "id, chat_id, role, content, status, model, prompt_tokens, completion_tokens, \
                               token_count, usage_source, created_at";

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

#[derive(FromRow)]
struct MessageRow {
    id: MessageId,
    chat_id: ChatId,
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

impl TryFrom<MessageRow> for Message {
    type Error = StorageError;

    fn try_from(r: MessageRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: r.id,
            chat_id: r.chat_id,
            role: Role::from_db(&r.role)?,
            content: r.content,
            status: MessageStatus::from_db(&r.status)?,
            model: r.model,
            usage: TokenUsage { prompt_tokens: r.prompt_tokens, completion_tokens: r.completion_tokens },
            usage_source: optional(r.usage_source)?,
            token_count: r.token_count,
            created_at: r.created_at,
        })
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

/// Creates a chat and, when the character has one, its greeting (not charged).
#[tracing::instrument(skip_all, fields(user.id = %user_id), err(level = "warn"))]
pub async fn create(
    db: &Db,
    user_id: UserId,
    character_id: CharacterId,
    title: &str,
    model: &str,
    greeting: Option<(&str, i64)>,
) -> Result<Chat, StorageError> {
    let now = now_millis();
    let mut tx = db.writer().begin().await?;
    let id: ChatId = sqlx::query_scalar(
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
        let chat = fetch_chat(&mut tx, id).await?;
        insert_message(&mut *tx, &chat, &greeting, now).await?;
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

/// A page of messages, oldest first: the `limit` newest before `before_id` (or the newest).
#[tracing::instrument(skip_all, fields(chat.id = %chat_id), err(level = "warn"))]
pub async fn messages_page(
    db: &Db,
    chat_id: ChatId,
    before_id: Option<MessageId>,
    limit: i64,
) -> Result<Vec<Message>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    ));
    let rows: Vec<MessageRow> = sqlx::query_as(sql)
        .bind(chat_id)
        .bind(before_id.map_or(i64::MAX, MessageId::get))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    rows.into_iter().rev().map(Message::try_from).collect()
}

/// Stores a user message; `None` when the chat is gone. The database's triggers move the
/// chat's counters and count the message in the day's usage within the same statement (see
/// `migrations/*/0005_generations.sql`).
#[tracing::instrument(skip_all, fields(chat.id = %chat.id), err(level = "warn"))]
pub async fn add_message(db: &Db, chat: &Chat, new: &NewMessage<'_>) -> Result<Option<Message>, StorageError> {
    insert_message(db.writer(), chat, new, now_millis()).await
}

/// Stores a model's reply and records its generation, which books the reply's tokens in the
/// usage ledger, in one transaction. When the chat was deleted meanwhile, only the generation
/// is recorded (`None`): what the user was charged never depends on the chat still existing.
#[tracing::instrument(skip_all, fields(chat.id = %chat.id), err(level = "warn"))]
pub async fn add_reply(db: &Db, chat: &Chat, reply: &NewMessage<'_>) -> Result<Option<Message>, StorageError> {
    let now = now_millis();
    match record_reply(db, chat, reply, now, true).await {
        // PostgreSQL: a delete that committed after our existence check; the chat is gone.
        Err(StorageError::Other(sqlx::Error::Database(e))) if e.is_foreign_key_violation() => {
            record_reply(db, chat, reply, now, false).await
        }
        other => other,
    }
}

async fn record_reply(
    db: &Db,
    chat: &Chat,
    reply: &NewMessage<'_>,
    now: Millis,
    keep_message: bool,
) -> Result<Option<Message>, StorageError> {
    let mut tx = db.writer().begin().await?;
    let message = if keep_message { insert_message(&mut *tx, chat, reply, now).await? } else { None };
    sqlx::query(
        "INSERT INTO generations (user_id, chat_id, message_id, character_id, model, status, prompt_tokens, \
         completion_tokens, usage_source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(chat.user_id)
    .bind(chat.id)
    .bind(message.as_ref().map(|m| m.id))
    .bind(chat.character_id)
    .bind(reply.model.unwrap_or_default())
    .bind(reply.status.to_db())
    .bind(reply.usage.prompt_tokens)
    .bind(reply.usage.completion_tokens)
    .bind(reply.usage_source.map(UsageSource::to_db))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(message)
}

/// Inserts a message into its chat if the chat still exists.
async fn insert_message<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    chat: &Chat,
    m: &NewMessage<'_>,
    now: Millis,
) -> Result<Option<Message>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO messages (chat_id, user_id, character_id, role, content, status, model, prompt_tokens, \
         completion_tokens, token_count, usage_source, upstream_latency_ms, created_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 \
         WHERE EXISTS (SELECT 1 FROM chats WHERE id = $1) RETURNING {MESSAGE_COLUMNS}"
    ));
    let row: Option<MessageRow> = sqlx::query_as(sql)
        .bind(chat.id)
        .bind(chat.user_id)
        .bind(chat.character_id)
        .bind(m.role.to_db())
        .bind(m.content)
        .bind(m.status.to_db())
        .bind(m.model)
        .bind(m.usage.prompt_tokens)
        .bind(m.usage.completion_tokens)
        .bind(m.token_count)
        .bind(m.usage_source.map(UsageSource::to_db))
        .bind(m.upstream_latency_ms)
        .bind(now)
        .fetch_optional(executor)
        .await?;
    row.map(Message::try_from).transpose()
}

/// Tokens the user was charged today (UTC), for the daily quota.
#[tracing::instrument(skip_all, fields(user.id = %user_id), err(level = "warn"))]
pub async fn tokens_used_on(db: &Db, user_id: UserId, at: Millis) -> Result<i64, StorageError> {
    let used: Option<i64> = sqlx::query_scalar(
        "SELECT prompt_tokens + completion_tokens FROM usage_user_days WHERE user_id = $1 AND day = $2",
    )
    .bind(user_id)
    .bind(day(at))
    .fetch_optional(db.pool())
    .await?;
    Ok(used.unwrap_or(0))
}
