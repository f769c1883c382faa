-- Fair use of storage: what each account stores, counted by triggers in the same statement as
-- the write (so no write path can forget it), and checked against the account's quota there.
--
-- Counted, in bytes of UTF-8 text or image: every message's text and every alternative's (a
-- message with several keeps the shown one twice, and both copies count), the characters an
-- account has not deleted (their card fields) and their avatars, and lorebooks. Given back when
-- deleted. A write that would pass the quota is refused (`storage_quota_exceeded`) when it is a
-- message the user sends, a copy or an import, a character, an avatar or a lorebook; a reply
-- being generated, an edit and a chosen alternative are counted but never refused: a reply is
-- paid for by then, so an account can end at most one reply past its quota.

ALTER TABLE users ADD COLUMN storage_used_bytes BIGINT NOT NULL DEFAULT 0;
-- An admin's setting for this account in MB: NULL follows the server's default, 0 is unlimited.
ALTER TABLE users ADD COLUMN storage_quota_mb BIGINT;

-- Settings the database itself applies; the server writes them from its configuration at start.
CREATE TABLE server_settings (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);

-- Each account's storage and its quota in bytes (0: unlimited): the one place of the rule.
CREATE VIEW storage_accounts AS
SELECT u.id AS user_id, u.storage_used_bytes AS used_bytes,
       CASE WHEN u.storage_quota_mb IS NOT NULL THEN u.storage_quota_mb * 1048576
            ELSE COALESCE((SELECT s.value FROM server_settings s WHERE s.name = 'storage_quota_bytes'), 0) END
       AS quota_bytes
FROM users u;

-- The built-in account (starter characters) is never limited.
UPDATE users SET storage_quota_mb = 0 WHERE builtin = 1;

-- A character's card fields in bytes, kept by the database.
ALTER TABLE characters ADD COLUMN stored_bytes BIGINT GENERATED ALWAYS AS (
    octet_length(name) + octet_length(description) + octet_length(personality) + octet_length(scenario)
    + octet_length(system_prompt) + octet_length(greeting) + octet_length(example_dialogue) + octet_length(tags)
    + octet_length(alternate_greetings) + octet_length(post_history_instructions) + octet_length(creator_notes)
    + octet_length(creator) + octet_length(character_version) + octet_length(extensions)
    + octet_length(card_extra) + COALESCE(octet_length(character_book), 0)
) STORED;
ALTER TABLE lorebooks ADD COLUMN stored_bytes BIGINT GENERATED ALWAYS AS (
    octet_length(name) + octet_length(book)
) STORED;

-- Moves `owner`'s storage by `delta`; with `checked`, refuses what passes the quota.
CREATE FUNCTION troupe_store(owner BIGINT, delta BIGINT, checked BOOLEAN) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF owner IS NULL OR delta = 0 THEN
        RETURN;
    END IF;
    UPDATE users SET storage_used_bytes = storage_used_bytes + delta WHERE id = owner;
    IF checked AND delta > 0 AND EXISTS (SELECT 1 FROM storage_accounts a
            WHERE a.user_id = owner AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes) THEN
        RAISE EXCEPTION 'storage_quota_exceeded' USING ERRCODE = 'P0001';
    END IF;
END $$;

-- Messages. A new one is counted and checked inside the booking trigger every message insert
-- runs already (one PL/pgSQL call a message, as 0014 measured), a user message's bytes in the
-- same update as its last activity (0014's function, otherwise unchanged). A message's delete gives back its alternatives too, before they go with it
-- (their own trigger then finds no message).
CREATE OR REPLACE FUNCTION troupe_book_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_day        TEXT := troupe_day(NEW.created_at);
    v_messages   BIGINT;
    v_prompt     BIGINT;
    v_completion BIGINT;
    v_source     TEXT;
    v_model      TEXT;
    v_bytes      BIGINT := 0;
BEGIN
    IF TG_TABLE_NAME = 'messages' THEN
        UPDATE chats SET message_count = message_count + 1, last_message_at = NEW.created_at
        WHERE id = NEW.chat_id;
        v_bytes := octet_length(NEW.content);
        -- Replies are booked from their generation; copies and imports not at all. Their
        -- storage is counted here (a user message's with its last activity, below).
        IF NEW.role <> 'user' OR NEW.booked <> 1 THEN
            UPDATE users SET storage_used_bytes = storage_used_bytes + v_bytes WHERE id = NEW.user_id;
            IF NEW.booked = 0 AND EXISTS (SELECT 1 FROM storage_accounts a
                    WHERE a.user_id = NEW.user_id AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes) THEN
                RAISE EXCEPTION 'storage_quota_exceeded' USING ERRCODE = 'P0001';
            END IF;
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
        UPDATE users SET last_active_at = NEW.created_at, storage_used_bytes = storage_used_bytes + v_bytes
        WHERE id = NEW.user_id;
    END IF;
    IF v_bytes > 0 AND EXISTS (SELECT 1 FROM storage_accounts a
            WHERE a.user_id = NEW.user_id AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes) THEN
        RAISE EXCEPTION 'storage_quota_exceeded' USING ERRCODE = 'P0001';
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION troupe_message_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        PERFORM troupe_store(NEW.user_id, octet_length(NEW.content)::BIGINT - octet_length(OLD.content), FALSE);
        RETURN NULL;
    END IF;
    PERFORM troupe_store(OLD.user_id, -(octet_length(OLD.content)
        + COALESCE((SELECT SUM(octet_length(a.content)) FROM message_alternatives a WHERE a.message_id = OLD.id), 0)),
        FALSE);
    RETURN OLD;
END $$;
CREATE TRIGGER messages_storage_updated AFTER UPDATE OF content ON messages
    FOR EACH ROW WHEN (octet_length(NEW.content) <> octet_length(OLD.content)) EXECUTE FUNCTION troupe_message_stored();
CREATE TRIGGER messages_storage_deleted BEFORE DELETE ON messages
    FOR EACH ROW EXECUTE FUNCTION troupe_message_stored();

CREATE FUNCTION troupe_alternative_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM troupe_store((SELECT m.user_id FROM messages m WHERE m.id = OLD.message_id),
            -octet_length(OLD.content)::BIGINT, FALSE);
    ELSE
        PERFORM troupe_store((SELECT m.user_id FROM messages m WHERE m.id = NEW.message_id),
            octet_length(NEW.content)::BIGINT - CASE WHEN TG_OP = 'UPDATE' THEN octet_length(OLD.content) ELSE 0 END,
            FALSE);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER message_alternatives_storage AFTER INSERT OR UPDATE OF content OR DELETE ON message_alternatives
    FOR EACH ROW EXECUTE FUNCTION troupe_alternative_stored();

-- Characters count while not deleted, with their avatar; deleting one gives both back.
CREATE FUNCTION troupe_character_stored() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_avatar BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM troupe_store(NEW.owner_id, NEW.stored_bytes, TRUE);
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.deleted_at IS NULL THEN
            PERFORM troupe_store(OLD.owner_id, -OLD.stored_bytes, FALSE);
        END IF;
    ELSE
        v_avatar := COALESCE((SELECT octet_length(v.image) FROM character_avatars v WHERE v.character_id = NEW.id), 0);
        PERFORM troupe_store(NEW.owner_id,
            CASE WHEN NEW.deleted_at IS NULL THEN NEW.stored_bytes + v_avatar ELSE 0 END
            - CASE WHEN OLD.deleted_at IS NULL THEN OLD.stored_bytes + v_avatar ELSE 0 END,
            NEW.deleted_at IS NULL AND NEW.stored_bytes > OLD.stored_bytes);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER characters_storage AFTER INSERT OR UPDATE OR DELETE ON characters
    FOR EACH ROW EXECUTE FUNCTION troupe_character_stored();

CREATE FUNCTION troupe_avatar_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM troupe_store((SELECT c.owner_id FROM characters c WHERE c.id = OLD.character_id AND c.deleted_at IS NULL),
            -octet_length(OLD.image)::BIGINT, FALSE);
    ELSE
        PERFORM troupe_store((SELECT c.owner_id FROM characters c WHERE c.id = NEW.character_id AND c.deleted_at IS NULL),
            octet_length(NEW.image)::BIGINT - CASE WHEN TG_OP = 'UPDATE' THEN octet_length(OLD.image) ELSE 0 END,
            TRUE);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER character_avatars_storage AFTER INSERT OR UPDATE OF image OR DELETE ON character_avatars
    FOR EACH ROW EXECUTE FUNCTION troupe_avatar_stored();

CREATE FUNCTION troupe_lorebook_stored() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM troupe_store(OLD.owner_id, -OLD.stored_bytes, FALSE);
    ELSE
        PERFORM troupe_store(NEW.owner_id,
            NEW.stored_bytes - CASE WHEN TG_OP = 'UPDATE' THEN OLD.stored_bytes ELSE 0 END, TRUE);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER lorebooks_storage AFTER INSERT OR UPDATE OR DELETE ON lorebooks
    FOR EACH ROW EXECUTE FUNCTION troupe_lorebook_stored();

-- What every account stores already.
UPDATE users SET storage_used_bytes =
    COALESCE((SELECT SUM(octet_length(m.content)) FROM messages m WHERE m.user_id = users.id), 0)
  + COALESCE((SELECT SUM(octet_length(a.content)) FROM message_alternatives a
              JOIN messages m ON m.id = a.message_id WHERE m.user_id = users.id), 0)
  + COALESCE((SELECT SUM(c.stored_bytes) FROM characters c WHERE c.owner_id = users.id AND c.deleted_at IS NULL), 0)
  + COALESCE((SELECT SUM(octet_length(v.image)) FROM character_avatars v JOIN characters c ON c.id = v.character_id
              WHERE c.owner_id = users.id AND c.deleted_at IS NULL), 0)
  + COALESCE((SELECT SUM(l.stored_bytes) FROM lorebooks l WHERE l.owner_id = users.id), 0);

-- Bulk writes (an import, a branch) fill a chat over several transactions; until the last one
-- commits the chat is hidden (`bulk_write_at` holds when its last batch committed), and a chat
-- left so by a crash is deleted at start-up.
ALTER TABLE chats ADD COLUMN bulk_write_at BIGINT;
CREATE INDEX chats_bulk_writes ON chats (bulk_write_at) WHERE bulk_write_at IS NOT NULL;
