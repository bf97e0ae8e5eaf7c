/* storage_sqlite_erase.c - SQLite backend: deleting a whole enterprise (storage_enterprise_delete).
 *
 * The enterprises row goes first, so ON DELETE CASCADE removes what hangs off it (and off its
 * messages); then every table with an enterprise_id column is swept, found from the schema itself,
 * so a table a later migration adds (outbound queue, domains, mailboxes) is covered without an edit
 * here; then the blobs the enterprise's messages and held (pending) mail referenced are deleted unless another message
 * still references the same digest. All in one transaction: a crash leaves the enterprise whole.
 * Then the search index is compacted, so no file keeps the enterprise's words (storage_search.h).
 */
#include "sqlite_internal.h"

/* Tables with an enterprise_id column, except enterprises itself. out: char*. */
static int tables_with_enterprise(SqlDb *d, GPtrArray *out, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) c"
                             " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> 'enterprises'"
                             " AND c.name = 'enterprise_id' ORDER BY m.name",
                             error);
  if (!s) return -1;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list tables");
  return 0;
}

static int exec_bound(SqlDb *d, const char *sql, const char *enterprise_id, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  return sql_step_done(d, s, error, "delete enterprise");
}

int sqlite_enterprise_delete(void *impl, const char *enterprise_id, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  g_autoptr(GPtrArray) tables = g_ptr_array_new_with_free_func(g_free);
  if (sql_search_flush(d, error) < 0) goto out; /* search_forget unindexes what must be indexed */
  if (exec_bound(d,
                 "CREATE TEMP TABLE IF NOT EXISTS doomed_blobs(sha256 TEXT PRIMARY KEY) WITHOUT ROWID", NULL, error) < 0 ||
      exec_bound(d, "DELETE FROM temp.doomed_blobs", NULL, error) < 0 ||
      exec_bound(d,
                 "INSERT OR IGNORE INTO temp.doomed_blobs SELECT raw_sha256 FROM messages"
                 " WHERE enterprise_id = ?1 AND raw_sha256 IS NOT NULL"
                 " UNION SELECT a.sha256 FROM attachments a JOIN messages m ON m.id = a.message_id WHERE m.enterprise_id = ?1"
                 " UNION SELECT raw_sha256 FROM pending_messages WHERE enterprise_id = ?1",
                 enterprise_id, error) < 0 ||
      exec_bound(d, "DELETE FROM enterprises WHERE id = ?1", enterprise_id, error) < 0)
    goto out;
  ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  if (tables_with_enterprise(d, tables, error) < 0) {
    ret = -1;
    goto out;
  }
  for (guint i = 0; i < tables->len; i++) {
    g_autofree char *sql = g_strdup_printf("DELETE FROM \"%s\" WHERE enterprise_id = ?1", (char *) tables->pdata[i]);
    if (exec_bound(d, sql, enterprise_id, error) < 0) {
      ret = -1;
      goto out;
    }
  }
  if (exec_bound(d,
                 "DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM temp.doomed_blobs)"
                 " AND NOT EXISTS (SELECT 1 FROM messages WHERE raw_sha256 = blobs.sha256)"
                 " AND NOT EXISTS (SELECT 1 FROM attachments WHERE sha256 = blobs.sha256)"
                 " AND NOT EXISTS (SELECT 1 FROM pending_messages WHERE raw_sha256 = blobs.sha256)",
                 NULL, error) < 0 ||
      exec_bound(d, "DELETE FROM temp.doomed_blobs", NULL, error) < 0)
    ret = -1;
out:
  ret = sql_write_end(d, ret, error);
  /* the index keeps a deleted message's terms until merged: compact now (outside a caller's
   * transaction; a failure leaves it to serve's hourly compaction, the deletion stands) */
  if (ret >= 0 && !d->in_txn) sql_search_compact(d, NULL);
  return ret;
}
