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
    length(CAST(name AS BLOB)) + length(CAST(description AS BLOB)) + length(CAST(personality AS BLOB))
    + length(CAST(scenario AS BLOB)) + length(CAST(system_prompt AS BLOB)) + length(CAST(greeting AS BLOB))
    + length(CAST(example_dialogue AS BLOB)) + length(CAST(tags AS BLOB))
    + length(CAST(alternate_greetings AS BLOB)) + length(CAST(post_history_instructions AS BLOB))
    + length(CAST(creator_notes AS BLOB)) + length(CAST(creator AS BLOB))
    + length(CAST(character_version AS BLOB)) + length(CAST(extensions AS BLOB))
    + length(CAST(card_extra AS BLOB)) + COALESCE(length(CAST(character_book AS BLOB)), 0)
) VIRTUAL;
ALTER TABLE lorebooks ADD COLUMN stored_bytes BIGINT GENERATED ALWAYS AS (
    length(CAST(name AS BLOB)) + length(CAST(book AS BLOB))
) VIRTUAL;

-- Messages. A message's delete gives back its alternatives too, before they go with it (their
-- own trigger then finds no message and gives back nothing).
CREATE TRIGGER messages_storage_inserted AFTER INSERT ON messages BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + length(CAST(NEW.content AS BLOB))
    WHERE id = NEW.user_id;
    SELECT RAISE(ABORT, 'storage_quota_exceeded') FROM storage_accounts a
    WHERE a.user_id = NEW.user_id AND (NEW.role = 'user' OR NEW.booked = 0)
      AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes;
END;
CREATE TRIGGER messages_storage_updated AFTER UPDATE OF content ON messages
WHEN length(CAST(NEW.content AS BLOB)) <> length(CAST(OLD.content AS BLOB)) BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + length(CAST(NEW.content AS BLOB))
        - length(CAST(OLD.content AS BLOB))
    WHERE id = NEW.user_id;
END;
CREATE TRIGGER messages_storage_deleted BEFORE DELETE ON messages BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes - length(CAST(OLD.content AS BLOB))
        - COALESCE((SELECT SUM(length(CAST(a.content AS BLOB))) FROM message_alternatives a
                    WHERE a.message_id = OLD.id), 0)
    WHERE id = OLD.user_id;
END;

CREATE TRIGGER message_alternatives_storage_inserted AFTER INSERT ON message_alternatives BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + length(CAST(NEW.content AS BLOB))
    WHERE id = (SELECT m.user_id FROM messages m WHERE m.id = NEW.message_id);
END;
CREATE TRIGGER message_alternatives_storage_updated AFTER UPDATE OF content ON message_alternatives BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + length(CAST(NEW.content AS BLOB))
        - length(CAST(OLD.content AS BLOB))
    WHERE id = (SELECT m.user_id FROM messages m WHERE m.id = NEW.message_id);
END;
CREATE TRIGGER message_alternatives_storage_deleted AFTER DELETE ON message_alternatives BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes - length(CAST(OLD.content AS BLOB))
    WHERE id = (SELECT m.user_id FROM messages m WHERE m.id = OLD.message_id);
END;

-- Characters count while not deleted, with their avatar; deleting one gives both back.
CREATE TRIGGER characters_storage_inserted AFTER INSERT ON characters BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + NEW.stored_bytes WHERE id = NEW.owner_id;
    SELECT RAISE(ABORT, 'storage_quota_exceeded') FROM storage_accounts a
    WHERE a.user_id = NEW.owner_id AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes;
END;
CREATE TRIGGER characters_storage_updated AFTER UPDATE ON characters
WHEN NEW.stored_bytes <> OLD.stored_bytes OR (NEW.deleted_at IS NULL) <> (OLD.deleted_at IS NULL) BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes
        + CASE WHEN NEW.deleted_at IS NULL THEN NEW.stored_bytes ELSE 0 END
        - CASE WHEN OLD.deleted_at IS NULL THEN OLD.stored_bytes ELSE 0 END
        + (CASE WHEN NEW.deleted_at IS NULL THEN 1 ELSE 0 END - CASE WHEN OLD.deleted_at IS NULL THEN 1 ELSE 0 END)
          * COALESCE((SELECT length(v.image) FROM character_avatars v WHERE v.character_id = NEW.id), 0)
    WHERE id = NEW.owner_id;
    SELECT RAISE(ABORT, 'storage_quota_exceeded') FROM storage_accounts a
    WHERE a.user_id = NEW.owner_id AND NEW.deleted_at IS NULL AND NEW.stored_bytes > OLD.stored_bytes
      AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes;
END;
CREATE TRIGGER characters_storage_deleted AFTER DELETE ON characters WHEN OLD.deleted_at IS NULL BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes - OLD.stored_bytes WHERE id = OLD.owner_id;
END;

CREATE TRIGGER character_avatars_storage_inserted AFTER INSERT ON character_avatars BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + length(NEW.image)
    WHERE id = (SELECT c.owner_id FROM characters c WHERE c.id = NEW.character_id AND c.deleted_at IS NULL);
    SELECT RAISE(ABORT, 'storage_quota_exceeded') FROM storage_accounts a
    WHERE a.user_id = (SELECT c.owner_id FROM characters c WHERE c.id = NEW.character_id)
      AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes;
END;
CREATE TRIGGER character_avatars_storage_updated AFTER UPDATE OF image ON character_avatars BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + length(NEW.image) - length(OLD.image)
    WHERE id = (SELECT c.owner_id FROM characters c WHERE c.id = NEW.character_id AND c.deleted_at IS NULL);
    SELECT RAISE(ABORT, 'storage_quota_exceeded') FROM storage_accounts a
    WHERE a.user_id = (SELECT c.owner_id FROM characters c WHERE c.id = NEW.character_id)
      AND length(NEW.image) > length(OLD.image) AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes;
END;
CREATE TRIGGER character_avatars_storage_deleted AFTER DELETE ON character_avatars BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes - length(OLD.image)
    WHERE id = (SELECT c.owner_id FROM characters c WHERE c.id = OLD.character_id AND c.deleted_at IS NULL);
END;

CREATE TRIGGER lorebooks_storage_inserted AFTER INSERT ON lorebooks BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + NEW.stored_bytes WHERE id = NEW.owner_id;
    SELECT RAISE(ABORT, 'storage_quota_exceeded') FROM storage_accounts a
    WHERE a.user_id = NEW.owner_id AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes;
END;
CREATE TRIGGER lorebooks_storage_updated AFTER UPDATE ON lorebooks WHEN NEW.stored_bytes <> OLD.stored_bytes BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes + NEW.stored_bytes - OLD.stored_bytes
    WHERE id = NEW.owner_id;
    SELECT RAISE(ABORT, 'storage_quota_exceeded') FROM storage_accounts a
    WHERE a.user_id = NEW.owner_id AND NEW.stored_bytes > OLD.stored_bytes
      AND a.quota_bytes > 0 AND a.used_bytes > a.quota_bytes;
END;
CREATE TRIGGER lorebooks_storage_deleted AFTER DELETE ON lorebooks BEGIN
    UPDATE users SET storage_used_bytes = storage_used_bytes - OLD.stored_bytes WHERE id = OLD.owner_id;
END;

-- What every account stores already.
UPDATE users SET storage_used_bytes =
    COALESCE((SELECT SUM(length(CAST(m.content AS BLOB))) FROM messages m WHERE m.user_id = users.id), 0)
  + COALESCE((SELECT SUM(length(CAST(a.content AS BLOB))) FROM message_alternatives a
              JOIN messages m ON m.id = a.message_id WHERE m.user_id = users.id), 0)
  + COALESCE((SELECT SUM(c.stored_bytes) FROM characters c WHERE c.owner_id = users.id AND c.deleted_at IS NULL), 0)
  + COALESCE((SELECT SUM(length(v.image)) FROM character_avatars v JOIN characters c ON c.id = v.character_id
              WHERE c.owner_id = users.id AND c.deleted_at IS NULL), 0)
  + COALESCE((SELECT SUM(l.stored_bytes) FROM lorebooks l WHERE l.owner_id = users.id), 0);

-- Bulk writes (an import, a branch) fill a chat over several transactions; until the last one
-- commits the chat is hidden (`bulk_write_at` holds when its last batch committed), and a chat
-- left so by a crash is deleted at start-up.
ALTER TABLE chats ADD COLUMN bulk_write_at BIGINT;
CREATE INDEX chats_bulk_writes ON chats (bulk_write_at) WHERE bulk_write_at IS NOT NULL;
