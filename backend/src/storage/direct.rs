//! SQLite reads answered on the asking thread, through rusqlite: the hottest reads (every
//! request's session, a chat turn's chat) take a few microseconds from SQLite's page cache,
//! where sqlx's SQLite driver hands each statement to a worker thread and its rows back (some
//! 30–100 µs and two thread wake-ups a statement; see `docs/design/performance.md`). The SQL is
//! the same text both engines run, and one decoding (`Columns`) reads the rows of either
//! driver. Only reads: every write goes through the one writer connection (`Db::writer`).
//! PostgreSQL has no such path.

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::StorageError;

/// Connections kept for direct reads, opened as they are needed: about one per thread that
/// reads at once.
pub struct DirectReads {
    path: String,
    idle: Mutex<Vec<Connection>>,
}

impl DirectReads {
    /// Reads of the SQLite file at `path`; none for an in-memory database (each connection
    /// would see a database of its own).
    pub fn of(path: &str) -> Option<Self> {
        (path != ":memory:" && !path.is_empty()).then(|| Self { path: path.to_owned(), idle: Mutex::default() })
    }

    /// Runs `read` on one of the connections, on this thread.
    pub fn read<T>(&self, read: impl FnOnce(&Connection) -> Result<T, StorageError>) -> Result<T, StorageError> {
        let taken = self.idle.lock().expect("direct reads lock").pop();
        let connection = match taken {
            Some(connection) => connection,
            None => self.open()?,
        };
        let result = read(&connection);
        self.idle.lock().expect("direct reads lock").push(connection);
        result
    }

    fn open(&self) -> Result<Connection, StorageError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        // As the pool's connections read (see `Db::pool_options`), and never writing.
        connection.execute_batch(
            "PRAGMA busy_timeout = 5000; PRAGMA mmap_size = 268435456; PRAGMA query_only = 1; \
             PRAGMA temp_store = MEMORY;",
        )?;
        connection.set_prepared_statement_cache_capacity(32);
        Ok(connection)
    }
}

/// A row of either driver, read by column name: one decoding for a query that runs through
/// sqlx (PostgreSQL, and SQLite elsewhere) and through `DirectReads`.
pub trait Columns {
    fn int(&self, name: &str) -> Result<i64, StorageError>;
    fn int_or_null(&self, name: &str) -> Result<Option<i64>, StorageError>;
    fn text(&self, name: &str) -> Result<String, StorageError>;
    fn text_or_null(&self, name: &str) -> Result<Option<String>, StorageError>;
}

impl Columns for sqlx::any::AnyRow {
    fn int(&self, name: &str) -> Result<i64, StorageError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }

    fn int_or_null(&self, name: &str) -> Result<Option<i64>, StorageError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }

    fn text(&self, name: &str) -> Result<String, StorageError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }

    fn text_or_null(&self, name: &str) -> Result<Option<String>, StorageError> {
        Ok(sqlx::Row::try_get(self, name)?)
    }
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, name: &str) -> Result<i64, StorageError> {
        Ok(self.get(name)?)
    }

    fn int_or_null(&self, name: &str) -> Result<Option<i64>, StorageError> {
        Ok(self.get(name)?)
    }

    fn text(&self, name: &str) -> Result<String, StorageError> {
        Ok(self.get(name)?)
    }

    fn text_or_null(&self, name: &str) -> Result<Option<String>, StorageError> {
        Ok(self.get(name)?)
    }
}

/// A parameter of a query that runs through either driver.
#[derive(Clone, Copy, Debug)]
pub enum Param<'a> {
    Int(i64),
    Text(&'a str),
}

/// Parameter names, as both engines' SQL writes them.
const NAMES: [&str; 9] = ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"];

impl DirectReads {
    /// The first row of `sql` with `$1`, `$2`… bound to `params`, decoded.
    pub fn first_row<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: impl Fn(&dyn Columns) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        // Counted with sqlx's own statements when both are logged (`sqlx::query=debug`).
        tracing::debug!(target: "sqlx::query", summary = sql.get(..40).unwrap_or(sql), "direct read");
        self.read(|connection| {
            let mut statement = connection.prepare_cached(sql)?;
            for (name, param) in NAMES.iter().zip(params) {
                // A parameter the text never uses has no index; binding it would be an error.
                if let Some(index) = statement.parameter_index(name)? {
                    match param {
                        Param::Int(value) => statement.raw_bind_parameter(index, value)?,
                        Param::Text(value) => statement.raw_bind_parameter(index, value)?,
                    }
                }
            }
            let mut rows = statement.raw_query();
            match rows.next()? {
                Some(row) => decode(row).map(Some),
                None => Ok(None),
            }
        })
    }
}
