/* activities.h - turns an archived message into sales activities by the enterprise's rules.
 *
 * Called by the pipeline after a message is archived, and again when a duplicate copy arrives (its
 * provenance may now satisfy a rule), and by `rules replay`. For each link of the message without
 * an activity, walks the enabled rules in order; the first whose object types include the record's
 * type and whose conditions hold creates one activity and an "activity.created" outbox event.
 * Idempotent: storage's (message, record) unique key makes a repeat a no-op. Does nothing while the
 * enterprise's `activities` setting is off. Runs inside the caller's transaction.
 */
#ifndef MA_ACTIVITIES_H
#define MA_ACTIVITIES_H

#include "agent/lib/model.h"
#include "storage/storage.h"

/* Returns the number of activities created (>= 0), or -1 with *error set. provenance: the copy
 * that just arrived (NULL for replay: all stored provenance rows are considered). */
int activities_apply(MaStorage *st, const char *enterprise_id, const char *message_id,
                     const MaProvenance *provenance, GError **error);

#endif
