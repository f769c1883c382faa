//! Avatar images, in the database: every instance serves them and one backup holds everything.

use sqlx::{Any, Executor, FromRow};

use super::{Db, StorageError};
use crate::{clock::now_millis, domain::CharacterId};

/// An image as stored, with the tag that changes whenever it does.
#[derive(FromRow)]
pub struct StoredAvatar {
    pub content_type: String,
    pub image: Vec<u8>,
    pub etag: String,
}

/// Stores (or replaces) the avatar of character `id`.
#[tracing::instrument(skip_all, fields(character.id = %id), err(level = "warn"))]
pub async fn put(db: &Db, id: CharacterId, content_type: &str, image: &[u8]) -> Result<(), StorageError> {
    put_with(db.writer(), id, content_type, image).await
}

pub(super) async fn put_with<'e>(
    executor: impl Executor<'e, Database = Any>,
    id: CharacterId,
    content_type: &str,
    image: &[u8],
) -> Result<(), StorageError> {
    let now = now_millis();
    // A new tag for every new image: the time, and the size to tell two in one millisecond.
    let etag = format!("\"{now:x}-{:x}\"", image.len());
    sqlx::query(
        "INSERT INTO character_avatars (character_id, content_type, image, etag, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (character_id) DO UPDATE SET \
         content_type = excluded.content_type, image = excluded.image, etag = excluded.etag, \
         updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(content_type)
    .bind(image.to_vec())
    .bind(etag)
    .bind(now)
    .execute(executor)
    .await?;
    Ok(())
}

pub async fn find(db: &Db, id: CharacterId) -> Result<Option<StoredAvatar>, StorageError> {
    Ok(sqlx::query_as("SELECT content_type, image, etag FROM character_avatars WHERE character_id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?)
}

/// Only the tag, to answer a conditional request without reading the image.
pub async fn etag(db: &Db, id: CharacterId) -> Result<Option<String>, StorageError> {
    Ok(sqlx::query_scalar("SELECT etag FROM character_avatars WHERE character_id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?)
}

#[tracing::instrument(skip_all, fields(character.id = %id), err(level = "warn"))]
pub async fn delete(db: &Db, id: CharacterId) -> Result<(), StorageError> {
    sqlx::query("DELETE FROM character_avatars WHERE character_id = $1").bind(id).execute(db.writer()).await?;
    Ok(())
}
