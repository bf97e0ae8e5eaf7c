/* retention_schedule.c - retention in `serve`: one thread with its own storage handle wakes every
 * second of real time and runs retention_run_all when RETENTION_PERIOD_SECONDS of ma_now() have
 * passed since its last run (and once at start), so the test clock drives it; it also compacts
 * after an erasure made through the API (retention_scheduler_request_compact). The event loop
 * never waits for these deletions. Logs counts, never content. In a cluster one node runs
 * retention: each wake-up takes or renews the "retention" job lease (storage_job_lease) and only
 * its holder runs; stopping hands it back. The compaction after an erasure is not scheduled work:
 * the node whose API erased compacts.
 */
#include "retention.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/lib/node.h"
#include "agent/lib/periodic.h"

#define RETENTION_WAKE_MS 1000
#define RETENTION_JOB "retention"

static struct {
  MaPeriodic *thread;
  MaStorage *st;
  gint64 last_run;        /* ma_now() of the last run, 0 before the first */
  gint64 last_error_log;
  gint compact_requested; /* atomic */
} sched;

void retention_scheduler_request_compact(void) { g_atomic_int_set(&sched.compact_requested, 1); }

static void compact_if_requested(void)
{
  if (!g_atomic_int_compare_and_exchange(&sched.compact_requested, 1, 0)) return;
  GError *error = NULL;
  if (storage_search_compact(sched.st, &error) < 0) {
    gint64 now = ma_now();
    if (now - sched.last_error_log >= 60) {
      ma_warn("retention", "compacting after an erasure: %s (retrying)", error->message);
      sched.last_error_log = now;
    }
    g_clear_error(&error);
    g_atomic_int_set(&sched.compact_requested, 1);
  }
}

static void run_due(void)
{
  gint64 now = ma_now();
  GError *error = NULL;
  /* renewed at every wake-up, not only when a run is due, so the leader keeps the job between
   * runs and no other node runs retention at its own times */
  int rc = storage_job_lease(sched.st, RETENTION_JOB, ma_node_id(), now, now + MA_JOB_LEASE_SECONDS, &error);
  if (rc == 0) return; /* another node runs retention */
  if (rc > 0 && sched.last_run && now - sched.last_run < RETENTION_PERIOD_SECONDS && now >= sched.last_run) return;
  MaEraseCounts c = {0};
  if (rc > 0) rc = retention_run_all(sched.st, now, &c, &error);
  if (c.messages > 0)
    ma_info("retention", "deleted %" G_GINT64_FORMAT " messages (%" G_GINT64_FORMAT " index entries, %" G_GINT64_FORMAT
            " blobs, %" G_GINT64_FORMAT " links)", c.messages, c.index_entries, c.blobs, c.links);
  if (rc < 0) {
    if (now - sched.last_error_log >= 60) {
      ma_warn("retention", "%s (retrying)", error->message);
      sched.last_error_log = now;
    }
    g_clear_error(&error);
    return; /* the next wake-up tries again */
  }
  sched.last_run = now;
}

static gboolean tick(gpointer unused)
{
  run_due();
  compact_if_requested();
  return FALSE;
}

int retention_scheduler_start(const MaConfig *cfg, GError **error)
{
  g_assert(!sched.thread);
  if (storage_open(cfg->data_dir, FALSE, &sched.st, error) < 0) return -1;
  sched.last_run = 0;
  sched.thread = ma_periodic_start("retention", RETENTION_WAKE_MS, tick, NULL);
  return 0;
}

void retention_scheduler_stop(void)
{
  if (!sched.thread) return;
  ma_periodic_stop(&sched.thread);
  gint64 now = ma_now();
  storage_job_lease(sched.st, RETENTION_JOB, ma_node_id(), now, now, NULL); /* another node takes over now */
  storage_close(&sched.st);
}
