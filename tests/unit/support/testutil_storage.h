/* testutil_storage.h - the one parameter of the storage tests, the backend: a test registered with
 * TESTUTIL_ON_PG as its data runs against the PostgreSQL named by MAILAGENT_TEST_PG (a conninfo;
 * integration/storage_pg starts one and sets it), emptied first; with NULL, against SQLite in a
 * fresh directory. Linked into the unit tests that include it (tests/CMakeLists.txt). */
#ifndef MA_TESTUTIL_STORAGE_H
#define MA_TESTUTIL_STORAGE_H

#include "storage/storage.h"
#include "storage/storage_backend.h"
#include "storage/storage_timeline_row.h"

/* The test data pointer that selects PostgreSQL (NULL: SQLite). */
#define TESTUTIL_ON_PG ((gconstpointer)&ma_storage_pg_backend)

/* TRUE when MAILAGENT_TEST_PG is set: register the PostgreSQL variants then. */
gboolean testutil_storage_pg(void);

/* Registers fn for SQLite under sqlite_path and, when MAILAGENT_TEST_PG is set, for PostgreSQL
 * under pg_path: the same test, one parameter (the data pointer setup passes on). */
#define testutil_storage_add(sqlite_path, pg_path, Fixture, setup, fn, teardown)                       \
  do {                                                                                                 \
    g_test_add(sqlite_path, Fixture, NULL, setup, fn, teardown);                                       \
    if (testutil_storage_pg()) g_test_add(pg_path, Fixture, TESTUTIL_ON_PG, setup, fn, teardown);      \
  } while (0)

/* Empties the PostgreSQL test database (the schema and its migrations go; the next open applies
 * them). */
void testutil_storage_pg_reset(const char *conninfo);

/* Refreshes the PostgreSQL test database's planner statistics (ANALYZE), as autovacuum does for
 * a table that grew by more than a tenth: a test that measures a query's work on a table it just
 * filled measures the plan a running installation gets. */
void testutil_storage_pg_analyze(const char *conninfo);

/* A fresh, migrated storage for the backend data selects: SQLite in dir, or PostgreSQL emptied
 * first. Aborts the test when it cannot. Caller closes it (storage_close). */
MaStorage *testutil_storage_open(const char *dir, gconstpointer data);

/* Another handle on the same database, as a second node or thread has (not emptied). */
MaStorage *testutil_storage_open_again(const char *dir, gconstpointer data);

/* SQL that undoes SQLite migration 165 (the timeline rows' items), for the upgrade tests that take
 * a database back below it so that it applies again. */
#define TESTUTIL_UNDO_SQLITE_165                                                                       \
  "DROP TRIGGER timeline_delivery_ins; DROP TRIGGER timeline_delivery_del;"                               \
  "DROP VIEW timeline_message_fields;"                                                                    \
  "ALTER TABLE timeline DROP COLUMN item;"

/* SQL that undoes SQLite migration 166: migration 123's per-row trigger on timeline inserts again. */
#define TESTUTIL_UNDO_SQLITE_166                                                                       \
  "CREATE TRIGGER archive_version_timeline_ins AFTER INSERT ON timeline"                                  \
  " WHEN EXISTS (SELECT 1 FROM enterprises WHERE id = NEW.enterprise_id) BEGIN"                           \
  " INSERT INTO archive_versions(enterprise_id, n) VALUES(NEW.enterprise_id, abs(random() % 4503599627370496))" \
  " ON CONFLICT(enterprise_id) DO UPDATE SET n = n + 1; END;"

/* SQL that undoes SQLite migration 170: migration 129's two participant indexes again. */
#define TESTUTIL_UNDO_SQLITE_170                                                                       \
  "DROP INDEX participants_by_domain_address;"                                                            \
  "CREATE INDEX participants_by_address ON participants(lower(address));"                                 \
  "CREATE INDEX participants_by_domain ON participants(lower(substr(address, instr(address, '@') + 1)));"

/* SQL that undoes SQLite migration 171: the timeline's items without positions, after the filter
 * columns again, with migration 123's and 165's triggers as they were. */
#define TESTUTIL_UNDO_SQLITE_171                                                                       \
  "DROP TRIGGER timeline_delivery_ins; DROP TRIGGER timeline_delivery_del;"                               \
  "CREATE TABLE timeline_old(enterprise_id TEXT NOT NULL, record_type INTEGER NOT NULL,"                  \
  "  record_id TEXT NOT NULL, date INTEGER NOT NULL, message_id TEXT NOT NULL, kind INTEGER NOT NULL,"    \
  "  direction INTEGER NOT NULL, has_attachment INTEGER NOT NULL, thread_id TEXT, activity_id TEXT,"     \
  "  item TEXT, PRIMARY KEY(enterprise_id, record_type, record_id, date, message_id, kind)) WITHOUT ROWID;" \
  "INSERT INTO timeline_old SELECT enterprise_id, record_type, record_id, date, message_id,"             \
  "  kind, direction, has_attachment, thread_id, activity_id,"                                            \
  "  substr(item, length(" TIMELINE_POSITION("date", "message_id", "kind") ") + 1) FROM timeline;"       \
  "DROP TABLE timeline; ALTER TABLE timeline_old RENAME TO timeline;"                                     \
  TESTUTIL_OLD_TIMELINE_VERSION_TRIGGER("upd", "UPDATE", "NEW")                                         \
  TESTUTIL_OLD_TIMELINE_VERSION_TRIGGER("del", "DELETE", "OLD")                                         \
  TESTUTIL_OLD_DELIVERY_TRIGGER("ins", "INSERT", "NEW")                                                 \
  TESTUTIL_OLD_DELIVERY_TRIGGER("del", "DELETE", "OLD")

/* Migration 123's trigger on the timeline as it was before migration 171. */
#define TESTUTIL_OLD_TIMELINE_VERSION_TRIGGER(name, event, row)                                        \
  "CREATE TRIGGER archive_version_timeline_" name " AFTER " event " ON timeline"                         \
  " WHEN EXISTS (SELECT 1 FROM enterprises WHERE id = " row ".enterprise_id) BEGIN"                      \
  " INSERT INTO archive_versions(enterprise_id, n) VALUES(" row ".enterprise_id, abs(random() % 4503599627370496))" \
  " ON CONFLICT(enterprise_id) DO UPDATE SET n = n + 1; END;"

/* Migration 165's delivery trigger as it was before migration 171. */
#define TESTUTIL_OLD_DELIVERY_TRIGGER(name, event, row)                                                \
  "CREATE TRIGGER timeline_delivery_" name " AFTER " event " ON outbound_messages"                       \
  " WHEN " row ".message_id IS NOT NULL BEGIN"                                                           \
  " UPDATE timeline SET item = (SELECT v.item FROM timeline_message_fields v WHERE v.enterprise_id = " row \
  ".enterprise_id AND v.id = (SELECT id FROM messages WHERE enterprise_id = " row ".enterprise_id"       \
  " AND message_id = " row ".message_id))"                                                              \
  " WHERE (enterprise_id, record_type, record_id, date, message_id, kind) IN (SELECT m.enterprise_id,"   \
  "   l.record_type, l.record_id, m.date, m.id, 0 FROM messages m JOIN message_links l ON l.message_id = m.id" \
  "   WHERE m.enterprise_id = " row ".enterprise_id AND m.message_id = " row ".message_id AND m.direction = 1); END;"

/* SQL that undoes SQLite migration 173 (text bodies as slices of the raw blob) once migration 131's
 * undo has dropped the view search_content it makes again. */
#define TESTUTIL_UNDO_SQLITE_173                                                                       \
  "ALTER TABLE messages DROP COLUMN text_raw_len; ALTER TABLE messages DROP COLUMN text_raw_at;"

/* SQL that undoes SQLite migration 174: matching's index tables without the records' account_id and
 * stage, and their indexes as migration 1 made them. */
#define TESTUTIL_UNDO_SQLITE_174                                                                       \
  "DROP INDEX record_emails_noplus; DROP INDEX records_by_account;"                                      \
  "ALTER TABLE record_emails DROP COLUMN account_id;"                                                     \
  "ALTER TABLE opportunity_contacts DROP COLUMN account_id;"                                              \
  "ALTER TABLE opportunity_contacts DROP COLUMN stage;"                                                   \
  "CREATE INDEX record_emails_noplus ON record_emails(enterprise_id, email_noplus);"                      \
  "CREATE INDEX records_by_account ON records(enterprise_id, account_id, type) WHERE account_id IS NOT NULL;"

/* SQL that undoes SQLite migration 177: migration 1's two partial unique provenance indexes and
 * migration 2's index by message again, in place of the one unique index by source. */
#define TESTUTIL_UNDO_SQLITE_177                                                                       \
  "DROP INDEX provenance_by_source;"                                                                      \
  "CREATE UNIQUE INDEX provenance_by_spool ON provenance(message_id, spool_id) WHERE spool_id IS NOT NULL;" \
  "CREATE UNIQUE INDEX provenance_by_route ON provenance(message_id, route, coalesce(mailbox, ''),"       \
  "  coalesce(employee_id, '')) WHERE spool_id IS NULL;"                                                  \
  "CREATE INDEX provenance_by_message ON provenance(message_id, received_at);"

#endif
