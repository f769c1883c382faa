-- Generations: every model reply is recorded here, whatever becomes of it, and the usage
-- ledger books its tokens from this record (trigger below), in the same transaction as the
-- stored reply. The record has no foreign key to its chat or message: deleting chats or
-- messages never lowers recorded usage, and a reply whose chat was deleted while it streamed
-- is still charged. User messages still count as the day's messages when they are stored.
--
-- The ledger's invariant becomes: for every user and day, recorded tokens equal the sum over
-- that day's generations, and recorded messages the number of user messages stored that day.

CREATE TABLE generations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id           BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Where the reply went; kept as plain numbers after the chat or message is deleted.
    chat_id           BIGINT,
    message_id        BIGINT,
    character_id      BIGINT NOT NULL,
    model             TEXT   NOT NULL,
    status            TEXT   NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    usage_source      TEXT,
    created_at        BIGINT NOT NULL
);
CREATE INDEX generations_user_created ON generations (user_id, created_at);
CREATE INDEX generations_created ON generations (created_at);

-- Replies stored so far become generations; they are booked already, so this runs before the
-- trigger exists.
INSERT INTO generations (user_id, chat_id, message_id, character_id, model, status, prompt_tokens,
                         completion_tokens, usage_source, created_at)
SELECT user_id, chat_id, id, COALESCE(character_id, 0), COALESCE(model, ''), status, prompt_tokens,
       completion_tokens, usage_source, created_at
FROM messages WHERE role = 'assistant' AND prompt_tokens + completion_tokens > 0;

-- A stored user message counts as one message of its day (and marks its user active).
DROP TRIGGER messages_book_usage;
CREATE TRIGGER messages_book_usage AFTER INSERT ON messages
WHEN NEW.role = 'user'
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1, 0, 0)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_days (day, messages, prompt_tokens, completion_tokens)
    VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1, 0, 0)
    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_daily (user_id, day, model, character_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), COALESCE(NEW.model, ''), NEW.character_id, 1, 0, 0)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
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

    INSERT INTO user_totals (user_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, 1, 0, 0)
    ON CONFLICT (user_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    UPDATE users SET last_active_at = NEW.created_at WHERE id = NEW.user_id;
END;

-- A generation adds its tokens. One that was charged nothing books nothing.
CREATE TRIGGER generations_book_usage AFTER INSERT ON generations
WHEN NEW.prompt_tokens + NEW.completion_tokens > 0
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 0, NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_days (day, messages, prompt_tokens, completion_tokens)
    VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 0, NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_daily (user_id, day, model, character_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), NEW.model, NEW.character_id, 0, NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_character_days (character_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.character_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 0, NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (character_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_model_days (model, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.model, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 0, NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (model, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO user_totals (user_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, 0, NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;
END;
