/* trace.c - the rules' evaluation of one message told step by step, for `mailagent explain`, GET
 * /v1/messages/{id}/explain and the rule dry run (`mailagent rules test`, POST /v1/rules:test).
 * Evaluates exactly as activities_plan does (same input, rules in order, first match wins per
 * record) but records every rule's outcome and the condition that decided it, and writes nothing:
 * no activity, no event, no cache entry. Never logs message text.
 */
#include "trace.h"

#include "activities.h"

/* One rule's line: {"id","name","position","result","condition"}. */
static json_t *rule_line(const RulesRule *rule, const char *result, int deciding)
{
  const json_t *canon = rules_rule_json(rule);
  const json_t *cond = deciding >= 0 ? json_array_get(json_object_get(canon, "conditions"), (size_t) deciding) : NULL;
  return json_pack("{s:s?, s:s?, s:I, s:s, s:O?}", "id", rules_rule_id(rule), "name", rules_rule_name(rule), "position",
                   (json_int_t) rules_rule_position(rule), "result", result, "condition", (json_t *) cond);
}

/* The rules' outcome for the input's current record, in order; returns the matched rule or NULL. */
static const RulesRule *trace_record(const RulesSet *set, MaRecordType type, RulesInput *in, json_t *lines)
{
  const RulesRule *matched = NULL;
  for (guint i = 0; i < rules_set_count(set); i++) {
    const RulesRule *rule = rules_set_nth(set, i);
    if (matched) {
      json_array_append_new(lines, rule_line(rule, "not_reached", -1));
      continue;
    }
    if (!rules_rule_enabled(rule)) {
      json_array_append_new(lines, rule_line(rule, "disabled", -1));
      continue;
    }
    if (!rules_rule_applies_to(rule, type)) {
      json_array_append_new(lines, rule_line(rule, "other_record_type", -1));
      continue;
    }
    if (rules_input_budget_exhausted(in)) {
      json_array_append_new(lines, rule_line(rule, "budget_exhausted", -1));
      continue;
    }
    int deciding = -1;
    gboolean ok = rules_rule_trace(rule, in, &deciding);
    if (rules_input_budget_exhausted(in)) {
      json_array_append_new(lines, rule_line(rule, "budget_exhausted", deciding));
      continue;
    }
    json_array_append_new(lines, rule_line(rule, ok ? "matched" : "failed", deciding));
    if (ok) matched = rule;
  }
  return matched;
}

int trace_rules(MaStorage *st, const char *enterprise_id, const MaStoredMessage *m, const GPtrArray *links,
                const MaProvenance *provenance, const RulesSet *set, json_t **out, GError **error)
{
  *out = NULL;
  g_autofree char *employee_email = NULL;
  g_autoptr(RulesInput) in = activities_input(st, enterprise_id, m, provenance, &employee_email, error);
  if (!in) return -1;
  json_t *records = json_array();
  for (guint i = 0; i < links->len; i++) {
    const MaRecordRef *ref = links->pdata[i];
    json_t *item = json_pack("{s:{s:s, s:s}, s:s?}", "record", "type", ma_record_type_name(ref->type), "id", ref->id,
                             "reason", ref->reason);
    json_array_append_new(records, item);
    MaRecord *rec = NULL;
    int found = storage_record_get(st, enterprise_id, ref->type, ref->id, &rec, error);
    if (found < 0) {
      json_decref(records);
      return -1;
    }
    if (found == 0) { /* deleted since it was linked: rules are not evaluated for it */
      json_object_set_new(item, "record_deleted", json_true());
      continue;
    }
    rules_input_set_record(in, rec->type, rec->name, rec->stage, rec->attributes_json);
    ma_record_free(rec);
    json_t *lines = json_array();
    json_object_set_new(item, "rules", lines);
    const RulesRule *rule = set ? trace_record(set, ref->type, in, lines) : NULL;
    if (!rule) {
      json_object_set_new(item, "activity", json_null());
      continue;
    }
    char *title = rules_render_title(rule, in), *content = rules_render_content(rule, in);
    json_object_set_new(item, "activity", json_pack("{s:s?, s:s, s:s, s:s}", "rule_id", rules_rule_id(rule),
                                                    "activity_type", rules_rule_activity_type(rule), "title", title,
                                                    "content", content));
    g_free(title);
    g_free(content);
  }
  *out = records;
  return 0;
}
