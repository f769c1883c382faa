-- The usage ledger's booking of a user message and of a generation, in one trigger function
-- with the statements inline: through `troupe_book` and `troupe_book_source` each booking cost
-- two more PL/pgSQL calls, about half of its time (measured per statement with
-- pg_stat_statements: 138 µs a call of `troupe_book`, 66 µs of it its statements). What is
-- booked, and in what order rows are locked, is unchanged (see 0003, 0009 and 0012): the
-- day's active users, the user's day, the day, the user's day by model and character, the
-- user's totals, the character's and the model's day, the source's day, then the user's last
-- activity.
CREATE FUNCTION troupe_book_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_day        TEXT := troupe_day(NEW.created_at);
    v_messages   BIGINT;
    v_prompt     BIGINT;
    v_completion BIGINT;
    v_source     TEXT;
    v_model      TEXT;
BEGIN
    IF TG_TABLE_NAME = 'messages' THEN
        UPDATE chats SET message_count = message_count + 1, last_message_at = NEW.created_at
        WHERE id = NEW.chat_id;
        -- Replies are booked from their generation; copies and imports not at all.
        IF NEW.role <> 'user' OR NEW.booked <> 1 THEN
            RETURN NULL;
        END IF;
        v_messages := 1; v_prompt := 0; v_completion := 0; v_source := 'chat'; v_model := COALESCE(NEW.model, '');
    ELSE
        -- A generation outside a chat (`/v1`, a room) is one message as well as its tokens.
        v_messages := CASE WHEN NEW.source <> 'chat' THEN 1 ELSE 0 END;
        v_prompt := NEW.prompt_tokens; v_completion := NEW.completion_tokens;
        v_source := NEW.source; v_model := NEW.model;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM usage_user_days u WHERE u.user_id = NEW.user_id AND u.day = v_day) THEN
        INSERT INTO usage_days (day, active_users) VALUES (v_day, 1)
        ON CONFLICT (day) DO UPDATE SET active_users = usage_days.active_users + 1;
    END IF;
    INSERT INTO usage_user_days AS t (user_id, day, messages, chats, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, v_day, v_messages, 0, v_prompt, v_completion)
    ON CONFLICT (user_id, day) DO UPDATE SET messages = t.messages + excluded.messages,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens;
    INSERT INTO usage_days AS t (day, messages, chats, prompt_tokens, completion_tokens)
    VALUES (v_day, v_messages, 0, v_prompt, v_completion)
    ON CONFLICT (day) DO UPDATE SET messages = t.messages + excluded.messages,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens;
    INSERT INTO usage_daily AS t (user_id, day, model, character_id, messages, chats, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, v_day, v_model, NEW.character_id, v_messages, 0, v_prompt, v_completion)
    ON CONFLICT (user_id, day, model, character_id) DO UPDATE SET messages = t.messages + excluded.messages,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens;
    INSERT INTO user_totals AS t (user_id, chats, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.user_id, 0, v_messages, v_prompt, v_completion)
    ON CONFLICT (user_id) DO UPDATE SET messages = t.messages + excluded.messages,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens;
    INSERT INTO usage_character_days AS t (character_id, day, messages, prompt_tokens, completion_tokens)
    VALUES (NEW.character_id, v_day, v_messages, v_prompt, v_completion)
    ON CONFLICT (character_id, day) DO UPDATE SET messages = t.messages + excluded.messages,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens;
    INSERT INTO usage_model_days AS t (model, day, messages, prompt_tokens, completion_tokens)
    VALUES (v_model, v_day, v_messages, v_prompt, v_completion)
    ON CONFLICT (model, day) DO UPDATE SET messages = t.messages + excluded.messages,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens;
    INSERT INTO usage_source_days AS t (source, day, messages, prompt_tokens, completion_tokens)
    VALUES (v_source, v_day, v_messages, v_prompt, v_completion)
    ON CONFLICT (source, day) DO UPDATE SET messages = t.messages + excluded.messages,
        prompt_tokens = t.prompt_tokens + excluded.prompt_tokens,
        completion_tokens = t.completion_tokens + excluded.completion_tokens;
    IF v_messages > 0 THEN
        UPDATE users SET last_active_at = NEW.created_at WHERE id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER messages_book_usage ON messages;
CREATE TRIGGER messages_book_usage AFTER INSERT ON messages FOR EACH ROW EXECUTE FUNCTION troupe_book_row();
DROP TRIGGER generations_book_usage ON generations;
CREATE TRIGGER generations_book_usage AFTER INSERT ON generations FOR EACH ROW
    WHEN (NEW.prompt_tokens + NEW.completion_tokens > 0 OR NEW.source <> 'chat')
    EXECUTE FUNCTION troupe_book_row();
DROP FUNCTION troupe_message_inserted();
DROP FUNCTION troupe_generation_inserted();
DROP FUNCTION troupe_book_source(TEXT, TEXT, BIGINT, BIGINT, BIGINT);
