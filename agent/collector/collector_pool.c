/* collector_pool.c - the thread model of the collector: libetpan blocks, so mailbox sessions run on
 * a bounded pool of [collector] threads worker threads, never on the event loop; one slow or
 * stalled mailbox holds one worker (bounded by the session timeout), the others go on.
 *
 * A scheduler thread compares each active mailbox's stored deadline (next_attempt_at, written by
 * the last sync with its backoff) with ma_now() once a second and queues the due ones; a mailbox is
 * queued or running at most once in this process, and the storage lease keeps other processes off
 * it. Each thread has its own storage and spool handles. Stopping lets running sessions end (each
 * is bounded by its timeouts) and joins.
 */
#include "collector.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"

#include <string.h>
#include <unistd.h>

#define SCAN_INTERVAL_US G_USEC_PER_SEC

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
  for (guint i = 0; i < list->len; i++) {
    const MaMailbox *m = g_ptr_array_index(list, i);
    gboolean verify = g_strcmp0(m->state, "verifying") == 0;
    if (!verify && (!m->archiving || g_strcmp0(m->state, "active") != 0 || m->next_attempt_at > now)) continue;
    if (g_hash_table_contains(pool.busy, m->id)) continue;
    g_hash_table_add(pool.busy, g_strdup(m->id));
    g_queue_push_tail(&pool.due, g_strdup(m->id));
    g_cond_signal(&pool.wake);
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
  pool.stopping = FALSE;
  pool.owner = g_strdup_printf("serve:%s:%d", g_get_host_name(), (int)getpid());
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
  g_cond_broadcast(&pool.wake);
  g_mutex_unlock(&pool.lock);
  if (pool.scheduler) g_thread_join(pool.scheduler);
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
