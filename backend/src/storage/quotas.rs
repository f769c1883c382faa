//! What each account stores against its storage quota. The database counts and checks (migration
//! 0015's triggers, and its `storage_accounts` view for the effective quota); this reads the
//! figures and writes the server's default.

use super::{Db, StorageError};
use crate::domain::UserId;

/// An account's storage: bytes stored, and its quota in bytes (`None`: unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageUse {
    pub used_bytes: i64,
    pub quota_bytes: Option<i64>,
}

impl StorageUse {
    /// Whether `more` bytes would take the account past its quota.
    pub fn would_pass(&self, more: i64) -> bool {
        self.quota_bytes.is_some_and(|quota| self.used_bytes + more > quota)
    }
}

/// The quota of accounts without one of their own, in MB (0: unlimited), as the triggers read it.
pub async fn set_default(db: &Db, quota_mb: i64) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO server_settings (name, value) VALUES ('storage_quota_bytes', $1) \
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    )
    .bind(quota_mb.saturating_mul(1024 * 1024))
    .execute(db.writer())
    .await?;
    Ok(())
}

/// `user`'s storage now; `NotFound` for no such account.
pub async fn of(db: &Db, user: UserId) -> Result<StorageUse, StorageError> {
    let (used_bytes, quota_bytes): (i64, i64) =
        sqlx::query_as("SELECT used_bytes, quota_bytes FROM storage_accounts WHERE user_id = $1")
            .bind(user)
            .fetch_optional(db.pool())
            .await?
            .ok_or(StorageError::NotFound)?;
    Ok(StorageUse { used_bytes, quota_bytes: (quota_bytes > 0).then_some(quota_bytes) })
}
