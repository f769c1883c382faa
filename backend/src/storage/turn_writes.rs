//! Chat turns' writes — a user's message, a reply with its generation record — committed
//! together. One task takes every write waiting and runs them in one transaction, while the
//! next ones queue: a busy server commits once for many turns instead of once for each, and
//! the ledger's summary rows, which every turn's triggers update, are written to disk once per
//! commit rather than once per turn. A lone write costs what it did before (a user message is
//! one statement, a reply its own transaction).
//!
//! Each write is answered only after its transaction commits. If one write of a batch fails,
//! the batch is rolled back and each of its writes runs again alone, so a failure is only ever
//! its own write's.

use sqlx::Any;
use tokio::sync::{mpsc, oneshot};

use super::{
    Db, StorageError,
    messages::{self, ChatKey, NewMessage, ReplyTarget},
};
use crate::{
    clock::{Millis, now_millis},
    domain::Message,
};

/// The most writes one transaction takes.
const MAX_BATCH: usize = 64;
/// Writes waiting before the next one waits for room.
const QUEUE: usize = 4096;

/// Where chat turns' writes go (see the module docs). Clones share the one committing task.
#[derive(Clone)]
pub struct TurnWrites {
    queue: mpsc::Sender<Write>,
}

struct Write {
    chat: ChatKey,
    message: NewMessage,
    kind: Kind,
    at: Millis,
    done: oneshot::Sender<Result<Option<Message>, StorageError>>,
}

#[derive(Clone, Copy)]
enum Kind {
    UserMessage,
    Reply(ReplyTarget),
}

impl TurnWrites {
    /// Starts the task that commits the writes (it ends with the last clone).
    pub fn start(db: Db) -> Self {
        let (queue, writes) = mpsc::channel(QUEUE);
        tokio::spawn(commit_batches(db, writes));
        Self { queue }
    }

    /// Stores a user message; `None` when the chat is gone. Its triggers count it in the day's
    /// usage.
    #[tracing::instrument(skip_all, fields(chat.id = %chat.id), err(level = "warn"))]
    pub async fn user_message(&self, chat: ChatKey, message: NewMessage) -> Result<Option<Message>, StorageError> {
        self.write(chat, message, Kind::UserMessage).await
    }

    /// Stores a model's reply where `target` says, and its generation record, which books the
    /// reply's tokens in the ledger; when the chat or the message is gone, only the record
    /// (`None`): what the user was charged never depends on where the reply could go.
    #[tracing::instrument(skip_all, fields(chat.id = %chat.id), err(level = "warn"))]
    pub async fn reply(
        &self,
        chat: ChatKey,
        reply: NewMessage,
        target: ReplyTarget,
    ) -> Result<Option<Message>, StorageError> {
        self.write(chat, reply, Kind::Reply(target)).await
    }

    async fn write(&self, chat: ChatKey, message: NewMessage, kind: Kind) -> Result<Option<Message>, StorageError> {
        let (done, answer) = oneshot::channel();
        let write = Write { chat, message, kind, at: now_millis(), done };
        self.queue.send(write).await.map_err(|_| StorageError::Other(sqlx::Error::PoolClosed))?;
        answer.await.map_err(|_| StorageError::Other(sqlx::Error::PoolClosed))?
    }
}

/// Commits the waiting writes batch by batch until every sender is gone.
async fn commit_batches(db: Db, mut writes: mpsc::Receiver<Write>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while writes.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = match batch.as_slice() {
            [one] => vec![alone(&db, one).await],
            many => match together(&db, many).await {
                Ok(results) => results.into_iter().map(Ok).collect(),
                Err(e) => {
                    tracing::info!(error = ?e, writes = many.len(), "a batch of turn writes failed; each runs alone");
                    let mut results = Vec::with_capacity(many.len());
                    for write in many {
                        results.push(alone(&db, write).await);
                    }
                    results
                }
            },
        };
        for (write, result) in batch.drain(..).zip(results) {
            // The turn may have given up waiting; what it wrote stays written.
            let _ = write.done.send(result);
        }
    }
}

/// Every write of `batch` in one transaction.
async fn together(db: &Db, batch: &[Write]) -> Result<Vec<Option<Message>>, StorageError> {
    let mut tx = db.writer().begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for write in batch {
        results.push(write_in(&mut tx, write, write.kind).await?);
    }
    tx.commit().await?;
    Ok(results)
}

/// One write on its own: a user message as one statement, a reply in its own transaction.
async fn alone(db: &Db, write: &Write) -> Result<Option<Message>, StorageError> {
    let Kind::Reply(target) = write.kind else {
        return messages::insert(db.writer(), write.chat, &write.message, write.at).await;
    };
    match reply_alone(db, write, target).await {
        // PostgreSQL: a delete that committed after the insert's existence check; the chat is
        // gone, and only the generation is recorded.
        Err(StorageError::Other(sqlx::Error::Database(e))) if e.is_foreign_key_violation() => {
            reply_alone(db, write, ReplyTarget::Nowhere).await
        }
        other => other,
    }
}

async fn reply_alone(db: &Db, write: &Write, target: ReplyTarget) -> Result<Option<Message>, StorageError> {
    let mut tx = db.writer().begin().await?;
    let message = write_in(&mut tx, write, Kind::Reply(target)).await?;
    tx.commit().await?;
    Ok(message)
}

/// `write` in `tx`, as `kind` says.
async fn write_in(
    tx: &mut sqlx::Transaction<'_, Any>,
    write: &Write,
    kind: Kind,
) -> Result<Option<Message>, StorageError> {
    match kind {
        Kind::UserMessage => messages::insert(&mut **tx, write.chat, &write.message, write.at).await,
        Kind::Reply(target) => messages::write_reply(tx, write.chat, &write.message, target, write.at).await,
    }
}
