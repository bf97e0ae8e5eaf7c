/* api_thread.c - the HTTP API's own thread and event loop (see api_thread.h).
 *
 * Start-up is synchronous: the thread builds its base and server and reports the result through
 * a mutex and condition before it dispatches, so a bad listen address still fails `serve` at once.
 * Afterwards the caller reaches the thread only through two events on the thread's base, made
 * active from outside (safe because evthread_use_pthreads is on before that base exists): reload
 * and stop. Stop frees the server on its own thread and then leaves the loop.
 */
#include "api_thread.h"

#include "api_server.h"
#include "agent/lib/error.h"
#include "agent/lib/log.h"

#include <event2/event.h>
#include <event2/thread.h>

struct ApiThread {
  const MaConfig *cfg;       /* first config, then reloads */
  GThread *thread;
  GMutex lock;
  GCond ready_cond;
  gboolean ready;            /* start-up finished (ok or not) */
  GError *start_error;       /* start-up failure, moved to the caller */
  int port;
  struct event_base *base;   /* API thread's; created and freed there */
  ApiServer *srv;            /* API thread only */
  struct event *reload_ev;
  struct event *stop_ev;
  const MaConfig *pending;   /* under lock: the config of the next reload */
};

static void on_reload(evutil_socket_t fd, short what, void *arg)
{
  ApiThread *t = arg;
  const MaConfig *cfg;
  g_autoptr(GError) error = NULL;

  g_mutex_lock(&t->lock);
  cfg = t->pending;
  t->pending = NULL;
  g_mutex_unlock(&t->lock);
  if (!cfg || !t->srv)
    return;
  if (api_server_reload(t->srv, cfg, &error) < 0)
    ma_error("api", "reload: %s (kept its previous TLS certificate)", error->message);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
  ApiThread *t = arg;

  api_server_free(t->srv);
  t->srv = NULL;
  event_base_loopbreak(t->base);
}

static void report_ready(ApiThread *t, GError *error)
{
  g_mutex_lock(&t->lock);
  t->start_error = error;
  t->ready = TRUE;
  g_cond_signal(&t->ready_cond);
  g_mutex_unlock(&t->lock);
}

static gpointer api_thread_main(gpointer arg)
{
  ApiThread *t = arg;
  GError *error = NULL;

  t->base = event_base_new();
  if (!t->base) {
    report_ready(t, g_error_new(MA_ERROR, MA_ERROR_INTERNAL, "cannot create the API's event loop"));
    return NULL;
  }
  t->reload_ev = event_new(t->base, -1, 0, on_reload, t);
  t->stop_ev = event_new(t->base, -1, 0, on_stop, t);
  t->srv = t->reload_ev && t->stop_ev ? api_server_new(t->base, t->cfg, &error) : NULL;
  if (!t->srv) {
    if (!error)
      error = g_error_new(MA_ERROR, MA_ERROR_INTERNAL, "cannot create the API's events");
    goto out;
  }
  t->port = api_server_port(t->srv);
  report_ready(t, NULL);
  event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
  api_server_free(t->srv); /* NULL after on_stop */
  t->srv = NULL;
out:
  if (error)
    report_ready(t, error);
  if (t->reload_ev)
    event_free(t->reload_ev);
  if (t->stop_ev)
    event_free(t->stop_ev);
  event_base_free(t->base);
  t->base = NULL;
  return NULL;
}

ApiThread *api_thread_start(const MaConfig *cfg, GError **error)
{
  ApiThread *t;

  g_return_val_if_fail(cfg != NULL, NULL);
  if (evthread_use_pthreads() < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "libevent has no pthread support");
    return NULL;
  }
  t = g_new0(ApiThread, 1);
  t->cfg = cfg;
  g_mutex_init(&t->lock);
  g_cond_init(&t->ready_cond);
  t->thread = g_thread_new("api", api_thread_main, t);
  g_mutex_lock(&t->lock);
  while (!t->ready)
    g_cond_wait(&t->ready_cond, &t->lock);
  g_mutex_unlock(&t->lock);
  if (t->start_error) {
    g_propagate_error(error, t->start_error);
    t->start_error = NULL;
    g_thread_join(t->thread);
    g_mutex_clear(&t->lock);
    g_cond_clear(&t->ready_cond);
    g_free(t);
    return NULL;
  }
  return t;
}

int api_thread_port(const ApiThread *t)
{
  return t ? t->port : -1;
}

void api_thread_reload(ApiThread *t, const MaConfig *cfg)
{
  g_return_if_fail(t != NULL && cfg != NULL);
  g_mutex_lock(&t->lock);
  t->pending = cfg;
  g_mutex_unlock(&t->lock);
  event_active(t->reload_ev, EV_READ, 0);
}

void api_thread_stop(ApiThread *t)
{
  if (!t)
    return;
  event_active(t->stop_ev, EV_READ, 0);
  g_thread_join(t->thread);
  g_mutex_clear(&t->lock);
  g_cond_clear(&t->ready_cond);
  g_free(t);
}
