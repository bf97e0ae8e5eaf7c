/* storage_pg_suppressions.c - PostgreSQL backend: the per-enterprise suppression list (addresses
 * not sent to again) and the soft-bounce streaks that lead to it; the same contracts as
 * storage_sqlite_suppressions.c. Each change is one statement (ON CONFLICT), so bounces of one
 * address handled on two nodes at once keep the first suppression and count every soft bounce.
 * Addresses arrive lower-cased; every query is scoped by enterprise_id.
 */
#include "pg_internal.h"

#define SUPPRESSION_COLS "enterprise_id, address, reason, detail, source, created_at"

static MaSuppression *suppression_read(const PGresult *r, int i)
{
  MaSuppression *x = g_new0(MaSuppression, 1);
  x->enterprise_id = pg_col_dup(r, i, 0);
  x->address = pg_col_dup(r, i, 1);
  x->reason = pg_col_dup(r, i, 2);
  x->detail = pg_col_dup(r, i, 3);
  x->source = pg_col_dup(r, i, 4);
  x->created_at = pg_col_int(r, i, 5);
  return x;
}

int pg_suppression_add(void *impl, const MaSuppression *x, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, x->enterprise_id);
  pg_param_text(&p, x->address);
  pg_param_text(&p, x->reason);
  pg_param_text(&p, x->detail);
  pg_param_text(&p, x->source);
  pg_param_int(&p, x->created_at);
  if (pg_write_begin(d, error) < 0) return -1;
  /* the first entry is kept: its reason is why the address was suppressed */
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO suppressions(" SUPPRESSION_COLS ") VALUES($1, $2, $3, $4, $5, $6)"
                                    " ON CONFLICT(enterprise_id, address) DO NOTHING",
                                    &p, x->enterprise_id, "add a suppression", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_suppression_remove(void *impl, const char *enterprise_id, const char *address, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, address);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, "DELETE FROM suppressions WHERE enterprise_id = $1 AND address = $2", &p, "remove a suppression",
                     error);
  if (n >= 0 &&
      pg_exec(d, "DELETE FROM soft_bounces WHERE enterprise_id = $1 AND address = $2", &p, "end a soft-bounce streak", error) < 0)
    n = -1;
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_suppression_get(void *impl, const char *enterprise_id, const char *address, MaSuppression **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, address);
  PGresult *r = pg_run(d, "SELECT " SUPPRESSION_COLS " FROM suppressions WHERE enterprise_id = $1 AND address = $2", &p,
                       "read a suppression", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = suppression_read(r, 0);
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_suppression_list(void *impl, const char *enterprise_id, const char *after_address, int limit, GPtrArray *out,
                        GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, after_address);
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT64);
  PGresult *r = pg_run(d,
                       "SELECT " SUPPRESSION_COLS " FROM suppressions WHERE enterprise_id = $1"
                       " AND ($2::text IS NULL OR address > $2) ORDER BY address LIMIT $3",
                       &p, "list suppressions", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, suppression_read(r, i));
  PQclear(r);
  return 0;
}

int pg_soft_bounce_add(void *impl, const char *enterprise_id, const char *address, gint64 now, gint64 window,
                       gint64 *count_r, GError **error)
{
  PgDb *d = impl;
  *count_r = 0;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, address);
  pg_param_int(&p, now);
  pg_param_int(&p, window);
  if (pg_write_begin(d, error) < 0) return -1;
  /* a streak whose first bounce left the window starts over at this one */
  GError *local = NULL;
  PGresult *r = pg_run(d,
                       "INSERT INTO soft_bounces AS s(enterprise_id, address, count, first_at, last_at)"
                       " VALUES($1, $2, 1, $3, $3) ON CONFLICT(enterprise_id, address) DO UPDATE SET"
                       " count = CASE WHEN s.first_at < $3::bigint - $4::bigint THEN 1 ELSE s.count + 1 END,"
                       " first_at = CASE WHEN s.first_at < $3::bigint - $4::bigint THEN $3 ELSE s.first_at END,"
                       " last_at = $3 RETURNING count",
                       &p, "count a soft bounce", &local);
  int ret = 0;
  if (r) {
    *count_r = pg_col_int(r, 0, 0);
    PQclear(r);
  } else if (local->code == MA_ERROR_NOT_FOUND) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", enterprise_id);
    g_error_free(local);
    ret = -1;
  } else {
    g_propagate_error(error, local);
    ret = -1;
  }
  return pg_write_end(d, ret, error);
}

int pg_soft_bounce_reset(void *impl, const char *enterprise_id, const char *address, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, address);
  int rc = pg_write_changed(impl, "DELETE FROM soft_bounces WHERE enterprise_id = $1 AND address = $2", &p,
                            "end a soft-bounce streak", error);
  return rc < 0 ? -1 : 0;
}
