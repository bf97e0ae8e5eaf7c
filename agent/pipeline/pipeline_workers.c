/* pipeline_workers.c - the worker pool that takes spooled mail through the pipeline.
 *
 * Each worker owns a MaStorage, a MaSpool and a MaPipeline. It claims up to BATCH entries that no
 * other worker holds (an in-memory claim set), parses them and evaluates their rules with no
 * transaction open (pipeline_prepare: hostile rules cost their budget, never everyone's write
 * lock), then writes them in ONE storage transaction (group commit: one fsync for the batch), and
 * only after the commit removes them from the spool (one spool_done_many for the batch).
 *
 * Failures. A temporary failure (MA_ERROR_TEMPFAIL: database busy or locked, disk full, I/O) is
 * the environment's, not the message's: the whole batch is deferred in the spool (attempt counted,
 * next_attempt_at stored) and the pool stops claiming until the same deadline, which doubles with
 * each failure in a row from 1 s up to [pipeline] retry_max_backoff. That is one attempt and one
 * log line per backoff step however many entries wait, never a hot loop, and no attempt cap: the
 * entries are retried for as long as the failure lasts. Any other failure may be one message's
 * fault, so the batch is retried one entry at a time (a message another node archived first, a
 * conflict, then succeeds as a duplicate; an entry alone that conflicts is tried once more at once);
 * an entry that still fails alone for a reason
 * that can never pass (unknown enterprise, invalid input, a limit, our own bug) is parked in the
 * spool as dead with an ERROR line, kept for `mailagent spool` to show, requeue or purge. Nothing
 * that was acknowledged is ever removed without being archived or deliberately skipped.
 * Free disk space under [storage] archive_reserve counts as such a failure before anything is
 * tried. Deadlines are on ma_now_ms()'s clock (tests move it), compared at each poll.
 * Parsing and the rules' evaluation happen before the write transaction opens (pipeline_prepare):
 * hostile rules cost their own budget, never everyone's write lock.
 * A message's octets are opened from its spool file (spool_entry_open: a large body is mapped and
 * parsed through its file, never read whole) only once the worker holds the entry, and closed
 * before its spool_done; a file that is gone (or over any size we could have accepted) is a
 * permanent failure of that entry. A batch takes at most BATCH_BYTES of messages (plus one
 * message): the entries behind go back to the spool for the next round.
 *
 * Returned mail goes first: the bounce hook (pipeline_workers_set_bounce_hook; agent/outbound
 * applies DSNs and complaints about the enterprise's own outbound mail) sees each claimed entry
 * before the archive and takes those it applied out of the batch; mail to bounce addresses (route
 * "bounce", no enterprise) never reaches the archive.
 *
 * Priority: each worker thread lowers its own scheduling priority to [pipeline] nice (10 by
 * default) when it starts. That alone does not make the pipeline trail a burst (measured on 2
 * cores: the two niced workers still took ~200 us a message during it, as much CPU as acceptance,
 * and the listener waited on the run queue as long as it ran): nice only weighs threads queued on
 * the same core, the workers fill every moment the listener waits for its client or its fsync,
 * and their spool_done_many made the spool writer's commits wait in the busy handler.
 * So the workers also defer cooperatively. The SMTP listener reports each commit
 * (pipeline_workers_spooled); the first one after the spool was found drained opens a burst
 * window. While a window is open and the listener committed within the last DEFER_QUIET_MS (the
 * burst goes on), the workers claim nothing: they wait between batches, holding no lock (no
 * priority inversion on the spool or the archive, whatever the scheduler does), and need no
 * privilege (an unprivileged thread could enter SCHED_IDLE but never leave it). Bounds: once the
 * window is [pipeline] defer_max seconds old (on ma_now_ms()'s clock) or defer_backlog messages
 * were spooled in it, the workers run at their normal (niced) share until they find the spool
 * drained, which closes the window; so the oldest message of a burst waits about defer_max at
 * most, and sustained load is archived as before. defer_max = 0 turns deferral off. The quiet
 * interval is a short timer on the monotonic clock (clock.h: a peer's pace, not the calendar).
 *
 * Workers sleep on a condition variable, woken by pipeline_workers_notify() (the SMTP server's
 * spool hook) and at least every second (entries from another process, backoffs ending).
 * pipeline_workers_stop() lets them finish what the spool holds, then joins them.
 * A crash at any point is harmless: entries stay in the spool until their batch committed, and
 * the pipeline's idempotence makes the replay add nothing.
 */
#include "pipeline.h"

#include "agent/lib/clock.h"
#include "agent/lib/diskspace.h"
#include "agent/lib/log.h"
#include "agent/lib/metrics.h"
#include "storage/spool.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define BATCH 32
#define BATCH_BYTES (16 * 1024 * 1024) /* message octets a batch reads in (plus at most one more message) */
#define POLL_US (G_USEC_PER_SEC)
#define DEFER_QUIET_MS 100 /* the listener is busy while it committed within this (monotonic) */

typedef struct {
  int index;
  GThread *thread;
  MaStorage *st;
  MaSpool *sp;
  MaPipeline *pipeline;
} Worker;

static struct {
  GMutex lock;
  /* Held by claim from its spool read to the end of its claiming, and by release: an entry another
   * worker finishes meanwhile (spool row gone, then released) stays in claimed until the stale
   * read has been claimed from, so it is never taken (and processed) a second time. */
  GMutex read_lock;
  GCond wake;
  gboolean running;
  gboolean stopping;
  guint64 generation;     /* bumped by notify */
  GHashTable *claimed;    /* spool ids being processed */
  gint64 resume_at;       /* unix ms (ma_now_ms): no claims before it, after a temporary failure */
  int failures_in_row;    /* temporary failures since the last success: the backoff step */
  gboolean disk_paused;   /* the last step was for free space below [storage] archive_reserve */
  Worker *workers;
  int n;
  const MaConfig *cfg;
  /* the burst window (see the top), all under lock */
  gint64 burst_since;     /* ma_now_ms of the first commit since the spool was found drained; 0: none */
  gint64 last_spooled_us; /* g_get_monotonic_time of the listener's last commit */
  guint64 burst_msgs;     /* messages spooled in the window */
  gboolean burst_released; /* a bound was reached: no deferral until the window closes */
  guint64 spooled_gen;    /* bumped by each commit: a drained read older than one closes nothing */
  guint64 deferrals;      /* times a worker waited for the listener (tests) */
  gint64 quiet_ms;        /* DEFER_QUIET_MS, or a test's */
  gboolean held;          /* pipeline_workers_hold_for_test: workers park at the top of their loop */
  int parked;             /* workers parked there now */
  GCond parked_changed;   /* signalled when parked changes (the test waits on it) */
} pool = {.quiet_ms = DEFER_QUIET_MS};

static guint64 processed_total; /* under pool.lock */
static void (*committed_hook)(void);
static void (*read_hook)(int worker, guint entries);
static PipelineBounceHook bounce_hook;
static void *bounce_hook_ctx;

void pipeline_workers_set_bounce_hook(PipelineBounceHook fn, void *ctx)
{
  bounce_hook = fn;
  bounce_hook_ctx = ctx;
}

void pipeline_workers_set_committed_hook(void (*fn)(void)) { committed_hook = fn; }

void pipeline_workers_set_read_hook(void (*fn)(int worker, guint entries)) { read_hook = fn; }

static void committed(GPtrArray *results)
{
  if (!committed_hook) return;
  for (guint i = 0; i < results->len; i++) {
    const MaIngestResult *r = results->pdata[i];
    if (r->outcome != MA_INGEST_SKIPPED) {
      committed_hook();
      return;
    }
  }
}

guint64 pipeline_workers_processed(void)
{
  g_mutex_lock(&pool.lock);
  guint64 n = processed_total;
  g_mutex_unlock(&pool.lock);
  return n;
}

void pipeline_workers_notify(void)
{
  g_mutex_lock(&pool.lock);
  pool.generation++;
  g_cond_broadcast(&pool.wake);
  g_mutex_unlock(&pool.lock);
}

void pipeline_workers_spooled(guint n)
{
  g_mutex_lock(&pool.lock);
  gboolean opened = pool.burst_since == 0;
  if (opened) {
    pool.burst_since = ma_now_ms();
    pool.burst_msgs = 0;
  }
  pool.burst_msgs += n;
  pool.last_spooled_us = g_get_monotonic_time();
  pool.spooled_gen++;
  /* a worker waiting out the burst would only wait again: wake them when there is something new
   * to decide (a window opened, a bound reached, or no deferral at all) */
  gboolean bound = pool.cfg && pool.burst_msgs >= (guint64) MAX(pool.cfg->pipeline_defer_backlog, 0);
  if (opened || pool.burst_released || bound || !pool.cfg || pool.cfg->pipeline_defer_max <= 0) {
    pool.generation++;
    g_cond_broadcast(&pool.wake);
  }
  g_mutex_unlock(&pool.lock);
}

guint64 pipeline_workers_deferrals(void)
{
  g_mutex_lock(&pool.lock);
  guint64 n = pool.deferrals;
  g_mutex_unlock(&pool.lock);
  return n;
}

gboolean pipeline_workers_burst_open(void)
{
  g_mutex_lock(&pool.lock);
  gboolean open = pool.burst_since != 0;
  g_mutex_unlock(&pool.lock);
  return open;
}

gboolean pipeline_workers_hold_for_test(gboolean hold)
{
  g_mutex_lock(&pool.lock);
  pool.held = hold;
  gboolean all = TRUE;
  if (hold) {
    g_cond_broadcast(&pool.wake); /* waiting workers come round to the hold now, not at their poll */
    gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    while (pool.parked < pool.n && g_cond_wait_until(&pool.parked_changed, &pool.lock, deadline)) {
    }
    all = pool.parked == pool.n;
  } else {
    g_cond_broadcast(&pool.wake);
  }
  g_mutex_unlock(&pool.lock);
  return all;
}

void pipeline_workers_set_quiet_for_test(gint64 ms)
{
  g_mutex_lock(&pool.lock);
  pool.quiet_ms = ms >= 0 ? ms : DEFER_QUIET_MS;
  pool.generation++;
  g_cond_broadcast(&pool.wake);
  g_mutex_unlock(&pool.lock);
}

/* Under pool.lock. How long (monotonic us) a worker should wait for the listener's burst before
 * claiming; 0: claim now. Reaching a bound releases the window (one line saying so). */
static gint64 deferral_wait_us(void)
{
  const MaConfig *cfg = pool.cfg;
  if (!cfg || cfg->pipeline_defer_max <= 0 || pool.burst_since == 0 || pool.burst_released || pool.stopping)
    return 0;
  gint64 age_ms = ma_now_ms() - pool.burst_since;
  if (age_ms >= (gint64) cfg->pipeline_defer_max * 1000 || pool.burst_msgs >= (guint64) cfg->pipeline_defer_backlog) {
    pool.burst_released = TRUE;
    ma_info("pipeline", "burst deferral bound reached (%" G_GUINT64_FORMAT " messages in %" G_GINT64_FORMAT
            " ms; [pipeline] defer_max %d s, defer_backlog %d): archiving at the workers' normal share until the "
            "spool is drained", pool.burst_msgs, age_ms, cfg->pipeline_defer_max, cfg->pipeline_defer_backlog);
    return 0;
  }
  gint64 quiet_at = pool.last_spooled_us + pool.quiet_ms * 1000, now = g_get_monotonic_time();
  if (now >= quiet_at) return 0; /* the burst is over (or paused): archive meanwhile */
  /* wake at the quiet time, and at least every POLL_US to look at the age bound again */
  return MIN(quiet_at - now, POLL_US);
}

/* Under pool.lock: the spool held nothing to claim at a read made at spooled generation gen; the
 * window closes unless the listener committed since that read. */
static void burst_drained(guint64 gen)
{
  if (pool.burst_since == 0 || pool.spooled_gen != gen) return;
  pool.burst_since = 0;
  pool.burst_msgs = 0;
  pool.burst_released = FALSE;
}

static MaProvenance *provenance_of(const MaSpoolEntry *e)
{
  MaProvenance *p = ma_provenance_new(e->route ? e->route : "smtp");
  p->employee_id = g_strdup(e->employee_id);
  p->signal = g_strdup(e->signal);
  p->mailbox = g_strdup(e->mailbox);
  p->client = g_strdup(e->client);
  p->envelope_from = g_strdup(e->mail_from);
  p->spool_id = g_strdup(e->id);
  p->received_at = e->received_at;
  return p;
}

/* The delay after the n-th failure in a row: 1 s doubling, at most [pipeline] retry_max_backoff. */
static gint64 backoff_ms(int n)
{
  gint64 cap = (gint64) pool.cfg->retry_max_backoff * 1000;
  if (n < 1) n = 1;
  if (n > 30) return cap;
  return MIN((gint64) 1000 << (n - 1), cap);
}

/* Moves the pool to its next backoff step unless a step is running; TRUE when this call started
 * one (the caller logs it). *resume_at: the end of the current step; *step: its number. */
static gboolean backoff_step(gint64 now, gint64 *resume_at, int *step)
{
  g_mutex_lock(&pool.lock);
  gboolean new_step = now >= pool.resume_at;
  if (new_step) {
    pool.failures_in_row++;
    pool.resume_at = now + backoff_ms(pool.failures_in_row);
  }
  *resume_at = pool.resume_at;
  *step = pool.failures_in_row;
  g_mutex_unlock(&pool.lock);
  return new_step;
}

/* A success after temporary failures ends the backoff, with one line saying so. */
static void recovered(Worker *w)
{
  g_mutex_lock(&pool.lock);
  int failures = pool.failures_in_row;
  pool.failures_in_row = 0;
  pool.resume_at = 0;
  g_mutex_unlock(&pool.lock);
  if (failures > 0)
    ma_info("pipeline", "worker %d: archive available again after %d failed attempt(s)", w->index, failures);
}

/* Below [storage] archive_reserve the pool writes nothing and backs off like after a temporary
 * failure (one line per step): what is left stays free for checkpoints and the next start. */
static gboolean disk_nearly_full(Worker *w, gint64 now)
{
  gint64 free_bytes = 0, reserve = pool.cfg->archive_reserve;
  if (reserve <= 0 || ma_disk_free(pool.cfg->data_dir, &free_bytes) < 0 || free_bytes >= reserve) {
    g_mutex_lock(&pool.lock);
    gboolean was_paused = pool.disk_paused;
    pool.disk_paused = FALSE;
    g_mutex_unlock(&pool.lock);
    if (was_paused) recovered(w); /* space is back, whether or not mail is waiting */
    return FALSE;
  }
  g_mutex_lock(&pool.lock);
  pool.disk_paused = TRUE;
  g_mutex_unlock(&pool.lock);
  gint64 resume_at = 0;
  int step = 0;
  if (backoff_step(now, &resume_at, &step))
    ma_warn("pipeline", "worker %d: disk nearly full (%" G_GINT64_FORMAT " bytes free under %s, [storage] "
            "archive_reserve is %" G_GINT64_FORMAT "); archiving paused, next check in %" G_GINT64_FORMAT
            " s (failure %d in a row)",
            w->index, free_bytes, pool.cfg->data_dir, reserve, (resume_at - now + 999) / 1000, step);
  return TRUE;
}

/* Claims up to BATCH pending entries for this worker. out: MaSpoolEntry*. -1 on a spool error. */
static int claim(Worker *w, GPtrArray *out)
{
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_autoptr(GError) error = NULL;
  /* read past the entries other workers hold, so they never hide newer mail (entries waiting out
   * a backoff are not due, so spool_pending leaves them out) */
  g_mutex_lock(&pool.lock);
  int limit = BATCH + (int) g_hash_table_size(pool.claimed);
  guint64 gen = pool.spooled_gen;
  gint64 now = ma_now_ms();
  gboolean paused = now < pool.resume_at;
  g_mutex_unlock(&pool.lock);
  if (paused) return 0; /* the environment failed: wait out the backoff */
  if (disk_nearly_full(w, now)) return 0;
  g_mutex_lock(&pool.read_lock);
  if (spool_pending(w->sp, limit, pending, &error) < 0) {
    g_mutex_unlock(&pool.read_lock);
    ma_warn("pipeline", "worker %d: spool read failed: %s", w->index, error->message);
    return -1;
  }
  if (read_hook) read_hook(w->index, pending->len);
  g_mutex_lock(&pool.lock);
  for (guint i = 0; i < pending->len && out->len < BATCH; i++) {
    MaSpoolEntry *e = pending->pdata[i];
    if (g_hash_table_contains(pool.claimed, e->id)) continue;
    g_hash_table_add(pool.claimed, g_strdup(e->id));
    pending->pdata[i] = NULL;
    g_ptr_array_add(out, e);
  }
  if (out->len == 0) burst_drained(gen);
  g_mutex_unlock(&pool.lock);
  g_mutex_unlock(&pool.read_lock);
  return 0;
}

static void release(const char *id)
{
  g_mutex_lock(&pool.read_lock);
  g_mutex_lock(&pool.lock);
  g_hash_table_remove(pool.claimed, id);
  g_mutex_unlock(&pool.lock);
  g_mutex_unlock(&pool.read_lock);
}

/* A temporary failure (see the top): defers the n entries to the pool's next backoff step and
 * pauses claiming until then. A failure that comes while the pool is already paused (another
 * worker's batch failing at the same time) joins the current step: no new step, no new line. */
static void defer(Worker *w, MaSpoolEntry *const *entries, guint n, const GError *error)
{
  gint64 now = ma_now_ms(), resume_at = 0;
  int step = 0;
  gboolean new_step = backoff_step(now, &resume_at, &step);
  const char *why = error ? error->message : "temporary failure";
  if (new_step)
    ma_warn("pipeline", "worker %d: archive unavailable (%s); %u entr%s deferred, next attempt in %" G_GINT64_FORMAT
            " s (failure %d in a row)",
            w->index, why, n, n == 1 ? "y" : "ies", (resume_at - now + 999) / 1000, step);
  ma_metrics_add(MA_METRIC_MESSAGES_FAILED, n);
  g_autoptr(GPtrArray) ids = g_ptr_array_sized_new(n);
  for (guint i = 0; i < n; i++) g_ptr_array_add(ids, entries[i]->id);
  g_autoptr(GError) spool_error = NULL;
  /* Not recording the attempt is harmless (the pool's pause still holds): no line per entry. */
  if (spool_attempts_failed(w->sp, (const char *const *) ids->pdata, n, resume_at, why, &spool_error) < 0)
    ma_debug("pipeline", "worker %d: cannot record the deferral: %s", w->index, spool_error->message);
  for (guint i = 0; i < n; i++) release(entries[i]->id);
}

static void log_result(const MaSpoolEntry *e, const MaIngestResult *r)
{
  if (r->outcome == MA_INGEST_ARCHIVED) ma_metrics_inc(MA_METRIC_MESSAGES_ARCHIVED);
  else ma_metrics_count_skip(r->outcome == MA_INGEST_DUPLICATE ? "duplicate" : r->skip_reason);
  if (r->activities_created > 0) ma_metrics_add(MA_METRIC_ACTIVITIES_CREATED, r->activities_created);
  if (r->rules_budget_exhausted) {
    ma_metrics_inc(MA_METRIC_RULES_BUDGET_EXHAUSTED);
    ma_warn("pipeline", "spool=%s enterprise=%s message=%s rules budget exhausted units=%" G_GUINT64_FORMAT
            ": no activity from the remaining rules", e->id, e->enterprise_id, r->message_id ? r->message_id : "-",
            r->rules_units);
  }
  ma_info("pipeline", "spool=%s enterprise=%s result=%s%s%s message=%s links=%u activities=%d", e->id,
          e->enterprise_id, ma_ingest_outcome_name(r->outcome), r->skip_reason ? " reason=" : "",
          r->skip_reason ? r->skip_reason : "", r->message_id ? r->message_id : "-", r->links ? r->links->len : 0,
          r->activities_created);
}

/* MA_ERROR_TEMPFAIL is the environment's (busy, locked, full, I/O): it may pass. */
static gboolean temporary(const GError *error)
{
  return !error || (error->domain == MA_ERROR && error->code == MA_ERROR_TEMPFAIL);
}

static void finish(Worker *w, const MaSpoolEntry *e)
{
  g_autoptr(GError) error = NULL;
  if (spool_done(w->sp, e->id, &error) < 0)
    ma_warn("pipeline", "spool=%s: spool_done failed (it will be replayed harmlessly): %s", e->id, error->message);
  release(e->id);
  g_mutex_lock(&pool.lock);
  processed_total++;
  g_mutex_unlock(&pool.lock);
}

/* A failure that can never pass for this message: parked as dead, kept for the operator. */
static void park_dead(Worker *w, MaSpoolEntry *e, const GError *error)
{
  ma_error("pipeline", "spool=%s enterprise=%s result=dead attempts=%d error=%s (kept; see mailagent spool show %s)",
           e->id, e->enterprise_id ? e->enterprise_id : "-", e->attempts + 1, error->message, e->id);
  ma_metrics_inc(MA_METRIC_MESSAGES_FAILED);
  g_autoptr(GError) spool_error = NULL;
  if (spool_mark_dead(w->sp, e->id, error->message, &spool_error) < 0) {
    defer(w, &e, 1, spool_error); /* the spool itself failed: try again later, not at once */
    return;
  }
  if (e->mailbox) {
    /* pulled from a bound mailbox: its sync moved past it already, so its status must say so */
    g_autofree char *where = g_strdup_printf("kept raw in the spool (mailagent spool show %s --raw): %s", e->id, error->message);
    if (storage_mailbox_quarantine(w->st, e->mailbox, "(archive)", e->id, where, ma_now(), &spool_error) < 0)
      ma_warn("pipeline", "spool=%s mailbox=%s: could not list it as quarantined: %s", e->id, e->mailbox,
              spool_error->message);
  }
  release(e->id);
  g_mutex_lock(&pool.lock);
  processed_total++;
  g_mutex_unlock(&pool.lock);
}

/* MA_ERROR_CONFLICT: the archive refused a row as existing already. */
static gboolean conflict(const GError *error)
{
  return error && error->domain == MA_ERROR && error->code == MA_ERROR_CONFLICT;
}

/* One entry alone in its own transaction; a failure defers it or parks it as dead. A conflict is
 * tried once more at once: another node (several serve nodes on one PostgreSQL) or worker may have
 * archived the same message between the duplicate check and the insert, and the second try finds
 * it as the duplicate it now is; a conflict that comes back is the message's own (a constraint it
 * breaks) and parks it as before. */
static int ingest_entry(Worker *w, MaSpoolEntry *e, MaIngestResult **r, GError **error)
{
  MaProvenance *prov = provenance_of(e);
  int rc = pipeline_ingest_raw(w->pipeline, e->enterprise_id, e->raw, prov, r, error);
  ma_provenance_free(prov);
  return rc;
}

static void process_one(Worker *w, MaSpoolEntry *e)
{
  g_autoptr(MaIngestResult) r = NULL;
  g_autoptr(GError) error = NULL;
  int rc = spool_entry_open(w->sp, e, &error);
  if (rc == 0) rc = ingest_entry(w, e, &r, &error);
  if (rc < 0 && conflict(error)) {
    ma_debug("pipeline", "spool=%s: %s; trying again as a duplicate", e->id, error->message);
    g_clear_error(&error);
    rc = ingest_entry(w, e, &r, &error);
  }
  spool_entry_close(e); /* before spool_done: its body file may be recycled (spool.h) */
  if (rc == 0) {
    recovered(w);
    log_result(e, r);
    finish(w, e);
    if (committed_hook && r->outcome != MA_INGEST_SKIPPED) committed_hook();
    return;
  }
  if (temporary(error))
    defer(w, &e, 1, error);
  else
    park_dead(w, e, error);
}

/* Returned mail first: the bounce hook takes the entries it recognises (reports about our own
 * outbound mail, mail to our bounce addresses) out of the batch before anything is archived;
 * they are done once the hook applied them. A temporary failure defers the entry, another parks
 * it; route "bounce" never reaches the archive, whatever happens. */
static void take_bounces(Worker *w, GPtrArray *batch)
{
  gsize kept = 0; /* octets of the entries left in the batch held in memory (a mapped body is not) */
  for (guint i = 0; i < batch->len;) {
    MaSpoolEntry *e = batch->pdata[i];
    g_autoptr(GError) error = NULL;
    gboolean ours = g_strcmp0(e->route, "bounce") == 0;
    int rc = spool_entry_open(w->sp, e, &error);
    if (rc == 0) {
      rc = bounce_hook ? bounce_hook(bounce_hook_ctx, w->st, e, ma_raw_data(e->raw), ma_raw_len(e->raw), &error) : 0;
      ma_raw_release(e->raw, 0, ma_raw_len(e->raw)); /* what the hook read of a mapped body */
      if (rc == 0 && ours) g_set_error(&error, MA_ERROR, MA_ERROR_INVALID, "mail to a bounce address, but bounce "
                                                                         "management is not running");
    }
    if (rc == 0 && !ours) {
      /* the batch below reads at most BATCH_BYTES in: past that, drop what was read for the check */
      gsize len = ma_raw_fd(e->raw) < 0 ? ma_raw_len(e->raw) : 0;
      if (kept + len > BATCH_BYTES && e->body_file) spool_entry_close(e);
      else kept += len;
      i++;
      continue;
    }
    MaSpoolEntry *taken = g_ptr_array_steal_index(batch, i);
    spool_entry_close(taken); /* before spool_done: its body file may be recycled (spool.h) */
    if (rc > 0) {
      finish(w, taken);
      if (committed_hook) committed_hook(); /* it may have added webhook events */
    } else if (temporary(error)) defer(w, &taken, 1, error);
    else park_dead(w, taken, error);
    ma_spool_entry_free(taken);
  }
}

/* The batch in one transaction; falls back to one by one when anything fails. */
static void process_batch(Worker *w, GPtrArray *batch)
{
  take_bounces(w, batch);
  if (batch->len == 0) return;
  pipeline_forget(w->pipeline); /* settings, employees, domains may have changed since last batch */
  if (batch->len == 1) {
    process_one(w, batch->pdata[0]);
    return;
  }
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func((GDestroyNotify) ma_ingest_result_free);
  g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func((GDestroyNotify) pipeline_parsed_free);
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;
  /* outside the write transaction, so other workers may commit meanwhile: read the messages from
   * their spool files (BATCH_BYTES at most: the rest goes back to the spool for the next round),
   * parse, and evaluate the rules (bounded by their budget, but never under the archive's write
   * lock); a file that cannot be read sends the batch one by one below */
  gsize loaded = 0;
  for (guint i = 0; ok && i < batch->len; i++) {
    MaSpoolEntry *e = batch->pdata[i];
    if (loaded >= BATCH_BYTES) {
      ma_debug("pipeline", "worker %d: %zu octets read in, %u entries left for the next round", w->index, loaded,
               batch->len - i);
      for (guint j = i; j < batch->len; j++) release(((MaSpoolEntry *) batch->pdata[j])->id);
      g_ptr_array_remove_range(batch, i, batch->len - i);
      break;
    }
    ok = spool_entry_open(w->sp, e, &error) == 0;
    if (!ok) break;
    loaded += ma_raw_len(e->raw);
    MaParsedMessage *pm = pipeline_parse_raw(w->pipeline, e->raw);
    g_ptr_array_add(parsed, pm);
    MaProvenance *prov = provenance_of(e);
    ok = pipeline_prepare(w->pipeline, e->enterprise_id, pm, prov, &error) == 0;
    ma_provenance_free(prov);
  }
  if (ok) ok = storage_begin_batch(w->st, &error) == 0;
  for (guint i = 0; ok && i < batch->len; i++) {
    const MaSpoolEntry *e = batch->pdata[i];
    MaProvenance *prov = provenance_of(e);
    MaIngestResult *r = NULL;
    ok = pipeline_ingest_parsed_in_tx(w->pipeline, e->enterprise_id, parsed->pdata[i], prov, &r, &error) == 0;
    ma_provenance_free(prov);
    if (ok) g_ptr_array_add(results, r);
  }
  if (ok) ok = storage_commit(w->st, &error) == 0;
  /* the parsed messages borrow the entries' octets; both go before spool_done, which may recycle a
   * body file (spool.h) */
  g_ptr_array_set_size(parsed, 0);
  for (guint i = 0; i < batch->len; i++) spool_entry_close(batch->pdata[i]);
  if (!ok) {
    storage_rollback(w->st);
    pipeline_forget(w->pipeline);
    if (temporary(error)) { /* the environment's: one by one would only fail batch->len times */
      defer(w, (MaSpoolEntry *const *) batch->pdata, batch->len, error);
      return;
    }
    ma_debug("pipeline", "worker %d: batch of %u failed (%s); retrying one by one", w->index, batch->len,
             error ? error->message : "?");
    for (guint i = 0; i < batch->len; i++) process_one(w, batch->pdata[i]);
    return;
  }
  /* one spool transaction for the whole batch (no fsync: a lost removal only replays harmlessly) */
  g_autoptr(GPtrArray) ids = g_ptr_array_sized_new(batch->len);
  for (guint i = 0; i < batch->len; i++) g_ptr_array_add(ids, ((MaSpoolEntry *) batch->pdata[i])->id);
  g_autoptr(GError) done_error = NULL;
  if (spool_done_many(w->sp, (const char *const *) ids->pdata, ids->len, &done_error) < 0)
    ma_warn("pipeline", "worker %d: spool_done_many failed (entries will be replayed harmlessly): %s", w->index,
            done_error->message);
  recovered(w);
  for (guint i = 0; i < batch->len; i++) {
    const MaSpoolEntry *e = batch->pdata[i];
    log_result(e, results->pdata[i]);
    release(e->id);
  }
  g_mutex_lock(&pool.lock);
  processed_total += batch->len;
  g_mutex_unlock(&pool.lock);
  committed(results);
}

static void update_depth(Worker *w)
{
  gint64 live = 0, dead = 0;
  if (spool_counts(w->sp, &live, &dead, NULL) < 0) return;
  ma_metrics_set(MA_METRIC_SPOOL_DEPTH, live);
  ma_metrics_set(MA_METRIC_SPOOL_DEAD, dead);
}

/* Lowers the calling thread's priority by [pipeline] nice below serve's own (Linux: a thread's own
 * nice value), as nice(1) does: relative, so that a serve started niced keeps its workers below its
 * listener; 19 at most. */
static void lower_priority(const Worker *w)
{
  int nice = pool.cfg->pipeline_nice;
  if (nice <= 0) return;
  errno = 0;
  int base = getpriority(PRIO_PROCESS, (id_t) gettid());
  if (base == -1 && errno != 0) base = 0;
  int target = MIN(base + nice, 19);
  if (target > base && setpriority(PRIO_PROCESS, (id_t) gettid(), target) < 0 && w->index == 0)
    ma_warn("pipeline", "cannot lower the workers' priority to nice %d: %s", target, g_strerror(errno));
}

static gpointer worker_main(gpointer data)
{
  Worker *w = data;
  lower_priority(w);
  for (;;) {
    g_mutex_lock(&pool.lock);
    while (pool.held && !pool.stopping) { /* a test's hold: no batch claimed, no decision taken */
      pool.parked++;
      g_cond_broadcast(&pool.parked_changed);
      g_cond_wait(&pool.wake, &pool.lock);
      pool.parked--;
    }
    guint64 seen = pool.generation;
    gint64 defer_us = deferral_wait_us();
    if (defer_us > 0) { /* between batches: this worker holds no lock while it waits */
      pool.deferrals++;
      g_cond_wait_until(&pool.wake, &pool.lock, g_get_monotonic_time() + defer_us);
      g_mutex_unlock(&pool.lock);
      continue;
    }
    g_mutex_unlock(&pool.lock);

    g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
    int rc = claim(w, batch);
    if (rc == 0 && batch->len > 0) {
      process_batch(w, batch);
      update_depth(w);
      continue;
    }
    if (w->index == 0) update_depth(w); /* the gauges follow the CLI's retries and purges too */
    g_mutex_lock(&pool.lock);
    if (pool.stopping && rc == 0 && g_hash_table_size(pool.claimed) == 0) {
      g_mutex_unlock(&pool.lock);
      break; /* nothing left that can be done now */
    }
    if (pool.generation == seen) g_cond_wait_until(&pool.wake, &pool.lock, g_get_monotonic_time() + POLL_US);
    gboolean stop_now = pool.stopping && rc < 0;
    g_mutex_unlock(&pool.lock);
    if (stop_now) break; /* the spool cannot be read: do not spin at shutdown */
  }
  return NULL;
}

static void worker_close(Worker *w)
{
  pipeline_free(w->pipeline);
  w->pipeline = NULL;
  spool_close(&w->sp);
  storage_close(&w->st);
}

int pipeline_workers_start(const MaConfig *cfg, int n, GError **error)
{
  g_return_val_if_fail(!pool.running, -1);
  if (n < 1) n = 1;
  pool.cfg = cfg;
  pool.n = n;
  pool.stopping = FALSE;
  pool.claimed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  pool.resume_at = 0;
  pool.failures_in_row = 0;
  pool.disk_paused = FALSE;
  pool.burst_since = 0;
  pool.burst_msgs = 0;
  pool.burst_released = FALSE;
  pool.held = FALSE;
  pool.workers = g_new0(Worker, n);
  for (int i = 0; i < n; i++) {
    Worker *w = &pool.workers[i];
    w->index = i;
    if (storage_open(cfg->data_dir, FALSE, &w->st, error) < 0 || spool_open(cfg->data_dir, &w->sp, error) < 0) {
      for (int j = 0; j <= i; j++) worker_close(&pool.workers[j]);
      g_clear_pointer(&pool.workers, g_free);
      g_clear_pointer(&pool.claimed, g_hash_table_unref);
      return -1;
    }
    w->pipeline = pipeline_new(w->st, cfg);
  }
  pool.running = TRUE;
  for (int i = 0; i < n; i++) {
    char name[16];
    g_snprintf(name, sizeof name, "pipeline-%d", i);
    pool.workers[i].thread = g_thread_new(name, worker_main, &pool.workers[i]);
  }
  ma_info("pipeline", "%d worker(s) started", n);
  return 0;
}

void pipeline_workers_fault_inject_commit_failures(int n)
{
  /* the storage handles are only touched under the lock here, and the hook is a counter */
  g_mutex_lock(&pool.lock);
  for (int i = 0; pool.running && i < pool.n; i++) storage_fault_inject_commit_failures(pool.workers[i].st, n);
  g_mutex_unlock(&pool.lock);
}

void pipeline_workers_stop(void)
{
  if (!pool.running) return;
  g_mutex_lock(&pool.lock);
  pool.stopping = TRUE;
  g_cond_broadcast(&pool.wake);
  g_mutex_unlock(&pool.lock);
  for (int i = 0; i < pool.n; i++) {
    g_thread_join(pool.workers[i].thread);
    worker_close(&pool.workers[i]);
  }
  g_clear_pointer(&pool.workers, g_free);
  g_clear_pointer(&pool.claimed, g_hash_table_unref);
  pool.running = FALSE;
  ma_info("pipeline", "workers stopped");
}
