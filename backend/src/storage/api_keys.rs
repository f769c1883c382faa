//! API keys, each a user's own. The secret itself is never stored, only its hash.

use sqlx::FromRow;

use super::{Db, StorageError};
use crate::{
    clock::Millis,
    domain::{ApiKey, ApiKeyId, UserId},
};

const COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at, expires_at";

#[derive(FromRow)]
struct ApiKeyRow {
    id: ApiKeyId,
    user_id: UserId,
    name: String,
    prefix: String,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
        }
    }
}

/// The user's keys, newest first.
pub async fn list(db: &Db, user_id: UserId) -> Result<Vec<ApiKey>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY id DESC"));
    let rows: Vec<ApiKeyRow> = sqlx::query_as(sql).bind(user_id).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(ApiKey::from).collect())
}

/// Whether the user's key `id` exists (it is deleted when revoked).
pub async fn exists(db: &Db, id: ApiKeyId, user_id: UserId) -> Result<bool, StorageError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM api_keys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(found.is_some())
}

pub async fn count(db: &Db, user_id: UserId) -> Result<i64, StorageError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await?)
}

/// A key being stored.
pub struct NewApiKey<'a> {
    pub user_id: UserId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub secret_hash: &'a str,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
}

/// `Conflict` when the prefix is taken (the caller draws another secret).
#[tracing::instrument(skip_all, fields(user.id = %new.user_id), err(level = "info"))]
pub async fn insert(db: &Db, new: &NewApiKey<'_>) -> Result<ApiKey, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO api_keys (user_id, name, prefix, secret_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ));
    let row: ApiKeyRow = sqlx::query_as(sql)
        .bind(new.user_id)
        .bind(new.name)
        .bind(new.prefix)
        .bind(new.secret_hash)
        .bind(new.created_at)
        .bind(new.expires_at)
        .fetch_one(db.writer())
        .await
        .map_err(StorageError::from_insert)?;
    Ok(row.into())
}

/// Deletes the user's key `id`; `NotFound` when it is not theirs.
#[tracing::instrument(skip_all, fields(key.id = %id), err(level = "info"))]
pub async fn delete(db: &Db, id: ApiKeyId, user_id: UserId) -> Result<(), StorageError> {
    let done = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db.writer())
        .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Records when keys were last used (gathered in memory, written in one go).
pub async fn touch(db: &Db, used: &[(ApiKeyId, Millis)]) -> Result<(), StorageError> {
    let mut tx = db.writer().begin().await?;
    for (id, at) in used {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(*at)
        .bind(*id)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
