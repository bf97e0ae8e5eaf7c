/* loop_guard.h - loop protection (issue 16): an outside sender whose inbound mail linked to one
 * record passes the enterprise's loop_limit within loop_window_minutes (settings.h) is throttled:
 * its next messages are not archived (skip reason "loop_throttled"), so two auto-responders
 * answering each other cannot fill a timeline without end. The first message over the limit in a
 * window is reported: a warning in the log (enterprise and record, never the address), a
 * "loop.throttled" webhook event (record, sender, limit, window) and, like every skip, the
 * mailagent_messages_skipped_total{reason="loop_throttled"} counter. Outbound mail and internal
 * senders are never throttled.
 */
#ifndef MA_LOOP_GUARD_H
#define MA_LOOP_GUARD_H

#include "agent/match/match.h"
#include "pipeline.h"

/* Inside the pipeline's transaction, before archiving a matched message. 1 throttled (r's outcome
 * and skip reason set; the report written once per window), 0 not, -1 error. */
int loop_guard(MaStorage *st, const MaMatchContext *ctx, const MaMatch *match, MaIngestResult *r, GError **error);

#endif
