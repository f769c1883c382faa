-- What lets a chat turn read its character, lorebooks, shared prompts and history from the
-- server's memory: each cached thing has a revision that moves on every change (by triggers, so
-- no write can forget it), and a turn's one read of its chat returns the revisions to check the
-- caches against. Every instance sees every change that way, Redis or not.

-- A character's and a lorebook's revision: one more on every update.
ALTER TABLE characters ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
CREATE TRIGGER characters_revision AFTER UPDATE ON characters WHEN NEW.revision = OLD.revision
BEGIN
    UPDATE characters SET revision = OLD.revision + 1 WHERE id = NEW.id;
END;

ALTER TABLE lorebooks ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
CREATE TRIGGER lorebooks_revision AFTER UPDATE ON lorebooks WHEN NEW.revision = OLD.revision
BEGIN
    UPDATE lorebooks SET revision = OLD.revision + 1 WHERE id = NEW.id;
END;

-- Each lorebook entry's size in tokens, counted once when the book is saved (a JSON list in
-- entry order); NULL for books saved before this, counted when first read.
ALTER TABLE lorebooks ADD COLUMN entry_tokens TEXT;
ALTER TABLE characters ADD COLUMN book_tokens TEXT;

-- Revisions of whole tables: the shared prompts move together.
CREATE TABLE cache_revisions (
    name     TEXT   PRIMARY KEY,
    revision BIGINT NOT NULL
);
INSERT INTO cache_revisions (name, revision) VALUES ('shared_prompts', 0);
CREATE TRIGGER shared_prompts_inserted AFTER INSERT ON shared_prompts
BEGIN
    UPDATE cache_revisions SET revision = revision + 1 WHERE name = 'shared_prompts';
END;
CREATE TRIGGER shared_prompts_updated AFTER UPDATE ON shared_prompts
BEGIN
    UPDATE cache_revisions SET revision = revision + 1 WHERE name = 'shared_prompts';
END;
CREATE TRIGGER shared_prompts_deleted AFTER DELETE ON shared_prompts
BEGIN
    UPDATE cache_revisions SET revision = revision + 1 WHERE name = 'shared_prompts';
END;

-- A chat's history revision moves when one of its messages is changed or deleted; a new
-- message moves `message_count` instead. The two together tell whether a cached history is
-- the chat's.
ALTER TABLE chats ADD COLUMN history_revision BIGINT NOT NULL DEFAULT 0;
CREATE TRIGGER messages_history_updated AFTER UPDATE ON messages
BEGIN
    UPDATE chats SET history_revision = history_revision + 1 WHERE id = NEW.chat_id;
END;
CREATE TRIGGER messages_history_deleted AFTER DELETE ON messages
BEGIN
    UPDATE chats SET history_revision = history_revision + 1 WHERE id = OLD.chat_id;
END;
