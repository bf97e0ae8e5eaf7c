/* storage_pg_sending.c - PostgreSQL backend of the employee-mailbox channel: a mailbox's daily
 * limit and count of recipients per calendar day (reserved before a delivery, given back for
 * what was not sent), a recipient's own route after a fallback, and the Sent copies (a recorded
 * step of the queue entry, claimed with a lease like a recipient); the same contracts as
 * storage_sqlite_sending.c.
 *
 * Nodes share the counts, so a reservation is one upsert: it computes the grant from the day's row
 * it has locked and stores both the new count and the grant (returned), so two nodes reserving at
 * once never pass the limit together and never read a count to write it back. Sent copies are
 * claimed with FOR UPDATE SKIP LOCKED and a lease, as outbound recipients are.
 */
#include "pg_internal.h"

#include <string.h>

#define COPY_COLS "outbound_id, enterprise_id, mailbox_id, state, attempts, next_attempt_at, folder, last_error, updated_at"

int pg_mailbox_set_daily_limit(void *impl, const char *enterprise_id, const char *id, int daily_limit, GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, daily_limit);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id);
  return pg_write_changed(impl, "UPDATE mailboxes SET daily_limit = $1 WHERE enterprise_id = $2 AND id = $3", &p,
                          "set mailbox daily limit", error);
}

int pg_mailbox_send_reserve(void *impl, const char *mailbox_id, const char *day, int limit, int want, int *granted,
                            gint64 *sent_r, GError **error)
{
  PgDb *d = impl;
  *granted = 0;
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, day);
  pg_param_int(&p, limit);
  pg_param_int(&p, MAX(want, 0));
  if (pg_write_begin(d, error) < 0) return -1;
  /* the grant: what is wanted, at most what is left of the day (a limit of 0 is none); both SET
   * expressions read the same locked row, so granted is exactly what this statement added */
  PGresult *r = pg_run(d,
                       "INSERT INTO mailbox_send_days AS t(mailbox_id, day, sent, granted)"
                       " SELECT $1, $2, g, g FROM (SELECT CASE WHEN $3::bigint > 0 THEN least($4::bigint, $3::bigint)"
                       "  ELSE $4::bigint END AS g) first"
                       " ON CONFLICT(mailbox_id, day) DO UPDATE SET"
                       " sent = t.sent + CASE WHEN $3::bigint > 0 THEN least($4::bigint, greatest($3::bigint - t.sent, 0))"
                       "  ELSE $4::bigint END,"
                       " granted = CASE WHEN $3::bigint > 0 THEN least($4::bigint, greatest($3::bigint - t.sent, 0))"
                       "  ELSE $4::bigint END"
                       " RETURNING granted, sent",
                       &p, "reserve mailbox recipients", error);
  gint64 take = 0, sent = 0;
  if (r) {
    take = pg_col_int(r, 0, 0);
    sent = pg_col_int(r, 0, 1);
    PQclear(r);
  }
  if (pg_write_end(d, r ? 0 : -1, error) < 0) return -1;
  *granted = (int)take;
  if (sent_r) *sent_r = sent;
  return 0;
}

int pg_mailbox_send_release(void *impl, const char *mailbox_id, const char *day, int n, GError **error)
{
  PgDb *d = impl;
  if (n == 0) return 0;
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, day);
  pg_param_int(&p, -n);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 rows = pg_exec(d,
                        "INSERT INTO mailbox_send_days AS t(mailbox_id, day, sent) VALUES($1, $2, greatest($3::bigint, 0))"
                        " ON CONFLICT(mailbox_id, day) DO UPDATE SET sent = greatest(t.sent + $3::bigint, 0)",
                        &p, "count mailbox recipients", error);
  return pg_write_end(d, rows < 0 ? -1 : 0, error);
}

int pg_mailbox_sent_on(void *impl, const char *mailbox_id, const char *day, gint64 *sent, GError **error)
{
  PgDb *d = impl;
  *sent = 0;
  PgParams p = {0};
  pg_param_text(&p, mailbox_id);
  pg_param_text(&p, day);
  PGresult *r = pg_run(d, "SELECT sent FROM mailbox_send_days WHERE mailbox_id = $1 AND day = $2", &p,
                       "read mailbox daily count", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *sent = pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

int pg_outbound_recipient_reroute(void *impl, gint64 id, const char *route_json, gint64 next_attempt_at, gint64 now,
                                  GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, route_json);
  pg_param_int(&p, next_attempt_at);
  pg_param_int(&p, now);
  pg_param_int(&p, id);
  return pg_write_changed(impl,
                          "UPDATE outbound_recipients SET route = $1, state = 'queued', next_attempt_at = $2,"
                          " attempts = greatest(attempts - 1, 0), updated_at = $3 WHERE id = $4 AND state = 'sending'",
                          &p, "reroute outbound recipient", error);
}

/* A MaSentCopy from row i of a result whose columns are COPY_COLS (caller frees). */
static gpointer copy_read(const PGresult *r, int i)
{
  MaSentCopy *c = g_new0(MaSentCopy, 1);
  c->outbound_id = pg_col_dup(r, i, 0);
  c->enterprise_id = pg_col_dup(r, i, 1);
  c->mailbox_id = pg_col_dup(r, i, 2);
  c->state = pg_col_dup(r, i, 3);
  c->attempts = (int)pg_col_int(r, i, 4);
  c->next_attempt_at = pg_col_int(r, i, 5);
  c->folder = pg_col_dup(r, i, 6);
  c->last_error = pg_col_dup(r, i, 7);
  c->updated_at = pg_col_int(r, i, 8);
  return c;
}

int pg_sent_copy_add(void *impl, const char *outbound_id, const char *enterprise_id, const char *mailbox_id, gint64 now,
                     GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, outbound_id);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, mailbox_id);
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d,
                     "INSERT INTO outbound_sent_copies(outbound_id, enterprise_id, mailbox_id, next_attempt_at, updated_at)"
                     " VALUES($1, $2, $3, $4, $4) ON CONFLICT(outbound_id) DO NOTHING",
                     &p, "record the Sent copy step", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_sent_copy_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_int(&p, now);
  pg_param_int(&p, lease_until);
  pg_param_int(&p, limit > 0 ? limit : 10);
  return pg_write_rows(d,
                       "WITH due AS (SELECT outbound_id, next_attempt_at AS was FROM outbound_sent_copies"
                       "  WHERE state IN ('pending', 'appending') AND next_attempt_at <= $1"
                       "  ORDER BY next_attempt_at, outbound_id LIMIT $3 FOR UPDATE SKIP LOCKED),"
                       " claimed AS (UPDATE outbound_sent_copies c SET state = 'appending', attempts = attempts + 1,"
                       "  next_attempt_at = $2, updated_at = $1 FROM due WHERE c.outbound_id = due.outbound_id"
                       "  RETURNING c.outbound_id, c.enterprise_id, c.mailbox_id, c.state, c.attempts, c.next_attempt_at,"
                       "  c.folder, c.last_error, c.updated_at, due.was)"
                       " SELECT " COPY_COLS " FROM claimed ORDER BY was, outbound_id",
                       &p, "claim Sent copies", copy_read,
                       (GDestroyNotify)ma_sent_copy_free, out, error);
}

int pg_sent_copy_result(void *impl, const char *outbound_id, const char *state, const char *folder,
                        const char *error_text, gint64 next_attempt_at, gint64 now, GError **error)
{
  g_assert(strcmp(state, "done") == 0 || strcmp(state, "pending") == 0 || strcmp(state, "failed") == 0);
  PgParams p = {0};
  pg_param_text(&p, state);
  pg_param_text(&p, folder);
  pg_param_text(&p, error_text);
  pg_param_int(&p, next_attempt_at);
  pg_param_int(&p, now);
  pg_param_text(&p, outbound_id);
  return pg_write_changed(impl,
                          "UPDATE outbound_sent_copies SET state = $1, folder = coalesce($2, folder), last_error = $3,"
                          " next_attempt_at = $4, updated_at = $5 WHERE outbound_id = $6 AND state = 'appending'",
                          &p, "record Sent copy outcome", error);
}

int pg_sent_copy_get(void *impl, const char *enterprise_id, const char *outbound_id, MaSentCopy **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, outbound_id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d,
                       "SELECT " COPY_COLS " FROM outbound_sent_copies WHERE outbound_id = $1"
                       " AND ($2::text IS NULL OR enterprise_id = $2)",
                       &p, "read Sent copy", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = copy_read(r, 0);
  PQclear(r);
  return *out ? 1 : 0;
}
