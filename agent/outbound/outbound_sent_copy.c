/* outbound_sent_copy.c - appends the Sent copy of mail sent through an employee's own mailbox to
 * that mailbox's Sent folder over IMAP (collector_append_sent), as a recorded step of the queue
 * entry: the delivery's commit that records the first recipient sent also records the step
 * (storage_sent_copy_add); this thread claims due steps with a lease, appends, and records the
 * outcome.
 *
 * Never duplicated: the copy keeps the message's Message-ID, and before appending the session
 * searches the Sent folder for it, so a retry after a crash between the server's APPEND reply and
 * our record finds the copy and only records it. The collector's later pull of the Sent folder
 * deduplicates with the outbound archive copy by that Message-ID (one message, two provenances).
 *
 * Threads: one thread with its own storage handle and the collector's environment; IMAP blocks
 * here, never on an event loop. Retries: SENT_COPY_RETRY_FIRST seconds doubling up to
 * SENT_COPY_RETRY_MAX, at most SENT_COPY_ATTEMPTS attempts, then "failed" (shown on the message).
 */
#include "outbound_mailbox.h"

#include "agent/collector/collector.h"
#include "agent/lib/clock.h"
#include "agent/lib/log.h"

#include <string.h>

#define SENT_COPY_LEASE 600
#define SENT_COPY_BATCH 20
#define SENT_COPY_TICK_MS 1000
#define SENT_COPY_RETRY_FIRST 60
#define SENT_COPY_RETRY_MAX 3600
#define SENT_COPY_ATTEMPTS 10

typedef struct {
  const MaConfig *cfg;
  CollectorEnv env;
  MaStorage *st;
  GThread *thread;
  GMutex lock;
  GCond wake;
  gboolean stopping, pending;
} SentCopier;

static SentCopier *copier;

/* One claimed copy: append, then record. */
static void append_one(SentCopier *k, const MaSentCopy *c)
{
  gint64 now = ma_now();
  g_autoptr(GError) error = NULL;
  g_autoptr(MaMailbox) m = NULL;
  MaOutbound *msg = NULL;
  GBytes *body = NULL;
  g_autofree char *folder = NULL;
  gboolean found = FALSE;
  int rc = storage_mailbox_get(k->st, NULL, c->mailbox_id, &m, &error);
  if (rc == 0) g_set_error(&error, MA_ERROR, MA_ERROR_NOT_FOUND, "the mailbox is no longer bound");
  if (rc > 0) {
    rc = storage_outbound_get(k->st, NULL, c->outbound_id, &msg, &error);
    if (rc == 0) g_set_error(&error, MA_ERROR, MA_ERROR_NOT_FOUND, "the message was deleted from the queue");
  }
  if (rc > 0) {
    rc = storage_blob_get(k->st, msg->raw_sha256, &body, &error);
    if (rc == 0) g_set_error(&error, MA_ERROR, MA_ERROR_NOT_FOUND, "the message's octets are gone");
  }
  if (rc > 0) rc = collector_append_sent(&k->env, k->st, m, body, msg->message_id, &folder, &found, &error) == 0 ? 1 : -1;
  const char *state = "done";
  gint64 next = 0;
  if (rc <= 0) {
    gboolean gone = error && error->code == MA_ERROR_NOT_FOUND;
    state = gone || c->attempts >= SENT_COPY_ATTEMPTS ? "failed" : "pending";
    next = now + MIN((gint64) SENT_COPY_RETRY_FIRST << MIN(c->attempts - 1, 16), SENT_COPY_RETRY_MAX);
  }
  g_autoptr(GError) store_error = NULL;
  if (storage_sent_copy_result(k->st, c->outbound_id, state, folder, error ? error->message : NULL, next, now,
                               &store_error) < 0)
    ma_error("outbound", "%s: Sent copy: cannot record the outcome: %s (retried after its lease)", c->outbound_id,
             store_error->message);
  else if (rc > 0)
    ma_info("outbound", "%s: Sent copy %s %s (%s)", c->outbound_id, found ? "already in" : "appended to", folder,
            m->email);
  else
    ma_warn("outbound", "%s: Sent copy to mailbox %s %s: %s", c->outbound_id, c->mailbox_id,
            g_str_equal(state, "failed") ? "failed" : "deferred", error ? error->message : "?");
  ma_outbound_free(msg);
  if (body) g_bytes_unref(body);
}

static gpointer thread_main(gpointer data)
{
  SentCopier *k = data;
  for (;;) {
    g_mutex_lock(&k->lock);
    if (!k->pending && !k->stopping)
      g_cond_wait_until(&k->wake, &k->lock, g_get_monotonic_time() + SENT_COPY_TICK_MS * G_TIME_SPAN_MILLISECOND);
    gboolean stop = k->stopping;
    k->pending = FALSE;
    g_mutex_unlock(&k->lock);
    if (stop) break;
    g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_sent_copy_free);
    g_autoptr(GError) error = NULL;
    gint64 now = ma_now();
    if (storage_sent_copy_claim(k->st, now, now + SENT_COPY_LEASE, SENT_COPY_BATCH, due, &error) < 0) {
      ma_error("outbound", "Sent copies: cannot claim: %s", error->message);
      continue;
    }
    for (guint i = 0; i < due->len && !g_atomic_int_get(&k->stopping); i++) append_one(k, g_ptr_array_index(due, i));
  }
  return NULL;
}

int outbound_sent_copy_start(const MaConfig *cfg, GError **error)
{
  g_assert(copier == NULL);
  SentCopier *k = g_new0(SentCopier, 1);
  k->cfg = cfg;
  GError *env_error = NULL;
  if (collector_env_init(&k->env, cfg, &env_error) < 0) {
    ma_info("outbound", "Sent copies not appended: %s", env_error->message);
    g_error_free(env_error);
    g_free(k);
    return 0;
  }
  if (storage_open(cfg->data_dir, FALSE, &k->st, error) < 0) {
    collector_env_clear(&k->env);
    g_free(k);
    return -1;
  }
  g_mutex_init(&k->lock);
  g_cond_init(&k->wake);
  copier = k;
  k->thread = g_thread_new("sent-copy", thread_main, k);
  return 0;
}

void outbound_sent_copy_notify(void)
{
  SentCopier *k = copier;
  if (!k) return;
  g_mutex_lock(&k->lock);
  k->pending = TRUE;
  g_cond_signal(&k->wake);
  g_mutex_unlock(&k->lock);
}

void outbound_sent_copy_stop(void)
{
  SentCopier *k = copier;
  if (!k) return;
  g_mutex_lock(&k->lock);
  g_atomic_int_set(&k->stopping, TRUE);
  g_cond_signal(&k->wake);
  g_mutex_unlock(&k->lock);
  g_thread_join(k->thread);
  copier = NULL;
  storage_close(&k->st);
  collector_env_clear(&k->env);
  g_mutex_clear(&k->lock);
  g_cond_clear(&k->wake);
  g_free(k);
}
