/* storage_pg_erase.c - PostgreSQL backend: deleting a whole enterprise (storage_enterprise_delete),
 * with the same result as storage_sqlite_erase.c.
 *
 * First the blobs only this enterprise references (its messages' raw copies and attachments, its
 * held mail) are deleted, chunks and all, once a put of the same digest on another node has
 * committed its reference (pg_blobs_lock_doomed); then the enterprises row, so ON DELETE CASCADE removes
 * what hangs off it; then every table with an enterprise_id column is swept, found from the
 * catalog, so a table another area's migration adds is covered without an edit here. All in one
 * transaction: a failure leaves the enterprise whole.
 */
#include "pg_internal.h"

/* Digests this enterprise references. */
#define MINE_SQL(pending_mine)                                                                               \
  "SELECT raw_sha256 AS sha FROM messages WHERE enterprise_id = $1 AND raw_sha256 IS NOT NULL"                 \
  " UNION SELECT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.enterprise_id = $1" \
  pending_mine
/* Those of them that no other enterprise's message (or held mail) references, deleted. */
#define DOOMED_SQL(pending_mine, pending_other)                                                              \
  "WITH mine AS (" MINE_SQL(pending_mine) "),"                                                               \
  " doomed AS (SELECT sha FROM mine WHERE NOT EXISTS (SELECT 1 FROM messages o WHERE o.raw_sha256 = mine.sha"  \
  " AND o.enterprise_id <> $1) AND NOT EXISTS (SELECT 1 FROM attachments a JOIN messages o ON o.id = a.message_id" \
  " WHERE a.sha256 = mine.sha AND o.enterprise_id <> $1)" pending_other "),"                                  \
  " chunks AS (DELETE FROM blob_chunks WHERE sha256 IN (SELECT sha FROM doomed))"                             \
  " DELETE FROM blobs WHERE sha256 IN (SELECT sha FROM doomed)"

static int erase_blobs(PgDb *d, const char *enterprise_id, GError **error)
{
  int pending = pg_table_exists(d, "pending_messages", error);
  if (pending < 0) return -1;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
#define PENDING_MINE " UNION SELECT raw_sha256 FROM pending_messages WHERE enterprise_id = $1"
  if (pg_blobs_lock_doomed(d, pending ? MINE_SQL(PENDING_MINE) : MINE_SQL(""), &p, error) < 0) return -1;
  return pg_exec(d,
                 pending ? DOOMED_SQL(PENDING_MINE,
                                      " AND NOT EXISTS (SELECT 1 FROM pending_messages o WHERE o.raw_sha256 = mine.sha"
                                      " AND o.enterprise_id <> $1)")
                         : DOOMED_SQL("", ""),
                 &p, "delete enterprise blobs", error) < 0 ? -1 : 0;
}

static int enterprise_delete_body(PgDb *d, const char *enterprise_id, GError **error)
{
  if (erase_blobs(d, enterprise_id, error) < 0) return -1;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  gint64 deleted = pg_exec(d, "DELETE FROM enterprises WHERE id = $1", &p, "delete enterprise", error);
  if (deleted < 0) return -1;
  PGresult *r = pg_run(d,
                       "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t"
                       " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                       " WHERE c.table_schema = current_schema() AND c.column_name = 'enterprise_id'"
                       " AND t.table_type = 'BASE TABLE' AND c.table_name <> 'enterprises' ORDER BY 1",
                       NULL, "list tables", error);
  if (!r) return -1;
  int rc = 0;
  for (int i = 0; rc == 0 && i < PQntuples(r); i++) {
    g_autofree char *sql = g_strdup_printf("DELETE FROM \"%s\" WHERE enterprise_id = $1", PQgetvalue(r, i, 0));
    if (pg_exec(d, sql, &p, "delete enterprise", error) < 0) rc = -1;
  }
  PQclear(r);
  return rc < 0 ? -1 : deleted > 0 ? 1 : 0;
}

int pg_enterprise_delete(void *impl, const char *enterprise_id, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, enterprise_delete_body(d, enterprise_id, error), error);
}
