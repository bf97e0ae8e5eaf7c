/* storage_sqlite_suppressions.c - SQLite backend: the per-enterprise suppression list (addresses
 * not sent to again: hard bounces, complaints, unsubscribes, soft-bounce streaks, operators'
 * entries) and the soft-bounce streaks that lead to it. Addresses arrive lower-cased; every query
 * is scoped by enterprise_id. */
#include "sqlite_internal.h"

#define SUPPRESSION_COLS "enterprise_id, address, reason, detail, source, created_at"

static MaSuppression *suppression_read(sqlite3_stmt *s)
{
  MaSuppression *x = g_new0(MaSuppression, 1);
  x->enterprise_id = sql_col_dup(s, 0);
  x->address = sql_col_dup(s, 1);
  x->reason = sql_col_dup(s, 2);
  x->detail = sql_col_dup(s, 3);
  x->source = sql_col_dup(s, 4);
  x->created_at = sqlite3_column_int64(s, 5);
  return x;
}

int sqlite_suppression_add(void *impl, const MaSuppression *x, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d, "INSERT OR IGNORE INTO suppressions(" SUPPRESSION_COLS ") VALUES(?, ?, ?, ?, ?, ?)",
                             error);
  int ret = -1;
  if (s) {
    sql_bind_text(s, 1, x->enterprise_id);
    sql_bind_text(s, 2, x->address);
    sql_bind_text(s, 3, x->reason);
    sql_bind_text(s, 4, x->detail);
    sql_bind_text(s, 5, x->source);
    sqlite3_bind_int64(s, 6, x->created_at);
    if (sql_step_enterprise_row(d, s, x->enterprise_id, error, "add a suppression") == 0)
      ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_suppression_remove(void *impl, const char *enterprise_id, const char *address, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "DELETE FROM suppressions WHERE enterprise_id = ? AND address = ?", error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, address);
    if (sql_step_done(d, s, error, "remove a suppression") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  s = ret >= 0 ? sql_prep(d, "DELETE FROM soft_bounces WHERE enterprise_id = ? AND address = ?", error) : NULL;
  if (ret >= 0 && !s) ret = -1;
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, address);
    if (sql_step_done(d, s, error, "end a soft-bounce streak") < 0) ret = -1;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_suppression_get(void *impl, const char *enterprise_id, const char *address, MaSuppression **out,
                           GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT " SUPPRESSION_COLS " FROM suppressions WHERE enterprise_id = ? AND address = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, address);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = suppression_read(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "read a suppression");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_suppression_list(void *impl, const char *enterprise_id, const char *after_address, int limit, GPtrArray *out,
                            GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT " SUPPRESSION_COLS " FROM suppressions WHERE enterprise_id = ?1"
                                " AND (?2 IS NULL OR address > ?2) ORDER BY address LIMIT ?3", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, after_address);
  sqlite3_bind_int(s, 3, limit > 0 ? limit : -1);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, suppression_read(s));
  sql_reset(s);
  return rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "list suppressions");
}

int sqlite_soft_bounce_add(void *impl, const char *enterprise_id, const char *address, gint64 now, gint64 window,
                           gint64 *count_r, GError **error)
{
  SqlDb *d = impl;
  *count_r = 0;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  /* a streak whose first bounce left the window starts over at this one */
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO soft_bounces(enterprise_id, address, count, first_at, last_at)"
                             " VALUES(?1, ?2, 1, ?3, ?3) ON CONFLICT(enterprise_id, address) DO UPDATE SET"
                             " count = CASE WHEN first_at < ?3 - ?4 THEN 1 ELSE count + 1 END,"
                             " first_at = CASE WHEN first_at < ?3 - ?4 THEN ?3 ELSE first_at END, last_at = ?3"
                             " RETURNING count",
                             error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, address);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, window);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      *count_r = sqlite3_column_int64(s, 0);
      rc = sqlite3_step(s);
    }
    sql_reset(s);
    if (rc == SQLITE_DONE) ret = 0;
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", enterprise_id);
    else sql_fail(d, rc, error, "count a soft bounce");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_soft_bounce_reset(void *impl, const char *enterprise_id, const char *address, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d, "DELETE FROM soft_bounces WHERE enterprise_id = ? AND address = ?", error);
  int ret = -1;
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, address);
    ret = sql_step_done(d, s, error, "end a soft-bounce streak");
  }
  return sql_write_end(d, ret, error);
}
