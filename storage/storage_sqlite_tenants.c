/* storage_sqlite_tenants.c - SQLite backend: enterprises, their domains, their virtual inbound
 * addresses (with the grace period of rotated ones) and their employees.
 *
 * A domain may be claimed by several enterprises until one verifies it (storage_sqlite_domains.c);
 * slugs are unique. Inbound local parts and e-mail
 * addresses are stored lower-cased and compared lower-cased. Everything except the admin listing
 * and the inbound look-up (which is how a tenant is found) is scoped by enterprise_id.
 */
#include "sqlite_internal.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <string.h>

/* ---- enterprises ---------------------------------------------------------------------------- */

/* Claims domain for enterprise_id: refused only when another enterprise holds it verified (an
 * unverified claim blocks nobody; see storage_domain_update). Claiming it again is a no-op. */
static int domain_insert(SqlDb *d, const char *enterprise_id, const char *domain, GError **error)
{
  char *lower = g_ascii_strdown(domain, -1);
  char *challenge = ma_random_hex(16);
  sqlite3_stmt *s = sql_prep(d, "SELECT enterprise_id FROM enterprise_domains WHERE domain = ? AND status = 'verified'"
                                " AND enterprise_id <> ?", error);
  if (!s) goto fail;
  sql_bind_text(s, 1, lower);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc == SQLITE_ROW) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "domain %s is verified by another enterprise", lower);
    goto fail;
  }
  if (rc != SQLITE_DONE) {
    sql_fail(d, rc, error, "domain look-up");
    goto fail;
  }
  s = sql_prep(d, "INSERT OR IGNORE INTO enterprise_domains(domain, enterprise_id, created_at, next_check_at, challenge)"
                  " VALUES(?, ?, ?, ?, ?)", error);
  if (!s) goto fail;
  gint64 now = ma_now();
  sql_bind_text(s, 1, lower);
  sql_bind_text(s, 2, enterprise_id);
  sqlite3_bind_int64(s, 3, now);
  sqlite3_bind_int64(s, 4, now);
  sql_bind_text(s, 5, challenge);
  if (sql_step_enterprise_row(d, s, enterprise_id, error, "add domain") < 0) goto fail;
  g_free(challenge);
  g_free(lower);
  return 0;
fail:
  g_free(challenge);
  g_free(lower);
  return -1;
}

static int enterprise_create_body(SqlDb *d, const MaEnterprise *e, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "INSERT INTO enterprises(id, slug, name, created_at) VALUES(?, ?, ?, ?)", error);
  if (!s) return -1;
  sql_bind_text(s, 1, e->id);
  sql_bind_text(s, 2, e->slug);
  sql_bind_text(s, 3, e->name ? e->name : e->slug);
  sqlite3_bind_int64(s, 4, e->created_at ? e->created_at : ma_now());
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc != SQLITE_DONE) {
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "enterprise %s already exists", e->slug);
    else
      sql_fail(d, rc, error, "create enterprise");
    return -1;
  }
  for (guint i = 0; e->domains && i < e->domains->len; i++)
    if (domain_insert(d, e->id, g_ptr_array_index(e->domains, i), error) < 0) return -1;
  if (e->inbound_local && *e->inbound_local) {
    char *lower = g_ascii_strdown(e->inbound_local, -1);
    s = sql_prep(d, "INSERT INTO inbound_addresses(local, enterprise_id, created_at, expires_at) VALUES(?, ?, ?, NULL)",
                 error);
    if (!s) {
      g_free(lower);
      return -1;
    }
    sql_bind_text(s, 1, lower);
    sql_bind_text(s, 2, e->id);
    sqlite3_bind_int64(s, 3, e->created_at ? e->created_at : ma_now());
    int r = sql_step_done(d, s, error, "add inbound address");
    g_free(lower);
    if (r < 0) return -1;
  }
  return 0;
}

int sqlite_enterprise_create(void *impl, const MaEnterprise *e, GError **error)
{
  SqlDb *d = impl;
  g_assert(e && e->id && e->slug);
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, enterprise_create_body(d, e, error), error);
}

/* Fills domains and the current inbound local part of e. */
static int enterprise_fill(SqlDb *d, MaEnterprise *e, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "SELECT domain FROM enterprise_domains WHERE enterprise_id = ? ORDER BY domain", error);
  if (!s) return -1;
  sql_bind_text(s, 1, e->id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(e->domains, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "enterprise domains");
  s = sql_prep(d, "SELECT local FROM inbound_addresses WHERE enterprise_id = ? AND expires_at IS NULL", error);
  if (!s) return -1;
  sql_bind_text(s, 1, e->id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) e->inbound_local = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "enterprise inbound");
  return 0;
}

static MaEnterprise *enterprise_read(sqlite3_stmt *s)
{
  MaEnterprise *e = g_new0(MaEnterprise, 1);
  e->id = sql_col_dup(s, 0);
  e->slug = sql_col_dup(s, 1);
  e->name = sql_col_dup(s, 2);
  e->created_at = sqlite3_column_int64(s, 3);
  e->domains = g_ptr_array_new_with_free_func(g_free);
  return e;
}

int sqlite_enterprise_get(void *impl, const char *id_or_slug, MaEnterprise **out, GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT id, slug, name, created_at FROM enterprises WHERE id = ?1"
                             " UNION ALL SELECT id, slug, name, created_at FROM enterprises WHERE slug = lower(?1)"
                             " LIMIT 1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, id_or_slug);
  int rc = sqlite3_step(s);
  MaEnterprise *e = rc == SQLITE_ROW ? enterprise_read(s) : NULL;
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "enterprise get");
  if (!e) return 0;
  if (enterprise_fill(d, e, error) < 0) {
    ma_enterprise_free(e);
    return -1;
  }
  *out = e;
  return 1;
}

int sqlite_enterprise_list(void *impl, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT id, slug, name, created_at FROM enterprises ORDER BY created_at, id", error);
  if (!s) return -1;
  GPtrArray *tmp = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(tmp, enterprise_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) {
    g_ptr_array_unref(tmp);
    return sql_fail(d, rc, error, "enterprise list");
  }
  for (guint i = 0; i < tmp->len; i++) {
    if (enterprise_fill(d, g_ptr_array_index(tmp, i), error) < 0) {
      g_ptr_array_unref(tmp);
      return -1;
    }
  }
  for (guint i = 0; i < tmp->len; i++) g_ptr_array_add(out, g_ptr_array_steal_index(tmp, i--));
  g_ptr_array_unref(tmp);
  return 0;
}

int sqlite_enterprise_domain_add(void *impl, const char *enterprise_id, const char *domain, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, domain_insert(d, enterprise_id, domain, error), error);
}

int sqlite_enterprise_domain_remove(void *impl, const char *enterprise_id, const char *domain, GError **error)
{
  SqlDb *d = impl;
  char *lower = g_ascii_strdown(domain, -1);
  if (sql_write_begin(d, error) < 0) {
    g_free(lower);
    return -1;
  }
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "DELETE FROM enterprise_domains WHERE enterprise_id = ? AND domain = ?", error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, lower);
    if (sql_step_done(d, s, error, "remove domain") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  g_free(lower);
  return sql_write_end(d, ret, error);
}

/* ---- inbound addresses ---------------------------------------------------------------------- */

int sqlite_inbound_lookup(void *impl, const char *local_part, gint64 now, char **enterprise_id, GError **error)
{
  SqlDb *d = impl;
  *enterprise_id = NULL;
  char *lower = g_ascii_strdown(local_part, -1);
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT enterprise_id FROM inbound_addresses"
                             " WHERE local = ? AND (expires_at IS NULL OR expires_at > ?)",
                             error);
  if (!s) {
    g_free(lower);
    return -1;
  }
  sql_bind_text(s, 1, lower);
  sqlite3_bind_int64(s, 2, now);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *enterprise_id = sql_col_dup(s, 0);
  sql_reset(s);
  g_free(lower);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "inbound look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

static int inbound_rotate_body(SqlDb *d, const char *enterprise_id, const char *lower, gint64 old_expires_at,
                               GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE inbound_addresses SET expires_at = ?"
                             " WHERE enterprise_id = ? AND expires_at IS NULL AND local <> ?",
                             error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, old_expires_at);
  sql_bind_text(s, 2, enterprise_id);
  sql_bind_text(s, 3, lower);
  if (sql_step_done(d, s, error, "expire inbound address") < 0) return -1;
  s = sql_prep(d,
               "INSERT INTO inbound_addresses(local, enterprise_id, created_at, expires_at) VALUES(?1, ?2, ?3, NULL)"
               " ON CONFLICT(local) DO UPDATE SET expires_at = NULL WHERE enterprise_id = ?2",
               error);
  if (!s) return -1;
  sql_bind_text(s, 1, lower);
  sql_bind_text(s, 2, enterprise_id);
  sqlite3_bind_int64(s, 3, ma_now());
  if (sql_step_done(d, s, error, "add inbound address") < 0) return -1;
  if (sqlite3_changes(d->db) == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "inbound address %s is taken", lower);
    return -1;
  }
  return 0;
}

int sqlite_inbound_rotate(void *impl, const char *enterprise_id, const char *new_local, gint64 old_expires_at,
                          GError **error)
{
  SqlDb *d = impl;
  char *lower = g_ascii_strdown(new_local, -1);
  if (sql_write_begin(d, error) < 0) {
    g_free(lower);
    return -1;
  }
  int rc = sql_write_end(d, inbound_rotate_body(d, enterprise_id, lower, old_expires_at, error), error);
  g_free(lower);
  return rc;
}

int sqlite_inbound_list(void *impl, const char *enterprise_id, gint64 now, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT local FROM inbound_addresses"
                             " WHERE enterprise_id = ? AND (expires_at IS NULL OR expires_at > ?)"
                             " ORDER BY expires_at IS NOT NULL, expires_at DESC, local",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int64(s, 2, now);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "inbound list");
  return 0;
}

/* ---- employees ------------------------------------------------------------------------------ */

#define EMPLOYEE_COLS "id, enterprise_id, email, name, created_at"

static MaEmployee *employee_read(sqlite3_stmt *s)
{
  MaEmployee *e = g_new0(MaEmployee, 1);
  e->id = sql_col_dup(s, 0);
  e->enterprise_id = sql_col_dup(s, 1);
  e->email = sql_col_dup(s, 2);
  e->name = sql_col_dup(s, 3);
  e->created_at = sqlite3_column_int64(s, 4);
  return e;
}

int sqlite_employee_add(void *impl, const MaEmployee *e, GError **error)
{
  SqlDb *d = impl;
  g_assert(e && e->id && e->enterprise_id && e->email);
  char *email = g_utf8_strdown(e->email, -1);
  if (sql_write_begin(d, error) < 0) {
    g_free(email);
    return -1;
  }
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "INSERT INTO employees(" EMPLOYEE_COLS ") VALUES(?, ?, ?, ?, ?)", error);
  if (s) {
    sql_bind_text(s, 1, e->id);
    sql_bind_text(s, 2, e->enterprise_id);
    sql_bind_text(s, 3, email);
    sql_bind_text(s, 4, e->name);
    sqlite3_bind_int64(s, 5, e->created_at ? e->created_at : ma_now());
    int rc = sqlite3_step(s);
    sql_reset(s);
    if (rc == SQLITE_DONE)
      ret = 0;
    else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "%s is already an employee", email);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", e->enterprise_id);
    else
      sql_fail(d, rc, error, "add employee");
  }
  g_free(email);
  return sql_write_end(d, ret, error);
}

int sqlite_employee_remove(void *impl, const char *enterprise_id, const char *id_or_email, GError **error)
{
  SqlDb *d = impl;
  char *email = g_utf8_strdown(id_or_email, -1);
  if (sql_write_begin(d, error) < 0) {
    g_free(email);
    return -1;
  }
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "DELETE FROM employees WHERE enterprise_id = ? AND (id = ? OR email = ?)", error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, id_or_email);
    sql_bind_text(s, 3, email);
    if (sql_step_done(d, s, error, "remove employee") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  g_free(email);
  return sql_write_end(d, ret, error);
}

int sqlite_employee_find(void *impl, const char *enterprise_id, const char *id_or_email, MaEmployee **out,
                         GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  char *email = g_utf8_strdown(id_or_email, -1);
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT " EMPLOYEE_COLS " FROM employees WHERE enterprise_id = ?1 AND email = ?3"
                             " UNION ALL SELECT " EMPLOYEE_COLS " FROM employees WHERE enterprise_id = ?1 AND id = ?2"
                             " LIMIT 1",
                             error);
  if (!s) {
    g_free(email);
    return -1;
  }
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, id_or_email);
  sql_bind_text(s, 3, email);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = employee_read(s);
  sql_reset(s);
  g_free(email);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "find employee");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_employee_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT " EMPLOYEE_COLS " FROM employees WHERE enterprise_id = ? ORDER BY email", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, employee_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list employees");
  return 0;
}
