/* dry_run.h - a draft rule set evaluated without creating anything (dry_run.c). Answer shape:
 *   {"messages": [{"message": {"id" (null for a file), "subject", "direction", "is_auto",
 *    "is_bulk", "skip_reason" (null: it would be archived), "excluded"}, "records": trace (trace.h)}],
 *    "would_create": number of activities the set would create}
 */
#ifndef MA_DRY_RUN_H
#define MA_DRY_RUN_H

#include "agent/lib/config.h"
#include "rules/rules.h"
#include "storage/storage.h"

#include <jansson.h>

/* set evaluated on one message as ingest would parse and match it (raw is not retained). *out a new
 * reference. 0, or -1 (MA_ERROR_INVALID when the message cannot be parsed). */
int dry_run_raw(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const RulesSet *set, const void *raw,
                gsize len, json_t **out, GError **error);
/* set evaluated on the enterprise's n (1-200) most recently archived messages, newest first, with
 * their stored links (also those that have an activity already). 0 or -1. */
int dry_run_last(MaStorage *st, const char *enterprise_id, const RulesSet *set, int n, json_t **out, GError **error);

#endif
