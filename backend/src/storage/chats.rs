//! Chats. Creating one books it in the usage ledger through the database's triggers, in the
//! same statement (unless it is a branch or an import); its messages are `storage::messages`.

use std::{sync::LazyLock, time::Instant};

use sqlx::{Any, Executor, FromRow, Transaction};

use super::{
    BATCH_ROWS, BATCH_TIME, Db, StorageError,
    direct::{Columns, Param},
    messages,
};
use crate::{
    clock::{Millis, now_millis},
    domain::{CharacterId, Chat, ChatId, DayRange, LorebookId, PersonaId, Speaker, TranscriptMessage, UserId},
};

const CHAT_COLUMNS: &str = "c.id, c.user_id, c.character_id, ch.name AS character_name, c.title, c.model, \
                            c.dify_conversation_id, c.message_count, c.created_at, c.last_message_at, c.persona_id";
/// Chats people see: not one a bulk write is still filling (or emptying, see `delete`).
const CHAT_FROM: &str = "FROM chats c JOIN characters ch ON ch.id = c.character_id AND c.bulk_write_at IS NULL";
/// Every chat, the hidden ones too.
const ANY_CHAT_FROM: &str = "FROM chats c JOIN characters ch ON ch.id = c.character_id";

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
    persona_id: Option<PersonaId>,
}

impl ChatRow {
    /// The chat, with the lorebooks it uses.
    fn with(self, lorebook_ids: Vec<LorebookId>) -> Chat {
        Chat {
            id: self.id,
            user_id: self.user_id,
            character_id: self.character_id,
            character_name: self.character_name,
            title: self.title,
            model: self.model,
            dify_conversation_id: self.dify_conversation_id,
            message_count: self.message_count,
            created_at: self.created_at,
            last_message_at: self.last_message_at,
            persona_id: self.persona_id,
            lorebook_ids,
        }
    }
}

/// A chat about to be created.
pub struct NewChat<'a> {
    pub user_id: UserId,
    pub character_id: CharacterId,
    pub title: &'a str,
    pub model: &'a str,
    pub persona_id: Option<PersonaId>,
    /// Whether the ledger counts it as a chat started (branches and imports are not).
    pub booked: bool,
}

/// Creates a chat holding `messages` (a greeting, a branch's copies, an import). Only a booked
/// chat counts in the ledger; its messages count if `booked` too. A chat of more than
/// `BATCH_ROWS` rows is written in bounded transactions (`fill`) and shown when the last commits;
/// if one fails, nothing of it stays.
#[tracing::instrument(skip_all, fields(user.id = %new.user_id, messages = messages.len()), err(level = "warn"))]
pub async fn create(db: &Db, new: &NewChat<'_>, messages: &[TranscriptMessage]) -> Result<Chat, StorageError> {
    let rows: usize = messages.iter().map(messages::rows_of).sum();
    let in_one = rows <= BATCH_ROWS;
    let mut tx = db.writer().begin().await?;
    let id: ChatId = sqlx::query_scalar(
        "INSERT INTO chats (user_id, character_id, title, model, created_at, last_message_at, booked, persona_id, \
         bulk_write_at) VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8) RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.character_id)
    .bind(new.title)
    .bind(new.model)
    .bind(now_millis())
    .bind(i16::from(new.booked))
    .bind(new.persona_id)
    .bind((!in_one).then(now_millis))
    .fetch_one(&mut *tx)
    .await?;
    let chat = fetch_chat(&mut tx, id).await?;
    if in_one {
        messages::insert_transcript(&mut tx, &chat, messages, new.booked).await?;
        let chat = fetch_chat(&mut tx, id).await?;
        tx.commit().await?;
        return Ok(chat);
    }
    tx.commit().await?;
    if let Err(e) = fill(db, &chat, messages, new.booked).await {
        if let Err(cleanup) = delete_hidden(db, id).await {
            tracing::warn!(chat.id = %id, error = ?cleanup, "could not remove a failed bulk write; start-up will");
        }
        return Err(e);
    }
    // Read back through a reader: the writer is others' again.
    let mut tx = db.pool().begin().await?;
    let chat = fetch_chat(&mut tx, id).await?;
    tx.commit().await?;
    Ok(chat)
}

/// Writes `messages` into the hidden `chat`, each transaction at most `BATCH_ROWS` rows or
/// `BATCH_TIME` long; the last one shows the chat.
async fn fill(db: &Db, chat: &Chat, messages: &[TranscriptMessage], booked: bool) -> Result<(), StorageError> {
    let mut rest = messages;
    while !rest.is_empty() {
        let (started, mut rows, mut taken) = (Instant::now(), 0, 0);
        let mut tx = db.writer().begin().await?;
        for message in rest {
            messages::insert_transcript(&mut tx, chat, std::slice::from_ref(message), booked).await?;
            rows += messages::rows_of(message);
            taken += 1;
            if rows >= BATCH_ROWS || started.elapsed() >= BATCH_TIME {
                break;
            }
        }
        rest = &rest[taken..];
        let bulk_write_at = (!rest.is_empty()).then(now_millis);
        sqlx::query("UPDATE chats SET bulk_write_at = $2 WHERE id = $1")
            .bind(chat.id)
            .bind(bulk_write_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Let the writers queued meanwhile go first.
        tokio::task::yield_now().await;
    }
    Ok(())
}

async fn fetch_chat(tx: &mut Transaction<'_, Any>, id: ChatId) -> Result<Chat, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CHAT_COLUMNS} {ANY_CHAT_FROM} WHERE c.id = $1"));
    let row: ChatRow = sqlx::query_as(sql).bind(id).fetch_one(&mut **tx).await?;
    let lorebooks = lorebooks_of(&mut **tx, id).await?;
    Ok(row.with(lorebooks))
}

/// The lorebooks chat `id` uses, in order.
async fn lorebooks_of<'e>(
    executor: impl Executor<'e, Database = Any>,
    id: ChatId,
) -> Result<Vec<LorebookId>, StorageError> {
    Ok(sqlx::query_scalar("SELECT lorebook_id FROM chat_lorebooks WHERE chat_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(executor)
        .await?)
}

/// A chat of `user_id`'s; `None` for other users' chats, as for missing ones.
#[tracing::instrument(skip_all, fields(chat.id = %id, user.id = %user_id), err(level = "warn"))]
pub async fn find_owned(db: &Db, id: ChatId, user_id: UserId) -> Result<Option<Chat>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CHAT_COLUMNS} {CHAT_FROM} WHERE c.id = $1 AND c.user_id = $2"));
    let row: Option<ChatRow> = sqlx::query_as(sql).bind(id).bind(user_id).fetch_optional(db.pool()).await?;
    match row {
        Some(row) => Ok(Some(row.with(lorebooks_of(db.pool(), id).await?))),
        None => Ok(None),
    }
}

/// A chat's history as far as a cached copy needs to know: a new message moves the count, a
/// changed or deleted one the revision (migration 0013's triggers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryStamp {
    pub revision: i64,
    pub message_count: i64,
}

/// What a chat turn reads about its chat in one round trip: the chat, who its user speaks as,
/// and the revisions of what the turn takes from the server's caches (`services::turns`).
#[derive(Clone, Debug)]
pub struct ChatForTurn {
    pub chat: Chat,
    /// The chat's persona if it is the user's, else the user's default one; `None`: neither.
    pub persona: Option<Speaker>,
    pub character_revision: i64,
    /// The chat's lorebooks in its order, each with its revision.
    pub lorebooks: Vec<(LorebookId, i64)>,
    pub prompts_revision: i64,
    pub history: HistoryStamp,
}

/// Chat `id` of `user_id`'s for a turn (see `ChatForTurn`); `None` for other users' chats, as
/// for missing ones.
#[tracing::instrument(skip_all, fields(chat.id = %id, user.id = %user_id), err(level = "warn"))]
pub async fn for_turn(db: &Db, id: ChatId, user_id: UserId) -> Result<Option<ChatForTurn>, StorageError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {CHAT_COLUMNS}, c.history_revision, ch.revision AS character_revision, \
             p.name AS persona_name, p.description AS persona_description, \
             (SELECT string_agg(CAST(l.id AS TEXT) || ':' || CAST(l.revision AS TEXT), ',' ORDER BY cl.position) \
              FROM chat_lorebooks cl JOIN lorebooks l ON l.id = cl.lorebook_id WHERE cl.chat_id = c.id) AS lorebooks, \
             (SELECT revision FROM cache_revisions WHERE name = 'shared_prompts') AS prompts_revision \
             {CHAT_FROM} LEFT JOIN personas p ON p.id = COALESCE(\
              (SELECT id FROM personas WHERE id = c.persona_id AND user_id = c.user_id), \
              (SELECT id FROM personas WHERE user_id = c.user_id AND is_default = 1)) \
             WHERE c.id = $1 AND c.user_id = $2"
        )
    });
    db.first_row(SQL.as_str(), &[Param::Int(id.get()), Param::Int(user_id.get())], chat_for_turn).await
}

fn chat_for_turn(row: &dyn Columns) -> Result<ChatForTurn, StorageError> {
    let id = ChatId::new(row.int("id")?);
    let lorebooks = parse_revisions(row.text_or_null("lorebooks")?.as_deref().unwrap_or_default())
        .ok_or_else(|| StorageError::Corrupt(format!("the lorebooks of chat {id}")))?;
    let chat = Chat {
        id,
        user_id: UserId::new(row.int("user_id")?),
        character_id: CharacterId::new(row.int("character_id")?),
        character_name: row.text("character_name")?,
        title: row.text("title")?,
        model: row.text("model")?,
        dify_conversation_id: row.text_or_null("dify_conversation_id")?,
        message_count: row.int("message_count")?,
        created_at: row.int("created_at")?,
        last_message_at: row.int("last_message_at")?,
        persona_id: row.int_or_null("persona_id")?.map(PersonaId::new),
        lorebook_ids: lorebooks.iter().map(|(id, _)| *id).collect(),
    };
    let persona = match row.text_or_null("persona_name")? {
        Some(name) => Some(Speaker { name, description: row.text_or_null("persona_description")?.unwrap_or_default() }),
        None => None,
    };
    Ok(ChatForTurn {
        history: HistoryStamp { revision: row.int("history_revision")?, message_count: chat.message_count },
        chat,
        persona,
        character_revision: row.int("character_revision")?,
        lorebooks,
        prompts_revision: row.int("prompts_revision")?,
    })
}

/// `id:revision` pairs separated by commas (both engines' `string_agg`).
fn parse_revisions(text: &str) -> Option<Vec<(LorebookId, i64)>> {
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (id, revision) = pair.split_once(':')?;
            Some((LorebookId::new(id.parse().ok()?), revision.parse().ok()?))
        })
        .collect()
}

/// The user's chats (those active within `window`, if given), latest activity first.
#[tracing::instrument(skip_all, fields(user.id = %user_id), err(level = "warn"))]
pub async fn list_owned(
    db: &Db,
    user_id: UserId,
    window: Option<&DayRange>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Chat>, i64), StorageError> {
    let (from, to) = window.map_or((i64::MIN, i64::MAX), |days| (days.start_millis(), days.end_millis()));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CHAT_COLUMNS} {CHAT_FROM} WHERE c.user_id = $1 AND c.last_message_at >= $2 AND c.created_at < $3 \
         ORDER BY c.last_message_at DESC, c.id DESC LIMIT $4 OFFSET $5"
    ));
    let rows: Vec<ChatRow> =
        sqlx::query_as(sql).bind(user_id).bind(from).bind(to).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM chats WHERE user_id = $1 AND last_message_at >= $2 AND created_at < $3 \
         AND bulk_write_at IS NULL",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_one(db.pool())
    .await?;
    // Every lorebook the user's chats use, in one query (at most 20 a chat).
    let attached: Vec<(ChatId, LorebookId)> = sqlx::query_as(
        "SELECT l.chat_id, l.lorebook_id FROM chat_lorebooks l JOIN chats c ON c.id = l.chat_id \
         WHERE c.user_id = $1 ORDER BY l.chat_id, l.position",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await?;
    let chats = rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            row.with(attached.iter().filter(|(chat, _)| *chat == id).map(|(_, book)| *book).collect())
        })
        .collect();
    Ok((chats, total))
}

/// The system of the chat's owner: `None` for no such chat, `Some(None)` for an account's own.
pub async fn owner_system(db: &Db, id: ChatId) -> Result<Option<Option<String>>, StorageError> {
    Ok(sqlx::query_scalar("SELECT u.system_id FROM chats c JOIN users u ON u.id = c.user_id WHERE c.id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?)
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

/// Who the user is in chat `id`; `None`: their default persona.
#[tracing::instrument(skip_all, fields(chat.id = %id), err(level = "warn"))]
pub async fn set_persona(db: &Db, id: ChatId, persona_id: Option<PersonaId>) -> Result<(), StorageError> {
    sqlx::query("UPDATE chats SET persona_id = $2 WHERE id = $1")
        .bind(id)
        .bind(persona_id)
        .execute(db.writer())
        .await?;
    Ok(())
}

/// Deletes a chat and its messages; the usage ledger keeps what they cost. The chat is hidden
/// first, then emptied in bounded transactions (a long chat is a bulk write too); a crash
/// midway leaves a hidden chat that `delete_abandoned` removes.
#[tracing::instrument(skip_all, fields(chat.id = %id), err(level = "warn"))]
pub async fn delete(db: &Db, id: ChatId) -> Result<(), StorageError> {
    sqlx::query("UPDATE chats SET bulk_write_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now_millis())
        .execute(db.writer())
        .await?;
    delete_hidden(db, id).await
}

/// Removes hidden chat `id`: its messages `BATCH_ROWS` at a time, then the chat.
async fn delete_hidden(db: &Db, id: ChatId) -> Result<(), StorageError> {
    loop {
        let done = sqlx::query(
            "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE chat_id = $1 ORDER BY id DESC LIMIT $2)",
        )
        .bind(id)
        .bind(BATCH_ROWS as i64)
        .execute(db.writer())
        .await?;
        if done.rows_affected() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    let mut tx = db.writer().begin().await?;
    sqlx::query("DELETE FROM chat_lorebooks WHERE chat_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM chats WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the chats a bulk write left hidden and has not touched since `before` (a crash,
/// or a failure whose cleanup failed too); returns how many.
pub async fn delete_abandoned(db: &Db, before: Millis) -> Result<usize, StorageError> {
    let ids: Vec<ChatId> =
        sqlx::query_scalar("SELECT id FROM chats WHERE bulk_write_at IS NOT NULL AND bulk_write_at < $1")
            .bind(before)
            .fetch_all(db.pool())
            .await?;
    for id in &ids {
        delete_hidden(db, *id).await?;
    }
    Ok(ids.len())
}

pub async fn set_dify_conversation(db: &Db, id: ChatId, conversation_id: &str) -> Result<(), StorageError> {
    sqlx::query("UPDATE chats SET dify_conversation_id = $2 WHERE id = $1")
        .bind(id)
        .bind(conversation_id)
        .execute(db.writer())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lorebook_revisions_read_back_in_order() {
        let book = |id, revision| (LorebookId::new(id), revision);
        assert_eq!(parse_revisions("7:0,3:12"), Some(vec![book(7, 0), book(3, 12)]));
        assert_eq!(parse_revisions(""), Some(vec![]));
        assert_eq!(parse_revisions("7"), None);
        assert_eq!(parse_revisions("7:x"), None);
    }
}
