/* storage_sqlite_outbound.c - SQLite backend: the outbound queue (messages, per-recipient states,
 * claims with leases, outcomes, operators' hold/release/retry/delete, stats), the Idempotency-Key
 * answers of the send API, and the submission listener's credentials.
 *
 * Every state change is one UPDATE under a write unit, so it is durable at its commit and a crash
 * leaves each recipient either before or after a transition, never between. A claim is a lease,
 * not a lock: "sending" with next_attempt_at in the past is due again, which is how a recipient
 * whose attempt died with the process is retried. An outcome applies only to a recipient still
 * sending, so an operator's hold or delete during an attempt is never overwritten.
 */
#include "sqlite_internal.h"

#include <string.h>

#define IDEMPOTENCY_TTL (24 * 3600)
#define RCPT_COLS                                                                                        \
  "id, outbound_id, enterprise_id, address, state, attempts, next_attempt_at, last_attempt_at, updated_at," \
  " last_reply, deferred_reason, route"
#define MSG_COLS                                                                                           \
  "id, enterprise_id, type, channel, employee, mail_from, header_from, subject, message_id, raw_sha256, size," \
  " eight_bit, smtputf8, records, route, created_at, return_path, list_unsubscribe"

static MaOutboundRecipient *rcpt_read(sqlite3_stmt *s)
{
  MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
  r->id = sqlite3_column_int64(s, 0);
  r->outbound_id = sql_col_dup(s, 1);
  r->enterprise_id = sql_col_dup(s, 2);
  r->address = sql_col_dup(s, 3);
  if (ma_outbound_state_parse((const char *) sqlite3_column_text(s, 4), &r->state) < 0) r->state = MA_OUT_QUEUED;
  r->attempts = sqlite3_column_int(s, 5);
  r->next_attempt_at = sqlite3_column_int64(s, 6);
  r->last_attempt_at = sqlite3_column_int64(s, 7);
  r->updated_at = sqlite3_column_int64(s, 8);
  r->last_reply = sql_col_dup(s, 9);
  r->deferred_reason = sql_col_dup(s, 10);
  r->route_json = sql_col_dup(s, 11);
  return r;
}

static int rcpts_collect(SqlDb *d, sqlite3_stmt *s, GPtrArray *out, GError **error)
{
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, rcpt_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "read outbound recipients");
  return 0;
}

/* 1: the key is live (prior answer copied out), 0: not there. Purges this enterprise's expired keys. */
static int idempotency_lookup(SqlDb *d, const char *enterprise_id, const char *key, gint64 now, char **prior_hash,
                              char **prior_response, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "DELETE FROM outbound_idempotency WHERE enterprise_id = ? AND created_at <= ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int64(s, 2, now - IDEMPOTENCY_TTL);
  if (sql_step_done(d, s, error, "purge idempotency keys") < 0) return -1;
  s = sql_prep(d, "SELECT request_sha256, response FROM outbound_idempotency WHERE enterprise_id = ? AND key = ?",
               error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, key);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    if (prior_hash) *prior_hash = sql_col_dup(s, 0);
    if (prior_response) *prior_response = sql_col_dup(s, 1);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "idempotency look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

static int insert_message(SqlDb *d, const MaOutbound *m, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "INSERT INTO outbound_messages(" MSG_COLS ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, m->id);
  sql_bind_text(s, 2, m->enterprise_id);
  sql_bind_text(s, 3, m->type ? m->type : "individual");
  sql_bind_text(s, 4, m->channel ? m->channel : "auto");
  sql_bind_text(s, 5, m->employee);
  sql_bind_text(s, 6, m->mail_from ? m->mail_from : "");
  sql_bind_text(s, 7, m->header_from);
  sql_bind_text(s, 8, m->subject);
  sql_bind_text(s, 9, m->message_id);
  sql_bind_text(s, 10, m->raw_sha256);
  sqlite3_bind_int64(s, 11, m->size);
  sqlite3_bind_int(s, 12, m->eight_bit ? 1 : 0);
  sqlite3_bind_int(s, 13, m->smtputf8 ? 1 : 0);
  sql_bind_text(s, 14, m->records_json);
  sql_bind_text(s, 15, m->route_json);
  sqlite3_bind_int64(s, 16, m->created_at);
  sql_bind_text(s, 17, m->return_path);
  sqlite3_bind_int(s, 18, m->list_unsubscribe ? 1 : 0);
  if (sql_step_enterprise_row(d, s, m->enterprise_id, error, "queue outbound message") < 0) return -1;
  s = sql_prep(d,
               "INSERT INTO outbound_recipients(outbound_id, enterprise_id, address, state, next_attempt_at,"
               " updated_at, last_reply) VALUES(?, ?, ?, ?, ?, ?, ?)",
               error);
  if (!s) return -1;
  for (guint i = 0; i < m->recipients->len; i++) {
    const MaOutboundRecipient *r = g_ptr_array_index(m->recipients, i);
    sql_bind_text(s, 1, m->id);
    sql_bind_text(s, 2, m->enterprise_id);
    sql_bind_text(s, 3, r->address);
    sql_bind_text(s, 4, ma_outbound_state_name(r->state));
    sqlite3_bind_int64(s, 5, m->created_at);
    sqlite3_bind_int64(s, 6, m->created_at);
    sql_bind_text(s, 7, r->last_reply);
    if (sql_step_done(d, s, error, "queue outbound recipient") < 0) return -1;
  }
  return 0;
}

int sqlite_outbound_enqueue(void *impl, const MaOutbound *m, const char *idem_key, const char *request_hash,
                            const char *response, gint64 now, char **prior_hash, char **prior_response,
                            GError **error)
{
  SqlDb *d = impl;
  g_assert(m->id && m->enterprise_id && m->raw_sha256 && m->recipients->len > 0);
  g_assert(!idem_key || (request_hash && response));
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = 1;
  if (idem_key) {
    int found = idempotency_lookup(d, m->enterprise_id, idem_key, now, prior_hash, prior_response, error);
    if (found != 0) return sql_write_end(d, found < 0 ? -1 : 0, error);
  }
  if (insert_message(d, m, error) < 0) return sql_write_end(d, -1, error);
  if (idem_key) {
    sqlite3_stmt *s = sql_prep(d,
                               "INSERT INTO outbound_idempotency(enterprise_id, key, request_sha256, response, created_at)"
                               " VALUES(?, ?, ?, ?, ?)",
                               error);
    if (!s) return sql_write_end(d, -1, error);
    sql_bind_text(s, 1, m->enterprise_id);
    sql_bind_text(s, 2, idem_key);
    sql_bind_text(s, 3, request_hash);
    sql_bind_text(s, 4, response);
    sqlite3_bind_int64(s, 5, now);
    if (sql_step_done(d, s, error, "store idempotency key") < 0) ret = -1;
  }
  return sql_write_end(d, ret, error);
}

static int load_message(SqlDb *d, const char *enterprise_id, const char *id, MaOutbound **out, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "SELECT " MSG_COLS " FROM outbound_messages WHERE id = ?1"
                                " AND (?2 IS NULL OR enterprise_id = ?2)", error);
  if (!s) return -1;
  sql_bind_text(s, 1, id);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sql_reset(s);
    return rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "read outbound message");
  }
  MaOutbound *m = ma_outbound_new();
  m->id = sql_col_dup(s, 0);
  m->enterprise_id = sql_col_dup(s, 1);
  m->type = sql_col_dup(s, 2);
  m->channel = sql_col_dup(s, 3);
  m->employee = sql_col_dup(s, 4);
  m->mail_from = sql_col_dup(s, 5);
  m->header_from = sql_col_dup(s, 6);
  m->subject = sql_col_dup(s, 7);
  m->message_id = sql_col_dup(s, 8);
  m->raw_sha256 = sql_col_dup(s, 9);
  m->size = sqlite3_column_int64(s, 10);
  m->eight_bit = sqlite3_column_int(s, 11) != 0;
  m->smtputf8 = sqlite3_column_int(s, 12) != 0;
  m->records_json = sql_col_dup(s, 13);
  m->route_json = sql_col_dup(s, 14);
  m->created_at = sqlite3_column_int64(s, 15);
  m->return_path = sql_col_dup(s, 16);
  m->list_unsubscribe = sqlite3_column_int(s, 17) != 0;
  sql_reset(s);
  s = sql_prep(d, "SELECT state, CASE state WHEN 'done' THEN folder ELSE last_error END FROM outbound_sent_copies"
                  " WHERE outbound_id = ?", error);
  if (!s) {
    ma_outbound_free(m);
    return -1;
  }
  sql_bind_text(s, 1, m->id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    m->sent_copy_state = sql_col_dup(s, 0);
    m->sent_copy_detail = sql_col_dup(s, 1);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    ma_outbound_free(m);
    return sql_fail(d, rc, error, "read the Sent copy");
  }
  s = sql_prep(d, "SELECT " RCPT_COLS " FROM outbound_recipients WHERE outbound_id = ? ORDER BY id", error);
  if (s) sql_bind_text(s, 1, m->id);
  if (!s || rcpts_collect(d, s, m->recipients, error) < 0) {
    ma_outbound_free(m);
    return -1;
  }
  *out = m;
  return 1;
}

int sqlite_outbound_get(void *impl, const char *enterprise_id, const char *id, MaOutbound **out, GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  gboolean txn = sqlite3_get_autocommit(d->db) && sql_exec(d, "BEGIN", NULL) == 0;
  int rc = load_message(d, enterprise_id, id, out, error);
  if (txn) sql_exec(d, "COMMIT", NULL);
  return rc;
}

int sqlite_outbound_list(void *impl, const char *enterprise_id, int state, const char *after_id, int limit,
                         GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT id FROM outbound_messages m WHERE (?1 IS NULL OR enterprise_id = ?1)"
                             " AND (?2 IS NULL OR id > ?2) AND (?3 IS NULL OR EXISTS(SELECT 1 FROM outbound_recipients r"
                             " WHERE r.outbound_id = m.id AND r.state = ?3)) ORDER BY id LIMIT ?4",
                             error);
  if (!s) return -1;
  gboolean txn = sqlite3_get_autocommit(d->db) && sql_exec(d, "BEGIN", NULL) == 0;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, after_id);
  sql_bind_text(s, 3, state >= 0 ? ma_outbound_state_name((MaOutboundState) state) : NULL);
  sqlite3_bind_int(s, 4, limit > 0 ? limit : -1);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(ids, sql_col_dup(s, 0));
  sql_reset(s);
  int ret = rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "list outbound messages");
  for (guint i = 0; ret == 0 && i < ids->len; i++) {
    MaOutbound *m = NULL;
    if (load_message(d, NULL, g_ptr_array_index(ids, i), &m, error) < 0) ret = -1;
    else if (m) g_ptr_array_add(out, m);
  }
  if (txn) sql_exec(d, "COMMIT", NULL);
  return ret;
}

static gint by_message(gconstpointer a, gconstpointer b)
{
  const MaOutboundRecipient *x = *(MaOutboundRecipient *const *) a, *y = *(MaOutboundRecipient *const *) b;
  int c = strcmp(x->outbound_id, y->outbound_id);
  return c ? c : (x->id < y->id ? -1 : x->id > y->id);
}

int sqlite_outbound_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT " RCPT_COLS " FROM outbound_recipients WHERE state IN ('queued', 'deferred', 'sending')"
                             " AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sqlite3_bind_int64(s, 1, now);
  sqlite3_bind_int(s, 2, limit > 0 ? limit : 100);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_recipient_free);
  if (rcpts_collect(d, s, got, error) < 0) return sql_write_end(d, -1, error);
  s = sql_prep(d,
               "UPDATE outbound_recipients SET state = 'sending', attempts = attempts + 1, next_attempt_at = ?,"
               " last_attempt_at = ?, updated_at = ? WHERE id = ?",
               error);
  if (!s) return sql_write_end(d, -1, error);
  for (guint i = 0; i < got->len; i++) {
    MaOutboundRecipient *r = g_ptr_array_index(got, i);
    sqlite3_bind_int64(s, 1, lease_until);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_int64(s, 4, r->id);
    if (sql_step_done(d, s, error, "claim outbound recipient") < 0) return sql_write_end(d, -1, error);
    r->state = MA_OUT_SENDING;
    r->attempts++;
    r->next_attempt_at = lease_until;
    r->last_attempt_at = r->updated_at = now;
  }
  if (sql_write_end(d, 0, error) < 0) return -1;
  g_ptr_array_sort(got, by_message);
  for (guint i = 0; i < got->len; i++) g_ptr_array_add(out, g_ptr_array_index(got, i));
  g_ptr_array_set_free_func(got, NULL); /* the rows now belong to out */
  return 0;
}

int sqlite_outbound_result(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 next_attempt_at,
                           const char *deferred_reason, gint64 now, GError **error)
{
  SqlDb *d = impl;
  g_assert(state != MA_OUT_SENDING && state != MA_OUT_HELD);
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE outbound_recipients SET state = ?, last_reply = ?, next_attempt_at = ?,"
                             " deferred_reason = coalesce(?, deferred_reason), updated_at = ?"
                             " WHERE id = ? AND state = 'sending'",
                             error);
  int ret = -1;
  if (s) {
    sql_bind_text(s, 1, ma_outbound_state_name(state));
    sql_bind_text(s, 2, reply);
    sqlite3_bind_int64(s, 3, next_attempt_at);
    sql_bind_text(s, 4, deferred_reason);
    sqlite3_bind_int64(s, 5, now);
    sqlite3_bind_int64(s, 6, id);
    if (sql_step_done(d, s, error, "record outbound outcome") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}

int sqlite_outbound_operate(void *impl, const char *enterprise_id, const char *id, MaOutboundOp op, gint64 now,
                            int *changed, GError **error)
{
  static const char *const sql[] = {
    [MA_OUT_OP_HOLD] = "UPDATE outbound_recipients SET held_from = state, state = 'held', updated_at = ?1"
                       " WHERE outbound_id = ?2 AND state IN ('queued', 'deferred')",
    [MA_OUT_OP_RELEASE] = "UPDATE outbound_recipients SET state = coalesce(held_from, 'queued'), held_from = NULL,"
                          " next_attempt_at = ?1, updated_at = ?1 WHERE outbound_id = ?2 AND state = 'held'",
    [MA_OUT_OP_RETRY] = "UPDATE outbound_recipients SET next_attempt_at = ?1, updated_at = ?1"
                        " WHERE outbound_id = ?2 AND state IN ('queued', 'deferred')",
    [MA_OUT_OP_DELETE] = "DELETE FROM outbound_messages WHERE id = ?2 AND ?1 IS NOT NULL",
  };
  SqlDb *d = impl;
  *changed = 0;
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d, "SELECT 1 FROM outbound_messages WHERE id = ?1 AND (?2 IS NULL OR enterprise_id = ?2)",
                             error);
  if (!s) return sql_write_end(d, -1, error);
  sql_bind_text(s, 1, id);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc == SQLITE_DONE) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no outbound message %s", id);
    return sql_write_end(d, -1, error);
  }
  if (rc != SQLITE_ROW) return sql_write_end(d, sql_fail(d, rc, error, "find outbound message"), error);
  s = sql_prep(d, sql[op], error);
  if (!s) return sql_write_end(d, -1, error);
  sqlite3_bind_int64(s, 1, now);
  sql_bind_text(s, 2, id);
  if (sql_step_done(d, s, error, "change outbound message") < 0) return sql_write_end(d, -1, error);
  *changed = sqlite3_changes(d->db);
  return sql_write_end(d, 0, error);
}

int sqlite_outbound_stats(void *impl, gint64 counts[MA_OUT__COUNT], gint64 *oldest_pending, GError **error)
{
  SqlDb *d = impl;
  memset(counts, 0, sizeof(gint64) * MA_OUT__COUNT);
  *oldest_pending = 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT state, count(*) FROM outbound_recipients GROUP BY state", error);
  if (!s) return -1;
  gboolean txn = sqlite3_get_autocommit(d->db) && sql_exec(d, "BEGIN", NULL) == 0;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaOutboundState st;
    if (ma_outbound_state_parse((const char *) sqlite3_column_text(s, 0), &st) == 0)
      counts[st] = sqlite3_column_int64(s, 1);
  }
  sql_reset(s);
  int ret = rc == SQLITE_DONE ? 0 : sql_fail(d, rc, error, "outbound stats");
  if (ret == 0) {
    s = sql_prep(d,
                 "SELECT min(m.created_at) FROM outbound_messages m WHERE m.id IN (SELECT outbound_id FROM"
                 " outbound_recipients WHERE state IN ('queued', 'sending', 'deferred', 'held'))",
                 error);
    if (!s) ret = -1;
    else {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) *oldest_pending = sqlite3_column_int64(s, 0);
      sql_reset(s);
      if (rc != SQLITE_ROW) ret = sql_fail(d, rc, error, "oldest outbound message");
    }
  }
  if (txn) sql_exec(d, "COMMIT", NULL);
  return ret;
}

/* ---- submission credentials ------------------------------------------------------------------ */

#define CRED_COLS "id, enterprise_id, username, label, created_at, revoked_at"

static MaSubmissionCredential *cred_read(sqlite3_stmt *s)
{
  MaSubmissionCredential *c = g_new0(MaSubmissionCredential, 1);
  c->id = sql_col_dup(s, 0);
  c->enterprise_id = sql_col_dup(s, 1);
  c->username = sql_col_dup(s, 2);
  c->label = sql_col_dup(s, 3);
  c->created_at = sqlite3_column_int64(s, 4);
  c->revoked_at = sqlite3_column_int64(s, 5);
  return c;
}

int sqlite_submission_add(void *impl, const MaSubmissionCredential *c, const char *secret_hash, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO submission_credentials(id, enterprise_id, username, label, secret_hash,"
                             " created_at) VALUES(?, ?, ?, ?, ?, ?)",
                             error);
  if (s) {
    sql_bind_text(s, 1, c->id);
    sql_bind_text(s, 2, c->enterprise_id);
    sql_bind_text(s, 3, c->username);
    sql_bind_text(s, 4, c->label);
    sql_bind_text(s, 5, secret_hash);
    sqlite3_bind_int64(s, 6, c->created_at);
    ret = sql_step_enterprise_row(d, s, c->enterprise_id, error, "add submission credential");
  }
  return sql_write_end(d, ret, error);
}

int sqlite_submission_find(void *impl, const char *username, MaSubmissionCredential **out, char **secret_hash,
                           GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT " CRED_COLS ", secret_hash FROM submission_credentials"
                                " WHERE username = ? AND revoked_at = 0", error);
  if (!s) return -1;
  sql_bind_text(s, 1, username);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *out = cred_read(s);
    if (secret_hash) *secret_hash = sql_col_dup(s, 6);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "find submission credential");
  return rc == SQLITE_ROW;
}

int sqlite_submission_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d, "SELECT " CRED_COLS " FROM submission_credentials WHERE enterprise_id = ?"
                                " ORDER BY created_at, id", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, cred_read(s));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list submission credentials");
  return 0;
}

int sqlite_submission_revoke(void *impl, const char *enterprise_id, const char *id_or_username, gint64 now,
                             GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE submission_credentials SET revoked_at = ?1 WHERE enterprise_id = ?2"
                             " AND (id = ?3 OR username = ?3) AND revoked_at = 0",
                             error);
  if (s) {
    sqlite3_bind_int64(s, 1, now);
    sql_bind_text(s, 2, enterprise_id);
    sql_bind_text(s, 3, id_or_username);
    if (sql_step_done(d, s, error, "revoke submission credential") == 0) ret = sqlite3_changes(d->db) > 0;
  }
  return sql_write_end(d, ret, error);
}

/* ---- bounces (issue 14) ---------------------------------------------------------------------- */

int sqlite_outbound_recipient_get(void *impl, const char *enterprise_id, gint64 row_id, MaOutboundRecipient **out,
                                  GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT " RCPT_COLS " FROM outbound_recipients WHERE id = ?1"
                                " AND (?2 IS NULL OR enterprise_id = ?2)", error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, row_id);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = rcpt_read(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "read outbound recipient");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_outbound_find_message(void *impl, const char *enterprise_id, const char *message_id, char **outbound_id_r,
                                 GError **error)
{
  SqlDb *d = impl;
  *outbound_id_r = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT id FROM outbound_messages WHERE enterprise_id = ? AND message_id = ?"
                                " ORDER BY created_at DESC, id DESC LIMIT 1", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, message_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *outbound_id_r = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "find outbound message");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_outbound_bounce(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 now, GError **error)
{
  SqlDb *d = impl;
  g_assert(state == MA_OUT_BOUNCED || state == MA_OUT_DEFERRED);
  const char *sql = state == MA_OUT_BOUNCED
                      ? "UPDATE outbound_recipients SET state = 'bounced', held_from = NULL, last_reply = ?,"
                        " updated_at = ? WHERE id = ? AND state IN ('queued', 'sending', 'deferred', 'held', 'sent')"
                      : "UPDATE outbound_recipients SET last_reply = ?, updated_at = ?"
                        " WHERE id = ? AND state IN ('queued', 'deferred')";
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_stmt *s = sql_prep(d, sql, error);
  int ret = -1;
  if (s) {
    sql_bind_text(s, 1, reply);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, id);
    if (sql_step_done(d, s, error, "record a bounce") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
  }
  return sql_write_end(d, ret, error);
}
