/* periodic.c - see periodic.h. A mutex and condition variable carry the stop request, so a
 * sleeping thread wakes at once. */
#include "periodic.h"

struct MaPeriodic {
  GMutex lock;
  GCond cond;
  GThread *thread;
  gboolean stop;
  guint interval_ms;
  MaPeriodicFn fn;
  gpointer data;
};

static gpointer run(gpointer arg)
{
  MaPeriodic *p = arg;
  g_mutex_lock(&p->lock);
  while (!p->stop) {
    g_mutex_unlock(&p->lock);
    gboolean more = p->fn(p->data);
    g_mutex_lock(&p->lock);
    if (more || p->stop) continue;
    gint64 deadline = g_get_monotonic_time() + (gint64)p->interval_ms * G_TIME_SPAN_MILLISECOND;
    while (!p->stop && g_cond_wait_until(&p->cond, &p->lock, deadline)) {
    }
  }
  g_mutex_unlock(&p->lock);
  return NULL;
}

MaPeriodic *ma_periodic_start(const char *name, guint interval_ms, MaPeriodicFn fn, gpointer data)
{
  MaPeriodic *p = g_new0(MaPeriodic, 1);
  g_mutex_init(&p->lock);
  g_cond_init(&p->cond);
  p->interval_ms = interval_ms;
  p->fn = fn;
  p->data = data;
  p->thread = g_thread_new(name, run, p);
  return p;
}

void ma_periodic_stop(MaPeriodic **pp)
{
  MaPeriodic *p = pp ? *pp : NULL;
  if (!p) return;
  g_mutex_lock(&p->lock);
  p->stop = TRUE;
  g_cond_signal(&p->cond);
  g_mutex_unlock(&p->lock);
  g_thread_join(p->thread);
  g_mutex_clear(&p->lock);
  g_cond_clear(&p->cond);
  g_free(p);
  *pp = NULL;
}
