-- Admin: when users were last active, announcements, and what the dashboard aggregates.

ALTER TABLE users ADD COLUMN last_active_at BIGINT;

CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text       TEXT   NOT NULL,
    level      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX announcements_expiry ON announcements (expires_at);

-- Per-user totals for the user list and the dashboard's day series, aggregated from the ledger.
CREATE INDEX usage_daily_user_day ON usage_daily (user_id, day);
CREATE INDEX usage_daily_day_totals ON usage_daily (day, user_id, messages, prompt_tokens, completion_tokens);
CREATE INDEX users_created ON users (created_at);
CREATE INDEX chats_created ON chats (created_at);

-- Lifetime totals per user, kept by the ledger writes, so the user list can sort by tokens.
CREATE TABLE user_totals (
    user_id           BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    chats             BIGINT NOT NULL DEFAULT 0,
    messages          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0
);

-- The live feed's last minute.
CREATE INDEX messages_created ON messages (created_at);
