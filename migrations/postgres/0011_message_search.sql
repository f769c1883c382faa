-- Text search over messages for the admins' history browser: a trigram index, which serves
-- `content ILIKE '%…%'` for any substring of 3+ characters. pg_trgm ships with PostgreSQL and
-- is a trusted extension (13+): the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX messages_content_trgm ON messages USING gin (content gin_trgm_ops);
