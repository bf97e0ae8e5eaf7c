/* storage_sqlite_domains.c - SQLite backend: the verification state of each enterprise's domains
 * and their DKIM keys (migration 8).
 *
 * Several enterprises may claim one domain; the partial unique index enterprise_domains_owner
 * lets only one of them hold it verified. Marking a claim verified drops the other enterprises'
 * unverified claims in the same transaction, so ownership moves to whoever proves it. Private
 * keys arrive sealed; this file never sees them in clear.
 */
#include "sqlite_internal.h"

#include <string.h>

#define DOMAIN_COLS "enterprise_id, domain, status, reason, detail, failures, dns_errors, checked_at," \
                    " next_check_at, verified_at, created_at, challenge, return_path"

static MaDomain *domain_read(sqlite3_stmt *s)
{
  MaDomain *d = g_new0(MaDomain, 1);
  d->enterprise_id = sql_col_dup(s, 0);
  d->domain = sql_col_dup(s, 1);
  d->status = sql_col_dup(s, 2);
  d->reason = sql_col_dup(s, 3);
  d->detail = sql_col_dup(s, 4);
  d->failures = sqlite3_column_int(s, 5);
  d->dns_errors = sqlite3_column_int(s, 6);
  d->checked_at = sqlite3_column_int64(s, 7);
  d->next_check_at = sqlite3_column_int64(s, 8);
  d->verified_at = sqlite3_column_int64(s, 9);
  d->created_at = sqlite3_column_int64(s, 10);
  d->challenge = sql_col_dup(s, 11);
  d->return_path = sql_col_dup(s, 12);
  return d;
}

/* Steps s collecting MaDomain rows into out. */
static int domains_collect(SqlDb *d, sqlite3_stmt *s, GPtrArray *out, GError **error)
{
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, domain_read(s));
  sql_reset(s);
  return rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "domains");
}

int sqlite_domain_get(void *impl, const char *enterprise_id, const char *domain, MaDomain **out, GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT " DOMAIN_COLS " FROM enterprise_domains WHERE enterprise_id = ? AND domain = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, domain);
  GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_free);
  int rc = domains_collect(d, s, rows, error);
  if (rc == 0 && rows->len) {
    *out = g_ptr_array_steal_index(rows, 0);
    rc = 1;
  }
  g_ptr_array_unref(rows);
  return rc;
}

int sqlite_domain_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT " DOMAIN_COLS " FROM enterprise_domains WHERE enterprise_id = ? ORDER BY domain",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  return domains_collect(d, s, out, error);
}

int sqlite_domain_due(void *impl, gint64 now, int limit, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT " DOMAIN_COLS " FROM enterprise_domains WHERE next_check_at <= ?"
                                " ORDER BY next_check_at, enterprise_id, domain LIMIT ?", error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, now);
  sqlite3_bind_int(s, 2, limit > 0 ? limit : -1);
  return domains_collect(d, s, out, error);
}

static int domain_update_body(SqlDb *d, const MaDomain *dom, GError **error)
{
  sqlite3_stmt *s;
  if (g_strcmp0(dom->status, "verified") == 0) {
    s = sql_prep(d, "SELECT enterprise_id FROM enterprise_domains WHERE domain = ? AND status = 'verified'"
                    " AND enterprise_id <> ?", error);
    if (!s) return -1;
    sql_bind_text(s, 1, dom->domain);
    sql_bind_text(s, 2, dom->enterprise_id);
    int rc = sqlite3_step(s);
    sql_reset(s);
    if (rc == SQLITE_ROW) {
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "domain %s is verified by another enterprise", dom->domain);
      return -1;
    }
    if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "domain owner");
    s = sql_prep(d, "DELETE FROM enterprise_domains WHERE domain = ? AND enterprise_id <> ?", error);
    if (!s) return -1;
    sql_bind_text(s, 1, dom->domain);
    sql_bind_text(s, 2, dom->enterprise_id);
    if (sql_step_done(d, s, error, "drop other claims") < 0) return -1;
  }
  s = sql_prep(d, "UPDATE enterprise_domains SET status = ?, reason = ?, detail = ?, failures = ?, dns_errors = ?,"
                  " checked_at = ?, next_check_at = ?, verified_at = ?, return_path = ?"
                  " WHERE enterprise_id = ? AND domain = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, dom->status);
  sql_bind_text(s, 2, dom->reason);
  sql_bind_text(s, 3, dom->detail);
  sqlite3_bind_int(s, 4, dom->failures);
  sqlite3_bind_int(s, 5, dom->dns_errors);
  sqlite3_bind_int64(s, 6, dom->checked_at);
  sqlite3_bind_int64(s, 7, dom->next_check_at);
  sqlite3_bind_int64(s, 8, dom->verified_at);
  sql_bind_text(s, 9, dom->return_path ? dom->return_path : "bounce");
  sql_bind_text(s, 10, dom->enterprise_id);
  sql_bind_text(s, 11, dom->domain);
  if (sql_step_done(d, s, error, "update domain") < 0) return -1;
  if (sqlite3_changes(d->db) == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "%s is not a domain of this enterprise", dom->domain);
    return -1;
  }
  return 0;
}

int sqlite_domain_update(void *impl, const MaDomain *dom, GError **error)
{
  SqlDb *d = impl;
  g_assert(dom && dom->enterprise_id && dom->domain && dom->status);
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, domain_update_body(d, dom, error), error);
}

int sqlite_domain_owner(void *impl, const char *domain, char **enterprise_id, GError **error)
{
  SqlDb *d = impl;
  *enterprise_id = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT enterprise_id FROM enterprise_domains WHERE domain = ? AND status = 'verified'",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, domain);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *enterprise_id = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc == SQLITE_ROW) return 1;
  return rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "domain owner");
}

/* ---- DKIM keys ------------------------------------------------------------------------------ */

int sqlite_domain_key_add(void *impl, const MaDomainKey *k, GError **error)
{
  SqlDb *d = impl;
  g_assert(k && k->id && k->enterprise_id && k->domain && k->selector && k->private_sealed && k->public_b64);
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "INSERT INTO dkim_keys(id, enterprise_id, domain, selector, algorithm, private_sealed,"
                                " public_b64, state, target, published, created_at, activated_at, retired_at)"
                                " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", error);
  if (s) {
    sql_bind_text(s, 1, k->id);
    sql_bind_text(s, 2, k->enterprise_id);
    sql_bind_text(s, 3, k->domain);
    sql_bind_text(s, 4, k->selector);
    sql_bind_text(s, 5, k->algorithm);
    sql_bind_text(s, 6, k->private_sealed);
    sql_bind_text(s, 7, k->public_b64);
    sql_bind_text(s, 8, k->state ? k->state : "pending");
    sql_bind_text(s, 9, k->target);
    sqlite3_bind_int(s, 10, k->published ? 1 : 0);
    sqlite3_bind_int64(s, 11, k->created_at);
    sqlite3_bind_int64(s, 12, k->activated_at);
    sqlite3_bind_int64(s, 13, k->retired_at);
    int rc = sqlite3_step(s);
    int ext = sqlite3_extended_errcode(d->db);
    sql_reset(s);
    if (rc == SQLITE_DONE) {
      ret = 0;
    } else if (ext == SQLITE_CONSTRAINT_FOREIGNKEY) {
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "%s is not a domain of this enterprise", k->domain);
    } else if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "selector %s exists already for %s", k->selector, k->domain);
    } else {
      sql_fail(d, rc, error, "add DKIM key");
    }
  }
  return sql_write_end(d, ret, error);
}

int sqlite_domain_key_list(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT id, enterprise_id, domain, selector, algorithm, private_sealed, public_b64, state,"
                                " target, published, created_at, activated_at, retired_at FROM dkim_keys"
                                " WHERE enterprise_id = ? AND domain = ? ORDER BY created_at, id", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, domain);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaDomainKey *k = g_new0(MaDomainKey, 1);
    k->id = sql_col_dup(s, 0);
    k->enterprise_id = sql_col_dup(s, 1);
    k->domain = sql_col_dup(s, 2);
    k->selector = sql_col_dup(s, 3);
    k->algorithm = sql_col_dup(s, 4);
    k->private_sealed = sql_col_dup(s, 5);
    k->public_b64 = sql_col_dup(s, 6);
    k->state = sql_col_dup(s, 7);
    k->target = sql_col_dup(s, 8);
    k->published = sqlite3_column_int(s, 9) != 0;
    k->created_at = sqlite3_column_int64(s, 10);
    k->activated_at = sqlite3_column_int64(s, 11);
    k->retired_at = sqlite3_column_int64(s, 12);
    g_ptr_array_add(out, k);
  }
  sql_reset(s);
  return rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "DKIM keys");
}

int sqlite_domain_key_update(void *impl, const MaDomainKey *k, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "UPDATE dkim_keys SET state = ?, published = ?, activated_at = ?, retired_at = ?"
                                " WHERE id = ? AND enterprise_id = ?", error);
  if (s) {
    sql_bind_text(s, 1, k->state);
    sqlite3_bind_int(s, 2, k->published ? 1 : 0);
    sqlite3_bind_int64(s, 3, k->activated_at);
    sqlite3_bind_int64(s, 4, k->retired_at);
    sql_bind_text(s, 5, k->id);
    sql_bind_text(s, 6, k->enterprise_id);
    if (sql_step_done(d, s, error, "update DKIM key") == 0) {
      ret = 0;
      if (sqlite3_changes(d->db) == 0) {
        g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no DKIM key %s", k->id);
        ret = -1;
      }
    }
  }
  return sql_write_end(d, ret, error);
}
