/* storage_pg_config.c - PostgreSQL backend: API keys (hashes only), per-enterprise settings, the
 * per-enterprise rules array, and the installation's shared values (set once each: two nodes
 * setting one at once both read back the value the primary key let in), and the leases of the
 * scheduled jobs' leaders (one conditional upsert: two nodes asking at once, one is granted); the
 * same contracts and results as storage_sqlite_config.c.
 *
 * The secret of an API key is never stored or seen here: callers pass its hex SHA-256. Settings
 * values and the rules JSON are opaque text whose meaning belongs to their callers. Keys with a
 * NULL enterprise are admin keys.
 */
#include "pg_internal.h"

#include "agent/lib/clock.h"

/* ---- API keys ---------------------------------------------------------------------------------- */

#define APIKEY_COLS "id, enterprise_id, label, prefix, created_at, revoked_at"

static MaApiKey *apikey_read(const PGresult *r, int row)
{
  MaApiKey *k = g_new0(MaApiKey, 1);
  k->id = pg_col_dup(r, row, 0);
  k->enterprise_id = pg_col_dup(r, row, 1);
  k->label = pg_col_dup(r, row, 2);
  k->prefix = pg_col_dup(r, row, 3);
  k->created_at = pg_col_int(r, row, 4);
  k->revoked_at = pg_col_int(r, row, 5);
  return k;
}

int pg_apikey_add(void *impl, const MaApiKey *k, const char *secret_hash, GError **error)
{
  PgDb *d = impl;
  g_assert(k && k->id && secret_hash);
  PgParams p = {0};
  pg_param_text(&p, k->id);
  pg_param_text(&p, k->enterprise_id);
  pg_param_text(&p, k->label);
  pg_param_text(&p, k->prefix);
  pg_param_text(&p, secret_hash);
  pg_param_int(&p, k->created_at ? k->created_at : ma_now());
  pg_param_int(&p, k->revoked_at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO api_keys(id, enterprise_id, label, prefix, secret_hash, created_at, revoked_at)"
                                    " VALUES($1, $2, $3, $4, $5, $6, $7)",
                                    &p, k->enterprise_id, "add API key", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

static int apikey_one(PgDb *d, const char *sql, const char *arg, MaApiKey **out, GError **error)
{
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, arg);
  PGresult *r = pg_run(d, sql, &p, "API key look-up", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = apikey_read(r, 0);
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_apikey_find(void *impl, const char *secret_hash, MaApiKey **out, GError **error)
{
  return apikey_one(impl, "SELECT " APIKEY_COLS " FROM api_keys WHERE secret_hash = $1 AND revoked_at = 0", secret_hash,
                    out, error);
}

int pg_apikey_get(void *impl, const char *id, MaApiKey **out, GError **error)
{
  return apikey_one(impl, "SELECT " APIKEY_COLS " FROM api_keys WHERE id = $1", id, out, error);
}

int pg_apikey_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  if (enterprise_id) pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d,
                       enterprise_id ? "SELECT " APIKEY_COLS " FROM api_keys WHERE enterprise_id = $1 ORDER BY created_at, id"
                                     : "SELECT " APIKEY_COLS " FROM api_keys WHERE enterprise_id IS NULL ORDER BY created_at, id",
                       &p, "list API keys", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, apikey_read(r, i));
  PQclear(r);
  return 0;
}

int pg_apikey_revoke(void *impl, const char *id, gint64 now, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_int(&p, now > 0 ? now : 1);
  pg_param_text(&p, id);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0", &p, "revoke API key", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

/* ---- settings ------------------------------------------------------------------------------------- */

int pg_setting_get(void *impl, const char *enterprise_id, const char *key, char **value, GError **error)
{
  PgDb *d = impl;
  *value = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, key);
  PGresult *r = pg_run(d, "SELECT value FROM settings WHERE enterprise_id = $1 AND key = $2", &p, "get setting", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *value = pg_col_dup(r, 0, 0);
  PQclear(r);
  return *value ? 1 : 0;
}

int pg_setting_set(void *impl, const char *enterprise_id, const char *key, const char *value, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, key);
  if (value) pg_param_text(&p, value);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    value ? "INSERT INTO settings(enterprise_id, key, value) VALUES($1, $2, $3)"
                                            " ON CONFLICT(enterprise_id, key) DO UPDATE SET value = excluded.value"
                                          : "DELETE FROM settings WHERE enterprise_id = $1 AND key = $2",
                                    &p, enterprise_id, "set setting", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_setting_list(void *impl, const char *enterprise_id, GHashTable *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, "SELECT key, value FROM settings WHERE enterprise_id = $1", &p, "list settings", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_hash_table_replace(out, pg_col_dup(r, i, 0), pg_col_dup(r, i, 1));
  PQclear(r);
  return 0;
}

/* ---- rules ---------------------------------------------------------------------------------------- */

int pg_rules_get(void *impl, const char *enterprise_id, char **json_array, GError **error)
{
  PgDb *d = impl;
  *json_array = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, "SELECT json FROM rules WHERE enterprise_id = $1", &p, "get rules", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *json_array = pg_col_dup(r, 0, 0);
  PQclear(r);
  if (!*json_array) *json_array = g_strdup("[]");
  return 0;
}

int pg_rules_put(void *impl, const char *enterprise_id, const char *json_array, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, json_array ? json_array : "[]");
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO rules(enterprise_id, json) VALUES($1, $2)"
                                    " ON CONFLICT(enterprise_id) DO UPDATE SET json = excluded.json",
                                    &p, enterprise_id, "put rules", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

/* ---- the installation's shared values ------------------------------------------------------------- */

int pg_installation_get(void *impl, const char *name, char **value, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, name);
  PGresult *r = pg_run(impl, "SELECT value FROM installation WHERE name = $1", &p, "installation value look-up", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *value = pg_col_dup(r, 0, 0);
  PQclear(r);
  return *value ? 1 : 0;
}

int pg_installation_set_once(void *impl, const char *name, const char *value, char **stored, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, name);
  pg_param_text(&p, value);
  if (pg_write_begin(d, error) < 0) return -1;
  /* a concurrent insert of the same name waits for the first to commit, then does nothing */
  gint64 n = pg_exec(d, "INSERT INTO installation(name, value) VALUES($1, $2) ON CONFLICT(name) DO NOTHING", &p,
                     "set installation value", error);
  if (n >= 0 && pg_installation_get(d, name, stored, error) != 1) n = -1;
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

/* ---- leaders of scheduled jobs ---------------------------------------------------------------------- */

/* One statement decides: the insert of a new job's row, or the update of a row that is the
 * caller's own or has run out. A concurrent upsert of the same job waits for the first to commit
 * and then tests the WHERE against the row it wrote, so the second node is refused, not granted
 * twice. A lease row rather than pg_try_advisory_lock: see storage/pg/041_job_leases.sql. */
int pg_job_lease(void *impl, const char *job, const char *owner, gint64 now, gint64 until, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, job);
  pg_param_text(&p, owner);
  pg_param_int(&p, now);
  pg_param_int(&p, until);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d,
                     "INSERT INTO job_leases(job, lease_owner, lease_until) VALUES($1, $2, $4)"
                     " ON CONFLICT(job) DO UPDATE SET lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until"
                     " WHERE job_leases.lease_owner = EXCLUDED.lease_owner OR job_leases.lease_until <= $3",
                     &p, "take job lease", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}
