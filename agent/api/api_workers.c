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
 * (api_request_finish). The hand-off costs as few wake-ups as it can, since on a busy loop a
 * wake-up (a futex call, the woken thread preempting the loop, a lock met held) cost more than
 * reading a page (perf on serve under uncached.lua): jobs parked during one pass of the loop are
 * handed over together at the end of that pass (one lock, one event), a sleeping worker is woken
 * only when no awake one is left for a job, and nothing is signalled while the lock is held.
 * Workers hand finished jobs back through a queue and a pipe the loop watches (one byte when the
 * queue was empty: a burst of finished jobs costs one wake-up), so this works whether or not
 * libevent's thread support is on. The loop thread owns everything here except what the lock
 * guards (the todo and done queues, the idle and awake counts, the stop flag, the pool's kept
 * buffers) and each worker's spare buffer (that worker's own); jobs run in the order they were
 * parked, up to one per worker at a time. Jobs are reused and queued by their own link, so the
 * hand-off allocates nothing per request. A client that goes
 * away while its request is parked costs nothing more: evhttp detaches the request from the
 * closed connection and frees it on the reply. With read_workers = 0 there are no threads:
 * api_defer runs both halves at once, on the loop.
 * Page buffers: a run half that writes a long answer takes a buffer the pool keeps
 * (api_workers_buffer_take); the reply then sends it without a copy (api_workers_buffer_reply)
 * and libevent gives it back once written or dropped, so the workers allocate nothing per page and
 * neither side takes a lock per page for it (a buffer given back waits on the loop until the next
 * hand-over moves it to the pool; a worker picks one up with its next job, under that lock), and
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

/* A parked request. Jobs are kept by the pool and reused (loop thread: free_jobs), and move between
 * its queues by their own link: parking and answering a request allocate nothing. */
struct ApiJob {
  GList link; /* link.data is the job; in exactly one of parked, todo, done, free_jobs */
  ApiCtx *ctx;
  ApiJobRun run;
  ApiJobDone done;
  void *data;
};

typedef struct {
  ApiWorkers *pool;
  MaStorage *st; /* this worker's; opened by api_workers_new, closed after the thread ends */
  GThread *thread;
  GString *spare; /* a page buffer this worker takes without a lock (its thread only), or NULL */
} ApiWorker;

/* The worker running on this thread (NULL on any other thread): api_workers_buffer_take's. */
static __thread ApiWorker *this_worker;

struct ApiWorkers {
  ApiWorker *workers;
  int n;
  GQueue parked;       /* ApiJob* parked during this pass of the loop (loop thread only) */
  struct event *hand_ev; /* active while parked is not empty: hands it over after the pass */
  GMutex lock;
  GCond more;          /* todo gained jobs, or stopping was set */
  GQueue todo;         /* ApiJob* handed over, not yet taken by a worker, under lock */
  guint idle;          /* workers waiting on more, under lock */
  guint awake_free;    /* workers awake and not running a job, under lock */
  gboolean stopping;   /* under lock: workers leave once todo is empty */
  GQueue done;         /* finished ApiJob*, under lock */
  int wake[2];         /* a worker writes a byte after each finished job; the loop reads them */
  struct event *wake_ev;
  GPtrArray *buffers;  /* GString* page buffers not in use, under lock: refill the workers' spares */
  GPtrArray *returned; /* GString* page buffers given back (loop thread only): to buffers at the next
                        * hand-over, under the lock it takes anyway */
  GQueue free_jobs;    /* ApiJob* answered, for the next api_defer (loop thread only) */
  ApiWorkersStats stats; /* loop thread only */
  gint refs;           /* api_workers_new's, plus one per buffer lent to a reply (atomic) */
};

/* Page buffers kept per worker (in the pool, and as many again given back and not yet handed
 * over); one larger than API_BUFFER_MAX_KEPT goes back to malloc. Enough for the pages in flight at
 * once: with 4 per worker, 16 connections asking for computed pages freed and allocated a buffer
 * every few pages (0.3 page faults per page on the workers writing into fresh memory, and a heap
 * trim, madvise, by the loop's free: perf on serve under uncached.lua); with 16, none. A 200-item
 * timeline page is about 90 KiB: at most 2 x 16 x 256 KiB kept per worker. */
#define API_BUFFERS_PER_WORKER 16
#define API_BUFFER_MAX_KEPT (256 * 1024)
#define API_BUFFER_FIRST (32 * 1024)

/* Appends every job of src to dst (both under the same owner), leaving src empty: no allocation. */
static void queue_move_all(GQueue *dst, GQueue *src)
{
  if (!src->head)
    return;
  if (!dst->head) {
    *dst = *src;
  } else {
    dst->tail->next = src->head;
    src->head->prev = dst->tail;
    dst->tail = src->tail;
    dst->length += src->length;
  }
  g_queue_init(src);
}

/* The next job, waiting for one while there is none (lock held); NULL once stopping and none is
 * left. A worker without a spare page buffer takes one kept by the pool, under this same lock. */
static ApiJob *next_job(ApiWorker *w)
{
  ApiWorkers *pool = w->pool;
  GList *link;

  pool->awake_free++;
  while (!(link = g_queue_pop_head_link(&pool->todo)) && !pool->stopping) {
    pool->awake_free--;
    pool->idle++;
    g_cond_wait(&pool->more, &pool->lock);
    pool->idle--;
    pool->awake_free++;
  }
  pool->awake_free--;
  if (link && !w->spare && pool->buffers->len > 0) /* the last given back: still in a cache */
    w->spare = g_ptr_array_steal_index_fast(pool->buffers, pool->buffers->len - 1);
  return link ? link->data : NULL;
}

static gpointer worker_main(gpointer arg)
{
  ApiWorker *w = arg;
  ApiWorkers *pool = w->pool;
  ApiJob *job;

  this_worker = w;
  g_mutex_lock(&pool->lock);
  while ((job = next_job(w)) != NULL) {
    g_mutex_unlock(&pool->lock);
    job->run(w->st, job->data);
    g_mutex_lock(&pool->lock);
    gboolean first = g_queue_is_empty(&pool->done);
    g_queue_push_tail_link(&pool->done, &job->link);
    if (first) {
      /* One wake-up per batch: a job queued behind others is answered with them, since on_wake
       * drains the pipe before it takes the queue. A full pipe already holds a wake-up: nothing
       * is lost by a failed write. Written without the lock, which the loop may want meanwhile. */
      g_mutex_unlock(&pool->lock);
      while (write(pool->wake[1], "", 1) < 0 && errno == EINTR)
        ;
      g_mutex_lock(&pool->lock);
    }
  }
  /* a spare not taken goes back to the pool, which frees it with the others (pool_unref) */
  if (w->spare)
    g_ptr_array_add(pool->buffers, g_steal_pointer(&w->spare));
  g_mutex_unlock(&pool->lock);
  this_worker = NULL;
  return NULL;
}

/* The buffers given back since the last hand-over, to the pool (lock held); past the pool's bound
 * they are freed. */
static void move_buffers(ApiWorkers *pool)
{
  guint keep = (guint)(API_BUFFERS_PER_WORKER * pool->n);

  for (guint i = 0; i < pool->returned->len; i++) {
    GString *buf = g_ptr_array_index(pool->returned, i);
    if (pool->buffers->len < keep)
      g_ptr_array_add(pool->buffers, buf);
    else
      g_string_free(buf, TRUE);
  }
  g_ptr_array_set_size(pool->returned, 0);
}

/* Hands the jobs parked during this pass to the workers (loop thread): one lock for all, and a
 * sleeping worker woken for each job no awake worker will take (an awake worker takes the next
 * job as soon as it is free). The signals go after the unlock, so a woken worker does not wait
 * for the lock at once; none is lost, since a worker counts itself idle and waits under the lock,
 * and g_cond_wait sleeps only if no signal came after its count. The page buffers given back
 * since the last hand-over go to the pool under the same lock. */
static void hand_over(ApiWorkers *pool)
{
  guint jobs = pool->parked.length, wake = 0;

  if (jobs == 0)
    return;
  g_mutex_lock(&pool->lock);
  queue_move_all(&pool->todo, &pool->parked);
  move_buffers(pool);
  guint queued = pool->todo.length;
  if (queued > pool->awake_free)
    wake = MIN(queued - pool->awake_free, pool->idle);
  g_mutex_unlock(&pool->lock);
  for (guint i = 0; i < wake; i++)
    g_cond_signal(&pool->more);
  pool->stats.handovers++;
  pool->stats.jobs += jobs;
  pool->stats.signals += wake;
}

static void on_hand(evutil_socket_t fd, short what, void *arg)
{
  hand_over(arg);
}

/* Answers every finished job (loop thread). */
static void finish_done(ApiWorkers *pool)
{
  GQueue ready = G_QUEUE_INIT;

  g_mutex_lock(&pool->lock);
  ready = pool->done;
  g_queue_init(&pool->done);
  g_mutex_unlock(&pool->lock);
  for (GList *link; (link = g_queue_pop_head_link(&ready)) != NULL;) {
    ApiJob *job = link->data;
    job->done(job->ctx, job->data);
    api_request_finish(job->ctx);
    g_queue_push_head_link(&pool->free_jobs, link); /* the most recently used first: still in a cache */
  }
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
  char drain[256];
  ssize_t got;

  /* a short read emptied the pipe: no second read only to meet EAGAIN */
  while ((got = read(fd, drain, sizeof drain)) == (ssize_t)sizeof drain || (got < 0 && errno == EINTR))
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
  g_cond_init(&pool->more);
  g_queue_init(&pool->parked);
  g_queue_init(&pool->todo);
  g_queue_init(&pool->done);
  pool->buffers = g_ptr_array_new();
  pool->returned = g_ptr_array_new();
  g_queue_init(&pool->free_jobs);
  if (!g_unix_open_pipe(pool->wake, FD_CLOEXEC, error) || !g_unix_set_fd_nonblocking(pool->wake[0], TRUE, error) ||
      !g_unix_set_fd_nonblocking(pool->wake[1], TRUE, error)) {
    api_workers_free(pool);
    return NULL;
  }
  pool->wake_ev = event_new(base, pool->wake[0], EV_READ | EV_PERSIST, on_wake, pool);
  pool->hand_ev = event_new(base, -1, 0, on_hand, pool);
  if (!pool->wake_ev || !pool->hand_ev || event_add(pool->wake_ev, NULL) < 0) {
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
  for (guint i = 0; i < pool->returned->len; i++)
    g_string_free(g_ptr_array_index(pool->returned, i), TRUE);
  for (guint i = 0; i < pool->buffers->len; i++)
    g_string_free(g_ptr_array_index(pool->buffers, i), TRUE);
  g_ptr_array_unref(pool->returned);
  g_ptr_array_unref(pool->buffers);
  g_mutex_clear(&pool->lock);
  g_cond_clear(&pool->more);
  g_free(pool);
}

void api_workers_free(ApiWorkers *pool)
{
  if (!pool)
    return;
  /* Workers finish the jobs parked before their stop; those are then answered while evhttp and
   * its connections still exist (api_server_free frees the workers first). */
  hand_over(pool);
  g_mutex_lock(&pool->lock);
  pool->stopping = TRUE;
  g_mutex_unlock(&pool->lock);
  g_cond_broadcast(&pool->more);
  for (int i = 0; i < pool->n; i++) {
    g_thread_join(pool->workers[i].thread);
    storage_close(&pool->workers[i].st);
  }
  finish_done(pool);
  for (GList *link; (link = g_queue_pop_head_link(&pool->free_jobs)) != NULL;)
    g_free(link->data);
  if (pool->wake_ev)
    event_free(pool->wake_ev);
  if (pool->hand_ev)
    event_free(pool->hand_ev);
  if (pool->wake[0] >= 0)
    close(pool->wake[0]);
  if (pool->wake[1] >= 0)
    close(pool->wake[1]);
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
  GList *link = g_queue_pop_head_link(&pool->free_jobs);
  if (!link)
    pool->stats.allocated++;
  job = link ? link->data : g_new0(ApiJob, 1);
  job->link.data = job;
  job->ctx = ctx;
  job->run = run;
  job->done = done;
  job->data = data;
  ctx->parked = TRUE;
  if (g_queue_is_empty(&pool->parked))
    event_active(pool->hand_ev, 0, 0); /* runs after the callbacks already due in this pass */
  g_queue_push_tail_link(&pool->parked, &job->link);
}

void api_workers_stats(const ApiWorkers *pool, ApiWorkersStats *out)
{
  *out = pool->stats;
}

GString *api_workers_buffer_take(ApiWorkers *pool)
{
  GString *buf = NULL;

  if (pool && this_worker && this_worker->pool == pool) {
    buf = g_steal_pointer(&this_worker->spare); /* refilled by next_job under the job's lock */
  } else if (pool) {
    /* the loop thread: the buffers given back since the last hand-over are its own */
    if (pool->returned->len > 0) {
      buf = g_ptr_array_steal_index_fast(pool->returned, pool->returned->len - 1);
    } else {
      g_mutex_lock(&pool->lock);
      if (pool->buffers->len > 0)
        buf = g_ptr_array_steal_index_fast(pool->buffers, pool->buffers->len - 1);
      g_mutex_unlock(&pool->lock);
    }
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
  /* Kept without a lock until the next hand-over moves it to the pool: the loop's own queue, bounded
   * like the pool's (a burst of answers without a hand-over frees the excess). */
  if (pool && buf->allocated_len <= API_BUFFER_MAX_KEPT &&
      pool->returned->len < (guint)(API_BUFFERS_PER_WORKER * pool->n)) {
    g_ptr_array_add(pool->returned, buf); /* taken last-in first-out: the most recent is still in a cache */
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
