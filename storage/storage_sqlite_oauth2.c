/* storage_sqlite_oauth2.c - OAuth2 grants (sealed access and refresh tokens per owner) and the
 * single-use `state` values of the authorization-code flow.
 *
 * A refresh that rotates the refresh token stores the new one in the same statement that retires
 * the old one (compare-and-set on the generation), so a crash can never leave mailagent holding
 * only a refresh token the provider has already invalidated, and two refreshers cannot both win.
 * Tokens are opaque sealed strings here; they are never logged. What owns a grant (a mailbox, a
 * relay) deletes it with its own row through sql_delete_with_grant.
 */
#include "sqlite_internal.h"

#define GRANT_COLS "owner, enterprise_id, provider, access_sealed, access_expires_at, refresh_sealed, generation," \
                   " state, updated_at"

int sqlite_oauth2_grant_put(void *impl, const MaOAuth2Grant *g, GError **error)
{
  SqlDb *d = impl;
  g_assert(g && g->owner && g->enterprise_id);
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO oauth2_grants(" GRANT_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1, 'valid', ?7)"
                             " ON CONFLICT(owner) DO UPDATE SET enterprise_id = ?2, provider = ?3,"
                             " access_sealed = ?4, access_expires_at = ?5, refresh_sealed = ?6,"
                             " generation = generation + 1, state = 'valid', updated_at = ?7",
                             error);
  if (s) {
    sql_bind_text(s, 1, g->owner);
    sql_bind_text(s, 2, g->enterprise_id);
    sql_bind_text(s, 3, g->provider);
    sql_bind_text(s, 4, g->access_sealed);
    sqlite3_bind_int64(s, 5, g->access_expires_at);
    sql_bind_text(s, 6, g->refresh_sealed);
    sqlite3_bind_int64(s, 7, g->updated_at);
    ret = sql_step_enterprise_row(d, s, g->enterprise_id, error, "store OAuth2 grant");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_oauth2_grant_get(void *impl, const char *owner, MaOAuth2Grant **out, GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT " GRANT_COLS " FROM oauth2_grants WHERE owner = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, owner);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    MaOAuth2Grant *g = g_new0(MaOAuth2Grant, 1);
    g->owner = sql_col_dup(s, 0);
    g->enterprise_id = sql_col_dup(s, 1);
    g->provider = sql_col_dup(s, 2);
    g->access_sealed = sql_col_dup(s, 3);
    g->access_expires_at = sqlite3_column_int64(s, 4);
    g->refresh_sealed = sql_col_dup(s, 5);
    g->generation = sqlite3_column_int64(s, 6);
    g->state = sql_col_dup(s, 7);
    g->updated_at = sqlite3_column_int64(s, 8);
    *out = g;
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "OAuth2 grant look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_oauth2_grant_rotate(void *impl, const char *owner, gint64 expect_generation, const char *access_sealed,
                               gint64 access_expires_at, const char *refresh_sealed, gint64 now, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  /* One statement: the new refresh token replaces the old (now used) one only when nobody else
   * refreshed in between; coalesce keeps the old one when the provider sent none (Google). */
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE oauth2_grants SET access_sealed = ?3, access_expires_at = ?4,"
                             " refresh_sealed = coalesce(?5, refresh_sealed), generation = generation + 1,"
                             " state = 'valid', updated_at = ?6 WHERE owner = ?1 AND generation = ?2",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, owner);
  sqlite3_bind_int64(s, 2, expect_generation);
  sql_bind_text(s, 3, access_sealed);
  sqlite3_bind_int64(s, 4, access_expires_at);
  sql_bind_text(s, 5, refresh_sealed);
  sqlite3_bind_int64(s, 6, now);
  int ret = sql_step_done(d, s, error, "rotate OAuth2 tokens");
  if (ret == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  return sql_write_end(d, ret, error);
}

int sqlite_oauth2_grant_revoke(void *impl, const char *owner, gint64 now, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE oauth2_grants SET state = 'revoked', access_sealed = NULL, updated_at = ?2,"
                             " generation = generation + 1 WHERE owner = ?1",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, owner);
  sqlite3_bind_int64(s, 2, now);
  return sql_write_end(d, sql_step_done(d, s, error, "revoke OAuth2 grant"), error);
}

int sqlite_oauth2_state_add(void *impl, const char *state, const char *owner, const char *enterprise_id,
                            const char *verifier_sealed, gint64 expires_at, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO oauth2_states(state, owner, enterprise_id, verifier_sealed, expires_at)"
                             " VALUES(?, ?, ?, ?, ?)",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, state);
  sql_bind_text(s, 2, owner);
  sql_bind_text(s, 3, enterprise_id);
  sql_bind_text(s, 4, verifier_sealed);
  sqlite3_bind_int64(s, 5, expires_at);
  return sql_write_end(d, sql_step_enterprise_row(d, s, enterprise_id, error, "store OAuth2 state"), error);
}

int sqlite_oauth2_state_take(void *impl, const char *state, gint64 now, char **owner, char **verifier_sealed,
                             GError **error)
{
  SqlDb *d = impl;
  *owner = *verifier_sealed = NULL;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE oauth2_states SET used_at = ?2 WHERE state = ?1 AND used_at IS NULL"
                             " AND expires_at > ?2 RETURNING owner, verifier_sealed",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, state);
  sqlite3_bind_int64(s, 2, now);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *owner = sql_col_dup(s, 0);
    *verifier_sealed = sql_col_dup(s, 1);
    rc = sqlite3_step(s);
  }
  sql_reset(s);
  int ret = rc == SQLITE_DONE ? (*owner ? 1 : 0) : sql_fail(d, rc, error, "take OAuth2 state");
  if (ret < 0) {
    g_clear_pointer(owner, g_free);
    g_clear_pointer(verifier_sealed, g_free);
  }
  return sql_write_end(d, ret, error);
}

int sqlite_oauth2_state_find(void *impl, const char *state, gint64 now, char **owner, char **enterprise_id,
                             GError **error)
{
  SqlDb *d = impl;
  *owner = *enterprise_id = NULL;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT owner, enterprise_id FROM oauth2_states"
                             " WHERE state = ?1 AND used_at IS NULL AND expires_at > ?2",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, state);
  sqlite3_bind_int64(s, 2, now);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *owner = sql_col_dup(s, 0);
    *enterprise_id = sql_col_dup(s, 1);
    rc = SQLITE_DONE;
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "find OAuth2 state");
  return *owner ? 1 : 0;
}

int sql_delete_with_grant(SqlDb *d, const char *sql, const char *enterprise_id, const char *id, const char *kind,
                          const char *what, GError **error)
{
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, id);
    if (sql_step_done(d, s, error, what) == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  /* the grant is keyed by owner, of several kinds: no foreign key takes it with the row */
  g_autofree char *owner = g_strconcat(kind, ":", id, NULL);
  if (ret == 1 && !(s = sql_prep(d, "DELETE FROM oauth2_grants WHERE enterprise_id = ? AND owner = ?", error))) {
    ret = -1;
  } else if (ret == 1) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, owner);
    if (sql_step_done(d, s, error, "delete OAuth2 grant") < 0) ret = -1;
  }
  return sql_write_end(d, ret, error);
}
