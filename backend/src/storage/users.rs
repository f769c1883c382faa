//! Accounts.

use sqlx::FromRow;

use super::{Db, StorageError, flag};
use crate::{
    clock::now_millis,
    domain::{User, UserId},
};

const USER_COLUMNS: &str = "id, username, email, is_admin, disabled, daily_token_quota, created_at";

#[derive(FromRow)]
struct UserRow {
    id: i64,
    username: String,
    email: Option<String>,
    is_admin: i16,
    disabled: i16,
    daily_token_quota: Option<i64>,
    created_at: i64,
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
        }
    }
}

/// What an account is created from; the password is already hashed.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
    pub is_admin: bool,
}

/// Inserts an account; `Conflict` when the username is taken (ignoring case).
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn insert(db: &Db, new: NewUser<'_>) -> Result<User, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO users (username, email, password_hash, is_admin, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
    ));
    let row: UserRow = sqlx::query_as(sql)
        .bind(new.username)
        .bind(new.email)
        .bind(new.password_hash)
        .bind(i16::from(new.is_admin))
        .bind(now_millis())
        .fetch_one(db.writer())
        .await
        .map_err(StorageError::from_insert)?;
    Ok(row.into())
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
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)"
    ));
    let row: Option<Row> = sqlx::query_as(sql).bind(username).fetch_optional(db.pool()).await?;
    Ok(row.map(|r| Credentials { user: r.user.into(), password_hash: r.password_hash }))
}

/// The account behind a session token and whether that token was revoked, in one round trip:
/// this runs on every authenticated request.
#[tracing::instrument(skip_all, err(level = "warn"))]
pub async fn find_for_session(db: &Db, id: UserId, jti: &str) -> Result<Option<(User, bool)>, StorageError> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: UserRow,
        revoked: i64,
    }
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS}, \
         (SELECT COUNT(*) FROM revoked_tokens WHERE jti = $2) AS revoked \
         FROM users WHERE id = $1"
    ));
    let row: Option<Row> = sqlx::query_as(sql).bind(id).bind(jti).fetch_optional(db.pool()).await?;
    Ok(row.map(|r| (r.user.into(), r.revoked > 0)))
}

pub async fn find_by_id(db: &Db, id: UserId) -> Result<Option<User>, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
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
        "UPDATE users SET is_admin = 1 WHERE lower(username) = lower($1) RETURNING {USER_COLUMNS}"
    ));
    let row: Option<UserRow> = sqlx::query_as(sql).bind(username).fetch_optional(db.writer()).await?;
    row.map(User::from).ok_or(StorageError::NotFound)
}
