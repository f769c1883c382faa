-- The service gateway: other products ("systems") whose users chat through Troupe.
--
-- A system's service key is stored like an API key (its prefix, to find it, and its SHA-256).
-- Its JWT secret is not stored at all: it is derived from the server's secret and `jwt_salt`
-- (services::systems), so this table holds nothing that signs a token; rotating draws a new
-- salt (and key), which cuts every token signed before.
CREATE TABLE systems (
    id                         TEXT     PRIMARY KEY,
    name                       TEXT     NOT NULL,
    -- One origin per line (`https://quiz.example`); empty: no origin may frame or mint.
    allowed_origins            TEXT     NOT NULL DEFAULT '',
    default_character_id       BIGINT,
    model                      TEXT,
    daily_token_quota_per_user BIGINT,
    key_prefix                 TEXT     NOT NULL UNIQUE,
    key_hash                   TEXT     NOT NULL,
    jwt_salt                   TEXT     NOT NULL,
    disabled                   SMALLINT NOT NULL DEFAULT 0,
    created_at                 BIGINT   NOT NULL
);

-- An external user is an account of a system's: no password (the hash is empty, and signing
-- in skips these rows), named `system:user_id` for display, unique per (system, user id),
-- compared exactly. Usernames stay unique ignoring case among password accounts only.
ALTER TABLE users ADD COLUMN system_id TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX users_external ON users (system_id, external_id) WHERE system_id IS NOT NULL;
DROP INDEX users_username_lower;
CREATE UNIQUE INDEX users_username_lower ON users (lower(username)) WHERE system_id IS NULL;
