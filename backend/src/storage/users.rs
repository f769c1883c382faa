//! Accounts.

use std::sync::LazyLock;

use sqlx::FromRow;

use super::{
    Db, Engine, Lock, StorageError,
    direct::{Columns, Param},
    flag, like_pattern,
};
use crate::{
    clock::now_millis,
    domain::{ApiKeyId, ExternalUserId, SystemId, User, UserId, UserOrder},
};

/// A user's columns; an external user's system quota comes along (it is their default quota).
const USER_COLUMNS: &str = "id, username, email, is_admin, disabled, daily_token_quota, created_at, system_id, \
     (SELECT s.daily_token_quota_per_user FROM systems s WHERE s.id = users.system_id) AS system_quota";

#[derive(FromRow)]
struct UserRow {
    id: UserId,
    username: String,
    email: Option<String>,
    is_admin: i16,
    disabled: i16,
    daily_token_quota: Option<i64>,
    created_at: i64,
    system_id: Option<String>,
    system_quota: Option<i64>,
}

/// A user from a row of `USER_COLUMNS` read by either driver (see `direct::Columns`).
fn user_from(row: &dyn Columns) -> Result<User, StorageError> {
    Ok(User {
        id: UserId::new(row.int("id")?),
        username: row.text("username")?,
        email: row.text_or_null("email")?,
        is_admin: row.int("is_admin")? != 0,
        disabled: row.int("disabled")? != 0,
        daily_token_quota: row.int_or_null("daily_token_quota")?,
        created_at: row.int("created_at")?,
        system_id: row.text_or_null("system_id")?.map(SystemId::trusted),
        system_quota: row.int_or_null("system_quota")?,
    })
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        Self {
            id: r.id,
            username: r.username,
            email: r.email,
            is_admin: flag(r.is_admin),
            disabled: flag(r.disabled),
            daily_token_quota: r.daily_token_quota,
            created_at: r.created_at,
            system_id: r.system_id.map(SystemId::trusted),
            system_quota: r.system_quota,
        }
    }
}

/// What an account is created from; the password is already hashed.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub role: NewRole,
}

/// Whether a new account is an admin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewRole {
    User,
    Admin,
    /// An admin if no account exists yet (the built-in one aside), else a user.
    AdminIfFirst,
}

impl NewRole {
    fn code(self) -> i16 {
        match self {
            Self::User => 0,
            Self::Admin => 1,
            Self::AdminIfFirst => 2,
        }
    }
}

/// Inserts an account; `Conflict` when the username is taken (ignoring case). Deciding
/// `AdminIfFirst` and inserting are one statement, under a lock on PostgreSQL, so two first
/// registrations at once cannot both become admins.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn insert(db: &Db, new: NewUser<'_>) -> Result<User, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (username, email, password_hash, is_admin, created_at) \
         SELECT $1, $2, $3, CASE WHEN $4 < 2 THEN $4 \
                                 WHEN EXISTS (SELECT 1 FROM users WHERE builtin = 0) THEN 0 ELSE 1 END, $5 \
         RETURNING {USER_COLUMNS}"
    ));
    let mut tx = db.writer().begin().await?;
    if new.role == NewRole::AdminIfFirst {
        db.lock_for(&mut tx, Lock::FirstAccount).await?;
    }
    let row: UserRow = sqlx::query_as(sql)
        .bind(new.username)
        .bind(new.email)
        .bind(new.password_hash)
        .bind(new.role.code())
        .bind(now_millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(StorageError::from_insert)?;
    tx.commit().await?;
    Ok(row.into())
}

/// The built-in account that owns what Troupe ships, created on first use. It cannot sign in
/// (its password hash is no hash) and lists of users leave it out.
pub async fn builtin_owner(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<UserId, StorageError> {
    let existing: Option<UserId> = sqlx::query_scalar("SELECT id FROM users WHERE builtin = 1 ORDER BY id LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(id) = existing {
        return Ok(id);
    }
    // `troupe` unless someone took that name first.
    for username in ["troupe", "troupe_builtin"] {
        let created: Option<UserId> = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, builtin, created_at) VALUES ($1, '!', 1, $2) \
             ON CONFLICT DO NOTHING RETURNING id",
        )
        .bind(username)
        .bind(now_millis())
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = created {
            return Ok(id);
        }
    }
    Err(StorageError::Conflict)
}

/// Whether the next account registered would be the first (the built-in one aside).
pub async fn no_accounts(db: &Db) -> Result<bool, StorageError> {
    let any: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE builtin = 0 LIMIT 1").fetch_optional(db.pool()).await?;
    Ok(any.is_none())
}

/// An account and its password hash, for signing in.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// Looks an account up by username, ignoring case.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn find_credentials(db: &Db, username: &str) -> Result<Option<Credentials>, StorageError> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        password_hash: String,
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1) AND builtin = 0 AND system_id IS NULL"
    ));
    let row: Option<Row> = sqlx::query_as(sql).bind(username).fetch_optional(db.pool()).await?;
    Ok(row.map(|r| Credentials { user: r.user.into(), password_hash: r.password_hash }))
}

/// The account behind a session token and whether that token was revoked, in one round trip:
/// this runs on every authenticated request.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn find_for_session(db: &Db, id: UserId, jti: &str) -> Result<Option<(User, bool)>, StorageError> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {USER_COLUMNS}, (SELECT COUNT(*) FROM revoked_tokens WHERE jti = $2) AS revoked \
             FROM users WHERE id = $1"
        )
    });
    let params = [Param::Int(id.get()), Param::Text(jti)];
    db.first_row(SQL.as_str(), &params, |row| Ok((user_from(row)?, row.int("revoked")? > 0))).await
}

/// What authenticating with an API key needs: the key's hash and expiry, and its owner.
pub struct KeyHolder {
    pub key_id: ApiKeyId,
    pub secret_hash: String,
    pub expires_at: Option<i64>,
    pub user: User,
}

/// The key with `prefix` and its owner, in one round trip: this runs on every request
/// authenticated with a key.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn find_for_api_key(db: &Db, prefix: &str) -> Result<Option<KeyHolder>, StorageError> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        key_id: ApiKeyId,
        secret_hash: String,
        expires_at: Option<i64>,
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, k.key_id, k.secret_hash, k.expires_at FROM users, \
         (SELECT id AS key_id, user_id AS key_user, secret_hash, expires_at FROM api_keys WHERE prefix = $1) k \
         WHERE users.id = k.key_user"
    ));
    let row: Option<Row> = sqlx::query_as(sql).bind(prefix).fetch_optional(db.pool()).await?;
    Ok(row.map(|r| KeyHolder {
        key_id: r.key_id,
        secret_hash: r.secret_hash,
        expires_at: r.expires_at,
        user: r.user.into(),
    }))
}

pub async fn find_by_id(db: &Db, id: UserId) -> Result<Option<User>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND builtin = 0"));
    let row: Option<UserRow> = sqlx::query_as(sql).bind(id).fetch_optional(db.pool()).await?;
    Ok(row.map(User::from))
}

#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn admin_exists(db: &Db) -> Result<bool, StorageError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE is_admin = 1 LIMIT 1").fetch_optional(db.pool()).await?;
    Ok(found.is_some())
}

/// Makes an existing account an admin; `NotFound` when there is none of that name.
#[tracing::instrument(skip_all, err(level = "debug"))]
pub async fn promote_to_admin(db: &Db, username: &str) -> Result<User, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "UPDATE users SET is_admin = 1 WHERE lower(username) = lower($1) AND builtin = 0 AND system_id IS NULL RETURNING {USER_COLUMNS}"
    ));
    let row: Option<UserRow> = sqlx::query_as(sql).bind(username).fetch_optional(db.writer()).await?;
    row.map(User::from).ok_or(StorageError::NotFound)
}

/// The fixed `ORDER BY` of each sort order of the user list.
fn order_by(order: UserOrder) -> &'static str {
    match order {
        UserOrder::Newest => "u.id DESC",
        UserOrder::Username => "lower(u.username), u.id",
        UserOrder::Tokens => "t.total_tokens DESC, t.user_id",
        UserOrder::LastActive => "COALESCE(u.last_active_at, 0) DESC, u.id",
        UserOrder::Storage => "u.storage_used_bytes DESC, u.id",
    }
}

#[derive(FromRow)]
pub struct UserStatsRow {
    pub id: UserId,
    pub username: String,
    pub email: Option<String>,
    pub is_admin: i16,
    pub disabled: i16,
    pub daily_token_quota: Option<i64>,
    pub created_at: i64,
    pub last_active_at: Option<i64>,
    pub chats: i64,
    pub messages: i64,
    pub total_tokens: i64,
    pub tokens_today: i64,
    pub api_keys: i64,
    pub storage_used_bytes: i64,
    pub storage_quota_mb: Option<i64>,
}

impl UserStatsRow {
    pub fn is_admin(&self) -> bool {
        flag(self.is_admin)
    }

    pub fn disabled(&self) -> bool {
        flag(self.disabled)
    }
}

const USER_FILTER: &str = "WHERE u.builtin = 0 AND ($1 = '' OR lower(u.username) LIKE $1 ESCAPE '\\' \
                           OR lower(COALESCE(u.email, '')) LIKE $1 ESCAPE '\\')";

/// Users matching `query` (username or email), with lifetime totals and today's tokens.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn list_with_totals(
    db: &Db,
    query: &str,
    order: UserOrder,
    today: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UserStatsRow>, i64), StorageError> {
    let pattern = if query.trim().is_empty() { String::new() } else { like_pattern(&query.trim().to_lowercase()) };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT u.id, u.username, u.email, u.is_admin, u.disabled, u.daily_token_quota, u.created_at, u.last_active_at, \
         t.chats, t.messages, t.total_tokens, \
         COALESCE(d.prompt_tokens + d.completion_tokens, 0) AS tokens_today, \
         (SELECT COUNT(*) FROM api_keys k WHERE k.user_id = u.id) AS api_keys, \
         u.storage_used_bytes, u.storage_quota_mb \
         FROM user_totals t JOIN users u ON u.id = t.user_id \
         LEFT JOIN usage_user_days d ON d.user_id = u.id AND d.day = $2 {USER_FILTER} \
         ORDER BY {} LIMIT $3 OFFSET $4",
        order_by(order)
    ));
    let rows: Vec<UserStatsRow> =
        sqlx::query_as(sql).bind(&pattern).bind(today).bind(limit).bind(offset).fetch_all(db.pool()).await?;
    let count = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM users u {USER_FILTER}"));
    let total: i64 = sqlx::query_scalar(count).bind(&pattern).fetch_one(db.pool()).await?;
    Ok((rows, total))
}

/// What an admin may change about a user; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserChange {
    pub is_admin: Option<bool>,
    pub disabled: Option<bool>,
    /// `Some(None)` clears the quota (unlimited).
    pub daily_token_quota: Option<Option<i64>>,
    /// `Some(None)`: the server's default; `Some(Some(0))`: unlimited.
    pub storage_quota_mb: Option<Option<i64>>,
}

/// Applies `change`, unless it would leave no active admin (`Conflict`). Taking admin rights
/// or access away first locks the active admins' rows (PostgreSQL; SQLite runs one write at a
/// time anyway), so two admins demoting each other at once cannot both succeed.
#[tracing::instrument(skip_all, fields(user.id = %id), err(level = "warn"))]
pub async fn change(db: &Db, id: UserId, change: &UserChange) -> Result<(), StorageError> {
    let mut tx = db.writer().begin().await?;
    let steps_down = change.is_admin == Some(false) || change.disabled == Some(true);
    if steps_down {
        if db.engine() == Engine::Postgres {
            sqlx::query("SELECT id FROM users WHERE is_admin = 1 AND disabled = 0 FOR UPDATE")
                .fetch_all(&mut *tx)
                .await?;
        }
        let others: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE is_admin = 1 AND disabled = 0 AND id <> $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        if others == 0 {
            return Err(StorageError::Conflict);
        }
    }
    let done = sqlx::query(
        "UPDATE users SET is_admin = COALESCE($2, is_admin), disabled = COALESCE($3, disabled), \
         daily_token_quota = CASE WHEN $4 = 1 THEN $5 ELSE daily_token_quota END, \
         storage_quota_mb = CASE WHEN $6 = 1 THEN $7 ELSE storage_quota_mb END WHERE id = $1",
    )
    .bind(id)
    .bind(change.is_admin.map(i16::from))
    .bind(change.disabled.map(i16::from))
    .bind(i16::from(change.daily_token_quota.is_some()))
    .bind(change.daily_token_quota.flatten())
    .bind(i16::from(change.storage_quota_mb.is_some()))
    .bind(change.storage_quota_mb.flatten())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    tx.commit().await?;
    Ok(())
}

/// A system's user, created on first use: no password (the hash is empty and signing in skips
/// these rows), named `system:user_id`.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn find_or_create_external(
    db: &Db,
    system: &SystemId,
    external: &ExternalUserId,
) -> Result<User, StorageError> {
    if let Some(user) = find_external(db, system, external).await? {
        return Ok(user);
    }
    sqlx::query(
        "INSERT INTO users (username, password_hash, created_at, system_id, external_id) VALUES ($1, '', $2, $3, $4) \
         ON CONFLICT (system_id, external_id) WHERE system_id IS NOT NULL DO NOTHING",
    )
    .bind(format!("{system}:{}", external.as_str()))
    .bind(now_millis())
    .bind(system.as_str())
    .bind(external.as_str())
    .execute(db.writer())
    .await?;
    // Read from the writer: a reader replica of the pool may not see the row yet on PostgreSQL.
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE system_id = $1 AND external_id = $2"));
    let row: UserRow = sqlx::query_as(sql).bind(system.as_str()).bind(external.as_str()).fetch_one(db.writer()).await?;
    Ok(row.into())
}

/// A system's user, if they were ever seen.
pub async fn find_external(
    db: &Db,
    system: &SystemId,
    external: &ExternalUserId,
) -> Result<Option<User>, StorageError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE system_id = $1 AND external_id = $2"));
    let row: Option<UserRow> =
        sqlx::query_as(sql).bind(system.as_str()).bind(external.as_str()).fetch_optional(db.pool()).await?;
    Ok(row.map(User::from))
}
