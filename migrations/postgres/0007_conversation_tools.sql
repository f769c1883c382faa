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
CREATE OR REPLACE FUNCTION troupe_message_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE chats SET message_count = message_count + 1, last_message_at = NEW.created_at WHERE id = NEW.chat_id;
    IF NEW.role = 'user' AND NEW.booked = 1 THEN
        PERFORM troupe_book(NEW.user_id, troupe_day(NEW.created_at), COALESCE(NEW.model, ''), NEW.character_id,
                            1, 0, 0, 0);
        UPDATE users SET last_active_at = NEW.created_at WHERE id = NEW.user_id;
    END IF;
    RETURN NULL;
END
$$;

-- A chat started here counts as one chat of its user's day; a branch or an import does not.
DROP TRIGGER chats_book_usage ON chats;
CREATE TRIGGER chats_book_usage AFTER INSERT ON chats FOR EACH ROW WHEN (NEW.booked = 1)
    EXECUTE FUNCTION troupe_chat_inserted();
