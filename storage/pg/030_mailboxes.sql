-- 030_mailboxes.sql - employee mailbox bindings for the collector (SQLite migrations 10 and 115's
-- columns): the binding with its counters, scheduling deadline and per-mailbox lease (one fetch at
-- a time across the cluster: a conditional UPDATE takes it, a dead node's lease is taken over
-- once lease_until has passed), folder checkpoints, the collected keys whose primary key makes a
-- replay after a crash a no-op, and per-message failure counts (quarantine).
CREATE TABLE IF NOT EXISTS mailboxes(
  id text PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  employee_id text REFERENCES employees(id) ON DELETE SET NULL,
  email text NOT NULL, username text NOT NULL, protocol text NOT NULL,
  host text NOT NULL, port integer NOT NULL, security text NOT NULL, auth text NOT NULL,
  secret_sealed text, allow_untrusted boolean NOT NULL DEFAULT false, preset text,
  send_id boolean NOT NULL DEFAULT false, folders text, archiving boolean NOT NULL DEFAULT true,
  state text NOT NULL DEFAULT 'active', created_at bigint NOT NULL,
  last_sync_at bigint NOT NULL DEFAULT 0, last_error_at bigint NOT NULL DEFAULT 0, last_error text,
  failures integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL DEFAULT 0,
  fetched bigint NOT NULL DEFAULT 0, archived bigint NOT NULL DEFAULT 0,
  skipped bigint NOT NULL DEFAULT 0, quarantined bigint NOT NULL DEFAULT 0,
  lease_owner text, lease_until bigint NOT NULL DEFAULT 0,
  smtp_host text, smtp_port integer NOT NULL DEFAULT 0, smtp_security text,
  sent_copy boolean NOT NULL DEFAULT true, daily_limit integer NOT NULL DEFAULT 0,
  UNIQUE(enterprise_id, email, host, protocol));
CREATE INDEX IF NOT EXISTS mailboxes_by_enterprise ON mailboxes(enterprise_id, created_at, id);
CREATE INDEX IF NOT EXISTS mailboxes_due ON mailboxes(next_attempt_at) WHERE state = 'active';

CREATE TABLE IF NOT EXISTS mailbox_folders(
  mailbox_id text NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, folder text NOT NULL,
  uidvalidity bigint NOT NULL, last_uid bigint NOT NULL, highest_modseq bigint NOT NULL DEFAULT 0,
  PRIMARY KEY(mailbox_id, folder));
CREATE TABLE IF NOT EXISTS mailbox_keys(
  mailbox_id text NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, folder text NOT NULL,
  uidvalidity bigint NOT NULL, key text NOT NULL,
  PRIMARY KEY(mailbox_id, folder, uidvalidity, key));
CREATE TABLE IF NOT EXISTS mailbox_failures(
  mailbox_id text NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, folder text NOT NULL,
  key text NOT NULL, failures integer NOT NULL, last_error text, updated_at bigint NOT NULL,
  PRIMARY KEY(mailbox_id, folder, key));
