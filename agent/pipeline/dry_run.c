/* dry_run.c - the rule dry run (`mailagent rules test`, POST /v1/rules:test): a draft rule set is
 * evaluated against one message (raw bytes, parsed and matched exactly as ingest would) or against
 * the enterprise's last N archived messages (their stored fields and links), and the answer says,
 * per message and linked record, each rule's outcome in order and the activity that would be
 * created. Nothing is written: no message, link, activity, event or rule (the draft is never
 * stored), so the database is the same before and after (tests/integration/rules_dry_run.sh
 * compares row counts).
 */
#include "dry_run.h"

#include "pipeline.h"
#include "trace.h"

#define DRY_RUN_LAST_MAX 200

static json_t *message_json(const MaStoredMessage *m, const char *skip_reason, GPtrArray *excluded)
{
  json_t *ex = json_array();
  for (guint i = 0; excluded && i < excluded->len; i++) json_array_append_new(ex, json_string(excluded->pdata[i]));
  return json_pack("{s:s?, s:s, s:s, s:b, s:b, s:s?, s:o}", "id", m->id, "subject", m->subject ? m->subject : "",
                   "direction", ma_direction_name(m->direction), "is_auto", (m->machine & MA_MACHINE_AUTO) != 0,
                   "is_bulk", (m->machine & MA_MACHINE_BULK) != 0, "skip_reason", skip_reason, "excluded", ex);
}

/* Appends {"message", "records": trace} to items; adds the activities it would create to *count. */
static int add_item(MaStorage *st, const char *ent, const MaStoredMessage *m, const GPtrArray *links,
                    const MaProvenance *prov, const RulesSet *set, const char *skip_reason, GPtrArray *excluded,
                    json_t *items, gint64 *count, GError **error)
{
  json_t *trace = NULL;
  if (skip_reason) {
    trace = json_array(); /* skipped mail makes no activity */
  } else if (trace_rules(st, ent, m, links, prov, set, &trace, error) < 0) {
    return -1;
  }
  size_t i;
  json_t *rec;
  json_array_foreach(trace, i, rec)
    if (json_is_object(json_object_get(rec, "activity"))) (*count)++;
  json_array_append_new(items, json_pack("{s:o, s:o}", "message", message_json(m, skip_reason, excluded), "records", trace));
  return 0;
}

int dry_run_raw(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const RulesSet *set, const void *raw,
                gsize len, json_t **out, GError **error)
{
  *out = NULL;
  MaPipeline *p = pipeline_new(st, cfg);
  MaParsedMessage *pm = pipeline_parse(p, raw, len);
  MaPreview pv = {0};
  int rc = pipeline_preview(p, enterprise_id, pm, &pv, error);
  json_t *items = json_array();
  gint64 count = 0;
  if (rc == 0 && !pv.view) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the message cannot be parsed (it would be archived unparsed, with no link)");
    rc = -1;
  }
  if (rc == 0) {
    MaProvenance *prov = ma_provenance_new("ingest"); /* as `mailagent ingest` would see it */
    rc = add_item(st, enterprise_id, pv.view, pv.links, prov, set, pv.skip_reason, pv.excluded, items, &count, error);
    ma_provenance_free(prov);
  }
  ma_preview_clear(&pv);
  pipeline_parsed_free(pm);
  pipeline_free(p);
  if (rc < 0) {
    json_decref(items);
    return -1;
  }
  *out = json_pack("{s:o, s:I}", "messages", items, "would_create", (json_int_t) count);
  return 0;
}

int dry_run_last(MaStorage *st, const char *enterprise_id, const RulesSet *set, int n, json_t **out, GError **error)
{
  *out = NULL;
  if (n < 1 || n > DRY_RUN_LAST_MAX) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "last: 1 to %d messages", DRY_RUN_LAST_MAX);
    return -1;
  }
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  if (storage_message_ids_latest(st, enterprise_id, n, ids, error) < 0) return -1;
  json_t *items = json_array();
  gint64 count = 0;
  for (guint i = 0; i < ids->len; i++) {
    MaStoredMessage *m = NULL;
    g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
    int rc = storage_message_get(st, enterprise_id, ids->pdata[i], &m, error);
    if (rc == 1) rc = storage_message_links(st, enterprise_id, m->id, links, error);
    if (rc == 0 && m) rc = add_item(st, enterprise_id, m, links, NULL, set, NULL, NULL, items, &count, error);
    ma_stored_message_free(m);
    if (rc < 0) {
      json_decref(items);
      return -1;
    }
  }
  *out = json_pack("{s:o, s:I}", "messages", items, "would_create", (json_int_t) count);
  return 0;
}
