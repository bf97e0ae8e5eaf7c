/* metrics.c - process-wide atomic counters and the API latency histogram, rendered as Prometheus
 * text (metrics.h). Lock-free: every value is a gint64 updated with GCC atomics, so any thread may
 * count. The rendering reads each value once; a scrape racing an update may see a histogram whose
 * buckets and count differ by the requests in flight, which Prometheus tolerates.
 */
#include "metrics.h"

#include <stdint.h>

typedef struct {
  const char *name;
  const char *help;
  gboolean gauge;
} MetricInfo;

static const MetricInfo metric_info[MA_METRIC_COUNT_] = {
  [MA_METRIC_MESSAGES_RECEIVED] = {"mailagent_messages_received_total", "Messages accepted into the spool.", FALSE},
  [MA_METRIC_MESSAGES_ARCHIVED] = {"mailagent_messages_archived_total", "Messages written to the archive.", FALSE},
  [MA_METRIC_MESSAGES_SKIPPED] = {"mailagent_messages_skipped_total", "Messages not archived (no record, settings, duplicate).", FALSE},
  [MA_METRIC_MESSAGES_FAILED] = {"mailagent_messages_failed_total", "Messages the pipeline could not process.", FALSE},
  [MA_METRIC_ACTIVITIES_CREATED] = {"mailagent_activities_created_total", "CRM activities created by rules.", FALSE},
  [MA_METRIC_SMTP_SESSIONS_TOTAL] = {"mailagent_smtp_sessions_total", "SMTP connections accepted.", FALSE},
  [MA_METRIC_WEBHOOK_DELIVERED] = {"mailagent_webhook_delivered_total", "Webhook events delivered.", FALSE},
  [MA_METRIC_WEBHOOK_FAILED] = {"mailagent_webhook_failed_total", "Failed webhook delivery attempts.", FALSE},
  [MA_METRIC_API_REQUESTS] = {"mailagent_api_requests_total", "HTTP API requests answered.", FALSE},
  [MA_METRIC_API_ERRORS] = {"mailagent_api_errors_total", "HTTP API requests answered with a 5xx status.", FALSE},
  [MA_METRIC_API_CONNECTIONS_REFUSED] = {"mailagent_api_connections_refused_total", "API connections refused over [api] max_connections (503).", FALSE},
  [MA_METRIC_API_UNAUTHENTICATED] = {"mailagent_api_unauthenticated_total", "API connections answered 401 from the request head and closed before any body was read.", FALSE},
  [MA_METRIC_API_CONNECTIONS_OPEN] = {"mailagent_api_connections_open", "API connections open now.", TRUE},
  [MA_METRIC_SMTP_SESSIONS_OPEN] = {"mailagent_smtp_sessions_open", "SMTP sessions open now.", TRUE},
  [MA_METRIC_SPOOL_DEPTH] = {"mailagent_spool_depth", "Spool entries waiting for the pipeline.", TRUE},
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
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %" G_GINT64_FORMAT "\n", info->name,
                           info->help, info->name, info->gauge ? "gauge" : "counter", info->name,
                           ma_metrics_get((MaMetric)m));
  }
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
