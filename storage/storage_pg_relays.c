/* storage_pg_relays.c - PostgreSQL backend: enterprise relays (their rows with the state of their
 * OAuth2 grant, read here and deleted with the relay, domain filters replaced
 * whole on update, per-day counters of recipients routed and failed sessions, the route of a
 * queued message rewritten on fallback), the shared relay's reputation (the log of recipients
 * routed to mailagent's own path, an enterprise's suspension from it), the channels' system
 * accounts and employees' default sending mailboxes; the same contracts as
 * storage_sqlite_relays.c.
 *
 * Counters change by one upsert each (INSERT ... ON CONFLICT DO UPDATE), computed from the row the
 * statement locks, so nodes counting at once lose no increment and a failure is counted once per
 * gap whichever node sees it. Every call is scoped by enterprise_id; passwords arrive sealed.
 */
#include "pg_internal.h"

#include <string.h>

#define RELAY_COLS                                                                                        \
  "id, enterprise_id, name, host, port, security, tls_mode, auth_enabled, auth_mechanism, username,"    \
  " password_sealed, daily_limit, email_types, dkim, enabled, status, status_since, status_reason,"     \
  " suspended_until, return_path, created_at, updated_at, auth_provider"

/* RELAY_COLS, then the state of the relay's OAuth2 grant (owner 'relay:<id>'), FROM relays */
#define RELAY_SELECT                                                                                      \
  "SELECT " RELAY_COLS ", (SELECT g.state FROM oauth2_grants g WHERE g.owner = 'relay:' || relays.id"    \
  " AND g.enterprise_id = relays.enterprise_id) FROM relays"

static MaRelay *relay_read(const PGresult *r, int i)
{
  MaRelay *x = ma_relay_new();
  int c = 0;
  x->id = pg_col_dup(r, i, c++);
  x->enterprise_id = pg_col_dup(r, i, c++);
  x->name = pg_col_dup(r, i, c++);
  x->host = pg_col_dup(r, i, c++);
  x->port = (int)pg_col_int(r, i, c++);
  x->security = pg_col_dup(r, i, c++);
  x->tls_mode = pg_col_dup(r, i, c++);
  x->auth_enabled = pg_col_int(r, i, c++) != 0;
  x->auth_mechanism = pg_col_dup(r, i, c++);
  x->username = pg_col_dup(r, i, c++);
  x->password_sealed = pg_col_dup(r, i, c++);
  x->daily_limit = pg_col_int(r, i, c++);
  x->email_types = pg_col_dup(r, i, c++);
  x->dkim = pg_col_int(r, i, c++) != 0;
  x->enabled = pg_col_int(r, i, c++) != 0;
  x->status = pg_col_dup(r, i, c++);
  x->status_since = pg_col_int(r, i, c++);
  x->status_reason = pg_col_dup(r, i, c++);
  x->suspended_until = pg_col_int(r, i, c++);
  x->return_path = pg_col_dup(r, i, c++);
  x->created_at = pg_col_int(r, i, c++);
  x->updated_at = pg_col_int(r, i, c++);
  x->auth_provider = pg_col_dup(r, i, c++);
  x->grant_state = pg_col_dup(r, i, c++);
  return x;
}

/* The relay's fields as $1..$21 (RELAY_COLS order without id and enterprise_id; the grant's state
 * is not the relay's to write), then $22 id and $23 enterprise_id. */
static void relay_params(PgParams *p, const MaRelay *r)
{
  pg_param_text(p, r->name);
  pg_param_text(p, r->host);
  pg_param_int(p, r->port);
  pg_param_text(p, r->security);
  pg_param_text(p, r->tls_mode);
  pg_param_int(p, r->auth_enabled ? 1 : 0);
  pg_param_text(p, r->auth_mechanism);
  pg_param_text(p, r->username);
  pg_param_text(p, r->password_sealed);
  pg_param_int(p, r->daily_limit);
  pg_param_text(p, r->email_types ? r->email_types : "");
  pg_param_int(p, r->dkim ? 1 : 0);
  pg_param_int(p, r->enabled ? 1 : 0);
  pg_param_text(p, r->status ? r->status : "untested");
  pg_param_int(p, r->status_since);
  pg_param_text(p, r->status_reason);
  pg_param_int(p, r->suspended_until);
  pg_param_text(p, r->return_path);
  pg_param_int(p, r->created_at);
  pg_param_int(p, r->updated_at);
  pg_param_text(p, r->auth_provider);
  pg_param_text(p, r->id);
  pg_param_text(p, r->enterprise_id);
}

static int filters_write(PgDb *d, const MaRelay *r, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, r->id);
  pg_param_text(&p, r->enterprise_id);
  if (pg_exec(d, "DELETE FROM relay_filters WHERE relay_id = $1 AND enterprise_id = $2", &p, "replace relay filters",
              error) < 0)
    return -1;
  for (guint i = 0; i < r->filters->len; i++) {
    const MaRelayFilter *f = g_ptr_array_index(r->filters, i);
    PgParams q = {0};
    pg_param_text(&q, r->id);
    pg_param_text(&q, r->enterprise_id);
    pg_param_int(&q, f->priority);
    pg_param_text(&q, f->sender_domain);
    pg_param_text(&q, f->recipient_patterns && *f->recipient_patterns ? f->recipient_patterns : NULL);
    if (pg_exec(d,
                "INSERT INTO relay_filters(relay_id, enterprise_id, priority, sender_domain, recipient_patterns)"
                " VALUES($1, $2, $3, $4, $5)",
                &q, "add relay filter", error) < 0)
      return -1;
  }
  return 0;
}

/* Appends the filters of every relay in out from index first on. */
static int filters_read(PgDb *d, GPtrArray *out, guint first, GError **error)
{
  for (guint i = first; i < out->len; i++) {
    MaRelay *x = g_ptr_array_index(out, i);
    PgParams p = {0};
    pg_param_text(&p, x->id);
    pg_param_text(&p, x->enterprise_id);
    PGresult *r = pg_run(d,
                         "SELECT seq, priority, sender_domain, recipient_patterns FROM relay_filters"
                         " WHERE relay_id = $1 AND enterprise_id = $2 ORDER BY priority, seq",
                         &p, "read relay filters", error);
    if (!r) return -1;
    for (int j = 0; j < PQntuples(r); j++) {
      MaRelayFilter *f = g_new0(MaRelayFilter, 1);
      f->seq = pg_col_int(r, j, 0);
      f->priority = (int)pg_col_int(r, j, 1);
      f->sender_domain = pg_col_dup(r, j, 2);
      f->recipient_patterns = pg_col_dup(r, j, 3);
      g_ptr_array_add(x->filters, f);
    }
    PQclear(r);
  }
  return 0;
}

/* A relay write's error: a duplicate name and a missing enterprise said as SQLite says them. */
static int relay_write_failed(GError *local, const MaRelay *r, GError **error)
{
  if (local->code == MA_ERROR_CONFLICT) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "a relay named %s exists already", r->name);
    g_error_free(local);
  } else if (local->code == MA_ERROR_NOT_FOUND) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", r->enterprise_id);
    g_error_free(local);
  } else {
    g_propagate_error(error, local);
  }
  return -1;
}

int pg_relay_add(void *impl, const MaRelay *r, GError **error)
{
  PgDb *d = impl;
  g_assert(r && r->id && r->enterprise_id && r->name && r->host && r->security && r->tls_mode);
  PgParams p = {0};
  relay_params(&p, r);
  if (pg_write_begin(d, error) < 0) return -1;
  GError *local = NULL;
  int ret = pg_exec(d,
                    "INSERT INTO relays(name, host, port, security, tls_mode, auth_enabled, auth_mechanism, username,"
                    " password_sealed, daily_limit, email_types, dkim, enabled, status, status_since, status_reason,"
                    " suspended_until, return_path, created_at, updated_at, auth_provider, id, enterprise_id)"
                    " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,"
                    " $20, $21, $22, $23)",
                    &p, "add relay", &local) < 0
              ? relay_write_failed(local, r, error)
              : filters_write(d, r, error);
  return pg_write_end(d, ret, error);
}

int pg_relay_update(void *impl, const MaRelay *r, GError **error)
{
  PgDb *d = impl;
  g_assert(r && r->id && r->enterprise_id);
  PgParams p = {0};
  relay_params(&p, r);
  if (pg_write_begin(d, error) < 0) return -1;
  GError *local = NULL;
  gint64 n = pg_exec(d,
                     "UPDATE relays SET name = $1, host = $2, port = $3, security = $4, tls_mode = $5,"
                     " auth_enabled = $6, auth_mechanism = $7, username = $8, password_sealed = $9,"
                     " daily_limit = $10, email_types = $11, dkim = $12, enabled = $13, status = $14,"
                     " status_since = $15, status_reason = $16, suspended_until = $17, return_path = $18,"
                     " created_at = $19, updated_at = $20, auth_provider = $21 WHERE id = $22 AND enterprise_id = $23",
                     &p, "update relay", &local);
  int ret = n < 0 ? relay_write_failed(local, r, error) : n > 0 ? 1 : 0;
  if (ret == 1 && filters_write(d, r, error) < 0) ret = -1;
  return pg_write_end(d, ret, error);
}

int pg_relay_get(void *impl, const char *enterprise_id, const char *id_or_name, MaRelay **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id_or_name);
  PGresult *r = pg_run(d,
                       RELAY_SELECT " WHERE enterprise_id = $1 AND (id = $2 OR name = $2)"
                       " ORDER BY id = $2 DESC LIMIT 1",
                       &p, "read relays", error);
  if (!r) return -1;
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify)ma_relay_free);
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(found, relay_read(r, i));
  PQclear(r);
  if (filters_read(d, found, 0, error) < 0) return -1;
  if (found->len == 0) return 0;
  *out = g_ptr_array_steal_index(found, 0);
  return 1;
}

int pg_relay_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, RELAY_SELECT " WHERE enterprise_id = $1 ORDER BY created_at, id", &p,
                       "read relays", error);
  if (!r) return -1;
  guint first = out->len;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, relay_read(r, i));
  PQclear(r);
  return filters_read(d, out, first, error);
}

int pg_relay_delete(void *impl, const char *enterprise_id, const char *id, GError **error)
{
  /* filters and counters go with the row (ON DELETE CASCADE), the grant by its owner */
  return pg_delete_with_grant(impl, "DELETE FROM relays WHERE enterprise_id = $1 AND id = $2", enterprise_id, id, "relay",
                              "delete relay", error);
}

int pg_relay_set_status(void *impl, const char *enterprise_id, const char *id, const char *status, gint64 since,
                        const char *reason, gint64 suspended_until, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, status);
  pg_param_int(&p, since);
  pg_param_text(&p, reason);
  pg_param_int(&p, suspended_until);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id);
  return pg_write_changed(impl,
                          "UPDATE relays SET status = $1, status_since = $2, status_reason = $3, suspended_until = $4"
                          " WHERE enterprise_id = $5 AND id = $6",
                          &p, "set relay status", error);
}

int pg_relay_usage(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 *sent,
                   int *failures, gint64 *last_failure_at, GError **error)
{
  PgDb *d = impl;
  *sent = 0;
  *failures = 0;
  *last_failure_at = 0;
  PgParams p = {0};
  pg_param_text(&p, relay_id);
  pg_param_text(&p, day);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d,
                       "SELECT sent, failures, last_failure_at FROM relay_usage"
                       " WHERE relay_id = $1 AND day = $2 AND enterprise_id = $3",
                       &p, "read relay usage", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) {
    *sent = pg_col_int(r, 0, 0);
    *failures = (int)pg_col_int(r, 0, 1);
    *last_failure_at = pg_col_int(r, 0, 2);
  }
  PQclear(r);
  return 0;
}

int pg_relay_count_sent(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 delta,
                        GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, relay_id);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, day);
  pg_param_int(&p, delta);
  /* the relay's own row decides the enterprise: another enterprise's id counts nothing */
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d,
                     "INSERT INTO relay_usage(relay_id, enterprise_id, day, sent) SELECT id, enterprise_id, $3,"
                     " greatest($4::bigint, 0) FROM relays WHERE id = $1 AND enterprise_id = $2"
                     " ON CONFLICT(relay_id, day) DO UPDATE SET sent = greatest(relay_usage.sent + $4::bigint, 0)",
                     &p, "count relay recipients", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_relay_reserve(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 limit, int want,
                     int *granted, GError **error)
{
  PgDb *d = impl;
  *granted = 0;
  if (want <= 0) return 0;
  PgParams p = {0};
  pg_param_text(&p, relay_id);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, day);
  if (pg_write_begin(d, error) < 0) return -1;
  /* the day's row locked by the upsert, then the room read and taken from that row: two nodes
   * reserving at once queue on the row lock and see each other's grant */
  gint64 n = pg_exec(d,
                     "INSERT INTO relay_usage(relay_id, enterprise_id, day) SELECT id, enterprise_id, $3 FROM relays"
                     " WHERE id = $1 AND enterprise_id = $2 ON CONFLICT(relay_id, day) DO UPDATE SET sent = relay_usage.sent",
                     &p, "reserve relay recipients", error);
  int ret = n < 0 ? -1 : 0;
  if (n > 0) {
    PgParams q = {0};
    pg_param_text(&q, relay_id);
    pg_param_text(&q, enterprise_id);
    pg_param_text(&q, day);
    pg_param_int(&q, limit);
    pg_param_int(&q, want);
    PGresult *r = pg_run(d,
                         "WITH g AS (SELECT CASE WHEN $4::bigint <= 0 THEN $5::bigint"
                         "  ELSE least($5::bigint, greatest($4::bigint - sent, 0)) END AS n FROM relay_usage"
                         "  WHERE relay_id = $1 AND enterprise_id = $2 AND day = $3)"
                         " UPDATE relay_usage u SET sent = u.sent + g.n FROM g"
                         " WHERE u.relay_id = $1 AND u.enterprise_id = $2 AND u.day = $3 RETURNING g.n",
                         &q, "reserve relay recipients", error);
    if (!r) ret = -1;
    else {
      if (PQntuples(r) > 0) *granted = (int) pg_col_int(r, 0, 0);
      PQclear(r);
    }
  }
  if (pg_write_end(d, ret, error) < 0) {
    *granted = 0;
    return -1;
  }
  return 0;
}

int pg_relay_count_failure(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 now,
                           gint64 min_gap, int *failures, GError **error)
{
  PgDb *d = impl;
  *failures = 0;
  PgParams p = {0};
  pg_param_text(&p, relay_id);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, day);
  pg_param_int(&p, now);
  pg_param_int(&p, min_gap);
  if (pg_write_begin(d, error) < 0) return -1;
  /* counted only a gap after the last failure: one outage is one failure, on any node */
  gint64 n = pg_exec(d,
                     "INSERT INTO relay_usage(relay_id, enterprise_id, day, failures, last_failure_at)"
                     " SELECT id, enterprise_id, $3, 1, $4 FROM relays WHERE id = $1 AND enterprise_id = $2"
                     " ON CONFLICT(relay_id, day) DO UPDATE SET failures = relay_usage.failures + 1, last_failure_at = $4"
                     " WHERE relay_usage.failures = 0 OR relay_usage.last_failure_at + $5::bigint <= $4",
                     &p, "count relay failure", error);
  int ret = n < 0 ? -1 : n > 0 ? 1 : 0;
  if (ret >= 0) {
    gint64 sent = 0, last = 0;
    if (pg_relay_usage(impl, enterprise_id, relay_id, day, &sent, failures, &last, error) < 0) ret = -1;
  }
  return pg_write_end(d, ret, error);
}

int pg_outbound_set_route(void *impl, const char *enterprise_id, const char *id, const char *route_json, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, route_json);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id);
  return pg_write_changed(impl, "UPDATE outbound_messages SET route = $1 WHERE enterprise_id = $2 AND id = $3", &p,
                          "set outbound route", error);
}

/* ---- the shared relay's reputation ---------------------------------------------------------------- */

int pg_default_path_record(void *impl, const char *enterprise_id, const char *outbound_id, const char *address, gint64 at,
                           GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, outbound_id);
  pg_param_text(&p, address);
  pg_param_int(&p, at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d, "INSERT INTO default_path_log(enterprise_id, outbound_id, address, at) VALUES($1, $2, $3, $4)",
                                    &p, enterprise_id, "record default path recipient", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_default_path_count(void *impl, const char *enterprise_id, gint64 since, gint64 *count, GError **error)
{
  PgDb *d = impl;
  *count = 0;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, since);
  PGresult *r = pg_run(d, "SELECT count(*) FROM default_path_log WHERE enterprise_id = $1 AND at >= $2", &p,
                       "count default path recipients", error);
  if (!r) return -1;
  *count = pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

int pg_default_path_rates(void *impl, const char *enterprise_id, int last, gint64 *total, gint64 *bounced,
                          gint64 *complained, GError **error)
{
  PgDb *d = impl;
  *total = *bounced = *complained = 0;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, last);
  PGresult *r = pg_run(d,
                       "SELECT count(*), count(*) FILTER (WHERE r.state = 'bounced'),"
                       " count(*) FILTER (WHERE EXISTS (SELECT 1 FROM default_path_complaints c WHERE c.enterprise_id = $1"
                       "  AND c.outbound_id = l.outbound_id AND c.address = l.address)) FROM"
                       " (SELECT outbound_id, address FROM default_path_log WHERE enterprise_id = $1"
                       "  AND seq > coalesce((SELECT lifted_seq FROM default_path_suspensions WHERE enterprise_id = $1), 0)"
                       "  ORDER BY seq DESC LIMIT $2) l"
                       " JOIN outbound_recipients r ON r.outbound_id = l.outbound_id AND r.address = l.address"
                       " AND r.enterprise_id = $1",
                       &p, "default path bounce rate", error);
  if (!r) return -1;
  *total = pg_col_int(r, 0, 0);
  *bounced = pg_col_int(r, 0, 1);
  *complained = pg_col_int(r, 0, 2);
  PQclear(r);
  return 0;
}

int pg_default_path_complaint(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                              gint64 at, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, outbound_id);
  pg_param_text(&p, address);
  pg_param_int(&p, at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO default_path_complaints(enterprise_id, outbound_id, address, at)"
                                    " VALUES($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                    &p, enterprise_id, "record a default path complaint", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_default_path_suspend(void *impl, const char *enterprise_id, gint64 at, const char *reason, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, at);
  pg_param_text(&p, reason);
  if (pg_write_begin(d, error) < 0) return -1;
  /* a suspension in force is kept as it is (its first reason and time) */
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO default_path_suspensions(enterprise_id, since, reason) VALUES($1, $2, $3)"
                                    " ON CONFLICT(enterprise_id) DO UPDATE SET since = excluded.since,"
                                    " reason = excluded.reason, lifted_at = 0"
                                    " WHERE default_path_suspensions.lifted_at != 0",
                                    &p, enterprise_id, "suspend default path", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_default_path_suspension(void *impl, const char *enterprise_id, gint64 *since, char **reason, GError **error)
{
  PgDb *d = impl;
  *since = 0;
  *reason = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, "SELECT since, reason FROM default_path_suspensions WHERE enterprise_id = $1 AND lifted_at = 0", &p,
                       "read default path suspension", error);
  if (!r) return -1;
  int found = PQntuples(r) > 0;
  if (found) {
    *since = pg_col_int(r, 0, 0);
    *reason = pg_col_dup(r, 0, 1);
  }
  PQclear(r);
  return found;
}

int pg_default_path_resume(void *impl, const char *enterprise_id, gint64 now, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, now);
  /* the rate starts afresh: recipients before the lift no longer count */
  return pg_write_changed(impl,
                          "UPDATE default_path_suspensions SET lifted_at = greatest(1, $2::bigint),"
                          " lifted_seq = coalesce((SELECT max(seq) FROM default_path_log WHERE enterprise_id = $1), 0)"
                          " WHERE enterprise_id = $1 AND lifted_at = 0",
                          &p, "resume default path", error);
}

/* ---- channel system accounts ----------------------------------------------------------------------- */

int pg_channel_account_set(void *impl, const char *enterprise_id, const char *channel, const char *address,
                           gint64 verified_at, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, channel);
  pg_param_text(&p, address);
  pg_param_int(&p, verified_at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO channel_accounts(enterprise_id, channel, address, verified_at)"
                                    " VALUES($1, $2, $3, $4) ON CONFLICT(enterprise_id, channel) DO UPDATE SET"
                                    " address = excluded.address, verified_at = excluded.verified_at",
                                    &p, enterprise_id, "set channel system account", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_channel_account_get(void *impl, const char *enterprise_id, const char *channel, char **address,
                           gint64 *verified_at, GError **error)
{
  PgDb *d = impl;
  *address = NULL;
  *verified_at = 0;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, channel);
  PGresult *r = pg_run(d, "SELECT address, verified_at FROM channel_accounts WHERE enterprise_id = $1 AND channel = $2",
                       &p, "read channel system account", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) {
    *address = pg_col_dup(r, 0, 0);
    *verified_at = pg_col_int(r, 0, 1);
  }
  PQclear(r);
  return *address ? 1 : 0;
}

int pg_channel_account_clear(void *impl, const char *enterprise_id, const char *channel, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, channel);
  return pg_write_changed(impl, "DELETE FROM channel_accounts WHERE enterprise_id = $1 AND channel = $2", &p,
                          "clear channel system account", error);
}

/* ---- employees' default sending mailboxes ------------------------------------------------------------ */

int pg_employee_send_mailbox_set(void *impl, const char *enterprise_id, const char *employee_id, const char *mailbox_id,
                                 GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, employee_id);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, mailbox_id);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO employee_send_mailboxes(employee_id, enterprise_id, mailbox_id)"
                                    " VALUES($1, $2, $3) ON CONFLICT(employee_id) DO UPDATE SET mailbox_id = excluded.mailbox_id",
                                    &p, enterprise_id, "set default sending mailbox", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_employee_send_mailbox_get(void *impl, const char *enterprise_id, const char *employee_id, char **mailbox_id,
                                 GError **error)
{
  PgDb *d = impl;
  *mailbox_id = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, employee_id);
  PGresult *r = pg_run(d, "SELECT mailbox_id FROM employee_send_mailboxes WHERE enterprise_id = $1 AND employee_id = $2",
                       &p, "read default sending mailbox", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *mailbox_id = pg_col_dup(r, 0, 0);
  PQclear(r);
  return *mailbox_id ? 1 : 0;
}
