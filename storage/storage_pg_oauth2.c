/* storage_pg_oauth2.c - PostgreSQL backend: OAuth2 grants (sealed access and refresh tokens per
 * owner) and the single-use `state` values of the authorization-code flow; the same contracts as
 * storage_sqlite_oauth2.c.
 *
 * A refresh that rotates the refresh token stores the new one in the same statement that retires
 * the old one (compare-and-set on the generation), so two refreshers on two nodes cannot both win
 * and a crash never leaves only a refresh token the provider has invalidated. A state is taken by
 * one UPDATE ... RETURNING, so two nodes handed the same code cannot both use it. Tokens are
 * opaque sealed strings here; they are never logged. What owns a grant (a mailbox, a relay) deletes
 * it with its own row through pg_delete_with_grant.
 */
#include "pg_internal.h"

#define GRANT_COLS "owner, enterprise_id, provider, access_sealed, access_expires_at, refresh_sealed, generation," \
                   " state, updated_at"

int pg_oauth2_grant_put(void *impl, const MaOAuth2Grant *g, GError **error)
{
  PgDb *d = impl;
  g_assert(g && g->owner && g->enterprise_id);
  PgParams p = {0};
  pg_param_text(&p, g->owner);
  pg_param_text(&p, g->enterprise_id);
  pg_param_text(&p, g->provider);
  pg_param_text(&p, g->access_sealed);
  pg_param_int(&p, g->access_expires_at);
  pg_param_text(&p, g->refresh_sealed);
  pg_param_int(&p, g->updated_at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO oauth2_grants(" GRANT_COLS ") VALUES($1, $2, $3, $4, $5, $6, 1, 'valid', $7)"
                                    " ON CONFLICT(owner) DO UPDATE SET enterprise_id = $2, provider = $3,"
                                    " access_sealed = $4, access_expires_at = $5, refresh_sealed = $6,"
                                    " generation = oauth2_grants.generation + 1, state = 'valid', updated_at = $7",
                                    &p, g->enterprise_id, "store OAuth2 grant", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_oauth2_grant_get(void *impl, const char *owner, MaOAuth2Grant **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, owner);
  PGresult *r = pg_run(d, "SELECT " GRANT_COLS " FROM oauth2_grants WHERE owner = $1", &p, "OAuth2 grant look-up", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) {
    MaOAuth2Grant *g = g_new0(MaOAuth2Grant, 1);
    g->owner = pg_col_dup(r, 0, 0);
    g->enterprise_id = pg_col_dup(r, 0, 1);
    g->provider = pg_col_dup(r, 0, 2);
    g->access_sealed = pg_col_dup(r, 0, 3);
    g->access_expires_at = pg_col_int(r, 0, 4);
    g->refresh_sealed = pg_col_dup(r, 0, 5);
    g->generation = pg_col_int(r, 0, 6);
    g->state = pg_col_dup(r, 0, 7);
    g->updated_at = pg_col_int(r, 0, 8);
    *out = g;
  }
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_oauth2_grant_rotate(void *impl, const char *owner, gint64 expect_generation, const char *access_sealed,
                           gint64 access_expires_at, const char *refresh_sealed, gint64 now, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, owner);
  pg_param_int(&p, expect_generation);
  pg_param_text(&p, access_sealed);
  pg_param_int(&p, access_expires_at);
  pg_param_text(&p, refresh_sealed);
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  /* coalesce keeps the old refresh token when the provider sent none (Google) */
  gint64 n = pg_exec(d,
                     "UPDATE oauth2_grants SET access_sealed = $3, access_expires_at = $4,"
                     " refresh_sealed = coalesce($5, refresh_sealed), generation = generation + 1,"
                     " state = 'valid', updated_at = $6 WHERE owner = $1 AND generation = $2",
                     &p, "rotate OAuth2 tokens", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_oauth2_grant_revoke(void *impl, const char *owner, gint64 now, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, owner);
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d,
                     "UPDATE oauth2_grants SET state = 'revoked', access_sealed = NULL, updated_at = $2,"
                     " generation = generation + 1 WHERE owner = $1",
                     &p, "revoke OAuth2 grant", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_oauth2_state_add(void *impl, const char *state, const char *owner, const char *enterprise_id,
                        const char *verifier_sealed, gint64 expires_at, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, state);
  pg_param_text(&p, owner);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, verifier_sealed);
  pg_param_int(&p, expires_at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO oauth2_states(state, owner, enterprise_id, verifier_sealed, expires_at)"
                                    " VALUES($1, $2, $3, $4, $5)",
                                    &p, enterprise_id, "store OAuth2 state", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_oauth2_state_take(void *impl, const char *state, gint64 now, char **owner, char **verifier_sealed,
                         GError **error)
{
  PgDb *d = impl;
  *owner = *verifier_sealed = NULL;
  PgParams p = {0};
  pg_param_text(&p, state);
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  PGresult *r = pg_run(d,
                       "UPDATE oauth2_states SET used_at = $2 WHERE state = $1 AND used_at IS NULL AND expires_at > $2"
                       " RETURNING owner, verifier_sealed",
                       &p, "take OAuth2 state", error);
  int ret = -1;
  if (r) {
    if (PQntuples(r) > 0) {
      *owner = pg_col_dup(r, 0, 0);
      *verifier_sealed = pg_col_dup(r, 0, 1);
    }
    ret = *owner ? 1 : 0;
    PQclear(r);
  }
  ret = pg_write_end(d, ret, error);
  if (ret < 0) {
    g_clear_pointer(owner, g_free);
    g_clear_pointer(verifier_sealed, g_free);
  }
  return ret;
}

int pg_oauth2_state_find(void *impl, const char *state, gint64 now, char **owner, char **enterprise_id, GError **error)
{
  PgDb *d = impl;
  *owner = *enterprise_id = NULL;
  PgParams p = {0};
  pg_param_text(&p, state);
  pg_param_int(&p, now);
  PGresult *r = pg_run(d,
                       "SELECT owner, enterprise_id FROM oauth2_states WHERE state = $1 AND used_at IS NULL AND expires_at > $2",
                       &p, "find OAuth2 state", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) {
    *owner = pg_col_dup(r, 0, 0);
    *enterprise_id = pg_col_dup(r, 0, 1);
  }
  PQclear(r);
  return *owner ? 1 : 0;
}

/* ---- the audit log (append-only; newest first by seq, the order of writing) ---------------------- */

int pg_audit_add(void *impl, const MaAuditEntry *e, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, e->enterprise_id);
  pg_param_text(&p, e->actor);
  pg_param_text(&p, e->action);
  pg_param_text(&p, e->target);
  pg_param_text(&p, e->details);
  pg_param_int(&p, e->at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, "INSERT INTO audit(enterprise_id, actor, action, target, details, at) VALUES($1, $2, $3, $4, $5, $6)",
                     &p, "add audit entry", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_audit_list(void *impl, const char *enterprise_id, gint64 before_seq, int limit, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, before_seq);
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT64);
  PGresult *r = pg_run(d,
                       "SELECT seq, enterprise_id, actor, action, target, details, at FROM audit"
                       " WHERE ($1::text IS NULL OR enterprise_id = $1) AND ($2 = 0 OR seq < $2)"
                       " ORDER BY seq DESC LIMIT $3",
                       &p, "audit list", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) {
    MaAuditEntry *e = g_new0(MaAuditEntry, 1);
    e->seq = pg_col_int(r, i, 0);
    e->enterprise_id = pg_col_dup(r, i, 1);
    e->actor = pg_col_dup(r, i, 2);
    e->action = pg_col_dup(r, i, 3);
    e->target = pg_col_dup(r, i, 4);
    e->details = pg_col_dup(r, i, 5);
    e->at = pg_col_int(r, i, 6);
    g_ptr_array_add(out, e);
  }
  PQclear(r);
  return 0;
}

int pg_delete_with_grant(PgDb *d, const char *sql, const char *enterprise_id, const char *id, const char *kind,
                         const char *what, GError **error)
{
  g_autofree char *owner = g_strconcat(kind, ":", id, NULL);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id);
  PgParams grant = {0};
  pg_param_text(&grant, enterprise_id);
  pg_param_text(&grant, owner);
  if (pg_write_begin(d, error) < 0) return -1;
  /* the grant is keyed by owner, of several kinds: no foreign key takes it with the row */
  gint64 n = pg_exec(d, sql, &p, what, error);
  if (n > 0 &&
      pg_exec(d, "DELETE FROM oauth2_grants WHERE enterprise_id = $1 AND owner = $2", &grant, "delete OAuth2 grant",
              error) < 0)
    n = -1;
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}
