/* metrics.c - process-wide atomic counters and the API latency histogram, rendered as Prometheus
 * text (metrics.h). Lock-free: every value is a gint64 updated with GCC atomics, so any thread may
 * count. The rendering reads each value once; a scrape racing an update may see a histogram whose
 * buckets and count differ by the requests in flight, which Prometheus tolerates.
 */
#include "metrics.h"

#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *name;
  const char *help;
  gboolean gauge;
  const char *label; /* "reason=\"duplicate\"" for a member of a labelled family, else NULL */
} MetricInfo;

static const MetricInfo metric_info[MA_METRIC_COUNT_] = {
  [MA_METRIC_MESSAGES_RECEIVED] = {"mailagent_messages_received_total", "Messages accepted into the spool.", FALSE},
  [MA_METRIC_MESSAGES_ARCHIVED] = {"mailagent_messages_archived_total", "Messages written to the archive.", FALSE},
#define SKIPPED(reason) {"mailagent_messages_skipped_total", "Messages not archived, by reason.", FALSE, "reason=\"" reason "\""}
  [MA_METRIC_SKIPPED_DUPLICATE] = SKIPPED("duplicate"),
  [MA_METRIC_SKIPPED_ARCHIVING_OFF] = SKIPPED("archiving_off"),
  [MA_METRIC_SKIPPED_UNREADABLE] = SKIPPED("unreadable"),
  [MA_METRIC_SKIPPED_INTERNAL_ONLY] = SKIPPED("internal_only"),
  [MA_METRIC_SKIPPED_NO_MATCHING_RECORD] = SKIPPED("no_matching_record"),
  [MA_METRIC_SKIPPED_NEVER_LOG] = SKIPPED("never_log"),
  [MA_METRIC_SKIPPED_AUTO_REPLY] = SKIPPED("auto_reply"),
  [MA_METRIC_SKIPPED_BULK_MAIL] = SKIPPED("bulk_mail"),
  [MA_METRIC_SKIPPED_LOOP_THROTTLED] = SKIPPED("loop_throttled"),
  [MA_METRIC_SKIPPED_OTHER] = SKIPPED("other"),
  [MA_METRIC_MESSAGES_FAILED] = {"mailagent_messages_failed_total", "Messages the pipeline could not process.", FALSE},
  [MA_METRIC_ACTIVITIES_CREATED] = {"mailagent_activities_created_total", "CRM activities created by rules.", FALSE},
  [MA_METRIC_RULES_BUDGET_EXHAUSTED] = {"mailagent_rules_budget_exhausted_total",
                                        "Messages whose rules ran out of their evaluation budget.", FALSE},
  [MA_METRIC_SMTP_SESSIONS_TOTAL] = {"mailagent_smtp_sessions_total", "SMTP connections accepted.", FALSE},
  [MA_METRIC_WEBHOOK_DELIVERED] = {"mailagent_webhook_delivered_total", "Webhook events delivered.", FALSE},
  [MA_METRIC_WEBHOOK_FAILED] = {"mailagent_webhook_failed_total", "Failed webhook delivery attempts.", FALSE},
  [MA_METRIC_WEBHOOK_DEAD] = {"mailagent_webhook_dead_total", "Webhook events parked as dead after their last attempt.", FALSE},
  [MA_METRIC_API_REQUESTS] = {"mailagent_api_requests_total", "HTTP API requests answered.", FALSE},
  [MA_METRIC_API_ERRORS] = {"mailagent_api_errors_total", "HTTP API requests answered with a 5xx status.", FALSE},
#define API_CLASS(c) {"mailagent_api_responses_total", "HTTP API answers by status class.", FALSE, "class=\"" c "\""}
  [MA_METRIC_API_2XX] = API_CLASS("2xx"),
  [MA_METRIC_API_3XX] = API_CLASS("3xx"),
  [MA_METRIC_API_4XX] = API_CLASS("4xx"),
  [MA_METRIC_API_5XX] = API_CLASS("5xx"),
#define SMTP_CLASS(c) {"mailagent_smtp_replies_total", "Final SMTP reply lines sent, by class.", FALSE, "class=\"" c "\""}
  [MA_METRIC_SMTP_2XX] = SMTP_CLASS("2xx"),
  [MA_METRIC_SMTP_3XX] = SMTP_CLASS("3xx"),
  [MA_METRIC_SMTP_4XX] = SMTP_CLASS("4xx"),
  [MA_METRIC_SMTP_5XX] = SMTP_CLASS("5xx"),
  [MA_METRIC_MAILBOX_FETCHED] = {"mailagent_mailbox_fetched_total", "Messages pulled from bound mailboxes into the spool.", FALSE},
  [MA_METRIC_MAILBOX_SYNC_FAILED] = {"mailagent_mailbox_sync_failed_total", "Mailbox syncs that ended in an error.", FALSE},
  [MA_METRIC_MAILBOX_NEEDS_REAUTH] = {"mailagent_mailbox_needs_reauth_total", "Mailbox bindings whose OAuth2 grant was revoked.", FALSE},
  [MA_METRIC_API_CONNECTIONS_REFUSED] = {"mailagent_api_connections_refused_total", "API connections refused over [api] max_connections (503).", FALSE},
  [MA_METRIC_API_UNAUTHENTICATED] = {"mailagent_api_unauthenticated_total", "API connections answered 401 from the request head and closed before any body was read.", FALSE},
  [MA_METRIC_API_CONNECTIONS_OPEN] = {"mailagent_api_connections_open", "API connections open now.", TRUE},
  [MA_METRIC_SMTP_SESSIONS_OPEN] = {"mailagent_smtp_sessions_open", "SMTP sessions open now.", TRUE},
  [MA_METRIC_SPOOL_DEPTH] = {"mailagent_spool_depth", "Spool entries waiting for the pipeline.", TRUE},
  [MA_METRIC_SPOOL_DEAD] = {"mailagent_spool_dead", "Spool entries parked after a permanent failure (mailagent spool list --dead).", TRUE},
};

static gint64 metric_values[MA_METRIC_COUNT_];

/* Histogram upper bounds in microseconds; the last bucket (+Inf) is implicit. */
static const gint64 latency_bounds_us[] = {500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
                                           250000, 1000000, 10000000};
#define N_LATENCY_BUCKETS G_N_ELEMENTS(latency_bounds_us)
static gint64 latency_buckets[N_LATENCY_BUCKETS + 1];
static gint64 latency_sum_us;
static gint64 latency_count;

void ma_metrics_add(MaMetric m, gint64 n)
{
  g_return_if_fail(m >= 0 && m < MA_METRIC_COUNT_);
  __atomic_add_fetch(&metric_values[m], n, __ATOMIC_RELAXED);
}

void ma_metrics_set(MaMetric m, gint64 value)
{
  g_return_if_fail(m >= 0 && m < MA_METRIC_COUNT_);
  __atomic_store_n(&metric_values[m], value, __ATOMIC_RELAXED);
}

gint64 ma_metrics_get(MaMetric m)
{
  g_return_val_if_fail(m >= 0 && m < MA_METRIC_COUNT_, 0);
  return __atomic_load_n(&metric_values[m], __ATOMIC_RELAXED);
}

void ma_metrics_count_skip(const char *reason)
{
  static const struct {
    const char *reason;
    MaMetric metric;
  } reasons[] = {
    {"duplicate", MA_METRIC_SKIPPED_DUPLICATE},         {"archiving_off", MA_METRIC_SKIPPED_ARCHIVING_OFF},
    {"unreadable", MA_METRIC_SKIPPED_UNREADABLE},       {"internal_only", MA_METRIC_SKIPPED_INTERNAL_ONLY},
    {"no_matching_record", MA_METRIC_SKIPPED_NO_MATCHING_RECORD}, {"never_log", MA_METRIC_SKIPPED_NEVER_LOG},
    {"auto_reply", MA_METRIC_SKIPPED_AUTO_REPLY},       {"bulk_mail", MA_METRIC_SKIPPED_BULK_MAIL},
    {"loop_throttled", MA_METRIC_SKIPPED_LOOP_THROTTLED},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(reasons); i++)
    if (reason && strcmp(reason, reasons[i].reason) == 0) {
      ma_metrics_inc(reasons[i].metric);
      return;
    }
  ma_metrics_inc(MA_METRIC_SKIPPED_OTHER);
}

void ma_metrics_count_api_status(int status)
{
  if (status >= 200 && status < 600) ma_metrics_inc(MA_METRIC_API_2XX + (status / 100 - 2));
}

void ma_metrics_count_smtp_reply(const char *line)
{
  /* "250 ok" is final, "250-PIPELINING" a continuation: one reply counts once */
  if (line && line[0] >= '2' && line[0] <= '5' && g_ascii_isdigit(line[1]) && g_ascii_isdigit(line[2]) &&
      line[3] != '-')
    ma_metrics_inc(MA_METRIC_SMTP_2XX + (line[0] - '2'));
}

/* process_* metrics from /proc/self, as Prometheus' client libraries name them. */
static void render_process(GString *out)
{
  static gint64 start_time;
  if (!start_time) {
    g_autofree char *stat = NULL;
    g_autofree char *uptime = NULL;
    /* field 22 of /proc/self/stat is the start time in clock ticks after boot */
    if (g_file_get_contents("/proc/self/stat", &stat, NULL, NULL) &&
        g_file_get_contents("/proc/uptime", &uptime, NULL, NULL)) {
      const char *p = strrchr(stat, ')');
      for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');
      double since_boot = p ? g_ascii_strtod(p + 1, NULL) / (double) sysconf(_SC_CLK_TCK) : 0;
      double up = g_ascii_strtod(uptime, NULL);
      start_time = (gint64) ((double) (g_get_real_time() / G_USEC_PER_SEC) - up + since_boot);
    }
  }
  gint64 rss = 0, fds = 0;
  g_autofree char *statm = NULL;
  if (g_file_get_contents("/proc/self/statm", &statm, NULL, NULL)) {
    const char *space = strchr(statm, ' ');
    if (space) rss = g_ascii_strtoll(space + 1, NULL, 10) * sysconf(_SC_PAGESIZE);
  }
  GDir *dir = g_dir_open("/proc/self/fd", 0, NULL);
  if (dir) {
    while (g_dir_read_name(dir)) fds++;
    g_dir_close(dir);
    fds--; /* the directory's own descriptor */
  }
  g_string_append_printf(out,
                         "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                         "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %" G_GINT64_FORMAT "\n"
                         "# HELP process_open_fds Number of open file descriptors.\n"
                         "# TYPE process_open_fds gauge\nprocess_open_fds %" G_GINT64_FORMAT "\n"
                         "# HELP process_start_time_seconds Start time of the process since the epoch, in seconds.\n"
                         "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %" G_GINT64_FORMAT "\n",
                         rss, fds, start_time);
}

void ma_metrics_observe_api_latency(gint64 usec)
{
  guint i = 0;

  if (usec < 0)
    usec = 0;
  while (i < N_LATENCY_BUCKETS && usec > latency_bounds_us[i])
    i++;
  __atomic_add_fetch(&latency_buckets[i], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&latency_sum_us, usec, __ATOMIC_RELAXED);
  __atomic_add_fetch(&latency_count, 1, __ATOMIC_RELAXED);
}

void ma_metrics_render(GString *out)
{
  gint64 cumulative = 0;

  for (int m = 0; m < MA_METRIC_COUNT_; m++) {
    const MetricInfo *info = &metric_info[m];
    /* a labelled family's HELP and TYPE come once, before its first member */
    if (m == 0 || strcmp(metric_info[m - 1].name, info->name) != 0)
      g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", info->name, info->help, info->name,
                             info->gauge ? "gauge" : "counter");
    if (info->label)
      g_string_append_printf(out, "%s{%s} %" G_GINT64_FORMAT "\n", info->name, info->label, ma_metrics_get((MaMetric) m));
    else
      g_string_append_printf(out, "%s %" G_GINT64_FORMAT "\n", info->name, ma_metrics_get((MaMetric) m));
  }
  /* webhook outcomes as one labelled family, read from the counters above (no second count) */
  g_string_append_printf(out,
                         "# HELP mailagent_webhook_attempts_total Webhook delivery attempts by outcome.\n"
                         "# TYPE mailagent_webhook_attempts_total counter\n"
                         "mailagent_webhook_attempts_total{outcome=\"delivered\"} %" G_GINT64_FORMAT "\n"
                         "mailagent_webhook_attempts_total{outcome=\"failed\"} %" G_GINT64_FORMAT "\n",
                         ma_metrics_get(MA_METRIC_WEBHOOK_DELIVERED), ma_metrics_get(MA_METRIC_WEBHOOK_FAILED));
  render_process(out);
  g_string_append(out, "# HELP mailagent_api_request_duration_seconds Time to answer an HTTP API request.\n"
                       "# TYPE mailagent_api_request_duration_seconds histogram\n");
  for (guint i = 0; i <= N_LATENCY_BUCKETS; i++) {
    cumulative += __atomic_load_n(&latency_buckets[i], __ATOMIC_RELAXED);
    if (i < N_LATENCY_BUCKETS)
      g_string_append_printf(out, "mailagent_api_request_duration_seconds_bucket{le=\"%g\"} %" G_GINT64_FORMAT "\n",
                             (double)latency_bounds_us[i] / 1e6, cumulative);
    else
      g_string_append_printf(out, "mailagent_api_request_duration_seconds_bucket{le=\"+Inf\"} %" G_GINT64_FORMAT "\n",
                             cumulative);
  }
  g_string_append_printf(out, "mailagent_api_request_duration_seconds_sum %.6f\n"
                              "mailagent_api_request_duration_seconds_count %" G_GINT64_FORMAT "\n",
                         (double)__atomic_load_n(&latency_sum_us, __ATOMIC_RELAXED) / 1e6, cumulative);
}

void ma_metrics_reset(void)
{
  for (int m = 0; m < MA_METRIC_COUNT_; m++)
    __atomic_store_n(&metric_values[m], 0, __ATOMIC_RELAXED);
  for (guint i = 0; i <= N_LATENCY_BUCKETS; i++)
    __atomic_store_n(&latency_buckets[i], 0, __ATOMIC_RELAXED);
  __atomic_store_n(&latency_sum_us, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&latency_count, 0, __ATOMIC_RELAXED);
}
