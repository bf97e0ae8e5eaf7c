/* pending.c - the pending store's three jobs (pending.h): hold unmatched mail, re-run it after a
 * records change, purge it when its window ends. Storage is reached only through storage.h.
 */
#include "pending.h"

#include "pipeline.h"
#include "raw_blob.h"
#include "relink.h"
#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/lib/node.h"

#include <string.h>

#define DAY (24 * 3600)
#define PURGE_JOB "pending_purge"

int pending_hold(MaStorage *st, const char *enterprise_id, const MaSettings *settings, const MaRaw *raw,
                 const GPtrArray *external_keys, const char *reason, const MaProvenance *prov, GError **error)
{
  /* capture_level metadata promises no raw copy anywhere: such mail cannot be held */
  if (!settings || settings->pending_days <= 0 || settings->capture_level == MA_CAPTURE_METADATA) return 0;
  char digest[65];
  if (raw_blob_put(st, raw, digest, error) < 0) return -1;
  MaPending *p = ma_pending_new();
  p->id = ma_id_new();
  p->enterprise_id = g_strdup(enterprise_id);
  p->raw_sha256 = g_strdup(digest);
  p->received_at = ma_now();
  p->expires_at = p->received_at + (gint64) settings->pending_days * DAY;
  p->reason = g_strdup(reason);
  if (prov) {
    p->route = g_strdup(prov->route);
    p->employee_id = g_strdup(prov->employee_id);
    p->mailbox = g_strdup(prov->mailbox);
  }
  for (guint i = 0; external_keys && i < external_keys->len; i++) g_ptr_array_add(p->addresses, g_strdup(external_keys->pdata[i]));
  int rc = storage_pending_add(st, p, error);
  ma_pending_free(p);
  return rc < 0 ? -1 : 1;
}

/* One held message through the pipeline again. 1 archived (or a duplicate of archived mail) and
 * released, 0 still unmatched (kept), -1 error. */
static int rematch_one(MaStorage *st, MaPipeline *pl, const char *enterprise_id, const char *id, GError **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func((GDestroyNotify) ma_pending_free);
  if (storage_pending_list(st, enterprise_id, id, 1, found, error) < 0) return -1;
  if (found->len == 0) return 0; /* released meanwhile */
  const MaPending *held = found->pdata[0];
  g_autoptr(GBytes) raw = NULL;
  int rc = storage_blob_get(st, held->raw_sha256, &raw, error);
  if (rc < 0) return -1;
  if (rc == 0) { /* no raw copy left: nothing to archive */
    return storage_pending_delete(st, enterprise_id, id, error) < 0 ? -1 : 0;
  }
  MaProvenance *prov = ma_provenance_new(held->route ? held->route : "ingest");
  prov->employee_id = g_strdup(held->employee_id);
  prov->mailbox = g_strdup(held->mailbox);
  prov->received_at = held->received_at;
  gsize len = 0;
  const void *data = g_bytes_get_data(raw, &len);
  g_autoptr(MaIngestResult) r = NULL;
  rc = pipeline_ingest(pl, enterprise_id, data ? data : "", len, prov, &r, error);
  ma_provenance_free(prov);
  if (rc < 0) return -1;
  if (r->outcome == MA_INGEST_SKIPPED) return 0;
  ma_debug("pending", "enterprise=%s held=%s %s as message=%s links=%u activities=%d", enterprise_id, id,
           ma_ingest_outcome_name(r->outcome), r->message_id ? r->message_id : "-", r->links->len, r->activities_created);
  return storage_pending_delete(st, enterprise_id, id, error) < 0 ? -1 : 1;
}

int pending_rematch(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const MaRecordChanges *changes,
                    MaRematchStats *stats, GError **error)
{
  MaRematchStats local = {0};
  if (!stats) stats = &local;
  memset(stats, 0, sizeof *stats);
  if (changes && changes->deleted && relink_deleted(st, cfg, enterprise_id, changes->deleted, stats, error) < 0) return -1;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  if (storage_pending_candidates(st, enterprise_id, 0, ids, error) < 0) return -1;
  MaPipeline *pl = pipeline_new(st, cfg);
  int ret = 0;
  for (guint i = 0; i < ids->len; i++) {
    int rc = rematch_one(st, pl, enterprise_id, ids->pdata[i], error);
    if (rc < 0) {
      ret = -1;
      break;
    }
    stats->released += rc;
  }
  pipeline_free(pl);
  if (ret == 0 && changes && relink_changed(st, cfg, enterprise_id, changes, stats, error) < 0) ret = -1;
  return ret;
}

/* ---- purge thread --------------------------------------------------------------------------- */

static struct {
  GMutex lock;
  GCond cond;
  GThread *thread;
  gboolean stop;
  MaStorage *st;
  gint64 last_error_log;
} purger;

static void purge_once(void)
{
  g_autoptr(GError) error = NULL;
  gint64 purged = 0, now = ma_now();
  /* one node purges in a cluster: the leader of the job, renewed at each round */
  int leads = storage_job_lease(purger.st, PURGE_JOB, ma_node_id(), now, now + MA_JOB_LEASE_SECONDS, &error);
  if (leads == 0) return;
  if (leads < 0 || storage_pending_purge(purger.st, now, &purged, &error) < 0) {
    if (now - purger.last_error_log >= 60) {
      ma_warn("pending", "purge of held mail: %s (retrying)", error->message);
      purger.last_error_log = now;
    }
    return;
  }
  if (purged > 0) ma_info("pending", "purged %" G_GINT64_FORMAT " held message%s past their window", purged, purged == 1 ? "" : "s");
}

static gpointer purge_run(gpointer unused)
{
  g_mutex_lock(&purger.lock);
  while (!purger.stop) {
    g_mutex_unlock(&purger.lock);
    purge_once();
    g_mutex_lock(&purger.lock);
    gint64 deadline = g_get_monotonic_time() + PENDING_PURGE_MS * G_TIME_SPAN_MILLISECOND;
    while (!purger.stop && g_cond_wait_until(&purger.cond, &purger.lock, deadline)) {
    }
  }
  g_mutex_unlock(&purger.lock);
  return NULL;
}

int pending_purge_start(const MaConfig *cfg, GError **error)
{
  g_assert(!purger.thread);
  if (storage_open(cfg->data_dir, FALSE, &purger.st, error) < 0) return -1;
  purger.stop = FALSE;
  purger.thread = g_thread_new("pending", purge_run, NULL);
  return 0;
}

void pending_purge_stop(void)
{
  if (!purger.thread) return;
  g_mutex_lock(&purger.lock);
  purger.stop = TRUE;
  g_cond_signal(&purger.cond);
  g_mutex_unlock(&purger.lock);
  g_thread_join(purger.thread);
  purger.thread = NULL;
  gint64 now = ma_now();
  storage_job_lease(purger.st, PURGE_JOB, ma_node_id(), now, now, NULL); /* another node takes over now */
  storage_close(&purger.st);
}
