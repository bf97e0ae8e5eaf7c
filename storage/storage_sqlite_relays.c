/* storage_sqlite_relays.c - enterprise relays (migrations 110, 151): the relay rows with the state
 * of their OAuth2 grant (read, never written here; deleted with the relay), their domain filters
 * (replaced as a whole on update, so their order is always the array's), the per-day counters of
 * recipients routed and failed sessions, and the route column of a queued message rewritten on
 * fallback; and the shared relay's reputation (migration 111): the log of recipients routed to
 * mailagent's own path, read for quotas and the bounce rate, and an enterprise's suspension from
 * it. Every call is scoped by enterprise_id; the password arrives sealed and stays opaque.
 */
#include "sqlite_internal.h"

#include <string.h>

#define RELAY_COLS                                                                                        \
  "id, enterprise_id, name, host, port, security, tls_mode, auth_enabled, auth_mechanism, username,"    \
  " password_sealed, daily_limit, email_types, dkim, enabled, status, status_since, status_reason,"     \
  " suspended_until, return_path, created_at, updated_at, auth_provider"

/* RELAY_COLS, then the state of the relay's OAuth2 grant (owner "relay:<id>"), FROM relays */
#define RELAY_SELECT                                                                                      \
  "SELECT " RELAY_COLS ", (SELECT g.state FROM oauth2_grants g WHERE g.owner = 'relay:' || relays.id"    \
  " AND g.enterprise_id = relays.enterprise_id) FROM relays"

static MaRelay *relay_read(sqlite3_stmt *s)
{
  MaRelay *r = ma_relay_new();
  int c = 0;
  r->id = sql_col_dup(s, c++);
  r->enterprise_id = sql_col_dup(s, c++);
  r->name = sql_col_dup(s, c++);
  r->host = sql_col_dup(s, c++);
  r->port = sqlite3_column_int(s, c++);
  r->security = sql_col_dup(s, c++);
  r->tls_mode = sql_col_dup(s, c++);
  r->auth_enabled = sqlite3_column_int(s, c++) != 0;
  r->auth_mechanism = sql_col_dup(s, c++);
  r->username = sql_col_dup(s, c++);
  r->password_sealed = sql_col_dup(s, c++);
  r->daily_limit = sqlite3_column_int64(s, c++);
  r->email_types = sql_col_dup(s, c++);
  r->dkim = sqlite3_column_int(s, c++) != 0;
  r->enabled = sqlite3_column_int(s, c++) != 0;
  r->status = sql_col_dup(s, c++);
  r->status_since = sqlite3_column_int64(s, c++);
  r->status_reason = sql_col_dup(s, c++);
  r->suspended_until = sqlite3_column_int64(s, c++);
  r->return_path = sql_col_dup(s, c++);
  r->created_at = sqlite3_column_int64(s, c++);
  r->updated_at = sqlite3_column_int64(s, c++);
  r->auth_provider = sql_col_dup(s, c++);
  r->grant_state = sql_col_dup(s, c++);
  return r;
}

/* Binds the relay's fields from parameter 1 on, in RELAY_COLS order without id and enterprise_id
 * (the grant's state is not the relay's to write). */
static void relay_bind_fields(sqlite3_stmt *s, const MaRelay *r)
{
  int c = 1;
  sql_bind_text(s, c++, r->name);
  sql_bind_text(s, c++, r->host);
  sqlite3_bind_int(s, c++, r->port);
  sql_bind_text(s, c++, r->security);
  sql_bind_text(s, c++, r->tls_mode);
  sqlite3_bind_int(s, c++, r->auth_enabled);
  sql_bind_text(s, c++, r->auth_mechanism);
  sql_bind_text(s, c++, r->username);
  sql_bind_text(s, c++, r->password_sealed);
  sqlite3_bind_int64(s, c++, r->daily_limit);
  sql_bind_text(s, c++, r->email_types ? r->email_types : "");
  sqlite3_bind_int(s, c++, r->dkim);
  sqlite3_bind_int(s, c++, r->enabled);
  sql_bind_text(s, c++, r->status ? r->status : "untested");
  sqlite3_bind_int64(s, c++, r->status_since);
  sql_bind_text(s, c++, r->status_reason);
  sqlite3_bind_int64(s, c++, r->suspended_until);
  sql_bind_text(s, c++, r->return_path);
  sqlite3_bind_int64(s, c++, r->created_at);
  sqlite3_bind_int64(s, c++, r->updated_at);
  sql_bind_text(s, c++, r->auth_provider);
  /* then ?22 id, ?23 enterprise_id */
}

static int filters_write(SqlDb *d, const MaRelay *r, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "DELETE FROM relay_filters WHERE relay_id = ? AND enterprise_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, r->id);
  sql_bind_text(s, 2, r->enterprise_id);
  if (sql_step_done(d, s, error, "replace relay filters") < 0) return -1;
  for (guint i = 0; i < r->filters->len; i++) {
    const MaRelayFilter *f = g_ptr_array_index(r->filters, i);
    s = sql_prep(d,
                 "INSERT INTO relay_filters(relay_id, enterprise_id, priority, sender_domain, recipient_patterns)"
                 " VALUES(?, ?, ?, ?, ?)",
                 error);
    if (!s) return -1;
    sql_bind_text(s, 1, r->id);
    sql_bind_text(s, 2, r->enterprise_id);
    sqlite3_bind_int(s, 3, f->priority);
    sql_bind_text(s, 4, f->sender_domain);
    sql_bind_text(s, 5, f->recipient_patterns && *f->recipient_patterns ? f->recipient_patterns : NULL);
    if (sql_step_done(d, s, error, "add relay filter") < 0) return -1;
  }
  return 0;
}

static int filters_read(SqlDb *d, MaRelay *r, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT seq, priority, sender_domain, recipient_patterns FROM relay_filters"
                             " WHERE relay_id = ? AND enterprise_id = ? ORDER BY priority, seq",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, r->id);
  sql_bind_text(s, 2, r->enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaRelayFilter *f = g_new0(MaRelayFilter, 1);
    f->seq = sqlite3_column_int64(s, 0);
    f->priority = sqlite3_column_int(s, 1);
    f->sender_domain = sql_col_dup(s, 2);
    f->recipient_patterns = sql_col_dup(s, 3);
    g_ptr_array_add(r->filters, f);
  }
  sql_reset(s);
  return rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "read relay filters");
}

int sqlite_relay_add(void *impl, const MaRelay *r, GError **error)
{
  SqlDb *d = impl;
  g_assert(r && r->id && r->enterprise_id && r->name && r->host && r->security && r->tls_mode);
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO relays(name, host, port, security, tls_mode, auth_enabled, auth_mechanism,"
                             " username, password_sealed, daily_limit, email_types, dkim, enabled, status,"
                             " status_since, status_reason, suspended_until, return_path, created_at, updated_at,"
                             " auth_provider, id, enterprise_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                             " ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
                             error);
  if (s) {
    relay_bind_fields(s, r);
    sql_bind_text(s, 22, r->id);
    sql_bind_text(s, 23, r->enterprise_id);
    int rc = sqlite3_step(s);
    sql_reset(s);
    if (rc == SQLITE_DONE)
      ret = filters_write(d, r, error);
    else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "a relay named %s exists already", r->name);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", r->enterprise_id);
    else
      sql_fail(d, rc, error, "add relay");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_relay_update(void *impl, const MaRelay *r, GError **error)
{
  SqlDb *d = impl;
  g_assert(r && r->id && r->enterprise_id);
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE relays SET name = ?1, host = ?2, port = ?3, security = ?4, tls_mode = ?5,"
                             " auth_enabled = ?6, auth_mechanism = ?7, username = ?8, password_sealed = ?9,"
                             " daily_limit = ?10, email_types = ?11, dkim = ?12, enabled = ?13, status = ?14,"
                             " status_since = ?15, status_reason = ?16, suspended_until = ?17, return_path = ?18,"
                             " created_at = ?19, updated_at = ?20, auth_provider = ?21 WHERE id = ?22 AND enterprise_id = ?23",
                             error);
  if (s) {
    relay_bind_fields(s, r);
    sql_bind_text(s, 22, r->id);
    sql_bind_text(s, 23, r->enterprise_id);
    int rc = sqlite3_step(s);
    sql_reset(s);
    if (rc == SQLITE_DONE) {
      ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
      if (ret == 1 && filters_write(d, r, error) < 0) ret = -1;
    } else if (rc == SQLITE_CONSTRAINT_UNIQUE) {
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "a relay named %s exists already", r->name);
    } else {
      sql_fail(d, rc, error, "update relay");
    }
  }
  return sql_write_end(d, ret, error);
}

/* Runs s (bound) and appends every relay, with its filters, to out. */
static int relays_collect(SqlDb *d, sqlite3_stmt *s, GPtrArray *out, GError **error)
{
  guint first = out->len;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, relay_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "read relays");
  for (guint i = first; i < out->len; i++)
    if (filters_read(d, g_ptr_array_index(out, i), error) < 0) return -1;
  return 0;
}

int sqlite_relay_get(void *impl, const char *enterprise_id, const char *id_or_name, MaRelay **out, GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d,
                             RELAY_SELECT " WHERE enterprise_id = ?1 AND (id = ?2 OR name = ?2)"
                             " ORDER BY id = ?2 DESC LIMIT 1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, id_or_name);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  if (relays_collect(d, s, found, error) < 0) return -1;
  if (found->len == 0) return 0;
  *out = g_ptr_array_steal_index(found, 0);
  return 1;
}

int sqlite_relay_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s =
    sql_prep(d, RELAY_SELECT " WHERE enterprise_id = ? ORDER BY created_at, id", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  return relays_collect(d, s, out, error);
}

int sqlite_relay_delete(void *impl, const char *enterprise_id, const char *id, GError **error)
{
  /* filters and counters go with the row (ON DELETE CASCADE), the grant by its owner */
  return sql_delete_with_grant(impl, "DELETE FROM relays WHERE enterprise_id = ? AND id = ?", enterprise_id, id, "relay",
                               "delete relay", error);
}

int sqlite_relay_set_status(void *impl, const char *enterprise_id, const char *id, const char *status, gint64 since,
                            const char *reason, gint64 suspended_until, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE relays SET status = ?, status_since = ?, status_reason = ?, suspended_until = ?"
                             " WHERE enterprise_id = ? AND id = ?",
                             error);
  if (s) {
    sql_bind_text(s, 1, status);
    sqlite3_bind_int64(s, 2, since);
    sql_bind_text(s, 3, reason);
    sqlite3_bind_int64(s, 4, suspended_until);
    sql_bind_text(s, 5, enterprise_id);
    sql_bind_text(s, 6, id);
    if (sql_step_done(d, s, error, "set relay status") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_relay_usage(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 *sent,
                       int *failures, gint64 *last_failure_at, GError **error)
{
  SqlDb *d = impl;
  *sent = 0;
  *failures = 0;
  *last_failure_at = 0;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT sent, failures, last_failure_at FROM relay_usage"
                             " WHERE relay_id = ? AND day = ? AND enterprise_id = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, relay_id);
  sql_bind_text(s, 2, day);
  sql_bind_text(s, 3, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *sent = sqlite3_column_int64(s, 0);
    *failures = sqlite3_column_int(s, 1);
    *last_failure_at = sqlite3_column_int64(s, 2);
  }
  sql_reset(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "read relay usage");
}

/* The day's row exists afterwards (inside the caller's write unit). */
static int usage_row(SqlDb *d, const char *enterprise_id, const char *relay_id, const char *day, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO relay_usage(relay_id, enterprise_id, day) SELECT id, enterprise_id, ?"
                             " FROM relays WHERE id = ? AND enterprise_id = ? ON CONFLICT(relay_id, day) DO NOTHING",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, day);
  sql_bind_text(s, 2, relay_id);
  sql_bind_text(s, 3, enterprise_id);
  return sql_step_done(d, s, error, "add relay usage");
}

/* Adds delta to the day's count (inside the caller's write unit). */
static int usage_add(SqlDb *d, const char *enterprise_id, const char *relay_id, const char *day, gint64 delta,
                     GError **error)
{
  if (usage_row(d, enterprise_id, relay_id, day, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE relay_usage SET sent = max(0, sent + ?) WHERE relay_id = ? AND day = ?"
                             " AND enterprise_id = ?",
                             error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, delta);
  sql_bind_text(s, 2, relay_id);
  sql_bind_text(s, 3, day);
  sql_bind_text(s, 4, enterprise_id);
  return sql_step_done(d, s, error, "count relay recipients");
}

int sqlite_relay_count_sent(void *impl, const char *enterprise_id, const char *relay_id, const char *day,
                            gint64 delta, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, usage_add(d, enterprise_id, relay_id, day, delta, error), error);
}

int sqlite_relay_reserve(void *impl, const char *enterprise_id, const char *relay_id, const char *day, gint64 limit,
                         int want, int *granted, GError **error)
{
  SqlDb *d = impl;
  *granted = 0;
  if (want <= 0) return 0;
  /* read and count inside one write unit (the write lock is held): no two reservations see the
   * same room */
  if (sql_write_begin(d, error) < 0) return -1;
  int take = 0;
  int ret = usage_row(d, enterprise_id, relay_id, day, error);
  sqlite3_stmt *s = ret == 0 ? sql_prep(d, "SELECT sent FROM relay_usage WHERE relay_id = ? AND day = ? AND enterprise_id = ?",
                                        error)
                             : NULL;
  if (s) {
    sql_bind_text(s, 1, relay_id);
    sql_bind_text(s, 2, day);
    sql_bind_text(s, 3, enterprise_id);
    int rc = sqlite3_step(s);
    /* no row: not a relay of this enterprise, nothing granted */
    if (rc == SQLITE_ROW) {
      gint64 count = sqlite3_column_int64(s, 0);
      take = limit > 0 ? (int) MIN((gint64) want, MAX(limit - count, 0)) : want;
    }
    sql_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = sql_fail(d, rc, error, "read relay usage");
    else if (take > 0) ret = usage_add(d, enterprise_id, relay_id, day, take, error);
  } else {
    ret = -1;
  }
  if (sql_write_end(d, ret, error) < 0) return -1;
  *granted = take;
  return 0;
}

int sqlite_relay_count_failure(void *impl, const char *enterprise_id, const char *relay_id, const char *day,
                               gint64 now, gint64 min_gap, int *failures, GError **error)
{
  SqlDb *d = impl;
  *failures = 0;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = usage_row(d, enterprise_id, relay_id, day, error);
  if (ret == 0) {
    sqlite3_stmt *s = sql_prep(d,
                               "UPDATE relay_usage SET failures = failures + 1, last_failure_at = ?1"
                               " WHERE relay_id = ?2 AND day = ?3 AND enterprise_id = ?4"
                               " AND (failures = 0 OR last_failure_at + ?5 <= ?1)",
                               error);
    ret = -1;
    if (s) {
      sqlite3_bind_int64(s, 1, now);
      sql_bind_text(s, 2, relay_id);
      sql_bind_text(s, 3, day);
      sql_bind_text(s, 4, enterprise_id);
      sqlite3_bind_int64(s, 5, min_gap);
      if (sql_step_done(d, s, error, "count relay failure") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
    }
  }
  if (ret >= 0) {
    gint64 sent = 0, last = 0;
    if (sqlite_relay_usage(impl, enterprise_id, relay_id, day, &sent, failures, &last, error) < 0) ret = -1;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_outbound_set_route(void *impl, const char *enterprise_id, const char *id, const char *route_json,
                              GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "UPDATE outbound_messages SET route = ? WHERE enterprise_id = ? AND id = ?", error);
  if (s) {
    sql_bind_text(s, 1, route_json);
    sql_bind_text(s, 2, enterprise_id);
    sql_bind_text(s, 3, id);
    if (sql_step_done(d, s, error, "set outbound route") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

/* ---- the shared relay's reputation (migration 111) ------------------------------------------- */

int sqlite_default_path_record(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                               gint64 at, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s =
    sql_prep(d, "INSERT INTO default_path_log(enterprise_id, outbound_id, address, at) VALUES(?, ?, ?, ?)", error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, outbound_id);
    sql_bind_text(s, 3, address);
    sqlite3_bind_int64(s, 4, at);
    ret = sql_step_enterprise_row(d, s, enterprise_id, error, "record default path recipient");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_default_path_count(void *impl, const char *enterprise_id, gint64 since, gint64 *count, GError **error)
{
  SqlDb *d = impl;
  *count = 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT count(*) FROM default_path_log WHERE enterprise_id = ? AND at >= ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int64(s, 2, since);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *count = sqlite3_column_int64(s, 0);
  sql_reset(s);
  return rc == SQLITE_ROW ? 0 : sql_fail(d, rc, error, "count default path recipients");
}

int sqlite_default_path_rates(void *impl, const char *enterprise_id, int last, gint64 *total, gint64 *bounced,
                              gint64 *complained, GError **error)
{
  SqlDb *d = impl;
  *total = *bounced = *complained = 0;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT count(*), coalesce(sum(r.state = 'bounced'), 0),"
                             " coalesce(sum(EXISTS (SELECT 1 FROM default_path_complaints c WHERE c.enterprise_id = ?1"
                             "  AND c.outbound_id = l.outbound_id AND c.address = l.address)), 0) FROM"
                             " (SELECT outbound_id, address FROM default_path_log WHERE enterprise_id = ?1"
                             "  AND seq > coalesce((SELECT lifted_seq FROM default_path_suspensions"
                             "   WHERE enterprise_id = ?1), 0)"
                             "  ORDER BY seq DESC LIMIT ?2) l"
                             " JOIN outbound_recipients r ON r.outbound_id = l.outbound_id AND r.address = l.address"
                             " AND r.enterprise_id = ?1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, last);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *total = sqlite3_column_int64(s, 0);
    *bounced = sqlite3_column_int64(s, 1);
    *complained = sqlite3_column_int64(s, 2);
  }
  sql_reset(s);
  return rc == SQLITE_ROW ? 0 : sql_fail(d, rc, error, "default path bounce rate");
}

int sqlite_default_path_complaint(void *impl, const char *enterprise_id, const char *outbound_id, const char *address,
                                  gint64 at, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO default_path_complaints(enterprise_id, outbound_id, address, at)"
                             " VALUES(?, ?, ?, ?)",
                             error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, outbound_id);
    sql_bind_text(s, 3, address);
    sqlite3_bind_int64(s, 4, at);
    if (sql_step_enterprise_row(d, s, enterprise_id, error, "record a default path complaint") == 0)
      ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_default_path_suspend(void *impl, const char *enterprise_id, gint64 at, const char *reason, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO default_path_suspensions(enterprise_id, since, reason) VALUES(?, ?, ?)"
                             " ON CONFLICT(enterprise_id) DO UPDATE SET since = excluded.since,"
                             " reason = excluded.reason, lifted_at = 0 WHERE lifted_at != 0",
                             error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sqlite3_bind_int64(s, 2, at);
    sql_bind_text(s, 3, reason);
    if (sql_step_enterprise_row(d, s, enterprise_id, error, "suspend default path") == 0)
      ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_default_path_suspension(void *impl, const char *enterprise_id, gint64 *since, char **reason,
                                   GError **error)
{
  SqlDb *d = impl;
  *since = 0;
  *reason = NULL;
  sqlite3_stmt *s =
    sql_prep(d, "SELECT since, reason FROM default_path_suspensions WHERE enterprise_id = ? AND lifted_at = 0", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *since = sqlite3_column_int64(s, 0);
    *reason = sql_col_dup(s, 1);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "read default path suspension");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_default_path_resume(void *impl, const char *enterprise_id, gint64 now, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  /* the rate starts afresh: recipients before the lift no longer count */
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE default_path_suspensions SET lifted_at = max(1, ?2),"
                             " lifted_seq = coalesce((SELECT max(seq) FROM default_path_log WHERE enterprise_id = ?1), 0)"
                             " WHERE enterprise_id = ?1 AND lifted_at = 0",
                             error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sqlite3_bind_int64(s, 2, now);
    if (sql_step_done(d, s, error, "resume default path") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

/* ---- channel system accounts (migration 112) ------------------------------------------------- */

int sqlite_channel_account_set(void *impl, const char *enterprise_id, const char *channel, const char *address,
                               gint64 verified_at, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO channel_accounts(enterprise_id, channel, address, verified_at) VALUES(?, ?, ?, ?)"
                             " ON CONFLICT(enterprise_id, channel) DO UPDATE SET address = excluded.address,"
                             " verified_at = excluded.verified_at",
                             error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, channel);
    sql_bind_text(s, 3, address);
    sqlite3_bind_int64(s, 4, verified_at);
    ret = sql_step_enterprise_row(d, s, enterprise_id, error, "set channel system account");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_channel_account_get(void *impl, const char *enterprise_id, const char *channel, char **address,
                               gint64 *verified_at, GError **error)
{
  SqlDb *d = impl;
  *address = NULL;
  *verified_at = 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT address, verified_at FROM channel_accounts WHERE enterprise_id = ? AND channel = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, channel);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *address = sql_col_dup(s, 0);
    *verified_at = sqlite3_column_int64(s, 1);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "read channel system account");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_channel_account_clear(void *impl, const char *enterprise_id, const char *channel, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "DELETE FROM channel_accounts WHERE enterprise_id = ? AND channel = ?", error);
  if (s) {
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, channel);
    if (sql_step_done(d, s, error, "clear channel system account") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

/* ---- employees' default sending mailboxes (migration 113) ------------------------------------ */

int sqlite_employee_send_mailbox_set(void *impl, const char *enterprise_id, const char *employee_id,
                                     const char *mailbox_id, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO employee_send_mailboxes(employee_id, enterprise_id, mailbox_id) VALUES(?, ?, ?)"
                             " ON CONFLICT(employee_id) DO UPDATE SET mailbox_id = excluded.mailbox_id",
                             error);
  if (s) {
    sql_bind_text(s, 1, employee_id);
    sql_bind_text(s, 2, enterprise_id);
    sql_bind_text(s, 3, mailbox_id);
    ret = sql_step_enterprise_row(d, s, enterprise_id, error, "set default sending mailbox");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_employee_send_mailbox_get(void *impl, const char *enterprise_id, const char *employee_id, char **mailbox_id,
                                     GError **error)
{
  SqlDb *d = impl;
  *mailbox_id = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT mailbox_id FROM employee_send_mailboxes WHERE enterprise_id = ? AND employee_id = ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, employee_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *mailbox_id = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "read default sending mailbox");
  return rc == SQLITE_ROW ? 1 : 0;
}
