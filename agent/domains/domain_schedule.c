/* domain_schedule.c - re-verification by `serve`: one thread with its own storage handle and
 * synchronous resolver wakes every DOMAINS_SCAN_MS of real time, asks storage for the claims whose
 * stored next_check_at has passed (compared with ma_now(), so the test clock moves it), checks and
 * applies each (domain_verify.c decides the next deadline, with backoff on DNS errors). The event
 * loop never waits for DNS or the database here. At most DOMAINS_SCAN_BATCH claims per pass, so a
 * stop request is honoured within one batch. In a cluster one node re-verifies: each pass first
 * takes or renews the "domains" job lease (storage_job_lease) and is skipped while another node
 * holds it; stopping hands the lease back.
 */
#include "domains_private.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/lib/node.h"
#include "agent/lib/periodic.h"

#include <string.h>

#define DOMAINS_SCAN_MS 1000
#define DOMAINS_SCAN_BATCH 20
#define DOMAINS_JOB "domains"

static struct {
  MaPeriodic *thread;
  MaConfig *cfg;          /* borrowed from serve for the thread's life */
  MaStorage *st;
  MaDnsSync *dns;
  void (*on_event)(void);
  gint64 last_error_log;  /* ma_now() of the last logged failure: at most one a minute */
} sched;

/* One pass: every due claim once. Returns the number checked. */
static guint scan_once(void)
{
  GError *error = NULL;
  g_autoptr(GPtrArray) due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_free);
  gint64 now = ma_now();
  int leads = storage_job_lease(sched.st, DOMAINS_JOB, ma_node_id(), now, now + MA_JOB_LEASE_SECONDS, &error);
  if (leads < 0) goto fail;
  if (leads == 0) return 0; /* another node re-verifies this round */
  if (storage_domain_due(sched.st, now, DOMAINS_SCAN_BATCH, due, &error) < 0) goto fail;
  MaDomainsResolver resolver = ma_domains_resolver_dns(sched.dns);
  for (guint i = 0; i < due->len; i++) {
    MaDomain *d = due->pdata[i];
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    MaDomainCheck *c = ma_domains_check(sched.st, sched.cfg, &resolver, d->enterprise_id, d->domain, now, &error);
    gboolean changed = FALSE;
    if (!c || ma_domains_apply(sched.st, c, now, notes, &changed, &error) < 0) {
      ma_domain_check_free(c);
      if (g_error_matches(error, MA_ERROR, MA_ERROR_NOT_FOUND)) { /* removed meanwhile */
        g_clear_error(&error);
        continue;
      }
      goto fail;
    }
    for (guint n = 0; n < notes->len; n++)
      ma_info("domains", "enterprise %s: %s", d->enterprise_id, (char *) notes->pdata[n]);
    ma_domain_check_free(c);
    if (changed && sched.on_event) sched.on_event();
  }
  return due->len;
fail:
  if (now - sched.last_error_log >= 60) {
    ma_warn("domains", "re-verification: %s (retrying)", error->message);
    sched.last_error_log = now;
  }
  g_clear_error(&error);
  return 0;
}

/* A full batch: more may be due, so the next pass runs at once. */
static gboolean tick(gpointer unused) { return scan_once() == DOMAINS_SCAN_BATCH; }

int ma_domains_scheduler_start(MaConfig *cfg, void (*on_event)(void), GError **error)
{
  g_assert(!sched.thread);
  MaDnsOptions opts;
  ma_dns_options_from_config(&opts, cfg);
  if (storage_open(cfg->data_dir, FALSE, &sched.st, error) < 0) return -1;
  sched.dns = ma_dns_sync_new(&opts, error);
  if (!sched.dns) {
    storage_close(&sched.st);
    return -1;
  }
  sched.cfg = cfg;
  sched.on_event = on_event;
  sched.thread = ma_periodic_start("domains", DOMAINS_SCAN_MS, tick, NULL);
  return 0;
}

void ma_domains_scheduler_stop(void)
{
  if (!sched.thread) return;
  ma_periodic_stop(&sched.thread);
  gint64 now = ma_now();
  storage_job_lease(sched.st, DOMAINS_JOB, ma_node_id(), now, now, NULL); /* another node takes over now */
  ma_dns_sync_free(sched.dns);
  sched.dns = NULL;
  storage_close(&sched.st);
}
