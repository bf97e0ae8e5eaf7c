/* retention.h - per-enterprise retention (the retention_days setting) and its schedule in `serve`.
 *
 * A run deletes, per enterprise whose retention_days is above 0, every message archived more than
 * that many days before `now` (ma_now(): the test clock moves it), with its index entries, blobs,
 * links and local activity copies (the CRM keeps its activities), in batches so no transaction
 * holds the write lock long; then compacts the index and the write-ahead log
 * (storage_search_compact), so nothing of the deleted mail stays in any file.
 */
#ifndef MA_RETENTION_H
#define MA_RETENTION_H

#include "agent/lib/config.h"
#include "storage/storage_search.h"

/* One enterprise (id): deletes what its retention_days expires, without compacting. Adds to
 * *counts. 0 or -1. */
int retention_expire(MaStorage *st, const char *enterprise_id, gint64 now, MaEraseCounts *counts, GError **error);
/* Every enterprise; then compacts (always: see retention.c). 0 or -1. */
int retention_run_all(MaStorage *st, gint64 now, MaEraseCounts *counts, GError **error);

/* serve: a thread with its own storage handle runs retention_run_all at start and then whenever
 * RETENTION_PERIOD_SECONDS of ma_now() have passed since the last run (checked every second of
 * real time). 0, or -1 when storage cannot be opened. */
#define RETENTION_PERIOD_SECONDS 3600
int retention_scheduler_start(const MaConfig *cfg, GError **error);
/* Asks the thread to run storage_search_compact at its next wake-up (within a second): the API
 * erases on its own thread and leaves the index rewrite, which can take seconds on a large
 * archive, to this one. Thread-safe; a no-op when the scheduler is not running. */
void retention_scheduler_request_compact(void);
void retention_scheduler_stop(void);

#endif
