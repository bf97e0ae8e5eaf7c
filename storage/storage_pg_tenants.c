/* storage_pg_tenants.c - PostgreSQL backend: enterprises, their domains, their virtual inbound
 * addresses (with the grace period of rotated ones), the tenant version and employees; the same
 * contracts and results as storage_sqlite_tenants.c.
 *
 * Inbound local parts and e-mail addresses are stored lower-cased and compared lower-cased.
 * Everything except the admin listing and the inbound look-up (which is how a tenant is found) is
 * scoped by enterprise_id.
 */
#include "pg_internal.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <string.h>

/* ---- enterprises ------------------------------------------------------------------------------- */

/* Claims domain for enterprise_id: refused only when another enterprise holds it verified (an
 * unverified claim blocks nobody). Claiming it again is a no-op. */
static int domain_insert(PgDb *d, const char *enterprise_id, const char *domain, GError **error)
{
  g_autofree char *lower = g_ascii_strdown(domain, -1);
  g_autofree char *challenge = ma_random_hex(16);
  PgParams p = {0};
  pg_param_text(&p, lower);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d,
                       "SELECT enterprise_id FROM enterprise_domains WHERE domain = $1 AND status = 'verified'"
                       " AND enterprise_id <> $2",
                       &p, "domain look-up", error);
  if (!r) return -1;
  int taken = PQntuples(r) > 0;
  PQclear(r);
  if (taken) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "domain %s is verified by another enterprise", lower);
    return -1;
  }
  gint64 now = ma_now();
  pg_param_int(&p, now);
  pg_param_text(&p, challenge);
  return pg_exec_enterprise_row(d,
                                "INSERT INTO enterprise_domains(domain, enterprise_id, created_at, next_check_at, challenge)"
                                " VALUES($1, $2, $3, $3, $4) ON CONFLICT DO NOTHING",
                                &p, enterprise_id, "add domain", error) < 0 ? -1 : 0;
}

static int enterprise_create_body(PgDb *d, const MaEnterprise *e, GError **error)
{
  gint64 created = e->created_at ? e->created_at : ma_now();
  PgParams p = {0};
  pg_param_text(&p, e->id);
  pg_param_text(&p, e->slug);
  pg_param_text(&p, e->name ? e->name : e->slug);
  pg_param_int(&p, created);
  GError *local = NULL;
  if (pg_exec(d, "INSERT INTO enterprises(id, slug, name, created_at) VALUES($1, $2, $3, $4)", &p, "create enterprise",
              &local) < 0) {
    if (local->code == MA_ERROR_CONFLICT) {
      g_clear_error(&local);
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "enterprise %s already exists", e->slug);
    } else {
      g_propagate_error(error, local);
    }
    return -1;
  }
  for (guint i = 0; e->domains && i < e->domains->len; i++)
    if (domain_insert(d, e->id, g_ptr_array_index(e->domains, i), error) < 0) return -1;
  if (e->inbound_local && *e->inbound_local) {
    g_autofree char *lower = g_ascii_strdown(e->inbound_local, -1);
    PgParams q = {0};
    pg_param_text(&q, lower);
    pg_param_text(&q, e->id);
    pg_param_int(&q, created);
    if (pg_exec(d, "INSERT INTO inbound_addresses(local, enterprise_id, created_at, expires_at) VALUES($1, $2, $3, NULL)",
                &q, "add inbound address", error) < 0)
      return -1;
  }
  return 0;
}

int pg_enterprise_create(void *impl, const MaEnterprise *e, GError **error)
{
  PgDb *d = impl;
  g_assert(e && e->id && e->slug);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, enterprise_create_body(d, e, error), error);
}

/* Fills domains and the current inbound local part of e. */
static int enterprise_fill(PgDb *d, MaEnterprise *e, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, e->id);
  PGresult *r = pg_run(d, "SELECT domain FROM enterprise_domains WHERE enterprise_id = $1 ORDER BY domain", &p,
                       "enterprise domains", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(e->domains, pg_col_dup(r, i, 0));
  PQclear(r);
  r = pg_run(d, "SELECT local FROM inbound_addresses WHERE enterprise_id = $1 AND expires_at IS NULL", &p,
             "enterprise inbound", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) e->inbound_local = pg_col_dup(r, 0, 0);
  PQclear(r);
  return 0;
}

static MaEnterprise *enterprise_read(const PGresult *r, int row)
{
  MaEnterprise *e = g_new0(MaEnterprise, 1);
  e->id = pg_col_dup(r, row, 0);
  e->slug = pg_col_dup(r, row, 1);
  e->name = pg_col_dup(r, row, 2);
  e->created_at = pg_col_int(r, row, 3);
  e->domains = g_ptr_array_new_with_free_func(g_free);
  return e;
}

int pg_enterprise_get(void *impl, const char *id_or_slug, MaEnterprise **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, id_or_slug);
  PGresult *r = pg_run(d,
                       "(SELECT id, slug, name, created_at FROM enterprises WHERE id = $1)"
                       " UNION ALL (SELECT id, slug, name, created_at FROM enterprises WHERE slug = lower($1)) LIMIT 1",
                       &p, "enterprise get", error);
  if (!r) return -1;
  MaEnterprise *e = PQntuples(r) > 0 ? enterprise_read(r, 0) : NULL;
  PQclear(r);
  if (!e) return 0;
  if (enterprise_fill(d, e, error) < 0) {
    ma_enterprise_free(e);
    return -1;
  }
  *out = e;
  return 1;
}

int pg_enterprise_list(void *impl, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PGresult *r = pg_run(d, "SELECT id, slug, name, created_at FROM enterprises ORDER BY created_at, id", NULL,
                       "enterprise list", error);
  if (!r) return -1;
  g_autoptr(GPtrArray) tmp = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(tmp, enterprise_read(r, i));
  PQclear(r);
  for (guint i = 0; i < tmp->len; i++)
    if (enterprise_fill(d, g_ptr_array_index(tmp, i), error) < 0) return -1;
  for (guint i = 0; i < tmp->len; i++) g_ptr_array_add(out, g_ptr_array_steal_index(tmp, i--));
  return 0;
}

int pg_enterprise_domain_add(void *impl, const char *enterprise_id, const char *domain, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, domain_insert(d, enterprise_id, domain, error), error);
}

int pg_enterprise_domain_remove(void *impl, const char *enterprise_id, const char *domain, GError **error)
{
  PgDb *d = impl;
  g_autofree char *lower = g_ascii_strdown(domain, -1);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, lower);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, "DELETE FROM enterprise_domains WHERE enterprise_id = $1 AND domain = $2", &p, "remove domain",
                     error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

/* ---- inbound addresses ------------------------------------------------------------------------- */

int pg_inbound_lookup(void *impl, const char *local_part, gint64 now, char **enterprise_id, GError **error)
{
  PgDb *d = impl;
  *enterprise_id = NULL;
  g_autofree char *lower = g_ascii_strdown(local_part, -1);
  PgParams p = {0};
  pg_param_text(&p, lower);
  pg_param_int(&p, now);
  PGresult *r = pg_run(d,
                       "SELECT enterprise_id FROM inbound_addresses WHERE local = $1 AND (expires_at IS NULL OR expires_at > $2)",
                       &p, "inbound look-up", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *enterprise_id = pg_col_dup(r, 0, 0);
  PQclear(r);
  return *enterprise_id ? 1 : 0;
}

static int inbound_rotate_body(PgDb *d, const char *enterprise_id, const char *lower, gint64 old_expires_at,
                               GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, old_expires_at);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, lower);
  if (pg_exec(d, "UPDATE inbound_addresses SET expires_at = $1 WHERE enterprise_id = $2 AND expires_at IS NULL AND local <> $3",
              &p, "expire inbound address", error) < 0)
    return -1;
  PgParams q = {0};
  pg_param_text(&q, lower);
  pg_param_text(&q, enterprise_id);
  pg_param_int(&q, ma_now());
  gint64 n = pg_exec(d,
                     "INSERT INTO inbound_addresses(local, enterprise_id, created_at, expires_at) VALUES($1, $2, $3, NULL)"
                     " ON CONFLICT(local) DO UPDATE SET expires_at = NULL WHERE inbound_addresses.enterprise_id = $2",
                     &q, "add inbound address", error);
  if (n < 0) return -1;
  if (n == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "inbound address %s is taken", lower);
    return -1;
  }
  return 0;
}

int pg_inbound_rotate(void *impl, const char *enterprise_id, const char *new_local, gint64 old_expires_at,
                      GError **error)
{
  PgDb *d = impl;
  g_autofree char *lower = g_ascii_strdown(new_local, -1);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, inbound_rotate_body(d, enterprise_id, lower, old_expires_at, error), error);
}

int pg_inbound_list(void *impl, const char *enterprise_id, gint64 now, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, now);
  PGresult *r = pg_run(d,
                       "SELECT local FROM inbound_addresses WHERE enterprise_id = $1 AND (expires_at IS NULL OR expires_at > $2)"
                       " ORDER BY expires_at IS NOT NULL, expires_at DESC, local",
                       &p, "inbound list", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, pg_col_dup(r, i, 0));
  PQclear(r);
  return 0;
}

int pg_inbound_all(void *impl, gint64 now, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_int(&p, now);
  PGresult *r = pg_run(d,
                       "SELECT local, enterprise_id, coalesce(expires_at, 0) FROM inbound_addresses"
                       " WHERE expires_at IS NULL OR expires_at > $1",
                       &p, "inbound list (all)", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    MaInboundAddress *a = g_new0(MaInboundAddress, 1);
    a->local = pg_col_dup(r, i, 0);
    a->enterprise_id = pg_col_dup(r, i, 1);
    a->expires_at = pg_col_int(r, i, 2);
    g_ptr_array_add(out, a);
  }
  PQclear(r);
  return 0;
}

/* 001_tenants.sql's counter, bumped by a trigger on every tenant table the SMTP snapshot reads. */
int pg_tenant_version(void *impl, gint64 *out, GError **error)
{
  PgDb *d = impl;
  *out = 0;
  PGresult *r = pg_run(d, "SELECT n FROM counters WHERE name = 'tenant_version'", NULL, "tenant version", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

/* admin: the counters for /metrics, read in one statement so they agree with each other. */
int pg_counts(void *impl, gint64 *messages, gint64 *activities, gint64 *records, GError **error)
{
  PgDb *d = impl;
  PGresult *r = pg_run(d,
                       "SELECT (SELECT n FROM counters WHERE name = 'messages'), (SELECT n FROM counters WHERE name = 'activities'),"
                       " (SELECT n FROM counters WHERE name = 'records')",
                       NULL, "counts", error);
  if (!r) return -1;
  *messages = pg_col_int(r, 0, 0);
  *activities = pg_col_int(r, 0, 1);
  *records = pg_col_int(r, 0, 2);
  PQclear(r);
  return 0;
}

/* ---- employees ---------------------------------------------------------------------------------- */

#define EMPLOYEE_COLS "id, enterprise_id, email, name, created_at"

static MaEmployee *employee_read(const PGresult *r, int row)
{
  MaEmployee *e = g_new0(MaEmployee, 1);
  e->id = pg_col_dup(r, row, 0);
  e->enterprise_id = pg_col_dup(r, row, 1);
  e->email = pg_col_dup(r, row, 2);
  e->name = pg_col_dup(r, row, 3);
  e->created_at = pg_col_int(r, row, 4);
  return e;
}

int pg_employee_add(void *impl, const MaEmployee *e, GError **error)
{
  PgDb *d = impl;
  g_assert(e && e->id && e->enterprise_id && e->email);
  g_autofree char *email = g_utf8_strdown(e->email, -1);
  PgParams p = {0};
  pg_param_text(&p, e->id);
  pg_param_text(&p, e->enterprise_id);
  pg_param_text(&p, email);
  pg_param_text(&p, e->name);
  pg_param_int(&p, e->created_at ? e->created_at : ma_now());
  if (pg_write_begin(d, error) < 0) return -1;
  GError *local = NULL;
  int ret = pg_exec_enterprise_row(d, "INSERT INTO employees(" EMPLOYEE_COLS ") VALUES($1, $2, $3, $4, $5)", &p,
                                   e->enterprise_id, "add employee", &local) < 0 ? -1 : 0;
  if (ret < 0 && local->code == MA_ERROR_CONFLICT) {
    g_clear_error(&local);
    g_set_error(&local, MA_ERROR, MA_ERROR_CONFLICT, "%s is already an employee", email);
  }
  if (local) g_propagate_error(error, local);
  return pg_write_end(d, ret, error);
}

int pg_employee_remove(void *impl, const char *enterprise_id, const char *id_or_email, GError **error)
{
  PgDb *d = impl;
  g_autofree char *email = g_utf8_strdown(id_or_email, -1);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id_or_email);
  pg_param_text(&p, email);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, "DELETE FROM employees WHERE enterprise_id = $1 AND (id = $2 OR email = $3)", &p,
                     "remove employee", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_employee_find(void *impl, const char *enterprise_id, const char *id_or_email, MaEmployee **out,
                     GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  g_autofree char *email = g_utf8_strdown(id_or_email, -1);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id_or_email);
  pg_param_text(&p, email);
  PGresult *r = pg_run(d,
                       "(SELECT " EMPLOYEE_COLS " FROM employees WHERE enterprise_id = $1 AND email = $3)"
                       " UNION ALL (SELECT " EMPLOYEE_COLS " FROM employees WHERE enterprise_id = $1 AND id = $2) LIMIT 1",
                       &p, "find employee", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = employee_read(r, 0);
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_employee_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, "SELECT " EMPLOYEE_COLS " FROM employees WHERE enterprise_id = $1 ORDER BY email", &p,
                       "list employees", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, employee_read(r, i));
  PQclear(r);
  return 0;
}
