/* smtp_spool_writer.c - group commit of accepted SMTP messages (see smtp_spool_writer.h).
 *
 * Two queues under one mutex: `todo` (loop thread -> writer) and `done` (writer -> loop). The
 * writer takes everything in `todo` (up to the batch caps), calls spool_put once, marks each
 * ticket ok or failed, moves them to `done` and writes one octet to a pipe; the loop's read event
 * on that pipe runs the callbacks. Tickets are freed on the loop thread only, so a cancelled
 * ticket is never touched by a callback that no longer has a session.
 *
 * A message within 64 KiB has no body file (spool_body_new_buffered): its octets go into its
 * spool row, and the batch's one commit makes it durable. A larger message's body file starts its
 * fdatasync the moment it is submitted, on a small pool of
 * syncer threads, so the files of the next batch sync while the current batch commits; the writer
 * waits for those syncs before it hands the batch to spool_put (whose own sync of a synced body
 * only reads its status). The spool directory is synced once per batch by the writer itself, at
 * the same time as the batch's files (their names were all made when their DATA/BDAT began), so
 * spool_put only commits.
 * Concurrent syncs also share the file system's journal commits.
 */
#include "smtp_spool_writer.h"

#include "agent/lib/diskspace.h"
#include "agent/lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

struct SmtpSpoolTicket {
  MaSpoolEntry *entry;      /* owned until written */
  char *id;
  SmtpSpoolDoneFn done;
  void *arg;
  gboolean cancelled;       /* loop thread only */
  gboolean ok;              /* set by the writer */
  gboolean no_space;        /* set by the writer when !ok: the disk could not hold the batch */
  gboolean synced;          /* its body's early sync ended (under the writer's lock) */
  gboolean awaited;         /* in the batch the writer waits for (under the writer's lock) */
};

struct SmtpSpoolWriter {
  char *data_dir;
  MaSpool *spool;
  GThread *thread;
  GMutex lock;
  GCond wake;
  GCond synced;             /* the last awaited early sync ended */
  guint awaited;            /* tickets of the current batch whose early sync has not ended */
  GThreadPool *syncers;
  GQueue todo, done;
  guint in_flight;          /* taken by the writer, not yet in done */
  gboolean idle;            /* the writer waits for work on `wake` (under lock) */
  gboolean stop;
  int inject_failures;
  int pipe_fd[2];
  struct event *pipe_ev;
  SmtpSpoolCommittedFn committed;
  void *committed_arg;
  guint committed_pending;  /* messages committed since the last callback (under lock) */
};

static gpointer writer_main(gpointer data)
{
  SmtpSpoolWriter *w = data;
  GPtrArray *batch = g_ptr_array_new();
  GPtrArray *entries = g_ptr_array_new();

  for (;;) {
    gsize bytes = 0;
    gint64 put_us = 0;
    int inject;
    g_autoptr(GError) error = NULL;
    int rc;

    g_mutex_lock(&w->lock);
    while (g_queue_is_empty(&w->todo) && !w->stop) {
      w->idle = TRUE;
      g_cond_wait(&w->wake, &w->lock);
    }
    w->idle = FALSE;
    if (g_queue_is_empty(&w->todo) && w->stop) {
      g_mutex_unlock(&w->lock);
      break;
    }
    while (!g_queue_is_empty(&w->todo) && batch->len < SMTP_SPOOL_BATCH_MAX &&
           (batch->len == 0 || bytes < SMTP_SPOOL_BATCH_BYTES)) {
      SmtpSpoolTicket *t = g_queue_pop_head(&w->todo);
      if (t->entry->body) bytes += (gsize) spool_body_size(t->entry->body);
      else if (t->entry->data) bytes += g_bytes_get_size(t->entry->data);
      g_ptr_array_add(batch, t);
    }
    w->in_flight = batch->len;
    inject = w->inject_failures > 0 ? w->inject_failures-- : 0;
    g_mutex_unlock(&w->lock);
    /* every file of the batch was named before its message was submitted: one directory sync
     * now, while the files' own syncs run on the syncer threads, makes all the names durable (a
     * batch of messages kept in memory has no file and needs none) */
    gboolean any_file = FALSE;
    for (guint i = 0; i < batch->len; i++) {
      MaSpoolEntry *e = ((SmtpSpoolTicket *) batch->pdata[i])->entry;
      any_file |= e->body && !spool_body_in_memory(e->body);
    }
    if (any_file && spool_body_sync_dir(w->data_dir, NULL) == 0)
      for (guint i = 0; i < batch->len; i++) {
        MaSpoolEntry *e = ((SmtpSpoolTicket *) batch->pdata[i])->entry;
        if (e->body && !spool_body_in_memory(e->body)) spool_body_name_synced(e->body);
      }
    g_mutex_lock(&w->lock);
    /* wait for the batch's early syncs: woken once, by the last of them, not once per message */
    for (guint i = 0; i < batch->len; i++) {
      SmtpSpoolTicket *t = batch->pdata[i];
      if (!t->synced) {
        t->awaited = TRUE;
        w->awaited++;
      }
    }
    while (w->awaited > 0) g_cond_wait(&w->synced, &w->lock);
    g_mutex_unlock(&w->lock);

    g_ptr_array_set_size(entries, 0);
    for (guint i = 0; i < batch->len; i++) g_ptr_array_add(entries, ((SmtpSpoolTicket *) batch->pdata[i])->entry);
    if (inject) {
      rc = -1;
      g_set_error(&error, g_quark_from_static_string("smtp"), 0, "injected sync failure");
    } else {
      gint64 t0 = g_get_monotonic_time();
      rc = spool_put(w->spool, (MaSpoolEntry *const *) entries->pdata, entries->len, &error);
      put_us = g_get_monotonic_time() - t0;
    }
    if (rc < 0) ma_warn("smtp", "spool commit of %u messages failed: %s", batch->len, error->message);
    else ma_debug("smtp", "spool commit: %u messages, %zu octets, %" G_GINT64_FORMAT " us", batch->len, bytes, put_us);

    /* SQLite reports a full disk as one temporary failure among others; what is left now tells */
    gint64 free_bytes = 0;
    gboolean no_space = rc < 0 && ma_disk_free(w->data_dir, &free_bytes) == 0 && free_bytes < (gint64) bytes;
    g_mutex_lock(&w->lock);
    for (guint i = 0; i < batch->len; i++) {
      SmtpSpoolTicket *t = batch->pdata[i];
      g_clear_pointer(&t->entry, ma_spool_entry_free);
      t->ok = rc == 0;
      t->no_space = no_space;
      g_queue_push_tail(&w->done, t);
    }
    if (rc == 0) w->committed_pending += batch->len;
    w->in_flight = 0;
    g_mutex_unlock(&w->lock);
    g_ptr_array_set_size(batch, 0);
    {
      char one = 1;
      while (write(w->pipe_fd[1], &one, 1) < 0 && errno == EINTR)
        ;
    }
  }
  g_ptr_array_unref(batch);
  g_ptr_array_unref(entries);
  return NULL;
}

/* A syncer thread: the early fdatasync of one submitted message's body (its error stays in the
 * body; spool_put reads it). */
static void sync_early(gpointer ticket, gpointer writer)
{
  SmtpSpoolTicket *t = ticket;
  SmtpSpoolWriter *w = writer;
  if (t->entry->body) spool_body_sync(t->entry->body, NULL);
  g_mutex_lock(&w->lock);
  t->synced = TRUE;
  if (t->awaited && --w->awaited == 0) g_cond_signal(&w->synced);
  g_mutex_unlock(&w->lock);
}

/* Loop thread: runs the callbacks of finished tickets. */
static void deliver_done(SmtpSpoolWriter *w)
{
  GQueue done = G_QUEUE_INIT;
  guint committed;

  g_mutex_lock(&w->lock);
  done = w->done;
  g_queue_init(&w->done);
  committed = w->committed_pending;
  w->committed_pending = 0;
  g_mutex_unlock(&w->lock);

  for (GList *l = done.head; l; l = l->next) {
    SmtpSpoolTicket *t = l->data;
    if (!t->cancelled && t->done) t->done(t->arg, t->ok, t->no_space, t->id);
    g_free(t->id);
    g_free(t);
  }
  g_list_free(done.head);
  /* replies first (they are what clients wait for), then wake the pipeline */
  if (committed && w->committed) w->committed(w->committed_arg, committed);
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
  char buf[256];
  while (read(fd, buf, sizeof buf) > 0)
    ;
  deliver_done(arg);
}

SmtpSpoolWriter *smtp_spool_writer_new(struct event_base *base, const char *data_dir, GError **error)
{
  SmtpSpoolWriter *w = g_new0(SmtpSpoolWriter, 1);
  w->data_dir = g_strdup(data_dir);
  g_mutex_init(&w->lock);
  g_cond_init(&w->wake);
  g_cond_init(&w->synced);
  g_queue_init(&w->todo);
  g_queue_init(&w->done);
  if (spool_open(data_dir, &w->spool, error) < 0) {
    g_free(w->data_dir);
    g_free(w);
    return NULL;
  }
  {
    /* Before any session exists: the files of messages a crash caught between DATA and commit */
    guint removed = 0;
    g_autoptr(GError) sweep_error = NULL;
    if (spool_sweep_orphans(w->spool, &removed, &sweep_error) < 0)
      ma_warn("smtp", "spool orphan sweep failed (next start retries): %s", sweep_error->message);
    else if (removed > 0)
      ma_info("smtp", "spool: removed %u orphan body files of messages never acknowledged", removed);
  }
  if (pipe2(w->pipe_fd, O_CLOEXEC | O_NONBLOCK) < 0) {
    g_set_error(error, g_quark_from_static_string("smtp"), 0, "pipe: %s", g_strerror(errno));
    spool_close(&w->spool);
    g_free(w->data_dir);
    g_free(w);
    return NULL;
  }
  w->pipe_ev = event_new(base, w->pipe_fd[0], EV_READ | EV_PERSIST, on_pipe, w);
  event_add(w->pipe_ev, NULL);
  w->syncers = g_thread_pool_new(sync_early, w, SMTP_SPOOL_SYNC_THREADS, FALSE, NULL);
  w->thread = g_thread_new("smtp-spool", writer_main, w);
  return w;
}

void smtp_spool_writer_set_committed(SmtpSpoolWriter *w, SmtpSpoolCommittedFn fn, void *arg)
{
  w->committed = fn;
  w->committed_arg = arg;
}

SmtpSpoolTicket *smtp_spool_writer_submit(SmtpSpoolWriter *w, MaSpoolEntry *e, SmtpSpoolDoneFn done, void *arg)
{
  SmtpSpoolTicket *t = g_new0(SmtpSpoolTicket, 1);
  t->entry = e;
  t->id = g_strdup(e->id);
  t->done = done;
  t->arg = arg;
  /* a body in memory has no file to sync: its octets go into the spool row */
  gboolean has_file = e->body && !spool_body_in_memory(e->body);
  t->synced = !has_file;
  g_mutex_lock(&w->lock);
  g_queue_push_tail(&w->todo, t);
  if (w->idle) g_cond_signal(&w->wake); /* (a busy writer takes it with its next batch: no wake-up call) */
  g_mutex_unlock(&w->lock);
  if (has_file) g_thread_pool_push(w->syncers, t, NULL); /* the ticket lives until its batch is done */
  return t;
}

void smtp_spool_writer_cancel(SmtpSpoolTicket *t)
{
  if (t) t->cancelled = TRUE;
}

guint smtp_spool_writer_pending(SmtpSpoolWriter *w)
{
  guint n;
  g_mutex_lock(&w->lock);
  n = g_queue_get_length(&w->todo) + w->in_flight + g_queue_get_length(&w->done);
  g_mutex_unlock(&w->lock);
  return n;
}

void smtp_spool_writer_inject_failures(SmtpSpoolWriter *w, int n)
{
  g_mutex_lock(&w->lock);
  w->inject_failures = n;
  g_mutex_unlock(&w->lock);
}

void smtp_spool_writer_free(SmtpSpoolWriter *w)
{
  if (!w) return;
  g_mutex_lock(&w->lock);
  w->stop = TRUE;
  g_cond_signal(&w->wake);
  g_mutex_unlock(&w->lock);
  g_thread_join(w->thread);
  g_thread_pool_free(w->syncers, FALSE, TRUE);
  deliver_done(w);
  event_free(w->pipe_ev);
  close(w->pipe_fd[0]);
  close(w->pipe_fd[1]);
  spool_close(&w->spool);
  g_mutex_clear(&w->lock);
  g_cond_clear(&w->wake);
  g_cond_clear(&w->synced);
  g_free(w->data_dir);
  g_free(w);
}
