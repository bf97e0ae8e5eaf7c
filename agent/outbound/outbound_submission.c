/* outbound_submission.c - the sink of the SMTP submission listener (smtp_server_new_submission):
 * every message an authenticated client finished goes through outbound_submit, on a thread of its
 * own with its own storage handle (the event loop never waits for the database), and the verdict
 * comes back to the loop as the SMTP reply: "250 2.0.0 Ok: queued as <outbound id>" only once the
 * message is durably queued, 550 5.7.1 with the reason for a message the engine refuses (a From
 * outside the enterprise's domains, no recipient...), 451 4.3.0 for a temporary failure. Messages
 * that arrive while a batch is being written are queued together with one commit (group commit,
 * as the inbound spool writer does), so many clients cost one fsync, not one each.
 *
 * The envelope is the session's: MAIL FROM is the return path, the RCPT addresses are the
 * recipients (Bcc included), the enterprise is the one the credentials belong to.
 */
#include "outbound_submission.h"

#include "storage/spool_body.h"

#include "agent/lib/log.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  MaSpoolEntry *e;
  SmtpSinkDoneFn done;
  void *arg;
  gboolean cancelled;        /* loop thread only */
  char reply[512];
} Ticket;

struct OutboundSubmission {
  MaConfig *cfg;             /* borrowed from serve (lives until exit) */
  GThread *thread;
  GAsyncQueue *in;           /* Ticket* to process (NULL: stop) */
  GAsyncQueue *out;          /* Ticket* answered */
  int wake[2];
  struct event *wake_ev;
  guint pending;             /* loop thread */
};

static void ticket_free(Ticket *t)
{
  ma_spool_entry_free(t->e);
  g_free(t);
}

/* The 250 names the recipients that will not be attempted because they are suppressed. */
static void answer(Ticket *t, int rc, const char *id, const char *response, const GError *error)
{
  if (rc >= 0) {
    g_autoptr(GString) g = g_string_new(NULL);
    g_string_printf(g, "250 2.0.0 Ok: queued as %s", id ? id : "?");
    json_t *doc = response ? json_loads(response, 0, NULL) : NULL;
    json_t *rcpts = json_object_get(doc, "recipients");
    const char *sep = "; suppressed, not sent: ";
    for (size_t i = 0; i < json_array_size(rcpts); i++) {
      json_t *r = json_array_get(rcpts, i);
      if (g_strcmp0(json_string_value(json_object_get(r, "state")), "suppressed") != 0) continue;
      g_string_append_printf(g, "%s%s", sep, json_string_value(json_object_get(r, "address")));
      sep = ", ";
    }
    json_decref(doc);
    g_strlcpy(t->reply, g->str, sizeof t->reply);
    for (char *p = t->reply; *p; p++)
      if ((unsigned char) *p < 0x20) *p = ' ';
    return;
  }
  gboolean perm = error->domain == MA_ERROR && (error->code == MA_ERROR_INVALID || error->code == MA_ERROR_NOT_FOUND ||
                                                error->code == MA_ERROR_CONFLICT);
  g_snprintf(t->reply, sizeof t->reply, perm ? "550 5.7.1 %s" : "451 4.3.0 Temporary failure queueing the message: %s",
             error->message);
  for (char *p = t->reply; *p; p++)
    if ((unsigned char) *p < 0x20) *p = ' ';
}

#define BATCH_MAX 256

/* Queues a batch with one commit (one fsync): each message is checked and written inside the
 * transaction; only after the commit are the accepted ones answered 250. */
static void run_batch(OutboundSubmission *sub, MaStorage *st, GPtrArray *batch)
{
  g_autoptr(GError) txn_error = NULL;
  gboolean txn = storage_begin(st, &txn_error) == 0;
  int *rcs = g_new0(int, batch->len);
  char **ids = g_new0(char *, batch->len);
  g_autoptr(GPtrArray) archive = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  for (guint i = 0; i < batch->len; i++) {
    Ticket *t = g_ptr_array_index(batch, i);
    g_autoptr(GError) error = NULL;
    g_autofree char *response = NULL;
    rcs[i] = -1;
    /* the session streamed the message into a spool body file (as inbound mail); the queue
     * stores the octets itself, and the file goes when the entry is freed */
    if (txn && !t->e->data && t->e->body &&
        spool_body_read_head(t->e->body, (gsize) spool_body_size(t->e->body), &t->e->data, &error) < 0) {
      answer(t, -1, NULL, NULL, error);
      continue;
    }
    if (txn) {
      gsize len = 0;
      const char *data = t->e->data ? g_bytes_get_data(t->e->data, &len) : NULL;
      OutboundRequest req = {.mime = data ? data : "", .mime_len = len, .envelope_to = t->e->rcpts,
                             .envelope_from = t->e->mail_from};
      MaSpoolEntry *entry = NULL;
      rcs[i] = outbound_submit_in_transaction(st, sub->cfg, t->e->enterprise_id, &req, &response, &ids[i], &entry,
                                              &error);
      if (entry) g_ptr_array_add(archive, entry);
    }
    answer(t, rcs[i], ids[i], response, txn ? error : txn_error);
  }
  if (txn && storage_commit(st, &txn_error) < 0) {
    storage_rollback(st);
    for (guint i = 0; i < batch->len; i++)
      if (rcs[i] >= 0) answer(g_ptr_array_index(batch, i), -1, NULL, NULL, txn_error);
  } else if (txn) {
    outbound_archive_entries(sub->cfg, archive);
  }
  for (guint i = 0; i < batch->len; i++) {
    Ticket *t = g_ptr_array_index(batch, i);
    if (t->reply[0] != '2') ma_info("outbound", "submission refused client=%s: %s", t->e->client ? t->e->client : "-", t->reply);
    g_async_queue_push(sub->out, t);
    g_free(ids[i]);
  }
  g_free(rcs);
  g_free(ids);
  outbound_delivery_notify();
  if (write(sub->wake[1], "w", 1) < 0 && errno != EAGAIN) {
    /* the pipe is full: the loop is being woken already */
  }
}

static gpointer worker(gpointer arg)
{
  OutboundSubmission *sub = arg;
  MaStorage *st = NULL;
  gboolean stop = FALSE;
  while (!stop) {
    g_autoptr(GPtrArray) batch = g_ptr_array_new();
    Ticket *t = g_async_queue_pop(sub->in);
    do {
      if (t->e == NULL) {
        g_free(t);
        stop = TRUE;
        break;
      }
      g_ptr_array_add(batch, t);
    } while (batch->len < BATCH_MAX && (t = g_async_queue_try_pop(sub->in)));
    if (batch->len == 0) continue;
    g_autoptr(GError) error = NULL;
    if (!st && storage_open(sub->cfg->data_dir, FALSE, &st, &error) < 0) {
      for (guint i = 0; i < batch->len; i++) {
        answer(g_ptr_array_index(batch, i), -1, NULL, NULL, error);
        g_async_queue_push(sub->out, g_ptr_array_index(batch, i));
      }
      if (write(sub->wake[1], "w", 1) < 0 && errno != EAGAIN) {
      }
      continue;
    }
    run_batch(sub, st, batch);
  }
  storage_close(&st);
  return NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
  OutboundSubmission *sub = arg;
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  Ticket *t;
  while ((t = g_async_queue_try_pop(sub->out))) {
    sub->pending--;
    if (!t->cancelled) t->done(t->arg, t->reply);
    ticket_free(t);
  }
}

static void *sink_submit(void *sink, MaSpoolEntry *e, SmtpSinkDoneFn done, void *arg)
{
  OutboundSubmission *sub = sink;
  Ticket *t = g_new0(Ticket, 1);
  t->e = e;
  t->done = done;
  t->arg = arg;
  sub->pending++;
  g_async_queue_push(sub->in, t);
  return t;
}

static void sink_cancel(void *sink, void *ticket)
{
  ((Ticket *) ticket)->cancelled = TRUE; /* freed when its answer comes back */
}

static guint sink_pending(void *sink)
{
  return ((OutboundSubmission *) sink)->pending;
}

static const SmtpSinkOps ops = {.submit = sink_submit, .cancel = sink_cancel, .pending = sink_pending};

const SmtpSinkOps *outbound_submission_ops(void)
{
  return &ops;
}

OutboundSubmission *outbound_submission_new(struct event_base *base, MaConfig *cfg, GError **error)
{
  OutboundSubmission *sub = g_new0(OutboundSubmission, 1);
  sub->cfg = cfg;
  if (pipe(sub->wake) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "submission: pipe: %s", g_strerror(errno));
    g_free(sub);
    return NULL;
  }
  evutil_make_socket_nonblocking(sub->wake[0]);
  evutil_make_socket_nonblocking(sub->wake[1]);
  sub->in = g_async_queue_new();
  sub->out = g_async_queue_new();
  sub->wake_ev = event_new(base, sub->wake[0], EV_READ | EV_PERSIST, on_wake, sub);
  event_add(sub->wake_ev, NULL);
  sub->thread = g_thread_new("submission", worker, sub);
  return sub;
}

void outbound_submission_free(OutboundSubmission *sub)
{
  if (!sub) return;
  g_async_queue_push(sub->in, g_new0(Ticket, 1)); /* e NULL: stop after what is queued */
  g_thread_join(sub->thread);
  on_wake(sub->wake[0], EV_READ, sub); /* answers that came back meanwhile */
  event_free(sub->wake_ev);
  close(sub->wake[0]);
  close(sub->wake[1]);
  g_async_queue_unref(sub->in);
  g_async_queue_unref(sub->out);
  g_free(sub);
}
