-- Live rooms: many people and one character in one live conversation.
--
-- Messages are numbered by one sequence for the whole server, so a client that reconnects
-- asks for everything after the last id it holds. A deleted message is gone (its room's
-- clients are told live). The character's replies are booked through `generations` with the
-- source 'room', charged to the person whose message caused them, each counting as one of
-- that person's messages like a `/v1` completion (nothing else books them).
CREATE TABLE rooms (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT   NOT NULL,
    character_id   BIGINT NOT NULL REFERENCES characters (id),
    slow_mode_secs BIGINT NOT NULL DEFAULT 0,
    reply_mode     TEXT   NOT NULL DEFAULT 'mention',
    created_at     BIGINT NOT NULL
);

CREATE TABLE room_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    kind       TEXT   NOT NULL,
    user_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    author     TEXT   NOT NULL,
    content    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX room_messages_room ON room_messages (room_id, id);

CREATE TABLE room_mutes (
    room_id BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    until   BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);

-- A generation asked for outside a chat (`/v1`, a room) is one message as well as its tokens.
DROP TRIGGER generations_book_usage;
CREATE TRIGGER generations_book_usage AFTER INSERT ON generations
WHEN NEW.prompt_tokens + NEW.completion_tokens > 0 OR NEW.source <> 'chat'
BEGIN
    INSERT INTO usage_days (day, active_users)
    SELECT strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), 1
    WHERE NOT EXISTS (SELECT 1 FROM usage_user_days WHERE user_id = NEW.user_id AND day = strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'))
    ON CONFLICT (day) DO UPDATE SET active_users = active_users + 1;

    INSERT INTO usage_user_days (user_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source <> 'chat'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_days (day, messages, prompt_tokens, completion_tokens)
    VALUES (strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source <> 'chat'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_daily (user_id, day, model, character_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), NEW.model, NEW.character_id, (NEW.source <> 'chat'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_character_days (character_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.character_id, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source <> 'chat'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (character_id, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_model_days (model, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.model, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source <> 'chat'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (model, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO user_totals (user_id, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, (NEW.source <> 'chat'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (user_id) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    INSERT INTO usage_source_days (source, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.source, strftime('%Y-%m-%d', NEW.created_at / 1000, 'unixepoch'), (NEW.source <> 'chat'), NEW.prompt_tokens, NEW.completion_tokens)
    ON CONFLICT (source, day) DO UPDATE SET messages = messages + excluded.messages,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens;

    UPDATE users SET last_active_at = NEW.created_at WHERE id = NEW.user_id AND NEW.source <> 'chat';
END;
