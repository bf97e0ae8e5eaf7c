/* rcpt_refresher.c - the thread that rebuilds the RCPT snapshot (see rcpt_refresher.h).
 *
 * State shared with the loop, under `lock`: the published snapshot, the default policy and the
 * flags `force` and `stop`. The thread loads without holding the lock and publishes by swapping
 * the pointer; the old snapshot lives on while a look-up still holds a reference.
 */
#include "rcpt_refresher.h"

#include "agent/lib/log.h"

struct RcptRefresher {
  MaStorage *st;           /* thread only (after start) */
  GThread *thread;
  GMutex lock;
  GCond wake;
  RcptSnapshot *current;   /* under lock */
  char *default_policy;    /* under lock */
  gboolean force;          /* under lock: load at the next tick whatever the version */
  gboolean stop;           /* under lock */
  gint64 data_version;     /* thread only */
  gboolean failing;        /* thread only: a failure was logged, log the recovery */
};

static void publish(RcptRefresher *r, RcptSnapshot *snap)
{
  RcptSnapshot *old;

  g_mutex_lock(&r->lock);
  old = r->current;
  r->current = snap;
  g_mutex_unlock(&r->lock);
  rcpt_snapshot_unref(old);
}

/* One tick: reload when the tenant tables (or the default policy) changed. */
static void refresh(RcptRefresher *r)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *policy = NULL;
  gint64 dv = storage_data_version(r->st), tv = 0, have;
  gboolean force;
  RcptSnapshot *snap;

  g_mutex_lock(&r->lock);
  force = r->force;
  r->force = FALSE;
  policy = g_strdup(r->default_policy);
  have = rcpt_snapshot_version(r->current);
  g_mutex_unlock(&r->lock);
  if (dv == r->data_version && !force && !r->failing)
    return;
  if (storage_tenant_version(r->st, &tv, &error) < 0)
    goto failed;
  r->data_version = dv;
  if (tv == have && !force) {
    r->failing = FALSE;
    return;
  }
  snap = rcpt_snapshot_load(r->st, policy, tv, &error);
  if (!snap)
    goto failed;
  publish(r, snap);
  if (r->failing)
    ma_info("smtp", "recipient snapshot loaded again");
  r->failing = FALSE;
  ma_debug("smtp", "recipient snapshot version %" G_GINT64_FORMAT ": %u addresses", tv,
           rcpt_snapshot_address_count(snap));
  return;

failed:
  if (!r->failing)
    ma_warn("smtp", "recipient snapshot not refreshed (answering from the previous one): %s", error->message);
  r->failing = TRUE;
  g_mutex_lock(&r->lock);
  r->force = r->force || force;
  g_mutex_unlock(&r->lock);
}

static gpointer refresher_main(gpointer arg)
{
  RcptRefresher *r = arg;

  g_mutex_lock(&r->lock);
  while (!r->stop) {
    gint64 until = g_get_monotonic_time() + RCPT_REFRESH_INTERVAL_MS * G_TIME_SPAN_MILLISECOND;
    while (!r->stop && g_cond_wait_until(&r->wake, &r->lock, until))
      ;
    if (r->stop)
      break;
    g_mutex_unlock(&r->lock);
    refresh(r);
    g_mutex_lock(&r->lock);
  }
  g_mutex_unlock(&r->lock);
  return NULL;
}

RcptRefresher *rcpt_refresher_start(const char *data_dir, const char *default_policy, GError **error)
{
  RcptRefresher *r = g_new0(RcptRefresher, 1);
  gint64 tv = 0;

  g_mutex_init(&r->lock);
  g_cond_init(&r->wake);
  r->default_policy = g_strdup(default_policy ? default_policy : "employee");
  if (storage_open(data_dir, FALSE, &r->st, error) < 0)
    goto fail;
  r->data_version = storage_data_version(r->st);
  if (storage_tenant_version(r->st, &tv, error) < 0)
    goto fail;
  r->current = rcpt_snapshot_load(r->st, r->default_policy, tv, error);
  if (!r->current)
    goto fail;
  r->thread = g_thread_new("rcpt-snapshot", refresher_main, r);
  return r;

fail:
  rcpt_refresher_stop(r);
  return NULL;
}

RcptSnapshot *rcpt_refresher_current(RcptRefresher *r)
{
  RcptSnapshot *snap;

  g_mutex_lock(&r->lock);
  snap = rcpt_snapshot_ref(r->current);
  g_mutex_unlock(&r->lock);
  return snap;
}

void rcpt_refresher_set_default_policy(RcptRefresher *r, const char *default_policy)
{
  g_mutex_lock(&r->lock);
  g_free(r->default_policy);
  r->default_policy = g_strdup(default_policy ? default_policy : "employee");
  r->force = TRUE;
  g_mutex_unlock(&r->lock);
}

void rcpt_refresher_stop(RcptRefresher *r)
{
  if (!r)
    return;
  if (r->thread) {
    g_mutex_lock(&r->lock);
    r->stop = TRUE;
    g_cond_signal(&r->wake);
    g_mutex_unlock(&r->lock);
    g_thread_join(r->thread);
  }
  rcpt_snapshot_unref(r->current);
  storage_close(&r->st);
  g_free(r->default_policy);
  g_mutex_clear(&r->lock);
  g_cond_clear(&r->wake);
  g_free(r);
}
