//! Revoked session tokens. A token is valid until it expires unless its `jti` is listed here.

use super::{Db, StorageError};
use crate::{clock::Millis, domain::UserId};

/// Revokes a token; revoking twice is harmless.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn revoke(db: &Db, jti: &str, user_id: UserId, expires_at: Millis) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO revoked_tokens (jti, user_id, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (jti) DO NOTHING",
    )
    .bind(jti)
    .bind(user_id)
    .bind(expires_at)
    .execute(db.writer())
    .await?;
    Ok(())
}

/// Forgets revocations of tokens that have expired anyway; returns how many.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn purge_expired(db: &Db, now: Millis) -> Result<u64, StorageError> {
    let done = sqlx::query("DELETE FROM revoked_tokens WHERE expires_at < $1").bind(now).execute(db.writer()).await?;
    Ok(done.rows_affected())
}
