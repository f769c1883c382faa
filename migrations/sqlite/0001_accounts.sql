-- Portable discipline (see docs/design/storage.md): times are BIGINT epoch milliseconds,
-- booleans SMALLINT 0/1, so one query set serves SQLite and PostgreSQL through sqlx::Any.
CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    username          TEXT     NOT NULL,
    email             TEXT,
    password_hash     TEXT     NOT NULL,
    is_admin          SMALLINT NOT NULL DEFAULT 0,
    disabled          SMALLINT NOT NULL DEFAULT 0,
    daily_token_quota BIGINT,
    created_at        BIGINT   NOT NULL
);
-- Usernames are unique ignoring case (they are ASCII, so lower() is exact on both engines).
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));

-- Logged-out tokens until they would have expired anyway.
CREATE TABLE revoked_tokens (
    jti        TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires_at ON revoked_tokens (expires_at);
