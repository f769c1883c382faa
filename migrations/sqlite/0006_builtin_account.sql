-- A built-in account owns what Troupe itself ships (the starter characters). It cannot sign in,
-- and no list, count or figure of users includes it.
ALTER TABLE users ADD COLUMN builtin SMALLINT NOT NULL DEFAULT 0;
