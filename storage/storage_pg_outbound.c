/* storage_pg_outbound.c - PostgreSQL backend: the outbound queue (messages, per-recipient states,
 * claims with leases, outcomes, operators' hold/release/retry/delete, stats, bounces), the
 * Idempotency-Key answers of the send API, and the submission listener's credentials; the same
 * contracts as storage_sqlite_outbound.c.
 *
 * Many nodes share the queue. A claim is one statement: the due recipients are locked with
 * FOR UPDATE SKIP LOCKED and leased (state 'sending', next_attempt_at = the lease's end) in the
 * same transaction, so two nodes claiming at once take disjoint recipients, and a dead node's
 * claims are due again when their lease ends. An Idempotency-Key is inserted before the message,
 * ON CONFLICT DO NOTHING on (enterprise_id, key): a second request with the key, on any node,
 * waits for the first one's commit and then gets its answer, never a second message. Outcomes
 * apply only to a recipient still 'sending' (a conditional UPDATE), as in SQLite.
 */
#include "pg_internal.h"

#include <string.h>

#define IDEMPOTENCY_TTL (24 * 3600)
#define RCPT_COLS                                                                                          \
  "id, outbound_id, enterprise_id, address, state, attempts, next_attempt_at, last_attempt_at, updated_at," \
  " last_reply, deferred_reason, route"
#define MSG_COLS                                                                                           \
  "id, enterprise_id, type, channel, employee, mail_from, header_from, subject, message_id, raw_sha256, size," \
  " eight_bit, smtputf8, records, route, created_at, return_path, list_unsubscribe"

/* A MaOutboundRecipient from row i of a result whose columns are RCPT_COLS (caller frees). */
static gpointer rcpt_read(const PGresult *r, int i)
{
  MaOutboundRecipient *x = g_new0(MaOutboundRecipient, 1);
  x->id = pg_col_int(r, i, 0);
  x->outbound_id = pg_col_dup(r, i, 1);
  x->enterprise_id = pg_col_dup(r, i, 2);
  x->address = pg_col_dup(r, i, 3);
  if (ma_outbound_state_parse(PQgetvalue(r, i, 4), &x->state) < 0) x->state = MA_OUT_QUEUED;
  x->attempts = (int)pg_col_int(r, i, 5);
  x->next_attempt_at = pg_col_int(r, i, 6);
  x->last_attempt_at = pg_col_int(r, i, 7);
  x->updated_at = pg_col_int(r, i, 8);
  x->last_reply = pg_col_dup(r, i, 9);
  x->deferred_reason = pg_col_dup(r, i, 10);
  x->route_json = pg_col_dup(r, i, 11);
  return x;
}

/* ---- enqueue ------------------------------------------------------------------------------------ */

/* Takes the key for this request: 1 when it is ours (inserted), 0 when a live one exists (its
 * answer copied out), -1 on error. Purges this enterprise's expired keys first. */
static int idempotency_take(PgDb *d, const MaOutbound *m, const char *key, const char *request_hash,
                            const char *response, gint64 now, char **prior_hash, char **prior_response, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, m->enterprise_id);
  pg_param_int(&p, now - IDEMPOTENCY_TTL);
  if (pg_exec(d, "DELETE FROM outbound_idempotency WHERE enterprise_id = $1 AND created_at <= $2", &p,
              "purge idempotency keys", error) < 0)
    return -1;
  PgParams q = {0};
  pg_param_text(&q, m->enterprise_id);
  pg_param_text(&q, key);
  pg_param_text(&q, request_hash);
  pg_param_text(&q, response);
  pg_param_int(&q, now);
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO outbound_idempotency(enterprise_id, key, request_sha256, response,"
                                    " created_at) VALUES($1, $2, $3, $4, $5)"
                                    " ON CONFLICT(enterprise_id, key) DO NOTHING",
                                    &q, m->enterprise_id, "store idempotency key", error);
  if (n != 0) return n < 0 ? -1 : 1;
  PgParams k = {0};
  pg_param_text(&k, m->enterprise_id);
  pg_param_text(&k, key);
  PGresult *r = pg_run(d, "SELECT request_sha256, response FROM outbound_idempotency WHERE enterprise_id = $1 AND key = $2",
                       &k, "idempotency look-up", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) {
    if (prior_hash) *prior_hash = pg_col_dup(r, 0, 0);
    if (prior_response) *prior_response = pg_col_dup(r, 0, 1);
  }
  PQclear(r);
  return 0;
}

static int insert_message(PgDb *d, const MaOutbound *m, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, m->id);
  pg_param_text(&p, m->enterprise_id);
  pg_param_text(&p, m->type ? m->type : "individual");
  pg_param_text(&p, m->channel ? m->channel : "auto");
  pg_param_text(&p, m->employee);
  pg_param_text(&p, m->mail_from ? m->mail_from : "");
  pg_param_text(&p, m->header_from);
  pg_param_text(&p, m->subject);
  pg_param_text(&p, m->message_id);
  pg_param_text(&p, m->raw_sha256);
  pg_param_int(&p, m->size);
  pg_param_int(&p, m->eight_bit ? 1 : 0);
  pg_param_int(&p, m->smtputf8 ? 1 : 0);
  pg_param_text(&p, m->records_json);
  pg_param_text(&p, m->route_json);
  pg_param_int(&p, m->created_at);
  pg_param_text(&p, m->return_path);
  pg_param_int(&p, m->list_unsubscribe ? 1 : 0);
  if (pg_exec_enterprise_row(d,
                             "INSERT INTO outbound_messages(" MSG_COLS ") VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9,"
                             " $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                             &p, m->enterprise_id, "queue outbound message", error) < 0)
    return -1;
  for (guint i = 0; i < m->recipients->len; i++) {
    const MaOutboundRecipient *r = g_ptr_array_index(m->recipients, i);
    PgParams q = {0};
    pg_param_text(&q, m->id);
    pg_param_text(&q, m->enterprise_id);
    pg_param_text(&q, r->address);
    pg_param_text(&q, ma_outbound_state_name(r->state));
    pg_param_int(&q, m->created_at);
    pg_param_text(&q, r->last_reply);
    if (pg_exec(d,
                "INSERT INTO outbound_recipients(outbound_id, enterprise_id, address, state, next_attempt_at,"
                " updated_at, last_reply) VALUES($1, $2, $3, $4, $5, $5, $6)",
                &q, "queue outbound recipient", error) < 0)
      return -1;
  }
  return 0;
}

int pg_outbound_enqueue(void *impl, const MaOutbound *m, const char *idem_key, const char *request_hash,
                        const char *response, gint64 now, char **prior_hash, char **prior_response, GError **error)
{
  PgDb *d = impl;
  g_assert(m->id && m->enterprise_id && m->raw_sha256 && m->recipients->len > 0);
  g_assert(!idem_key || (request_hash && response));
  if (pg_write_begin(d, error) < 0) return -1;
  int ret = 1;
  if (idem_key) ret = idempotency_take(d, m, idem_key, request_hash, response, now, prior_hash, prior_response, error);
  if (ret == 1 && insert_message(d, m, error) < 0) ret = -1;
  return pg_write_end(d, ret, error);
}

/* ---- reading ------------------------------------------------------------------------------------- */

/* The message with its Sent copy step and recipients (by row id): 1 and *out (caller frees), 0, -1. */
static int load_message(PgDb *d, const char *enterprise_id, const char *id, MaOutbound **out, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d,
                       "SELECT " MSG_COLS " FROM outbound_messages WHERE id = $1 AND ($2::text IS NULL OR enterprise_id = $2)",
                       &p, "read outbound message", error);
  if (!r) return -1;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return 0;
  }
  MaOutbound *m = ma_outbound_new();
  m->id = pg_col_dup(r, 0, 0);
  m->enterprise_id = pg_col_dup(r, 0, 1);
  m->type = pg_col_dup(r, 0, 2);
  m->channel = pg_col_dup(r, 0, 3);
  m->employee = pg_col_dup(r, 0, 4);
  m->mail_from = pg_col_dup(r, 0, 5);
  m->header_from = pg_col_dup(r, 0, 6);
  m->subject = pg_col_dup(r, 0, 7);
  m->message_id = pg_col_dup(r, 0, 8);
  m->raw_sha256 = pg_col_dup(r, 0, 9);
  m->size = pg_col_int(r, 0, 10);
  m->eight_bit = pg_col_int(r, 0, 11) != 0;
  m->smtputf8 = pg_col_int(r, 0, 12) != 0;
  m->records_json = pg_col_dup(r, 0, 13);
  m->route_json = pg_col_dup(r, 0, 14);
  m->created_at = pg_col_int(r, 0, 15);
  m->return_path = pg_col_dup(r, 0, 16);
  m->list_unsubscribe = pg_col_int(r, 0, 17) != 0;
  PQclear(r);
  PgParams q = {0};
  pg_param_text(&q, m->id);
  r = pg_run(d,
             "SELECT state, CASE state WHEN 'done' THEN folder ELSE last_error END FROM outbound_sent_copies"
             " WHERE outbound_id = $1",
             &q, "read the Sent copy", error);
  if (r && PQntuples(r) > 0) {
    m->sent_copy_state = pg_col_dup(r, 0, 0);
    m->sent_copy_detail = pg_col_dup(r, 0, 1);
  }
  if (r) {
    PQclear(r);
    r = pg_run(d, "SELECT " RCPT_COLS " FROM outbound_recipients WHERE outbound_id = $1 ORDER BY id", &q,
               "read outbound recipients", error);
  }
  if (!r) {
    ma_outbound_free(m);
    return -1;
  }
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(m->recipients, rcpt_read(r, i));
  PQclear(r);
  *out = m;
  return 1;
}

int pg_outbound_get(void *impl, const char *enterprise_id, const char *id, MaOutbound **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  gboolean own = FALSE;
  if (pg_read_begin(d, &own, error) < 0) return -1;
  return pg_read_end(d, own, load_message(d, enterprise_id, id, out, error));
}

int pg_outbound_list(void *impl, const char *enterprise_id, int state, const char *after_id, int limit, GPtrArray *out,
                     GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, after_id);
  pg_param_text(&p, state >= 0 ? ma_outbound_state_name((MaOutboundState)state) : NULL);
  pg_param_int(&p, limit > 0 ? limit : G_MAXINT64);
  gboolean own = FALSE;
  if (pg_read_begin(d, &own, error) < 0) return -1;
  PGresult *r = pg_run(d,
                       "SELECT id FROM outbound_messages m WHERE ($1::text IS NULL OR enterprise_id = $1)"
                       " AND ($2::text IS NULL OR id > $2) AND ($3::text IS NULL OR EXISTS(SELECT 1 FROM"
                       " outbound_recipients r WHERE r.outbound_id = m.id AND r.state = $3)) ORDER BY id LIMIT $4",
                       &p, "list outbound messages", error);
  int ret = r ? 0 : -1;
  for (int i = 0; r && ret == 0 && i < PQntuples(r); i++) {
    MaOutbound *m = NULL;
    if (load_message(d, NULL, PQgetvalue(r, i, 0), &m, error) < 0) ret = -1;
    else if (m) g_ptr_array_add(out, m);
  }
  if (r) PQclear(r);
  return pg_read_end(d, own, ret);
}

/* ---- claims and outcomes ------------------------------------------------------------------------- */

int pg_outbound_claim(void *impl, gint64 now, gint64 lease_until, int limit, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_int(&p, now);
  pg_param_int(&p, lease_until);
  pg_param_int(&p, limit > 0 ? limit : 100);
  /* Rows another node holds locked are skipped, not waited for; rows it claimed and committed
   * are re-checked by the lock and no longer due (their next_attempt_at is its lease's end). */
  return pg_write_rows(d,
                       "WITH due AS (SELECT id FROM outbound_recipients WHERE state IN ('queued', 'deferred', 'sending')"
                       "  AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED),"
                       " claimed AS (UPDATE outbound_recipients o SET state = 'sending', attempts = attempts + 1,"
                       "  next_attempt_at = $2, last_attempt_at = $1, updated_at = $1 FROM due WHERE o.id = due.id"
                       "  RETURNING o.id, o.outbound_id, o.enterprise_id, o.address, o.state, o.attempts,"
                       "  o.next_attempt_at, o.last_attempt_at, o.updated_at, o.last_reply, o.deferred_reason, o.route)"
                       " SELECT " RCPT_COLS " FROM claimed ORDER BY outbound_id, id",
                       &p, "claim outbound recipients", rcpt_read,
                       (GDestroyNotify)ma_outbound_recipient_free, out, error);
}

int pg_outbound_result(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 next_attempt_at,
                       const char *deferred_reason, gint64 now, GError **error)
{
  g_assert(state != MA_OUT_SENDING && state != MA_OUT_HELD);
  PgParams p = {0};
  pg_param_text(&p, ma_outbound_state_name(state));
  pg_param_text(&p, reply);
  pg_param_int(&p, next_attempt_at);
  pg_param_text(&p, deferred_reason);
  pg_param_int(&p, now);
  pg_param_int(&p, id);
  return pg_write_changed(impl,
                   "UPDATE outbound_recipients SET state = $1, last_reply = $2, next_attempt_at = $3,"
                   " deferred_reason = coalesce($4, deferred_reason), updated_at = $5"
                   " WHERE id = $6 AND state = 'sending'",
                   &p, "record outbound outcome", error);
}

int pg_outbound_operate(void *impl, const char *enterprise_id, const char *id, MaOutboundOp op, gint64 now, int *changed,
                        GError **error)
{
  static const char *const sql[] = {
    [MA_OUT_OP_HOLD] = "UPDATE outbound_recipients SET held_from = state, state = 'held', updated_at = $1"
                       " WHERE outbound_id = $2 AND state IN ('queued', 'deferred')",
    [MA_OUT_OP_RELEASE] = "UPDATE outbound_recipients SET state = coalesce(held_from, 'queued'), held_from = NULL,"
                          " next_attempt_at = $1, updated_at = $1 WHERE outbound_id = $2 AND state = 'held'",
    [MA_OUT_OP_RETRY] = "UPDATE outbound_recipients SET next_attempt_at = $1, updated_at = $1"
                        " WHERE outbound_id = $2 AND state IN ('queued', 'deferred')",
    [MA_OUT_OP_DELETE] = "DELETE FROM outbound_messages WHERE id = $2 AND $1::bigint IS NOT NULL",
  };
  PgDb *d = impl;
  *changed = 0;
  PgParams p = {0};
  pg_param_text(&p, id);
  pg_param_text(&p, enterprise_id);
  if (pg_write_begin(d, error) < 0) return -1;
  PGresult *r = pg_run(d, "SELECT 1 FROM outbound_messages WHERE id = $1 AND ($2::text IS NULL OR enterprise_id = $2)", &p,
                       "find outbound message", error);
  int ret = r ? 0 : -1;
  if (r && PQntuples(r) == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no outbound message %s", id);
    ret = -1;
  }
  if (r) PQclear(r);
  if (ret == 0) {
    PgParams q = {0};
    pg_param_int(&q, now);
    pg_param_text(&q, id);
    gint64 n = pg_exec(d, sql[op], &q, "change outbound message", error);
    if (n < 0) ret = -1;
    else *changed = (int)n;
  }
  return pg_write_end(d, ret, error);
}

int pg_outbound_stats(void *impl, gint64 counts[MA_OUT__COUNT], gint64 *oldest_pending, GError **error)
{
  PgDb *d = impl;
  memset(counts, 0, sizeof(gint64) * MA_OUT__COUNT);
  *oldest_pending = 0;
  gboolean own = FALSE;
  if (pg_read_begin(d, &own, error) < 0) return -1;
  PGresult *r = pg_run(d, "SELECT state, count(*) FROM outbound_recipients GROUP BY state", NULL, "outbound stats", error);
  for (int i = 0; r && i < PQntuples(r); i++) {
    MaOutboundState st;
    if (ma_outbound_state_parse(PQgetvalue(r, i, 0), &st) == 0) counts[st] = pg_col_int(r, i, 1);
  }
  if (r) {
    PQclear(r);
    r = pg_run(d,
               "SELECT min(m.created_at) FROM outbound_messages m WHERE m.id IN (SELECT outbound_id FROM"
               " outbound_recipients WHERE state IN ('queued', 'sending', 'deferred', 'held'))",
               NULL, "oldest outbound message", error);
  }
  if (r) *oldest_pending = pg_col_int(r, 0, 0);
  int ret = r ? 0 : -1;
  if (r) PQclear(r);
  return pg_read_end(d, own, ret);
}

/* ---- bounces (issue 14) ---------------------------------------------------------------------------- */

int pg_outbound_recipient_get(void *impl, const char *enterprise_id, gint64 row_id, MaOutboundRecipient **out,
                              GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_int(&p, row_id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d,
                       "SELECT " RCPT_COLS " FROM outbound_recipients WHERE id = $1 AND ($2::text IS NULL OR enterprise_id = $2)",
                       &p, "read outbound recipient", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = rcpt_read(r, 0);
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_outbound_find_message(void *impl, const char *enterprise_id, const char *message_id, char **outbound_id_r,
                             GError **error)
{
  PgDb *d = impl;
  *outbound_id_r = NULL;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, message_id);
  PGresult *r = pg_run(d,
                       "SELECT id FROM outbound_messages WHERE enterprise_id = $1 AND message_id = $2"
                       " ORDER BY created_at DESC, id DESC LIMIT 1",
                       &p, "find outbound message", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *outbound_id_r = pg_col_dup(r, 0, 0);
  PQclear(r);
  return *outbound_id_r ? 1 : 0;
}

int pg_outbound_bounce(void *impl, gint64 id, MaOutboundState state, const char *reply, gint64 now, GError **error)
{
  g_assert(state == MA_OUT_BOUNCED || state == MA_OUT_DEFERRED);
  PgParams p = {0};
  pg_param_text(&p, reply);
  pg_param_int(&p, now);
  pg_param_int(&p, id);
  return pg_write_changed(impl,
                   state == MA_OUT_BOUNCED
                     ? "UPDATE outbound_recipients SET state = 'bounced', held_from = NULL, last_reply = $1,"
                       " updated_at = $2 WHERE id = $3 AND state IN ('queued', 'sending', 'deferred', 'held', 'sent')"
                     : "UPDATE outbound_recipients SET last_reply = $1, updated_at = $2"
                       " WHERE id = $3 AND state IN ('queued', 'deferred')",
                   &p, "record a bounce", error);
}

/* ---- submission credentials ---------------------------------------------------------------------- */

#define CRED_COLS "id, enterprise_id, username, label, created_at, revoked_at"

static MaSubmissionCredential *cred_read(const PGresult *r, int i)
{
  MaSubmissionCredential *c = g_new0(MaSubmissionCredential, 1);
  c->id = pg_col_dup(r, i, 0);
  c->enterprise_id = pg_col_dup(r, i, 1);
  c->username = pg_col_dup(r, i, 2);
  c->label = pg_col_dup(r, i, 3);
  c->created_at = pg_col_int(r, i, 4);
  c->revoked_at = pg_col_int(r, i, 5);
  return c;
}

int pg_submission_add(void *impl, const MaSubmissionCredential *c, const char *secret_hash, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, c->id);
  pg_param_text(&p, c->enterprise_id);
  pg_param_text(&p, c->username);
  pg_param_text(&p, c->label);
  pg_param_text(&p, secret_hash);
  pg_param_int(&p, c->created_at);
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec_enterprise_row(d,
                                    "INSERT INTO submission_credentials(id, enterprise_id, username, label, secret_hash,"
                                    " created_at) VALUES($1, $2, $3, $4, $5, $6)",
                                    &p, c->enterprise_id, "add submission credential", error);
  return pg_write_end(d, n < 0 ? -1 : 0, error);
}

int pg_submission_find(void *impl, const char *username, MaSubmissionCredential **out, char **secret_hash,
                       GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, username);
  PGresult *r = pg_run(d, "SELECT " CRED_COLS ", secret_hash FROM submission_credentials WHERE username = $1 AND revoked_at = 0",
                       &p, "find submission credential", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) {
    *out = cred_read(r, 0);
    if (secret_hash) *secret_hash = pg_col_dup(r, 0, 6);
  }
  PQclear(r);
  return *out ? 1 : 0;
}

int pg_submission_list(void *impl, const char *enterprise_id, GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(d, "SELECT " CRED_COLS " FROM submission_credentials WHERE enterprise_id = $1 ORDER BY created_at, id",
                       &p, "list submission credentials", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, cred_read(r, i));
  PQclear(r);
  return 0;
}

int pg_submission_revoke(void *impl, const char *enterprise_id, const char *id_or_username, gint64 now, GError **error)
{
  PgParams p = {0};
  pg_param_int(&p, now);
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, id_or_username);
  return pg_write_changed(impl,
                   "UPDATE submission_credentials SET revoked_at = $1 WHERE enterprise_id = $2"
                   " AND (id = $3 OR username = $3) AND revoked_at = 0",
                   &p, "revoke submission credential", error);
}
