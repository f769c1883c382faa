//! Chats across users, for the admins' history browser: filtered, searched, exported.
//!
//! Text search goes through each engine's index over message text (migration 0011): SQLite's
//! FTS5 trigram index, PostgreSQL's pg_trgm index (which `ILIKE` uses). Both find any substring
//! of 3+ characters; shorter searches scan, as they would anyway.

use sqlx::FromRow;

use super::{Db, Engine, StorageError, like_pattern};
use crate::domain::{CharacterId, ChatId, ConversationFilter, UserId};

#[derive(FromRow)]
pub struct ConversationRow {
    pub id: ChatId,
    pub user_id: UserId,
    pub username: String,
    pub system_id: Option<String>,
    pub external_id: Option<String>,
    pub character_id: CharacterId,
    pub character_name: String,
    pub title: String,
    pub model: String,
    pub created_at: i64,
    pub last_message_at: i64,
    pub message_count: i64,
    /// How many chats match in all (the same on every row).
    pub matched: i64,
    pub total_tokens: i64,
}

/// Chats across users, latest activity first, with their stored messages' tokens.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list(
    db: &Db,
    filter: &ConversationFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ConversationRow>, i64), StorageError> {
    let matching = Matching::new(db.engine(), filter);
    let page = format!("LIMIT ${} OFFSET ${}", matching.binds.len() + 1, matching.binds.len() + 2);
    // One pass over what matches gives the page and the count (a window over all of it); the
    // tokens are summed for the page's chats only.
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT p.*, COALESCE((SELECT CAST(SUM(m.prompt_tokens + m.completion_tokens) AS BIGINT) FROM messages m \
                               WHERE m.chat_id = p.id), 0) AS total_tokens \
         FROM (SELECT c.id, c.user_id, u.username, u.system_id, u.external_id, c.character_id, \
                      ch.name AS character_name, c.title, c.model, c.created_at, c.last_message_at, c.message_count, \
                      COUNT(*) OVER () AS matched \
               {FROM} {} ORDER BY c.last_message_at DESC, c.id DESC {page}) p \
         ORDER BY p.last_message_at DESC, p.id DESC",
        matching.clause
    ));
    let rows: Vec<ConversationRow> =
        matching.bind_all(sqlx::query_as(sql)).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let total = match rows.first() {
        Some(row) => row.matched,
        None if offset == 0 => 0,
        // A page past the end: the count on its own.
        None => {
            let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {FROM} {}", matching.clause));
            matching.bind_all_scalar(sqlx::query_scalar(count)).fetch_one(db.pool()).await?
        }
    };
    Ok((rows, total))
}

/// One message of an export, with its chat's particulars.
#[derive(Debug, FromRow)]
pub struct ExportRow {
    pub chat_id: ChatId,
    pub chat_title: String,
    pub user_id: UserId,
    pub username: String,
    pub system_id: Option<String>,
    pub external_id: Option<String>,
    pub character_name: String,
    pub model: String,
    pub message_id: i64,
    pub role: String,
    pub content: String,
    pub status: String,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub created_at: i64,
}

/// The messages of the (at most `max_chats`) latest chats matching `filter`: chats latest
/// activity first, each chat's messages oldest first.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn export(db: &Db, filter: &ConversationFilter, max_chats: i64) -> Result<Vec<ExportRow>, StorageError> {
    let matching = Matching::new(db.engine(), filter);
    let cap = matching.binds.len() + 1;
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT m.chat_id, c.title AS chat_title, c.user_id, u.username, u.system_id, u.external_id, \
         ch.name AS character_name, COALESCE(m.model, c.model) AS model, m.id AS message_id, m.role, m.content, \
         m.status, m.prompt_tokens, m.completion_tokens, m.created_at \
         FROM messages m JOIN chats c ON c.id = m.chat_id JOIN users u ON u.id = c.user_id \
         JOIN characters ch ON ch.id = c.character_id \
         WHERE m.chat_id IN (SELECT c.id {FROM} {} ORDER BY c.last_message_at DESC, c.id DESC LIMIT ${cap}) \
         ORDER BY c.last_message_at DESC, c.id DESC, m.id",
        matching.clause
    ));
    Ok(matching.bind_all(sqlx::query_as(sql)).bind(max_chats).fetch_all(db.pool()).await?)
}

pub async fn exists(db: &Db, id: ChatId) -> Result<bool, StorageError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM chats WHERE id = $1 AND bulk_write_at IS NULL")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(found.is_some())
}

/// Chats a bulk write is still filling or emptying are left out (see `chats::create`).
const FROM: &str = "FROM chats c JOIN users u ON u.id = c.user_id AND c.bulk_write_at IS NULL \
                    JOIN characters ch ON ch.id = c.character_id";

/// A filter as a `WHERE` clause and its values, in placeholder order.
struct Matching {
    clause: String,
    binds: Vec<Value>,
}

enum Value {
    Int(i64),
    Text(String),
}

impl Matching {
    fn new(engine: Engine, filter: &ConversationFilter) -> Self {
        let mut this = Self { clause: String::new(), binds: Vec::new() };
        if let Some(user) = filter.user_id {
            this.and("c.user_id = {}", Value::Int(user.get()));
        }
        if let Some(character) = filter.character_id {
            this.and("c.character_id = {}", Value::Int(character.get()));
        }
        if let Some(days) = filter.active {
            this.and("c.last_message_at >= {}", Value::Int(days.start_millis()));
            this.and("c.created_at < {}", Value::Int(days.end_millis()));
        }
        if let Some(system) = &filter.system_id {
            this.and("u.system_id = {}", Value::Text(system.to_string()));
        }
        if let Some(external) = &filter.external_user_id {
            this.and("u.external_id = {}", Value::Text(external.clone()));
        }
        if let Some(text) = &filter.text {
            this.search(engine, text);
        }
        this
    }

    /// Title, character name or any message containing `text`, ignoring case.
    fn search(&mut self, engine: Engine, text: &str) {
        let pattern = like_pattern(&text.to_lowercase());
        let names = self.placeholder(Value::Text(pattern.clone()));
        let in_messages = match engine {
            Engine::Postgres => {
                let p = self.placeholder(Value::Text(pattern));
                format!("SELECT m.chat_id FROM messages m WHERE m.content ILIKE {p} ESCAPE '\\'")
            }
            Engine::Sqlite if text.chars().count() >= 3 => {
                let phrase = format!("\"{}\"", text.replace('"', "\"\""));
                let p = self.placeholder(Value::Text(phrase));
                format!(
                    "SELECT m.chat_id FROM messages m WHERE m.id IN \
                     (SELECT rowid FROM messages_fts WHERE messages_fts MATCH {p})"
                )
            }
            Engine::Sqlite => {
                let p = self.placeholder(Value::Text(pattern));
                format!("SELECT m.chat_id FROM messages m WHERE lower(m.content) LIKE {p} ESCAPE '\\'")
            }
        };
        let clause = format!(
            "(lower(c.title) LIKE {names} ESCAPE '\\' OR lower(ch.name) LIKE {names} ESCAPE '\\' \
             OR c.id IN ({in_messages}))"
        );
        self.push_clause(clause);
    }

    /// Adds `template` with its `{}` replaced by the next placeholder, bound to `value`.
    fn and(&mut self, template: &str, value: Value) {
        let p = self.placeholder(value);
        self.push_clause(template.replace("{}", &p));
    }

    fn placeholder(&mut self, value: Value) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    fn push_clause(&mut self, clause: String) {
        self.clause.push_str(if self.clause.is_empty() { "WHERE " } else { " AND " });
        self.clause.push_str(&clause);
    }

    fn bind_all<'q, O>(
        &self,
        mut query: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
        for value in &self.binds {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }

    fn bind_all_scalar<'q, O>(
        &self,
        mut query: sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments>,
    ) -> sqlx::query::QueryScalar<'q, sqlx::Any, O, sqlx::any::AnyArguments> {
        for value in &self.binds {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.clone()),
            };
        }
        query
    }
}
