//! What admins read: users with totals, chats across users, statistics, the live feed's
//! last minute, and announcements. Every figure comes from the usage ledger, which the
//! database's triggers keep in step with every stored message and chat (migration 0003):
//! `usage_days` (per day), `usage_user_days` (per user and day), `usage_character_days`,
//! `usage_model_days` and `user_totals`.

use std::collections::HashMap;

use sqlx::FromRow;

use super::{Db, Engine, StorageError, flag, like_pattern};
use crate::{
    clock::Millis,
    domain::{User, UserId},
};

/// Sort orders of the user list; each maps to a fixed `ORDER BY`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOrder {
    Newest,
    Username,
    Tokens,
    LastActive,
}

impl UserOrder {
    fn sql(self) -> &'static str {
        match self {
            Self::Newest => "u.id DESC",
            Self::Username => "lower(u.username), u.id",
            Self::Tokens => "t.total_tokens DESC, t.user_id",
            Self::LastActive => "COALESCE(u.last_active_at, 0) DESC, u.id",
        }
    }
}

#[derive(FromRow)]
pub struct UserStatsRow {
    pub id: i64,
    pub username: String,
    pub email: Option<String>,
    pub is_admin: i16,
    pub disabled: i16,
    pub daily_token_quota: Option<i64>,
    pub created_at: i64,
    pub last_active_at: Option<i64>,
    pub chats: i64,
    pub messages: i64,
    pub total_tokens: i64,
    pub tokens_today: i64,
}

impl UserStatsRow {
    pub fn is_admin(&self) -> bool {
        flag(self.is_admin)
    }

    pub fn disabled(&self) -> bool {
        flag(self.disabled)
    }
}

const USER_FILTER: &str = "WHERE ($1 = '' OR lower(u.username) LIKE $1 ESCAPE '\\' \
                           OR lower(COALESCE(u.email, '')) LIKE $1 ESCAPE '\\')";

/// Users matching `query` (username or email), with lifetime totals and today's tokens.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_users(
    db: &Db,
    query: &str,
    order: UserOrder,
    today: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UserStatsRow>, i64), StorageError> {
    let pattern = if query.trim().is_empty() { String::new() } else { like_pattern(&query.trim().to_lowercase()) };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT u.id, u.username, u.email, u.is_admin, u.disabled, u.daily_token_quota, u.created_at, u.last_active_at, \
         t.chats, t.messages, t.total_tokens, \
         COALESCE(d.prompt_tokens + d.completion_tokens, 0) AS tokens_today \
         FROM user_totals t JOIN users u ON u.id = t.user_id \
         LEFT JOIN usage_user_days d ON d.user_id = u.id AND d.day = $2 {USER_FILTER} \
         ORDER BY {} LIMIT $3 OFFSET $4",
        order.sql()
    ));
    let rows: Vec<UserStatsRow> =
        sqlx::query_as(sql).bind(&pattern).bind(today).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM users u {USER_FILTER}"));
    let total: i64 = sqlx::query_scalar(count).bind(&pattern).fetch_one(db.pool()).await?;
    Ok((rows, total))
}

/// What an admin may change about a user; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserChange {
    pub is_admin: Option<bool>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears the quota (unlimited).
    pub daily_token_quota: Option<Option<i64>>,
}

/// Applies `change`, unless it would leave no active admin (`Conflict`). Taking admin rights
/// or access away first locks the active admins' rows (PostgreSQL; SQLite runs one write at a
/// time anyway), so two admins demoting each other at once cannot both succeed.
#[tracing::instrument(skip_all, fields(user.id = id), err(level = "warn"))]
pub async fn change_user(db: &Db, id: UserId, change: &UserChange) -> Result<(), StorageError> {
    let mut tx = db.writer().begin().await?;
    let steps_down = change.is_admin == Some(false) || change.disabled == Some(true);
    if steps_down {
        if db.engine() == Engine::Postgres {
            sqlx::query("SELECT id FROM users WHERE is_admin = 1 AND disabled = 0 FOR UPDATE")
                .fetch_all(&mut *tx)
                .await?;
        }
        let others: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0 AND id <> $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if others == 0 {
            return Err(StorageError::Conflict);
        }
    }
    let done = sqlx::query(
        "UPDATE users SET is_admin = COALESCE($2, is_admin), disabled = COALESCE($3, disabled), \
         daily_token_quota = CASE WHEN $4 = 1 THEN $5 ELSE daily_token_quota END WHERE id = $1",
    )
    .bind(id)
    .bind(change.is_admin.map(i16::from))
    .bind(change.disabled.map(i16::from))
    .bind(i16::from(change.daily_token_quota.is_some()))
    .bind(change.daily_token_quota.flatten())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

pub async fn find_user(db: &Db, id: UserId) -> Result<Option<User>, StorageError> {
    super::users::find_by_id(db, id).await
}

#[derive(FromRow)]
pub struct AdminChatRow {
    pub id: i64,
    pub user_id: i64,
    pub username: String,
    pub character_id: i64,
    pub character_name: String,
    pub title: String,
    pub model: String,
    pub created_at: i64,
    pub last_message_at: i64,
    pub message_count: i64,
    pub total_tokens: i64,
}

/// What the conversation browser narrows by; empty fields do not filter.
#[derive(Debug, Default)]
pub struct ChatFilter {
    pub user_id: Option<UserId>,
    pub character_id: Option<i64>,
    /// Activity from this instant (inclusive) …
    pub from: Option<Millis>,
    /// … to this one (exclusive).
    pub to: Option<Millis>,
    /// Substring of the title, the character's name or any message.
    pub text: Option<String>,
}

const CHAT_WHERE: &str = "WHERE ($1 = 0 OR c.user_id = $1) AND ($2 = 0 OR c.character_id = $2) \
     AND c.last_message_at >= $3 AND c.created_at < $4 \
     AND ($5 = '' OR lower(c.title) LIKE $5 ESCAPE '\\' OR lower(ch.name) LIKE $5 ESCAPE '\\' \
          OR EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id AND lower(m.content) LIKE $5 ESCAPE '\\'))";

/// Chats across users, latest activity first, with their stored messages' tokens.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_chats(
    db: &Db,
    filter: &ChatFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AdminChatRow>, i64), StorageError> {
    let text = filter.text.as_deref().map(|t| like_pattern(&t.to_lowercase())).unwrap_or_default();
    let (user, character) = (filter.user_id.unwrap_or(0), filter.character_id.unwrap_or(0));
    let (from, to) = (filter.from.unwrap_or(i64::MIN), filter.to.unwrap_or(i64::MAX));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT c.id, c.user_id, u.username, c.character_id, ch.name AS character_name, c.title, c.model, \
         c.created_at, c.last_message_at, c.message_count, \
         COALESCE((SELECT CAST(SUM(m.prompt_tokens + m.completion_tokens) AS BIGINT) FROM messages m \
                   WHERE m.chat_id = c.id), 0) AS total_tokens \
         FROM chats c JOIN users u ON u.id = c.user_id JOIN characters ch ON ch.id = c.character_id \
         {CHAT_WHERE} ORDER BY c.last_message_at DESC, c.id DESC LIMIT $6 OFFSET $7"
    ));
    let rows: Vec<AdminChatRow> = sqlx::query_as(sql)
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

pub async fn chat_exists(db: &Db, id: i64) -> Result<bool, StorageError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM chats WHERE id = $1").bind(id).fetch_optional(db.pool()).await?;
    Ok(found.is_some())
}

/// A day's ledger figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, FromRow)]
pub struct DayFigures {
    pub day: String,
    pub active_users: i64,
    pub chats: i64,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// One user's usage per day in `[from, to]` (days, inclusive); days without usage are absent.
#[tracing::instrument(skip_all, fields(user.id = user_id), err(level = "warn"))]
pub async fn user_days(db: &Db, user_id: UserId, from: &str, to: &str) -> Result<Vec<DayFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT day, CAST(1 AS BIGINT) AS active_users, chats, messages, prompt_tokens, completion_tokens \
         FROM usage_user_days WHERE user_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?)
}

/// Every day's figures over all users in `[from, to]`.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn days(db: &Db, from: &str, to: &str) -> Result<Vec<DayFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT day, active_users, chats, messages, prompt_tokens, completion_tokens \
         FROM usage_days WHERE day >= $1 AND day <= $2 ORDER BY day",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?)
}

/// Accounts created per UTC day in `[from, to)`, as (days since the epoch, count), and the
/// number of all accounts.
pub async fn signups(db: &Db, from: Millis, to: Millis) -> Result<(Vec<(i64, i64)>, i64), StorageError> {
    let per_day: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT created_at / 86400000 AS epoch_day, COUNT(*) FROM users \
         WHERE created_at >= $1 AND created_at < $2 GROUP BY created_at / 86400000",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(db.pool()).await?;
    Ok((per_day, all))
}

/// A ranked group of the ledger (a user, a character or a model) over a range.
#[derive(Clone, Debug, PartialEq, Eq, FromRow)]
pub struct GroupFigures {
    pub id: i64,
    pub name: String,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Every user with usage in the range and their figures there (one scan of the per-user days).
pub async fn users_in_range(db: &Db, from: &str, to: &str) -> Result<Vec<GroupFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT user_id AS id, '' AS name, CAST(SUM(messages) AS BIGINT) AS messages, \
         CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens \
         FROM usage_user_days WHERE day >= $1 AND day <= $2 GROUP BY user_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?)
}

/// Usernames of the given ids, in one query.
pub async fn usernames(db: &Db, ids: &[i64]) -> Result<HashMap<i64, String>, StorageError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = sqlx::AssertSqlSafe(format!("SELECT id, username FROM users WHERE id IN ({})", placeholders.join(", ")));
    let query = ids.iter().fold(sqlx::query_as::<_, (i64, String)>(sql), |q, id| q.bind(*id));
    Ok(query.fetch_all(db.pool()).await?.into_iter().collect())
}

pub async fn top_characters(db: &Db, from: &str, to: &str, limit: i64) -> Result<Vec<GroupFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT g.character_id AS id, ch.name AS name, g.messages, g.prompt_tokens, g.completion_tokens FROM \
         (SELECT character_id, CAST(SUM(messages) AS BIGINT) AS messages, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
          CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens FROM usage_character_days \
          WHERE day >= $1 AND day <= $2 GROUP BY character_id \
          ORDER BY SUM(prompt_tokens + completion_tokens) DESC, character_id LIMIT $3) g \
         JOIN characters ch ON ch.id = g.character_id ORDER BY g.prompt_tokens + g.completion_tokens DESC, g.character_id",
    )
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(db.pool())
    .await?)
}

/// Usage per model over the range (`id` is 0; `name` is the model id).
pub async fn by_model(db: &Db, from: &str, to: &str) -> Result<Vec<GroupFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT CAST(0 AS BIGINT) AS id, model AS name, CAST(SUM(messages) AS BIGINT) AS messages, \
         CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens \
         FROM usage_model_days WHERE day >= $1 AND day <= $2 GROUP BY model ORDER BY model",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?)
}

/// One CSV row: a user's figures on a day.
#[derive(Clone, Debug, FromRow)]
pub struct UserDayRow {
    pub day: String,
    pub user_id: i64,
    pub username: String,
    pub messages: i64,
    pub chats: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Every user's figures per day in the range, by day then user.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn user_day_rows(db: &Db, from: &str, to: &str) -> Result<Vec<UserDayRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT d.day, d.user_id, u.username, d.messages, d.chats, d.prompt_tokens, d.completion_tokens \
         FROM usage_user_days d JOIN users u ON u.id = d.user_id WHERE d.day >= $1 AND d.day <= $2 \
         ORDER BY d.day, d.user_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?)
}

/// User messages stored and tokens charged (generations) since `since`.
pub async fn activity_since(db: &Db, since: Millis) -> Result<(i64, i64), StorageError> {
    Ok(sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM messages WHERE role = 'user' AND created_at >= $1), \
         (SELECT CAST(COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS BIGINT) FROM generations \
          WHERE created_at >= $1)",
    )
    .bind(since)
    .fetch_one(db.pool())
    .await?)
}

#[derive(Clone, Debug, FromRow)]
pub struct AnnouncementRow {
    pub id: i64,
    pub text: String,
    pub level: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub async fn insert_announcement(
    db: &Db,
    author: UserId,
    text: &str,
    level: &str,
    created_at: Millis,
    expires_at: Millis,
) -> Result<AnnouncementRow, StorageError> {
    Ok(sqlx::query_as(
        "INSERT INTO announcements (author_id, text, level, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) \
         RETURNING id, text, level, created_at, expires_at",
    )
    .bind(author)
    .bind(text)
    .bind(level)
    .bind(created_at)
    .bind(expires_at)
    .fetch_one(db.writer())
    .await?)
}

pub async fn active_announcements(db: &Db, now: Millis) -> Result<Vec<AnnouncementRow>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT id, text, level, created_at, expires_at FROM announcements WHERE expires_at > $1 ORDER BY id DESC",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?)
}

pub async fn end_announcement(db: &Db, id: i64, now: Millis) -> Result<(), StorageError> {
    let done = sqlx::query("UPDATE announcements SET expires_at = $2 WHERE id = $1 AND expires_at > $2")
        .bind(id)
        .bind(now)
        .execute(db.writer())
        .await?;
    if done.rows_affected() == 0 { Err(StorageError::NotFound) } else { Ok(()) }
}
