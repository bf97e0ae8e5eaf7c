/* webhook_sender.c - the sender thread: claims due events from the outbox (a lease, so several
 * nodes can send one outbox and each event goes out from one of them), delivers them in seq
 * order, records each outcome in the outbox, and sleeps until the next retry is due, a notify, or
 * a periodic poll (events added by another process or node are picked up within POLL_SECONDS).
 *
 * Ordering: the claim gives only the head of each enterprise's queue (storage_outbox_claim), so no
 * node overtakes a waiting event; once an event of an enterprise fails in this pass, the later
 * claimed events of that enterprise are given back unattempted. A pass stops attempting before
 * the claim's lease could run out during an attempt, and gives back what it did not attempt. A storage error
 * (busy database) is retried after a second; it never loses or duplicates an outcome beyond what
 * the receiver's Idempotency-Key dedup absorbs (an attempt whose outcome could not be recorded is
 * sent again). Never logs payloads or the secret.
 */
#include "webhook_internal.h"

#include "agent/lib/log.h"
#include "agent/lib/metrics.h"

#include <string.h>

#define POLL_SECONDS 5
#define BATCH 200
/* A claim's lease beyond the worst case of one attempt (the HTTP timeout): an attempt starts only
 * while the lease outlasts it, so no other node takes an event being sent. */
#define LEASE_MARGIN_SECONDS 10

typedef struct {
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean stop;
  gboolean notified;
  char *data_dir;
  char *url;
  char *secret;
  int timeout;
  int max_attempts;
  int max_backoff;
} Sender;

static Sender sender;

/* Wall-clock seconds. Not ma_now(): a faked clock (MAILAGENT_FAKE_NOW) must neither stall retries
 * nor make signatures look stale to the receiver. */
static gint64 real_now(void)
{
  return g_get_real_time() / G_USEC_PER_SEC;
}
static GMutex start_lock;
static guint64 delivered_total; /* atomic (__atomic builtins) */

guint64 webhook_delivered_count(void)
{
  return __atomic_load_n(&delivered_total, __ATOMIC_RELAXED);
}

char *webhook_library_version(void)
{
  const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
  return g_strdup_printf("libcurl %s (%s)", info->version, info->ssl_version ? info->ssl_version : "no TLS");
}

static gboolean stopping(void)
{
  g_mutex_lock(&sender.lock);
  gboolean s = sender.stop;
  g_mutex_unlock(&sender.lock);
  return s;
}

/* Sleeps until wake_at (Unix seconds), a notify or stop. */
static void sleep_until(gint64 wake_at)
{
  gint64 now = real_now();
  gint64 secs = CLAMP(wake_at - now, 0, POLL_SECONDS);
  gint64 deadline = g_get_monotonic_time() + secs * G_USEC_PER_SEC;
  g_mutex_lock(&sender.lock);
  while (!sender.stop && !sender.notified)
    if (!g_cond_wait_until(&sender.cond, &sender.lock, deadline)) break;
  sender.notified = FALSE;
  g_mutex_unlock(&sender.lock);
}

/* Delivers one event and records the outcome. Returns 1 delivered, 0 failed (retry scheduled or
 * parked), -1 the outcome could not be stored. *next_at: when a failed event is due again. */
static int deliver(MaStorage *st, WebhookHttp *http, const MaOutboxEvent *e, gint64 *next_at)
{
  g_autofree char *body = webhook_body(e);
  gint64 t = real_now();
  g_autofree char *sig = webhook_signature(sender.secret, strlen(sender.secret), t, body, strlen(body));
  long status = 0;
  g_autofree char *err_text = NULL;
  int rc = webhook_http_post(http, body, e->event, e->idempotency_key, sig, &status, &err_text);
  g_autoptr(GError) error = NULL;
  gint64 now = real_now();
  if (rc == 0) {
    if (storage_outbox_delivered(st, e->seq, now, &error) < 0) {
      ma_warn("webhook", "cannot record delivery seq=%" G_GINT64_FORMAT " error=%s", e->seq, error->message);
      return -1;
    }
    __atomic_fetch_add(&delivered_total, 1, __ATOMIC_RELAXED);
    ma_metrics_inc(MA_METRIC_WEBHOOK_DELIVERED);
    ma_debug("webhook", "delivered seq=%" G_GINT64_FORMAT " event=%s status=%ld", e->seq, e->event, status);
    return 1;
  }
  ma_metrics_inc(MA_METRIC_WEBHOOK_FAILED);
  int attempts = e->attempts + 1;
  gboolean dead = attempts >= sender.max_attempts;
  *next_at = now + webhook_backoff(attempts, sender.max_backoff);
  if (dead) {
    ma_metrics_inc(MA_METRIC_WEBHOOK_DEAD);
    ma_warn("webhook", "event parked as dead after its last attempt (see `mailagent webhook dead list`) seq=%" G_GINT64_FORMAT
            " event=%s enterprise=%s attempts=%d last_error=\"%s\"", e->seq, e->event, e->enterprise_id ? e->enterprise_id : "-",
            attempts, err_text);
  }
  else
    ma_warn("webhook", "attempt failed seq=%" G_GINT64_FORMAT " event=%s attempts=%d retry_in=%" G_GINT64_FORMAT
            "s error=%s", e->seq, e->event, attempts, *next_at - now, err_text);
  if (storage_outbox_failed(st, e->seq, attempts, *next_at, err_text, dead, &error) < 0) {
    ma_warn("webhook", "cannot record failure seq=%" G_GINT64_FORMAT " error=%s", e->seq, error->message);
    return -1;
  }
  return 0;
}

/* Gives back the claimed events of due[from..] that were not attempted (a storage error leaves
 * them to their lease). */
static void release_rest(MaStorage *st, GPtrArray *due, guint from, GHashTable *attempted)
{
  for (guint i = from; i < due->len; i++) {
    const MaOutboxEvent *e = due->pdata[i];
    if (g_hash_table_contains(attempted, e)) continue;
    g_autoptr(GError) error = NULL;
    if (storage_outbox_release(st, e->seq, &error) < 0) {
      ma_warn("webhook", "cannot give back a claimed event (it returns when its lease ends) seq=%" G_GINT64_FORMAT
              " error=%s", e->seq, error->message);
      return;
    }
  }
}

/* One pass over the claimed events. Returns when the sender should wake next (Unix seconds). */
static gint64 pass(MaStorage *st, WebhookHttp *http)
{
  gint64 now = real_now();
  gint64 wake = now + POLL_SECONDS;
  gint64 lease_until = now + 2 * (gint64) sender.timeout + LEASE_MARGIN_SECONDS;
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  g_autoptr(GError) error = NULL;
  if (storage_outbox_claim(st, now, lease_until, BATCH, due, &error) < 0) {
    ma_warn("webhook", "cannot claim events from the outbox error=%s", error->message);
    return now + 1;
  }
  g_autoptr(GHashTable) blocked = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GHashTable) attempted = g_hash_table_new(g_direct_hash, g_direct_equal);
  guint delivered = 0, i = 0;
  for (; i < due->len && !stopping(); i++) {
    const MaOutboxEvent *e = due->pdata[i];
    const char *ent = e->enterprise_id ? e->enterprise_id : "";
    if (g_hash_table_contains(blocked, ent)) continue;
    if (real_now() + sender.timeout + 1 >= lease_until) break; /* the lease could end mid-attempt */
    g_hash_table_add(attempted, (gpointer) e);
    gint64 next_at = 0;
    int rc = deliver(st, http, e, &next_at);
    if (rc < 0) return real_now() + 1; /* the unattempted rest returns when the lease ends */
    if (rc == 0) {
      g_hash_table_add(blocked, (gpointer) ent);
      wake = MIN(wake, next_at);
    } else {
      delivered++;
    }
  }
  release_rest(st, due, 0, attempted);
  /* A full batch that made progress, or one cut short: go again at once. */
  if ((due->len == BATCH && delivered > 0) || i < due->len) return 0;
  return wake;
}

static gpointer sender_main(gpointer data)
{
  (void) data;
  g_autoptr(GError) error = NULL;
  MaStorage *st = NULL;
  while (storage_open(sender.data_dir, FALSE, &st, &error) < 0) {
    ma_warn("webhook", "cannot open storage, retrying error=%s", error->message);
    g_clear_error(&error);
    sleep_until(real_now() + 1);
    if (stopping()) return NULL;
  }
  WebhookHttp *http = webhook_http_new(sender.url, sender.timeout);
  while (!stopping()) {
    gint64 wake = pass(st, http);
    if (stopping()) break;
    if (wake > real_now()) sleep_until(wake);
  }
  webhook_http_free(http);
  storage_close(&st);
  return NULL;
}

int webhook_start(const MaConfig *cfg, GError **error)
{
  if (!cfg->webhook_url || !*cfg->webhook_url) {
    ma_info("webhook", "no [webhook] url: events stay in the outbox");
    return 0;
  }
  if (!g_str_has_prefix(cfg->webhook_url, "http://") && !g_str_has_prefix(cfg->webhook_url, "https://")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[webhook] url must start with http:// or https://");
    return -1;
  }
  char *secret = webhook_read_secret(cfg->webhook_secret_file, error);
  if (!secret) return -1;
  g_mutex_lock(&start_lock);
  if (sender.thread) {
    g_mutex_unlock(&start_lock);
    g_free(secret);
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "the webhook sender is running already");
    return -1;
  }
  static gsize curl_once;
  if (g_once_init_enter(&curl_once)) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_once_init_leave(&curl_once, 1);
  }
  sender.stop = FALSE;
  sender.notified = FALSE;
  sender.data_dir = g_strdup(cfg->data_dir);
  sender.url = g_strdup(cfg->webhook_url);
  sender.secret = secret;
  sender.timeout = cfg->webhook_timeout > 0 ? cfg->webhook_timeout : 10;
  sender.max_attempts = cfg->webhook_max_attempts > 0 ? cfg->webhook_max_attempts : 20;
  sender.max_backoff = cfg->webhook_max_backoff > 0 ? cfg->webhook_max_backoff : 3600;
  sender.thread = g_thread_new("webhook", sender_main, NULL);
  g_mutex_unlock(&start_lock);
  ma_info("webhook", "sender started");
  return 0;
}

void webhook_notify(void)
{
  g_mutex_lock(&sender.lock);
  sender.notified = TRUE;
  g_cond_signal(&sender.cond);
  g_mutex_unlock(&sender.lock);
}

void webhook_stop(void)
{
  g_mutex_lock(&start_lock);
  if (!sender.thread) {
    g_mutex_unlock(&start_lock);
    return;
  }
  g_mutex_lock(&sender.lock);
  sender.stop = TRUE;
  g_cond_signal(&sender.cond);
  g_mutex_unlock(&sender.lock);
  g_thread_join(sender.thread);
  sender.thread = NULL;
  g_clear_pointer(&sender.data_dir, g_free);
  g_clear_pointer(&sender.url, g_free);
  if (sender.secret) memset(sender.secret, 0, strlen(sender.secret));
  g_clear_pointer(&sender.secret, g_free);
  g_mutex_unlock(&start_lock);
}
