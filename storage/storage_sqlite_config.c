/* storage_sqlite_config.c - SQLite backend: API keys (hashes only), per-enterprise settings, the
 * per-enterprise rules array, the installation's shared values (set once each), and the leases of
 * the scheduled jobs' leaders.
 *
 * The secret of an API key is never stored or seen here: callers pass its hex SHA-256. Settings
 * values and the rules JSON are opaque text whose meaning belongs to their callers. Keys with a
 * NULL enterprise are admin keys.
 */
#include "sqlite_internal.h"

#include "agent/lib/clock.h"

/* ---- API keys ------------------------------------------------------------------------------- */

#define APIKEY_COLS "id, enterprise_id, label, prefix, created_at, revoked_at"

static MaApiKey *apikey_read(sqlite3_stmt *s)
{
  MaApiKey *k = g_new0(MaApiKey, 1);
  k->id = sql_col_dup(s, 0);
  k->enterprise_id = sql_col_dup(s, 1);
  k->label = sql_col_dup(s, 2);
  k->prefix = sql_col_dup(s, 3);
  k->created_at = sqlite3_column_int64(s, 4);
  k->revoked_at = sqlite3_column_int64(s, 5);
  return k;
}

int sqlite_apikey_add(void *impl, const MaApiKey *k, const char *secret_hash, GError **error)
{
  SqlDb *d = impl;
  g_assert(k && k->id && secret_hash);
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO api_keys(id, enterprise_id, label, prefix, secret_hash, created_at, revoked_at)"
                             " VALUES(?, ?, ?, ?, ?, ?, ?)",
                             error);
  if (s) {
    sql_bind_text(s, 1, k->id);
    sql_bind_text(s, 2, k->enterprise_id);
    sql_bind_text(s, 3, k->label);
    sql_bind_text(s, 4, k->prefix);
    sql_bind_text(s, 5, secret_hash);
    sqlite3_bind_int64(s, 6, k->created_at ? k->created_at : ma_now());
    sqlite3_bind_int64(s, 7, k->revoked_at);
    ret = sql_step_enterprise_row(d, s, k->enterprise_id, error, "add API key");
  }
  return sql_write_end(d, ret, error);
}

static int apikey_one(SqlDb *d, const char *sql, const char *arg, MaApiKey **out, GError **error)
{
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  sql_bind_text(s, 1, arg);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = apikey_read(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "API key look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_apikey_find(void *impl, const char *secret_hash, MaApiKey **out, GError **error)
{
  return apikey_one(impl, "SELECT " APIKEY_COLS " FROM api_keys WHERE secret_hash = ? AND revoked_at = 0", secret_hash,
                    out, error);
}

int sqlite_apikey_get(void *impl, const char *id, MaApiKey **out, GError **error)
{
  return apikey_one(impl, "SELECT " APIKEY_COLS " FROM api_keys WHERE id = ?", id, out, error);
}

int sqlite_apikey_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             enterprise_id
                                 ? "SELECT " APIKEY_COLS " FROM api_keys WHERE enterprise_id = ? ORDER BY created_at, id"
                                 : "SELECT " APIKEY_COLS " FROM api_keys WHERE enterprise_id IS NULL ORDER BY created_at, id",
                             error);
  if (!s) return -1;
  if (enterprise_id) sql_bind_text(s, 1, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, apikey_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list API keys");
  return 0;
}

int sqlite_apikey_revoke(void *impl, const char *id, gint64 now, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0", error);
  if (s) {
    sqlite3_bind_int64(s, 1, now > 0 ? now : 1);
    sql_bind_text(s, 2, id);
    if (sql_step_done(d, s, error, "revoke API key") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

/* ---- settings ------------------------------------------------------------------------------- */

int sqlite_setting_get(void *impl, const char *enterprise_id, const char *key, char **value, GError **error)
{
  SqlDb *d = impl;
  *value = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT value FROM settings WHERE enterprise_id = ? AND key = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, key);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *value = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "get setting");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_setting_set(void *impl, const char *enterprise_id, const char *key, const char *value, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             value ? "INSERT INTO settings(enterprise_id, key, value) VALUES(?, ?, ?)"
                                     " ON CONFLICT(enterprise_id, key) DO UPDATE SET value = excluded.value"
                                   : "DELETE FROM settings WHERE enterprise_id = ? AND key = ?",
                             error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, key);
    if (value) sql_bind_text(s, 3, value);
    ret = sql_step_enterprise_row(d, s, enterprise_id, error, "set setting");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_setting_list(void *impl, const char *enterprise_id, GHashTable *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT key, value FROM settings WHERE enterprise_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_hash_table_replace(out, sql_col_dup(s, 0), sql_col_dup(s, 1));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list settings");
  return 0;
}

/* ---- rules ---------------------------------------------------------------------------------- */

int sqlite_rules_get(void *impl, const char *enterprise_id, char **json_array, GError **error)
{
  SqlDb *d = impl;
  *json_array = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT json FROM rules WHERE enterprise_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *json_array = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "get rules");
  if (!*json_array) *json_array = g_strdup("[]");
  return 0;
}

int sqlite_rules_put(void *impl, const char *enterprise_id, const char *json_array, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO rules(enterprise_id, json) VALUES(?, ?)"
                             " ON CONFLICT(enterprise_id) DO UPDATE SET json = excluded.json",
                             error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, json_array ? json_array : "[]");
    ret = sql_step_enterprise_row(d, s, enterprise_id, error, "put rules");
  }
  return sql_write_end(d, ret, error);
}

/* ---- the installation's shared values ------------------------------------------------------------- */

int sqlite_installation_get(void *impl, const char *name, char **value, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT value FROM installation WHERE name = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, name);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *value = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "installation value look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_installation_set_once(void *impl, const char *name, const char *value, char **stored, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "INSERT INTO installation(name, value) VALUES(?, ?) ON CONFLICT(name) DO NOTHING", error);
  if (s) {
    sql_bind_text(s, 1, name);
    sql_bind_text(s, 2, value);
    ret = sql_step_done(d, s, error, "set installation value");
  }
  if (ret == 0) {
    ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
    if (sqlite_installation_get(d, name, stored, error) != 1) ret = -1;
  }
  return sql_write_end(d, ret, error);
}

/* ---- leaders of scheduled jobs ---------------------------------------------------------------------- */

/* One upsert under the write lock: a new job's row, or the caller's own or a run-out lease taken
 * (changes() is 0 when the DO UPDATE's WHERE refuses). Another process on the same database file
 * (a second `serve`) is refused while its lease runs. */
int sqlite_job_lease(void *impl, const char *job, const char *owner, gint64 now, gint64 until, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO job_leases(job, lease_owner, lease_until) VALUES(?1, ?2, ?4)"
                             " ON CONFLICT(job) DO UPDATE SET lease_owner = excluded.lease_owner,"
                             " lease_until = excluded.lease_until"
                             " WHERE job_leases.lease_owner = excluded.lease_owner OR job_leases.lease_until <= ?3",
                             error);
  if (s) {
    sql_bind_text(s, 1, job);
    sql_bind_text(s, 2, owner);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, until);
    ret = sql_step_done(d, s, error, "take job lease");
  }
  if (ret == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  return sql_write_end(d, ret, error);
}
