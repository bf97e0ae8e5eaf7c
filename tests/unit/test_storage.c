/* test_storage.c - unit tests of the storage interface: open and migrations, enterprises, domains,
 * inbound addresses, employees, API keys, settings, rules, records and the matching look-ups,
 * blobs, and tenant isolation of all of them; the query plans of the statements the code runs
 * (storage_debug_statements). Messages, timeline and outbox are in
 * test_storage_archive.c; the spool in test_storage_spool.c.
 *
 * One parameter, the backend: every test runs against SQLite under /storage/..., and the tests
 * whose functions the PostgreSQL backend implements so far run again under /storage/postgresql/...
 * against the database named by MAILAGENT_TEST_PG (a conninfo; integration/storage_pg starts a
 * private PostgreSQL and sets it; without it those are skipped). Each PostgreSQL test starts from
 * an empty schema.
 */
#include "storage/storage.h"
#include "storage/storage_search.h"
#include "storage/storage_backend.h"
#include "agent/lib/clock.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <libpq-fe.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

/* The test data pointer that selects PostgreSQL (NULL: SQLite). */
#define ON_PG TESTUTIL_ON_PG
/* Set for this program run as test_data_version's other process (main). */
#define CHILD_COMMIT_ENV "MAILAGENT_TEST_CHILD_COMMIT"
#define CHILD_COMMIT_BACKEND_ENV "MAILAGENT_TEST_CHILD_COMMIT_BACKEND"

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-storage-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  g_assert_null(fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static void add_enterprise(MaStorage *st, const char *id, const char *slug, const char *domain, const char *inbound)
{
  MaEnterprise e = {0};
  e.id = (char *)id;
  e.slug = (char *)slug;
  e.name = (char *)slug;
  e.inbound_local = (char *)inbound;
  e.domains = g_ptr_array_new();
  if (domain) g_ptr_array_add(e.domains, (char *)domain);
  e.created_at = 1000;
  GError *error = NULL;
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_unref(e.domains);
}

static MaRecord *record(MaRecordType type, const char *id, const char *name)
{
  MaRecord *r = ma_record_new(type, id);
  r->name = g_strdup(name);
  return r;
}

static void upsert(MaStorage *st, const char *ent, MaRecord *r)
{
  GError *error = NULL;
  g_assert_cmpint(storage_record_upsert(st, ent, r, &error), ==, 0);
  g_assert_no_error(error);
  ma_record_free(r);
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

static void test_open_missing(void)
{
  GError *error = NULL;
  char *dir = testutil_tempdir("ma-storage-XXXXXX");
  MaStorage *st = NULL;
  g_assert_cmpint(storage_open(dir, FALSE, &st, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_assert_null(st);
  g_clear_error(&error);
  storage_close(&st); /* accepts NULL */
  storage_close(NULL);
  testutil_rm_rf(dir);
  g_free(dir);
}

static void test_migrations_fresh_and_existing(Fixture *fx, gconstpointer data)
{
  int v = storage_schema_version(fx->st);
  g_assert_cmpint(v, >=, 1);
  add_enterprise(fx->st, "e1", "acme", "acme.com", "acme-x1");
  storage_close(&fx->st);

  /* Reopen: nothing re-applied, data intact. */
  GError *error = NULL;
  g_assert_cmpint(storage_open(fx->dir, FALSE, &fx->st, &error), ==, 0);
  g_assert_cmpint(storage_schema_version(fx->st), ==, v);
  MaEnterprise *e = NULL;
  g_assert_cmpint(storage_enterprise_get(fx->st, "acme", &e, &error), ==, 1);
  g_assert_cmpstr(e->id, ==, "e1");
  ma_enterprise_free(e);
  storage_close(&fx->st);

  /* The WAL journal is in use and the database is newer-proof: a future version is refused. */
  char *path = g_build_filename(fx->dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
  g_assert_cmpstr((const char *)sqlite3_column_text(s, 0), ==, "wal");
  sqlite3_finalize(s);
  char *sql = g_strdup_printf("PRAGMA user_version=%d", v + 1);
  g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_free(sql);
  sqlite3_close(db);
  g_free(path);
  g_assert_cmpint(storage_open(fx->dir, FALSE, &fx->st, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_null(fx->st);
}

static void test_migrations_upgrade(Fixture *fx, gconstpointer data)
{
  /* Pretend the database stopped at version 1: undo what migrations 2-10, 13, 108, 110-113, 115, 116, 118, 123,
   * 124, 126-129, 131, 132, 134, 149, 150, 151, 160 and 178 (the index's page size and merge
   * width, in the configuration table of 131's index), 165, 166, 170, 171, 173, 174 and 177 made. */
  int latest = storage_schema_version(fx->st);
  g_assert_cmpint(latest, >=, 4);
  add_enterprise(fx->st, "e1", "acme", "acme.com", NULL);
  upsert(fx->st, "e1", record(MA_RECORD_CONTACT, "c1", "Ann"));
  upsert(fx->st, "e1", record(MA_RECORD_LEAD, "l1", "Bo"));
  /* matching's index rows, whose copies of account_id and stage migration 174 fills */
  MaRecord *c9 = record(MA_RECORD_CONTACT, "c9", "Nine");
  g_ptr_array_add(c9->emails, g_strdup("nine@globex.com"));
  c9->account_id = g_strdup("a9");
  upsert(fx->st, "e1", c9);
  MaRecord *o9 = record(MA_RECORD_OPPORTUNITY, "o9", "Deal nine");
  g_ptr_array_add(o9->contact_ids, g_strdup("c9"));
  o9->account_id = g_strdup("a9");
  o9->stage = MA_STAGE_OPEN;
  upsert(fx->st, "e1", o9);
  storage_close(&fx->st);
  char *path = g_build_filename(fx->dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  /* migration 131: this connection has no "mailagent" tokenizer, so the FTS5 table cannot be
   * dropped through FTS5; its shadow tables are dropped and its schema row removed instead */
  g_assert_cmpint(sqlite3_exec(db,
                               "DROP TRIGGER search_forget; DROP VIEW search_content; DROP VIEW search_fields; DROP INDEX messages_by_raw;"
                               "DROP TABLE search_docs; DROP TABLE search_tenants; DROP TABLE search_index_data;"
                               "DROP TABLE search_index_idx;"
                               "DROP TABLE search_index_docsize; DROP TABLE search_index_config;"
                               "PRAGMA writable_schema=ON; DELETE FROM sqlite_schema WHERE name = 'search_index';"
                               "PRAGMA writable_schema=OFF",
                               NULL, NULL, NULL),
                  ==, SQLITE_OK);
  sqlite3_close(db);
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db,
                               TESTUTIL_UNDO_SQLITE_177 TESTUTIL_UNDO_SQLITE_174 TESTUTIL_UNDO_SQLITE_173 TESTUTIL_UNDO_SQLITE_171 TESTUTIL_UNDO_SQLITE_170 TESTUTIL_UNDO_SQLITE_166 TESTUTIL_UNDO_SQLITE_165
                               /* an index row whose record is gone, which migration 174 deletes */
                               "INSERT INTO record_emails(enterprise_id, email, email_noplus, type, record_id)"
                               "  VALUES('e1', 'ghost@globex.com', 'ghost@globex.com', 1, 'gone');"
                               /* migration 145 */
                               "DROP INDEX outbox_pending_by_enterprise; ALTER TABLE outbox DROP COLUMN claimed_until;"
                               "DROP TABLE installation;" /* migration 149 */
                               "DROP TABLE job_leases;"   /* migration 150 */
                               "ALTER TABLE relays DROP COLUMN auth_provider;" /* migration 151 */
                               /* migration 132 */
                               "DROP TRIGGER archive_version_outbound_upd; DROP TRIGGER archive_version_outbound_del;"
                               /* migration 124, with a message archived before it, body in its row */
                               "DROP TABLE message_bodies;"
                               "ALTER TABLE messages ADD COLUMN text TEXT; ALTER TABLE messages ADD COLUMN html TEXT;"
                               "INSERT INTO messages(id, enterprise_id, dedup_key, direction, date, archived_at, text, html)"
                               "  VALUES('m-old', 'e1', 'dk-old', 0, 1, 1, 'old body', '<p>old</p>');"
                               /* migration 123 */
                               "DROP TRIGGER archive_version_timeline_ins; DROP TRIGGER archive_version_timeline_upd;"
                               "DROP TRIGGER archive_version_timeline_del; DROP TRIGGER archive_version_messages_upd;"
                               "DROP TRIGGER archive_version_messages_del; DROP TRIGGER archive_version_activities_upd;"
                               "DROP TRIGGER archive_version_activities_del; DROP TRIGGER archive_version_links_upd;"
                               "DROP TRIGGER archive_version_links_del; DROP TRIGGER archive_version_records_ins;"
                               "DROP TRIGGER archive_version_records_del; DROP TABLE archive_versions;"
                               /* migration 13 (its triggers name counters, dropped below) */
                               "DROP TRIGGER enterprises_tenant_ins; DROP TRIGGER enterprises_tenant_upd; DROP TRIGGER enterprises_tenant_del;"
                               "DROP TRIGGER enterprise_domains_tenant_ins; DROP TRIGGER enterprise_domains_tenant_upd; DROP TRIGGER enterprise_domains_tenant_del;"
                               "DROP TRIGGER inbound_addresses_tenant_ins; DROP TRIGGER inbound_addresses_tenant_upd; DROP TRIGGER inbound_addresses_tenant_del;"
                               "DROP TRIGGER employees_tenant_ins; DROP TRIGGER employees_tenant_upd; DROP TRIGGER employees_tenant_del;"
                               "DROP TRIGGER settings_tenant_ins; DROP TRIGGER settings_tenant_upd; DROP TRIGGER settings_tenant_del;"
                               "DROP INDEX provenance_by_message; CREATE INDEX timeline_by_message ON timeline(message_id);"
                               "DROP TRIGGER IF EXISTS messages_counted; DROP TRIGGER messages_uncounted;"
                               "DROP TRIGGER IF EXISTS activities_counted; DROP TRIGGER activities_uncounted;"
                               "DROP INDEX threads_by_subject;"
                               "CREATE INDEX threads_by_subject ON threads(enterprise_id, subject_key, participants_key, latest);"
                               "DROP TRIGGER records_counted; DROP TRIGGER records_uncounted; DROP TABLE counters;"
                               "ALTER TABLE messages DROP COLUMN parse_error;"
                               "ALTER TABLE messages DROP COLUMN machine; ALTER TABLE messages DROP COLUMN machine_reason;" /* 126 */
                               "ALTER TABLE message_links DROP COLUMN reason;" /* 127 */
                               "DROP TABLE pending_participants; DROP TABLE pending_messages;" /* 128 */
                               "DROP INDEX participants_by_address; DROP INDEX participants_by_domain;" /* 129 */
                               "DROP TABLE suppressions; DROP TABLE soft_bounces;" /* migration 118 */
                               "DROP TABLE outbound_sent_copies; DROP TABLE mailbox_send_days;" /* 115, 116 */
                               "DROP TABLE outbound_recipients; DROP TABLE outbound_messages;" /* migration 9 */
                               "DROP TABLE outbound_idempotency; DROP TABLE submission_credentials;"
                               /* migrations 8 and 108 */
                               "DROP TABLE dkim_keys;"
                               "CREATE TABLE ed1(domain TEXT PRIMARY KEY,"
                               "  enterprise_id TEXT NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE);"
                               "INSERT INTO ed1 SELECT domain, enterprise_id FROM enterprise_domains;"
                               "DROP TABLE enterprise_domains; ALTER TABLE ed1 RENAME TO enterprise_domains;"
                               "CREATE INDEX enterprise_domains_by_enterprise ON enterprise_domains(enterprise_id, domain);"
                               /* migrations 113, 112 and 111 */
                               "DROP TABLE employee_send_mailboxes; DROP TABLE channel_accounts;"
                               "DROP TABLE default_path_complaints;" /* 134 */
                               "DROP TABLE default_path_suspensions; DROP TABLE default_path_log;"
                               /* migration 110 (its tables reference relays, dropped first) */
                               "DROP TABLE relay_usage; DROP TABLE relay_filters; DROP TABLE relays;"
                               /* migration 10 */
                               "DROP TABLE oauth2_states; DROP TABLE oauth2_grants; DROP TABLE mailbox_failures;"
                               "DROP TABLE mailbox_keys; DROP TABLE mailbox_folders; DROP TABLE mailboxes;"
                               /* the old message linked to c1 with its version-1 timeline row, which
                                * migration 165 fills */
                               "INSERT INTO participants(message_id, pos, role, name, address)"
                               "  VALUES('m-old', 0, 0, 'Old Sender', 'old@acme.com'), ('m-old', 1, 4, NULL, 'bcc@acme.com');"
                               "INSERT INTO message_links(message_id, record_type, record_id, enterprise_id)"
                               "  VALUES('m-old', 1, 'c1', 'e1');"
                               "INSERT INTO timeline(enterprise_id, record_type, record_id, date, message_id, kind, direction,"
                               "  has_attachment) VALUES('e1', 1, 'c1', 1, 'm-old', 0, 0, 0);"
                               "PRAGMA user_version=1",
                               NULL, NULL, NULL),
                  ==, SQLITE_OK);
  sqlite3_close(db);

  GError *error = NULL;
  g_assert_cmpint(storage_open(fx->dir, FALSE, &fx->st, &error), ==, 0);
  g_assert_cmpint(storage_schema_version(fx->st), ==, latest);
  MaEnterprise *e = NULL;
  g_assert_cmpint(storage_enterprise_get(fx->st, "e1", &e, &error), ==, 1);
  ma_enterprise_free(e);
  /* Migration 118's suppression list is there again. */
  MaSuppression sup = {.enterprise_id = "e1", .address = "gone@x.example", .reason = "manual", .created_at = 1};
  g_assert_cmpint(storage_suppression_add(fx->st, &sup, &error), ==, 1);
  /* Migration 8 carried the domain over as a pending claim with a challenge token. */
  MaDomain *dom = NULL;
  g_assert_cmpint(storage_domain_get(fx->st, "e1", "acme.com", &dom, &error), ==, 1);
  g_assert_cmpstr(dom->status, ==, "pending");
  g_assert_cmpuint(strlen(dom->challenge), ==, 32);
  ma_domain_free(dom);
  /* Migration 124 moved the old message's body out of its row. */
  MaStoredMessage *old = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "m-old", &old, &error), ==, 1);
  g_assert_cmpstr(old->text, ==, "old body");
  g_assert_cmpstr(old->html, ==, "<p>old</p>");
  ma_stored_message_free(old);
  /* Migration 165 filled its timeline row: the page shows its sender (a Bcc is never listed) and
   * its record. */
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  g_autofree char *next = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 10, items, &next, &error), ==, 0);
  g_assert_cmpuint(items->len, ==, 1);
  MaStoredMessage *filled = ((MaTimelineItem *)items->pdata[0])->message;
  g_assert_cmpstr(filled->id, ==, "m-old");
  g_assert_cmpuint(filled->participants->len, ==, 1);
  g_assert_cmpstr(((MaParticipant *)filled->participants->pdata[0])->name, ==, "Old Sender");
  g_assert_cmpstr(((MaParticipant *)filled->participants->pdata[0])->address, ==, "old@acme.com");
  g_assert_cmpuint(filled->links->len, ==, 1);
  g_assert_cmpstr(((MaRecordRef *)filled->links->pdata[0])->id, ==, "c1");
  /* Migration 174 copied the records' account_id and stage into matching's index rows and dropped
   * the row of a record that is gone. */
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_free);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "nine@globex.com", FALSE, found, &error), ==, 0);
  g_assert_cmpuint(found->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)found->pdata[0])->account_id, ==, "a9");
  g_ptr_array_set_size(found, 0);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "nine@globex.com", TRUE, found, &error), ==, 0);
  g_assert_cmpuint(found->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)found->pdata[0])->account_id, ==, "a9");
  g_ptr_array_set_size(found, 0);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "ghost@globex.com", FALSE, found, &error), ==, 0);
  g_assert_cmpuint(found->len, ==, 0);
  g_assert_cmpint(storage_opportunities_open_for_contact(fx->st, "e1", "c9", found, &error), ==, 0);
  g_assert_cmpuint(found->len, ==, 1);
  g_assert_cmpint(((MaRecord *)found->pdata[0])->stage, ==, MA_STAGE_OPEN);
  g_assert_cmpstr(((MaRecord *)found->pdata[0])->account_id, ==, "a9");
  g_ptr_array_set_size(found, 0);
  g_assert_cmpint(storage_opportunities_open_for_account(fx->st, "e1", "a9", found, &error), ==, 0);
  g_assert_cmpuint(found->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)found->pdata[0])->id, ==, "o9");
  /* Counters start from the existing rows, then follow writes. */
  gint64 msgs = -1, acts = -1, recs = -1;
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(recs, ==, 4);
  upsert(fx->st, "e1", record(MA_RECORD_CONTACT, "c2", "Cy"));
  upsert(fx->st, "e1", record(MA_RECORD_CONTACT, "c1", "Ann again")); /* update: not counted */
  g_assert_cmpint(storage_record_delete(fx->st, "e1", MA_RECORD_LEAD, "l1", &error), ==, 1);
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(recs, ==, 4);
  g_assert_cmpint(msgs, ==, 1); /* the message archived before migration 124 */
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(db,
                     "SELECT (SELECT count(*) FROM sqlite_schema WHERE name = 'provenance_by_source'),"
                     " (SELECT count(*) FROM sqlite_schema WHERE name = 'timeline_by_message'),"
                     " (SELECT count(*) FROM sqlite_schema WHERE name IN ('messages_counted', 'activities_counted')),"
                     " (SELECT count(*) FROM sqlite_schema WHERE name IN ('messages_uncounted', 'activities_uncounted')),"
                     " (SELECT sql LIKE '%latest, id)' FROM sqlite_schema WHERE name = 'threads_by_subject'),"
                     " (SELECT count(*) FROM sqlite_schema WHERE name IN ('search_index', 'search_docs', 'search_content',"
                     "  'search_forget', 'messages_by_raw', 'search_tenants', 'search_fields')),"
                     " (SELECT count(*) FROM sqlite_schema WHERE name IN ('provenance_by_message', 'provenance_by_spool',"
                     "  'provenance_by_route'))",
                     -1, &s, NULL);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
  g_assert_cmpint(sqlite3_column_int(s, 0), ==, 1);
  g_assert_cmpint(sqlite3_column_int(s, 1), ==, 0);
  g_assert_cmpint(sqlite3_column_int(s, 2), ==, 0);
  g_assert_cmpint(sqlite3_column_int(s, 3), ==, 2);
  g_assert_cmpint(sqlite3_column_int(s, 4), ==, 1);
  g_assert_cmpint(sqlite3_column_int(s, 5), ==, 7);
  g_assert_cmpint(sqlite3_column_int(s, 6), ==, 0); /* 177: one provenance index, by source */
  sqlite3_finalize(s);
  sqlite3_close(db);
  g_free(path);
}

/* The hot look-ups start from an index, never from a scan of records or messages (SQLite has no
 * statistics here, so a bad join order would scan 100,000 records per address). */
/* Runs, through the storage API, what the pipeline's matching and archiving and the API's
 * timeline page do, so that the handle's statement cache holds the statements the code runs. */
static void run_hot_paths(MaStorage *st)
{
  GError *error = NULL;
  add_enterprise(st, "e", "acme", "acme.com", NULL);
  MaRecord *acc = record(MA_RECORD_ACCOUNT, "a", "Globex");
  g_ptr_array_add(acc->domains, g_strdup("globex.com"));
  upsert(st, "e", acc);
  MaRecord *c = record(MA_RECORD_CONTACT, "c", "Hank");
  g_ptr_array_add(c->emails, g_strdup("hank@globex.com"));
  c->account_id = g_strdup("a");
  upsert(st, "e", c);
  MaRecord *o = record(MA_RECORD_OPPORTUNITY, "o", "Deal");
  g_ptr_array_add(o->contact_ids, g_strdup("c"));
  o->account_id = g_strdup("a");
  o->stage = MA_STAGE_OPEN;
  upsert(st, "e", o);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_free);
  g_assert_cmpint(storage_records_by_email(st, "e", "hank@globex.com", FALSE, found, &error), ==, 0);
  g_assert_cmpint(storage_records_by_email(st, "e", "hank@globex.com", TRUE, found, &error), ==, 0);
  g_assert_cmpint(storage_accounts_by_domain(st, "e", "globex.com", found, &error), ==, 0);
  g_assert_cmpint(storage_opportunities_open_for_contact(st, "e", "c", found, &error), ==, 0);
  g_assert_cmpint(storage_opportunities_open_for_account(st, "e", "a", found, &error), ==, 0);
  g_assert_cmpuint(found->len, ==, 5);

  g_autofree char *thread = NULL;
  const char *refs[] = {"x@globex.com"};
  g_assert_cmpint(storage_thread_find_by_message_ids(st, "e", refs, 1, &thread, &error), ==, 0);
  g_assert_cmpint(storage_thread_find_by_subject(st, "e", "s", "p", 0, &thread, &error), ==, 0);
  g_assert_cmpint(storage_thread_create(st, "e", "t", "s", "p", 100, &error), ==, 0);
  g_autofree char *dup = NULL;
  g_assert_cmpint(storage_message_find_duplicate(st, "e", "x@globex.com", "dk", &dup, &error), ==, 0);
  for (int i = 0; i < 3; i++) {
    MaStoredMessage *m = ma_stored_message_new();
    m->id = g_strdup_printf("m%d", i);
    m->enterprise_id = g_strdup("e");
    m->thread_id = g_strdup("t");
    m->message_id = g_strdup_printf("x%d@globex.com", i);
    m->dedup_key = g_strdup_printf("dk%d", i);
    m->subject = g_strdup("s");
    m->date = 100 + i;
    m->archived_at = 200;
    m->text = g_strdup("body");
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Hank", "hank@globex.com"));
    g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c"));
    g_assert_cmpint(storage_message_insert(st, m, &error), ==, 0);
    g_assert_cmpint(storage_search_index(st, m, &error), ==, 0);
    MaProvenance *p = ma_provenance_new("smtp");
    p->spool_id = g_strdup_printf("s%d", i);
    g_assert_cmpint(storage_provenance_add(st, "e", m->id, p, &error), ==, 1);
    ma_provenance_free(p);
    MaRecordRef ref = {MA_RECORD_OPPORTUNITY, "o", NULL};
    g_assert_cmpint(storage_link_add(st, "e", m->id, &ref, &error), ==, 1);
    MaActivity a = {.id = g_strdup_printf("act%d", i), .enterprise_id = "e", .message_id = m->id,
                    .record = {MA_RECORD_CONTACT, "c"}, .created_at = 1};
    g_assert_cmpint(storage_activity_create(st, &a, &error), ==, 1);
    g_free(a.id);
    ma_stored_message_free(m);
  }
  g_assert_cmpint(storage_thread_touch(st, "e", "t", 300, &error), ==, 0);
  g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  g_assert_cmpint(storage_thread_opportunity_links(st, "e", "t", links, &error), ==, 0);

  /* the timeline page: first page, then with a cursor and every filter */
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_timeline_item_free);
  g_autofree char *next = NULL;
  g_assert_cmpint(storage_timeline(st, "e", MA_RECORD_CONTACT, "c", NULL, NULL, 2, items, &next, &error), ==, 0);
  g_assert_nonnull(next);
  MaTimelineFilter f = {.direction = "inbound", .since = 1, .until = 1000, .has_attachment = 0, .thread_id = "t"};
  g_autofree char *next2 = NULL;
  g_assert_cmpint(storage_timeline(st, "e", MA_RECORD_CONTACT, "c", &f, next, 2, items, &next2, &error), ==, 0);
  gint64 v = 0;
  g_assert_cmpint(storage_archive_version(st, "e", &v, &error), ==, 0);
  g_assert_no_error(error);

  /* the searches of the API: newest first and by relevance, a next page of each, and each within
   * one record's mail */
  g_autoptr(MaSearchQuery) query = search_query_parse("body hank", &error);
  g_assert_no_error(error);
  for (int order = 0; order < 2; order++)
    for (int in_record = 0; in_record < 2; in_record++) {
      MaSearchRequest req = {.query = query, .order = order ? MA_SEARCH_RELEVANCE : MA_SEARCH_NEWEST,
                             .in_record = in_record, .record_type = MA_RECORD_CONTACT, .record_id = "c"};
      g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
      g_assert_cmpint(storage_search(st, "e", &req, 0, 2, hits, &error), ==, 0);
      g_assert_cmpuint(hits->len, ==, 2);
      gint64 after = ((MaSearchHit *)hits->pdata[1])->seq;
      g_assert_cmpint(storage_search(st, "e", &req, after, 2, hits, &error), ==, 0);
      g_assert_cmpuint(hits->len, ==, 3);
      g_assert_no_error(error);
    }
}

/* A walk of the search index that reads one enterprise's postings, in the order of the document
 * numbers (newest first), as FTS5 plans it: "SCAN f VIRTUAL TABLE INDEX <flags>:<constraints>",
 * the constraints a MATCH ('M' and its column) and both bounds of the rowid ('<', '>'), the flags
 * the order by rowid (0x40) descending (0x80), so that a LIMIT stops the walk. */
static gboolean fts_walk_newest(const char *detail)
{
  const char *index = strstr(detail, " VIRTUAL TABLE INDEX ");
  if (!index || !(g_str_has_prefix(detail, "SCAN f ") || g_str_has_prefix(detail, "SCAN search_index "))) return FALSE;
  char *colon = NULL;
  gint64 flags = g_ascii_strtoll(index + strlen(" VIRTUAL TABLE INDEX "), &colon, 10);
  return colon && *colon == ':' && colon[1] == 'M' && strchr(colon, '<') && strchr(colon, '>') && (flags & 0xC0) == 0xC0;
}

/* What may be read whole: not a table but a page's own rows (the timeline's page subquery and
 * CTE, a search's window of matches and its page, r) or a table-valued function's (json_each,
 * the id lists of sql_messages_load_many); the search index only as one enterprise's walk. */
static gboolean scan_allowed(const char *detail)
{
  static const char *const allowed[] = {"SCAN json_each", "SCAN pg", "SCAN CONSTANT ROW", "SCAN (subquery-"};
  for (guint i = 0; i < G_N_ELEMENTS(allowed); i++)
    if (g_str_has_prefix(detail, allowed[i])) return TRUE;
  return strcmp(detail, "SCAN r") == 0 || fts_walk_newest(detail);
}

/* EXPLAIN QUERY PLAN of text: rows "id|parent|notused|detail" (char*, owned by the array). On a
 * plain connection (foreign keys off, so no plan of their checks), except the statements of the
 * search index and the message loads, which only the handle's own connection can prepare (its
 * tokenizer, ma_rank and ma_text_slice). */
static GPtrArray *explain(MaStorage *st, sqlite3 *db, const char *text)
{
  GPtrArray *plan = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *sql = g_strdup_printf("EXPLAIN QUERY PLAN %s", text);
  if (strstr(text, "search_index") || strstr(text, "search_content") || strstr(text, "ma_text_slice")) {
    GError *error = NULL;
    g_assert_cmpint(storage_debug_query(st, sql, plan, &error), ==, 0);
    g_assert_no_error(error);
    return plan;
  }
  sqlite3_stmt *s = NULL;
  g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &s, NULL), ==, SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW)
    g_ptr_array_add(plan, g_strdup_printf("%d|%d|%d|%s", sqlite3_column_int(s, 0), sqlite3_column_int(s, 1),
                                          sqlite3_column_int(s, 2), (const char *)sqlite3_column_text(s, 3)));
  sqlite3_finalize(s);
  return plan;
}

/* The detail of each row of an EXPLAIN QUERY PLAN (explain's "id|parent|notused|detail"). */
static const char *plan_detail(const char *row)
{
  for (int bar = 0; bar < 3 && row; bar++) row = strchr(row, '|') ? strchr(row, '|') + 1 : NULL;
  g_assert_nonnull(row);
  return row;
}

static guint plan_count(GPtrArray *plan, const char *detail)
{
  guint n = 0;
  for (guint i = 0; i < plan->len; i++) n += g_str_has_prefix(plan_detail(plan->pdata[i]), detail);
  return n;
}

enum { PLAN_OTHER, PLAN_SEARCH_NEWEST, PLAN_SEARCH_RELEVANCE, PLAN_SEARCH_SAMPLE };

/* The search statements (storage_sqlite_search.c): each walks one enterprise's postings newest
 * first (fts_walk_newest); newest first sorts nothing (the walk is the order, and stops at the
 * page); by relevance sorts the window's scores and then the page, nothing else; the hits' rows
 * and a record's links are read by their keys. Which one text is, PLAN_OTHER when none. */
static int check_search_plan(const char *text, GPtrArray *plan)
{
  int kind = g_str_has_prefix(text, "SELECT f.rowid, d.message_id FROM search_index f") ? PLAN_SEARCH_NEWEST
             : g_str_has_prefix(text, "SELECT r.doc, d.message_id FROM (SELECT doc, score") ? PLAN_SEARCH_RELEVANCE
             : g_str_has_prefix(text, "SELECT count(*), min(doc) FROM (SELECT rowid AS doc FROM search_index") ||
                   g_str_has_prefix(text, "SELECT ?4, rowid FROM search_index")
               ? PLAN_SEARCH_SAMPLE
               : PLAN_OTHER;
  if (kind == PLAN_OTHER) return kind;
  guint walks = 0;
  for (guint i = 0; i < plan->len; i++) walks += fts_walk_newest(plan_detail(plan->pdata[i]));
  g_assert_cmpuint(walks, ==, 1);
  g_assert_cmpuint(plan_count(plan, "USE TEMP B-TREE"), ==, kind == PLAN_SEARCH_RELEVANCE ? 2 : 0);
  if (kind == PLAN_SEARCH_RELEVANCE) g_assert_cmpuint(plan_count(plan, "USE TEMP B-TREE FOR ORDER BY"), ==, 2);
  if (kind != PLAN_SEARCH_SAMPLE) g_assert_cmpuint(plan_count(plan, "SEARCH d USING INTEGER PRIMARY KEY (rowid=?)"), >=, 1);
  if (strstr(text, "message_links l"))
    g_assert_cmpuint(plan_count(plan, "SEARCH l USING PRIMARY KEY (message_id=? AND record_type=? AND record_id=?)"),
                     ==, 1);
  return kind;
}

/* The matching look-ups (storage_sqlite_records.c, migration 174): each is one search of its own
 * table's key or of a covering index, in the order it returns (no temporary b-tree), and reads no
 * records row. TRUE when text is one of them (its plan checked), FALSE for other statements. */
static gboolean check_record_lookup_plan(const char *text, GPtrArray *plan)
{
  static const char *const lookups[][2] = {
    {"SELECT e.type, e.record_id, e.account_id, 0 FROM record_emails e WHERE",
     "SEARCH e USING PRIMARY KEY (enterprise_id=? AND email=?)"},
    {"SELECT e.type, e.record_id, e.account_id, 0 FROM record_emails e INDEXED BY record_emails_noplus",
     "SEARCH e USING COVERING INDEX record_emails_noplus (enterprise_id=? AND email_noplus=?)"},
    {"SELECT 0, x.record_id, NULL, 0 FROM record_domains x", "SEARCH x USING PRIMARY KEY (enterprise_id=? AND domain=?)"},
    {"SELECT 3, x.opportunity_id, x.account_id, x.stage FROM opportunity_contacts x",
     "SEARCH x USING PRIMARY KEY (enterprise_id=? AND contact_id=?)"},
    {"SELECT r.type, r.id, r.account_id, r.stage FROM records r INDEXED BY records_by_account",
     "SEARCH r USING COVERING INDEX records_by_account (enterprise_id=? AND account_id=? AND type=?)"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(lookups); i++) {
    if (!g_str_has_prefix(text, lookups[i][0])) continue;
    g_assert_cmpuint(plan->len, ==, 1);
    g_assert_cmpstr(plan_detail(plan->pdata[0]), ==, lookups[i][1]);
    return TRUE;
  }
  return FALSE;
}

/* The plans of the statements the code ran (storage_debug_statements), not of copies of them: no
 * statement reads a whole table, the matching look-ups are planned as check_record_lookup_plan
 * says, reading records starts from an index (not from the records' primary key by enterprise
 * alone), the subject threading look-up sorts nothing, the
 * timeline page is one index range in its own order (no temporary b-tree, no other table), and
 * the searches are planned as check_search_plan says. */
static void test_query_plans(Fixture *fx, gconstpointer data)
{
  run_hot_paths(fx->st);
  g_autoptr(GPtrArray) statements = g_ptr_array_new_with_free_func(g_free);
  storage_debug_statements(fx->st, statements);
  g_assert_cmpuint(statements->len, >=, 20);
  g_autofree char *path = g_build_filename(fx->dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  guint explained = 0, timeline_pages = 0, record_lookups = 0, searches[PLAN_SEARCH_SAMPLE + 1] = {0};
  for (guint i = 0; i < statements->len; i++) {
    const char *text = statements->pdata[i];
    if (!g_str_has_prefix(text, "SELECT") && !g_str_has_prefix(text, "WITH") && !g_str_has_prefix(text, "INSERT") &&
        !g_str_has_prefix(text, "UPDATE") && !g_str_has_prefix(text, "DELETE"))
      continue; /* BEGIN, COMMIT, PRAGMA */
    g_autoptr(GPtrArray) plan = explain(fx->st, db, text);
    searches[check_search_plan(text, plan)]++;
    record_lookups += check_record_lookup_plan(text, plan);
    gboolean first = TRUE;
    gboolean timeline = strstr(text, "FROM timeline t") != NULL && g_str_has_prefix(text, "SELECT t.item");
    gboolean records = strstr(text, "CROSS JOIN records r") != NULL || strstr(text, "FROM records r") != NULL;
    for (guint k = 0; k < plan->len; k++) {
      const char *detail = plan_detail(plan->pdata[k]);
      g_test_message("%s -> %s", text, detail);
      if (g_str_has_prefix(detail, "SCAN ") && !scan_allowed(detail))
        g_error("a statement the code runs reads a whole table: %s -> %s", text, detail);
      if (strstr(text, "FROM threads") && strstr(text, "subject_key")) g_assert_null(strstr(detail, "TEMP B-TREE"));
      /* a page is one range of the timeline's key and nothing else: no sort, no other table */
      if (timeline) g_assert_true(g_str_has_prefix(detail, "SEARCH t USING PRIMARY KEY (enterprise_id=? AND record_type=? AND record_id=?"));
      if (records && first) {
        g_assert_false(g_str_has_prefix(detail, "SEARCH r USING PRIMARY KEY (enterprise_id=?)"));
        g_assert_false(g_str_has_prefix(detail, "SEARCH r USING PRIMARY KEY (enterprise_id=? AND type=?)"));
      }
      first = FALSE;
    }
    explained++;
    timeline_pages += timeline;
  }
  /* the paths above did run: the first and the filtered page, and the five matching look-ups */
  g_assert_cmpuint(timeline_pages, ==, 2);
  g_assert_cmpuint(record_lookups, ==, 5);
  g_assert_cmpuint(explained, >=, 20);
  /* the searches: newest first and by relevance, each alone and within a record (their next
   * pages run the same statements), and the frequency estimate's walks */
  g_assert_cmpuint(searches[PLAN_SEARCH_NEWEST], ==, 2);
  g_assert_cmpuint(searches[PLAN_SEARCH_RELEVANCE], ==, 2);
  g_assert_cmpuint(searches[PLAN_SEARCH_SAMPLE], ==, 2); /* the sample's last posting, then its count */
  sqlite3_close(db);
}

static void test_migrations_partial(void)
{
  /* A database at version 0 with no tables (e.g. created by an older init that crashed) migrates. */
  char *dir = testutil_tempdir("ma-storage-XXXXXX");
  char *path = g_build_filename(dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  sqlite3_exec(db, "CREATE TABLE unrelated(x)", NULL, NULL, NULL);
  sqlite3_close(db);
  MaStorage *st = NULL;
  GError *error = NULL;
  g_assert_cmpint(storage_open(dir, FALSE, &st, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(storage_schema_version(st), >=, 1);
  add_enterprise(st, "e1", "acme", NULL, NULL);
  storage_close(&st);
  g_free(path);
  testutil_rm_rf(dir);
  g_free(dir);
}

static void test_transactions(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  g_assert_cmpint(storage_begin(fx->st, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INTERNAL);
  g_clear_error(&error);
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  storage_rollback(fx->st);
  MaEnterprise *e = NULL;
  g_assert_cmpint(storage_enterprise_get(fx->st, "e1", &e, &error), ==, 0);
  g_assert_null(e);

  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  /* A failing write inside the transaction undoes only itself. */
  MaEnterprise dup = {.id = "e2", .slug = "acme", .name = "x"};
  g_assert_cmpint(storage_enterprise_create(fx->st, &dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_assert_cmpint(storage_enterprise_get(fx->st, "e1", &e, &error), ==, 1);
  ma_enterprise_free(e);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, -1);
  g_clear_error(&error);
}

/* A batch transaction: no savepoint per write, so a failed write spoils the whole transaction. */
static void test_transactions_batch(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  g_assert_cmpint(storage_begin(fx->st, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INTERNAL);
  g_clear_error(&error);
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  MaEnterprise *e = NULL;
  g_assert_cmpint(storage_enterprise_get(fx->st, "e1", &e, &error), ==, 1);
  ma_enterprise_free(e);

  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  add_enterprise(fx->st, "e2", "beta", NULL, NULL);
  MaEnterprise dup = {.id = "e3", .slug = "acme", .name = "x"};
  g_assert_cmpint(storage_enterprise_create(fx->st, &dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  /* spoiled: later writes and the commit fail, and nothing of the batch survives */
  MaEnterprise other = {.id = "e4", .slug = "delta", .name = "y"};
  g_assert_cmpint(storage_enterprise_create(fx->st, &other, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  g_assert_cmpint(storage_enterprise_get(fx->st, "e2", &e, &error), ==, 0);
  g_assert_cmpint(storage_enterprise_get(fx->st, "e4", &e, &error), ==, 0);

  /* the next transaction, batch or not, starts clean */
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  add_enterprise(fx->st, "e2", "beta", NULL, NULL);
  storage_rollback(fx->st);
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  add_enterprise(fx->st, "e2", "beta", NULL, NULL);
  g_assert_cmpint(storage_enterprise_create(fx->st, &dup, &error), ==, -1);
  g_clear_error(&error);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_assert_cmpint(storage_enterprise_get(fx->st, "e2", &e, &error), ==, 1);
  ma_enterprise_free(e);
}

static void test_fault_injection(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  storage_fault_inject_commit_failures(fx->st, 2);

  /* An explicit transaction with several writes: none survives a failed commit. */
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  MaRecord *r = record(MA_RECORD_CONTACT, "c1", "Ann");
  g_ptr_array_add(r->emails, g_strdup("ann@x.com"));
  upsert(fx->st, "e1", r);
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, "hello", 5, sha, &error), ==, 0);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);

  /* An implicit one (a single call) fails as well and leaves nothing. */
  MaRecord *r2 = record(MA_RECORD_CONTACT, "c2", "Bob");
  g_assert_cmpint(storage_record_upsert(fx->st, "e1", r2, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  ma_record_free(r2);

  MaRecord *got = NULL;
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_CONTACT, "c1", &got, &error), ==, 0);
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_CONTACT, "c2", &got, &error), ==, 0);
  GPtrArray *found = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_free);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "ann@x.com", FALSE, found, &error), ==, 0);
  g_assert_cmpuint(found->len, ==, 0);
  GBytes *b = NULL;
  g_assert_cmpint(storage_blob_get(fx->st, sha, &b, &error), ==, 0);

  /* The third commit works again. */
  upsert(fx->st, "e1", record(MA_RECORD_CONTACT, "c3", "Cy"));
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_CONTACT, "c3", &got, &error), ==, 1);
  ma_record_free(got);
  g_ptr_array_unref(found);
}

static void test_disk_full(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  char *big = g_strnfill(256 * 1024, 'z');
  char sha[65];
  /* Inside a transaction: the failing write is TEMPFAIL; nothing of the batch survives. */
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  upsert(fx->st, "e1", record(MA_RECORD_CONTACT, "c1", "Ann"));
  storage_fault_inject_disk_full(fx->st, TRUE);
  int rc = storage_blob_put(fx->st, big, strlen(big), sha, &error);
  g_assert_cmpint(rc, ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  storage_rollback(fx->st);
  /* On its own, too. */
  g_assert_cmpint(storage_blob_put(fx->st, big, strlen(big), sha, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  storage_fault_inject_disk_full(fx->st, FALSE);
  MaRecord *r = NULL;
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_CONTACT, "c1", &r, &error), ==, 0);
  GBytes *b = NULL;
  g_assert_cmpint(storage_blob_get(fx->st, sha, &b, &error), ==, 0);
  /* Space back: the same writes succeed. */
  g_assert_cmpint(storage_blob_put(fx->st, big, strlen(big), sha, &error), ==, 0);
  g_assert_cmpint(storage_blob_get(fx->st, sha, &b, &error), ==, 1);
  g_assert_cmpuint(g_bytes_get_size(b), ==, strlen(big));
  g_bytes_unref(b);
  g_free(big);
}

/* Two handles writing at once from two threads: SQLite serialises them; nothing is lost. */
typedef struct {
  const char *dir;
  int base;
} Writer;

static gpointer writer_thread(gpointer p)
{
  Writer *w = p;
  MaStorage *st = NULL;
  GError *error = NULL;
  g_assert_cmpint(storage_open(w->dir, FALSE, &st, &error), ==, 0);
  for (int i = 0; i < 200; i++) {
    char id[32];
    g_snprintf(id, sizeof id, "c%d", w->base + i);
    MaRecord *r = record(MA_RECORD_CONTACT, id, "x");
    g_assert_cmpint(storage_record_upsert(st, "e1", r, &error), ==, 0);
    g_assert_no_error(error);
    ma_record_free(r);
  }
  storage_close(&st);
  return NULL;
}

static void test_concurrent_writers(Fixture *fx, gconstpointer data)
{
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  Writer a = {fx->dir, 0}, b = {fx->dir, 1000};
  GThread *ta = g_thread_new("a", writer_thread, &a);
  GThread *tb = g_thread_new("b", writer_thread, &b);
  g_thread_join(ta);
  g_thread_join(tb);
  gint64 msgs = 0, acts = 0, recs = 0;
  GError *error = NULL;
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(recs, ==, 400);
}

/* SQLite: exact (reads and rollbacks leave it alone). PostgreSQL: the server's log position, which
 * every commit moves, by any node; it may also move for nothing (a rollback, the server's own
 * maintenance), so only the moves are asserted there. */
/* storage_debug_query: a row's columns joined by '|', NULL empty; an error is an error. */
static void test_debug_query(Fixture *fx, gconstpointer data)
{
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(g_free);
  GError *error = NULL;
  g_assert_cmpint(storage_debug_query(fx->st, "SELECT id, slug, NULL, 7 FROM enterprises", rows, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 1);
  g_assert_cmpstr(rows->pdata[0], ==, "e1|acme||7");
  g_assert_cmpint(storage_debug_query(fx->st, "SELECT nothing FROM no_such_table", rows, &error), ==, -1);
  g_assert_nonnull(error);
  g_clear_error(&error);
  g_assert_cmpuint(rows->len, ==, 1);
}

static void test_data_version(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  gboolean exact = data != ON_PG;
  MaStorage *other = NULL;
  if (exact)
    g_assert_cmpint(storage_open(fx->dir, FALSE, &other, &error), ==, 0);
  else
    g_assert_cmpint(storage_open_backend(&ma_storage_pg_backend, g_getenv("MAILAGENT_TEST_PG"), FALSE, &other, &error), ==, 0);
  gint64 v0 = storage_data_version(fx->st);
  if (exact) g_assert_cmpint(storage_data_version(fx->st), ==, v0);
  /* reads change nothing */
  MaEnterprise *e = NULL;
  g_assert_cmpint(storage_enterprise_get(fx->st, "x", &e, &error), ==, 0);
  if (exact) g_assert_cmpint(storage_data_version(fx->st), ==, v0);
  /* our own commit */
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  gint64 v1 = storage_data_version(fx->st);
  g_assert_cmpint(v1, >, v0);
  if (exact) g_assert_cmpint(storage_data_version(fx->st), ==, v1);
  /* another handle's commit */
  gint64 o0 = storage_data_version(other);
  g_assert_cmpint(storage_setting_set(other, "e1", "k", "v", &error), ==, 0);
  g_assert_cmpint(storage_data_version(other), >, o0);
  gint64 v2 = storage_data_version(fx->st);
  g_assert_cmpint(v2, >, v1);
  if (exact) g_assert_cmpint(storage_data_version(fx->st), ==, v2);
  /* a rolled-back transaction is no change */
  g_assert_cmpint(storage_begin(other, &error), ==, 0);
  g_assert_cmpint(storage_setting_set(other, "e1", "k", "w", &error), ==, 0);
  storage_rollback(other);
  if (exact) g_assert_cmpint(storage_data_version(fx->st), ==, v2);
  gint64 v3 = storage_data_version(fx->st);
  g_assert_cmpint(v3, >=, v2); /* never decreases */
  /* another process's commit (as the CLI's): this test program run again, as a process of its
   * own, commits one setting and exits before the next read (CHILD_COMMIT_ENV, see main). Spawned,
   * not forked alone: a child forked from this threaded process (PostgreSQL's watcher thread) could
   * find an allocator lock held by a thread that does not exist in it and hang before it connects
   * (integration/storage_pg under ASan, twice). SQLite sees the commit at once (the WAL-index
   * header); PostgreSQL's watcher thread within its polling interval: waited for in 10 ms steps, at
   * most 500. */
  g_auto(GStrv) child_env = g_environ_setenv(g_get_environ(), CHILD_COMMIT_ENV,
                                             exact ? fx->dir : g_getenv("MAILAGENT_TEST_PG"), TRUE);
  child_env = g_environ_setenv(child_env, CHILD_COMMIT_BACKEND_ENV, exact ? "sqlite" : "postgresql", TRUE);
  char *child_argv[] = {(char *) "/proc/self/exe", NULL};
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, child_argv, child_env, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error(error);
  g_assert_true(g_spawn_check_wait_status(status, NULL));
  gint64 v4 = storage_data_version(fx->st);
  for (int i = 0; !exact && v4 == v3 && i < 500; i++) {
    g_usleep(10 * 1000);
    v4 = storage_data_version(fx->st);
  }
  g_assert_cmpint(v4, >, v3);
  storage_close(&other);
}

/* ---- enterprises ---------------------------------------------------------------------------- */

static void mark_verified(MaStorage *st, const char *enterprise_id, const char *domain)
{
  GError *error = NULL;
  MaDomain *d = NULL;
  g_assert_cmpint(storage_domain_get(st, enterprise_id, domain, &d, &error), ==, 1);
  g_free(d->status);
  d->status = g_strdup("verified");
  g_assert_cmpint(storage_domain_update(st, d, &error), ==, 0);
  g_assert_no_error(error);
  ma_domain_free(d);
}

/* Claims: unverified ones coexist; the first to verify owns the domain and the others' claims go;
 * a verified claim refuses a second verification; keys follow their claim. */
static void test_domain_claims(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", "shared.example", NULL);
  add_enterprise(fx->st, "e2", "beta", "shared.example", NULL);
  g_assert_cmpint(storage_enterprise_domain_add(fx->st, "e1", "shared.example", &error), ==, 0);
  MaDomain *d = NULL;
  g_assert_cmpint(storage_domain_get(fx->st, "e2", "shared.example", &d, &error), ==, 1);
  g_assert_cmpstr(d->status, ==, "pending");
  g_assert_cmpuint(strlen(d->challenge), ==, 32);
  g_assert_cmpstr(d->return_path, ==, "bounce");
  ma_domain_free(d);

  MaDomainKey k = { .id = "k1", .enterprise_id = "e1", .domain = "shared.example", .selector = "s1",
                    .algorithm = "ed25519", .private_sealed = "v1:x", .public_b64 = "p", .created_at = 5 };
  g_assert_cmpint(storage_domain_key_add(fx->st, &k, &error), ==, 0);
  k.id = "k2";
  g_assert_cmpint(storage_domain_key_add(fx->st, &k, &error), ==, -1); /* same selector */
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  k.domain = "other.example";
  g_assert_cmpint(storage_domain_key_add(fx->st, &k, &error), ==, -1); /* no such claim */
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);

  /* Due for a check at once (next_check_at = creation). */
  GPtrArray *due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_free);
  g_assert_cmpint(storage_domain_due(fx->st, G_MAXINT64, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 2);
  g_ptr_array_set_size(due, 0);

  mark_verified(fx->st, "e2", "shared.example");
  char *owner = NULL;
  g_assert_cmpint(storage_domain_owner(fx->st, "shared.example", &owner, &error), ==, 1);
  g_assert_cmpstr(owner, ==, "e2");
  g_free(owner);
  /* e1's claim and its key went with it. */
  g_assert_cmpint(storage_domain_get(fx->st, "e1", "shared.example", &d, &error), ==, 0);
  GPtrArray *keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
  g_assert_cmpint(storage_domain_key_list(fx->st, "e1", "shared.example", keys, &error), ==, 0);
  g_assert_cmpuint(keys->len, ==, 0);
  g_ptr_array_unref(keys);
  /* Now e1 cannot claim it again, nor verify it. */
  g_assert_cmpint(storage_enterprise_domain_add(fx->st, "e1", "shared.example", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  g_ptr_array_unref(due);
}

static void test_enterprises(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", "Acme.COM", "acme-x1");
  add_enterprise(fx->st, "e2", "beta", "beta.io", "beta-y2");

  MaEnterprise *e = NULL;
  g_assert_cmpint(storage_enterprise_get(fx->st, "e1", &e, &error), ==, 1);
  g_assert_cmpstr(e->slug, ==, "acme");
  g_assert_cmpstr(e->inbound_local, ==, "acme-x1");
  g_assert_cmpuint(e->domains->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(e->domains, 0), ==, "acme.com");
  g_assert_cmpint(e->created_at, ==, 1000);
  ma_enterprise_free(e);
  g_assert_cmpint(storage_enterprise_get(fx->st, "BETA", &e, &error), ==, 1);
  g_assert_cmpstr(e->id, ==, "e2");
  ma_enterprise_free(e);
  g_assert_cmpint(storage_enterprise_get(fx->st, "nope", &e, &error), ==, 0);
  g_assert_null(e);

  /* A domain held verified belongs to its enterprise: another's claim on it is refused. */
  mark_verified(fx->st, "e1", "acme.com");
  mark_verified(fx->st, "e2", "beta.io");

  /* Slug and domain conflicts, with nothing left behind. */
  MaEnterprise dup = {.id = "e3", .slug = "acme", .name = "x"};
  g_assert_cmpint(storage_enterprise_create(fx->st, &dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  dup.slug = "gamma";
  dup.domains = g_ptr_array_new();
  g_ptr_array_add(dup.domains, "gamma.org");
  g_ptr_array_add(dup.domains, "acme.com");
  g_assert_cmpint(storage_enterprise_create(fx->st, &dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  g_ptr_array_unref(dup.domains);
  g_assert_cmpint(storage_enterprise_get(fx->st, "gamma", &e, &error), ==, 0);
  g_assert_cmpint(storage_enterprise_domain_add(fx->st, "e2", "gamma.org", &error), ==, 0);

  /* Domains: add is idempotent for the owner, refused for another enterprise. */
  g_assert_cmpint(storage_enterprise_domain_add(fx->st, "e1", "acme.com", &error), ==, 0);
  g_assert_cmpint(storage_enterprise_domain_add(fx->st, "e1", "acme.de", &error), ==, 0);
  g_assert_cmpint(storage_enterprise_domain_add(fx->st, "e1", "beta.io", &error), ==, -1); /* verified by e2 */
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  g_assert_cmpint(storage_enterprise_domain_remove(fx->st, "e2", "acme.de", &error), ==, 0); /* not e2's */
  g_assert_cmpint(storage_enterprise_domain_remove(fx->st, "e1", "ACME.DE", &error), ==, 1);
  g_assert_cmpint(storage_enterprise_domain_remove(fx->st, "e1", "acme.de", &error), ==, 0);

  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  g_assert_cmpint(storage_enterprise_list(fx->st, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 2);
  e = g_ptr_array_index(list, 1);
  g_assert_cmpstr(e->id, ==, "e2");
  g_assert_cmpuint(e->domains->len, ==, 2);
  g_ptr_array_unref(list);
}

static void test_inbound(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, "acme-x1");
  add_enterprise(fx->st, "e2", "beta", NULL, "beta-y2");
  char *ent = NULL;
  g_assert_cmpint(storage_inbound_lookup(fx->st, "ACME-X1", 5000, &ent, &error), ==, 1);
  g_assert_cmpstr(ent, ==, "e1");
  g_clear_pointer(&ent, g_free);
  g_assert_cmpint(storage_inbound_lookup(fx->st, "nobody", 5000, &ent, &error), ==, 0);
  g_assert_null(ent);

  g_assert_cmpint(storage_inbound_rotate(fx->st, "e1", "acme-z9", 6000, &error), ==, 0);
  g_assert_cmpint(storage_inbound_lookup(fx->st, "acme-x1", 5999, &ent, &error), ==, 1);
  g_clear_pointer(&ent, g_free);
  g_assert_cmpint(storage_inbound_lookup(fx->st, "acme-x1", 6000, &ent, &error), ==, 0);
  g_assert_cmpint(storage_inbound_lookup(fx->st, "acme-z9", 9999999, &ent, &error), ==, 1);
  g_clear_pointer(&ent, g_free);

  GPtrArray *live = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_inbound_list(fx->st, "e1", 5000, live, &error), ==, 0);
  g_assert_cmpuint(live->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(live, 0), ==, "acme-z9");
  g_assert_cmpstr(g_ptr_array_index(live, 1), ==, "acme-x1");
  g_ptr_array_set_size(live, 0);
  g_assert_cmpint(storage_inbound_list(fx->st, "e1", 7000, live, &error), ==, 0);
  g_assert_cmpuint(live->len, ==, 1);
  g_ptr_array_set_size(live, 0);
  g_assert_cmpint(storage_inbound_list(fx->st, "e2", 7000, live, &error), ==, 0);
  g_assert_cmpuint(live->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(live, 0), ==, "beta-y2");
  g_ptr_array_unref(live);

  MaEnterprise *e = NULL;
  g_assert_cmpint(storage_enterprise_get(fx->st, "e1", &e, &error), ==, 1);
  g_assert_cmpstr(e->inbound_local, ==, "acme-z9");
  ma_enterprise_free(e);

  /* Another enterprise's address cannot be taken. */
  g_assert_cmpint(storage_inbound_rotate(fx->st, "e1", "beta-y2", 6000, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  g_assert_cmpint(storage_inbound_lookup(fx->st, "beta-y2", 5000, &ent, &error), ==, 1);
  g_assert_cmpstr(ent, ==, "e2");
  g_free(ent);
}

static void test_employees(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  add_enterprise(fx->st, "e2", "beta", NULL, NULL);
  MaEmployee emp = {.id = "m1", .enterprise_id = "e1", .email = "Ann@Acme.com", .name = "Ann"};
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, 0);
  emp.id = "m2";
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  emp.enterprise_id = "e2"; /* same address in another tenant is fine */
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, 0);
  emp.id = "m3";
  emp.enterprise_id = "nope";
  emp.email = "x@y";
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);

  MaEmployee *got = NULL;
  g_assert_cmpint(storage_employee_find(fx->st, "e1", "ANN@acme.com", &got, &error), ==, 1);
  g_assert_cmpstr(got->id, ==, "m1");
  g_assert_cmpstr(got->email, ==, "ann@acme.com");
  g_assert_cmpstr(got->name, ==, "Ann");
  ma_employee_free(got);
  g_assert_cmpint(storage_employee_find(fx->st, "e1", "m1", &got, &error), ==, 1);
  ma_employee_free(got);
  g_assert_cmpint(storage_employee_find(fx->st, "e1", "m2", &got, &error), ==, 0); /* m2 is e2's */
  g_assert_null(got);

  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_employee_free);
  g_assert_cmpint(storage_employee_list(fx->st, "e2", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpstr(((MaEmployee *)g_ptr_array_index(list, 0))->id, ==, "m2");
  g_ptr_array_unref(list);

  g_assert_cmpint(storage_employee_remove(fx->st, "e2", "m1", &error), ==, 0);
  g_assert_cmpint(storage_employee_remove(fx->st, "e1", "ann@ACME.com", &error), ==, 1);
  g_assert_cmpint(storage_employee_find(fx->st, "e1", "m1", &got, &error), ==, 0);
  g_assert_cmpint(storage_employee_find(fx->st, "e2", "m2", &got, &error), ==, 1);
  ma_employee_free(got);
}

static void test_apikeys(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  MaApiKey admin = {.id = "k0", .label = "admin", .prefix = "ma_ad", .created_at = 10};
  MaApiKey k1 = {.id = "k1", .enterprise_id = "e1", .label = "crm", .prefix = "ma_k1", .created_at = 20};
  g_assert_cmpint(storage_apikey_add(fx->st, &admin, "hash0", &error), ==, 0);
  g_assert_cmpint(storage_apikey_add(fx->st, &k1, "hash1", &error), ==, 0);
  MaApiKey dup = {.id = "k2", .enterprise_id = "e1", .label = "dup"};
  g_assert_cmpint(storage_apikey_add(fx->st, &dup, "hash1", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);

  MaApiKey *k = NULL;
  g_assert_cmpint(storage_apikey_find(fx->st, "hash1", &k, &error), ==, 1);
  g_assert_cmpstr(k->id, ==, "k1");
  g_assert_cmpstr(k->enterprise_id, ==, "e1");
  g_assert_cmpstr(k->prefix, ==, "ma_k1");
  g_assert_cmpint(k->revoked_at, ==, 0);
  ma_api_key_free(k);
  g_assert_cmpint(storage_apikey_find(fx->st, "hash0", &k, &error), ==, 1);
  g_assert_null(k->enterprise_id);
  ma_api_key_free(k);

  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_api_key_free);
  g_assert_cmpint(storage_apikey_list(fx->st, NULL, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpstr(((MaApiKey *)g_ptr_array_index(list, 0))->id, ==, "k0");
  g_ptr_array_set_size(list, 0);
  g_assert_cmpint(storage_apikey_list(fx->st, "e1", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_ptr_array_unref(list);

  g_assert_cmpint(storage_apikey_revoke(fx->st, "k1", 30, &error), ==, 1);
  g_assert_cmpint(storage_apikey_revoke(fx->st, "k1", 31, &error), ==, 0);
  g_assert_cmpint(storage_apikey_revoke(fx->st, "zz", 31, &error), ==, 0);
  g_assert_cmpint(storage_apikey_find(fx->st, "hash1", &k, &error), ==, 0);
  g_assert_cmpint(storage_apikey_get(fx->st, "k1", &k, &error), ==, 1);
  g_assert_cmpint(k->revoked_at, ==, 30);
  ma_api_key_free(k);
}

/* The installation's shared values are set once: a second value (another node's key check) does
 * not replace the first, and two handles setting one at the same moment both read back the same
 * winner. */
typedef struct {
  MaStorage *st;
  const char *value;
  int rc;
  char *stored;
} InstallationRacer;

static gpointer installation_racer(gpointer p)
{
  InstallationRacer *r = p;
  GError *error = NULL;
  r->rc = storage_installation_set_once(r->st, "race", r->value, &r->stored, &error);
  g_assert_no_error(error);
  return NULL;
}

static void test_installation(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_autofree char *value = NULL, *stored = NULL;
  g_assert_cmpint(storage_installation_get(fx->st, "master_key_check", &value, &error), ==, 0);
  g_assert_null(value);
  g_assert_cmpint(storage_installation_set_once(fx->st, "master_key_check", "A", &stored, &error), ==, 1);
  g_assert_cmpstr(stored, ==, "A");
  g_clear_pointer(&stored, g_free);
  g_assert_cmpint(storage_installation_set_once(fx->st, "master_key_check", "B", &stored, &error), ==, 0);
  g_assert_cmpstr(stored, ==, "A");
  g_assert_cmpint(storage_installation_get(fx->st, "master_key_check", &value, &error), ==, 1);
  g_assert_cmpstr(value, ==, "A");
  g_assert_no_error(error);

  MaStorage *second = testutil_storage_open_again(fx->dir, data);
  InstallationRacer a = {.st = fx->st, .value = "node-a"};
  InstallationRacer b = {.st = second, .value = "node-b"};
  testutil_run_together(installation_racer, &a, &b);
  g_assert_cmpint(a.rc + b.rc, ==, 1); /* one stored it */
  g_assert_cmpstr(a.stored, ==, b.stored);
  g_assert_cmpstr(a.stored, ==, a.rc == 1 ? "node-a" : "node-b");
  g_free(a.stored);
  g_free(b.stored);
  storage_close(&second);
}

static void test_settings_and_rules(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  add_enterprise(fx->st, "e2", "beta", NULL, NULL);
  char *v = NULL;
  g_assert_cmpint(storage_setting_get(fx->st, "e1", "archive_internal", &v, &error), ==, 0);
  g_assert_null(v);
  g_assert_cmpint(storage_setting_set(fx->st, "e1", "archive_internal", "true", &error), ==, 0);
  g_assert_cmpint(storage_setting_set(fx->st, "e1", "archive_internal", "false", &error), ==, 0);
  g_assert_cmpint(storage_setting_set(fx->st, "e1", "capture", "full", &error), ==, 0);
  g_assert_cmpint(storage_setting_get(fx->st, "e1", "archive_internal", &v, &error), ==, 1);
  g_assert_cmpstr(v, ==, "false");
  g_free(v);
  g_assert_cmpint(storage_setting_get(fx->st, "e2", "archive_internal", &v, &error), ==, 0);
  g_assert_cmpint(storage_setting_set(fx->st, "nope", "k", "v", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  GHashTable *all = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  g_assert_cmpint(storage_setting_list(fx->st, "e1", all, &error), ==, 0);
  g_assert_cmpuint(g_hash_table_size(all), ==, 2);
  g_assert_cmpstr(g_hash_table_lookup(all, "capture"), ==, "full");
  g_hash_table_remove_all(all);
  g_assert_cmpint(storage_setting_list(fx->st, "e2", all, &error), ==, 0);
  g_assert_cmpuint(g_hash_table_size(all), ==, 0);
  g_hash_table_unref(all);
  /* NULL removes the key (back to the caller's default). */
  g_assert_cmpint(storage_setting_set(fx->st, "e1", "capture", NULL, &error), ==, 0);
  g_assert_cmpint(storage_setting_get(fx->st, "e1", "capture", &v, &error), ==, 0);
  g_assert_null(v);
  g_assert_cmpint(storage_setting_get(fx->st, "e1", "archive_internal", &v, &error), ==, 1);
  g_free(v);

  char *json = NULL;
  g_assert_cmpint(storage_rules_get(fx->st, "e1", &json, &error), ==, 0);
  g_assert_cmpstr(json, ==, "[]");
  g_free(json);
  g_assert_cmpint(storage_rules_put(fx->st, "e1", "[{\"name\":\"a\"}]", &error), ==, 0);
  g_assert_cmpint(storage_rules_put(fx->st, "e1", "[{\"name\":\"b\"}]", &error), ==, 0);
  g_assert_cmpint(storage_rules_get(fx->st, "e1", &json, &error), ==, 0);
  g_assert_cmpstr(json, ==, "[{\"name\":\"b\"}]");
  g_free(json);
  g_assert_cmpint(storage_rules_get(fx->st, "e2", &json, &error), ==, 0);
  g_assert_cmpstr(json, ==, "[]");
  g_free(json);
}

/* ---- records -------------------------------------------------------------------------------- */

static void seed_records(MaStorage *st, const char *ent)
{
  MaRecord *acc = record(MA_RECORD_ACCOUNT, "a1", "Globex");
  g_ptr_array_add(acc->domains, g_strdup("globex.com"));
  g_ptr_array_add(acc->emails, g_strdup("info@globex.com"));
  g_free(acc->attributes_json);
  acc->attributes_json = g_strdup("{\"tier\":\"gold\"}");
  upsert(st, ent, acc);
  MaRecord *acc2 = record(MA_RECORD_ACCOUNT, "a2", "Globex EU");
  g_ptr_array_add(acc2->domains, g_strdup("globex.com"));
  upsert(st, ent, acc2);
  MaRecord *c = record(MA_RECORD_CONTACT, "c1", "Hank");
  g_ptr_array_add(c->emails, g_strdup("Hank@Globex.com"));
  g_ptr_array_add(c->emails, g_strdup("hank+crm@gmail.com"));
  c->account_id = g_strdup("a1");
  upsert(st, ent, c);
  MaRecord *l = record(MA_RECORD_LEAD, "l1", "Hank lead");
  g_ptr_array_add(l->emails, g_strdup("hank@globex.com"));
  upsert(st, ent, l);
  MaRecord *o1 = record(MA_RECORD_OPPORTUNITY, "o1", "Deal");
  o1->account_id = g_strdup("a1");
  o1->stage = MA_STAGE_OPEN;
  g_ptr_array_add(o1->contact_ids, g_strdup("c1"));
  upsert(st, ent, o1);
  MaRecord *o2 = record(MA_RECORD_OPPORTUNITY, "o2", "Lost deal");
  o2->account_id = g_strdup("a1");
  o2->stage = MA_STAGE_LOST;
  g_ptr_array_add(o2->contact_ids, g_strdup("c1"));
  upsert(st, ent, o2);
}

static guint count_and_free(GPtrArray *a)
{
  guint n = a->len;
  g_ptr_array_set_size(a, 0);
  return n;
}

static void test_records(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  add_enterprise(fx->st, "e2", "beta", NULL, NULL);
  seed_records(fx->st, "e1");

  MaRecord *r = NULL;
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_ACCOUNT, "a1", &r, &error), ==, 1);
  g_assert_cmpstr(r->name, ==, "Globex");
  g_assert_cmpuint(r->domains->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(r->domains, 0), ==, "globex.com");
  g_assert_cmpstr(r->attributes_json, ==, "{\"tier\":\"gold\"}");
  ma_record_free(r);
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_CONTACT, "c1", &r, &error), ==, 1);
  g_assert_cmpuint(r->emails->len, ==, 2);
  g_assert_cmpstr(r->account_id, ==, "a1");
  ma_record_free(r);
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_OPPORTUNITY, "o2", &r, &error), ==, 1);
  g_assert_cmpint(r->stage, ==, MA_STAGE_LOST);
  g_assert_cmpuint(r->contact_ids->len, ==, 1);
  ma_record_free(r);
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_LEAD, "c1", &r, &error), ==, 0);

  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_free);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank@globex.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 2); /* contact and lead */
  g_assert_cmpint(((MaRecord *)g_ptr_array_index(out, 0))->type, ==, MA_RECORD_CONTACT);
  g_assert_cmpint(((MaRecord *)g_ptr_array_index(out, 1))->type, ==, MA_RECORD_LEAD);
  /* a look-up carries what matching reads (the contact's account), not the rest of the record */
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->id, ==, "c1");
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->account_id, ==, "a1");
  g_assert_null(((MaRecord *)g_ptr_array_index(out, 1))->account_id);
  g_assert_null(((MaRecord *)g_ptr_array_index(out, 0))->name);
  g_assert_cmpuint(((MaRecord *)g_ptr_array_index(out, 0))->emails->len, ==, 0);
  count_and_free(out);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "info@globex.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 1); /* the account listing the address */
  /* +tag: exact without ignore_plus; both sides stripped with it */
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank@gmail.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 0);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank@gmail.com", TRUE, out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 1);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank+other@gmail.com", TRUE, out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 1);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank+crm@gmail.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 1);
  /* ignoring +tags, a record reached through two of its addresses comes once, and the records
   * come by type then id whatever order their addresses have (contact z1 through zed+a@ and
   * zed+b@, contact y1 through zed@, lead l9 through zed+c@) */
  add_enterprise(fx->st, "e3", "gamma", NULL, NULL); /* its own: the counts below are e1's */
  MaRecord *z1 = record(MA_RECORD_CONTACT, "z1", "Zed");
  g_ptr_array_add(z1->emails, g_strdup("zed+b@x.com"));
  g_ptr_array_add(z1->emails, g_strdup("zed+a@x.com"));
  upsert(fx->st, "e3", z1);
  MaRecord *l9 = record(MA_RECORD_LEAD, "l9", "Zed lead");
  g_ptr_array_add(l9->emails, g_strdup("zed+c@x.com"));
  upsert(fx->st, "e3", l9);
  MaRecord *y1 = record(MA_RECORD_CONTACT, "y1", "Zed too");
  g_ptr_array_add(y1->emails, g_strdup("zed@x.com"));
  upsert(fx->st, "e3", y1);
  g_assert_cmpint(storage_records_by_email(fx->st, "e3", "zed+q@x.com", TRUE, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 3);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->id, ==, "y1");
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 1))->id, ==, "z1");
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 2))->id, ==, "l9");
  count_and_free(out);
  g_assert_cmpint(storage_records_by_email(fx->st, "e3", "zed+a@x.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->id, ==, "z1");
  count_and_free(out);

  g_assert_cmpint(storage_accounts_by_domain(fx->st, "e1", "GLOBEX.com", out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 2);
  g_assert_cmpint(storage_opportunities_open_for_contact(fx->st, "e1", "c1", out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->id, ==, "o1");
  g_assert_cmpint(((MaRecord *)g_ptr_array_index(out, 0))->type, ==, MA_RECORD_OPPORTUNITY);
  g_assert_cmpint(((MaRecord *)g_ptr_array_index(out, 0))->stage, ==, MA_STAGE_OPEN);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->account_id, ==, "a1");
  count_and_free(out);
  g_assert_cmpint(storage_opportunities_open_for_account(fx->st, "e1", "a1", out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->id, ==, "o1");
  g_assert_cmpint(((MaRecord *)g_ptr_array_index(out, 0))->stage, ==, MA_STAGE_OPEN);
  count_and_free(out);

  /* Paging by id. */
  g_assert_cmpint(storage_record_list(fx->st, "e1", MA_RECORD_ACCOUNT, NULL, 1, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->id, ==, "a1");
  count_and_free(out);
  g_assert_cmpint(storage_record_list(fx->st, "e1", MA_RECORD_ACCOUNT, "a1", 10, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->id, ==, "a2");
  count_and_free(out);

  /* Upsert replaces the indexes: the old address no longer matches; stage change closes. */
  MaRecord *c = record(MA_RECORD_CONTACT, "c1", "Hank H.");
  g_ptr_array_add(c->emails, g_strdup("hank@newco.com"));
  upsert(fx->st, "e1", c);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank@globex.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 1); /* only the lead */
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank@newco.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_null(((MaRecord *)g_ptr_array_index(out, 0))->account_id); /* the new c1 names none */
  count_and_free(out);
  /* the look-ups' copies of account_id and stage follow the record */
  MaRecord *c_moved = record(MA_RECORD_CONTACT, "c1", "Hank H.");
  g_ptr_array_add(c_moved->emails, g_strdup("hank@newco.com"));
  c_moved->account_id = g_strdup("a2");
  upsert(fx->st, "e1", c_moved);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank@newco.com", TRUE, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->account_id, ==, "a2");
  count_and_free(out);
  MaRecord *o1_moved = record(MA_RECORD_OPPORTUNITY, "o1", "Deal");
  o1_moved->stage = MA_STAGE_NONE;
  o1_moved->account_id = g_strdup("a2");
  g_ptr_array_add(o1_moved->contact_ids, g_strdup("c1"));
  upsert(fx->st, "e1", o1_moved);
  g_assert_cmpint(storage_opportunities_open_for_contact(fx->st, "e1", "c1", out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 1);
  g_assert_cmpint(((MaRecord *)g_ptr_array_index(out, 0))->stage, ==, MA_STAGE_NONE);
  g_assert_cmpstr(((MaRecord *)g_ptr_array_index(out, 0))->account_id, ==, "a2");
  count_and_free(out);
  g_assert_cmpint(storage_opportunities_open_for_account(fx->st, "e1", "a1", out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 0);
  g_assert_cmpint(storage_opportunities_open_for_account(fx->st, "e1", "a2", out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 1);
  MaRecord *o1 = record(MA_RECORD_OPPORTUNITY, "o1", "Deal");
  o1->stage = MA_STAGE_WON;
  g_ptr_array_add(o1->contact_ids, g_strdup("c1"));
  upsert(fx->st, "e1", o1);
  g_assert_cmpint(storage_opportunities_open_for_contact(fx->st, "e1", "c1", out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 0);

  /* Delete removes the record and its indexes. */
  g_assert_cmpint(storage_record_delete(fx->st, "e1", MA_RECORD_ACCOUNT, "a2", &error), ==, 1);
  g_assert_cmpint(storage_record_delete(fx->st, "e1", MA_RECORD_ACCOUNT, "a2", &error), ==, 0);
  g_assert_cmpint(storage_accounts_by_domain(fx->st, "e1", "globex.com", out, &error), ==, 0);
  g_assert_cmpuint(count_and_free(out), ==, 1);

  gint64 msgs = -1, acts = -1, recs = -1;
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(msgs, ==, 0);
  g_assert_cmpint(acts, ==, 0);
  g_assert_cmpint(recs, ==, 5 + 3); /* e1's and the +tag case's in e3 */
  g_ptr_array_unref(out);
}

static void test_records_tenant_isolation(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  add_enterprise(fx->st, "e2", "beta", NULL, NULL);
  seed_records(fx->st, "e1");
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_free);
  MaRecord *r = NULL;
  g_assert_cmpint(storage_record_get(fx->st, "e2", MA_RECORD_ACCOUNT, "a1", &r, &error), ==, 0);
  g_assert_cmpint(storage_records_by_email(fx->st, "e2", "hank@globex.com", FALSE, out, &error), ==, 0);
  g_assert_cmpint(storage_records_by_email(fx->st, "e2", "hank@gmail.com", TRUE, out, &error), ==, 0);
  g_assert_cmpint(storage_accounts_by_domain(fx->st, "e2", "globex.com", out, &error), ==, 0);
  g_assert_cmpint(storage_opportunities_open_for_contact(fx->st, "e2", "c1", out, &error), ==, 0);
  g_assert_cmpint(storage_opportunities_open_for_account(fx->st, "e2", "a1", out, &error), ==, 0);
  g_assert_cmpint(storage_record_list(fx->st, "e2", MA_RECORD_CONTACT, NULL, 100, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 0);
  /* The same CRM ids in e2 are separate records; deleting in e2 leaves e1's. */
  seed_records(fx->st, "e2");
  g_assert_cmpint(storage_record_delete(fx->st, "e2", MA_RECORD_CONTACT, "c1", &error), ==, 1);
  g_assert_cmpint(storage_record_get(fx->st, "e1", MA_RECORD_CONTACT, "c1", &r, &error), ==, 1);
  ma_record_free(r);
  g_assert_cmpint(storage_records_by_email(fx->st, "e1", "hank@globex.com", FALSE, out, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 2);
  g_ptr_array_unref(out);
}

/* ---- blobs ---------------------------------------------------------------------------------- */

/* A blob's source for storage_blob_put_stream: memory handed out in pieces of at most `piece`
 * bytes (short reads, as a file or a decoder gives them), counting the calls. */
typedef struct {
  const guint8 *data;
  gsize len, pos, piece;
  guint calls;
} PieceReader;

static gssize piece_read(void *ctx, guint8 *buf, gsize cap, GError **error)
{
  (void)error;
  PieceReader *r = ctx;
  r->calls++;
  gsize n = MIN(MIN(cap, r->piece), r->len - r->pos);
  memcpy(buf, r->data + r->pos, n);
  r->pos += n;
  return (gssize)n;
}

static gssize failing_read(void *ctx, guint8 *buf, gsize cap, GError **error)
{
  (void)ctx;
  (void)buf;
  (void)cap;
  g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "the source failed");
  return -1;
}

/* Streamed puts: the bytes round-trip whatever the pieces, the one-shot put of the same bytes
 * finds them (same digest, same row), an existing blob is not read again, and a source that is
 * not what was promised (short, long, other bytes, failing) stores nothing. */
static void test_blobs_streamed(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  gsize len = 3 * 1024 * 1024 + 4321; /* over a PostgreSQL chunk and many SQLite ones */
  guint8 *big = g_malloc(len);
  for (gsize i = 0; i < len; i++) big[i] = (guint8)(i * 7 + (i >> 12));
  char sha[65], again[65];
  ma_sha256_hex(big, len, sha);
  PieceReader r = {big, len, 0, 70001, 0};
  g_assert_cmpint(storage_blob_put_stream(fx->st, sha, len, piece_read, &r, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpuint(r.pos, ==, len);
  GBytes *b = NULL;
  g_assert_cmpint(storage_blob_get(fx->st, sha, &b, &error), ==, 1);
  g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), big, len);
  g_bytes_unref(b);
  g_assert_cmpint(storage_blob_put(fx->st, big, len, again, &error), ==, 0);
  g_assert_cmpstr(again, ==, sha);
  PieceReader unread = {big, len, 0, len, 0};
  g_assert_cmpint(storage_blob_put_stream(fx->st, sha, len, piece_read, &unread, &error), ==, 0);
  g_assert_cmpuint(unread.calls, ==, 0);

  /* the empty blob and a small one */
  char empty[65];
  ma_sha256_hex("", 0, empty);
  PieceReader none = {big, 0, 0, 1, 0};
  g_assert_cmpint(storage_blob_put_stream(fx->st, empty, 0, piece_read, &none, &error), ==, 0);
  g_assert_cmpint(storage_blob_get(fx->st, empty, &b, &error), ==, 1);
  g_assert_cmpuint(g_bytes_get_size(b), ==, 0);
  g_bytes_unref(b);
  char small[65];
  ma_sha256_hex(big + 5, 11, small);
  PieceReader one = {big + 5, 11, 0, 1, 0};
  g_assert_cmpint(storage_blob_put_stream(fx->st, small, 11, piece_read, &one, &error), ==, 0);
  g_assert_cmpint(storage_blob_get(fx->st, small, &b, &error), ==, 1);
  g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), big + 5, 11);
  g_bytes_unref(b);

  /* sources that are not what was promised: nothing is stored */
  big[len / 2] ^= 0x5a;
  char other[65];
  ma_sha256_hex(big, len, other);
  big[len / 2] ^= 0x5a;
  PieceReader wrong = {big, len, 0, 65536, 0};
  g_assert_cmpint(storage_blob_put_stream(fx->st, other, len, piece_read, &wrong, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  PieceReader shorter = {big, len - 1, 0, 65536, 0};
  g_assert_cmpint(storage_blob_put_stream(fx->st, other, len, piece_read, &shorter, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  PieceReader longer = {big, len, 0, 65536, 0};
  g_assert_cmpint(storage_blob_put_stream(fx->st, other, len - 1, piece_read, &longer, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_cmpint(storage_blob_put_stream(fx->st, other, len, failing_read, NULL, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  g_assert_cmpint(storage_blob_get(fx->st, other, &b, &error), ==, 0);
  g_assert_null(b);
  g_free(big);
}

static void test_blobs(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  char sha1[65], sha2[65];
  g_assert_cmpint(storage_blob_put(fx->st, "abc", 3, sha1, &error), ==, 0);
  g_assert_cmpstr(sha1, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  g_assert_cmpint(storage_blob_put(fx->st, "abc", 3, sha2, &error), ==, 0); /* dedup */
  g_assert_cmpstr(sha1, ==, sha2);
  char sha0[65];
  g_assert_cmpint(storage_blob_put(fx->st, "", 0, sha0, &error), ==, 0);
  GBytes *b = NULL;
  g_assert_cmpint(storage_blob_get(fx->st, sha1, &b, &error), ==, 1);
  gsize len = 0;
  const char *p = g_bytes_get_data(b, &len);
  g_assert_cmpuint(len, ==, 3);
  g_assert_cmpmem(p, len, "abc", 3);
  g_bytes_unref(b);
  g_assert_cmpint(storage_blob_get(fx->st, sha0, &b, &error), ==, 1);
  g_assert_cmpuint(g_bytes_get_size(b), ==, 0);
  g_bytes_unref(b);
  g_assert_cmpint(storage_blob_get(fx->st, "00", &b, &error), ==, 0);
  g_assert_null(b);

  /* A large blob (streamed in chunks both ways) round-trips byte for byte, once. */
  gsize big_len = 2 * 1024 * 1024 + 777;
  guint8 *big = g_malloc(big_len);
  for (gsize i = 0; i < big_len; i++) big[i] = (guint8)(i * 13 + (i >> 10));
  char big_sha[65], again[65];
  g_assert_cmpint(storage_blob_put(fx->st, big, big_len, big_sha, &error), ==, 0);
  g_assert_cmpint(storage_blob_put(fx->st, big, big_len, again, &error), ==, 0);
  g_assert_cmpstr(big_sha, ==, again);
  g_assert_cmpint(storage_blob_get(fx->st, big_sha, &b, &error), ==, 1);
  g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), big, big_len);
  g_bytes_unref(b);
  /* ...and a failed commit leaves no trace of another one. */
  big[0] ^= 0xff;
  storage_fault_inject_commit_failures(fx->st, 1);
  g_assert_cmpint(storage_blob_put(fx->st, big, big_len, again, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  g_assert_cmpint(storage_blob_get(fx->st, again, &b, &error), ==, 0);
  g_free(big);

  /* Many blobs in one transaction (one commit). */
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  for (int i = 0; i < 200; i++) {
    char buf[32], sha[65];
    g_snprintf(buf, sizeof buf, "blob %d", i);
    g_assert_cmpint(storage_blob_put(fx->st, buf, strlen(buf), sha, &error), ==, 0);
  }
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, "blob 199", 8, sha, &error), ==, 0);
  g_assert_cmpint(storage_blob_get(fx->st, sha, &b, &error), ==, 1);
  g_bytes_unref(b);
}

/* OAuth2 grants: compare-and-set rotation (the loser learns it), a provider that sends no new
 * refresh token keeps the old one, revocation; states: single use, expiry, looked up without use. */
static void test_oauth2(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  MaOAuth2Grant g = {.owner = "mailbox:m1", .enterprise_id = "e1", .provider = "google", .access_sealed = "a1",
                     .access_expires_at = 100, .refresh_sealed = "r1", .updated_at = 10};
  g_assert_cmpint(storage_oauth2_grant_put(fx->st, &g, &error), ==, 0);
  g.enterprise_id = "nope";
  g_assert_cmpint(storage_oauth2_grant_put(fx->st, &g, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_autoptr(MaOAuth2Grant) got = NULL;
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:m1", &got, &error), ==, 1);
  g_assert_cmpint(got->generation, ==, 1);
  g_assert_cmpstr(got->refresh_sealed, ==, "r1");
  /* two refreshers read generation 1: the first wins, the second is told to read again */
  g_assert_cmpint(storage_oauth2_grant_rotate(fx->st, "mailbox:m1", 1, "a2", 200, "r2", 20, &error), ==, 1);
  g_assert_cmpint(storage_oauth2_grant_rotate(fx->st, "mailbox:m1", 1, "a3", 300, "r3", 30, &error), ==, 0);
  g_assert_cmpint(storage_oauth2_grant_rotate(fx->st, "mailbox:m1", 2, "a4", 400, NULL, 40, &error), ==, 1);
  g_clear_pointer(&got, ma_oauth2_grant_free);
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:m1", &got, &error), ==, 1);
  g_assert_cmpstr(got->access_sealed, ==, "a4");
  g_assert_cmpstr(got->refresh_sealed, ==, "r2"); /* no new refresh token: the old one stays */
  g_assert_cmpint(got->generation, ==, 3);
  g_assert_cmpint(storage_oauth2_grant_revoke(fx->st, "mailbox:m1", 50, &error), ==, 0);
  g_clear_pointer(&got, ma_oauth2_grant_free);
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:m1", &got, &error), ==, 1);
  g_assert_cmpstr(got->state, ==, "revoked");
  g_assert_null(got->access_sealed);
  g_clear_pointer(&got, ma_oauth2_grant_free);
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:none", &got, &error), ==, 0);

  g_assert_cmpint(storage_oauth2_state_add(fx->st, "s1", "mailbox:m1", "e1", "v1", 1000, &error), ==, 0);
  char *owner = NULL, *verifier = NULL, *ent = NULL;
  g_assert_cmpint(storage_oauth2_state_find(fx->st, "s1", 999, &owner, &ent, &error), ==, 1);
  g_assert_cmpstr(owner, ==, "mailbox:m1");
  g_assert_cmpstr(ent, ==, "e1");
  g_clear_pointer(&owner, g_free);
  g_clear_pointer(&ent, g_free);
  g_assert_cmpint(storage_oauth2_state_take(fx->st, "s1", 1000, &owner, &verifier, &error), ==, 0); /* expired */
  g_assert_cmpint(storage_oauth2_state_take(fx->st, "s1", 999, &owner, &verifier, &error), ==, 1);
  g_assert_cmpstr(verifier, ==, "v1");
  g_clear_pointer(&owner, g_free);
  g_clear_pointer(&verifier, g_free);
  g_assert_cmpint(storage_oauth2_state_take(fx->st, "s1", 999, &owner, &verifier, &error), ==, 0); /* used */
  g_assert_cmpint(storage_oauth2_state_find(fx->st, "s1", 999, &owner, &ent, &error), ==, 0);
  g_assert_no_error(error);
}

/* The audit log: newest first in the order of writing, paged by seq, filtered by enterprise; an
 * entry written inside a rolled-back transaction is gone with it. */
static void test_audit(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  add_enterprise(fx->st, "e1", "acme", NULL, NULL);
  const char *ents[] = {"e1", NULL, "e1", "e1"};
  for (int i = 0; i < 4; i++) {
    g_autofree char *action = g_strdup_printf("action.%d", i);
    MaAuditEntry e = {.enterprise_id = (char *)ents[i], .actor = "admin", .action = action, .target = "t", .at = 5};
    g_assert_cmpint(storage_audit_add(fx->st, &e, &error), ==, 0);
  }
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  MaAuditEntry lost = {.enterprise_id = "e1", .actor = "admin", .action = "lost", .at = 6};
  g_assert_cmpint(storage_audit_add(fx->st, &lost, &error), ==, 0);
  storage_rollback(fx->st);
  g_autoptr(GPtrArray) page = g_ptr_array_new_with_free_func((GDestroyNotify)ma_audit_entry_free);
  g_assert_cmpint(storage_audit_list(fx->st, NULL, 0, 0, page, &error), ==, 0);
  g_assert_cmpuint(page->len, ==, 4);
  g_assert_cmpstr(((MaAuditEntry *)page->pdata[0])->action, ==, "action.3");
  gint64 third = ((MaAuditEntry *)page->pdata[1])->seq;
  g_ptr_array_set_size(page, 0);
  g_assert_cmpint(storage_audit_list(fx->st, "e1", third, 10, page, &error), ==, 0);
  g_assert_cmpuint(page->len, ==, 1); /* action.1 is the admin's own, not e1's */
  g_assert_cmpstr(((MaAuditEntry *)page->pdata[0])->action, ==, "action.0");
  g_assert_no_error(error);
}

/* PostgreSQL: the migrations are recorded once each, a second open (another node starting)
 * applies nothing, and the SQLSTATE mapping gives the same error codes as SQLite. */
static void test_pg_migrations(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  int version = storage_schema_version(fx->st);
  g_assert_cmpint(version, >=, 1);
  MaStorage *second = NULL;
  g_assert_cmpint(storage_open_backend(&ma_storage_pg_backend, g_getenv("MAILAGENT_TEST_PG"), FALSE, &second, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(storage_schema_version(second), ==, version);
  PGconn *c = PQconnectdb(g_getenv("MAILAGENT_TEST_PG"));
  PGresult *r = PQexec(c, "SELECT count(*), count(DISTINCT version) FROM schema_migrations");
  g_assert_cmpstr(PQgetvalue(r, 0, 0), ==, PQgetvalue(r, 0, 1));
  PQclear(r);
  PQfinish(c);
  /* the tenant version moves with every tenant write, seen from the other connection too */
  gint64 before = 0, after = 0;
  g_assert_cmpint(storage_tenant_version(second, &before, &error), ==, 0);
  add_enterprise(fx->st, "e1", "acme", NULL, "acme-x1");
  g_assert_cmpint(storage_tenant_version(second, &after, &error), ==, 0);
  g_assert_cmpint(after, >, before);
  storage_close(&second);
}

static void test_pg_skipped(void)
{
  g_test_skip("MAILAGENT_TEST_PG is not set (integration/storage_pg runs these against a real PostgreSQL)");
}

static void test_pg_refuses_password(void)
{
  GError *error = NULL;
  MaStorage *st = NULL;
  g_assert_cmpint(storage_open_backend(&ma_storage_pg_backend, "host=127.0.0.1 dbname=x password=secret", TRUE, &st,
                                       &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "must not hold the password"));
  g_assert_null(strstr(error->message, "secret"));
  g_clear_error(&error);
}

/* Both backends fill every function of the table, so PostgreSQL can be selected (with a conninfo). */
static void test_pg_selectable(void)
{
  GError *error = NULL;
  guint filled = 0, total = 0;
  storage_backend_coverage(&ma_storage_pg_backend, &filled, &total);
  g_assert_cmpuint(filled, ==, total);
  storage_backend_coverage(&ma_storage_sqlite_backend, &filled, &total);
  g_assert_cmpuint(filled, ==, total);
  g_assert_cmpint(storage_select_backend("postgresql", NULL, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_cmpint(storage_select_backend("postgresql", "host=127.0.0.1", &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(storage_select_backend("oracle", NULL, &error), ==, -1);
  g_clear_error(&error);
  g_assert_cmpint(storage_select_backend("sqlite", NULL, &error), ==, 0);
}

/* The other process of test_data_version: commits one setting through a handle of its own on the
 * database CHILD_COMMIT_ENV names (a data directory, or PostgreSQL's conninfo) and exits: 0, or 2
 * when it could not. */
static int child_commit(const char *target, const char *backend)
{
  MaStorage *child = NULL;
  int rc = g_strcmp0(backend, "postgresql") == 0
               ? storage_open_backend(&ma_storage_pg_backend, target, FALSE, &child, NULL)
               : storage_open(target, FALSE, &child, NULL);
  if (rc < 0 || storage_setting_set(child, "e1", "k", "from-child", NULL) < 0) return 2;
  storage_close(&child);
  return 0;
}

int main(int argc, char **argv)
{
  if (g_getenv(CHILD_COMMIT_ENV)) return child_commit(g_getenv(CHILD_COMMIT_ENV), g_getenv(CHILD_COMMIT_BACKEND_ENV));
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fx_setup, fn, fx_teardown)
  g_test_add_func("/storage/open/missing", test_open_missing);
  g_test_add_func("/storage/migrations/partial", test_migrations_partial);
  ADD("/storage/migrations/fresh-and-existing", test_migrations_fresh_and_existing);
  ADD("/storage/migrations/upgrade", test_migrations_upgrade);
  ADD("/storage/query-plans", test_query_plans);
  ADD("/storage/debug-query", test_debug_query);
  ADD("/storage/transactions", test_transactions);
  ADD("/storage/transactions/batch", test_transactions_batch);
  ADD("/storage/fault-injection", test_fault_injection);
  ADD("/storage/data-version", test_data_version);
  ADD("/storage/fault/disk-full", test_disk_full);
  ADD("/storage/concurrent-writers", test_concurrent_writers);
  ADD("/storage/enterprises", test_enterprises);
  ADD("/storage/domain-claims", test_domain_claims);
  ADD("/storage/inbound", test_inbound);
  ADD("/storage/employees", test_employees);
  ADD("/storage/apikeys", test_apikeys);
  ADD("/storage/settings-rules", test_settings_and_rules);
  ADD("/storage/installation", test_installation);
  ADD("/storage/records", test_records);
  ADD("/storage/records/tenant-isolation", test_records_tenant_isolation);
  ADD("/storage/blobs", test_blobs);
  ADD("/storage/blobs/streamed", test_blobs_streamed);
  ADD("/storage/oauth2", test_oauth2);
  ADD("/storage/audit", test_audit);
  /* PostgreSQL: the tests whose functions its backend implements so far (storage_pg_backend.c) */
#define ADD_PG(path, fn) g_test_add("/storage/postgresql" path, Fixture, ON_PG, fx_setup, fn, fx_teardown)
  if (g_getenv("MAILAGENT_TEST_PG")) {
    ADD_PG("/migrations", test_pg_migrations);
    ADD_PG("/transactions", test_transactions);
    ADD_PG("/debug-query", test_debug_query);
    ADD_PG("/transactions-batch", test_transactions_batch);
    ADD_PG("/inbound", test_inbound);
    ADD_PG("/employees", test_employees);
    ADD_PG("/apikeys", test_apikeys);
    ADD_PG("/settings-rules", test_settings_and_rules);
    ADD_PG("/installation", test_installation);
    ADD_PG("/records", test_records);
    ADD_PG("/records-tenant-isolation", test_records_tenant_isolation);
    ADD_PG("/blobs", test_blobs);
    ADD_PG("/blobs/streamed", test_blobs_streamed);
    ADD_PG("/fault-injection", test_fault_injection);
    ADD_PG("/oauth2", test_oauth2);
    ADD_PG("/audit", test_audit);
    ADD_PG("/enterprises", test_enterprises);
    ADD_PG("/domain-claims", test_domain_claims);
    ADD_PG("/data-version", test_data_version);
    ADD_PG("/fault/disk-full", test_disk_full);
  } else {
    g_test_add_func("/storage/postgresql/backend", test_pg_skipped);
  }
  g_test_add_func("/storage/postgresql/refuses-password", test_pg_refuses_password);
  g_test_add_func("/storage/postgresql/selectable", test_pg_selectable);
  return g_test_run();
}
