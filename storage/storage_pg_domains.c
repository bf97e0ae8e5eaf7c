/* storage_pg_domains.c - PostgreSQL backend: the verification state of each enterprise's domains
 * and their DKIM keys; the same contracts as storage_sqlite_domains.c.
 *
 * Several enterprises may claim one domain; the partial unique index enterprise_domains_owner lets
 * only one of them hold it verified, so two nodes verifying two claims at once cannot both win
 * (the loser's statement fails with a unique violation: MA_ERROR_CONFLICT). Marking a claim
 * verified drops the other enterprises' unverified claims in the same transaction. Private keys
 * arrive sealed; this file never sees them in clear.
 */
#include "pg_internal.h"

#define DOMAIN_COLS "enterprise_id, domain, status, reason, detail, failures, dns_errors, checked_at," \
                    " next_check_at, verified_at, created_at, challenge, return_path"
#define KEY_COLS "id, enterprise_id, domain, selector, algorithm, private_sealed, public_b64, state, target," \
                 " published, created_at, activated_at, retired_at"

static MaDomain *domain_read(const PGresult *r, int row)
{
  MaDomain *d = g_new0(MaDomain, 1);
  d->enterprise_id = pg_col_dup(r, row, 0);
  d->domain = pg_col_dup(r, row, 1);
  d->status = pg_col_dup(r, row, 2);
  d->reason = pg_col_dup(r, row, 3);
  d->detail = pg_col_dup(r, row, 4);
  d->failures = (int)pg_col_int(r, row, 5);
  d->dns_errors = (int)pg_col_int(r, row, 6);
  d->checked_at = pg_col_int(r, row, 7);
  d->next_check_at = pg_col_int(r, row, 8);
  d->verified_at = pg_col_int(r, row, 9);
  d->created_at = pg_col_int(r, row, 10);
  d->challenge = pg_col_dup(r, row, 11);
  d->return_path = pg_col_dup(r, row, 12);
  return d;
}

static int domains_collect(PGresult *r, GPtrArray *out)
{
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, domain_read(r, i));
  PQclear(r);
  return 0;
}

int pg_domain_get(void *impl, const char *enterprise_id, const char *domain, MaDomain **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, domain);
  PGresult *r = pg_run(d, "SELECT " DOMAIN_COLS " FROM enterprise_domains WHERE enterprise_id = $1 AND domain = $2", &p,
                       "domains", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = domain_read(r, 0);
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_domain_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  return domains_collect(pg_run(d, "SELECT " DOMAIN_COLS " FROM enterprise_domains WHERE enterprise_id = $1 ORDER BY domain",
                                &p, "domains", error),
                         out);
}

int pg_domain_due(void *impl, gint64 now, int limit, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_int(&p, now);
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT64);
  return domains_collect(pg_run(d,
                                "SELECT " DOMAIN_COLS " FROM enterprise_domains WHERE next_check_at <= $1"
                                " ORDER BY next_check_at, enterprise_id, domain LIMIT $2",
                                &p, "domains", error),
                         out);
}

static int domain_update_body(PgDb *d, const MaDomain *dom, GError **error)
{
  PgParams who = {0};
  pg_param_text(&who, dom->domain);
  pg_param_text(&who, dom->enterprise_id);
  if (g_strcmp0(dom->status, "verified") == 0) {
    PGresult *r = pg_run(d,
                         "SELECT enterprise_id FROM enterprise_domains WHERE domain = $1 AND status = 'verified'"
                         " AND enterprise_id <> $2",
                         &who, "domain owner", error);
    if (!r) return -1;
    gboolean taken = PQntuples(r) > 0;
    PQclear(r);
    if (taken) {
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "domain %s is verified by another enterprise", dom->domain);
      return -1;
    }
    if (pg_exec(d, "DELETE FROM enterprise_domains WHERE domain = $1 AND enterprise_id <> $2", &who, "drop other claims",
                error) < 0)
      return -1;
  }
  PgParams p = {0};
  pg_param_text(&p, dom->status);
  pg_param_text(&p, dom->reason);
  pg_param_text(&p, dom->detail);
  pg_param_int(&p, dom->failures);
  pg_param_int(&p, dom->dns_errors);
  pg_param_int(&p, dom->checked_at);
  pg_param_int(&p, dom->next_check_at);
  pg_param_int(&p, dom->verified_at);
  pg_param_text(&p, dom->return_path ? dom->return_path : "bounce");
  pg_param_text(&p, dom->enterprise_id);
  pg_param_text(&p, dom->domain);
  GError *local = NULL;
  gint64 n = pg_exec(d,
                     "UPDATE enterprise_domains SET status = $1, reason = $2, detail = $3, failures = $4, dns_errors = $5,"
                     " checked_at = $6, next_check_at = $7, verified_at = $8, return_path = $9"
                     " WHERE enterprise_id = $10 AND domain = $11",
                     &p, "update domain", &local);
  if (n < 0 && local->code == MA_ERROR_CONFLICT) { /* another node verified it between our check and here */
    g_clear_error(&local);
    g_set_error(&local, MA_ERROR, MA_ERROR_CONFLICT, "domain %s is verified by another enterprise", dom->domain);
  }
  if (n < 0) {
    g_propagate_error(error, local);
    return -1;
  }
  if (n == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "%s is not a domain of this enterprise", dom->domain);
    return -1;
  }
  return 0;
}

int pg_domain_update(void *impl, const MaDomain *dom, GError **error)
{
  PgDb *d = impl;
  g_assert(dom && dom->enterprise_id && dom->domain && dom->status);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, domain_update_body(d, dom, error), error);
}

int pg_domain_owner(void *impl, const char *domain, char **enterprise_id, GError **error)
{
  PgDb *d = impl;
  *enterprise_id = NULL;
  PgParams p = {0};
  pg_param_text(&p, domain);
  PGresult *r = pg_run(d, "SELECT enterprise_id FROM enterprise_domains WHERE domain = $1 AND status = 'verified'", &p,
                       "domain owner", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *enterprise_id = pg_col_dup(r, 0, 0);
  PQclear(r);
  return *enterprise_id ? 1 : 0;
}

int pg_domain_report_put(void *impl, const char *enterprise_id, const char *domain, const char *json, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, json);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, domain);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, "UPDATE enterprise_domains SET report = $1 WHERE enterprise_id = $2 AND domain = $3", &p,
                     "store domain report", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_domain_report_get(void *impl, const char *enterprise_id, const char *domain, char **json, GError **error)
{
  PgDb *d = impl;
  *json = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, domain);
  PGresult *r = pg_run(d,
                       "SELECT report FROM enterprise_domains WHERE enterprise_id = $1 AND domain = $2 AND report IS NOT NULL",
                       &p, "domain report", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *json = pg_col_dup(r, 0, 0);
  PQclear(r);
  return *json ? 1 : 0;
}

/* ---- DKIM keys ------------------------------------------------------------------------------------ */

int pg_domain_key_add(void *impl, const MaDomainKey *k, GError **error)
{
  PgDb *d = impl;
  g_assert(k && k->id && k->enterprise_id && k->domain && k->selector && k->private_sealed && k->public_b64);
  PgParams p = {0};
  pg_param_text(&p, k->id);
  pg_param_text(&p, k->enterprise_id);
  pg_param_text(&p, k->domain);
  pg_param_text(&p, k->selector);
  pg_param_text(&p, k->algorithm);
  pg_param_text(&p, k->private_sealed);
  pg_param_text(&p, k->public_b64);
  pg_param_text(&p, k->state ? k->state : "pending");
  pg_param_text(&p, k->target);
  pg_param_text(&p, k->published ? "true" : "false");
  pg_param_int(&p, k->created_at);
  pg_param_int(&p, k->activated_at);
  pg_param_int(&p, k->retired_at);
  if (pg_write_begin(d, error) < 0) return -1;
  GError *local = NULL;
  gint64 n = pg_exec(d, "INSERT INTO dkim_keys(" KEY_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                     &p, "add DKIM key", &local);
  if (n < 0 && local->code == MA_ERROR_NOT_FOUND) {
    g_clear_error(&local);
    g_set_error(&local, MA_ERROR, MA_ERROR_NOT_FOUND, "%s is not a domain of this enterprise", k->domain);
  } else if (n < 0 && local->code == MA_ERROR_CONFLICT) {
    g_clear_error(&local);
    g_set_error(&local, MA_ERROR, MA_ERROR_CONFLICT, "selector %s exists already for %s", k->selector, k->domain);
  }
  if (local) g_propagate_error(error, local);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_domain_key_list(void *impl, const char *enterprise_id, const char *domain, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, domain);
  PGresult *r = pg_run(d, "SELECT " KEY_COLS " FROM dkim_keys WHERE enterprise_id = $1 AND domain = $2 ORDER BY created_at, id",
                       &p, "DKIM keys", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    MaDomainKey *k = g_new0(MaDomainKey, 1);
    k->id = pg_col_dup(r, i, 0);
    k->enterprise_id = pg_col_dup(r, i, 1);
    k->domain = pg_col_dup(r, i, 2);
    k->selector = pg_col_dup(r, i, 3);
    k->algorithm = pg_col_dup(r, i, 4);
    k->private_sealed = pg_col_dup(r, i, 5);
    k->public_b64 = pg_col_dup(r, i, 6);
    k->state = pg_col_dup(r, i, 7);
    k->target = pg_col_dup(r, i, 8);
    k->published = g_strcmp0(PQgetvalue(r, i, 9), "t") == 0;
    k->created_at = pg_col_int(r, i, 10);
    k->activated_at = pg_col_int(r, i, 11);
    k->retired_at = pg_col_int(r, i, 12);
    g_ptr_array_add(out, k);
  }
  PQclear(r);
  return 0;
}

int pg_domain_key_remove(void *impl, const char *enterprise_id, const char *id, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, id);
  pg_param_text(&p, enterprise_id);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, "DELETE FROM dkim_keys WHERE id = $1 AND enterprise_id = $2", &p, "remove DKIM key", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_domain_key_update(void *impl, const MaDomainKey *k, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, k->state);
  pg_param_text(&p, k->published ? "true" : "false");
  pg_param_int(&p, k->activated_at);
  pg_param_int(&p, k->retired_at);
  pg_param_text(&p, k->id);
  pg_param_text(&p, k->enterprise_id);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d,
                     "UPDATE dkim_keys SET state = $1, published = $2, activated_at = $3, retired_at = $4"
                     " WHERE id = $5 AND enterprise_id = $6",
                     &p, "update DKIM key", error);
  if (n == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no DKIM key %s", k->id);
  return pg_write_end(d, n <= 0 ? -1 : 0, error);
}
