-- 032_pending.sql - the pending store (SQLite migration 128): mail held until a record matches it,
-- its external participants indexed by address without +tag and by domain for re-matching. The
-- unique (enterprise, raw digest) holds a message once, also when two nodes hold it at once.
CREATE TABLE IF NOT EXISTS pending_messages(
  id text PRIMARY KEY, enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  raw_sha256 text NOT NULL, received_at bigint NOT NULL, expires_at bigint NOT NULL, reason text NOT NULL,
  route text, employee_id text, mailbox text, UNIQUE(enterprise_id, raw_sha256));
CREATE INDEX IF NOT EXISTS pending_by_expiry ON pending_messages(expires_at);
CREATE INDEX IF NOT EXISTS pending_by_received ON pending_messages(enterprise_id, received_at, id);
CREATE INDEX IF NOT EXISTS pending_by_raw ON pending_messages(raw_sha256);
CREATE TABLE IF NOT EXISTS pending_participants(
  pending_id text NOT NULL REFERENCES pending_messages(id) ON DELETE CASCADE, enterprise_id text NOT NULL,
  address text NOT NULL, address_noplus text NOT NULL, domain text NOT NULL,
  PRIMARY KEY(pending_id, address));
CREATE INDEX IF NOT EXISTS pending_by_address ON pending_participants(enterprise_id, address_noplus);
CREATE INDEX IF NOT EXISTS pending_by_domain ON pending_participants(enterprise_id, domain);
