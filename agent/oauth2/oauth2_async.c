/* oauth2_async.c - oauth2_access_token off the event loop (see oauth2_async.h): one worker thread
 * with its own storage handle takes requests from a queue in order, and a pipe wakes the loop when
 * answers wait in the other queue. Tokens are asked for seldom (once an hour per grant), so one
 * thread is enough and keeps the shutdown simple: a stop request, then a join. Tickets live in a
 * table owned by the loop thread: a cancelled ticket's answer finds no entry and is dropped (its
 * token wiped).
 */
#include "oauth2_async.h"

#include "agent/lib/error.h"
#include "agent/lib/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  guint ticket;
  char *owner;
  gboolean force_refresh;
  Oauth2AsyncReady ready;
  void *arg;
  char *token;   /* the answer */
  char *why;
} Request;

struct Oauth2Async {
  MaOAuth2Env env;
  char *data_dir;
  struct event_base *base;
  struct event *answer_ev;
  int pipe_fd[2];
  GThread *worker;
  GAsyncQueue *requests;    /* Request*, taken by the worker; the stop request has no owner */
  GAsyncQueue *answers;     /* Request*, filled by the worker */
  GHashTable *pending;      /* ticket -> Request* (loop thread only) */
  Oauth2AsyncRevoked revoked;
  void *revoked_data;
  guint next_ticket;
};


static void request_free(Request *r)
{
  if (!r) return;
  g_free(r->owner);
  if (r->token) memset(r->token, 0, strlen(r->token));
  g_free(r->token);
  g_free(r->why);
  g_free(r);
}

/* The worker thread: each request's blocking call, then its answer to the loop. */
static gpointer work(gpointer data)
{
  Oauth2Async *a = data;
  MaStorage *st = NULL;
  for (;;) {
    Request *r = g_async_queue_pop(a->requests);
    if (!r->owner) { /* stop */
      request_free(r);
      break;
    }
    GError *error = NULL;
    if (!st) storage_open(a->data_dir, FALSE, &st, &error);
    if (st && oauth2_access_token(&a->env, st, r->owner, r->force_refresh, &r->token, &error) == 0) {
      /* got it */
    } else {
      r->why = g_strdup(error ? error->message : "storage unavailable");
      if (error && error->code == MA_ERROR_CONFLICT && a->revoked) a->revoked(st, r->owner, r->why, a->revoked_data);
    }
    g_clear_error(&error);
    g_async_queue_push(a->answers, r);
    if (write(a->pipe_fd[1], "a", 1) < 0 && errno != EAGAIN) {
      /* the pipe is full: a wake-up is pending already */
    }
  }
  storage_close(&st);
  return NULL;
}

static void on_answers(evutil_socket_t fd, short what, void *arg)
{
  Oauth2Async *a = arg;
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  Request *r;
  while ((r = g_async_queue_try_pop(a->answers))) {
    if (g_hash_table_steal(a->pending, GUINT_TO_POINTER(r->ticket))) r->ready(r->arg, r->token, r->why);
    request_free(r);
  }
}

Oauth2Async *oauth2_async_new(struct event_base *base, const MaOAuth2Env *env, const char *data_dir, GError **error)
{
  Oauth2Async *a = g_new0(Oauth2Async, 1);
  a->env = *env;
  a->data_dir = g_strdup(data_dir);
  a->base = base;
  a->pipe_fd[0] = a->pipe_fd[1] = -1;
  a->answers = g_async_queue_new();
  a->requests = g_async_queue_new();
  a->pending = g_hash_table_new(g_direct_hash, g_direct_equal);
  if (pipe(a->pipe_fd) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "oauth2: pipe: %s", g_strerror(errno));
    oauth2_async_free(a);
    return NULL;
  }
  evutil_make_socket_nonblocking(a->pipe_fd[0]);
  evutil_make_socket_nonblocking(a->pipe_fd[1]);
  a->answer_ev = event_new(base, a->pipe_fd[0], EV_READ | EV_PERSIST, on_answers, a);
  if (!a->answer_ev) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "oauth2: cannot watch the answer pipe");
    oauth2_async_free(a);
    return NULL;
  }
  event_add(a->answer_ev, NULL);
  a->worker = g_thread_new("oauth2", work, a);
  return a;
}

void oauth2_async_free(Oauth2Async *a)
{
  if (!a) return;
  if (a->worker) {
    /* the requests before it are answered first (their answers are dropped below) */
    g_async_queue_push(a->requests, g_new0(Request, 1));
    g_thread_join(a->worker);
  }
  Request *r;
  while ((r = g_async_queue_try_pop(a->answers))) request_free(r);
  while ((r = g_async_queue_try_pop(a->requests))) request_free(r);
  g_async_queue_unref(a->answers);
  g_async_queue_unref(a->requests);
  g_hash_table_unref(a->pending);
  if (a->answer_ev) event_free(a->answer_ev);
  if (a->pipe_fd[0] >= 0) close(a->pipe_fd[0]);
  if (a->pipe_fd[1] >= 0) close(a->pipe_fd[1]);
  g_free(a->data_dir);
  g_free(a);
}

void oauth2_async_set_revoked(Oauth2Async *a, Oauth2AsyncRevoked fn, void *data)
{
  a->revoked = fn;
  a->revoked_data = data;
}

guint oauth2_async_get(void *ctx, const char *owner, gboolean force_refresh, Oauth2AsyncReady ready, void *arg)
{
  Oauth2Async *a = ctx;
  Request *r = g_new0(Request, 1);
  r->ticket = ++a->next_ticket ? a->next_ticket : ++a->next_ticket;
  r->owner = g_strdup(owner);
  r->force_refresh = force_refresh;
  r->ready = ready;
  r->arg = arg;
  g_hash_table_insert(a->pending, GUINT_TO_POINTER(r->ticket), r);
  g_async_queue_push(a->requests, r);
  return r->ticket;
}

void oauth2_async_cancel(void *ctx, guint ticket)
{
  Oauth2Async *a = ctx;
  g_hash_table_remove(a->pending, GUINT_TO_POINTER(ticket)); /* the worker still owns the request */
}
