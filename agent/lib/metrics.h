/* metrics.h - process-wide counters and gauges for GET /metrics (Prometheus text format).
 *
 * Any module, on any thread, bumps a counter with ma_metrics_inc(MA_METRIC_..., n); the values are
 * plain atomic 64-bit integers (no locks, no allocation), so counting is cheap enough for hot paths.
 * Gauges (spool depth, open SMTP sessions) are set or moved with ma_metrics_set / ma_metrics_add.
 * API request latencies go into a fixed-bucket histogram with ma_metrics_observe_api_latency.
 * Counters are per process (they start at 0 when `mailagent serve` starts), as Prometheus expects.
 * Never put a label value that comes from a peer (an address, a path) in here: cardinality is fixed.
 * A labelled family is a run of enum values sharing a name, each with its fixed label; the render
 * also reports the process itself (process_resident_memory_bytes, process_open_fds,
 * process_start_time_seconds), as Prometheus client libraries do.
 */
#ifndef MA_METRICS_H
#define MA_METRICS_H

#include <glib.h>

typedef enum {
  /* counters */
  MA_METRIC_MESSAGES_RECEIVED,   /* accepted into the spool (SMTP, collector, ingest) */
  MA_METRIC_MESSAGES_ARCHIVED,   /* written to the archive */
  /* mailagent_messages_skipped_total{reason}: not archived, by reason (ma_metrics_count_skip) */
  MA_METRIC_SKIPPED_DUPLICATE,
  MA_METRIC_SKIPPED_ARCHIVING_OFF,
  MA_METRIC_SKIPPED_UNREADABLE,
  MA_METRIC_SKIPPED_INTERNAL_ONLY,
  MA_METRIC_SKIPPED_NO_MATCHING_RECORD,
  MA_METRIC_SKIPPED_NEVER_LOG,
  MA_METRIC_SKIPPED_AUTO_REPLY,
  MA_METRIC_SKIPPED_BULK_MAIL,
  MA_METRIC_SKIPPED_LOOP_THROTTLED,
  MA_METRIC_SKIPPED_OTHER,
  MA_METRIC_MESSAGES_FAILED,     /* pipeline failures (parked) */
  MA_METRIC_ACTIVITIES_CREATED,
  MA_METRIC_SMTP_SESSIONS_TOTAL, /* SMTP connections accepted */
  MA_METRIC_WEBHOOK_DELIVERED,
  MA_METRIC_WEBHOOK_FAILED,      /* failed attempts */
  MA_METRIC_WEBHOOK_DEAD,        /* events parked as dead after their last attempt */
  MA_METRIC_API_REQUESTS,        /* HTTP requests answered by our handlers */
  MA_METRIC_API_ERRORS,          /* of which answered with status >= 500 */
  /* mailagent_api_responses_total{class}: by status class (ma_metrics_count_api_status) */
  MA_METRIC_API_2XX,
  MA_METRIC_API_3XX,
  MA_METRIC_API_4XX,
  MA_METRIC_API_5XX,
  /* mailagent_smtp_replies_total{class}: final SMTP reply lines by class (ma_metrics_count_smtp_reply) */
  MA_METRIC_SMTP_2XX,
  MA_METRIC_SMTP_3XX,
  MA_METRIC_SMTP_4XX,
  MA_METRIC_SMTP_5XX,
  MA_METRIC_RULES_BUDGET_EXHAUSTED, /* messages whose rules ran out of their budget (rules.h) */
  MA_METRIC_MAILBOX_FETCHED,     /* messages the collector made durable in the spool */
  MA_METRIC_MAILBOX_SYNC_FAILED, /* mailbox syncs that ended in an error */
  MA_METRIC_MAILBOX_NEEDS_REAUTH,/* bindings set to needs_reauth (OAuth2 grant revoked) */
  MA_METRIC_API_CONNECTIONS_REFUSED, /* over [api] max_connections: 503 and closed */
  MA_METRIC_API_UNAUTHENTICATED, /* closed with 401 from the request head, body never read */
  /* gauges */
  MA_METRIC_SMTP_SESSIONS_OPEN,
  MA_METRIC_API_CONNECTIONS_OPEN,
  MA_METRIC_SPOOL_DEPTH,         /* spool entries not yet processed */
  MA_METRIC_SPOOL_DEAD,          /* spool entries parked as dead (a permanent failure) */
  MA_METRIC_COUNT_
} MaMetric;

/* Adds n (may be negative for gauges) to the metric. Thread-safe. */
void ma_metrics_add(MaMetric m, gint64 n);
#define ma_metrics_inc(m) ma_metrics_add((m), 1)
/* Sets a gauge. Thread-safe. */
void ma_metrics_set(MaMetric m, gint64 value);
gint64 ma_metrics_get(MaMetric m);

/* Labelled families: count one skipped message by its pipeline reason (pipeline.h; an unknown
 * reason counts as "other"), one API answer by its status, one final SMTP reply by its code. */
void ma_metrics_count_skip(const char *reason);
void ma_metrics_count_api_status(int status);
void ma_metrics_count_smtp_reply(const char *reply_line);

/* Records one API request's latency in microseconds (histogram buckets 0.5 ms .. 10 s). */
void ma_metrics_observe_api_latency(gint64 usec);

/* Appends the Prometheus exposition text of every metric to out (a GString owned by the caller).
 * Values that need storage (archived totals, webhook backlog) are added by the API itself. */
void ma_metrics_render(GString *out);

/* Test hook: zeroes everything. */
void ma_metrics_reset(void);

#endif
