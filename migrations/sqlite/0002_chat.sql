-- Characters, shared prompts, chats, messages and the usage ledger.
-- Same portable discipline as 0001: BIGINT epoch ms, SMALLINT flags, TEXT everywhere else.

CREATE TABLE characters (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id         BIGINT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT     NOT NULL,
    description      TEXT     NOT NULL DEFAULT '',
    personality      TEXT     NOT NULL DEFAULT '',
    scenario         TEXT     NOT NULL DEFAULT '',
    system_prompt    TEXT     NOT NULL DEFAULT '',
    greeting         TEXT     NOT NULL DEFAULT '',
    example_dialogue TEXT     NOT NULL DEFAULT '',
    avatar_url       TEXT,
    -- JSON array of normalised tags, e.g. ["fantasy","mentor"]; filtered with LIKE '%"tag"%'.
    tags             TEXT     NOT NULL DEFAULT '[]',
    visibility       TEXT     NOT NULL DEFAULT 'private',
    model            TEXT,
    created_at       BIGINT   NOT NULL,
    updated_at       BIGINT   NOT NULL,
    -- Deleted characters disappear from the API but their chats keep working.
    deleted_at       BIGINT
);
CREATE INDEX characters_owner ON characters (owner_id, id);
CREATE INDEX characters_public ON characters (visibility, id);

CREATE TABLE shared_prompts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT     NOT NULL,
    content    TEXT     NOT NULL,
    enabled    SMALLINT NOT NULL DEFAULT 1,
    position   BIGINT   NOT NULL DEFAULT 0,
    created_at BIGINT   NOT NULL,
    updated_at BIGINT   NOT NULL
);
CREATE INDEX shared_prompts_order ON shared_prompts (enabled, position, id);

CREATE TABLE chats (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    character_id         BIGINT NOT NULL REFERENCES characters (id),
    title                TEXT   NOT NULL,
    model                TEXT   NOT NULL,
    -- Dify keeps history server-side under this id.
    dify_conversation_id TEXT,
    message_count        BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    last_message_at      BIGINT NOT NULL
);
CREATE INDEX chats_user_activity ON chats (user_id, last_message_at, id);
CREATE INDEX chats_character ON chats (character_id);

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id             BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    user_id             BIGINT NOT NULL,
    role                TEXT   NOT NULL,
    content             TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    model               TEXT,
    prompt_tokens       BIGINT NOT NULL DEFAULT 0,
    completion_tokens   BIGINT NOT NULL DEFAULT 0,
    token_count         BIGINT NOT NULL DEFAULT 0,
    usage_source        TEXT,
    upstream_latency_ms BIGINT,
    created_at          BIGINT NOT NULL
);
CREATE INDEX messages_chat ON messages (chat_id, id);
CREATE INDEX messages_user_created ON messages (user_id, created_at);

-- The usage ledger: one row per user, UTC day, model and character. Written in the same
-- transaction as the message that causes it; never lowered when chats are deleted.
CREATE TABLE usage_daily (
    user_id           BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day               TEXT   NOT NULL,
    model             TEXT   NOT NULL,
    character_id      BIGINT NOT NULL,
    messages          BIGINT NOT NULL DEFAULT 0,
    chats             BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day, model, character_id)
);
CREATE INDEX usage_daily_day ON usage_daily (day);
