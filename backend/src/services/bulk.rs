//! Bulk writes: an import, a branch, a card import. Each account runs one at a time (429
//! `bulk_write_in_progress` for the next) and the server a few (`MAX_CONCURRENT_BULK_WRITES`;
//! 429 `bulk_writes_busy` past them), over every instance through `shared` leases. What they write goes in
//! bounded transactions (`storage::chats::create`), so other users' writes interleave.

use std::{sync::Arc, time::Duration};

use crate::{
    clock::now_millis,
    domain::UserId,
    error::AppError,
    shared::{Lease, Shared, Slots},
    storage::{Db, StorageError, chats},
};

/// The key of the server-wide cap among the per-user leases: no account has id 0.
const WHOLE_SERVER: UserId = UserId::new(0);
/// A hidden chat whose bulk write has not committed for this long was abandoned (its instance
/// died): batches commit every 20 ms or so while one runs.
const ABANDONED_AFTER: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct BulkWrites {
    per_account: Arc<dyn Slots>,
    whole_server: Arc<dyn Slots>,
}

/// Held while a bulk write runs; dropping it gives its places back.
pub struct BulkPermit {
    _account: Lease,
    _server: Lease,
}

impl BulkWrites {
    pub fn new(shared: &Shared, server_max: usize) -> Self {
        Self {
            per_account: shared.slots("bulk-writes", 1),
            whole_server: shared.slots("bulk-writes-server", server_max),
        }
    }

    /// A place for `user`'s bulk write, or why not.
    pub async fn admit(&self, user: UserId) -> Result<BulkPermit, AppError> {
        let account = self.per_account.acquire(user).await.ok_or(AppError::BulkWriteRunning)?;
        let server = self.whole_server.acquire(WHOLE_SERVER).await.ok_or(AppError::BulkWritesFull)?;
        Ok(BulkPermit { _account: account, _server: server })
    }
}

/// Removes what crashed bulk writes left hidden: at start-up every such chat when this process is
/// the only one (`shared` spans no instances), else those untouched for `ABANDONED_AFTER`; then
/// the latter once a minute, for instances that die while others run.
pub async fn clean_up_abandoned(db: &Db, shared: &Shared) -> Result<(), StorageError> {
    let before =
        if shared.spans_instances() { now_millis() - ABANDONED_AFTER.as_millis() as i64 } else { now_millis() };
    report(chats::delete_abandoned(db, before).await?);
    let db = db.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            match chats::delete_abandoned(&db, now_millis() - ABANDONED_AFTER.as_millis() as i64).await {
                Ok(removed) => report(removed),
                Err(e) => tracing::warn!(error = ?e, "could not remove abandoned bulk writes"),
            }
        }
    });
    Ok(())
}

fn report(removed: usize) {
    if removed > 0 {
        tracing::info!(removed, "removed chats that interrupted imports or deletions left hidden");
    }
}
