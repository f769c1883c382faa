//! Messages of chats: the user's messages and the model's replies (stored with their
//! generation records, which book the ledger), alternatives, edits, deletions, and transcripts
//! (greetings, copies, imports) written in one go.
//!
//! A message row holds its selected alternative; `message_alternatives` holds every alternative
//! of a message that has more than one (migration 0007).

use std::{collections::HashMap, sync::LazyLock};

use sqlx::{Any, FromRow, Transaction, any::AnyRow};
use troupe_types::{MessageStatus, Role, UsageSource};

use super::{
    BATCH_ROWS, Db, StorageError,
    direct::{self, Columns, Param},
    text::{DbText, optional},
};
use crate::{
    clock::{Millis, now_millis},
    domain::{Alternative, CharacterId, Chat, ChatId, Message, MessageId, TokenUsage, TranscriptMessage, UserId},
};

const COLUMNS: &str = "id, chat_id, role, content, status, model, prompt_tokens, completion_tokens, token_count, \
                       usage_source, created_at, alternative_index, alternative_count, edited_at";
const ALTERNATIVE_COLUMNS: &str =
    "content, status, model, prompt_tokens, completion_tokens, token_count, usage_source, created_at";

/// A message from a row of `COLUMNS`, read by either driver (see `direct::Columns`).
pub(super) fn message_from(row: &dyn Columns) -> Result<Message, StorageError> {
    Ok(Message {
        id: MessageId::new(row.int("id")?),
        chat_id: ChatId::new(row.int("chat_id")?),
        role: Role::from_db(&row.text("role")?)?,
        content: row.text("content")?,
        status: MessageStatus::from_db(&row.text("status")?)?,
        model: row.text_or_null("model")?,
        usage: TokenUsage {
            prompt_tokens: row.int("prompt_tokens")?,
            completion_tokens: row.int("completion_tokens")?,
        },
        usage_source: optional(row.text_or_null("usage_source")?)?,
        token_count: row.int("token_count")?,
        created_at: row.int("created_at")?,
        alternative_index: row.int("alternative_index")?,
        alternative_count: row.int("alternative_count")?,
        edited_at: row.int_or_null("edited_at")?,
    })
}

fn messages_from(rows: &[AnyRow]) -> Result<Vec<Message>, StorageError> {
    rows.iter().map(|row| message_from(row)).collect()
}

#[derive(FromRow)]
struct AlternativeRow {
    message_id: MessageId,
    content: String,
    status: String,
    model: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    token_count: i64,
    usage_source: Option<String>,
    created_at: i64,
}

impl TryFrom<AlternativeRow> for Alternative {
    type Error = StorageError;

    fn try_from(r: AlternativeRow) -> Result<Self, StorageError> {
        Ok(Self {
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
#[derive(Clone, Debug)]
pub struct NewMessage {
    pub role: Role,
    pub content: String,
    pub status: MessageStatus,
    pub model: Option<String>,
    pub usage: TokenUsage,
    pub usage_source: Option<UsageSource>,
    pub token_count: i64,
    pub upstream_latency_ms: Option<i64>,
}

/// The chat a message goes into, and whom it belongs to: what storing one needs of its chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChatKey {
    pub id: ChatId,
    pub user_id: UserId,
    pub character_id: CharacterId,
}

impl From<&Chat> for ChatKey {
    fn from(chat: &Chat) -> Self {
        Self { id: chat.id, user_id: chat.user_id, character_id: chat.character_id }
    }
}

/// Where a reply goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyTarget {
    /// A new message at the end of the chat.
    NewMessage,
    /// A new alternative of this message, then selected.
    Alternative(MessageId),
    /// Nowhere: only its generation is recorded (a failed regeneration).
    Nowhere,
}

/// A page of a chat's messages, oldest first: the `limit` newest before `before_id` (or the
/// newest).
#[tracing::instrument(skip_all, fields(chat.id = %chat_id), err(level = "warn"))]
pub async fn page(
    db: &Db,
    chat_id: ChatId,
    before_id: Option<MessageId>,
    limit: i64,
) -> Result<Vec<Message>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM messages WHERE chat_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    ));
    let rows = sqlx::query(sql)
        .bind(chat_id)
        .bind(before_id.map_or(i64::MAX, MessageId::get))
        .bind(limit)
        .fetch_all(db.pool())
        .await?;
    let mut page = messages_from(&rows)?;
    page.reverse();
    Ok(page)
}

/// A chat's whole transcript, oldest first, each message with all its alternatives.
#[tracing::instrument(skip_all, fields(chat.id = %chat_id), err(level = "warn"))]
pub async fn transcript(db: &Db, chat_id: ChatId) -> Result<Vec<(Message, Vec<Alternative>)>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM messages WHERE chat_id = $1 ORDER BY id"));
    let messages = messages_from(&sqlx::query(sql).bind(chat_id).fetch_all(db.pool()).await?)?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT a.message_id, {} FROM message_alternatives a JOIN messages m ON m.id = a.message_id \
         WHERE m.chat_id = $1 ORDER BY a.message_id, a.position",
        ALTERNATIVE_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ")
    ));
    let alternative_rows: Vec<AlternativeRow> = sqlx::query_as(sql).bind(chat_id).fetch_all(db.pool()).await?;
    let mut alternatives: HashMap<MessageId, Vec<Alternative>> = HashMap::new();
    for row in alternative_rows {
        alternatives.entry(row.message_id).or_default().push(row.try_into()?);
    }
    Ok(messages
        .into_iter()
        .map(|message| {
            let alternatives = alternatives.remove(&message.id).unwrap_or_default();
            (message, alternatives)
        })
        .collect())
}

/// One message of a chat.
pub async fn find(db: &Db, chat_id: ChatId, id: MessageId) -> Result<Option<Message>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM messages WHERE id = $1 AND chat_id = $2"));
    let row = sqlx::query(sql).bind(id).bind(chat_id).fetch_optional(db.pool()).await?;
    row.as_ref().map(|row| message_from(row)).transpose()
}

/// The chat's newest message.
pub async fn last(db: &Db, chat_id: ChatId) -> Result<Option<Message>, StorageError> {
    Ok(page(db, chat_id, None, 1).await?.pop())
}

/// Stores a model's reply where `target` says and records its generation, which books the
/// reply's tokens in the usage ledger, in `tx` (see `storage::turn_writes`). When the chat (or
/// the message to add an alternative to) is gone, only the generation is recorded (`None`):
/// what the user was charged never depends on where the reply could go.
pub(super) async fn write_reply(
    tx: &mut Transaction<'_, Any>,
    chat: ChatKey,
    reply: &NewMessage,
    target: ReplyTarget,
    now: Millis,
) -> Result<Option<Message>, StorageError> {
    let message = match target {
        ReplyTarget::NewMessage => insert(&mut **tx, chat, reply, now).await?,
        ReplyTarget::Alternative(id) => add_alternative(tx, chat.id, id, reply, now).await?,
        ReplyTarget::Nowhere => None,
    };
    let message_id = message.as_ref().map(|m| m.id);
    direct::sqlx_query(GENERATION_SQL, &generation_params(chat, message_id, reply, now)).execute(&mut **tx).await?;
    Ok(message)
}

/// Adds `reply` as the newest alternative of message `id` and selects it. The message's own
/// text becomes alternative 0 the first time.
async fn add_alternative(
    tx: &mut Transaction<'_, Any>,
    chat_id: ChatId,
    id: MessageId,
    reply: &NewMessage,
    now: Millis,
) -> Result<Option<Message>, StorageError> {
    let count: Option<i64> =
        sqlx::query_scalar("SELECT alternative_count FROM messages WHERE id = $1 AND chat_id = $2")
            .bind(id)
            .bind(chat_id)
            .fetch_optional(&mut **tx)
            .await?;
    let Some(count) = count else { return Ok(None) };
    if count == 1 {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO message_alternatives (message_id, position, {ALTERNATIVE_COLUMNS}) \
             SELECT id, 0, {ALTERNATIVE_COLUMNS} FROM messages WHERE id = $1"
        ));
        sqlx::query(sql).bind(id).execute(&mut **tx).await?;
    }
    let alternative = Alternative {
        content: reply.content.clone(),
        status: reply.status,
        model: reply.model.clone(),
        usage: reply.usage,
        usage_source: reply.usage_source,
        token_count: reply.token_count,
        created_at: now,
    };
    insert_alternative(tx, id, count, &alternative).await?;
    show_alternative(tx, id, count, count + 1, &alternative).await.map(Some)
}

/// Shows alternative `index` of a message with more than one; `NotFound` if there is none such.
pub async fn select_alternative(db: &Db, id: MessageId, index: i64) -> Result<Message, StorageError> {
    let mut tx = db.writer().begin().await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT message_id, {ALTERNATIVE_COLUMNS} FROM message_alternatives WHERE message_id = $1 AND position = $2"
    ));
    let row: AlternativeRow =
        sqlx::query_as(sql).bind(id).bind(index).fetch_optional(&mut *tx).await?.ok_or(StorageError::NotFound)?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM message_alternatives WHERE message_id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let message = show_alternative(&mut tx, id, index, count, &row.try_into()?).await?;
    tx.commit().await?;
    Ok(message)
}

/// Copies `alternative` into the message row as its selected one.
async fn show_alternative(
    tx: &mut Transaction<'_, Any>,
    id: MessageId,
    index: i64,
    count: i64,
    a: &Alternative,
) -> Result<Message, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE messages SET content = $2, status = $3, model = $4, prompt_tokens = $5, completion_tokens = $6, \
         token_count = $7, usage_source = $8, alternative_index = $9, alternative_count = $10, edited_at = NULL \
         WHERE id = $1 RETURNING {COLUMNS}"
    ));
    let row = sqlx::query(sql)
        .bind(id)
        .bind(a.content.as_str())
        .bind(a.status.to_db())
        .bind(a.model.as_deref())
        .bind(a.usage.prompt_tokens)
        .bind(a.usage.completion_tokens)
        .bind(a.token_count)
        .bind(a.usage_source.map(UsageSource::to_db))
        .bind(index)
        .bind(count)
        .fetch_one(&mut **tx)
        .await?;
    message_from(&row)
}

async fn insert_alternative(
    tx: &mut Transaction<'_, Any>,
    id: MessageId,
    position: i64,
    a: &Alternative,
) -> Result<(), StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO message_alternatives (message_id, position, {ALTERNATIVE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ));
    sqlx::query(sql)
        .bind(id)
        .bind(position)
        .bind(a.content.as_str())
        .bind(a.status.to_db())
        .bind(a.model.as_deref())
        .bind(a.usage.prompt_tokens)
        .bind(a.usage.completion_tokens)
        .bind(a.token_count)
        .bind(a.usage_source.map(UsageSource::to_db))
        .bind(a.created_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Replaces a message's text (and its selected alternative's), marking it edited. What it was
/// charged stays.
pub async fn edit(db: &Db, id: MessageId, content: &str, token_count: i64) -> Result<Message, StorageError> {
    let mut tx = db.writer().begin().await?;
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE messages SET content = $2, token_count = $3, edited_at = $4 WHERE id = $1 RETURNING {COLUMNS}"
    ));
    let row = sqlx::query(sql)
        .bind(id)
        .bind(content)
        .bind(token_count)
        .bind(now_millis())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StorageError::NotFound)?;
    let message = message_from(&row)?;
    sqlx::query(
        "UPDATE message_alternatives SET content = $2, token_count = $3 WHERE message_id = $1 AND position = $4",
    )
    .bind(id)
    .bind(content)
    .bind(token_count)
    .bind(message.alternative_index)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(message)
}

/// Deletes a message, and with `and_after` every later one of its chat; returns how many.
/// The ledger keeps what they cost (it is booked from user messages and generations as they
/// were stored). A rewind of many messages is a bulk write: `BATCH_ROWS` at a time, newest
/// first, so that whatever has been committed leaves the chat whole up to some message.
pub async fn delete(db: &Db, chat_id: ChatId, id: MessageId, and_after: bool) -> Result<u64, StorageError> {
    let mut deleted = 0;
    loop {
        let mut tx = db.writer().begin().await?;
        let done = sqlx::query(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE chat_id = $1 \
             AND (id = $2 OR ($3 = 1 AND id > $2)) ORDER BY id DESC LIMIT $4)",
        )
        .bind(chat_id)
        .bind(id)
        .bind(i16::from(and_after))
        .bind(BATCH_ROWS as i64)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE chats SET message_count = (SELECT COUNT(*) FROM messages WHERE chat_id = $1) WHERE id = $1",
        )
        .bind(chat_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        deleted += done.rows_affected();
        if done.rows_affected() < BATCH_ROWS as u64 {
            return Ok(deleted);
        }
        tokio::task::yield_now().await;
    }
}

/// The rows a transcript message takes: the message, and its alternatives when it has several.
pub fn rows_of(message: &TranscriptMessage) -> usize {
    1 + if message.alternatives.len() > 1 { message.alternatives.len() } else { 0 }
}

/// The bytes a transcript message adds to its account's storage, as migration 0015's
/// triggers count them: the shown text, and every alternative's when it has several.
pub fn stored_bytes(message: &TranscriptMessage) -> i64 {
    let alternatives: usize =
        if message.alternatives.len() > 1 { message.alternatives.iter().map(|a| a.content.len()).sum() } else { 0 };
    (message.shown().content.len() + alternatives) as i64
}

/// Stores `messages` at the end of `chat`, with their alternatives. `booked: false` for copies
/// and imports: the ledger counts none of them.
pub async fn insert_transcript(
    tx: &mut Transaction<'_, Any>,
    chat: &Chat,
    messages: &[TranscriptMessage],
    booked: bool,
) -> Result<(), StorageError> {
    let sql = format!(
        "INSERT INTO messages (chat_id, user_id, character_id, role, {ALTERNATIVE_COLUMNS}, alternative_index, \
         alternative_count, edited_at, booked) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id"
    );
    for message in messages {
        let shown = message.shown();
        let id: MessageId = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(chat.id)
            .bind(chat.user_id)
            .bind(chat.character_id)
            .bind(message.role.to_db())
            .bind(shown.content.as_str())
            .bind(shown.status.to_db())
            .bind(shown.model.as_deref())
            .bind(shown.usage.prompt_tokens)
            .bind(shown.usage.completion_tokens)
            .bind(shown.token_count)
            .bind(shown.usage_source.map(UsageSource::to_db))
            .bind(message.created_at)
            .bind(message.selected as i64)
            .bind(message.alternatives.len() as i64)
            .bind(message.edited_at)
            .bind(i16::from(booked))
            .fetch_one(&mut **tx)
            .await?;
        if message.alternatives.len() > 1 {
            for (position, alternative) in message.alternatives.iter().enumerate() {
                insert_alternative(tx, id, position as i64, alternative).await?;
            }
        }
    }
    Ok(())
}

/// Inserts a message into its chat if the chat still exists (`None` if not). The database's
/// triggers move the chat's counters and, for a user message, count it in the day's usage
/// within the same statement (see `migrations/*/0005_generations.sql`).
pub(super) async fn insert<'e>(
    executor: impl sqlx::Executor<'e, Database = Any>,
    chat: ChatKey,
    m: &NewMessage,
    now: Millis,
) -> Result<Option<Message>, StorageError> {
    let row = direct::sqlx_query(&INSERT_SQL, &insert_params(chat, m, now)).fetch_optional(executor).await?;
    row.as_ref().map(|row| message_from(row)).transpose()
}

/// The insert of a message (`insert`), as both drivers run it.
pub(super) static INSERT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO messages (chat_id, user_id, character_id, role, content, status, model, prompt_tokens, \
         completion_tokens, token_count, usage_source, upstream_latency_ms, created_at) \
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 \
         WHERE EXISTS (SELECT 1 FROM chats WHERE id = $1) RETURNING {COLUMNS}"
    )
});

pub(super) fn insert_params<'a>(chat: ChatKey, m: &'a NewMessage, now: Millis) -> [Param<'a>; 13] {
    [
        Param::Int(chat.id.get()),
        Param::Int(chat.user_id.get()),
        Param::Int(chat.character_id.get()),
        Param::Text(m.role.to_db()),
        Param::Text(&m.content),
        Param::Text(m.status.to_db()),
        Param::text_or_null(m.model.as_deref()),
        Param::Int(m.usage.prompt_tokens),
        Param::Int(m.usage.completion_tokens),
        Param::Int(m.token_count),
        Param::text_or_null(m.usage_source.map(UsageSource::to_db)),
        Param::int_or_null(m.upstream_latency_ms),
        Param::Int(now),
    ]
}

/// The record of a generation (which books its tokens), as both drivers run it.
pub(super) const GENERATION_SQL: &str = "INSERT INTO generations (user_id, chat_id, message_id, character_id, model, status, prompt_tokens, \
     completion_tokens, usage_source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(super) fn generation_params<'a>(
    chat: ChatKey,
    message: Option<MessageId>,
    reply: &'a NewMessage,
    now: Millis,
) -> [Param<'a>; 10] {
    [
        Param::Int(chat.user_id.get()),
        Param::Int(chat.id.get()),
        Param::int_or_null(message.map(MessageId::get)),
        Param::Int(chat.character_id.get()),
        Param::Text(reply.model.as_deref().unwrap_or_default()),
        Param::Text(reply.status.to_db()),
        Param::Int(reply.usage.prompt_tokens),
        Param::Int(reply.usage.completion_tokens),
        Param::text_or_null(reply.usage_source.map(UsageSource::to_db)),
        Param::Int(now),
    ]
}
