-- 031_installation.sql - values the nodes of one installation share and no enterprise owns, each
-- set once (SQLite migration 149): the master key's check value, which `mailagent init` on a node
-- joining the database must match.
CREATE TABLE IF NOT EXISTS installation(name text PRIMARY KEY, value text NOT NULL);
