-- 010_archive.sql - the archive: threads, messages (bodies apart, as SQLite's migration 124), their
-- participants, attachments, record links and provenance, activities, the timeline index, the
-- per-enterprise archive version API caches key on, and the webhook outbox with its claim lease.
-- The same tables and unique keys as the SQLite schema: uniqueness (one message per Message-ID
-- and dedup key, one activity per message and record, one outbox event per idempotency key) is
-- the database's, so two nodes storing the same message at once cannot both win. Identifiers that
-- order pages sort byte-wise (COLLATE "C"), as SQLite compares them.
CREATE TABLE threads(
  id text COLLATE "C" PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  subject_key text, participants_key text, latest bigint NOT NULL);
CREATE INDEX threads_by_subject ON threads(enterprise_id, subject_key, participants_key, latest, id);

CREATE TABLE messages(
  id text COLLATE "C" PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  thread_id text, message_id text, dedup_key text NOT NULL, subject text NOT NULL DEFAULT '',
  direction integer NOT NULL, date bigint NOT NULL, archived_at bigint NOT NULL,
  size bigint NOT NULL DEFAULT 0, raw_sha256 text, snippet text,
  has_attachment integer NOT NULL DEFAULT 0, parse_error text,
  machine integer NOT NULL DEFAULT 0, machine_reason text);
CREATE UNIQUE INDEX messages_by_message_id ON messages(enterprise_id, message_id) WHERE message_id IS NOT NULL;
CREATE UNIQUE INDEX messages_by_dedup ON messages(enterprise_id, dedup_key);
CREATE INDEX messages_by_thread ON messages(enterprise_id, thread_id, date, id);
CREATE INDEX messages_by_archived ON messages(enterprise_id, archived_at, id);
CREATE INDEX messages_by_raw ON messages(raw_sha256) WHERE raw_sha256 IS NOT NULL;

CREATE TABLE message_bodies(
  message_id text PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE, html text, text text NOT NULL);

CREATE TABLE participants(
  message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  pos integer NOT NULL, role integer NOT NULL, name text, address text NOT NULL,
  PRIMARY KEY(message_id, pos));
CREATE INDEX participants_by_address ON participants(lower(address));
CREATE INDEX participants_by_domain ON participants(lower(substr(address, strpos(address, '@') + 1)));

CREATE TABLE attachments(
  message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  pos integer NOT NULL, filename text, content_type text, content_id text,
  is_inline integer NOT NULL DEFAULT 0, size bigint NOT NULL, sha256 text NOT NULL,
  PRIMARY KEY(message_id, pos));
CREATE INDEX attachments_by_sha ON attachments(sha256, message_id);

CREATE TABLE message_links(
  message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  record_type integer NOT NULL, record_id text COLLATE "C" NOT NULL, enterprise_id text NOT NULL, reason text,
  PRIMARY KEY(message_id, record_type, record_id));

-- seq orders a message's provenance as SQLite's rowid does (received_at, then order of writing)
CREATE TABLE provenance(
  seq bigserial PRIMARY KEY,
  message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  enterprise_id text NOT NULL, route text NOT NULL, employee_id text, signal text,
  mailbox text, client text, envelope_from text, spool_id text, received_at bigint NOT NULL);
CREATE UNIQUE INDEX provenance_by_spool ON provenance(message_id, spool_id) WHERE spool_id IS NOT NULL;
CREATE UNIQUE INDEX provenance_by_route ON provenance(message_id, route, coalesce(mailbox, ''),
  coalesce(employee_id, '')) WHERE spool_id IS NULL;
CREATE INDEX provenance_by_message ON provenance(message_id, received_at);

CREATE TABLE activities(
  id text PRIMARY KEY, enterprise_id text NOT NULL,
  message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  record_type integer NOT NULL, record_id text COLLATE "C" NOT NULL, rule_id text, rule_name text,
  activity_type text, title text, content text, owner text,
  created_at bigint NOT NULL, message_date bigint NOT NULL,
  UNIQUE(message_id, record_type, record_id));
CREATE INDEX activities_by_enterprise ON activities(enterprise_id, id);

-- one row per (record, linked message) (kind 0) and per (record, activity) (kind 1): a page is one
-- range of the primary key, newest first
CREATE TABLE timeline(
  enterprise_id text NOT NULL, record_type integer NOT NULL, record_id text NOT NULL,
  date bigint NOT NULL, message_id text COLLATE "C" NOT NULL, kind integer NOT NULL,
  direction integer NOT NULL, has_attachment integer NOT NULL, thread_id text, activity_id text,
  PRIMARY KEY(enterprise_id, record_type, record_id, date, message_id, kind));
CREATE INDEX timeline_by_message ON timeline(message_id);

-- Row counts of /metrics: messages and activities are counted by their writers (as SQLite's
-- migration 6; once per transaction, pg_count_add), deletes (cascades included) by these triggers.
CREATE FUNCTION uncount_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE counters SET n = n - 1 WHERE name = TG_ARGV[0];
  RETURN NULL;
END $$;
CREATE TRIGGER messages_uncounted AFTER DELETE ON messages FOR EACH ROW EXECUTE FUNCTION uncount_row('messages');
CREATE TRIGGER activities_uncounted AFTER DELETE ON activities FOR EACH ROW EXECUTE FUNCTION uncount_row('activities');

-- The per-enterprise archive version (storage_archive_version), bumped inside the transaction that
-- changes what a timeline page reads, so a node's cache sees another node's commit: the row lock
-- orders the bumps as the commits. Once per transaction (bumped_in, the transaction's id): a
-- transaction writing thousands of rows makes one new row version, not a chain of thousands; a
-- savepoint rolled back takes its bump and mark with it. A version row starts at a random value,
-- so one made again after the enterprise's deletion never repeats a number a cache saw; a deleted
-- enterprise gets no row.
CREATE TABLE archive_versions(enterprise_id text PRIMARY KEY, n bigint NOT NULL, bumped_in bigint NOT NULL DEFAULT 0);
CREATE FUNCTION bump_archive_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ent text := CASE WHEN TG_OP = 'DELETE' THEN OLD.enterprise_id ELSE NEW.enterprise_id END;
  me bigint := pg_current_xact_id()::text::bigint;
BEGIN
  INSERT INTO archive_versions(enterprise_id, n, bumped_in)
    SELECT ent, floor(random() * 4503599627370496)::bigint, me FROM enterprises WHERE id = ent
    ON CONFLICT(enterprise_id) DO UPDATE SET n = archive_versions.n + 1, bumped_in = me
    WHERE archive_versions.bumped_in <> me;
  RETURN NULL;
END $$;
CREATE TRIGGER archive_version_timeline AFTER INSERT OR UPDATE OR DELETE ON timeline
  FOR EACH ROW EXECUTE FUNCTION bump_archive_version();
CREATE TRIGGER archive_version_messages AFTER UPDATE OR DELETE ON messages
  FOR EACH ROW EXECUTE FUNCTION bump_archive_version();
CREATE TRIGGER archive_version_activities AFTER UPDATE OR DELETE ON activities
  FOR EACH ROW EXECUTE FUNCTION bump_archive_version();
CREATE TRIGGER archive_version_links AFTER UPDATE OR DELETE ON message_links
  FOR EACH ROW EXECUTE FUNCTION bump_archive_version();
CREATE TRIGGER archive_version_records AFTER INSERT OR DELETE ON records
  FOR EACH ROW EXECUTE FUNCTION bump_archive_version();

-- The webhook outbox. claimed_until is the lease of the node sending an event (0: unclaimed); dead:
-- 0 pending or delivered, 1 dead, 2 purged. Delivered and purged rows stay: their idempotency keys
-- keep a replayed step from emitting the event again.
CREATE TABLE outbox(
  seq bigserial PRIMARY KEY, idempotency_key text NOT NULL UNIQUE,
  enterprise_id text, event text NOT NULL, payload text NOT NULL, created_at bigint NOT NULL,
  attempts integer NOT NULL DEFAULT 0, next_attempt_at bigint NOT NULL, last_error text,
  delivered_at bigint, dead integer NOT NULL DEFAULT 0, claimed_until bigint NOT NULL DEFAULT 0);
CREATE INDEX outbox_pending ON outbox(seq, next_attempt_at) WHERE delivered_at IS NULL AND dead = 0;
-- the head of each enterprise's queue (events of no enterprise are one queue, '')
CREATE INDEX outbox_pending_by_enterprise ON outbox((coalesce(enterprise_id, '')), seq)
  WHERE delivered_at IS NULL AND dead = 0;
CREATE INDEX outbox_dead ON outbox(seq) WHERE dead = 1;
