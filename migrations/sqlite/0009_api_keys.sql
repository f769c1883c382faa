-- Personal API keys, and `/v1` completions in the usage ledger.
--
-- A key is stored as its SHA-256 (the secret is 40 random base62 characters, so a fast hash
-- is enough) and found by its prefix, which is also what the owner sees in the list.
CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    prefix       TEXT   NOT NULL UNIQUE,
    secret_hash  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Where a generation was asked for: 'chat' (a chat turn) or 'api' (a `/v1` completion, which
-- stores nothing else and so counts as one of its day's messages itself).
ALTER TABLE generations ADD COLUMN source TEXT NOT NULL DEFAULT 'chat';
ALTER TABLE generations ADD COLUMN api_key_id BIGINT;

-- The day's usage by source, for the dashboard. Everything booked so far came from chats.
CREATE TABLE usage_source_days (
    source            TEXT   NOT NULL,
    day               TEXT   NOT NULL,
    messages          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (source, day)
);
INSERT INTO usage_source_days (source, day, messages, prompt_tokens, completion_tokens)
SELECT 'chat', day, messages, prompt_tokens, completion_tokens FROM usage_days
WHERE messages + prompt_tokens + completion_tokens > 0;

-- A `/v1` completion is one message as well as its tokens, and marks its user active.
DROP TRIGGER generations_book_usage;
CREATE TRIGGER generations_book_usage AFTER INSERT ON generations
WHEN NEW.prompt_tokens + NEW.completion_tokens > 0 OR NEW.source = 'api'
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source = 'api'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_days (day, messages, prompt_tokens, completion_tokens)
    VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source = 'api'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_daily (user_id, day, model, character_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), NEW.model, NEW.character_id, (NEW.source = 'api'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_character_days (character_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.character_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source = 'api'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (character_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_model_days (model, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.model, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source = 'api'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (model, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO user_totals (user_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, (NEW.source = 'api'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_source_days (source, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.source, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source = 'api'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (source, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    UPDATE users SET last_active_at = NEW.created_at WHERE id = NEW.user_id AND NEW.source = 'api';
END;

-- A user message of a chat counts for the 'chat' source.
CREATE TRIGGER messages_book_source AFTER INSERT ON messages
WHEN NEW.role = 'user' AND NEW.booked = 1
BEGIN
    INSERT INTO usage_source_days (source, day, messages, prompt_tokens, completion_tokens)
    VALUES ('chat', strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1, 0, 0)
    ON CONFLICT (source, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;
END;
