/* trace.h - why a message is where it is: the rules' evaluation told step by step (trace.c) and
 * the whole explanation of an archived message (explain.c), for `mailagent explain`, GET
 * /v1/messages/{id}/explain and the rule dry run (`mailagent rules test`, POST /v1/rules:test).
 * Read only: nothing here writes to storage.
 *
 * JSON shapes (field names shared by CLI --json and the API):
 *   trace: [{"record": {"type","id"}, "reason", "record_deleted"?, "rules": [{"id","name",
 *            "position","result","condition"}], "activity": {"rule_id","activity_type","title",
 *            "content"} | null}]
 *   result: "matched" | "failed" (condition: the one that decided, null when none did) |
 *           "disabled" | "other_record_type" | "not_reached" (an earlier rule matched) |
 *           "budget_exhausted"
 */
#ifndef MA_TRACE_H
#define MA_TRACE_H

#include "agent/lib/config.h"
#include "agent/lib/model.h"
#include "rules/rules.h"
#include "storage/storage.h"

#include <jansson.h>

/* Evaluates set (NULL: nothing is evaluated, every activity is null) on message m for each record
 * of links (MaRecordRef*), creating nothing. provenance as for activities_plan. *out: a new JSON
 * array (the trace shape above). 0 or -1. */
int trace_rules(MaStorage *st, const char *enterprise_id, const MaStoredMessage *m, const GPtrArray *links,
                const MaProvenance *provenance, const RulesSet *set, json_t **out, GError **error);

/* The explanation of archived message message_id: {"message": {id, subject, date, direction,
 * is_auto, is_bulk, machine_reason, unparsed}, "participants": [{role, name, address, class:
 * "internal"|"external"|"excluded"}], "exclusions": [{address, never_log}], "links": [{type, id,
 * reason}], "rules": trace of the enterprise's current rules, "rules_changed_at": null, or when the
 * rules last changed after the message was archived (RFC 3339; "unknown" past the audit look-back),
 * "activities": [{id, record, rule_id, activity_type, title}]}. 1 with *out (new reference), 0 when the enterprise has no such
 * message, -1 on error. cfg may be NULL. */
int explain_message(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *message_id,
                    json_t **out, GError **error);

#endif
