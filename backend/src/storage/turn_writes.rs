//! Chat turns' writes — a user's message, a reply with its generation record — committed
//! together. One task takes every write waiting and runs them in one transaction, while the
//! next ones queue: a busy server commits once for many turns instead of once for each, and
//! the ledger's summary rows, which every turn's triggers update, are written to disk once per
//! commit rather than once per turn. A lone write costs what it did before (a user message is
//! one statement, a reply its own transaction).
//!
//! Each write is answered only after its transaction commits. If one write of a batch fails,
//! the batch is rolled back and each of its writes runs again alone, so a failure is only ever
//! its own write's. On SQLite the batches run through rusqlite on a connection of their own
//! (`direct`), every statement on the committing thread; meanwhile they hold `Db::writer`'s
//! one connection, so this process never has two writers waiting on each other.

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, TransactionBehavior};
use sqlx::Any;
use tokio::sync::{mpsc, oneshot};

use super::{
    Db, StorageError,
    direct::{self, Direct},
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
    let direct = match db.direct().map(Direct::writer) {
        Some(Ok(connection)) => Some(Arc::new(Mutex::new(connection))),
        Some(Err(e)) => {
            tracing::warn!(error = ?e, "no direct SQLite connection for turn writes; they go through sqlx");
            None
        }
        None => None,
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while writes.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let written = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        match &direct {
            // A regeneration's alternative is written through sqlx (`messages::write_reply`).
            Some(connection) if !written.iter().any(Write::is_alternative) => {
                match direct_batch(&db, connection, written).await {
                    Ok((written, results)) => answer(written, results),
                    // The writes are dropped unanswered: each asker is told it failed.
                    Err(e) => tracing::error!(error = ?e, "a batch of turn writes could not run"),
                }
            }
            _ => {
                let results = through_sqlx(&db, &written).await;
                answer(written, results);
            }
        }
    }
}

/// Tells each write its result.
fn answer(batch: Vec<Write>, results: Vec<Result<Option<Message>, StorageError>>) {
    for (write, result) in batch.into_iter().zip(results) {
        // The turn may have given up waiting; what it wrote stays written.
        let _ = write.done.send(result);
    }
}

/// `batch` through sqlx: together, and alone if that fails.
async fn through_sqlx(db: &Db, batch: &[Write]) -> Vec<Result<Option<Message>, StorageError>> {
    match batch {
        [one] => vec![alone(db, one).await],
        many => match together(db, many).await {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::info!(error = ?e, writes = many.len(), "a batch of turn writes failed; each runs alone");
                let mut results = Vec::with_capacity(many.len());
                for write in many {
                    results.push(alone(db, write).await);
                }
                results
            }
        },
    }
}

/// `batch` on SQLite's direct connection, on a blocking thread, while holding the writer.
async fn direct_batch(
    db: &Db,
    connection: &Arc<Mutex<Connection>>,
    batch: Vec<Write>,
) -> Result<(Vec<Write>, Vec<Result<Option<Message>, StorageError>>), StorageError> {
    let _writer = db.writer().acquire().await?;
    let connection = Arc::clone(connection);
    tokio::task::spawn_blocking(move || {
        let mut connection = connection.lock().expect("direct writer lock");
        let results = match direct_together(&mut connection, &batch) {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(e) => {
                tracing::info!(error = ?e, writes = batch.len(), "a batch of turn writes failed; each runs alone");
                batch.iter().map(|write| direct_alone(&mut connection, write)).collect()
            }
        };
        (batch, results)
    })
    .await
    .map_err(|e| StorageError::Corrupt(format!("the turn writes' committer stopped: {e}")))
}

fn direct_together(connection: &mut Connection, batch: &[Write]) -> Result<Vec<Option<Message>>, StorageError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let results = batch.iter().map(|write| direct_write(&tx, write)).collect::<Result<_, _>>()?;
    tx.commit()?;
    Ok(results)
}

fn direct_alone(connection: &mut Connection, write: &Write) -> Result<Option<Message>, StorageError> {
    let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let message = direct_write(&tx, write)?;
    tx.commit()?;
    Ok(message)
}

/// A user message, or a new reply (or none) and its generation record, on `connection`.
fn direct_write(connection: &Connection, write: &Write) -> Result<Option<Message>, StorageError> {
    let insert = || {
        let params = messages::insert_params(write.chat, &write.message, write.at);
        direct::first_row_on(connection, &messages::INSERT_SQL, &params, messages::message_from)
    };
    let target = match write.kind {
        Kind::UserMessage => return insert(),
        Kind::Reply(target) => target,
    };
    let message = match target {
        ReplyTarget::NewMessage => insert()?,
        ReplyTarget::Nowhere => None,
        ReplyTarget::Alternative(_) => unreachable!("alternatives are written through sqlx"),
    };
    let params = messages::generation_params(write.chat, message.as_ref().map(|m| m.id), &write.message, write.at);
    direct::execute_on(connection, messages::GENERATION_SQL, &params)?;
    Ok(message)
}

impl Write {
    fn is_alternative(&self) -> bool {
        matches!(self.kind, Kind::Reply(ReplyTarget::Alternative(_)))
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
