//! The statistics admins read, from the usage ledger, which the database's triggers keep in
//! step with every stored user message, chat and generation (migrations 0003 and 0005):
//! `usage_days` (per day), `usage_user_days` (per user and day), `usage_character_days`,
//! `usage_model_days` and `user_totals`.

use std::collections::HashMap;

use sqlx::FromRow;

use super::{Db, StorageError};
use crate::{
    clock::{Millis, day},
    domain::UserId,
};

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
#[tracing::instrument(skip_all, fields(user.id = %user_id), err(level = "warn"))]
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
         WHERE builtin = 0 AND created_at >= $1 AND created_at < $2 GROUP BY created_at / 86400000",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?;
    let all: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE builtin = 0").fetch_one(db.pool()).await?;
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
pub async fn usernames(db: &Db, ids: &[UserId]) -> Result<HashMap<UserId, String>, StorageError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    let sql = sqlx::AssertSqlSafe(format!("SELECT id, username FROM users WHERE id IN ({})", placeholders.join(", ")));
    let query = ids.iter().fold(sqlx::query_as::<_, (UserId, String)>(sql), |q, id| q.bind(*id));
    Ok(query.fetch_all(db.pool()).await?.into_iter().collect())
}

pub async fn top_characters(db: &Db, from: &str, to: &str, limit: i64) -> Result<Vec<GroupFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT g.character_id AS id, ch.name AS name, g.messages, g.prompt_tokens, g.completion_tokens FROM \
         (SELECT character_id, CAST(SUM(messages) AS BIGINT) AS messages, CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, \
          CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens FROM usage_character_days \
          WHERE day >= $1 AND day <= $2 AND character_id <> 0 GROUP BY character_id \
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

/// Usage per source (`chat`, `api`) in the range; `name` is the source.
pub async fn by_source(db: &Db, from: &str, to: &str) -> Result<Vec<GroupFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT CAST(0 AS BIGINT) AS id, source AS name, CAST(SUM(messages) AS BIGINT) AS messages, \
         CAST(SUM(prompt_tokens) AS BIGINT) AS prompt_tokens, CAST(SUM(completion_tokens) AS BIGINT) AS completion_tokens \
         FROM usage_source_days WHERE day >= $1 AND day <= $2 GROUP BY source ORDER BY source DESC",
    )
    .bind(from)
    .bind(to)
    .fetch_all(db.pool())
    .await?)
}

/// A system's figures in a range: its users with usage there, and their usage.
#[derive(Clone, Debug, FromRow)]
pub struct SystemFigures {
    pub system_id: String,
    pub users: i64,
    pub messages: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Usage of each system's users in the range, from the per-user days (most tokens first).
/// From the systems' users to their days (`CROSS JOIN` keeps SQLite in that order, rather than
/// reading every user's days of the range first).
pub async fn by_system(db: &Db, from: &str, to: &str) -> Result<Vec<SystemFigures>, StorageError> {
    Ok(sqlx::query_as(
        "SELECT u.system_id, COUNT(DISTINCT u.id) AS users, CAST(SUM(d.messages) AS BIGINT) AS messages, \
         CAST(SUM(d.prompt_tokens) AS BIGINT) AS prompt_tokens, \
         CAST(SUM(d.completion_tokens) AS BIGINT) AS completion_tokens \
         FROM users u CROSS JOIN usage_user_days d \
         WHERE d.user_id = u.id AND d.day >= $1 AND d.day <= $2 AND u.system_id IS NOT NULL \
         GROUP BY u.system_id ORDER BY SUM(d.prompt_tokens + d.completion_tokens) DESC, u.system_id",
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
    pub user_id: UserId,
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

/// Tokens the user was charged today (UTC), for the daily quota.
#[tracing::instrument(skip_all, fields(user.id = %user_id), err(level = "warn"))]
pub async fn tokens_on(db: &Db, user_id: UserId, at: Millis) -> Result<i64, StorageError> {
    let used: Option<i64> = sqlx::query_scalar(
        "SELECT prompt_tokens + completion_tokens FROM usage_user_days WHERE user_id = $1 AND day = $2",
    )
    .bind(user_id)
    .bind(day(at))
    .fetch_optional(db.pool())
    .await?;
    Ok(used.unwrap_or(0))
}
