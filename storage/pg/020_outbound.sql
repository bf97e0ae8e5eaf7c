-- 020_outbound.sql - the outbound queue (as SQLite's migrations 9, 116 and 118): one row per
-- message, one per recipient carrying its own state and lease (claimed by FOR UPDATE SKIP LOCKED,
-- so each recipient goes to one node; a claim is a lease in next_attempt_at, so a dead node's
-- claims come back when it ends), the Idempotency-Key answers of POST /v1/messages:send (unique
-- per enterprise by the primary key, so two nodes given one key queue one message), the
-- submission listener's credentials, and the Sent copy step of a message sent through an
-- employee's mailbox (claimed like a recipient).
CREATE TABLE outbound_messages(
  id text PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  type text NOT NULL, channel text NOT NULL, employee text,
  mail_from text NOT NULL, header_from text, subject text, message_id text,
  raw_sha256 text NOT NULL, size bigint NOT NULL,
  eight_bit integer NOT NULL DEFAULT 0, smtputf8 integer NOT NULL DEFAULT 0,
  records text, route text, created_at bigint NOT NULL,
  return_path text, list_unsubscribe integer NOT NULL DEFAULT 0);
CREATE INDEX outbound_messages_by_enterprise ON outbound_messages(enterprise_id, id);
CREATE INDEX outbound_messages_by_message_id ON outbound_messages(enterprise_id, message_id);

CREATE TABLE outbound_recipients(
  id bigserial PRIMARY KEY,
  outbound_id text NOT NULL REFERENCES outbound_messages(id) ON DELETE CASCADE,
  enterprise_id text NOT NULL,
  address text NOT NULL, state text NOT NULL, held_from text,
  attempts integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL,
  last_attempt_at bigint NOT NULL DEFAULT 0, updated_at bigint NOT NULL,
  last_reply text, deferred_reason text, route text,
  UNIQUE(outbound_id, address));
-- only the recipients a claim can take: the scan never reads delivered history
CREATE INDEX outbound_due ON outbound_recipients(next_attempt_at, id)
  WHERE state IN ('queued', 'deferred', 'sending');
CREATE INDEX outbound_recipients_by_state ON outbound_recipients(state, outbound_id);

CREATE TABLE outbound_idempotency(
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  key text NOT NULL, request_sha256 text NOT NULL, response text NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY(enterprise_id, key));

CREATE TABLE submission_credentials(
  id text PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  username text NOT NULL UNIQUE, label text, secret_hash text NOT NULL,
  created_at bigint NOT NULL, revoked_at bigint NOT NULL DEFAULT 0);

CREATE TABLE outbound_sent_copies(
  outbound_id text PRIMARY KEY REFERENCES outbound_messages(id) ON DELETE CASCADE,
  enterprise_id text NOT NULL, mailbox_id text NOT NULL, state text NOT NULL DEFAULT 'pending',
  attempts integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL, folder text, last_error text,
  updated_at bigint NOT NULL);
CREATE INDEX outbound_sent_copies_due ON outbound_sent_copies(next_attempt_at, outbound_id)
  WHERE state IN ('pending', 'appending');
