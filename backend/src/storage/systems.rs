//! Systems of the service gateway. The service key is kept as its prefix and SHA-256; the JWT
//! secret not at all (only the salt it is derived from).

use sqlx::FromRow;

use super::{Db, StorageError, flag};
use crate::domain::{CharacterId, System, SystemId, SystemTotals};

const COLUMNS: &str = "id, name, allowed_origins, default_character_id, model, daily_token_quota_per_user, \
                       disabled, key_prefix, jwt_salt, created_at";

#[derive(FromRow)]
struct SystemRow {
    id: String,
    name: String,
    allowed_origins: String,
    default_character_id: Option<i64>,
    model: Option<String>,
    daily_token_quota_per_user: Option<i64>,
    disabled: i16,
    key_prefix: String,
    jwt_salt: String,
    created_at: i64,
}

impl From<SystemRow> for System {
    fn from(r: SystemRow) -> Self {
        Self {
            id: SystemId::trusted(r.id),
            name: r.name,
            allowed_origins: r.allowed_origins.lines().map(str::to_owned).collect(),
            default_character_id: r.default_character_id.map(CharacterId::new),
            model: r.model,
            daily_token_quota_per_user: r.daily_token_quota_per_user,
            disabled: flag(r.disabled),
            key_prefix: r.key_prefix,
            jwt_salt: r.jwt_salt,
            created_at: r.created_at,
        }
    }
}

/// The secrets' stored forms: the key's prefix and hash, and the JWT secret's salt.
pub struct StoredSecrets<'a> {
    pub key_prefix: &'a str,
    pub key_hash: &'a str,
    pub jwt_salt: &'a str,
}

/// `Conflict` when the id (or, by a one-in-62^8 chance, the key prefix) is taken.
#[tracing::instrument(skip_all, fields(system.id = %system.id), err(level = "info"))]
pub async fn insert(db: &Db, system: &System, key_hash: &str) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO systems (id, name, allowed_origins, default_character_id, model, daily_token_quota_per_user, \
         disabled, key_prefix, key_hash, jwt_salt, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10)",
    )
    .bind(system.id.as_str())
    .bind(&system.name)
    .bind(system.allowed_origins.join("\n"))
    .bind(system.default_character_id.map(CharacterId::get))
    .bind(system.model.as_deref())
    .bind(system.daily_token_quota_per_user)
    .bind(&system.key_prefix)
    .bind(key_hash)
    .bind(&system.jwt_salt)
    .bind(system.created_at)
    .execute(db.writer())
    .await
    .map_err(StorageError::from_insert)?;
    Ok(())
}

/// Every system, oldest first.
pub async fn list(db: &Db) -> Result<Vec<System>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM systems ORDER BY created_at, id"));
    let rows: Vec<SystemRow> = sqlx::query_as(sql).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(System::from).collect())
}

pub async fn find(db: &Db, id: &SystemId) -> Result<Option<System>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM systems WHERE id = $1"));
    let row: Option<SystemRow> = sqlx::query_as(sql).bind(id.as_str()).fetch_optional(db.pool()).await?;
    Ok(row.map(System::from))
}

/// The system whose service key starts with `prefix`, and the key's hash.
pub async fn find_by_key_prefix(db: &Db, prefix: &str) -> Result<Option<(System, String)>, StorageError> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        system: SystemRow,
        key_hash: String,
    }
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS}, key_hash FROM systems WHERE key_prefix = $1"));
    let row: Option<Row> = sqlx::query_as(sql).bind(prefix).fetch_optional(db.pool()).await?;
    Ok(row.map(|r| (r.system.into(), r.key_hash)))
}

/// Writes the system's settings (everything but its id, secrets and creation time).
#[tracing::instrument(skip_all, fields(system.id = %system.id), err(level = "info"))]
pub async fn update(db: &Db, system: &System) -> Result<(), StorageError> {
    let done = sqlx::query(
        "UPDATE systems SET name = $2, allowed_origins = $3, default_character_id = $4, model = $5, \
         daily_token_quota_per_user = $6, disabled = $7 WHERE id = $1",
    )
    .bind(system.id.as_str())
    .bind(&system.name)
    .bind(system.allowed_origins.join("\n"))
    .bind(system.default_character_id.map(CharacterId::get))
    .bind(system.model.as_deref())
    .bind(system.daily_token_quota_per_user)
    .bind(i16::from(system.disabled))
    .execute(db.writer())
    .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Replaces the system's secrets: the old key and every token signed before stop working.
#[tracing::instrument(skip_all, fields(system.id = %id), err(level = "info"))]
pub async fn replace_secrets(db: &Db, id: &SystemId, secrets: &StoredSecrets<'_>) -> Result<(), StorageError> {
    let done = sqlx::query("UPDATE systems SET key_prefix = $2, key_hash = $3, jwt_salt = $4 WHERE id = $1")
        .bind(id.as_str())
        .bind(secrets.key_prefix)
        .bind(secrets.key_hash)
        .bind(secrets.jwt_salt)
        .execute(db.writer())
        .await
        .map_err(StorageError::from_insert)?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Each system's users and recorded usage (all time, and on `today`), from the ledger.
pub async fn totals(db: &Db, today: &str) -> Result<Vec<(SystemId, SystemTotals)>, StorageError> {
    #[derive(FromRow)]
    struct Row {
        system_id: String,
        users: i64,
        messages: i64,
        total_tokens: i64,
        tokens_today: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT u.system_id, COUNT(*) AS users, CAST(SUM(t.messages) AS BIGINT) AS messages, \
         CAST(SUM(t.prompt_tokens + t.completion_tokens) AS BIGINT) AS total_tokens, \
         CAST(COALESCE(SUM(d.prompt_tokens + d.completion_tokens), 0) AS BIGINT) AS tokens_today \
         FROM users u JOIN user_totals t ON t.user_id = u.id \
         LEFT JOIN usage_user_days d ON d.user_id = u.id AND d.day = $1 \
         WHERE u.system_id IS NOT NULL GROUP BY u.system_id",
    )
    .bind(today)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let totals = SystemTotals {
                users: r.users,
                messages: r.messages,
                total_tokens: r.total_tokens,
                tokens_today: r.tokens_today,
            };
            (SystemId::trusted(r.system_id), totals)
        })
        .collect())
}
