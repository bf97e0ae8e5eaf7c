/* outbound_delivery_outcome.c - the delivery thread's outcomes: each recipient's SMTP result
 * turned into its queue state (sent, deferred by the retry schedule or to a given time, bounced,
 * expired; a hard 5xx suppresses the address), a failed enterprise relay's recipients routed again
 * (fallback) and the relay's failed session counted, a relay's reserved place given back for a
 * recipient it did not accept, and all of it written in one group commit
 * with the webhook events and the Sent-copy step. Runs on the delivery thread (outbound_delivery.c).
 */
#include "outbound_delivery_internal.h"

/* Hard or soft, as agent/bounce classifies a remote server's 5xx reply ("550 5.1.1 ...", or our own
 * reason, which carries no status: neither). A 5xx that only says "not now, not from you" (blocked,
 * spam, policy) is soft: it must not put the address on the suppression list. */
static int reply_severity(const char *reply)
{
  if (!g_ascii_isdigit(reply[0])) return BOUNCE_NEITHER;
  char status[16] = "";
  if (strlen(reply) > 5 && reply[3] == ' ' && g_ascii_isdigit(reply[4]) && reply[5] == '.') {
    gsize n = strcspn(reply + 4, " ");
    if (n < sizeof status) {
      memcpy(status, reply + 4, n);
      status[n] = '\0';
    }
  }
  const char *reason = bounce_reason(status, "failed", "", reply);
  return bounce_severity(reason, status);
}

/* Records one recipient's outcome and its event (inside the caller's transaction). */
static int record_outcome(Engine *e, const MaOutbound *msg, MaOutboundRecipient *r, SmtpOutcome outcome,
                          const char *reply, gint64 not_before, gint64 now, GError **error)
{
  MaOutboundState state;
  const char *event = NULL;
  gint64 next = 0;
  const char *reason = NULL;
  if (outcome == SMTP_OUTCOME_SENT) {
    state = MA_OUT_SENT;
    event = "message.sent";
  } else if (outcome == SMTP_OUTCOME_PERM) {
    state = MA_OUT_BOUNCED;
    event = "message.bounced";
  } else if (now - msg->created_at >= e->max_age) {
    state = MA_OUT_EXPIRED;
    event = "message.bounced";
  } else {
    state = MA_OUT_DEFERRED;
    next = MAX(now + outbound_retry_delay(r->attempts, e->retry_initial, e->retry_max), not_before);
    /* message.deferred on the first deferral and when the reason changes, not on every retry */
    if (g_strcmp0(r->deferred_reason, reply) != 0) {
      event = "message.deferred";
      reason = reply;
    }
  }
  g_autofree char *stored = state == MA_OUT_EXPIRED ? g_strdup_printf("expired after %" G_GINT64_FORMAT " s; last: %s",
                                                                      now - msg->created_at, reply)
                                                    : g_strdup(reply);
  int rc = storage_outbound_result(e->st, r->id, state, stored, next, reason, now, error);
  if (rc <= 0) return rc; /* 0: held or deleted meanwhile: no event */
  if (state == MA_OUT_SENT) rc = storage_soft_bounce_reset(e->st, msg->enterprise_id, r->address, error);
  else if (state == MA_OUT_BOUNCED) rc = outbound_bounce_note(e->st, msg->enterprise_id, r->address,
                                                               reply_severity(reply), msg->id, reply, now, error);
  if (rc < 0) return -1;
  r->state = state;
  g_free(r->last_reply);
  r->last_reply = g_strdup(stored);
  if (event && outbound_event_emit(e->st, event, msg, r, now, error) < 0) return -1;
  ma_info("outbound", "%s to=<%s> state=%s attempts=%d reply=%s", msg->id, r->address,
          ma_outbound_state_name(state), r->attempts, stored);
  return 1;
}


void delivery_outcome_free(Outcome *o)
{
  g_free(o->sent_copy_mailbox);
  g_free(o->reserved_relay);
  ma_outbound_free(o->msg);
  ma_outbound_recipient_free(o->r);
  g_free(o->fallback_from);
  g_free(o);
}

/* A failed session through an enterprise relay, counted at the next group commit. */
struct RelayFailure {
  char *enterprise_id, *relay_id;
  char reply[512];
};

void delivery_relay_failure_free(RelayFailure *f)
{
  g_free(f->enterprise_id);
  g_free(f->relay_id);
  g_free(f);
}

/* A recipient whose relay failed goes back through rule 4 (agent/relay): due again at once on the
 * default path when the From domain may use it, else deferred by the retry schedule with why. */
static int record_fallback(Engine *e, Outcome *o, gint64 now, GError **error)
{
  g_autofree char *refused = NULL;
  g_autofree char *why = o->over_limit ? g_strdup(o->reply) : g_strdup_printf("relay failed (%s)", o->reply);
  int rc = relay_fallback(e->st, e->cfg, o->msg->enterprise_id, o->msg->id, o->r->address, o->fallback_from, why, now,
                          &refused, error);
  if (rc < 0) return -1;
  if (rc == 0) {
    g_strlcpy(o->reply, refused, sizeof o->reply);
    return record_outcome(e, o->msg, o->r, SMTP_OUTCOME_TEMP, o->reply, 0, now, error);
  }
  g_autofree char *reply = g_strdup_printf("%s: falling back to the default path", why);
  ma_info("outbound", "%s to=<%s> %s", o->msg->id, o->r->address, reply);
  return storage_outbound_result(e->st, o->r->id, MA_OUT_DEFERRED, reply, now, NULL, now, error);
}

/* Records every waiting outcome with its event in ONE transaction (one fsync for all the jobs that
 * ended in this loop turn). A failed commit leaves them "sending": retried after their lease. */
void delivery_on_flush(evutil_socket_t fd, short what, void *arg)
{
  Engine *e = arg;
  GPtrArray *batch = e->outcomes;
  e->outcomes = g_ptr_array_new_with_free_func((GDestroyNotify) delivery_outcome_free);
  g_autoptr(GPtrArray) failures = e->relay_failures;
  e->relay_failures = g_ptr_array_new_with_free_func((GDestroyNotify) delivery_relay_failure_free);
  gint64 now = ma_now();
  g_autoptr(GError) error = NULL;
  if (storage_begin(e->st, &error) == 0) {
    for (guint i = 0; i < failures->len && !error; i++) {
      RelayFailure *f = g_ptr_array_index(failures, i);
      if (relay_session_failed(e->st, e->cfg, f->enterprise_id, f->relay_id, f->reply, now, e->retry_initial,
                               &error) > 0)
        outbound_relay_suspended_notice(e->st, e->cfg, f->enterprise_id, f->relay_id, f->reply, now);
    }
    for (guint i = 0; i < batch->len && !error; i++) {
      Outcome *o = g_ptr_array_index(batch, i);
      int rc = o->fallback_from ? record_fallback(e, o, now, &error)
                                : record_outcome(e, o->msg, o->r, o->outcome, o->reply, o->not_before, now, &error);
      if (rc < 0) break;
      /* a relay's daily count keeps only what it accepted */
      if (o->reserved_relay && o->outcome != SMTP_OUTCOME_SENT &&
          storage_relay_count_sent(e->st, o->msg->enterprise_id, o->reserved_relay, o->reserved_day, -1, &error) < 0)
        break;
      if (o->outcome == SMTP_OUTCOME_SENT && o->sent_copy_mailbox &&
          storage_sent_copy_add(e->st, o->msg->id, o->msg->enterprise_id, o->sent_copy_mailbox, now, &error) < 0)
        break;
    }
    if (error || storage_commit(e->st, &error) < 0) storage_rollback(e->st);
    else {
      webhook_notify();
      outbound_sent_copy_notify();
    }
  }
  if (error)
    ma_error("outbound", "cannot record %u outcome(s): %s (recipients retried after their lease)", batch->len,
             error->message);
  g_ptr_array_unref(batch);
}

/* Queues the job's outcomes for the group commit; recipients with a host-level temporary failure
 * go to the next MX host instead when there is one (returned as a new job, or NULL). */
Job *delivery_apply_results(Engine *e, Job *j, const SmtpRcptResult *res, guint n)
{
  g_assert(n == j->rcpts->len);
  Job *next = NULL;
  gboolean more_hosts = j->host + 1 < j->dest->hosts->len;
  gboolean session_failed = FALSE; /* one failed session counts once, whatever its recipients */
  gboolean relay_reserved = j->reserved > 0 && j->dest->ent && !j->mailbox_id;
  if (j->reserved > 0 && j->mailbox_id) {
    /* the mailbox's daily count keeps only what was sent */
    int unsent = 0;
    for (guint i = 0; i < n; i++) unsent += res[i].outcome != SMTP_OUTCOME_SENT;
    g_autoptr(GError) error = NULL;
    if (unsent && storage_mailbox_send_release(e->st, j->mailbox_id, j->day, MIN(unsent, j->reserved), &error) < 0)
      ma_error("outbound", "%s: cannot give back %d of the mailbox's daily count: %s", j->msg->id, unsent, error->message);
    j->reserved = 0;
  }
  for (guint i = 0; i < n; i++) {
    MaOutboundRecipient *r = g_ptr_array_index(j->rcpts, i);
    if (!r) continue;
    g_ptr_array_index(j->rcpts, i) = NULL; /* moves to next or to an Outcome */
    if (res[i].outcome == SMTP_OUTCOME_TEMP && res[i].host_level && more_hosts) {
      if (!next) {
        next = g_new0(Job, 1);
        next->msg = delivery_job_msg_copy(j->msg);
        next->body = g_bytes_ref(j->body);
        next->rcpts = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_recipient_free);
        next->dest = j->dest;
        next->host = j->host + 1;
        next->mail_from = g_strdup(j->mail_from);
      }
      g_ptr_array_add(next->rcpts, r);
      ma_info("outbound", "%s to=<%s> host %s failed (%s): trying the next MX host", j->msg->id, r->address,
              ((Host *) g_ptr_array_index(j->dest->hosts, j->host))->name, res[i].reply);
      /* the next host's job reserves its place again */
      g_autoptr(GError) error = NULL;
      if (relay_reserved && storage_relay_count_sent(e->st, j->msg->enterprise_id, j->dest->ent->relay_id, j->day, -1,
                                                     &error) < 0)
        ma_error("outbound", "%s: cannot give back a place of relay %s's daily count: %s", j->msg->id,
                 j->dest->ent->name, error->message);
      continue;
    }
    Outcome *o = g_new0(Outcome, 1);
    o->msg = delivery_job_msg_copy(j->msg);
    o->r = r;
    o->outcome = res[i].outcome;
    g_strlcpy(o->reply, res[i].reply, sizeof o->reply);
    /* through an enterprise relay: a failed session (connection, TLS, AUTH) or a 4xx that outlived
     * its retries falls back, and is the relay's failed session (counted at most once per retry
     * interval: relay_session_failed); a 5xx is the recipient's bounce, not the relay's failure */
    if (j->dest->ent && res[i].outcome == SMTP_OUTCOME_TEMP && (res[i].host_level || r->attempts >= RELAY_TEMP_ATTEMPTS)) {
      o->fallback_from = g_strdup(j->dest->ent->relay_id);
      if (!session_failed) {
        RelayFailure *f = g_new0(RelayFailure, 1);
        f->enterprise_id = g_strdup(j->dest->ent->enterprise_id);
        f->relay_id = g_strdup(j->dest->ent->relay_id);
        g_strlcpy(f->reply, res[i].reply, sizeof f->reply);
        g_ptr_array_add(e->relay_failures, f);
        session_failed = TRUE;
      }
    }
    if (j->sent_copy) o->sent_copy_mailbox = g_strdup(j->mailbox_id);
    if (relay_reserved) {
      o->reserved_relay = g_strdup(j->dest->ent->relay_id);
      g_strlcpy(o->reserved_day, j->day, sizeof o->reserved_day);
    }
    g_ptr_array_add(e->outcomes, o);
  }
  if (e->outcomes->len > 0) event_active(e->flush_ev, EV_TIMEOUT, 1);
  if (next) {
    next->addrs = g_new0(const char *, next->rcpts->len);
    for (guint i = 0; i < next->rcpts->len; i++)
      next->addrs[i] = ((MaOutboundRecipient *) g_ptr_array_index(next->rcpts, i))->address;
  }
  return next;
}

/* Every recipient of j fails with reply (outcome as given); j is freed. */
void delivery_fail_job(Engine *e, Job *j, SmtpOutcome outcome, const char *reply)
{
  SmtpRcptResult *res = g_new0(SmtpRcptResult, j->rcpts->len);
  for (guint i = 0; i < j->rcpts->len; i++) {
    res[i].outcome = outcome;
    res[i].host_level = j->dest->ent != NULL && j->dest->hosts->len == 0; /* an unresolvable relay failed */
    g_strlcpy(res[i].reply, reply, sizeof res[i].reply);
  }
  /* not host-level for MX: the destination as a whole failed */
  Job *next = delivery_apply_results(e, j, res, j->rcpts->len);
  g_assert(next == NULL);
  g_free(res);
  delivery_job_free(j);
}
