//! Personas, each a user's own; at most one a user is the default (a partial unique index).

use sqlx::{Any, FromRow, Transaction};

use super::{Db, StorageError, delete_owned, flag};
use crate::{
    clock::now_millis,
    domain::{Persona, PersonaDraft, PersonaId, UserId},
};

const COLUMNS: &str = "id, user_id, name, description, is_default, created_at";

#[derive(FromRow)]
struct PersonaRow {
    id: PersonaId,
    user_id: UserId,
    name: String,
    description: String,
    is_default: i16,
    created_at: i64,
}

impl From<PersonaRow> for Persona {
    fn from(r: PersonaRow) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id,
            fields: PersonaDraft { name: r.name, description: r.description, is_default: flag(r.is_default) },
            created_at: r.created_at,
        }
    }
}

/// The user's personas, oldest first.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(db: &Db, user_id: UserId) -> Result<Vec<Persona>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM personas WHERE user_id = $1 ORDER BY id"));
    let rows: Vec<PersonaRow> = sqlx::query_as(sql).bind(user_id).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(Persona::from).collect())
}

/// Persona `id` if it is the user's.
pub async fn find_owned(db: &Db, id: PersonaId, user_id: UserId) -> Result<Option<Persona>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM personas WHERE id = $1 AND user_id = $2"));
    let row: Option<PersonaRow> = sqlx::query_as(sql).bind(id).bind(user_id).fetch_optional(db.pool()).await?;
    Ok(row.map(Persona::from))
}

/// The user's default persona, if they chose one.
pub async fn find_default(db: &Db, user_id: UserId) -> Result<Option<Persona>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM personas WHERE user_id = $1 AND is_default = 1"));
    let row: Option<PersonaRow> = sqlx::query_as(sql).bind(user_id).fetch_optional(db.pool()).await?;
    Ok(row.map(Persona::from))
}

#[tracing::instrument(skip_all, fields(user.id = %user_id), err(level = "warn"))]
pub async fn insert(db: &Db, user_id: UserId, draft: &PersonaDraft) -> Result<Persona, StorageError> {
    let mut tx = db.writer().begin().await?;
    if draft.is_default {
        clear_default(&mut tx, user_id).await?;
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO personas (user_id, name, description, is_default, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ));
    let row: PersonaRow = sqlx::query_as(sql)
        .bind(user_id)
        .bind(draft.name.as_str())
        .bind(draft.description.as_str())
        .bind(i16::from(draft.is_default))
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(StorageError::from_insert)?;
    tx.commit().await?;
    Ok(row.into())
}

/// Replaces the user's persona `id`; `NotFound` when it is not theirs.
#[tracing::instrument(skip_all, fields(persona.id = %id), err(level = "warn"))]
pub async fn update(db: &Db, id: PersonaId, user_id: UserId, draft: &PersonaDraft) -> Result<Persona, StorageError> {
    let mut tx = db.writer().begin().await?;
    if draft.is_default {
        clear_default(&mut tx, user_id).await?;
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE personas SET name = $3, description = $4, is_default = $5 \
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    ));
    let row: Option<PersonaRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(user_id)
        .bind(draft.name.as_str())
        .bind(draft.description.as_str())
        .bind(i16::from(draft.is_default))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StorageError::from_insert)?;
    let row = row.ok_or(StorageError::NotFound)?;
    tx.commit().await?;
    Ok(row.into())
}

/// Deletes the user's persona `id`; chats that named it go back to the default persona.
#[tracing::instrument(skip_all, fields(persona.id = %id), err(level = "warn"))]
pub async fn delete(db: &Db, id: PersonaId, user_id: UserId) -> Result<(), StorageError> {
    let mut tx = db.writer().begin().await?;
    sqlx::query("UPDATE chats SET persona_id = NULL WHERE persona_id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    delete_owned(&mut tx, "personas", "user_id", id.get(), user_id).await?;
    tx.commit().await?;
    Ok(())
}

async fn clear_default(tx: &mut Transaction<'_, Any>, user_id: UserId) -> Result<(), StorageError> {
    sqlx::query("UPDATE personas SET is_default = 0 WHERE user_id = $1 AND is_default = 1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
