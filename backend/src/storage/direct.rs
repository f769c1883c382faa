//! SQLite through rusqlite, for the hottest statements: every request's session and a chat
//! turn's chat are read on the asking thread, from SQLite's page cache in a few microseconds,
//! and the turns' writes are committed in batches on one connection (`turn_writes`), where
//! sqlx's SQLite driver hands each statement to a worker thread and its rows back (some 30–100
//! µs and two thread wake-ups a statement; see `docs/design/performance.md`). The SQL is the
//! same text both engines run (`sqlx_query` runs it through sqlx), with the same parameters
//! (`Param`) and one decoding (`Columns`) for the rows of either driver. PostgreSQL has no such
//! path.

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::StorageError;

/// Connections kept for direct reads, opened as they are needed: about one per thread that
/// reads at once.
pub struct Direct {
    path: String,
    idle: Mutex<Vec<Connection>>,
}

impl Direct {
    /// Statements on the SQLite file at `path`; none for an in-memory database (each connection
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
        let connection = self.connect()?;
        connection.execute_batch("PRAGMA query_only = 1;")?;
        Ok(connection)
    }

    /// A connection that writes, set up as the pool's are (see `Db::pool_options`). Whoever
    /// writes on it holds `Db::writer`'s one connection meanwhile, so that SQLite never has two
    /// writers of this process waiting on each other.
    pub fn writer(&self) -> Result<Connection, StorageError> {
        let connection = self.connect()?;
        connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        Ok(connection)
    }

    fn connect(&self) -> Result<Connection, StorageError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags)?;
        connection.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;")?;
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

/// A parameter of a statement that runs through either driver. A null says its type, as
/// PostgreSQL wants to know it.
#[derive(Clone, Copy, Debug)]
pub enum Param<'a> {
    Int(i64),
    Text(&'a str),
    NullInt,
    NullText,
}

impl<'a> Param<'a> {
    pub fn int_or_null(value: Option<i64>) -> Self {
        value.map_or(Self::NullInt, Self::Int)
    }

    pub fn text_or_null(value: Option<&'a str>) -> Self {
        value.map_or(Self::NullText, Self::Text)
    }
}

/// `sql` with `params` bound, to run through sqlx.
pub fn sqlx_query<'q>(
    sql: &'static str,
    params: &[Param<'q>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(sql);
    for param in params {
        query = match *param {
            Param::Int(value) => query.bind(value),
            Param::Text(value) => query.bind(value),
            Param::NullInt => query.bind(None::<i64>),
            Param::NullText => query.bind(None::<&str>),
        };
    }
    query
}

/// `sql` prepared on `connection` (from its cache) with `params` bound.
fn prepared<'c>(
    connection: &'c Connection,
    sql: &str,
    params: &[Param<'_>],
) -> Result<rusqlite::CachedStatement<'c>, StorageError> {
    // Counted with sqlx's own statements when both are logged (`sqlx::query=debug`).
    tracing::debug!(target: "sqlx::query", summary = sql.get(..40).unwrap_or(sql), "direct");
    let mut statement = connection.prepare_cached(sql)?;
    if params.len() > NAMES.len() {
        return Err(StorageError::Corrupt(format!("{} parameters for one statement", params.len())));
    }
    for (name, param) in NAMES.iter().zip(params) {
        // A parameter the text never uses has no index; binding it would be an error.
        if let Some(index) = statement.parameter_index(name)? {
            match param {
                Param::Int(value) => statement.raw_bind_parameter(index, value)?,
                Param::Text(value) => statement.raw_bind_parameter(index, value)?,
                Param::NullInt | Param::NullText => statement.raw_bind_parameter(index, rusqlite::types::Null)?,
            }
        }
    }
    Ok(statement)
}

/// The first row of `sql` on `connection`, decoded.
pub fn first_row_on<T>(
    connection: &Connection,
    sql: &str,
    params: &[Param<'_>],
    decode: impl Fn(&dyn Columns) -> Result<T, StorageError>,
) -> Result<Option<T>, StorageError> {
    let mut statement = prepared(connection, sql, params)?;
    let mut rows = statement.raw_query();
    match rows.next()? {
        Some(row) => decode(row).map(Some),
        None => Ok(None),
    }
}

/// Runs `sql` on `connection`.
pub fn execute_on(connection: &Connection, sql: &str, params: &[Param<'_>]) -> Result<(), StorageError> {
    prepared(connection, sql, params)?.raw_execute()?;
    Ok(())
}

/// Parameter names, as both engines' SQL writes them (a statement with more is refused).
const NAMES: [&str; 24] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15", "$16", "$17",
    "$18", "$19", "$20", "$21", "$22", "$23", "$24",
];

impl Direct {
    /// The first row of `sql` with `$1`, `$2`… bound to `params`, decoded, on this thread.
    pub fn first_row<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: impl Fn(&dyn Columns) -> Result<T, StorageError>,
    ) -> Result<Option<T>, StorageError> {
        self.read(|connection| first_row_on(connection, sql, params, decode))
    }
}
