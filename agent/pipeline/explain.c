/* explain.c - explain_message (trace.h): everything that decided where an archived message
 * landed, read back from storage: its participants as matching classifies them today (internal,
 * external, excluded by never_log), the links with the reasons matching stored when it linked
 * them, the machine-mail flags, the enterprise's current rules evaluated in order for each link
 * (trace.c), whether those rules changed after the message was archived (the audit log), and the
 * activities that were made. Read only; scoped to one enterprise.
 */
#include "trace.h"

#include "activities.h"
#include "agent/codec/codec.h"
#include "agent/match/match.h"

#include <string.h>

static json_t *participants_json(const MaMatchContext *ctx, const MaStoredMessage *m, json_t *exclusions)
{
  json_t *arr = json_array();
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = m->participants->pdata[i];
    const char *class = "external";
    if (match_is_internal(ctx, p->address)) {
      class = "internal";
    } else {
      g_autofree char *key = ma_address_key(p->address, FALSE);
      const char *never = settings_never_log_match(ctx->settings, key);
      if (never) {
        class = "excluded";
        json_array_append_new(exclusions, json_pack("{s:s, s:s}", "address", p->address, "never_log", never));
      }
    }
    if (p->role == MA_ROLE_REPLY_TO) class = "not_matched"; /* Reply-To is kept, never matched */
    json_array_append_new(arr, json_pack("{s:s, s:s?, s:s, s:s}", "role", ma_role_name(p->role), "name", p->name,
                                         "address", p->address, "class", class));
  }
  return arr;
}

static json_t *activities_json(GPtrArray *acts)
{
  json_t *arr = json_array();
  for (guint i = 0; i < acts->len; i++) {
    const MaActivity *a = acts->pdata[i];
    json_array_append_new(arr, json_pack("{s:s, s:{s:s, s:s}, s:s?, s:s?, s:s?}", "id", a->id, "record", "type",
                                         ma_record_type_name(a->record.type), "id", a->record.id, "rule_id",
                                         a->rule_id, "activity_type", a->activity_type, "title", a->title));
  }
  return arr;
}

#define AUDIT_PAGE 200
#define AUDIT_PAGES_MAX 25 /* administrative changes are few; past 5,000 of them the answer is "unknown" */

/* The trace evaluates today's rules, which may not be those the message met: the newest change to
 * the enterprise's rules after since (Unix seconds), read back from the audit log, which every rule
 * edit writes in its own transaction. *at: its time; 0 when none; -1 when the log since then is
 * longer than the look-back allows. 0 or -1 on error. */
static int rules_changed_after(MaStorage *st, const char *enterprise_id, gint64 since, gint64 *at, GError **error)
{
  *at = 0;
  gint64 before = 0;
  for (int page = 0; page < AUDIT_PAGES_MAX; page++) {
    g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func((GDestroyNotify) ma_audit_entry_free);
    if (storage_audit_list(st, enterprise_id, before, AUDIT_PAGE, entries, error) < 0) return -1;
    for (guint i = 0; i < entries->len; i++) { /* newest first */
      const MaAuditEntry *e = entries->pdata[i];
      if (e->at <= since) return 0; /* a change in the second of archiving is taken as before it */
      if (g_str_has_prefix(e->action, "rules.") && strcmp(e->action, "rules.replay") != 0) {
        *at = e->at;
        return 0;
      }
      before = e->seq;
    }
    if (entries->len < AUDIT_PAGE) return 0;
  }
  *at = -1;
  return 0;
}

int explain_message(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *message_id,
                    json_t **out, GError **error)
{
  *out = NULL;
  MaStoredMessage *m = NULL;
  int rc = storage_message_get(st, enterprise_id, message_id, &m, error);
  if (rc <= 0) return rc;
  MaMatchContext *ctx = NULL;
  g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  g_autoptr(GPtrArray) acts = g_ptr_array_new_with_free_func((GDestroyNotify) ma_activity_free);
  g_autoptr(RulesSet) set = NULL;
  json_t *trace = NULL;
  rc = match_context_load(st, cfg, enterprise_id, &ctx, error);
  if (rc == 0) rc = storage_message_links(st, enterprise_id, message_id, links, error);
  if (rc == 0) rc = storage_message_activities(st, enterprise_id, message_id, acts, error);
  if (rc == 0) rc = activities_rules(st, enterprise_id, &set, error);
  if (rc == 0) rc = trace_rules(st, enterprise_id, m, links, NULL, set, &trace, error);
  gint64 rules_changed = 0;
  if (rc == 0) rc = rules_changed_after(st, enterprise_id, m->archived_at, &rules_changed, error);
  if (rc < 0) {
    match_context_free(ctx);
    ma_stored_message_free(m);
    return -1;
  }
  json_t *exclusions = json_array();
  json_t *participants = participants_json(ctx, m, exclusions);
  json_t *link_arr = json_array();
  for (guint i = 0; i < links->len; i++) {
    const MaRecordRef *r = links->pdata[i];
    json_array_append_new(link_arr, json_pack("{s:s, s:s, s:s?}", "type", ma_record_type_name(r->type), "id", r->id,
                                              "reason", r->reason));
  }
  json_t *msg = json_pack("{s:s, s:s, s:o, s:s, s:b, s:b, s:s?, s:s?}", "id", m->id, "subject", m->subject ? m->subject : "",
                          "date", codec_time(m->date), "direction", ma_direction_name(m->direction), "is_auto",
                          (m->machine & MA_MACHINE_AUTO) != 0, "is_bulk", (m->machine & MA_MACHINE_BULK) != 0,
                          "machine_reason", m->machine_reason, "parse_error", m->parse_error);
  *out = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "message", msg, "participants", participants, "exclusions",
                   exclusions, "links", link_arr, "rules", trace, "activities", activities_json(acts), "activities_on",
                   set != NULL);
  /* null: the rules are those the message met; a time: they changed then, after it was archived;
   * "unknown": more administrative changes since than the look-back reads */
  json_object_set_new(*out, "rules_changed_at", rules_changed == 0   ? json_null()
                                                : rules_changed < 0 ? json_string("unknown")
                                                                    : codec_time(rules_changed));
  match_context_free(ctx);
  ma_stored_message_free(m);
  return 1;
}
