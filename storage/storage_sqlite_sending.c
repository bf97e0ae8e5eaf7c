/* storage_sqlite_sending.c - SQLite backend of the employee-mailbox channel: a mailbox's count of
 * recipients per calendar day (reserved before a delivery, given back for what was not sent), a
 * recipient's own route after a fallback, and the Sent copies (a recorded step of the queue entry,
 * claimed with a lease like a recipient).
 *
 * A reservation is one read and one upsert under a write unit, so two deliveries through the same
 * mailbox never pass its limit together. A Sent copy's outcome applies only while it is appending.
 */
#include "sqlite_internal.h"

#include <string.h>

#define COPY_COLS "outbound_id, enterprise_id, mailbox_id, state, attempts, next_attempt_at, folder, last_error, updated_at"

int sqlite_mailbox_set_daily_limit(void *impl, const char *enterprise_id, const char *id, int daily_limit, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d, "UPDATE mailboxes SET daily_limit = ? WHERE enterprise_id = ? AND id = ?", error);
  int ret = -1;
  if (s) {
    sqlite3_bind_int(s, 1, daily_limit);
    sql_bind_text(s, 2, enterprise_id);
    sql_bind_text(s, 3, id);
    if (sql_step_done(d, s, error, "set mailbox daily limit") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

static int day_count(SqlDb *d, const char *mailbox_id, const char *day, gint64 *sent, GError **error)
{
  *sent = 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT sent FROM mailbox_send_days WHERE mailbox_id = ? AND day = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, day);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *sent = sqlite3_column_int64(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "read mailbox daily count");
  return 0;
}

static int day_add(SqlDb *d, const char *mailbox_id, const char *day, int delta, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO mailbox_send_days(mailbox_id, day, sent) VALUES(?1, ?2, max(?3, 0))"
                             " ON CONFLICT(mailbox_id, day) DO UPDATE SET sent = max(sent + ?3, 0)",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, mailbox_id);
  sql_bind_text(s, 2, day);
  sqlite3_bind_int(s, 3, delta);
  return sql_step_done(d, s, error, "count mailbox recipients");
}

int sqlite_mailbox_send_reserve(void *impl, const char *mailbox_id, const char *day, int limit, int want, int *granted,
                                gint64 *sent_r, GError **error)
{
  SqlDb *d = impl;
  *granted = 0;
  if (sql_write_begin(d, error) < 0) return -1;
  gint64 sent = 0;
  if (day_count(d, mailbox_id, day, &sent, error) < 0) return sql_write_end(d, -1, error);
  gint64 room = limit > 0 ? MAX(limit - sent, 0) : want;
  int take = (int) MIN((gint64) want, room);
  if (take > 0 && day_add(d, mailbox_id, day, take, error) < 0) return sql_write_end(d, -1, error);
  if (sql_write_end(d, 0, error) < 0) return -1;
  *granted = take;
  if (sent_r) *sent_r = sent + take;
  return 0;
}

int sqlite_mailbox_send_release(void *impl, const char *mailbox_id, const char *day, int n, GError **error)
{
  SqlDb *d = impl;
  if (n == 0) return 0;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, day_add(d, mailbox_id, day, -n, error), error);
}

int sqlite_mailbox_sent_on(void *impl, const char *mailbox_id, const char *day, gint64 *sent, GError **error)
{
  return day_count(impl, mailbox_id, day, sent, error);
}

int sqlite_outbound_recipient_reroute(void *impl, gint64 id, const char *route_json, gint64 next_attempt_at, gint64 now,
                                      GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE outbound_recipients SET route = ?, state = 'queued', next_attempt_at = ?,"
                             " attempts = max(attempts - 1, 0), updated_at = ? WHERE id = ? AND state = 'sending'",
                             error);
  int ret = -1;
  if (s) {
    sql_bind_text(s, 1, route_json);
    sqlite3_bind_int64(s, 2, next_attempt_at);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, id);
    if (sql_step_done(d, s, error, "reroute outbound recipient") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

static MaSentCopy *copy_read(sqlite3_stmt *s)
{
  MaSentCopy *c = g_new0(MaSentCopy, 1);
  c->outbound_id = sql_col_dup(s, 0);
  c->enterprise_id = sql_col_dup(s, 1);
  c->mailbox_id = sql_col_dup(s, 2);
  c->state = sql_col_dup(s, 3);
  c->attempts = sqlite3_column_int(s, 4);
  c->next_attempt_at = sqlite3_column_int64(s, 5);
  c->folder = sql_col_dup(s, 6);
  c->last_error = sql_col_dup(s, 7);
  c->updated_at = sqlite3_column_int64(s, 8);
  return c;
}

int sqlite_sent_copy_add(void *impl, const char *outbound_id, const char *enterprise_id, const char *mailbox_id,
                         gint64 now, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO outbound_sent_copies(outbound_id, enterprise_id, mailbox_id,"
                             " next_attempt_at, updated_at) VALUES(?, ?, ?, ?, ?)",
                             error);
  int ret = -1;
  if (s) {
    sql_bind_text(s, 1, outbound_id);
    sql_bind_text(s, 2, enterprise_id);
    sql_bind_text(s, 3, mailbox_id);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int64(s, 5, now);
    ret = sql_step_done(d, s, error, "record the Sent copy step");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_sent_copy_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT " COPY_COLS " FROM outbound_sent_copies WHERE state IN ('pending', 'appending')"
                             " AND next_attempt_at <= ? ORDER BY next_attempt_at, outbound_id LIMIT ?",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sqlite3_bind_int64(s, 1, now);
  sqlite3_bind_int(s, 2, limit > 0 ? limit : 10);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify) ma_sent_copy_free);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(got, copy_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_write_end(d, sql_fail(d, rc, error, "read Sent copies"), error);
  s = sql_prep(d,
               "UPDATE outbound_sent_copies SET state = 'appending', attempts = attempts + 1, next_attempt_at = ?,"
               " updated_at = ? WHERE outbound_id = ?",
               error);
  if (!s) return sql_write_end(d, -1, error);
  for (guint i = 0; i < got->len; i++) {
    MaSentCopy *c = g_ptr_array_index(got, i);
    sqlite3_bind_int64(s, 1, lease_until);
    sqlite3_bind_int64(s, 2, now);
    sql_bind_text(s, 3, c->outbound_id);
    if (sql_step_done(d, s, error, "claim Sent copy") < 0) return sql_write_end(d, -1, error);
    g_free(c->state);
    c->state = g_strdup("appending");
    c->attempts++;
    c->next_attempt_at = lease_until;
  }
  if (sql_write_end(d, 0, error) < 0) return -1;
  for (guint i = 0; i < got->len; i++) g_ptr_array_add(out, g_ptr_array_index(got, i));
  g_ptr_array_set_free_func(got, NULL);
  return 0;
}

int sqlite_sent_copy_result(void *impl, const char *outbound_id, const char *state, const char *folder,
                            const char *error_text, gint64 next_attempt_at, gint64 now, GError **error)
{
  SqlDb *d = impl;
  g_assert(strcmp(state, "done") == 0 || strcmp(state, "pending") == 0 || strcmp(state, "failed") == 0);
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE outbound_sent_copies SET state = ?, folder = coalesce(?, folder), last_error = ?,"
                             " next_attempt_at = ?, updated_at = ? WHERE outbound_id = ? AND state = 'appending'",
                             error);
  int ret = -1;
  if (s) {
    sql_bind_text(s, 1, state);
    sql_bind_text(s, 2, folder);
    sql_bind_text(s, 3, error_text);
    sqlite3_bind_int64(s, 4, next_attempt_at);
    sqlite3_bind_int64(s, 5, now);
    sql_bind_text(s, 6, outbound_id);
    if (sql_step_done(d, s, error, "record Sent copy outcome") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_sent_copy_get(void *impl, const char *enterprise_id, const char *outbound_id, MaSentCopy **out,
                         GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT " COPY_COLS " FROM outbound_sent_copies WHERE outbound_id = ?1"
                             " AND (?2 IS NULL OR enterprise_id = ?2)",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, outbound_id);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = copy_read(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "read Sent copy");
  return rc == SQLITE_ROW ? 1 : 0;
}
