/* pending.h - late re-matching (issue 16): mail skipped because no record matched it is held in
 * the pending store for the enterprise's pending_days (settings.h), then archived when a record
 * that matches it is imported or changed, or purged when the window ends.
 *
 * - pending_hold (the pipeline, inside its transaction): the raw copy as a blob and the external
 *   participants' address keys, indexed for re-matching; the reason it was skipped is kept.
 * - pending_rematch (after a records import or change commits: CLI and API): the held messages a
 *   participant of which now has a record (by address, without +tag) or an account (by domain)
 *   go through the pipeline again, in their own transactions: matched, archived, rules run for
 *   the new links exactly as for new mail (one activity per message and record at most), and
 *   released from the store. Cost: one index probe per held participant, never the archive.
 * - pending_purge_start/stop (serve): a thread that purges expired held mail every
 *   PENDING_PURGE_MS of real time, comparing expiry with ma_now() (so the test clock moves it);
 *   in a cluster only the holder of the "pending_purge" job lease purges (storage_job_lease).
 * Never logs addresses or bodies.
 */
#ifndef MA_PENDING_H
#define MA_PENDING_H

#include "agent/lib/config.h"
#include "agent/lib/model.h"
#include "agent/lib/raw.h"
#include "agent/tenant/settings.h"
#include "storage/storage.h"

#define PENDING_PURGE_MS 1000
#define PENDING_REMATCH_BATCH 500

/* Holds raw (its octets; borrowed) for enterprise_id when settings->pending_days > 0 and the capture level
 * keeps raw copies (not metadata), with the external
 * address keys (char*) and the copy's provenance (may be NULL). In the caller's transaction.
 * 1 held (or held already), 0 not held (pending_days 0), -1 error. */
int pending_hold(MaStorage *st, const char *enterprise_id, const MaSettings *settings, const MaRaw *raw,
                 const GPtrArray *external_keys, const char *reason, const MaProvenance *prov, GError **error);

/* What a records import or change did (codec_import's result, or one PUT/DELETE). */
typedef struct {
  const GPtrArray *emails;  /* char*: lower-case emails of records created or changed; may be NULL */
  const GPtrArray *domains; /* char*: domains of accounts created or changed; may be NULL */
  const GPtrArray *deleted; /* MaRecordRef*: records deleted; may be NULL */
} MaRecordChanges;

typedef struct {
  gint64 released;   /* held messages now matched: archived (or found archived) and released */
  gint64 relinked;   /* recent archived messages that got new links */
  gint64 unlinked;   /* archived messages that lost a link to a deleted record */
  gint64 returned;   /* of which, linked to nothing any more, left the archive (held again) */
} MaRematchStats;

/* After a records change has committed, outside any transaction:
 * - deleted records: their links go; a message linked to nothing any more stays archived when
 *   archive_unmatched is on, else leaves the archive and is held again for pending_days (with its
 *   raw copy; not held when pending_days is 0 or capture_level kept no raw copy);
 * - held mail a record now matches (by address or domain) goes through the pipeline again;
 * - archived mail of the last relink_days (setting) with a participant at a changed email or account
 *   domain is matched again (relink.c); new links get their reasons and the rules run for them
 *   alone, once.
 * Cost: index probes per changed email/domain and per held participant, never the archive.
 * *stats may be NULL. 0 or -1. */
int pending_rematch(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const MaRecordChanges *changes,
                    MaRematchStats *stats, GError **error);

/* Starts the purge thread with its own storage handle. 0 or -1. */
int pending_purge_start(const MaConfig *cfg, GError **error);
/* Stops and joins it; accepts not started. */
void pending_purge_stop(void);

#endif
