/* storage_pg_outbox.c - PostgreSQL backend: the webhook outbox; the same contracts and results as
 * storage_sqlite_outbox.c.
 *
 * Several nodes send one outbox. An event is claimed, not assumed: the claim locks the rows it
 * takes (FOR UPDATE SKIP LOCKED: two claimers never wait on or take the same row) and marks them
 * with a lease (claimed_until) that delivered, failed and release end; a node that dies loses its
 * claims when the lease runs out. Claims are also serialised by a transaction-scoped advisory
 * lock, so each claim sees the previous one's leases committed: that is what keeps an
 * enterprise's later event from going out on another node while an earlier one is in flight.
 * An idempotency key is unique across the outbox, delivered rows included (ON CONFLICT DO NOTHING).
 */
#include "pg_internal.h"

/* The claimers' advisory lock (any 64-bit key of ours): "MAOUTBOX". */
#define PG_OUTBOX_CLAIM_LOCK "4d414f5554424f58"

int pg_outbox_add(void *impl, const char *enterprise_id, const char *event, const char *idempotency_key,
                  const char *payload, gint64 now, GError **error)
{
  PgDb *d = impl;
  g_assert(event && idempotency_key);
  PgParams p = {0};
  pg_param_text(&p, idempotency_key);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, event);
  pg_param_text(&p, payload ? payload : "{}");
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d,
                     "INSERT INTO outbox(idempotency_key, enterprise_id, event, payload, created_at, next_attempt_at)"
                     " VALUES($1, $2, $3, $4, $5, $5) ON CONFLICT(idempotency_key) DO NOTHING",
                     &p, "add outbox event", error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

#define OUTBOX_COLUMNS                                                                                   \
  "seq, idempotency_key, enterprise_id, event, payload, attempts, next_attempt_at, last_error, created_at," \
  " delivered_at, dead"

static MaOutboxEvent *event_read(const PGresult *r, int row)
{
  MaOutboxEvent *e = g_new0(MaOutboxEvent, 1);
  e->seq = pg_col_int(r, row, 0);
  e->idempotency_key = pg_col_dup(r, row, 1);
  e->enterprise_id = pg_col_dup(r, row, 2);
  e->event = pg_col_dup(r, row, 3);
  e->payload = pg_col_dup(r, row, 4);
  e->attempts = (int)pg_col_int(r, row, 5);
  e->next_attempt_at = pg_col_int(r, row, 6);
  e->last_error = pg_col_dup(r, row, 7);
  e->created_at = pg_col_int(r, row, 8);
  e->delivered_at = pg_col_int(r, row, 9);
  gint64 dead = pg_col_int(r, row, 10);
  e->state = dead == 1 ? MA_OUTBOX_DEAD : dead == 2 ? MA_OUTBOX_PURGED : e->delivered_at ? MA_OUTBOX_DELIVERED
                                                                                         : MA_OUTBOX_PENDING;
  return e;
}

static int events_collect(PGresult *r, GPtrArray *out)
{
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, event_read(r, i));
  PQclear(r);
  return 0;
}

static gint by_seq(gconstpointer a, gconstpointer b)
{
  gint64 x = (*(MaOutboxEvent *const *)a)->seq, y = (*(MaOutboxEvent *const *)b)->seq;
  return x < y ? -1 : x > y;
}

static int claim_body(PgDb *d, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  if (pg_exec(d, "SELECT pg_advisory_xact_lock(x'" PG_OUTBOX_CLAIM_LOCK "'::bigint)", NULL, "claim outbox events",
              error) < 0)
    return -1;
  PgParams p = {0};
  pg_param_int(&p, now);
  pg_param_int(&p, MAX(lease_until, 0));
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT32);
  /* due, unclaimed, and the head of its enterprise's queue (storage_outbox_claim); a lease that
   * does not outlast now leaves the rows as they were (a read of what is due) */
  PGresult *r = pg_run(d,
                       "WITH due AS (SELECT o.seq FROM outbox o WHERE o.delivered_at IS NULL AND o.dead = 0"
                       " AND o.next_attempt_at <= $1 AND o.claimed_until <= $1 AND NOT EXISTS (SELECT 1 FROM outbox b"
                       " WHERE coalesce(b.enterprise_id, '') = coalesce(o.enterprise_id, '') AND b.seq < o.seq"
                       " AND b.delivered_at IS NULL AND b.dead = 0 AND (b.next_attempt_at > $1 OR b.claimed_until > $1))"
                       " ORDER BY o.seq LIMIT $3 FOR UPDATE SKIP LOCKED)"
                       " UPDATE outbox x SET claimed_until = CASE WHEN $2 > $1 THEN $2 ELSE x.claimed_until END"
                       " FROM due WHERE x.seq = due.seq RETURNING x.seq, x.idempotency_key, x.enterprise_id, x.event,"
                       " x.payload, x.attempts, x.next_attempt_at, x.last_error, x.created_at, x.delivered_at, x.dead",
                       &p, "claim outbox events", error);
  guint had = out->len;
  if (events_collect(r, out) < 0) return -1;
  /* RETURNING has no order: seq order is the contract */
  g_autoptr(GPtrArray) claimed = g_ptr_array_new();
  for (guint i = had; i < out->len; i++) g_ptr_array_add(claimed, out->pdata[i]);
  g_ptr_array_sort(claimed, by_seq);
  for (guint i = 0; i < claimed->len; i++) out->pdata[had + i] = claimed->pdata[i];
  return 0;
}

int pg_outbox_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  guint had = out->len;
  if (pg_write_begin(d, error) < 0) return -1;
  int rc = pg_write_end(d, claim_body(d, now, lease_until, limit, out, error), error);
  if (rc < 0) g_ptr_array_remove_range(out, had, out->len - had);
  return rc;
}

/* One UPDATE of one event by seq, under a write unit. */
static int update_event(PgDb *d, const char *sql, PgParams *p, const char *what, GError **error)
{
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, pg_exec(d, sql, p, what, error) < 0 ? -1 : 0, error);
}

int pg_outbox_release(void *impl, gint64 seq, GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, seq);
  return update_event(impl, "UPDATE outbox SET claimed_until = 0 WHERE seq = $1", &p, "release outbox event", error);
}

int pg_outbox_delivered(void *impl, gint64 seq, gint64 now, GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, now);
  pg_param_int(&p, seq);
  return update_event(impl, "UPDATE outbox SET delivered_at = $1, attempts = attempts + 1, claimed_until = 0 WHERE seq = $2",
                      &p, "outbox delivered", error);
}

int pg_outbox_failed(void *impl, gint64 seq, int attempts, gint64 next_attempt_at, const char *error_text,
                     gboolean dead, GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, attempts);
  pg_param_int(&p, next_attempt_at);
  pg_param_text(&p, error_text);
  pg_param_int(&p, dead ? 1 : 0);
  pg_param_int(&p, seq);
  return update_event(impl,
                      "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3, dead = $4, claimed_until = 0"
                      " WHERE seq = $5",
                      &p, "outbox failed", error);
}

static int count_one(PgDb *d, const char *sql, gint64 *out, GError **error)
{
  *out = 0;
  PGresult *r = pg_run(d, sql, NULL, "count", error);
  if (!r) return -1;
  *out = pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

int pg_outbox_backlog(void *impl, gint64 *count, GError **error)
{
  return count_one(impl, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead = 0", count, error);
}

int pg_outbox_dead_count(void *impl, gint64 *count, GError **error)
{
  return count_one(impl, "SELECT count(*) FROM outbox WHERE dead = 1", count, error);
}

int pg_outbox_dead_list(void *impl, const char *enterprise_id, gint64 after_seq, int limit, GPtrArray *out,
                        GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, after_seq);
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT32);
  return events_collect(pg_run(impl,
                               "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE dead = 1 AND seq > $1"
                               " AND ($2::text IS NULL OR enterprise_id = $2) ORDER BY seq LIMIT $3",
                               &p, "outbox dead list", error),
                        out);
}

int pg_outbox_get(void *impl, const char *enterprise_id, gint64 seq, MaOutboxEvent **out, GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, seq);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(impl,
                       "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE seq = $1 AND ($2::text IS NULL OR enterprise_id = $2)",
                       &p, "outbox get", error);
  if (!r) return -1;
  int found = PQntuples(r) > 0;
  if (found) *out = event_read(r, 0);
  PQclear(r);
  return found;
}

/* One UPDATE over the dead events selected by (enterprise_id, seq), as the retry and purge
 * contracts say; *count gets the rows changed. */
static int update_dead(PgDb *d, const char *sql, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count,
                       GError **error)
{
  *count = 0;
  PgParams p = {0};
  pg_param_int(&p, seq);
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, now);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, sql, &p, "outbox dead update", error);
  if (n >= 0) *count = n;
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_outbox_dead_retry(void *impl, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count, GError **error)
{
  return update_dead(impl,
                     "UPDATE outbox SET dead = 0, attempts = 0, next_attempt_at = $3, claimed_until = 0"
                     " WHERE dead = 1 AND ($1 = 0 OR seq = $1) AND ($2::text IS NULL OR enterprise_id = $2)",
                     enterprise_id, seq, now, count, error);
}

int pg_outbox_dead_purge(void *impl, const char *enterprise_id, gint64 seq, gint64 *count, GError **error)
{
  return update_dead(impl,
                     "UPDATE outbox SET dead = 2 WHERE dead = 1 AND ($1 = 0 OR seq = $1)"
                     " AND ($2::text IS NULL OR enterprise_id = $2) AND $3::bigint IS NOT NULL",
                     enterprise_id, seq, 0, count, error);
}
