/* activities.c - turns an archived message into sales activities by the enterprise's rules (see
 * activities.h for the contract).
 *
 * For each link of the message still without an activity: build the rules input once per message
 * (subject, body, addresses, attachments, the provenance's mailboxes and employees), swap in the
 * record's half, take the first matching rule, and create one activity plus its "activity.created"
 * outbox event keyed "activity.created:<message>:<type>:<record>". Evaluation (activities_plan)
 * and writing (activities_write) are separate so that the pipeline evaluates before it opens its
 * write transaction; a plan carries the rendered titles and contents, so writing runs no rule. The owner is the internal
 * participant: the sender for outbound mail, the first internal recipient for inbound mail (the
 * provenance's employee when no recipient is internal). Parsed rule sets are cached per enterprise
 * and reused while the stored JSON is unchanged, so regexes are compiled once per edit, not per
 * message. Counts nothing in metrics (the caller counts after its commit:
 * MA_METRIC_ACTIVITIES_CREATED, MA_METRIC_RULES_BUDGET_EXHAUSTED); never logs message text.
 */
#include "activities.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/tenant/settings.h"
#include "rules/rules.h"

#include <string.h>

/* ---- rule set cache ------------------------------------------------------------------------- */

#define CACHE_MAX 1024

typedef struct {
  char *json;
  RulesSet *set;
} CacheEntry;

static GMutex cache_lock;
static GHashTable *cache; /* enterprise id -> CacheEntry* */

static void cache_entry_free(gpointer p)
{
  CacheEntry *e = p;
  g_free(e->json);
  rules_set_unref(e->set);
  g_free(e);
}

/* The parsed set for this stored JSON (a new reference), or NULL when the stored rules do not
 * parse (logged; the caller creates nothing). */
static RulesSet *rules_for(const char *enterprise_id, const char *json)
{
  RulesSet *set = NULL;
  g_mutex_lock(&cache_lock);
  if (!cache) cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cache_entry_free);
  CacheEntry *e = g_hash_table_lookup(cache, enterprise_id);
  if (e && strcmp(e->json, json) == 0) set = rules_set_ref(e->set);
  g_mutex_unlock(&cache_lock);
  if (set) return set;

  g_autoptr(GError) error = NULL;
  set = rules_set_parse(json, RULES_PARSE_REQUIRE_IDS, &error);
  if (!set) {
    ma_error("activities", "stored rules do not parse, no activities created enterprise=%s error=%s",
             enterprise_id, error->message);
    return NULL;
  }
  g_mutex_lock(&cache_lock);
  if (g_hash_table_size(cache) >= CACHE_MAX) g_hash_table_remove_all(cache);
  CacheEntry *n = g_new0(CacheEntry, 1);
  n->json = g_strdup(json);
  n->set = rules_set_ref(set);
  g_hash_table_replace(cache, g_strdup(enterprise_id), n);
  g_mutex_unlock(&cache_lock);
  return set;
}

/* ---- input ---------------------------------------------------------------------------------- */

/* Adds a copy's mailbox and employee (id and address) to the input; the first employee address
 * seen goes to *employee_email (the owner of last resort). */
static int add_provenance(MaStorage *st, const char *ent, RulesInput *in, const MaProvenance *p,
                          char **employee_email, GError **error)
{
  if (p->mailbox) rules_input_add_mailbox(in, p->mailbox);
  if (!p->employee_id) return 0;
  rules_input_add_employee(in, p->employee_id);
  MaEmployee *emp = NULL;
  int rc = storage_employee_find(st, ent, p->employee_id, &emp, error);
  if (rc < 0) return -1;
  if (rc == 1 && emp->email) {
    rules_input_add_employee(in, emp->email);
    if (!*employee_email) *employee_email = g_strdup(emp->email);
  }
  ma_employee_free(emp);
  return 0;
}

/* The rules input of message m; *employee_email (newly allocated or NULL): the address of the
 * employee of the first copy considered that has one. */
RulesInput *activities_input(MaStorage *st, const char *ent, const MaStoredMessage *m, const MaProvenance *prov,
                             char **employee_email, GError **error)
{
  g_autoptr(RulesInput) in = rules_input_new();
  rules_input_set_subject(in, m->subject ? m->subject : "");
  rules_input_set_body(in, m->text ? m->text : "");
  rules_input_set_snippet(in, m->snippet ? m->snippet : "");
  rules_input_set_direction(in, m->direction);
  rules_input_set_size(in, m->size);
  gboolean have_from = FALSE, has_attachment = FALSE;
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = m->participants->pdata[i];
    switch (p->role) {
    case MA_ROLE_FROM:
      if (!have_from) rules_input_set_from(in, p->name, p->address);
      have_from = TRUE;
      break;
    case MA_ROLE_TO: rules_input_add_to(in, p->address); break;
    case MA_ROLE_CC: rules_input_add_cc(in, p->address); break;
    default: break;
    }
    if (p->role != MA_ROLE_REPLY_TO) rules_input_add_participant(in, p->address);
  }
  for (guint i = 0; m->attachments && i < m->attachments->len; i++) {
    const MaAttachment *a = m->attachments->pdata[i];
    if (a->is_inline) continue;
    has_attachment = TRUE;
    if (a->filename) rules_input_add_attachment_name(in, a->filename);
  }
  rules_input_set_has_attachment(in, has_attachment);
  rules_input_set_machine(in, (m->machine & MA_MACHINE_AUTO) != 0, (m->machine & MA_MACHINE_BULK) != 0);

  if (prov) {
    if (add_provenance(st, ent, in, prov, employee_email, error) < 0) return NULL;
  } else {
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify) ma_provenance_free);
    if (storage_provenance_list(st, ent, m->id, rows, error) < 0) return NULL;
    for (guint i = 0; i < rows->len; i++)
      if (add_provenance(st, ent, in, rows->pdata[i], employee_email, error) < 0) return NULL;
  }
  return g_steal_pointer(&in);
}

/* ---- owner ---------------------------------------------------------------------------------- */

static int is_internal(MaStorage *st, const MaEnterprise *e, const char *address, gboolean *out, GError **error)
{
  *out = FALSE;
  const char *domain = ma_address_domain(address);
  for (guint i = 0; domain && e->domains && i < e->domains->len; i++)
    if (g_ascii_strcasecmp(domain, e->domains->pdata[i]) == 0) {
      *out = TRUE;
      return 0;
    }
  MaEmployee *emp = NULL;
  g_autofree char *key = ma_address_key(address, FALSE);
  int rc = storage_employee_find(st, e->id, key, &emp, error);
  if (rc < 0) return -1;
  *out = rc == 1;
  ma_employee_free(emp);
  return 0;
}

/* The owner's address (newly allocated) or NULL: the sender of outbound mail, the first internal
 * To/Cc recipient of inbound mail, else the copy's employee (employee_email, may be NULL). */
static int find_owner(MaStorage *st, const char *ent, const MaStoredMessage *m, const char *employee_email,
                      char **owner, GError **error)
{
  *owner = NULL;
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(st, ent, &e, error);
  if (rc <= 0) return rc;
  int ret = 0;
  for (guint i = 0; m->participants && i < m->participants->len && !*owner; i++) {
    const MaParticipant *p = m->participants->pdata[i];
    gboolean wanted = m->direction == MA_DIRECTION_OUTBOUND ? p->role == MA_ROLE_FROM
                                                            : (p->role == MA_ROLE_TO || p->role == MA_ROLE_CC);
    if (!wanted || !p->address) continue;
    if (m->direction == MA_DIRECTION_OUTBOUND) {
      *owner = g_strdup(p->address);
      break;
    }
    gboolean internal = FALSE;
    if (is_internal(st, e, p->address, &internal, error) < 0) {
      ret = -1;
      break;
    }
    if (internal) *owner = g_strdup(p->address);
  }
  if (ret == 0 && !*owner && employee_email) *owner = g_strdup(employee_email);
  ma_enterprise_free(e);
  return ret;
}

/* ---- plan: evaluate, reading only ----------------------------------------------------------- */

typedef struct {
  MaRecordRef ref;
  char *rule_id;
  char *rule_name;
  char *activity_type;
  char *title;
  char *content;
} Planned;

struct MaActivityPlan {
  GPtrArray *items;  /* Planned* */
  char *owner;       /* NULL when no owner was found (or nothing matched) */
  gboolean exhausted;
  guint64 units;
  gint64 message_date; /* activities_plan_stored: the stored message's date */
};

static void planned_free(gpointer p)
{
  Planned *a = p;
  g_free(a->ref.id);
  g_free(a->rule_id);
  g_free(a->rule_name);
  g_free(a->activity_type);
  g_free(a->title);
  g_free(a->content);
  g_free(a);
}

void activities_plan_free(MaActivityPlan *plan)
{
  if (!plan) return;
  g_ptr_array_unref(plan->items);
  g_free(plan->owner);
  g_free(plan);
}

gboolean activities_plan_exhausted(const MaActivityPlan *plan) { return plan && plan->exhausted; }
guint64 activities_plan_units(const MaActivityPlan *plan) { return plan ? plan->units : 0; }
guint activities_plan_count(const MaActivityPlan *plan) { return plan ? plan->items->len : 0; }

/* The enterprise's parsed rules when activities are on and there is at least one rule, else NULL
 * (a new reference). */
int activities_rules(MaStorage *st, const char *enterprise_id, RulesSet **out, GError **error)
{
  *out = NULL;
  gboolean on = TRUE;
  if (settings_get_bool(st, enterprise_id, "activities", &on, error) < 0) return -1;
  if (!on) return 0;
  g_autofree char *json = NULL;
  if (storage_rules_get(st, enterprise_id, &json, error) < 0) return -1;
  RulesSet *set = rules_for(enterprise_id, json ? json : "[]");
  if (set && rules_set_count(set) == 0) g_clear_pointer(&set, rules_set_unref);
  *out = set;
  return 0;
}

int activities_enabled(MaStorage *st, const char *enterprise_id, gboolean *on, GError **error)
{
  RulesSet *set = NULL;
  if (activities_rules(st, enterprise_id, &set, error) < 0) return -1;
  *on = set != NULL;
  rules_set_unref(set);
  return 0;
}

int activities_plan(MaStorage *st, const char *enterprise_id, const MaStoredMessage *m, const GPtrArray *links,
                    const MaProvenance *provenance, MaActivityPlan **out, GError **error)
{
  g_return_val_if_fail(st && enterprise_id && m && links && out, -1);
  *out = NULL;
  g_autoptr(RulesSet) set = NULL;
  if (activities_rules(st, enterprise_id, &set, error) < 0) return -1;
  if (!set || links->len == 0) return 0;

  MaActivityPlan *plan = g_new0(MaActivityPlan, 1);
  plan->items = g_ptr_array_new_with_free_func(planned_free);
  g_autofree char *employee_email = NULL;
  g_autoptr(RulesInput) in = activities_input(st, enterprise_id, m, provenance, &employee_email, error);
  gboolean owner_known = FALSE;
  int rc = in ? 0 : -1;
  for (guint i = 0; rc == 0 && i < links->len; i++) {
    const MaRecordRef *ref = links->pdata[i];
    MaRecord *rec = NULL;
    int found = storage_record_get(st, enterprise_id, ref->type, ref->id, &rec, error);
    if (found < 0) {
      rc = -1;
      break;
    }
    if (found == 0) continue; /* the record was deleted since: history stays, nothing new */
    rules_input_set_record(in, rec->type, rec->name, rec->stage, rec->attributes_json);
    ma_record_free(rec);
    const RulesRule *rule = rules_first_match(set, in);
    if (rules_input_budget_exhausted(in)) break; /* no activity from the remaining rules */
    if (!rule) continue;
    if (!owner_known && find_owner(st, enterprise_id, m, employee_email, &plan->owner, error) < 0) {
      rc = -1;
      break;
    }
    owner_known = TRUE;
    Planned *a = g_new0(Planned, 1);
    a->ref.type = ref->type;
    a->ref.id = g_strdup(ref->id);
    a->rule_id = g_strdup(rules_rule_id(rule));
    a->rule_name = g_strdup(rules_rule_name(rule));
    a->activity_type = g_strdup(rules_rule_activity_type(rule));
    a->title = rules_render_title(rule, in);
    a->content = rules_render_content(rule, in);
    g_ptr_array_add(plan->items, a);
  }
  if (rc < 0) {
    activities_plan_free(plan);
    return -1;
  }
  plan->exhausted = rules_input_budget_exhausted(in);
  plan->units = rules_input_budget_used(in);
  *out = plan;
  return 0;
}

/* ---- write: inside the caller's transaction --------------------------------------------------- */

static gboolean has_link(const GPtrArray *links, const MaRecordRef *ref)
{
  for (guint i = 0; i < links->len; i++) {
    const MaRecordRef *l = links->pdata[i];
    if (l->type == ref->type && strcmp(l->id, ref->id) == 0) return TRUE;
  }
  return FALSE;
}

/* Creates the activity and its event. Returns 1 created, 0 existed, -1 error. */
static int create_one(MaStorage *st, const char *ent, const char *message_id, gint64 message_date,
                      const Planned *p, const char *owner, GError **error)
{
  MaActivity a = {0};
  g_autofree char *id = ma_id_new();
  a.id = id;
  a.enterprise_id = (char *) ent;
  a.message_id = (char *) message_id;
  a.record = p->ref;
  a.rule_id = p->rule_id;
  a.rule_name = p->rule_name;
  a.activity_type = p->activity_type;
  a.title = p->title;
  a.content = p->content;
  a.owner = (char *) owner;
  a.created_at = ma_now();
  a.message_date = message_date;
  int rc = storage_activity_create(st, &a, error);
  if (rc <= 0) return rc;

  g_autofree char *payload = codec_activity_json_text(&a);
  g_autofree char *key =
    g_strdup_printf("activity.created:%s:%s:%s", message_id, ma_record_type_name(p->ref.type), p->ref.id);
  rc = storage_outbox_add(st, ent, "activity.created", key, payload, a.created_at, error);
  if (rc < 0) return -1;
  ma_debug("activities", "created activity=%s message=%s record=%s:%s rule=%s", id, message_id,
           ma_record_type_name(p->ref.type), p->ref.id, p->rule_id);
  return 1;
}

int activities_write(MaStorage *st, const char *enterprise_id, const char *message_id, gint64 message_date,
                     const GPtrArray *links, const MaActivityPlan *plan, GError **error)
{
  g_return_val_if_fail(st && enterprise_id && message_id, -1);
  int created = 0;
  for (guint i = 0; plan && i < plan->items->len; i++) {
    const Planned *p = plan->items->pdata[i];
    if (links && !has_link(links, &p->ref)) continue; /* unlinked since the plan was made */
    int rc = create_one(st, enterprise_id, message_id, message_date, p, plan->owner, error);
    if (rc < 0) return -1;
    created += rc;
  }
  return created;
}

/* ---- a stored message, for replay ------------------------------------------------------------ */

int activities_plan_stored(MaStorage *st, const char *enterprise_id, const char *message_id,
                           const MaProvenance *provenance, MaActivityPlan **out, GError **error)
{
  g_return_val_if_fail(st && enterprise_id && message_id && out, -1);
  *out = NULL;
  gboolean on = FALSE;
  if (activities_enabled(st, enterprise_id, &on, error) < 0) return -1;
  if (!on) return 0;

  g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  if (storage_links_without_activity(st, enterprise_id, message_id, links, error) < 0) return -1;
  if (links->len == 0) return 0;

  MaStoredMessage *m = NULL;
  int rc = storage_message_get(st, enterprise_id, message_id, &m, error);
  if (rc < 0) return -1;
  if (rc == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no archived message %s", message_id);
    return -1;
  }
  rc = activities_plan(st, enterprise_id, m, links, provenance, out, error);
  if (rc == 0 && *out) (*out)->message_date = m->date;
  if (rc == 0 && activities_plan_exhausted(*out))
    ma_warn("activities", "rules budget exhausted enterprise=%s message=%s units=%" G_GUINT64_FORMAT
            ": no activity from the remaining rules", enterprise_id, message_id, activities_plan_units(*out));
  ma_stored_message_free(m);
  return rc;
}

gint64 activities_plan_message_date(const MaActivityPlan *plan) { return plan ? plan->message_date : 0; }

int activities_apply(MaStorage *st, const char *enterprise_id, const char *message_id,
                     const MaProvenance *provenance, GError **error)
{
  MaActivityPlan *plan = NULL;
  if (activities_plan_stored(st, enterprise_id, message_id, provenance, &plan, error) < 0) return -1;
  int created = activities_write(st, enterprise_id, message_id, activities_plan_message_date(plan), NULL, plan, error);
  activities_plan_free(plan);
  return created;
}

int activities_replay(MaStorage *st, const char *enterprise_id, gint64 since, ActivitiesReplayProgress progress,
                      gpointer user_data, gint64 *messages, gint64 *created, GError **error)
{
  g_autofree char *after = NULL;
  for (;;) {
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    if (storage_message_ids_archived_since(st, enterprise_id, since, after, ACTIVITIES_REPLAY_BATCH, ids, error) < 0) return -1;
    if (ids->len == 0) return 0;
    /* evaluate, then write: the rules run with no transaction open */
    g_autoptr(GPtrArray) plans = g_ptr_array_new_with_free_func((GDestroyNotify) activities_plan_free);
    for (guint i = 0; i < ids->len; i++) {
      MaActivityPlan *plan = NULL;
      if (activities_plan_stored(st, enterprise_id, ids->pdata[i], NULL, &plan, error) < 0) return -1;
      g_ptr_array_add(plans, plan);
    }
    if (storage_begin(st, error) < 0) return -1;
    gint64 batch_created = 0;
    for (guint i = 0; i < ids->len; i++) {
      const MaActivityPlan *plan = plans->pdata[i];
      int n = activities_write(st, enterprise_id, ids->pdata[i], activities_plan_message_date(plan), NULL, plan, error);
      if (n < 0) {
        storage_rollback(st);
        return -1;
      }
      batch_created += n;
    }
    if (storage_commit(st, error) < 0) {
      storage_rollback(st);
      return -1;
    }
    *messages += ids->len;
    *created += batch_created;
    if (progress) progress(*messages, *created, user_data);
    g_free(after);
    after = g_strdup(ids->pdata[ids->len - 1]);
    if (ids->len < ACTIVITIES_REPLAY_BATCH) return 0;
  }
}
