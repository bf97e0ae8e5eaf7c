/* activities.h - turns an archived message into sales activities by the enterprise's rules.
 *
 * For each link of a message, walks the enabled rules in order; the first whose object types
 * include the record's type and whose conditions hold makes one activity and an
 * "activity.created" outbox event. Idempotent: storage's (message, record) unique key makes a
 * repeat a no-op. Does nothing while the enterprise's `activities` setting is off.
 *
 * Evaluate, then write: rule evaluation (regexes, bounded by the per-message budget of rules.h)
 * never runs while the archive's write transaction is open. The pipeline calls activities_plan
 * before it opens the transaction (it reads rules, records, employees: no lock held) and
 * activities_write inside it (a few inserts). A plan whose budget ran out holds the activities of
 * the links evaluated before that point, none after; the caller logs it and counts it
 * (mailagent_rules_budget_exhausted_total). `rules replay` plans a batch of stored messages
 * (activities_plan_stored), then writes it in one transaction; activities_apply does both at once.
 */
#ifndef MA_ACTIVITIES_H
#define MA_ACTIVITIES_H

#include "agent/lib/model.h"
#include "rules/rules.h"
#include "storage/storage.h"

typedef struct MaActivityPlan MaActivityPlan;

/* *on: activities are on for the enterprise and it has at least one rule (nothing to plan
 * otherwise). 0, or -1 with *error. */
int activities_enabled(MaStorage *st, const char *enterprise_id, gboolean *on, GError **error);

/* Evaluates the rules for message m and each record of links (MaRecordRef*), reading storage
 * only; call it outside the write transaction. m carries the fields rules read, as they will be
 * archived (subject, text, snippet, direction, size, participants, attachments); m->id is only
 * read when provenance is NULL (then the stored provenance rows of m->id are used). *out: a new
 * plan (activities_plan_free), or NULL when activities are off or there is no rule or no link.
 * 0, or -1 with *error. */
int activities_plan(MaStorage *st, const char *enterprise_id, const MaStoredMessage *m, const GPtrArray *links,
                    const MaProvenance *provenance, MaActivityPlan **out, GError **error);
/* Writes the plan's activities for archived message message_id, in the caller's transaction; with
 * links (MaRecordRef*, may be NULL), only those of records still among them. plan may be NULL.
 * Returns the number created (>= 0; existing ones are not counted), or -1 with *error. */
int activities_write(MaStorage *st, const char *enterprise_id, const char *message_id, gint64 message_date,
                     const GPtrArray *links, const MaActivityPlan *plan, GError **error);
/* Accept NULL. */
void activities_plan_free(MaActivityPlan *plan);
gboolean activities_plan_exhausted(const MaActivityPlan *plan); /* the rules budget ran out */
guint64 activities_plan_units(const MaActivityPlan *plan);      /* regex units used */
guint activities_plan_count(const MaActivityPlan *plan);        /* activities planned */

/* activities_plan for an archived message: its links without an activity, its stored fields.
 * provenance: the copy that just arrived (NULL for replay: all stored provenance rows are
 * considered). Logs a plan whose budget ran out. *out as for activities_plan; 0, or -1 with
 * *error (MA_ERROR_NOT_FOUND for an unknown message). */
int activities_plan_stored(MaStorage *st, const char *enterprise_id, const char *message_id,
                           const MaProvenance *provenance, MaActivityPlan **out, GError **error);
/* The stored message's date, for activities_write after activities_plan_stored (0 for NULL). */
gint64 activities_plan_message_date(const MaActivityPlan *plan);

/* activities_plan_stored then activities_write. Returns the number of activities created (>= 0),
 * or -1 with *error set. Evaluates inside the caller's transaction when there is one: callers
 * that write plan first instead (the pipeline, `rules replay`). */
int activities_apply(MaStorage *st, const char *enterprise_id, const char *message_id,
                     const MaProvenance *provenance, GError **error);

/* ---- for explain and dry runs (trace.c) ------------------------------------------------------- */

/* The enterprise's parsed rules when activities are on and it has at least one rule, else NULL.
 * *out is a new reference. 0 or -1. */
int activities_rules(MaStorage *st, const char *enterprise_id, RulesSet **out, GError **error);
/* The rules input of message m, as activities_plan builds it (provenance NULL: m->id's stored
 * copies); *employee_email (newly allocated or NULL) is the first copy's employee address. A new
 * input, or NULL with *error. */
RulesInput *activities_input(MaStorage *st, const char *enterprise_id, const MaStoredMessage *m,
                             const MaProvenance *provenance, char **employee_email, GError **error);

/* `rules replay` (CLI and POST /v1/rules:replay): applies the current rules to every message of the
 * enterprise archived at or after since, ACTIVITIES_REPLAY_BATCH messages per transaction, their
 * rules evaluated before it opens. Idempotent: a (message, record) that has an activity gets no
 * second one. progress (may be NULL) is called after each committed batch with the running
 * totals. Adds to *messages and *created; 0, or -1 with *error (earlier batches stay committed). */
#define ACTIVITIES_REPLAY_BATCH 200
typedef void (*ActivitiesReplayProgress)(gint64 messages, gint64 created, gpointer user_data);
int activities_replay(MaStorage *st, const char *enterprise_id, gint64 since, ActivitiesReplayProgress progress,
                      gpointer user_data, gint64 *messages, gint64 *created, GError **error);

#endif
