/* api_workers.c - the API's read workers: [api] read_workers threads, each with its own storage
 * handle (with SQLite, its own connection: a WAL reader that neither waits for the writer nor
 * holds it up), which compute the answers that cost the most to read (a timeline page the page
 * cache has not got, a search) while the event loop goes on answering other requests.
 *
 * A handler parks its request with api_defer: the job's run half goes to the first free worker
 * with the data the handler copied out of the request, and must touch nothing else (not the
 * context, not the loop's storage handle, not the page cache; the item cache, api_item_cache.c, is
 * thread-safe and shared on purpose); its done half then runs on the loop,
 * answers the request from the data and frees it, and the request is finished as any other
 * (api_request_finish). Workers hand finished jobs back through a queue and a pipe the loop
 * watches (one byte when the queue was empty: a burst of finished jobs costs one wake-up), so
 * this works whether or not libevent's thread support is on. The loop thread owns
 * everything here except the two queues; jobs run in the order they were parked, up to one per
 * worker at a time. A client that goes away while its request is parked costs nothing more:
 * evhttp detaches the request from the closed connection and frees it on the reply.
 * With read_workers = 0 there are no threads: api_defer runs both halves at once, on the loop.
 * Page buffers: a run half that writes a long answer takes a buffer the pool keeps
 * (api_workers_buffer_take); the reply then sends it without a copy (api_workers_buffer_reply)
 * and libevent gives it back once written or dropped, so the workers allocate nothing per page and
 * the loop neither copies a page nor frees a worker's allocation (glibc gives each thread its own
 * arena: a worker's page freed by the loop took that arena's lock while the worker was allocating
 * its next page). A reply still in libevent's hands holds a reference on the pool, so a buffer
 * given back after api_workers_free (a connection freed later, at shutdown) finds the pool's
 * buffer list still there: the last reference frees it.
 */
#include "api_internal.h"
#include "agent/lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <unistd.h>

struct ApiJob {
  ApiCtx *ctx;
  ApiJobRun run;
  ApiJobDone done;
  void *data;
};

typedef struct {
  ApiWorkers *pool;
  MaStorage *st; /* this worker's; opened by api_workers_new, closed after the thread ends */
  GThread *thread;
} ApiWorker;

struct ApiWorkers {
  ApiWorker *workers;
  int n;
  GAsyncQueue *todo;   /* ApiJob*, then one stop_job per worker */
  GMutex lock;
  GQueue done;         /* finished ApiJob*, under lock */
  int wake[2];         /* a worker writes a byte after each finished job; the loop reads them */
  struct event *wake_ev;
  GQueue buffers;      /* GString* page buffers not in use, under lock */
  gint refs;           /* api_workers_new's, plus one per buffer lent to a reply (atomic) */
};

/* Page buffers kept per worker; one larger than API_BUFFER_MAX_KEPT goes back to malloc. */
#define API_BUFFERS_PER_WORKER 4
#define API_BUFFER_MAX_KEPT (1024 * 1024)
#define API_BUFFER_FIRST (32 * 1024)

static ApiJob stop_job; /* tells a worker to leave */

static gpointer worker_main(gpointer arg)
{
  ApiWorker *w = arg;
  ApiWorkers *pool = w->pool;

  for (;;) {
    ApiJob *job = g_async_queue_pop(pool->todo);
    if (job == &stop_job)
      break;
    job->run(w->st, job->data);
    g_mutex_lock(&pool->lock);
    gboolean first = g_queue_is_empty(&pool->done);
    g_queue_push_tail(&pool->done, job);
    g_mutex_unlock(&pool->lock);
    /* One wake-up per batch: a job queued behind others is answered with them, since on_wake
     * drains the pipe before it takes the queue. A full pipe already holds a wake-up: nothing is
     * lost by a failed write. */
    while (first && write(pool->wake[1], "", 1) < 0 && errno == EINTR)
      ;
  }
  return NULL;
}

/* Answers every finished job (loop thread). */
static void finish_done(ApiWorkers *pool)
{
  GQueue ready = G_QUEUE_INIT;

  g_mutex_lock(&pool->lock);
  ready = pool->done;
  g_queue_init(&pool->done);
  g_mutex_unlock(&pool->lock);
  for (ApiJob *job; (job = g_queue_pop_head(&ready)) != NULL;) {
    job->done(job->ctx, job->data);
    api_request_finish(job->ctx);
    g_free(job);
  }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
  char drain[256];

  while (read(fd, drain, sizeof drain) > 0)
    ;
  finish_done(arg);
}

ApiWorkers *api_workers_new(struct event_base *base, const char *data_dir, int n, GError **error)
{
  ApiWorkers *pool;

  if (n <= 0)
    return NULL;
  pool = g_new0(ApiWorkers, 1);
  pool->refs = 1;
  pool->wake[0] = pool->wake[1] = -1;
  g_mutex_init(&pool->lock);
  g_queue_init(&pool->done);
  g_queue_init(&pool->buffers);
  pool->todo = g_async_queue_new();
  if (!g_unix_open_pipe(pool->wake, FD_CLOEXEC, error) || !g_unix_set_fd_nonblocking(pool->wake[0], TRUE, error) ||
      !g_unix_set_fd_nonblocking(pool->wake[1], TRUE, error)) {
    api_workers_free(pool);
    return NULL;
  }
  pool->wake_ev = event_new(base, pool->wake[0], EV_READ | EV_PERSIST, on_wake, pool);
  if (!pool->wake_ev || event_add(pool->wake_ev, NULL) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "cannot watch the API read workers");
    api_workers_free(pool);
    return NULL;
  }
  pool->workers = g_new0(ApiWorker, n);
  for (int i = 0; i < n; i++) {
    ApiWorker *w = &pool->workers[i];
    w->pool = pool;
    if (storage_open(data_dir, FALSE, &w->st, error) < 0) {
      api_workers_free(pool);
      return NULL;
    }
    pool->n++; /* counted once its storage is open: api_workers_free closes exactly these */
    w->thread = g_thread_new("api-read", worker_main, w);
  }
  return pool;
}

/* Drops one reference; the last frees the kept buffers, the lock and the pool (any thread). */
static void pool_unref(ApiWorkers *pool)
{
  if (!g_atomic_int_dec_and_test(&pool->refs))
    return;
  for (GString *buf; (buf = g_queue_pop_head(&pool->buffers)) != NULL;)
    g_string_free(buf, TRUE);
  g_mutex_clear(&pool->lock);
  g_free(pool);
}

void api_workers_free(ApiWorkers *pool)
{
  if (!pool)
    return;
  /* Workers finish the jobs queued before their stop; those are then answered while evhttp and
   * its connections still exist (api_server_free frees the workers first). */
  for (int i = 0; i < pool->n; i++)
    g_async_queue_push(pool->todo, &stop_job);
  for (int i = 0; i < pool->n; i++) {
    g_thread_join(pool->workers[i].thread);
    storage_close(&pool->workers[i].st);
  }
  finish_done(pool);
  if (pool->wake_ev)
    event_free(pool->wake_ev);
  if (pool->wake[0] >= 0)
    close(pool->wake[0]);
  if (pool->wake[1] >= 0)
    close(pool->wake[1]);
  g_async_queue_unref(pool->todo);
  g_free(pool->workers);
  pool->workers = NULL;
  pool->n = 0; /* keeps no more buffers: a reply that ends after this frees its own */
  pool_unref(pool);
}

void api_defer(ApiCtx *ctx, ApiJobRun run, ApiJobDone done, void *data)
{
  ApiWorkers *pool = ctx->srv->workers;
  ApiJob *job;

  if (!pool) {
    run(ctx->st, data);
    done(ctx, data);
    return;
  }
  job = g_new0(ApiJob, 1);
  job->ctx = ctx;
  job->run = run;
  job->done = done;
  job->data = data;
  ctx->parked = TRUE;
  g_async_queue_push(pool->todo, job);
}

GString *api_workers_buffer_take(ApiWorkers *pool)
{
  GString *buf = NULL;

  if (pool) {
    g_mutex_lock(&pool->lock);
    buf = g_queue_pop_head(&pool->buffers);
    g_mutex_unlock(&pool->lock);
  }
  if (!buf)
    return g_string_sized_new(API_BUFFER_FIRST);
  g_string_truncate(buf, 0);
  return buf;
}

void api_workers_buffer_give(ApiWorkers *pool, GString *buf)
{
  if (!buf)
    return;
  if (pool && buf->allocated_len <= API_BUFFER_MAX_KEPT) {
    g_mutex_lock(&pool->lock);
    gboolean keep = g_queue_get_length(&pool->buffers) < (guint)(API_BUFFERS_PER_WORKER * pool->n);
    if (keep)
      g_queue_push_head(&pool->buffers, buf); /* the most recently used first: still in a cache */
    g_mutex_unlock(&pool->lock);
    if (keep)
      return;
  }
  g_string_free(buf, TRUE);
}

typedef struct {
  ApiWorkers *pool; /* a reference, or NULL */
  GString *buf;
} LentBuffer;

/* libevent's cleanup for a lent buffer: written to the socket, or dropped with its connection
 * (loop thread, or api_server_free's evhttp_free). Gives the buffer back and the reference up. */
static void lent_buffer_done(const void *data, size_t len, void *arg)
{
  LentBuffer *lent = arg;

  api_workers_buffer_give(lent->pool, lent->buf);
  if (lent->pool)
    pool_unref(lent->pool);
  g_free(lent);
}

void api_workers_buffer_reply(ApiWorkers *pool, GString *buf, struct evbuffer *out)
{
  LentBuffer *lent = g_new(LentBuffer, 1);

  lent->pool = pool;
  lent->buf = buf;
  if (pool)
    g_atomic_int_inc(&pool->refs);
  if (evbuffer_add_reference(out, buf->str, buf->len, lent_buffer_done, lent) < 0)
    lent_buffer_done(buf->str, buf->len, lent);
}
