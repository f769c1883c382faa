-- Every user gets a totals row (so the user list can read it in token order), and the total is
-- a generated column with an index: sorting 10,000 users by tokens reads the index.
INSERT INTO user_totals (user_id) SELECT id FROM users WHERE id NOT IN (SELECT user_id FROM user_totals);

CREATE FUNCTION troupe_user_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_totals (user_id) VALUES (NEW.id) ON CONFLICT (user_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_start_totals AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION troupe_user_inserted();

ALTER TABLE user_totals ADD COLUMN total_tokens BIGINT GENERATED ALWAYS AS (prompt_tokens + completion_tokens) STORED;
CREATE INDEX user_totals_by_tokens ON user_totals (total_tokens DESC, user_id);
