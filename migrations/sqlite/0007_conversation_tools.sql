-- Conversation tools: a message's alternatives (regenerated replies, a greeting's alternates),
-- edits, and rows the usage ledger does not count. Copies (branches) and imports are stored
-- with `booked = 0`: the triggers book only what was sent or generated here.

ALTER TABLE messages ADD COLUMN alternative_index BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN alternative_count BIGINT NOT NULL DEFAULT 1;
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN booked SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE chats ADD COLUMN booked SMALLINT NOT NULL DEFAULT 1;

-- Every alternative of a message that has more than one; the message row holds a copy of the
-- selected one (what prompts and lists read). A message never regenerated has no rows here.
CREATE TABLE message_alternatives (
    message_id          BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    position            BIGINT NOT NULL,
    content             TEXT   NOT NULL,
    status              TEXT   NOT NULL,
    model               TEXT,
    prompt_tokens       BIGINT NOT NULL DEFAULT 0,
    completion_tokens   BIGINT NOT NULL DEFAULT 0,
    token_count         BIGINT NOT NULL DEFAULT 0,
    usage_source        TEXT,
    created_at          BIGINT NOT NULL,
    PRIMARY KEY (message_id, position)
);

-- A stored user message counts as one message of its day, unless it is a copy or an import.
DROP TRIGGER messages_book_usage;
CREATE TRIGGER messages_book_usage AFTER INSERT ON messages
WHEN NEW.role = 'user' AND NEW.booked = 1
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, messages, chats, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1, 0, 0, 0)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + excluded.messages, chats = chats + excluded.chats,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_days (day, messages, chats, prompt_tokens, completion_tokens)
    VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1, 0, 0, 0)
    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages, chats = chats + excluded.chats,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_daily (user_id, day, model, character_id, messages, chats, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), COALESCE(NEW.model, ''), NEW.character_id, 1, 0, 0, 0)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = messages + excluded.messages,
        chats = chats + excluded.chats, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_character_days (character_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.character_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1, 0, 0)
    ON CONFLICT (character_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_model_days (model, day, messages, prompt_tokens, completion_tokens)
    VALUES (COALESCE(NEW.model, ''), strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1, 0, 0)
    ON CONFLICT (model, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO user_totals (user_id, chats, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, 0, 1, 0, 0)
    ON CONFLICT (user_id) DO UPDATE SET chats = chats + excluded.chats, messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    UPDATE users SET last_active_at = NEW.created_at WHERE id = NEW.user_id;
END;

-- A chat started here counts as one chat of its user's day; a branch or an import does not.
DROP TRIGGER chats_book_usage;
CREATE TRIGGER chats_book_usage AFTER INSERT ON chats
WHEN NEW.booked = 1
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, messages, chats, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 0, 1, 0, 0)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + excluded.messages, chats = chats + excluded.chats,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_days (day, messages, chats, prompt_tokens, completion_tokens)
    VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 0, 1, 0, 0)
    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages, chats = chats + excluded.chats,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_daily (user_id, day, model, character_id, messages, chats, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), NEW.model, NEW.character_id, 0, 1, 0, 0)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = messages + excluded.messages,
        chats = chats + excluded.chats, prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO user_totals (user_id, chats, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, 1, 0, 0, 0)
    ON CONFLICT (user_id) DO UPDATE SET chats = chats + excluded.chats, messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;
END;
