/* collector_pool.c - the thread model of the collector: libetpan blocks, so mailbox sessions run on
 * a bounded pool of [collector] threads worker threads, never on the event loop; one slow or
 * stalled mailbox holds one worker (bounded by the session timeout), the others go on.
 *
 * A scheduler thread compares each active mailbox's stored deadline (next_attempt_at, written by
 * the last sync with its backoff) with ma_now() once a second and queues the due ones; a mailbox is
 * queued or running at most once in this process, and the storage lease keeps other processes off
 * it. Each thread has its own storage and spool handles. Stopping lets running sessions end (each
 * is bounded by its timeouts) and joins.
 *
 * IDLE: for an active IMAP mailbox whose last sync succeeded, the scheduler starts an idler thread
 * (at most [collector] max_idle in the process) holding one IDLE on its INBOX; when the server
 * announces new mail the idler queues the mailbox at once, so the mail is pulled within a second
 * or two instead of at the next poll. A server without IDLE, or a binding that stops being active,
 * ends its idler; errors retry with a growing pause. Polling goes on beside IDLE (the Sent folder,
 * and whatever IDLE might miss).
 */
#include "collector.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/lib/node.h"

#include <string.h>

#define SCAN_INTERVAL_US G_USEC_PER_SEC
#define IDLE_RENEW_MS (25 * 60 * 1000) /* RFC 2177: re-issue IDLE before 29 minutes */
#define IDLE_RETRY_MAX_S 600

static struct {
  GMutex lock;
  GCond wake;
  gboolean started, stopping;
  const MaConfig *cfg;
  CollectorEnv env;
  GQueue due;           /* char* mailbox ids to sync */
  GHashTable *busy;     /* id -> TRUE while queued or running */
  GPtrArray *threads;   /* GThread* */
  GThread *scheduler;
  char *owner;          /* lease owner: this process */
  GHashTable *idling;   /* id -> Idler* while an idler runs for it */
  GHashTable *no_idle;  /* id -> TRUE: its server has no IDLE (polled only) */
  GPtrArray *idlers;    /* GThread* to join */
} pool;

static void (*spooled_hook)(void);

void collector_pool_set_spooled_hook(void (*fn)(void))
{
  spooled_hook = fn;
}

static gpointer worker_main(gpointer data)
{
  int index = GPOINTER_TO_INT(data);
  MaStorage *st = NULL;
  MaSpool *sp = NULL;
  g_autoptr(GError) error = NULL;
  if (storage_open(pool.cfg->data_dir, FALSE, &st, &error) < 0 || spool_open(pool.cfg->data_dir, &sp, &error) < 0) {
    ma_error("collector", "worker %d cannot open storage: %s", index, error->message);
    storage_close(&st);
    return NULL;
  }
  g_mutex_lock(&pool.lock);
  for (;;) {
    while (!pool.stopping && g_queue_is_empty(&pool.due)) g_cond_wait(&pool.wake, &pool.lock);
    if (pool.stopping) break;
    char *id = g_queue_pop_head(&pool.due);
    g_mutex_unlock(&pool.lock);

    gboolean busy = FALSE;
    GError *e = NULL;
    int rc = collector_sync_mailbox(&pool.env, st, sp, id, pool.owner, &busy, &e);
    if (rc < 0) ma_warn("collector", "mailbox %s: storage failed: %s", id, e->message);
    else if (e) ma_info("collector", "mailbox %s: sync failed: %s", id, e->message); /* never a secret */
    g_clear_error(&e);
    if (rc == 0 && !busy && spooled_hook) spooled_hook();

    g_mutex_lock(&pool.lock);
    g_hash_table_remove(pool.busy, id);
    g_free(id);
  }
  g_mutex_unlock(&pool.lock);
  spool_close(&sp);
  storage_close(&st);
  return NULL;
}

/* Queues a mailbox now unless it is queued or running already. Under pool.lock. */
static void enqueue_locked(const char *id)
{
  if (g_hash_table_contains(pool.busy, id)) return;
  g_hash_table_add(pool.busy, g_strdup(id));
  g_queue_push_tail(&pool.due, g_strdup(id));
  /* the scheduler and pausing idlers wait on the same condition: wake everyone, or a worker may
   * sleep through it */
  g_cond_broadcast(&pool.wake);
}

/* Sleeps up to seconds unless the pool stops. Under pool.lock. */
static void pause_locked(int seconds)
{
  gint64 until = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
  while (!pool.stopping && g_cond_wait_until(&pool.wake, &pool.lock, until)) {
  }
}

typedef struct {
  char *id;
  volatile gint stop;   /* the scheduler or stop() ends this idler's IDLE */
} Idler;

static void idler_free(Idler *i)
{
  g_free(i->id);
  g_free(i);
}

static gpointer idler_main(gpointer data)
{
  Idler *idler = data;
  const char *id = idler->id;
  MaStorage *st = NULL;
  g_autoptr(GError) error = NULL;
  if (storage_open(pool.cfg->data_dir, FALSE, &st, &error) < 0) {
    ma_warn("collector", "idler for %s cannot open storage: %s", id, error->message);
    g_clear_error(&error);
  }
  int retry = 5;
  g_mutex_lock(&pool.lock);
  while (st && !pool.stopping && !g_atomic_int_get(&idler->stop)) {
    g_mutex_unlock(&pool.lock);
    gboolean new_mail = FALSE, no_idle = FALSE;
    int rc = collector_idle_mailbox(&pool.env, st, id, IDLE_RENEW_MS, &idler->stop, &new_mail, &no_idle, &error);
    g_mutex_lock(&pool.lock);
    if (new_mail) enqueue_locked(id);
    if (rc == 1) break; /* paused, unbound or no longer IMAP: the scheduler starts it again later */
    if (no_idle) {
      g_hash_table_add(pool.no_idle, g_strdup(id));
      break;
    }
    if (rc < 0) {
      ma_info("collector", "mailbox %s: idle: %s; retrying in %d s", id, error->message, retry);
      g_clear_error(&error);
      pause_locked(retry);
      retry = MIN(retry * 2, IDLE_RETRY_MAX_S);
    } else {
      retry = 5;
    }
  }
  g_hash_table_remove(pool.idling, id); /* frees the idler */
  g_mutex_unlock(&pool.lock);
  storage_close(&st);
  return NULL;
}

/* Starts an idler for m when it can idle and the cap allows. Under pool.lock. */
static void maybe_idle_locked(const MaMailbox *m)
{
  if ((int)g_hash_table_size(pool.idling) >= pool.cfg->collector_max_idle) return;
  if (!g_str_equal(m->protocol, "imap") || m->last_sync_at == 0 || m->last_error) return;
  if (g_hash_table_contains(pool.idling, m->id) || g_hash_table_contains(pool.no_idle, m->id)) return;
  Idler *idler = g_new0(Idler, 1);
  idler->id = g_strdup(m->id);
  g_hash_table_insert(pool.idling, idler->id, idler);
  GThread *t = g_thread_try_new("collector-idle", idler_main, idler, NULL);
  if (!t) {
    g_hash_table_remove(pool.idling, m->id);
    return;
  }
  g_ptr_array_add(pool.idlers, t);
}

/* Queues active mailboxes whose deadline has come. */
static void scan(MaStorage *st)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_mailbox_free);
  g_autoptr(GError) error = NULL;
  if (storage_mailbox_list(st, NULL, list, &error) < 0) {
    ma_warn("collector", "scheduler: cannot list mailboxes: %s", error->message);
    return;
  }
  gint64 now = ma_now();
  g_mutex_lock(&pool.lock);
  /* idlers of mailboxes that were paused, unbound or lost their grant end their IDLE now */
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, pool.idling);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    gboolean keep = FALSE;
    for (guint i = 0; i < list->len && !keep; i++) {
      const MaMailbox *m = g_ptr_array_index(list, i);
      keep = g_str_equal(m->id, key) && m->archiving && g_strcmp0(m->state, "active") == 0;
    }
    if (!keep) g_atomic_int_set(&((Idler *)value)->stop, 1);
  }
  for (guint i = 0; i < list->len; i++) {
    const MaMailbox *m = g_ptr_array_index(list, i);
    gboolean verify = g_strcmp0(m->state, "verifying") == 0 || g_strcmp0(m->state, "authorizing") == 0;
    gboolean active = m->archiving && g_strcmp0(m->state, "active") == 0;
    if (active) maybe_idle_locked(m);
    if (!verify && (!active || m->next_attempt_at > now)) continue;
    enqueue_locked(m->id);
  }
  g_mutex_unlock(&pool.lock);
}

static gpointer scheduler_main(gpointer data)
{
  MaStorage *st = NULL;
  g_autoptr(GError) error = NULL;
  if (storage_open(pool.cfg->data_dir, FALSE, &st, &error) < 0) {
    ma_error("collector", "scheduler cannot open storage: %s", error->message);
    return NULL;
  }
  g_mutex_lock(&pool.lock);
  while (!pool.stopping) {
    g_mutex_unlock(&pool.lock);
    scan(st);
    g_mutex_lock(&pool.lock);
    gint64 until = g_get_monotonic_time() + SCAN_INTERVAL_US;
    while (!pool.stopping && g_cond_wait_until(&pool.wake, &pool.lock, until)) {
    }
  }
  g_mutex_unlock(&pool.lock);
  storage_close(&st);
  return NULL;
}

int collector_pool_start(const MaConfig *cfg, GError **error)
{
  g_assert(!pool.started);
  pool.cfg = cfg;
  GError *env_error = NULL;
  if (collector_env_init(&pool.env, cfg, &env_error) < 0) {
    /* no master key yet (no `mailagent init`): there can be no binding to collect */
    ma_warn("collector", "not started: %s", env_error->message);
    g_error_free(env_error);
    return 0;
  }
  g_mutex_init(&pool.lock);
  g_cond_init(&pool.wake);
  g_queue_init(&pool.due);
  pool.busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  pool.threads = g_ptr_array_new();
  pool.idling = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)idler_free);
  pool.no_idle = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  pool.idlers = g_ptr_array_new();
  pool.stopping = FALSE;
  /* unique in the cluster (node.h): a lease whose owner matches is the caller's own
   * (storage_mailbox_lease) */
  pool.owner = g_strdup_printf("serve:%s", ma_node_id());
  int n = CLAMP(cfg->collector_threads, 1, 256);
  for (int i = 0; i < n; i++) {
    GThread *t = g_thread_try_new("collector", worker_main, GINT_TO_POINTER(i), error);
    if (!t) {
      collector_pool_stop();
      return -1;
    }
    g_ptr_array_add(pool.threads, t);
  }
  pool.started = TRUE;
  pool.scheduler = g_thread_try_new("collector-scheduler", scheduler_main, NULL, error);
  if (!pool.scheduler) {
    collector_pool_stop();
    return -1;
  }
  return 0;
}

void collector_pool_stop(void)
{
  if (!pool.threads) return;
  g_mutex_lock(&pool.lock);
  pool.stopping = TRUE;
  GHashTableIter it;
  gpointer idler;
  g_hash_table_iter_init(&it, pool.idling);
  while (g_hash_table_iter_next(&it, NULL, &idler)) g_atomic_int_set(&((Idler *)idler)->stop, 1);
  g_cond_broadcast(&pool.wake);
  g_mutex_unlock(&pool.lock);
  if (pool.scheduler) g_thread_join(pool.scheduler);
  /* the scheduler started every idler; none starts after it stopped */
  for (guint i = 0; i < pool.idlers->len; i++) g_thread_join(g_ptr_array_index(pool.idlers, i));
  g_ptr_array_unref(pool.idlers);
  g_hash_table_unref(pool.idling);
  g_hash_table_unref(pool.no_idle);
  for (guint i = 0; i < pool.threads->len; i++) g_thread_join(g_ptr_array_index(pool.threads, i));
  g_ptr_array_unref(pool.threads);
  pool.threads = NULL;
  pool.scheduler = NULL;
  g_queue_clear_full(&pool.due, g_free);
  g_hash_table_unref(pool.busy);
  g_free(pool.owner);
  collector_env_clear(&pool.env);
  g_mutex_clear(&pool.lock);
  g_cond_clear(&pool.wake);
  pool.started = FALSE;
}
