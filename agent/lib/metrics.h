/* metrics.h - process-wide counters and gauges for GET /metrics (Prometheus text format).
 *
 * Any module, on any thread, bumps a counter with ma_metrics_inc(MA_METRIC_..., n); the values are
 * plain atomic 64-bit integers (no locks, no allocation), so counting is cheap enough for hot paths.
 * Gauges (spool depth, open SMTP sessions) are set or moved with ma_metrics_set / ma_metrics_add.
 * API request latencies go into a fixed-bucket histogram with ma_metrics_observe_api_latency.
 * Counters are per process (they start at 0 when `mailagent serve` starts), as Prometheus expects.
 * Never put a label value that comes from a peer (an address, a path) in here: cardinality is fixed.
 */
#ifndef MA_METRICS_H
#define MA_METRICS_H

#include <glib.h>

typedef enum {
  /* counters */
  MA_METRIC_MESSAGES_RECEIVED,   /* accepted into the spool (SMTP, collector, ingest) */
  MA_METRIC_MESSAGES_ARCHIVED,   /* written to the archive */
  MA_METRIC_MESSAGES_SKIPPED,    /* not archived (no record matched, settings, duplicate) */
  MA_METRIC_MESSAGES_FAILED,     /* pipeline failures (parked) */
  MA_METRIC_ACTIVITIES_CREATED,
  MA_METRIC_SMTP_SESSIONS_TOTAL, /* SMTP connections accepted */
  MA_METRIC_WEBHOOK_DELIVERED,
  MA_METRIC_WEBHOOK_FAILED,      /* failed attempts */
  MA_METRIC_API_REQUESTS,        /* HTTP requests answered by our handlers */
  MA_METRIC_API_ERRORS,          /* of which answered with status >= 500 */
  MA_METRIC_API_CONNECTIONS_REFUSED, /* over [api] max_connections: 503 and closed */
  MA_METRIC_API_UNAUTHENTICATED, /* closed with 401 from the request head, body never read */
  /* gauges */
  MA_METRIC_SMTP_SESSIONS_OPEN,
  MA_METRIC_API_CONNECTIONS_OPEN,
  MA_METRIC_SPOOL_DEPTH,         /* spool entries not yet processed */
  MA_METRIC_COUNT_
} MaMetric;

/* Adds n (may be negative for gauges) to the metric. Thread-safe. */
void ma_metrics_add(MaMetric m, gint64 n);
#define ma_metrics_inc(m) ma_metrics_add((m), 1)
/* Sets a gauge. Thread-safe. */
void ma_metrics_set(MaMetric m, gint64 value);
gint64 ma_metrics_get(MaMetric m);

/* Records one API request's latency in microseconds (histogram buckets 0.5 ms .. 10 s). */
void ma_metrics_observe_api_latency(gint64 usec);

/* Appends the Prometheus exposition text of every metric to out (a GString owned by the caller).
 * Values that need storage (archived totals, webhook backlog) are added by the API itself. */
void ma_metrics_render(GString *out);

/* Test hook: zeroes everything. */
void ma_metrics_reset(void);

#endif
