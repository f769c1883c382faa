-- Admin: last activity, announcements, and the usage ledger kept by the database itself.
--
-- Every stored message and every new chat books its usage through the triggers below, in the
-- same statement (so the same transaction) as the row that causes it. One insert keeps all the
-- ledger's views in step: the detailed `usage_daily` (user, day, model, character) and the
-- summaries the dashboard reads.

ALTER TABLE users ADD COLUMN last_active_at BIGINT;
ALTER TABLE messages ADD COLUMN character_id BIGINT;

CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text       TEXT   NOT NULL,
    level      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX announcements_expiry ON announcements (expires_at);

-- Lifetime totals per user (the user list sorts by them).
CREATE TABLE user_totals (
    user_id           BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    chats             BIGINT NOT NULL DEFAULT 0,
    messages          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0
);

-- Per user and day: quotas, per-user usage, CSV, top users, active users.
CREATE TABLE usage_user_days (
    user_id           BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day               TEXT   NOT NULL,
    messages          BIGINT NOT NULL DEFAULT 0,
    chats             BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
-- Covers the dashboard's scans of a range of days (active and top users).
CREATE INDEX usage_user_days_day ON usage_user_days (day, user_id, prompt_tokens, completion_tokens, messages);

-- Per day over all users: the day series; `active_users` counts each user's first usage of the day.
CREATE TABLE usage_days (
    day               TEXT   PRIMARY KEY,
    active_users      BIGINT NOT NULL DEFAULT 0,
    messages          BIGINT NOT NULL DEFAULT 0,
    chats             BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE usage_character_days (
    character_id      BIGINT NOT NULL,
    day               TEXT   NOT NULL,
    messages          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (character_id, day)
);
CREATE INDEX usage_character_days_day ON usage_character_days (day);

CREATE TABLE usage_model_days (
    model             TEXT   NOT NULL,
    day               TEXT   NOT NULL,
    messages          BIGINT NOT NULL DEFAULT 0,
    prompt_tokens     BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (model, day)
);

CREATE INDEX messages_created ON messages (created_at);
CREATE INDEX users_created ON users (created_at);
DROP INDEX usage_daily_day;
CREATE INDEX usage_daily_user_day ON usage_daily (user_id, day);

-- A message counts as one message of its day when a user sent it, and adds its tokens.
-- Greetings (assistant, no tokens) book nothing.
CREATE TRIGGER messages_book_usage AFTER INSERT ON messages
WHEN NEW.role = 'user' OR NEW.prompt_tokens + NEW.completion_tokens > 0
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days
                      WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'),
            NEW.role = 'user', NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_days (day, messages, prompt_tokens, completion_tokens)
    VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'),
            NEW.role = 'user', NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_daily (user_id, day, model, character_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), COALESCE(NEW.model, ''),
            NEW.character_id, NEW.role = 'user', NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_character_days (character_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.character_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'),
            NEW.role = 'user', NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (character_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_model_days (model, day, messages, prompt_tokens, completion_tokens)
    VALUES (COALESCE(NEW.model, ''), strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'),
            NEW.role = 'user', NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (model, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO user_totals (user_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, NEW.role = 'user', NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    UPDATE users SET last_active_at = NEW.created_at WHERE id = NEW.user_id AND NEW.role = 'user';
END;

-- Every message moves its chat's counters.
CREATE TRIGGER messages_move_chat AFTER INSERT ON messages
BEGIN
    UPDATE chats SET message_count = message_count + 1, last_message_at = NEW.created_at WHERE id = NEW.chat_id;
END;

-- A new chat counts as one chat of its user's day.
CREATE TRIGGER chats_book_usage AFTER INSERT ON chats
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days
                      WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, chats) VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1)
    ON CONFLICT (user_id, day) DO UPDATE SET chats = chats + 1;

    INSERT INTO usage_days (day, chats) VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1)
    ON CONFLICT (day) DO UPDATE SET chats = chats + 1;

    INSERT INTO usage_daily (user_id, day, model, character_id, chats)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), NEW.model, NEW.character_id, 1)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET chats = chats + 1;

    INSERT INTO user_totals (user_id, chats) VALUES (NEW.user_id, 1)
    ON CONFLICT (user_id) DO UPDATE SET chats = chats + 1;
END;
