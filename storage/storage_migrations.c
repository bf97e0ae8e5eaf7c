/* storage_migrations.c - the SQLite schema as numbered, forward-only migrations. The schema version
 * is PRAGMA user_version; storage_open applies every migration above it, each in its own
 * transaction (BEGIN IMMEDIATE, so two processes opening at once migrate once).
 *
 * Rules: never edit a migration that has shipped; add a new one. A database newer than this binary
 * is refused rather than guessed at. Every table carries enterprise_id (directly or through its
 * message) so every query can be scoped to one tenant.
 */
#include "sqlite_internal.h"
#include "storage_timeline_row.h"

typedef struct {
  int version;
  const char *sql;
} SqlMigration;

/* Migration 123's triggers: the enterprise's archive version moves (created at its first change,
 * at a random value so that a version row made again never restarts where a cache saw one);
 * nothing is written for an enterprise that no longer exists (its deletion sweeps the rows). */
#define ARCHIVE_VERSION_TRIGGER(name, event, table, row)                                                    \
  "CREATE TRIGGER IF NOT EXISTS archive_version_" name " AFTER " event " ON " table                          \
  " WHEN EXISTS (SELECT 1 FROM enterprises WHERE id = " row ".enterprise_id) BEGIN"                          \
  " INSERT INTO archive_versions(enterprise_id, n) VALUES(" row ".enterprise_id, abs(random() % 4503599627370496))" \
  " ON CONFLICT(enterprise_id) DO UPDATE SET n = n + 1; END;"

/* Migration 165's triggers on the outbound queue as migration 171 makes them again: when the
 * queue gains or loses a Message-ID, each timeline row of the archived outbound message with it
 * (found by its full key) is written again, its position then its item (its delivery key comes or
 * goes). */
#define TIMELINE_DELIVERY_TRIGGER(name, event, row)                                                          \
  "CREATE TRIGGER IF NOT EXISTS " name " AFTER " event " ON outbound_messages"                               \
  " WHEN " row ".message_id IS NOT NULL BEGIN"                                                               \
  " UPDATE timeline SET item = (SELECT " TIMELINE_POSITION("v.date", "v.id", "0") " || v.item"              \
  " FROM timeline_message_fields v WHERE v.enterprise_id = " row                                             \
  ".enterprise_id AND v.id = (SELECT id FROM messages WHERE enterprise_id = " row ".enterprise_id"           \
  " AND message_id = " row ".message_id))"                                                                  \
  " WHERE (enterprise_id, record_type, record_id, date, message_id, kind) IN (SELECT m.enterprise_id,"       \
  " l.record_type, l.record_id, m.date, m.id, 0 FROM messages m JOIN message_links l ON l.message_id = m.id" \
  " WHERE m.enterprise_id = " row ".enterprise_id AND m.message_id = " row ".message_id AND m.direction = 1); END;"

static const SqlMigration migrations[] = {
  {1,
   /* tenants */
   "CREATE TABLE enterprises("
   "  id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_at INTEGER NOT NULL);"
   "CREATE TABLE enterprise_domains("
   "  domain TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE);"
   "CREATE INDEX enterprise_domains_by_enterprise ON enterprise_domains(enterprise_id, domain);"
   /* virtual inbound addresses: expires_at NULL is the current one, else live until expires_at */
   "CREATE TABLE inbound_addresses("
   "  local TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  created_at INTEGER NOT NULL, expires_at INTEGER);"
   "CREATE INDEX inbound_by_enterprise ON inbound_addresses(enterprise_id);"
   "CREATE TABLE employees("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  email TEXT NOT NULL, name TEXT, created_at INTEGER NOT NULL,"
   "  UNIQUE(enterprise_id, email));"
   "CREATE TABLE api_keys("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  label TEXT, prefix TEXT, secret_hash TEXT NOT NULL UNIQUE,"
   "  created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);"
   "CREATE INDEX api_keys_by_enterprise ON api_keys(enterprise_id, created_at);"
   "CREATE TABLE settings("
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  key TEXT NOT NULL, value TEXT NOT NULL,"
   "  PRIMARY KEY(enterprise_id, key)) WITHOUT ROWID;"
   "CREATE TABLE rules("
   "  enterprise_id TEXT PRIMARY KEY REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  json TEXT NOT NULL) WITHOUT ROWID;"
   /* CRM records; list columns hold SQL_LIST_SEP-joined values, indexed by the tables below */
   "CREATE TABLE records("
   "  enterprise_id TEXT NOT NULL, type INTEGER NOT NULL, id TEXT NOT NULL,"
   "  name TEXT, emails TEXT NOT NULL DEFAULT '', domains TEXT NOT NULL DEFAULT '',"
   "  account_id TEXT, contact_ids TEXT NOT NULL DEFAULT '', stage INTEGER NOT NULL DEFAULT 0,"
   "  attributes TEXT NOT NULL DEFAULT '{}',"
   "  PRIMARY KEY(enterprise_id, type, id)) WITHOUT ROWID;"
   "CREATE INDEX records_by_account ON records(enterprise_id, account_id, type) WHERE account_id IS NOT NULL;"
   "CREATE TABLE record_emails("
   "  enterprise_id TEXT NOT NULL, email TEXT NOT NULL, email_noplus TEXT NOT NULL,"
   "  type INTEGER NOT NULL, record_id TEXT NOT NULL,"
   "  PRIMARY KEY(enterprise_id, email, type, record_id)) WITHOUT ROWID;"
   "CREATE INDEX record_emails_noplus ON record_emails(enterprise_id, email_noplus);"
   "CREATE INDEX record_emails_by_record ON record_emails(enterprise_id, type, record_id);"
   "CREATE TABLE record_domains("
   "  enterprise_id TEXT NOT NULL, domain TEXT NOT NULL, record_id TEXT NOT NULL,"
   "  PRIMARY KEY(enterprise_id, domain, record_id)) WITHOUT ROWID;"
   "CREATE INDEX record_domains_by_record ON record_domains(enterprise_id, record_id);"
   "CREATE TABLE opportunity_contacts("
   "  enterprise_id TEXT NOT NULL, contact_id TEXT NOT NULL, opportunity_id TEXT NOT NULL,"
   "  PRIMARY KEY(enterprise_id, contact_id, opportunity_id)) WITHOUT ROWID;"
   "CREATE INDEX opportunity_contacts_by_opp ON opportunity_contacts(enterprise_id, opportunity_id);"
   /* content-addressed blobs: one WAL commit makes many of them durable */
   "CREATE TABLE blobs(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);"
   /* archive */
   "CREATE TABLE threads("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  subject_key TEXT, participants_key TEXT, latest INTEGER NOT NULL);"
   "CREATE INDEX threads_by_subject ON threads(enterprise_id, subject_key, participants_key, latest);"
   "CREATE TABLE messages("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  thread_id TEXT, message_id TEXT, dedup_key TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',"
   "  direction INTEGER NOT NULL, date INTEGER NOT NULL, archived_at INTEGER NOT NULL,"
   "  size INTEGER NOT NULL DEFAULT 0, raw_sha256 TEXT, text TEXT, html TEXT, snippet TEXT,"
   "  has_attachment INTEGER NOT NULL DEFAULT 0);"
   "CREATE UNIQUE INDEX messages_by_message_id ON messages(enterprise_id, message_id) WHERE message_id IS NOT NULL;"
   "CREATE UNIQUE INDEX messages_by_dedup ON messages(enterprise_id, dedup_key);"
   "CREATE INDEX messages_by_thread ON messages(enterprise_id, thread_id, date, id);"
   "CREATE INDEX messages_by_archived ON messages(enterprise_id, archived_at, id);"
   "CREATE TABLE participants("
   "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
   "  pos INTEGER NOT NULL, role INTEGER NOT NULL, name TEXT, address TEXT NOT NULL,"
   "  PRIMARY KEY(message_id, pos)) WITHOUT ROWID;"
   "CREATE TABLE attachments("
   "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
   "  pos INTEGER NOT NULL, filename TEXT, content_type TEXT, content_id TEXT,"
   "  is_inline INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL, sha256 TEXT NOT NULL,"
   "  PRIMARY KEY(message_id, pos)) WITHOUT ROWID;"
   "CREATE INDEX attachments_by_sha ON attachments(sha256, message_id);"
   "CREATE TABLE message_links("
   "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
   "  record_type INTEGER NOT NULL, record_id TEXT NOT NULL, enterprise_id TEXT NOT NULL,"
   "  PRIMARY KEY(message_id, record_type, record_id)) WITHOUT ROWID;"
   "CREATE TABLE provenance("
   "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
   "  enterprise_id TEXT NOT NULL, route TEXT NOT NULL, employee_id TEXT, signal TEXT,"
   "  mailbox TEXT, client TEXT, envelope_from TEXT, spool_id TEXT, received_at INTEGER NOT NULL);"
   "CREATE UNIQUE INDEX provenance_by_spool ON provenance(message_id, spool_id) WHERE spool_id IS NOT NULL;"
   "CREATE UNIQUE INDEX provenance_by_route ON provenance(message_id, route, coalesce(mailbox, ''),"
   "  coalesce(employee_id, '')) WHERE spool_id IS NULL;"
   "CREATE TABLE activities("
   "  id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL,"
   "  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
   "  record_type INTEGER NOT NULL, record_id TEXT NOT NULL, rule_id TEXT, rule_name TEXT,"
   "  activity_type TEXT, title TEXT, content TEXT, owner TEXT,"
   "  created_at INTEGER NOT NULL, message_date INTEGER NOT NULL,"
   "  UNIQUE(message_id, record_type, record_id));"
   /* The timeline index: one row per (record, message) link (kind 0) and per activity (kind 1),
    * carrying the filter columns, so a page is one index range scan. Newest first is
    * ORDER BY date DESC, message_id DESC, kind DESC: an activity comes just before its message. */
   "CREATE TABLE timeline("
   "  enterprise_id TEXT NOT NULL, record_type INTEGER NOT NULL, record_id TEXT NOT NULL,"
   "  date INTEGER NOT NULL, message_id TEXT NOT NULL, kind INTEGER NOT NULL,"
   "  direction INTEGER NOT NULL, has_attachment INTEGER NOT NULL, thread_id TEXT, activity_id TEXT,"
   "  PRIMARY KEY(enterprise_id, record_type, record_id, date, message_id, kind)) WITHOUT ROWID;"
   "CREATE INDEX timeline_by_message ON timeline(message_id);"
   /* webhook outbox */
   "CREATE TABLE outbox("
   "  seq INTEGER PRIMARY KEY AUTOINCREMENT, idempotency_key TEXT NOT NULL UNIQUE,"
   "  enterprise_id TEXT, event TEXT NOT NULL, payload TEXT NOT NULL, created_at INTEGER NOT NULL,"
   "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, last_error TEXT,"
   "  delivered_at INTEGER, dead INTEGER NOT NULL DEFAULT 0);"
   "CREATE INDEX outbox_pending ON outbox(seq, next_attempt_at) WHERE delivered_at IS NULL AND dead = 0;"},
  {2, /* listing a message's provenance must not scan the table */
   "CREATE INDEX provenance_by_message ON provenance(message_id, received_at);"},
  {3, /* nothing reads the timeline by message (links and activities have their own tables): one
       * b-tree write less per link */
   "DROP INDEX IF EXISTS timeline_by_message;"},
  {4, /* /metrics counts without scanning: row counts kept by triggers (upserts that update do not
       * fire INSERT triggers; ignored inserts neither) */
   "CREATE TABLE counters(name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
   "INSERT INTO counters(name, n) VALUES('messages', (SELECT count(*) FROM messages)),"
   "  ('activities', (SELECT count(*) FROM activities)), ('records', (SELECT count(*) FROM records));"
   "CREATE TRIGGER messages_counted AFTER INSERT ON messages"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'messages'; END;"
   "CREATE TRIGGER messages_uncounted AFTER DELETE ON messages"
   "  BEGIN UPDATE counters SET n = n - 1 WHERE name = 'messages'; END;"
   "CREATE TRIGGER activities_counted AFTER INSERT ON activities"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'activities'; END;"
   "CREATE TRIGGER activities_uncounted AFTER DELETE ON activities"
   "  BEGIN UPDATE counters SET n = n - 1 WHERE name = 'activities'; END;"
   "CREATE TRIGGER records_counted AFTER INSERT ON records"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'records'; END;"
   "CREATE TRIGGER records_uncounted AFTER DELETE ON records"
   "  BEGIN UPDATE counters SET n = n - 1 WHERE name = 'records'; END;"},
  {5, /* threading by subject asks for the latest thread, ties broken by id: with id in the index
       * the look-up reads one covering index entry instead of sorting candidates in a temporary
       * b-tree on every message */
   "DROP INDEX IF EXISTS threads_by_subject;"
   "CREATE INDEX threads_by_subject ON threads(enterprise_id, subject_key, participants_key, latest, id);"},
  {6, /* messages and activities are inserted in one place each, which now counts them itself: an
       * AFTER INSERT trigger ran a sub-program and made every insert keep a statement journal
       * (a copy of each page it touched), about 55,000 instructions per archived message. The
       * DELETE triggers stay: rows also go through ON DELETE CASCADE. */
   "DROP TRIGGER IF EXISTS messages_counted;"
   "DROP TRIGGER IF EXISTS activities_counted;"},
  {7, /* mail acknowledged with 250 that cannot be parsed is archived raw, saying why, instead of
       * being dropped (issue 9) */
   "ALTER TABLE messages ADD COLUMN parse_error TEXT;"},
  {8, /* issue 10: one list of domains per enterprise, now with verification state (a claim that
       * is not verified does not block another enterprise: the primary key becomes the pair, and
       * only one enterprise may hold a domain verified), and the DKIM keys of each domain (private
       * halves sealed by agent/lib/crypto). */
   "CREATE TABLE domains8("
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  domain TEXT NOT NULL,"
   "  status TEXT NOT NULL DEFAULT 'pending',"
   "  reason TEXT, detail TEXT,"
   "  failures INTEGER NOT NULL DEFAULT 0, dns_errors INTEGER NOT NULL DEFAULT 0,"
   "  checked_at INTEGER NOT NULL DEFAULT 0, next_check_at INTEGER NOT NULL DEFAULT 0,"
   "  verified_at INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL DEFAULT 0,"
   "  challenge TEXT NOT NULL DEFAULT '', return_path TEXT NOT NULL DEFAULT 'bounce',"
   "  PRIMARY KEY(enterprise_id, domain)) WITHOUT ROWID;"
   "INSERT INTO domains8(enterprise_id, domain, challenge)"
   "  SELECT enterprise_id, domain, lower(hex(randomblob(16))) FROM enterprise_domains;"
   "DROP TABLE enterprise_domains;"
   "ALTER TABLE domains8 RENAME TO enterprise_domains;"
   "CREATE INDEX enterprise_domains_by_domain ON enterprise_domains(domain);"
   "CREATE UNIQUE INDEX enterprise_domains_owner ON enterprise_domains(domain) WHERE status = 'verified';"
   "CREATE INDEX enterprise_domains_due ON enterprise_domains(next_check_at);"
   "CREATE TABLE dkim_keys("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL, domain TEXT NOT NULL, selector TEXT NOT NULL,"
   "  algorithm TEXT NOT NULL, private_sealed TEXT NOT NULL, public_b64 TEXT NOT NULL,"
   "  state TEXT NOT NULL DEFAULT 'pending', target TEXT, published INTEGER NOT NULL DEFAULT 0,"
   "  created_at INTEGER NOT NULL, activated_at INTEGER NOT NULL DEFAULT 0,"
   "  retired_at INTEGER NOT NULL DEFAULT 0,"
   "  UNIQUE(enterprise_id, domain, selector),"
   "  FOREIGN KEY(enterprise_id, domain) REFERENCES enterprise_domains(enterprise_id, domain)"
   "    ON DELETE CASCADE);"},
  {9, /* the outbound queue (issue 11): one row per message, one per recipient carrying its own
       * state (docs/outbound.md), the Idempotency-Key answers of POST /v1/messages:send, and the
       * submission listener's credentials. A partial index holds only the recipients a claim can
       * take, so the scheduler's scan never reads delivered history. */
   "CREATE TABLE outbound_messages("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  type TEXT NOT NULL, channel TEXT NOT NULL, employee TEXT,"
   "  mail_from TEXT NOT NULL, header_from TEXT, subject TEXT, message_id TEXT,"
   "  raw_sha256 TEXT NOT NULL, size INTEGER NOT NULL,"
   "  eight_bit INTEGER NOT NULL DEFAULT 0, smtputf8 INTEGER NOT NULL DEFAULT 0,"
   "  records TEXT, route TEXT, created_at INTEGER NOT NULL);"
   "CREATE INDEX outbound_messages_by_enterprise ON outbound_messages(enterprise_id, id);"
   "CREATE TABLE outbound_recipients("
   "  id INTEGER PRIMARY KEY,"
   "  outbound_id TEXT NOT NULL REFERENCES outbound_messages(id) ON DELETE CASCADE,"
   "  enterprise_id TEXT NOT NULL,"
   "  address TEXT NOT NULL, state TEXT NOT NULL, held_from TEXT,"
   "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,"
   "  last_attempt_at INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL,"
   "  last_reply TEXT, deferred_reason TEXT,"
   "  UNIQUE(outbound_id, address));"
   "CREATE INDEX outbound_due ON outbound_recipients(next_attempt_at)"
   "  WHERE state IN ('queued', 'deferred', 'sending');"
   "CREATE INDEX outbound_recipients_by_state ON outbound_recipients(state, outbound_id);"
   "CREATE TABLE outbound_idempotency("
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  key TEXT NOT NULL, request_sha256 TEXT NOT NULL, response TEXT NOT NULL,"
   "  created_at INTEGER NOT NULL,"
   "  PRIMARY KEY(enterprise_id, key)) WITHOUT ROWID;"
   "CREATE TABLE submission_credentials("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  username TEXT NOT NULL UNIQUE, label TEXT, secret_hash TEXT NOT NULL,"
   "  created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);"},
  {10, /* employee mailboxes (agent/collector) and OAuth2 grants (agent/oauth2). A folder's
        * checkpoint advances only after its messages are durable in a spool; the collected keys'
        * primary key (mailbox, folder, uidvalidity, key) makes a replay after a crash a no-op.
        * The lease makes one fetch per mailbox at a time across processes. */
   "CREATE TABLE mailboxes("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  employee_id TEXT REFERENCES employees(id) ON DELETE SET NULL,"
   "  email TEXT NOT NULL, username TEXT NOT NULL, protocol TEXT NOT NULL,"
   "  host TEXT NOT NULL, port INTEGER NOT NULL, security TEXT NOT NULL, auth TEXT NOT NULL,"
   "  secret_sealed TEXT, allow_untrusted INTEGER NOT NULL DEFAULT 0, preset TEXT,"
   "  send_id INTEGER NOT NULL DEFAULT 0, folders TEXT, archiving INTEGER NOT NULL DEFAULT 1,"
   "  state TEXT NOT NULL DEFAULT 'active', created_at INTEGER NOT NULL,"
   "  last_sync_at INTEGER NOT NULL DEFAULT 0, last_error_at INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
   "  failures INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL DEFAULT 0,"
   "  fetched INTEGER NOT NULL DEFAULT 0, archived INTEGER NOT NULL DEFAULT 0,"
   "  skipped INTEGER NOT NULL DEFAULT 0, quarantined INTEGER NOT NULL DEFAULT 0,"
   "  lease_owner TEXT, lease_until INTEGER NOT NULL DEFAULT 0,"
   "  UNIQUE(enterprise_id, email, host, protocol));"
   "CREATE INDEX mailboxes_due ON mailboxes(next_attempt_at) WHERE state = 'active';"
   "CREATE TABLE mailbox_folders("
   "  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, folder TEXT NOT NULL,"
   "  uidvalidity INTEGER NOT NULL, last_uid INTEGER NOT NULL, highest_modseq INTEGER NOT NULL DEFAULT 0,"
   "  PRIMARY KEY(mailbox_id, folder)) WITHOUT ROWID;"
   "CREATE TABLE mailbox_keys("
   "  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, folder TEXT NOT NULL,"
   "  uidvalidity INTEGER NOT NULL, key TEXT NOT NULL,"
   "  PRIMARY KEY(mailbox_id, folder, uidvalidity, key)) WITHOUT ROWID;"
   "CREATE TABLE mailbox_failures("
   "  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, folder TEXT NOT NULL,"
   "  key TEXT NOT NULL, failures INTEGER NOT NULL, last_error TEXT, updated_at INTEGER NOT NULL,"
   "  PRIMARY KEY(mailbox_id, folder, key)) WITHOUT ROWID;"
   "CREATE TABLE oauth2_grants("
   "  owner TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  provider TEXT, access_sealed TEXT, access_expires_at INTEGER NOT NULL DEFAULT 0, refresh_sealed TEXT,"
   "  generation INTEGER NOT NULL DEFAULT 1, state TEXT NOT NULL DEFAULT 'valid', updated_at INTEGER NOT NULL);"
   "CREATE TABLE oauth2_states("
   "  state TEXT PRIMARY KEY, owner TEXT NOT NULL,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  verifier_sealed TEXT NOT NULL, expires_at INTEGER NOT NULL, used_at INTEGER);"},
  {13, /* the SMTP server answers RCPT from an in-memory snapshot of these tables, rebuilt when this
        * counter moves (storage_tenant_version); they change seldom, so the triggers cost little */
   "INSERT OR IGNORE INTO counters(name, n) VALUES('tenant_version', 0);"
   "CREATE TRIGGER IF NOT EXISTS enterprises_tenant_ins AFTER INSERT ON enterprises"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS enterprises_tenant_upd AFTER UPDATE ON enterprises"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS enterprises_tenant_del AFTER DELETE ON enterprises"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS enterprise_domains_tenant_ins AFTER INSERT ON enterprise_domains"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS enterprise_domains_tenant_upd AFTER UPDATE ON enterprise_domains"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS enterprise_domains_tenant_del AFTER DELETE ON enterprise_domains"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS inbound_addresses_tenant_ins AFTER INSERT ON inbound_addresses"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS inbound_addresses_tenant_upd AFTER UPDATE ON inbound_addresses"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS inbound_addresses_tenant_del AFTER DELETE ON inbound_addresses"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS employees_tenant_ins AFTER INSERT ON employees"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS employees_tenant_upd AFTER UPDATE ON employees"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS employees_tenant_del AFTER DELETE ON employees"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS settings_tenant_ins AFTER INSERT ON settings"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS settings_tenant_upd AFTER UPDATE ON settings"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"
   "CREATE TRIGGER IF NOT EXISTS settings_tenant_del AFTER DELETE ON settings"
   "  BEGIN UPDATE counters SET n = n + 1 WHERE name = 'tenant_version'; END;"},
  {15, /* webhook dead letters are listed, counted for /metrics and requeued without reading the
        * delivered rows the outbox keeps forever */
   "CREATE INDEX IF NOT EXISTS outbox_dead ON outbox(seq) WHERE dead = 1;"},
  {16, /* the audit log of administrative changes: who, through which key or the CLI, what, when.
        * No foreign key to enterprises: the entry recording an enterprise's deletion outlives it. */
   "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, enterprise_id TEXT, actor TEXT NOT NULL,"
   "  action TEXT NOT NULL, target TEXT, details TEXT, at INTEGER NOT NULL);"
   "CREATE INDEX IF NOT EXISTS audit_by_enterprise ON audit(enterprise_id, seq);"},
  {108, /* issue 10, second step: the last check's report per claim, as the doctor shows it, so
         * GET /v1/domains/{d}/doctor answers from storage instead of asking DNS on the API loop */
   "ALTER TABLE enterprise_domains ADD COLUMN report TEXT;"},
  {110, /* issue 13: enterprise relays, their domain filters (evaluated by priority, ties by seq) and
         * per-day counters (recipients routed, failed sessions) keyed by the enterprise's calendar
         * day, so the daily limit and the three-failures suspension need no scan of the queue */
   "CREATE TABLE IF NOT EXISTS relays("
   "  id TEXT PRIMARY KEY,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  name TEXT NOT NULL, host TEXT NOT NULL, port INTEGER NOT NULL, security TEXT NOT NULL,"
   "  tls_mode TEXT NOT NULL, auth_enabled INTEGER NOT NULL DEFAULT 0, auth_mechanism TEXT, username TEXT,"
   "  password_sealed TEXT, daily_limit INTEGER NOT NULL DEFAULT 0, email_types TEXT NOT NULL,"
   "  dkim INTEGER NOT NULL DEFAULT 1, enabled INTEGER NOT NULL DEFAULT 1,"
   "  status TEXT NOT NULL DEFAULT 'untested', status_since INTEGER NOT NULL DEFAULT 0, status_reason TEXT,"
   "  suspended_until INTEGER NOT NULL DEFAULT 0, return_path TEXT,"
   "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
   "  UNIQUE(enterprise_id, name));"
   "CREATE TABLE IF NOT EXISTS relay_filters("
   "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
   "  relay_id TEXT NOT NULL REFERENCES relays(id) ON DELETE CASCADE,"
   "  enterprise_id TEXT NOT NULL, priority INTEGER NOT NULL, sender_domain TEXT NOT NULL,"
   "  recipient_patterns TEXT);"
   "CREATE INDEX IF NOT EXISTS relay_filters_by_relay ON relay_filters(relay_id, priority, seq);"
   "CREATE TABLE IF NOT EXISTS relay_usage("
   "  relay_id TEXT NOT NULL REFERENCES relays(id) ON DELETE CASCADE,"
   "  enterprise_id TEXT NOT NULL, day TEXT NOT NULL,"
   "  sent INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,"
   "  last_failure_at INTEGER NOT NULL DEFAULT 0,"
   "  PRIMARY KEY(relay_id, day)) WITHOUT ROWID;"},
  {111, /* issue 13, the shared relay's reputation: one row per recipient routed to mailagent's own
         * delivery path (quotas per hour and day; bounce rate over the last 1,000, read with the
         * recipient's queue state), and an enterprise's suspension from that path (lifted_at 0:
         * in force; once lifted, the rate counts only recipients after lifted_seq) */
   "CREATE TABLE IF NOT EXISTS default_path_log("
   "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  outbound_id TEXT NOT NULL, address TEXT NOT NULL, at INTEGER NOT NULL);"
   "CREATE INDEX IF NOT EXISTS default_path_log_by_enterprise ON default_path_log(enterprise_id, seq);"
   "CREATE INDEX IF NOT EXISTS default_path_log_by_time ON default_path_log(enterprise_id, at);"
   "CREATE TABLE IF NOT EXISTS default_path_suspensions("
   "  enterprise_id TEXT PRIMARY KEY REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  since INTEGER NOT NULL, reason TEXT NOT NULL,"
   "  lifted_at INTEGER NOT NULL DEFAULT 0, lifted_seq INTEGER NOT NULL DEFAULT 0);"},
  {112, /* issue 13: the system account of each channel of an enterprise (the address its workflow
         * mail is sent from), checked against the channel before it is stored */
   "CREATE TABLE IF NOT EXISTS channel_accounts("
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  channel TEXT NOT NULL, address TEXT NOT NULL, verified_at INTEGER NOT NULL,"
   "  PRIMARY KEY(enterprise_id, channel)) WITHOUT ROWID;"},
  {113, /* issue 13: an employee's default sending mailbox among their bound mailboxes (unbinding the
         * mailbox or removing the employee forgets the choice) */
   "CREATE TABLE IF NOT EXISTS employee_send_mailboxes("
   "  employee_id TEXT PRIMARY KEY REFERENCES employees(id) ON DELETE CASCADE,"
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE) WITHOUT ROWID;"},
  {115, /* issue 13, the employee-mailbox channel: a binding's SMTP server (from its preset or given;
         * NULL host: the mailbox is not used to send), whether mailagent appends the Sent copy (no
         * when the provider saves sent mail itself), and its daily limit (0: none), counted per
         * recipient and calendar day (in the enterprise's time zone) in mailbox_send_days, where a
         * delivery reserves its recipients before it starts */
   "ALTER TABLE mailboxes ADD COLUMN smtp_host TEXT;"
   "ALTER TABLE mailboxes ADD COLUMN smtp_port INTEGER NOT NULL DEFAULT 0;"
   "ALTER TABLE mailboxes ADD COLUMN smtp_security TEXT;"
   "ALTER TABLE mailboxes ADD COLUMN sent_copy INTEGER NOT NULL DEFAULT 1;"
   "ALTER TABLE mailboxes ADD COLUMN daily_limit INTEGER NOT NULL DEFAULT 0;"
   "CREATE TABLE IF NOT EXISTS mailbox_send_days("
   "  mailbox_id TEXT NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE, day TEXT NOT NULL,"
   "  sent INTEGER NOT NULL, PRIMARY KEY(mailbox_id, day)) WITHOUT ROWID;"},
  {116, /* issue 13: a recipient that left its message's route (the mailbox's daily limit reached)
         * keeps its own route; the Sent copy of a message sent through an employee's mailbox is a
         * recorded step of the queue entry, claimed with a lease like a recipient and retried */
   "ALTER TABLE outbound_recipients ADD COLUMN route TEXT;"
   "CREATE TABLE IF NOT EXISTS outbound_sent_copies("
   "  outbound_id TEXT PRIMARY KEY REFERENCES outbound_messages(id) ON DELETE CASCADE,"
   "  enterprise_id TEXT NOT NULL, mailbox_id TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',"
   "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL, folder TEXT, last_error TEXT,"
   "  updated_at INTEGER NOT NULL);"
   "CREATE INDEX IF NOT EXISTS outbound_sent_copies_due ON outbound_sent_copies(next_attempt_at)"
   "  WHERE state IN ('pending', 'appending');"},
  {118, /* issue 14: bounce management. The suppression list (addresses an enterprise no longer sends
         * to: hard bounces, complaints, unsubscribes, 5 soft bounces in a row, an operator's entry),
         * the soft-bounce streak per address, the return path a message leaves with ("bounce":
         * one VERP address per recipient row), and the look-up of a returned message's Message-ID */
   "CREATE TABLE IF NOT EXISTS suppressions("
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  address TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT, source TEXT, created_at INTEGER NOT NULL,"
   "  PRIMARY KEY(enterprise_id, address)) WITHOUT ROWID;"
   "CREATE TABLE IF NOT EXISTS soft_bounces("
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  address TEXT NOT NULL, count INTEGER NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL,"
   "  PRIMARY KEY(enterprise_id, address)) WITHOUT ROWID;"
   "ALTER TABLE outbound_messages ADD COLUMN return_path TEXT;"
   "ALTER TABLE outbound_messages ADD COLUMN list_unsubscribe INTEGER NOT NULL DEFAULT 0;"
   "CREATE INDEX IF NOT EXISTS outbound_messages_by_message_id ON outbound_messages(enterprise_id, message_id);"},
  {123, /* issue 15: the API's page cache is kept per enterprise, so one tenant's mail does not empty
         * every tenant's cache. archive_versions moves with every commit that changes what a
         * timeline page reads (storage_archive_version). A new message or link reaches the pages
         * through its timeline rows, an activity through its kind-1 row, so inserts into messages,
         * activities and links need no trigger of their own; updates and deletes (re-matching,
         * erasure) do. Deleting an enterprise removes its row with every enterprise_id table. */
   "CREATE TABLE IF NOT EXISTS archive_versions(enterprise_id TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;"
   ARCHIVE_VERSION_TRIGGER("timeline_ins", "INSERT", "timeline", "NEW")
   ARCHIVE_VERSION_TRIGGER("timeline_upd", "UPDATE", "timeline", "NEW")
   ARCHIVE_VERSION_TRIGGER("timeline_del", "DELETE", "timeline", "OLD")
   ARCHIVE_VERSION_TRIGGER("messages_upd", "UPDATE", "messages", "NEW")
   ARCHIVE_VERSION_TRIGGER("messages_del", "DELETE", "messages", "OLD")
   ARCHIVE_VERSION_TRIGGER("activities_upd", "UPDATE", "activities", "NEW")
   ARCHIVE_VERSION_TRIGGER("activities_del", "DELETE", "activities", "OLD")
   ARCHIVE_VERSION_TRIGGER("links_upd", "UPDATE", "message_links", "NEW")
   ARCHIVE_VERSION_TRIGGER("links_del", "DELETE", "message_links", "OLD")
   ARCHIVE_VERSION_TRIGGER("records_ins", "INSERT", "records", "NEW")
   ARCHIVE_VERSION_TRIGGER("records_del", "DELETE", "records", "OLD")},
  {124, /* issue 15: bodies out of the rows a page reads. A timeline page reads messages rows; with the
         * text and html in them every row is as long as its body (a 4 KB text: one row per page of
         * the b-tree, and columns after the body behind it). They move to message_bodies, text
         * last, so a large text is written with incremental blob I/O instead of being built into
         * one record in memory. A message with neither has no body row. */
   "CREATE TABLE IF NOT EXISTS message_bodies("
   "  message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE, html TEXT, text NOT NULL);"
   "INSERT OR IGNORE INTO message_bodies(message_id, html, text)"
   "  SELECT id, html, coalesce(text, '') FROM messages WHERE coalesce(text, '') <> '' OR html IS NOT NULL;"
   "ALTER TABLE messages DROP COLUMN text;"
   "ALTER TABLE messages DROP COLUMN html;"},
  {126, /* issue 16: machine mail (auto-replies, bulk, reports) archived with its flags, which rules
         * test (is_auto, is_bulk), and the signal that made it so, which explain shows */
   "ALTER TABLE messages ADD COLUMN machine INTEGER NOT NULL DEFAULT 0;"
   "ALTER TABLE messages ADD COLUMN machine_reason TEXT;"},
  {127, /* issue 16: every link keeps its reason ("cc carol@customer.example = contact C17") for explain */
   "ALTER TABLE message_links ADD COLUMN reason TEXT;"},
  {128, /* issue 16: the pending store, mail held (pending_days) until a record matches it; its
         * participants indexed by address without +tag and by domain for re-matching */
   "CREATE TABLE IF NOT EXISTS pending_messages("
   "  id TEXT PRIMARY KEY, enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  raw_sha256 TEXT NOT NULL, received_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, reason TEXT NOT NULL,"
   "  route TEXT, employee_id TEXT, mailbox TEXT, UNIQUE(enterprise_id, raw_sha256));"
   "CREATE INDEX IF NOT EXISTS pending_by_expiry ON pending_messages(expires_at);"
   "CREATE TABLE IF NOT EXISTS pending_participants("
   "  pending_id TEXT NOT NULL REFERENCES pending_messages(id) ON DELETE CASCADE, enterprise_id TEXT NOT NULL,"
   "  address TEXT NOT NULL, address_noplus TEXT NOT NULL, domain TEXT NOT NULL,"
   "  PRIMARY KEY(pending_id, address)) WITHOUT ROWID;"
   "CREATE INDEX IF NOT EXISTS pending_by_address ON pending_participants(enterprise_id, address_noplus);"
   "CREATE INDEX IF NOT EXISTS pending_by_domain ON pending_participants(enterprise_id, domain);"},
  {129, /* issue 16: archived mail found by participant address or domain when records change
         * (re-matching costs the mail that matches, not the archive) */
   "CREATE INDEX IF NOT EXISTS participants_by_address ON participants(lower(address));"
   "CREATE INDEX IF NOT EXISTS participants_by_domain ON participants(lower(substr(address, instr(address, '@') + 1)));"},
  {131, /* issue 16: full-text search (storage_sqlite_search.c). search_tenants numbers the
         * enterprises for the index (never reused: a deleted enterprise's range stays its own);
         * search_docs numbers the indexed messages (doc = tenant << 44 | date << 12 | n: one
         * enterprise is one rowid range, newest first is the index's own order) with the
         * participant and file name texts the view search_fields makes from the stored rows once
         * (snippets and deletes then read no participant rows); the view
         * search_content is what is indexed: the stored subject and body (message_bodies) and those texts;
         * search_index is FTS5 with our tokenizer (CJK bigrams) over that view (external content:
         * nothing stored twice). search_forget unindexes a message on every delete path, reading
         * the same view while the rows still exist (3.40 has no contentless_delete).
         * messages_by_raw lets a deletion find whether another message still shares a raw blob
         * without scanning. Existing mail is indexed here; n is the rank within the second, pushed
         * up past a full second as the running allocation does. */
   "CREATE TABLE IF NOT EXISTS search_tenants(num INTEGER PRIMARY KEY AUTOINCREMENT,"
   "  enterprise_id TEXT NOT NULL UNIQUE);"
   "CREATE TABLE IF NOT EXISTS search_docs(doc INTEGER PRIMARY KEY, message_id TEXT NOT NULL UNIQUE,"
   "  enterprise_id TEXT NOT NULL, sender TEXT, recipients TEXT, attachments TEXT);"
   "CREATE VIEW IF NOT EXISTS search_fields AS SELECT m.id AS message_id,"
   "  (SELECT group_concat(coalesce(p.name || ' ', '') || p.address, ' ') FROM participants p"
   "    WHERE p.message_id = m.id AND p.role IN (0, 1)) AS sender,"
   "  (SELECT group_concat(coalesce(p.name || ' ', '') || p.address, ' ') FROM participants p"
   "    WHERE p.message_id = m.id AND p.role IN (2, 3, 4)) AS recipients,"
   "  (SELECT group_concat(a.filename, ' ') FROM attachments a"
   "    WHERE a.message_id = m.id AND a.filename IS NOT NULL) AS attachments"
   "  FROM messages m;"
   "CREATE VIEW IF NOT EXISTS search_content AS SELECT d.doc AS doc, m.subject AS subject, b.text AS body,"
   "  d.sender AS sender, d.recipients AS recipients, d.attachments AS attachments"
   "  FROM search_docs d JOIN messages m ON m.id = d.message_id"
   "  LEFT JOIN message_bodies b ON b.message_id = d.message_id;"
   "CREATE VIRTUAL TABLE IF NOT EXISTS search_index USING fts5(subject, body, sender, recipients, attachments,"
   "  content='search_content', content_rowid='doc', tokenize='mailagent');"
   "CREATE TRIGGER IF NOT EXISTS search_forget BEFORE DELETE ON messages BEGIN"
   "  INSERT INTO search_index(search_index, rowid, subject, body, sender, recipients, attachments)"
   "    SELECT 'delete', doc, subject, body, sender, recipients, attachments FROM search_content"
   "    WHERE doc = (SELECT doc FROM search_docs WHERE message_id = OLD.id);"
   "  DELETE FROM search_docs WHERE message_id = OLD.id;"
   " END;"
   "CREATE INDEX IF NOT EXISTS messages_by_raw ON messages(raw_sha256) WHERE raw_sha256 IS NOT NULL;"
   "INSERT OR IGNORE INTO search_tenants(enterprise_id) SELECT DISTINCT enterprise_id FROM messages ORDER BY 1;"
   "INSERT OR IGNORE INTO search_docs(doc, message_id, enterprise_id, sender, recipients, attachments)"
   "  SELECT (t.num << 44) + i + max(slot - i) OVER (PARTITION BY t.num ORDER BY i ROWS UNBOUNDED PRECEDING),"
   "    id, enterprise_id, f.sender, f.recipients, f.attachments FROM ("
   "      SELECT id, enterprise_id, max(0, min(date, 4294967295)) << 12 AS slot,"
   "        row_number() OVER (PARTITION BY enterprise_id ORDER BY max(0, min(date, 4294967295)), id) - 1 AS i"
   "      FROM messages) JOIN search_tenants t USING (enterprise_id) JOIN search_fields f ON f.message_id = id;"
   "INSERT INTO search_index(rowid, subject, body, sender, recipients, attachments)"
   "  SELECT doc, subject, body, sender, recipients, attachments FROM search_content;"},
  {132, /* issue 11: an archived outbound message's timeline entry shows its recipients' delivery
         * states (storage_timeline), so a change of a recipient's state or reply (delivery
         * outcome, claim, DSN bounce, hold/release, expiry) or a queue delete moves the enterprise's
         * archive version in the same transaction, like the archive's own changes (migration 123).
         * Only that enterprise's pages are dropped, and only when the message was archived (a
         * copy archived later moves the version through its timeline rows): queue churn of mail
         * the archive did not keep drops nothing. */
   "CREATE TRIGGER IF NOT EXISTS archive_version_outbound_upd AFTER UPDATE OF state, last_reply"
   " ON outbound_recipients"
   " WHEN (OLD.state IS NOT NEW.state OR OLD.last_reply IS NOT NEW.last_reply)"
   " AND EXISTS (SELECT 1 FROM messages WHERE enterprise_id = NEW.enterprise_id AND message_id ="
   "   (SELECT message_id FROM outbound_messages WHERE id = NEW.outbound_id)) BEGIN"
   " INSERT INTO archive_versions(enterprise_id, n) VALUES(NEW.enterprise_id, abs(random() % 4503599627370496))"
   " ON CONFLICT(enterprise_id) DO UPDATE SET n = n + 1; END;"
   "CREATE TRIGGER IF NOT EXISTS archive_version_outbound_del AFTER DELETE ON outbound_messages"
   " WHEN EXISTS (SELECT 1 FROM messages WHERE enterprise_id = OLD.enterprise_id AND message_id = OLD.message_id)"
   " AND EXISTS (SELECT 1 FROM enterprises WHERE id = OLD.enterprise_id) BEGIN"
   " INSERT INTO archive_versions(enterprise_id, n) VALUES(OLD.enterprise_id, abs(random() % 4503599627370496))"
   " ON CONFLICT(enterprise_id) DO UPDATE SET n = n + 1; END;"},
  {134, /* issue 13, the shared relay's reputation: recipients of the default path who complained (an
         * ARF report came back), read with default_path_log for the complaint rate; one row per
         * recipient however many reports */
   "CREATE TABLE IF NOT EXISTS default_path_complaints("
   "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,"
   "  outbound_id TEXT NOT NULL, address TEXT NOT NULL, at INTEGER NOT NULL,"
   "  PRIMARY KEY(enterprise_id, outbound_id, address)) WITHOUT ROWID;"},
  {145, /* issue 18: webhook events are claimed with a lease, not assumed by one sender, so several
         * nodes can send the outbox and a dead sender's events return when its lease ends (0: not
         * claimed). The pending index by enterprise finds the head of each enterprise's queue. */
   "ALTER TABLE outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;"
   "CREATE INDEX IF NOT EXISTS outbox_pending_by_enterprise ON outbox(enterprise_id, seq)"
   "  WHERE delivered_at IS NULL AND dead = 0;"},
  {149, /* issue 18: values the nodes of one installation share and no enterprise owns, each set once
         * (the master key's check value, which a node joining the database must match) */
   "CREATE TABLE IF NOT EXISTS installation(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"},
  {150, /* issue 18: the leader of each scheduled job of `serve` (storage_job_lease): a lease row with
         * its end, so a node that dies hands the job over when its lease runs out */
   "CREATE TABLE IF NOT EXISTS job_leases("
   "  job TEXT PRIMARY KEY, lease_owner TEXT NOT NULL, lease_until INTEGER NOT NULL) WITHOUT ROWID;"},
  {151, /* issue 13: a relay with AUTH XOAUTH2 names its OAuth2 provider (a preset with OAuth2
         * endpoints, whose client the enterprise set with `mailbox oauth2-client`); its tokens are
         * the oauth2_grants row of owner "relay:<id>" */
   "ALTER TABLE relays ADD COLUMN auth_provider TEXT;"},
  {160, /* issue 16: the search index's leaf pages hold 1,000 bytes, not FTS5's 4,050. A search for a
         * rare word beside a common one skips through the common one's postings: the doclist index
         * takes it to the page of the next candidate, and it reads that page entry by entry, so
         * smaller pages read less (scripts/bench/search's walks: 25-30% fewer instructions; indexing
         * 2% more). The index is rebuilt so that every segment has them (FTS5 keeps a segment's
         * page size until it is merged again). */
   "INSERT INTO search_index(search_index, rank) VALUES('pgsz', 1000);"
   "INSERT INTO search_index(search_index) VALUES('rebuild');"},
  {165, /* issue 15: a timeline page is one range of the timeline's primary key and nothing else. Each
         * row carries its whole item in one column (item, storage_timeline_row.h): a message row
         * its message's fields, its From/To/Cc participants, attachments and record links, and its
         * Message-ID while the queue holds a message with it (the delivery key: only those items
         * look their delivery states up); an activity row its activity's fields. The view
         * timeline_message_fields is the one definition of a message row's item: the inserts read
         * it, so do the link and unlink paths, which rewrite a message's rows when a link comes or
         * goes (every sibling row lists the message's links), and the triggers below when the
         * queue gains or loses its Message-ID; existing rows are filled from it here. */
   "ALTER TABLE timeline ADD COLUMN item TEXT;"
   "CREATE VIEW IF NOT EXISTS timeline_message_fields AS SELECT m.id AS id, m.enterprise_id AS enterprise_id,"
   "  m.date AS date, m.direction AS direction, m.has_attachment AS has_attachment, m.thread_id AS thread_id,"
   "  " TIMELINE_FIELD("m.thread_id") " || " TIMELINE_FIELD("m.direction") " || " TIMELINE_FIELD("m.subject")
   " || " TIMELINE_FIELD("m.snippet") " || " TIMELINE_FIELD("m.parse_error") " || " TIMELINE_FIELD("m.machine")
   " || CASE WHEN m.direction = 1 AND m.message_id IS NOT NULL AND EXISTS (SELECT 1 FROM outbound_messages o"
   "    WHERE o.enterprise_id = m.enterprise_id AND o.message_id = m.message_id) THEN " TIMELINE_FIELD("m.message_id")
   "    ELSE '~' END"
   " || coalesce((SELECT group_concat(" TIMELINE_FIELD("p.role") " || " TIMELINE_FIELD("p.name") " || "
   TIMELINE_FIELD("p.address") ", '') FROM participants p WHERE p.message_id = m.id"
   "   AND (p.role = 0 OR p.role = 2 OR p.role = 3)), '') || '.'" /* From, To, Cc; not IN (...), a table per run */
   " || coalesce((SELECT group_concat(" TIMELINE_FIELD("x.filename") " || " TIMELINE_FIELD("x.content_type") " || "
   TIMELINE_FIELD("x.content_id") " || " TIMELINE_FIELD("x.is_inline") " || " TIMELINE_FIELD("x.size") " || "
   TIMELINE_FIELD("x.sha256") ", '') FROM attachments x WHERE x.message_id = m.id), '') || '.'"
   " || coalesce((SELECT group_concat(" TIMELINE_FIELD("l.record_type") " || " TIMELINE_FIELD("l.record_id")
   ", '') FROM message_links l WHERE l.message_id = m.id), '') || '.' AS item"
   "  FROM messages m;"
   /* a message's kind-0 rows, by their full key (the timeline has no index by message; a row value
    * over the whole key is what makes SQLite search the key for each of them); links come and go
    * through storage's own code, which rewrites the rows in the same transaction (no trigger on
    * message_links: archiving a message would pay for it on every link) */
   "CREATE TRIGGER IF NOT EXISTS timeline_delivery_ins AFTER INSERT ON outbound_messages"
   " WHEN NEW.message_id IS NOT NULL BEGIN"
   " UPDATE timeline SET item = (SELECT v.item FROM timeline_message_fields v WHERE v.enterprise_id = NEW.enterprise_id"
   "   AND v.id = (SELECT id FROM messages WHERE enterprise_id = NEW.enterprise_id AND message_id = NEW.message_id))"
   " WHERE (enterprise_id, record_type, record_id, date, message_id, kind) IN (SELECT m.enterprise_id,"
   "   l.record_type, l.record_id, m.date, m.id, 0 FROM messages m JOIN message_links l ON l.message_id = m.id"
   "   WHERE m.enterprise_id = NEW.enterprise_id AND m.message_id = NEW.message_id AND m.direction = 1); END;"
   "CREATE TRIGGER IF NOT EXISTS timeline_delivery_del AFTER DELETE ON outbound_messages"
   " WHEN OLD.message_id IS NOT NULL BEGIN"
   " UPDATE timeline SET item = (SELECT v.item FROM timeline_message_fields v WHERE v.enterprise_id = OLD.enterprise_id"
   "   AND v.id = (SELECT id FROM messages WHERE enterprise_id = OLD.enterprise_id AND message_id = OLD.message_id))"
   " WHERE (enterprise_id, record_type, record_id, date, message_id, kind) IN (SELECT m.enterprise_id,"
   "   l.record_type, l.record_id, m.date, m.id, 0 FROM messages m JOIN message_links l ON l.message_id = m.id"
   "   WHERE m.enterprise_id = OLD.enterprise_id AND m.message_id = OLD.message_id AND m.direction = 1); END;"
   /* existing rows; a row whose message or activity is gone is no item (pages skip it) */
   "DELETE FROM timeline WHERE kind = 0 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = timeline.message_id"
   "  AND m.enterprise_id = timeline.enterprise_id);"
   "DELETE FROM timeline WHERE kind = 1 AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.id = timeline.activity_id"
   "  AND a.enterprise_id = timeline.enterprise_id);"
   "UPDATE timeline SET item = (SELECT item FROM timeline_message_fields v WHERE v.id = timeline.message_id)"
   "  WHERE kind = 0;"
   "UPDATE timeline SET item = (SELECT " TIMELINE_ACTIVITY_ITEM("a.") " FROM activities a"
   "  WHERE a.id = timeline.activity_id) WHERE kind = 1;"},
  {166, /* issue 15: an inserted timeline row moves its enterprise's archive version through storage's
         * code (sql_archive_version_bump), once per write unit, and once per enterprise per batch
         * at its commit, not through a trigger per row: archiving a batch of 500 messages ran the
         * trigger's look-up and upsert for each of their timeline rows (3.6% of ingest's
         * instructions). Updates and deletes keep their triggers (rarer, and spread over paths). */
   "DROP TRIGGER IF EXISTS archive_version_timeline_ins;"},
  {170, /* issue 15: migration 129's two participant indexes (by address, by domain) become one, by
         * domain then address: a look-up by address probes it with both (the address's own domain),
         * one by domain with the first. Each participant row wrote two random-keyed index entries;
         * now one (ingest: two fewer index B-tree inserts per message, and their dirtied pages). */
   "DROP INDEX IF EXISTS participants_by_address;"
   "DROP INDEX IF EXISTS participants_by_domain;"
   "CREATE INDEX IF NOT EXISTS participants_by_domain_address"
   " ON participants(lower(substr(address, instr(address, '@') + 1)), lower(address));"},
  {171, /* issue 15: a page reads one column a row. Each row's item column holds its position (date,
         * message id, kind: TIMELINE_POSITION, storage_timeline_row.h) and then its item, and comes
         * right after the key, so the page selects it alone: SQLite's four column reads and the
         * API calls fetching them cost a computed page more than its range scan
         * (scripts/bench/api/pages.sh, items cached: 136,900 instructions a page before, 114,300
         * with this and the page's one-column read).
         * The table is rebuilt with its rows' positions; migration 123's version triggers go with
         * the old table and come back, and 165's delivery triggers write positions now (they are
         * dropped first: renaming a table checks the triggers that name it). */
   "DROP TRIGGER IF EXISTS timeline_delivery_ins;"
   "DROP TRIGGER IF EXISTS timeline_delivery_del;"
   "CREATE TABLE timeline_positioned("
   "  enterprise_id TEXT NOT NULL, record_type INTEGER NOT NULL, record_id TEXT NOT NULL,"
   "  date INTEGER NOT NULL, message_id TEXT NOT NULL, kind INTEGER NOT NULL, item TEXT,"
   "  direction INTEGER NOT NULL, has_attachment INTEGER NOT NULL, thread_id TEXT, activity_id TEXT,"
   "  PRIMARY KEY(enterprise_id, record_type, record_id, date, message_id, kind)) WITHOUT ROWID;"
   "INSERT INTO timeline_positioned SELECT enterprise_id, record_type, record_id, date, message_id, kind, "
   TIMELINE_POSITION("date", "message_id", "kind") " || item, direction, has_attachment, thread_id, activity_id"
   "  FROM timeline;"
   "DROP TABLE timeline;" /* and its triggers */
   "ALTER TABLE timeline_positioned RENAME TO timeline;"
   ARCHIVE_VERSION_TRIGGER("timeline_upd", "UPDATE", "timeline", "NEW")
   ARCHIVE_VERSION_TRIGGER("timeline_del", "DELETE", "timeline", "OLD")
   TIMELINE_DELIVERY_TRIGGER("timeline_delivery_ins", "INSERT", "NEW")
   TIMELINE_DELIVERY_TRIGGER("timeline_delivery_del", "DELETE", "OLD")},
  {173, /* issue 15: a text body that is one text part of the raw message as it came (not encoded,
         * in UTF-8 or ASCII: most mail) is not written a second time. The message row names its
         * slice of the raw blob (text_raw_at, text_raw_len) and has no message_bodies row unless it
         * has HTML (then its text is ''); readers take the text through SQL_BODY_TEXT, the search
         * index through the view search_content, made again here with it. A raw blob outlives
         * its messages (it is deleted only when no message refers to it), and search_forget
         * reads the view before the message row goes. */
   "ALTER TABLE messages ADD COLUMN text_raw_at INTEGER;"
   "ALTER TABLE messages ADD COLUMN text_raw_len INTEGER;"
   "DROP VIEW IF EXISTS search_content;"
   "CREATE VIEW search_content AS SELECT d.doc AS doc, m.subject AS subject, " SQL_BODY_TEXT("m.", "b.") " AS body,"
   "  d.sender AS sender, d.recipients AS recipients, d.attachments AS attachments"
   "  FROM search_docs d JOIN messages m ON m.id = d.message_id"
   "  LEFT JOIN message_bodies b ON b.message_id = d.message_id;"},
  {174, /* issue 15: matching's look-ups read their index table alone, not the records row behind
         * each hit (the ingest read about a thousand pages of records per 1,000 messages, most of
         * them from disk: the batch's writes evict them from the page cache). record_emails keeps
         * the record's account_id, opportunity_contacts the opportunity's account_id and stage
         * (storage_record_upsert rewrites both with the record); record_emails_noplus and
         * records_by_account gain the columns their look-ups read, so they cover them
         * in the order the look-ups return rows (records_by_account has id before stage: stage
         * first made SQLite sort them in a temporary B-tree, 40,000 instructions a look-up).
         * Index rows whose record is gone (none should be) go first: a look-up no longer joins
         * records. */
   "DELETE FROM record_emails WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.enterprise_id ="
   "  record_emails.enterprise_id AND r.type = record_emails.type AND r.id = record_emails.record_id);"
   "DELETE FROM record_domains WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.enterprise_id ="
   "  record_domains.enterprise_id AND r.type = 0 AND r.id = record_domains.record_id);"
   "DELETE FROM opportunity_contacts WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.enterprise_id ="
   "  opportunity_contacts.enterprise_id AND r.type = 3 AND r.id = opportunity_contacts.opportunity_id);"
   "ALTER TABLE record_emails ADD COLUMN account_id TEXT;"
   "UPDATE record_emails SET account_id = (SELECT r.account_id FROM records r WHERE r.enterprise_id ="
   "  record_emails.enterprise_id AND r.type = record_emails.type AND r.id = record_emails.record_id);"
   "ALTER TABLE opportunity_contacts ADD COLUMN account_id TEXT;"
   "ALTER TABLE opportunity_contacts ADD COLUMN stage INTEGER NOT NULL DEFAULT 0;"
   "UPDATE opportunity_contacts SET (account_id, stage) = (SELECT r.account_id, r.stage FROM records r"
   "  WHERE r.enterprise_id = opportunity_contacts.enterprise_id AND r.type = 3"
   "  AND r.id = opportunity_contacts.opportunity_id);"
   "DROP INDEX IF EXISTS record_emails_noplus;"
   "CREATE INDEX record_emails_noplus ON record_emails(enterprise_id, email_noplus, type, record_id, account_id);"
   "DROP INDEX IF EXISTS records_by_account;"
   "CREATE INDEX records_by_account ON records(enterprise_id, account_id, type, id, stage) WHERE account_id IS NOT NULL;"},
  {177, /* issue 15: a provenance row goes into one index, not two. Migration 1's two partial unique
         * indexes (a spooled copy by its spool id, any other by route, mailbox and employee) and
         * migration 2's index by message become one unique index by message whose key is the
         * copy's identity: whether it has a spool id, then that id or its route, then (without
         * one) its mailbox and employee; '' where the old indexes had no column, never NULL (NULLs
         * never conflict), so exactly the rows either old index refused are refused. Listing a
         * message's provenance and the cascade of a message's deletion find its rows by its
         * first column, as they did through provenance_by_message. */
   "DROP INDEX IF EXISTS provenance_by_spool;"
   "DROP INDEX IF EXISTS provenance_by_route;"
   "DROP INDEX IF EXISTS provenance_by_message;"
   "CREATE UNIQUE INDEX IF NOT EXISTS provenance_by_source ON provenance(message_id, spool_id IS NULL,"
   "  coalesce(spool_id, route), CASE WHEN spool_id IS NULL THEN coalesce(mailbox, '') ELSE '' END,"
   "  CASE WHEN spool_id IS NULL THEN coalesce(employee_id, '') ELSE '' END);"},
  {178, /* issue 15: the search index merges its segments 8 at a time, not 4 (FTS5's automerge).
         * Every batch's commit writes one segment; with 4, each leaf was rewritten at every level
         * of an ever deeper tree while ingesting, work the compaction of `serve` (hourly,
         * storage_search_compact: one segment) redoes anyway. With 8 (the ingest's cost.sh, 20
         * segments of 100 messages): 17,900 instructions a message fewer, 1.5%; 16 saved only
         * 1,700 more and leaves twice as many segments for a search before the compaction.
         * Results do not change (merging only moves postings). In the configuration table of
         * migration 131's index, as 160's page size. */
   "INSERT INTO search_index(search_index, rank) VALUES('automerge', 8);"},
};

int sql_migrations_latest(void)
{
  return migrations[G_N_ELEMENTS(migrations) - 1].version;
}

static int sql_user_version(SqlDb *d, int *version, GError **error)
{
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(d->db, "PRAGMA user_version", -1, &s, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sqlite3_finalize(s);
    return sql_fail(d, rc, error, "read schema version");
  }
  *version = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  return 0;
}

/* Applies one migration inside BEGIN IMMEDIATE unless another process already did. */
static int sql_apply(SqlDb *d, const SqlMigration *m, GError **error)
{
  if (sql_exec(d, "BEGIN IMMEDIATE", error) < 0) return -1;
  int current = 0;
  if (sql_user_version(d, &current, error) < 0) goto fail;
  if (current >= m->version) return sql_exec(d, "COMMIT", error);
  if (sql_exec(d, m->sql, error) < 0) goto fail;
  char pragma[64];
  g_snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", m->version);
  if (sql_exec(d, pragma, error) < 0) goto fail;
  if (sql_exec(d, "COMMIT", error) < 0) goto fail;
  return 0;
fail:
  sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
  return -1;
}

int sql_migrate(SqlDb *d, GError **error)
{
  int version = 0;
  if (sql_user_version(d, &version, error) < 0) return -1;
  if (version > sql_migrations_latest()) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "storage: database schema %d is newer than this mailagent (%d); upgrade mailagent", version,
                sql_migrations_latest());
    return -1;
  }
  for (guint i = 0; i < G_N_ELEMENTS(migrations); i++) {
    if (migrations[i].version <= version) continue;
    if (sql_apply(d, &migrations[i], error) < 0) return -1;
  }
  if (sql_user_version(d, &d->schema_version, error) < 0) return -1;
  return 0;
}
