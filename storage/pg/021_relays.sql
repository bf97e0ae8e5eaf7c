-- 021_relays.sql - enterprise relays (as SQLite's migrations 110-113): the relay rows, their
-- domain filters (by priority, ties by seq, the order of writing), the per-day counters of
-- recipients routed and failed sessions (changed only by upserts, so two nodes counting at once
-- lose nothing), the shared relay's reputation (the log of recipients routed to mailagent's own
-- path, an enterprise's suspension from it), the channels' system accounts, and employees'
-- default sending mailboxes.
CREATE TABLE relays(
  id text PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  name text NOT NULL, host text NOT NULL, port integer NOT NULL, security text NOT NULL,
  tls_mode text NOT NULL, auth_enabled integer NOT NULL DEFAULT 0, auth_mechanism text, username text,
  password_sealed text, daily_limit bigint NOT NULL DEFAULT 0, email_types text NOT NULL,
  dkim integer NOT NULL DEFAULT 1, enabled integer NOT NULL DEFAULT 1,
  status text NOT NULL DEFAULT 'untested', status_since bigint NOT NULL DEFAULT 0, status_reason text,
  suspended_until bigint NOT NULL DEFAULT 0, return_path text,
  created_at bigint NOT NULL, updated_at bigint NOT NULL,
  UNIQUE(enterprise_id, name));
CREATE TABLE relay_filters(
  seq bigserial PRIMARY KEY,
  relay_id text NOT NULL REFERENCES relays(id) ON DELETE CASCADE,
  enterprise_id text NOT NULL, priority integer NOT NULL, sender_domain text NOT NULL,
  recipient_patterns text);
CREATE INDEX relay_filters_by_relay ON relay_filters(relay_id, priority, seq);
CREATE TABLE relay_usage(
  relay_id text NOT NULL REFERENCES relays(id) ON DELETE CASCADE,
  enterprise_id text NOT NULL, day text NOT NULL,
  sent bigint NOT NULL DEFAULT 0, failures integer NOT NULL DEFAULT 0,
  last_failure_at bigint NOT NULL DEFAULT 0,
  PRIMARY KEY(relay_id, day));

CREATE TABLE default_path_log(
  seq bigserial PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  outbound_id text NOT NULL, address text NOT NULL, at bigint NOT NULL);
CREATE INDEX default_path_log_by_enterprise ON default_path_log(enterprise_id, seq);
CREATE INDEX default_path_log_by_time ON default_path_log(enterprise_id, at);
CREATE TABLE default_path_suspensions(
  enterprise_id text PRIMARY KEY REFERENCES enterprises(id) ON DELETE CASCADE,
  since bigint NOT NULL, reason text NOT NULL,
  lifted_at bigint NOT NULL DEFAULT 0, lifted_seq bigint NOT NULL DEFAULT 0);

CREATE TABLE channel_accounts(
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  channel text NOT NULL, address text NOT NULL, verified_at bigint NOT NULL,
  PRIMARY KEY(enterprise_id, channel));

-- mailbox_id has no foreign key here: the mailboxes table comes with a later migration (030-039),
-- which adds it (ON DELETE CASCADE: unbinding the mailbox forgets the choice).
CREATE TABLE employee_send_mailboxes(
  employee_id text PRIMARY KEY REFERENCES employees(id) ON DELETE CASCADE,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  mailbox_id text NOT NULL);
