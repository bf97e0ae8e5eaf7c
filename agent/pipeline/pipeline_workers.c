/* pipeline_workers.c - the worker pool that takes spooled mail through the pipeline.
 *
 * Each worker owns a MaStorage, a MaSpool and a MaPipeline. It claims up to BATCH entries that no
 * other worker holds (an in-memory claim set), parses them and evaluates their rules with no
 * transaction open (pipeline_prepare: hostile rules cost their budget, never everyone's write
 * lock), then writes them in ONE storage transaction (group commit: one fsync for the batch), and only after the commit removes them from the spool (one
 * spool_done_many for the batch). When the batch fails, it is rolled back and each entry is
 * retried alone, so one bad message cannot hold back the others; an entry that fails alone gets
 * spool_attempt_failed and waits an exponential backoff (1 s doubling, at most MAX_BACKOFF).
 * Errors that can never pass (unknown enterprise, invalid input) finish the entry with a log line
 * instead of looping. Unreadable mail is a skip, so it is done with too.
 *
 * Workers sleep on a condition variable, woken by pipeline_workers_notify() (the SMTP server's
 * spool hook) and at least every second (entries from another process, backoffs ending).
 * pipeline_workers_stop() lets them finish what the spool holds, then joins them.
 * A crash at any point is harmless: entries stay in the spool until their batch committed, and
 * the pipeline's idempotence makes the replay add nothing.
 */
#include "pipeline.h"

#include "agent/lib/log.h"
#include "agent/lib/metrics.h"
#include "storage/spool.h"

#include <string.h>

#define BATCH 32
#define MAX_BACKOFF 300 /* seconds */
#define POLL_US (G_USEC_PER_SEC)

typedef struct {
  int index;
  GThread *thread;
  MaStorage *st;
  MaSpool *sp;
  MaPipeline *pipeline;
} Worker;

static struct {
  GMutex lock;
  GCond wake;
  gboolean running;
  gboolean stopping;
  guint64 generation;     /* bumped by notify */
  GHashTable *claimed;    /* spool ids being processed */
  GHashTable *not_before; /* spool id -> gint64* monotonic time of the next attempt */
  Worker *workers;
  int n;
  const MaConfig *cfg;
} pool = {0};

static guint64 processed_total; /* under pool.lock */
static void (*committed_hook)(void);

void pipeline_workers_set_committed_hook(void (*fn)(void)) { committed_hook = fn; }

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

/* Claims up to BATCH pending entries for this worker. out: MaSpoolEntry*. -1 on a spool error. */
static int claim(Worker *w, GPtrArray *out)
{
  g_autoptr(GPtrArray) pending = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_autoptr(GError) error = NULL;
  /* read past the entries other workers hold and those waiting out a backoff, so they never hide
   * newer mail */
  g_mutex_lock(&pool.lock);
  int limit = BATCH + (int) g_hash_table_size(pool.claimed) + (int) g_hash_table_size(pool.not_before);
  g_mutex_unlock(&pool.lock);
  if (spool_pending(w->sp, limit, pending, &error) < 0) {
    ma_warn("pipeline", "worker %d: spool read failed: %s", w->index, error->message);
    return -1;
  }
  gint64 now = g_get_monotonic_time();
  g_mutex_lock(&pool.lock);
  for (guint i = 0; i < pending->len && out->len < BATCH; i++) {
    MaSpoolEntry *e = pending->pdata[i];
    if (g_hash_table_contains(pool.claimed, e->id)) continue;
    gint64 *nb = g_hash_table_lookup(pool.not_before, e->id);
    if (nb && *nb > now) continue;
    g_hash_table_add(pool.claimed, g_strdup(e->id));
    pending->pdata[i] = NULL;
    g_ptr_array_add(out, e);
  }
  g_mutex_unlock(&pool.lock);
  return 0;
}

static void release(const char *id, gboolean done)
{
  g_mutex_lock(&pool.lock);
  g_hash_table_remove(pool.claimed, id);
  if (done) g_hash_table_remove(pool.not_before, id);
  g_mutex_unlock(&pool.lock);
}

static void backoff(const MaSpoolEntry *e)
{
  int attempts = e->attempts + 1;
  gint64 delay = attempts >= 9 ? MAX_BACKOFF : MIN((gint64) 1 << (attempts - 1), MAX_BACKOFF);
  gint64 *nb = g_new(gint64, 1);
  *nb = g_get_monotonic_time() + delay * G_USEC_PER_SEC;
  g_mutex_lock(&pool.lock);
  g_hash_table_insert(pool.not_before, g_strdup(e->id), nb);
  g_mutex_unlock(&pool.lock);
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

static gboolean permanent(const GError *error)
{
  return error && error->domain == MA_ERROR &&
         (error->code == MA_ERROR_NOT_FOUND || error->code == MA_ERROR_INVALID || error->code == MA_ERROR_LIMIT);
}

static void finish(Worker *w, const MaSpoolEntry *e)
{
  g_autoptr(GError) error = NULL;
  if (spool_done(w->sp, e->id, &error) < 0)
    ma_warn("pipeline", "spool=%s: spool_done failed (it will be replayed harmlessly): %s", e->id, error->message);
  release(e->id, TRUE);
  g_mutex_lock(&pool.lock);
  processed_total++;
  g_mutex_unlock(&pool.lock);
}

/* One entry alone in its own transaction; on failure counts the attempt. */
static void process_one(Worker *w, const MaSpoolEntry *e)
{
  MaProvenance *prov = provenance_of(e);
  g_autoptr(MaIngestResult) r = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const void *data = e->data ? g_bytes_get_data(e->data, &len) : NULL;
  int rc = pipeline_ingest(w->pipeline, e->enterprise_id, data ? data : "", len, prov, &r, &error);
  ma_provenance_free(prov);
  if (rc == 0) {
    log_result(e, r);
    finish(w, e);
    if (committed_hook && r->outcome != MA_INGEST_SKIPPED) committed_hook();
    return;
  }
  if (permanent(error)) {
    ma_error("pipeline", "spool=%s enterprise=%s result=dropped error=%s", e->id, e->enterprise_id, error->message);
    ma_metrics_inc(MA_METRIC_MESSAGES_FAILED);
    finish(w, e);
    return;
  }
  ma_warn("pipeline", "spool=%s enterprise=%s result=retry attempts=%d error=%s", e->id, e->enterprise_id,
          e->attempts + 1, error->message);
  ma_metrics_inc(MA_METRIC_MESSAGES_FAILED);
  g_autoptr(GError) spool_error = NULL;
  if (spool_attempt_failed(w->sp, e->id, &spool_error) < 0)
    ma_warn("pipeline", "spool=%s: cannot count the attempt: %s", e->id, spool_error->message);
  backoff(e);
  release(e->id, FALSE);
}

/* The batch in one transaction; falls back to one by one when anything fails. */
static void process_batch(Worker *w, GPtrArray *batch)
{
  pipeline_forget(w->pipeline); /* settings, employees, domains may have changed since last batch */
  if (batch->len == 1) {
    process_one(w, batch->pdata[0]);
    return;
  }
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func((GDestroyNotify) ma_ingest_result_free);
  g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func((GDestroyNotify) pipeline_parsed_free);
  g_autoptr(GError) error = NULL;
  gboolean ok = TRUE;
  /* outside the write transaction, so other workers may commit meanwhile: parse, and evaluate the
   * rules (bounded by their budget, but never under the archive's write lock) */
  for (guint i = 0; ok && i < batch->len; i++) {
    const MaSpoolEntry *e = batch->pdata[i];
    gsize len = 0;
    const void *data = e->data ? g_bytes_get_data(e->data, &len) : NULL;
    MaParsedMessage *pm = pipeline_parse(w->pipeline, data ? data : "", len);
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
  if (!ok) {
    storage_rollback(w->st);
    pipeline_forget(w->pipeline);
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
  for (guint i = 0; i < batch->len; i++) {
    const MaSpoolEntry *e = batch->pdata[i];
    log_result(e, results->pdata[i]);
    release(e->id, TRUE);
  }
  g_mutex_lock(&pool.lock);
  processed_total += batch->len;
  g_mutex_unlock(&pool.lock);
  committed(results);
}

static void update_depth(Worker *w)
{
  gint64 depth = 0;
  if (spool_depth(w->sp, &depth, NULL) == 0) ma_metrics_set(MA_METRIC_SPOOL_DEPTH, depth);
}

static gpointer worker_main(gpointer data)
{
  Worker *w = data;
  for (;;) {
    g_mutex_lock(&pool.lock);
    guint64 seen = pool.generation;
    g_mutex_unlock(&pool.lock);

    g_autoptr(GPtrArray) batch = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
    int rc = claim(w, batch);
    if (rc == 0 && batch->len > 0) {
      process_batch(w, batch);
      update_depth(w);
      continue;
    }
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
  pool.not_before = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  pool.workers = g_new0(Worker, n);
  for (int i = 0; i < n; i++) {
    Worker *w = &pool.workers[i];
    w->index = i;
    if (storage_open(cfg->data_dir, FALSE, &w->st, error) < 0 || spool_open(cfg->data_dir, &w->sp, error) < 0) {
      for (int j = 0; j <= i; j++) worker_close(&pool.workers[j]);
      g_clear_pointer(&pool.workers, g_free);
      g_clear_pointer(&pool.claimed, g_hash_table_unref);
      g_clear_pointer(&pool.not_before, g_hash_table_unref);
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
  g_clear_pointer(&pool.not_before, g_hash_table_unref);
  pool.running = FALSE;
  ma_info("pipeline", "workers stopped");
}
