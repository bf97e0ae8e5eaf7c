/* storage_sqlite_audit.c - SQLite backend: the audit log of administrative changes (storage.h).
 * Append-only: nothing here updates or deletes an entry; listing reads newest first by seq, the order
 * of writing (ids from the clock would tie within a millisecond). */
#include "sqlite_internal.h"

int sqlite_audit_add(void *impl, const MaAuditEntry *e, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO audit(enterprise_id, actor, action, target, details, at)"
                             " VALUES(?, ?, ?, ?, ?, ?)",
                             error);
  if (s) {
    sql_bind_text(s, 1, e->enterprise_id);
    sql_bind_text(s, 2, e->actor);
    sql_bind_text(s, 3, e->action);
    sql_bind_text(s, 4, e->target);
    sql_bind_text(s, 5, e->details);
    sqlite3_bind_int64(s, 6, e->at);
    ret = sql_step_done(d, s, error, "add audit entry");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_audit_list(void *impl, const char *enterprise_id, gint64 before_seq, int limit, GPtrArray *out,
                      GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT seq, enterprise_id, actor, action, target, details, at FROM audit"
                             " WHERE (?1 IS NULL OR enterprise_id = ?1) AND (?2 = 0 OR seq < ?2)"
                             " ORDER BY seq DESC LIMIT ?3",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int64(s, 2, before_seq);
  sqlite3_bind_int(s, 3, limit > 0 ? limit : -1);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaAuditEntry *e = g_new0(MaAuditEntry, 1);
    e->seq = sqlite3_column_int64(s, 0);
    e->enterprise_id = sql_col_dup(s, 1);
    e->actor = sql_col_dup(s, 2);
    e->action = sql_col_dup(s, 3);
    e->target = sql_col_dup(s, 4);
    e->details = sql_col_dup(s, 5);
    e->at = sqlite3_column_int64(s, 6);
    g_ptr_array_add(out, e);
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "audit list");
  return 0;
}
