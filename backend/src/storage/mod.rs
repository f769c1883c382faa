//! Persistence: one query set for SQLite and PostgreSQL through sqlx's `Any` driver.
//!
//! Schema discipline that keeps the SQL portable (see `docs/design/storage.md`): times are
//! BIGINT epoch milliseconds, booleans SMALLINT, aggregates cast to BIGINT, `$n` placeholders,
//! `RETURNING` instead of last-insert ids.

pub mod announcements;
pub mod api_keys;
pub mod avatars;
pub mod characters;
pub mod chats;
pub mod conversations;
pub mod direct;
pub mod generations;
pub mod lorebooks;
pub mod messages;
pub mod personas;
pub mod prompts;
pub mod quotas;
pub mod revocations;
pub mod rooms;
pub mod seed;
pub mod stats;
pub mod systems;
pub mod text;
pub mod turn_writes;
pub mod users;

use std::{path::Path, str::FromStr, sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::{AnyPool, Executor, any::AnyPoolOptions, migrate::Migrator};

use self::direct::{Columns, Direct, Param};

/// Rows a bulk write commits at most in one transaction, and the time it spends at most in one:
/// between its transactions other writers get the database (SQLite has one writer at a time).
/// Measured with `--bench imports`: 50 ms let another user's turns wait 117 ms at p99, 20 ms 57.
const BATCH_ROWS: usize = 1_000;
const BATCH_TIME: Duration = Duration::from_millis(20);

/// How long a request waits for a pooled connection by default (`DATABASE_WAIT_SECS`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    #[error("conflicts with an existing row")]
    Conflict,
    /// A stored value this version cannot read.
    #[error("unreadable row: {0}")]
    Corrupt(String),
    /// No connection within the pool's wait (`Db::open`): the database is busy.
    #[error("no database connection came free in time")]
    Busy,
    /// The write would take its account past its storage quota (refused by the database's
    /// triggers, migration 0015): nothing of it was stored.
    #[error("the storage quota is used up")]
    StorageQuotaExceeded,
    #[error(transparent)]
    Other(sqlx::Error),
    /// From a direct SQLite read or write (`direct`, `turn_writes`).
    #[error(transparent)]
    Sqlite(rusqlite::Error),
}

/// What the storage triggers raise for a write past its account's quota (migration 0015).
const QUOTA_RAISED: &str = "storage_quota_exceeded";

impl From<sqlx::Error> for StorageError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut => Self::Busy,
            sqlx::Error::Database(db) if db.message().contains(QUOTA_RAISED) => Self::StorageQuotaExceeded,
            _ => Self::Other(err),
        }
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(err: rusqlite::Error) -> Self {
        match &err {
            rusqlite::Error::SqliteFailure(_, Some(message)) if message.contains(QUOTA_RAISED) => {
                Self::StorageQuotaExceeded
            }
            _ => Self::Sqlite(err),
        }
    }
}

impl StorageError {
    /// Maps a unique-constraint violation to `Conflict`, anything else to `Other`.
    fn from_insert(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict,
            _ => err.into(),
        }
    }
}

/// Deletes row `id` of `table` where `owner_column` is `owner`, in `tx`; `NotFound` when there
/// is none (not there, or not theirs).
async fn delete_owned(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &'static str,
    owner_column: &'static str,
    id: i64,
    owner: crate::domain::UserId,
) -> Result<(), StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1 AND {owner_column} = $2"));
    let deleted = sqlx::query(sql).bind(id).bind(owner).execute(&mut **tx).await?;
    if deleted.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// What an advisory lock guards (its number is the lock's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Deciding whether a new account is the first.
    FirstAccount = 7_401,
    /// Creating the starter characters on a fresh database.
    StarterCharacters = 7_402,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl FromStr for Engine {
    type Err = anyhow::Error;

    fn from_str(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite:// or postgres://")
        }
    }
}

/// The connection pools and the engine behind them. SQLite allows one writer at a time; its
/// writes go through a pool of one connection so they queue here instead of sleeping in
/// SQLite's busy handler, while reads use the other pool. On PostgreSQL both are one pool.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    writer: AnyPool,
    engine: Engine,
    /// SQLite's reads on the asking thread, for the hottest queries; `None` on PostgreSQL.
    direct: Option<Arc<Direct>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("engine", &self.engine).finish_non_exhaustive()
    }
}

impl Db {
    /// Connects, creating the SQLite file (and its folder) on first start. A SQLite connection
    /// is a file in this process and never drops, so none is pinged before use (that was one
    /// more hand-off to its worker thread a statement). SQLite gets four reader connections
    /// (each keeps its own page cache; more did not read faster on two cores) and one writer. PostgreSQL gets 16 for reads and 8 more for writes, so that
    /// reads (every request's authentication) never wait for a connection behind writes that
    /// queue on the ledger's rows of the day.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::open(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// `connect`, waiting at most `acquire_timeout` for a free connection: a request that
    /// waits longer fails with `StorageError::Busy` (503 `busy`), never hangs.
    pub async fn open(url: &str, acquire_timeout: Duration) -> anyhow::Result<Self> {
        sqlx::any::install_default_drivers();
        let engine: Engine = url.parse()?;
        let (url, max_connections) = match engine {
            Engine::Sqlite => (prepare_sqlite_url(url)?, 4),
            Engine::Postgres => (url.to_owned(), 16),
        };
        // Reads are not pinged before use (sqlx pings each connection as it is given back, and
        // drops it if it fails): after a PostgreSQL restart, an idle read connection fails once,
        // and that one request with it. Writes are pinged: a turn's writes wait for no failure.
        let pool = Self::pool_options(engine, max_connections, acquire_timeout)
            .test_before_acquire(false)
            .connect(&url)
            .await
            .context("cannot connect to the database")?;
        let writers = match engine {
            Engine::Sqlite => 1,
            Engine::Postgres => 8,
        };
        let writer = Self::pool_options(engine, writers, acquire_timeout)
            .test_before_acquire(engine == Engine::Postgres)
            .connect(&url)
            .await
            .context("cannot connect to the database")?;
        let direct = match engine {
            Engine::Sqlite => Direct::of(sqlite_path(&url)).map(Arc::new),
            Engine::Postgres => None,
        };
        Ok(Self { pool, writer, engine, direct })
    }

    fn pool_options(engine: Engine, max_connections: u32, acquire_timeout: Duration) -> AnyPoolOptions {
        AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(acquire_timeout).after_connect(
            move |conn, _meta| {
                Box::pin(async move {
                    if engine == Engine::Sqlite {
                        // Through `Any` the URL cannot carry pragmas; they are per connection.
                        // Statement journals (a trigger's statement inside a transaction
                        // keeps one) in memory, not in temporary files.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA temp_store = MEMORY;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            },
        )
    }

    /// Applies pending migrations; a no-op when the schema is current.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.engine {
            Engine::Sqlite => &SQLITE_MIGRATIONS,
            Engine::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.writer).await.context("database migration failed")
    }

    /// Answers when the database does (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StorageError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// For reads.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// For writes and transactions that write.
    pub fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// SQLite through rusqlite for the hottest statements (`direct`); `None` on PostgreSQL.
    pub fn direct(&self) -> Option<&Direct> {
        self.direct.as_deref()
    }

    /// The first row of `sql` (`$1`, `$2`… bound to `params`), decoded: for the hottest reads,
    /// which SQLite answers on this thread (`direct`) and PostgreSQL through the pool.
    async fn first_row<T>(
        &self,
        sql: &'static str,
        params: &[Param<'_>],
        decode: impl Fn(&dyn Columns) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        if let Some(direct) = &self.direct {
            return direct.first_row(sql, params, decode);
        }
        let row = direct::sqlx_query(sql, params).fetch_optional(&self.pool).await?;
        row.as_ref().map(|row| decode(row)).transpose()
    }

    /// Closes both pools (tests use it to make the database unreachable).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Serialises `tx` with every other transaction that takes `lock`, until it ends: a
    /// PostgreSQL advisory lock. (SQLite runs one writing transaction at a time anyway.)
    pub async fn lock_for(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, lock: Lock) -> Result<(), StorageError> {
        if self.engine == Engine::Postgres {
            sqlx::query("SELECT CAST(pg_advisory_xact_lock($1) AS TEXT)").bind(lock as i64).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Writes a consistent copy of a SQLite database to `path` while the server runs (SQLite's
    /// `VACUUM INTO`: one read transaction, so writers go on and the copy is a snapshot). The
    /// file must not exist yet. PostgreSQL has its own tool for this: `pg_dump`.
    pub async fn backup_into(&self, path: &Path) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.engine == Engine::Sqlite,
            "backup copies SQLite databases; back up PostgreSQL with pg_dump (see the README)"
        );
        anyhow::ensure!(!path.exists(), "{} exists already; choose a new file", path.display());
        let target = path.to_str().context("the backup path must be valid UTF-8")?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(&self.pool).await.context("the backup failed")?;
        Ok(())
    }
}

/// The file of a SQLite URL as `prepare_sqlite_url` writes it.
fn sqlite_path(url: &str) -> &str {
    let rest = url.trim_start_matches("sqlite://");
    rest.split_once('?').map_or(rest, |(path, _)| path)
}

/// Creates the parent folder of a file database and asks SQLite to create the file.
fn prepare_sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let parent = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(parent) = parent.filter(|_| path != ":memory:") {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create database folder {}", parent.display()))?;
    }
    let query = if query.contains("mode=") { query.to_owned() } else { format!("mode=rwc&{query}") };
    Ok(format!("sqlite://{path}?{}", query.trim_end_matches('&')))
}

/// A `LIKE … ESCAPE '\\'` pattern matching `needle` anywhere, its own wildcards escaped.
pub(crate) fn like_pattern(needle: &str) -> String {
    let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// A JSON column of `row` (e.g. "character 7"); text that does not parse is a corrupt row.
fn from_json<T: serde::de::DeserializeOwned>(row: &str, column: &str, text: &str) -> Result<T, StorageError> {
    serde_json::from_str(text)
        .map_err(|e| StorageError::Corrupt(format!("{column} of {row} is not the JSON it should be: {e}")))
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

/// Decodes a SMALLINT flag.
fn flag(value: i16) -> bool {
    value != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode() {
        let dir = std::env::temp_dir().join(format!("troupe-url-{}", std::process::id()));
        let url = format!("sqlite://{}/x.db", dir.display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.is_dir());
        assert_eq!(prepare_sqlite_url("sqlite::memory:").unwrap(), "sqlite://:memory:?mode=rwc");
        assert_eq!(sqlite_path(&format!("{url}?mode=rwc")), format!("{}/x.db", dir.display()));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a_b%c"), "%a\\_b\\%c%");
    }

    #[test]
    fn engine_from_url() {
        assert_eq!("postgres://u@h/db".parse::<Engine>().unwrap(), Engine::Postgres);
        assert_eq!("sqlite://data/t.db".parse::<Engine>().unwrap(), Engine::Sqlite);
        assert!("mysql://x".parse::<Engine>().is_err());
    }
}
