-- Every user gets a totals row (so the user list can read it in token order), and the total is
-- a generated column with an index: sorting 10,000 users by tokens reads the index.
INSERT INTO user_totals (user_id) SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM user_totals);

CREATE TRIGGER users_start_totals AFTER INSERT ON users
BEGIN
    INSERT INTO user_totals (user_id) VALUES (NEW.id) ON CONFLICT (user_id) DO NOTHING;
END;

-- SQLite can add only VIRTUAL generated columns to an existing table; they index all the same.
ALTER TABLE user_totals ADD COLUMN total_tokens BIGINT GENERATED ALWAYS AS (prompt_tokens + completion_tokens) VIRTUAL;
CREATE INDEX user_totals_by_tokens ON user_totals (total_tokens DESC, user_id);
