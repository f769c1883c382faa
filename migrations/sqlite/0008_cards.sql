-- Character cards: the fields of Character Card V2/V3, avatar images, personas and lorebooks.

-- JSON texts: alternate_greetings a list, extensions and card_extra objects (card_extra holds
-- the card fields Troupe does not model, kept for export), character_book a lorebook or NULL.
ALTER TABLE characters ADD COLUMN alternate_greetings TEXT NOT NULL DEFAULT '[]';
ALTER TABLE characters ADD COLUMN post_history_instructions TEXT NOT NULL DEFAULT '';
ALTER TABLE characters ADD COLUMN creator_notes TEXT NOT NULL DEFAULT '';
ALTER TABLE characters ADD COLUMN creator TEXT NOT NULL DEFAULT '';
ALTER TABLE characters ADD COLUMN character_version TEXT NOT NULL DEFAULT '';
ALTER TABLE characters ADD COLUMN extensions TEXT NOT NULL DEFAULT '{}';
ALTER TABLE characters ADD COLUMN character_book TEXT;
ALTER TABLE characters ADD COLUMN card_extra TEXT NOT NULL DEFAULT '{}';

-- Images live in the database: every instance serves them and one backup holds everything.
CREATE TABLE character_avatars (
    character_id BIGINT PRIMARY KEY REFERENCES characters (id),
    content_type TEXT   NOT NULL,
    image        BLOB   NOT NULL,
    etag         TEXT   NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE personas (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT     NOT NULL,
    description TEXT     NOT NULL DEFAULT '',
    is_default  SMALLINT NOT NULL DEFAULT 0,
    created_at  BIGINT   NOT NULL
);
CREATE INDEX personas_user ON personas (user_id, id);
CREATE UNIQUE INDEX personas_one_default ON personas (user_id) WHERE is_default = 1;

ALTER TABLE chats ADD COLUMN persona_id BIGINT REFERENCES personas (id) ON DELETE SET NULL;

-- Standalone lorebooks: the book as JSON (Character Card V2's character_book shape).
CREATE TABLE lorebooks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL DEFAULT '',
    book       TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX lorebooks_owner ON lorebooks (owner_id, id);

CREATE TABLE chat_lorebooks (
    chat_id     BIGINT NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
    lorebook_id BIGINT NOT NULL REFERENCES lorebooks (id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    PRIMARY KEY (chat_id, lorebook_id)
);
CREATE INDEX chat_lorebooks_book ON chat_lorebooks (lorebook_id);
