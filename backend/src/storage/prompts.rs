//! Shared prompts, placed before every character's prompt.

use sqlx::FromRow;

use super::{Db, StorageError, flag};
use crate::{
    clock::now_millis,
    domain::{PromptDraft, PromptId, SharedPrompt},
};

const COLUMNS: &str = "id, name, content, enabled, position, created_at, updated_at";
const ORDER: &str = "ORDER BY position, id";

#[derive(FromRow)]
struct PromptRow {
    id: PromptId,
    name: String,
    content: String,
    enabled: i16,
    position: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<PromptRow> for SharedPrompt {
    fn from(r: PromptRow) -> Self {
        Self {
            id: r.id,
            fields: PromptDraft { name: r.name, content: r.content, enabled: flag(r.enabled), position: r.position },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// In `position` order; disabled ones only when asked.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(db: &Db, include_disabled: bool) -> Result<Vec<SharedPrompt>, StorageError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM shared_prompts WHERE ($1 = 1 OR enabled = 1) {ORDER}"));
    let rows: Vec<PromptRow> = sqlx::query_as(sql).bind(i16::from(include_disabled)).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(SharedPrompt::from).collect())
}

/// The shared prompts' revision: one more on every change (migration 0013).
pub async fn revision(db: &Db) -> Result<i64, StorageError> {
    Ok(sqlx::query_scalar("SELECT revision FROM cache_revisions WHERE name = 'shared_prompts'")
        .fetch_one(db.pool())
        .await?)
}

#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn insert(db: &Db, draft: &PromptDraft) -> Result<SharedPrompt, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO shared_prompts (name, content, enabled, position, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
    ));
    let row: PromptRow = sqlx::query_as(sql)
        .bind(draft.name.as_str())
        .bind(draft.content.as_str())
        .bind(i16::from(draft.enabled))
        .bind(draft.position)
        .bind(now_millis())
        .fetch_one(db.writer())
        .await?;
    Ok(row.into())
}

#[tracing::instrument(skip_all, fields(prompt.id = %id), err(level = "warn"))]
pub async fn update(db: &Db, id: PromptId, draft: &PromptDraft) -> Result<SharedPrompt, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE shared_prompts SET name = $2, content = $3, enabled = $4, position = $5, updated_at = $6 \
         WHERE id = $1 RETURNING {COLUMNS}"
    ));
    let row: Option<PromptRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(draft.name.as_str())
        .bind(draft.content.as_str())
        .bind(i16::from(draft.enabled))
        .bind(draft.position)
        .bind(now_millis())
        .fetch_optional(db.writer())
        .await?;
    row.map(SharedPrompt::from).ok_or(StorageError::NotFound)
}

#[tracing::instrument(skip_all, fields(prompt.id = %id), err(level = "warn"))]
pub async fn delete(db: &Db, id: PromptId) -> Result<(), StorageError> {
    let done = sqlx::query("DELETE FROM shared_prompts WHERE id = $1").bind(id).execute(db.writer()).await?;
    if done.rows_affected() == 0 { Err(StorageError::NotFound) } else { Ok(()) }
}
