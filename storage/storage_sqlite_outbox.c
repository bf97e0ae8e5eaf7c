/* storage_sqlite_outbox.c - SQLite backend: the webhook outbox (events for the CRM, claimed by a
 * sender with a lease and delivered in seq order per enterprise, retried with a schedule the
 * webhook module decides, parked as dead at its retry cap) and the admin counts shown on /metrics.
 *
 * The counts come from the counters table (migration 4), not from scans: the writers of messages and
 * activities count their inserts (migration 6), triggers count deletes and records.
 *
 * An idempotency key is unique across the outbox, delivered rows included, so a replayed pipeline
 * step never emits an event twice. Delivered rows are kept (marked), not deleted, for that reason;
 * so are purged dead events (dead = 2).
 *
 * The dead column: 0 pending or delivered, 1 dead (parked after the last attempt), 2 purged.
 */
#include "sqlite_internal.h"

int sqlite_outbox_add(void *impl, const char *enterprise_id, const char *event, const char *idempotency_key,
                      const char *payload, gint64 now, GError **error)
{
  SqlDb *d = impl;
  g_assert(event && idempotency_key);
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO outbox(idempotency_key, enterprise_id, event, payload, created_at,"
                             " next_attempt_at) VALUES(?, ?, ?, ?, ?, ?)",
                             error);
  if (s) {
    sql_bind_text(s, 1, idempotency_key);
    sql_bind_text(s, 2, enterprise_id);
    sql_bind_text(s, 3, event);
    sql_bind_text(s, 4, payload ? payload : "{}");
    sqlite3_bind_int64(s, 5, now);
    sqlite3_bind_int64(s, 6, now);
    if (sql_step_done(d, s, error, "add outbox event") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

/* The claim's choice (storage_outbox_claim): due, unclaimed, and no earlier pending event of the
 * same enterprise that is not due or is claimed. ?1 now, ?2 limit. */
#define OUTBOX_CLAIMABLE                                                                                   \
  " FROM outbox o WHERE o.delivered_at IS NULL AND o.dead = 0 AND o.next_attempt_at <= ?1"                   \
  " AND o.claimed_until <= ?1 AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.enterprise_id IS o.enterprise_id" \
  " AND b.seq < o.seq AND b.delivered_at IS NULL AND b.dead = 0 AND (b.next_attempt_at > ?1 OR b.claimed_until > ?1))" \
  " ORDER BY o.seq LIMIT ?2"

int sqlite_outbox_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  /* the write lock makes the choice and the marking one step: no other sender claims in between */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT o.seq, o.idempotency_key, o.enterprise_id, o.event, o.payload, o.attempts,"
                             " o.next_attempt_at, o.last_error" OUTBOX_CLAIMABLE,
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sqlite3_bind_int64(s, 1, now);
  sqlite3_bind_int(s, 2, limit > 0 ? limit : -1);
  guint had = out->len;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaOutboxEvent *e = g_new0(MaOutboxEvent, 1);
    e->seq = sqlite3_column_int64(s, 0);
    e->idempotency_key = sql_col_dup(s, 1);
    e->enterprise_id = sql_col_dup(s, 2);
    e->event = sql_col_dup(s, 3);
    e->payload = sql_col_dup(s, 4);
    e->attempts = sqlite3_column_int(s, 5);
    e->next_attempt_at = sqlite3_column_int64(s, 6);
    e->last_error = sql_col_dup(s, 7);
    g_ptr_array_add(out, e);
  }
  sql_reset(s);
  int ret = rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "claim outbox events");
  if (ret == 0 && lease_until > now && out->len > had) {
    s = sql_prep(d, "UPDATE outbox SET claimed_until = ? WHERE seq = ?", error);
    for (guint i = had; s && ret == 0 && i < out->len; i++) {
      sqlite3_bind_int64(s, 1, lease_until);
      sqlite3_bind_int64(s, 2, ((MaOutboxEvent *) out->pdata[i])->seq);
      ret = sql_step_done(d, s, error, "claim outbox event");
    }
    if (!s) ret = -1;
  }
  ret = sql_write_end(d, ret, error);
  if (ret < 0) g_ptr_array_remove_range(out, had, out->len - had);
  return ret;
}

int sqlite_outbox_release(void *impl, gint64 seq, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "UPDATE outbox SET claimed_until = 0 WHERE seq = ?", error);
  if (s) {
    sqlite3_bind_int64(s, 1, seq);
    ret = sql_step_done(d, s, error, "release outbox event");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_outbox_delivered(void *impl, gint64 seq, gint64 now, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, claimed_until = 0 WHERE seq = ?", error);
  if (s) {
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int64(s, 2, seq);
    ret = sql_step_done(d, s, error, "outbox delivered");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_outbox_failed(void *impl, gint64 seq, int attempts, gint64 next_attempt_at, const char *error_text,
                         gboolean dead, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, dead = ?,"
                             " claimed_until = 0 WHERE seq = ?",
                             error);
  if (s) {
    sqlite3_bind_int(s, 1, attempts);
    sqlite3_bind_int64(s, 2, next_attempt_at);
    sql_bind_text(s, 3, error_text);
    sqlite3_bind_int(s, 4, dead ? 1 : 0);
    sqlite3_bind_int64(s, 5, seq);
    ret = sql_step_done(d, s, error, "outbox failed");
  }
  return sql_write_end(d, ret, error);
}

static int count_one(SqlDb *d, const char *sql, gint64 *out, GError **error)
{
  *out = 0;
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW) return sql_fail(d, rc, error, "count");
  return 0;
}

int sqlite_outbox_backlog(void *impl, gint64 *count, GError **error)
{
  return count_one(impl, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead = 0", count, error);
}

#define OUTBOX_COLUMNS                                                                                   \
  "seq, idempotency_key, enterprise_id, event, payload, attempts, next_attempt_at, last_error, created_at,"     \
  " delivered_at, dead"

static MaOutboxEvent *event_from_row(sqlite3_stmt *s)
{
  MaOutboxEvent *e = g_new0(MaOutboxEvent, 1);
  e->seq = sqlite3_column_int64(s, 0);
  e->idempotency_key = sql_col_dup(s, 1);
  e->enterprise_id = sql_col_dup(s, 2);
  e->event = sql_col_dup(s, 3);
  e->payload = sql_col_dup(s, 4);
  e->attempts = sqlite3_column_int(s, 5);
  e->next_attempt_at = sqlite3_column_int64(s, 6);
  e->last_error = sql_col_dup(s, 7);
  e->created_at = sqlite3_column_int64(s, 8);
  e->delivered_at = sqlite3_column_int64(s, 9);
  int dead = sqlite3_column_int(s, 10);
  e->state = dead == 1 ? MA_OUTBOX_DEAD : dead == 2 ? MA_OUTBOX_PURGED : e->delivered_at ? MA_OUTBOX_DELIVERED
                                                                                        : MA_OUTBOX_PENDING;
  return e;
}

int sqlite_outbox_dead_list(void *impl, const char *enterprise_id, gint64 after_seq, int limit, GPtrArray *out,
                            GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE dead = 1 AND seq > ?1"
                             " AND (?2 IS NULL OR enterprise_id = ?2) ORDER BY seq LIMIT ?3",
                             error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, after_seq);
  sql_bind_text(s, 2, enterprise_id);
  sqlite3_bind_int(s, 3, limit > 0 ? limit : -1);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, event_from_row(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "outbox dead list");
  return 0;
}

int sqlite_outbox_get(void *impl, const char *enterprise_id, gint64 seq, MaOutboxEvent **out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE seq = ?1 AND (?2 IS NULL OR enterprise_id = ?2)",
                             error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, seq);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = event_from_row(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "outbox get");
  return rc == SQLITE_ROW ? 1 : 0;
}

/* One UPDATE over the dead events selected by (enterprise_id, seq), as the retry and purge
 * contracts say; *count gets the rows changed. */
static int update_dead(SqlDb *d, const char *set_sql, const char *enterprise_id, gint64 seq, gint64 now,
                       gint64 *count, GError **error)
{
  *count = 0;
  if (sql_write_begin(d, error) < 0) return -1;
  g_autofree char *sql = g_strconcat("UPDATE outbox SET ", set_sql,
                                     " WHERE dead = 1 AND (?1 = 0 OR seq = ?1) AND (?2 IS NULL OR enterprise_id = ?2)",
                                     NULL);
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (s) {
    sqlite3_bind_int64(s, 1, seq);
    sql_bind_text(s, 2, enterprise_id);
    if (sqlite3_bind_parameter_count(s) >= 3) sqlite3_bind_int64(s, 3, now);
    ret = sql_step_done(d, s, error, "outbox dead update");
    if (ret == 0) *count = sqlite3_changes(d->db);
  }
  return sql_write_end(d, ret, error);
}

int sqlite_outbox_dead_retry(void *impl, const char *enterprise_id, gint64 seq, gint64 now, gint64 *count,
                             GError **error)
{
  return update_dead(impl, "dead = 0, attempts = 0, next_attempt_at = ?3", enterprise_id, seq, now, count, error);
}

int sqlite_outbox_dead_purge(void *impl, const char *enterprise_id, gint64 seq, gint64 *count, GError **error)
{
  return update_dead(impl, "dead = 2", enterprise_id, seq, 0, count, error);
}

int sqlite_outbox_dead_count(void *impl, gint64 *count, GError **error)
{
  return count_one(impl, "SELECT count(*) FROM outbox WHERE dead = 1", count, error);
}

int sqlite_counts(void *impl, gint64 *messages, gint64 *activities, gint64 *records, GError **error)
{
  SqlDb *d = impl;
  gboolean txn = sqlite3_get_autocommit(d->db) && sql_exec(d, "BEGIN", NULL) == 0;
  int rc = 0;
  if (count_one(d, "SELECT n FROM counters WHERE name = 'messages'", messages, error) < 0 ||
      count_one(d, "SELECT n FROM counters WHERE name = 'activities'", activities, error) < 0 ||
      count_one(d, "SELECT n FROM counters WHERE name = 'records'", records, error) < 0)
    rc = -1;
  if (txn) sql_exec(d, "COMMIT", NULL);
  return rc;
}
