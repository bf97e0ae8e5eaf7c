/* test_pipeline_activities.c - activities_apply against real storage: one activity per (message,
 * record) by the first matching rule, rendered title/content and owner, the activity.created
 * outbox event, idempotence (repeat, duplicate arrival, replay), re-evaluation of links without an
 * activity when a new copy's provenance satisfies a rule, the per-enterprise switch (rules and
 * history kept), deleted records skipped. Messages are stored directly so the test does not
 * depend on MIME parsing or matching. */
#include "agent/codec/codec.h"
#include "agent/tenant/settings.h"
#include "agent/pipeline/activities.h"
#include "rules/rules_edit.h"
#include "storage/storage.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
  const char *ent;
} Fx;

static void put_record(Fx *fx, MaRecordType type, const char *id, const char *name, const char *attrs)
{
  g_autoptr(GError) error = NULL;
  MaRecord *r = ma_record_new(type, id);
  r->name = g_strdup(name);
  g_free(r->attributes_json);
  r->attributes_json = g_strdup(attrs ? attrs : "{}");
  if (type == MA_RECORD_OPPORTUNITY) r->stage = MA_STAGE_OPEN;
  g_assert_cmpint(storage_record_upsert(fx->st, fx->ent, r, &error), ==, 0);
  g_assert_no_error(error);
  ma_record_free(r);
}

static void fx_init(Fx *fx)
{
  g_autoptr(GError) error = NULL;
  fx->dir = testutil_tempdir("test_activities_XXXXXX");
  g_assert_cmpint(storage_open(fx->dir, TRUE, &fx->st, &error), ==, 0);
  g_assert_no_error(error);
  fx->ent = "ent1";
  MaEnterprise e = {.id = "ent1", .slug = "acme", .name = "Acme", .inbound_local = "acme-x1",
                    .domains = g_ptr_array_new_with_free_func(g_free)};
  g_ptr_array_add(e.domains, g_strdup("acme.test"));
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_unref(e.domains);
  MaEmployee emp = {.id = "emp-bob", .enterprise_id = "ent1", .email = "bob@acme.test", .name = "Bob"};
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, 0);
  put_record(fx, MA_RECORD_CONTACT, "C1", "Carol Customer", "{\"tier\":\"gold\"}");
  put_record(fx, MA_RECORD_ACCOUNT, "A1", "Customer Inc", NULL);
  put_record(fx, MA_RECORD_OPPORTUNITY, "O1", "Big Deal", NULL);
  put_record(fx, MA_RECORD_LEAD, "L1", "Larry Lead", NULL);
}

static void fx_free(Fx *fx)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static void set_rules(Fx *fx, const char *array)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *canon = rules_edit_replace("[]", array, &error);
  g_assert_no_error(error);
  g_assert_cmpint(storage_rules_put(fx->st, fx->ent, canon, &error), ==, 0);
}

/* Stores a message from carol@customer.example (inbound: to someone@else.example and, unless
 * no_internal, bob@acme.test) or from bob (outbound) linked to refs. */
static char *add_message_full(Fx *fx, const char *subject, MaDirection dir, const char *const *links,
                              gboolean no_internal)
{
  g_autoptr(GError) error = NULL;
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup_printf("msg-%s", subject);
  m->enterprise_id = g_strdup(fx->ent);
  m->thread_id = g_strdup("t1");
  m->dedup_key = g_strdup(m->id);
  m->subject = g_strdup(subject);
  m->direction = dir;
  m->date = 1700000000;
  m->archived_at = 1700000100;
  m->size = 2048;
  m->text = g_strdup("Hello, the quote is attached.");
  m->snippet = g_strdup("Hello, the quote is attached.");
  if (dir == MA_DIRECTION_INBOUND) {
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Carol", "carol@customer.example"));
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, NULL, "someone@else.example"));
    if (!no_internal) g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, "Bob", "bob@acme.test"));
  } else {
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Bob", "bob@acme.test"));
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, "Carol", "carol@customer.example"));
  }
  MaAttachment *a = ma_attachment_new();
  a->filename = g_strdup("quote.pdf");
  a->content_type = g_strdup("application/pdf");
  a->size = 100;
  memset(a->sha256, 'a', 64);
  g_ptr_array_add(m->attachments, a);
  for (guint i = 0; links[i]; i += 2)
    g_ptr_array_add(m->links, ma_record_ref_new((MaRecordType) ma_record_type_parse(links[i]), links[i + 1]));
  g_assert_cmpint(storage_message_insert(fx->st, m, &error), ==, 0);
  g_assert_no_error(error);
  char *id = g_strdup(m->id);
  ma_stored_message_free(m);
  return id;
}

static char *add_message(Fx *fx, const char *subject, MaDirection dir, const char *const *links)
{
  return add_message_full(fx, subject, dir, links, FALSE);
}

static MaProvenance *prov_new(const char *mailbox, const char *spool)
{
  MaProvenance *p = ma_provenance_new("imap");
  p->mailbox = g_strdup(mailbox);
  p->spool_id = g_strdup(spool);
  p->received_at = 1700000200;
  return p;
}

static int apply(Fx *fx, const char *msg, const MaProvenance *p)
{
  g_autoptr(GError) error = NULL;
  int n = activities_apply(fx->st, fx->ent, msg, p, &error);
  g_assert_no_error(error);
  return n;
}

static GPtrArray *outbox_events(Fx *fx, const char *event)
{
  g_autoptr(GError) error = NULL;
  GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, G_MAXINT64, 0, 1000, all, &error), ==, 0);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  for (guint i = 0; i < all->len; i++) {
    MaOutboxEvent *e = all->pdata[i];
    if (strcmp(e->event, event) == 0) g_ptr_array_add(out, g_steal_pointer(&all->pdata[i]));
  }
  g_ptr_array_unref(all);
  return out;
}

/* The activity on a record's timeline for msg, or NULL. Caller frees. */
static MaActivity *activity_for(Fx *fx, MaRecordType type, const char *record, const char *msg)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_timeline_item_free);
  char *next = NULL;
  MaTimelineFilter f = {.has_attachment = -1};
  g_assert_cmpint(storage_timeline(fx->st, fx->ent, type, record, &f, NULL, 100, items, &next, &error), ==, 0);
  g_free(next);
  for (guint i = 0; i < items->len; i++) {
    MaTimelineItem *it = items->pdata[i];
    if (it->is_activity && strcmp(it->activity->message_id, msg) == 0) {
      MaActivity *a = it->activity;
      it->activity = NULL;
      return a;
    }
  }
  return NULL;
}

static const char *rules_main =
  "[{\"name\":\"Contacts quotes\",\"object_types\":[\"contact\"],"
  "  \"conditions\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"QUOTE\"},"
  "                 {\"field\":\"record.tier\",\"op\":\"equals\",\"value\":\"Gold\"}],"
  "  \"action\":{\"activity_type\":\"email\",\"title\":\"Quote: {{subject}}\","
  "             \"content\":\"{{record.name}} / {{from}}: {{snippet}}\"}},"
  " {\"name\":\"Everything else\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  "  \"action\":{\"activity_type\":\"note\"}},"
  " {\"name\":\"Never reached for contacts\",\"object_types\":[\"contact\"],"
  "  \"action\":{\"activity_type\":\"never\"}}]";

static void test_one_per_record_first_match(void)
{
  Fx fx;
  fx_init(&fx);
  set_rules(&fx, rules_main);
  static const char *const links[] = {"contact", "C1", "account", "A1", "opportunity", "O1", "lead", "L1", NULL};
  g_autofree char *msg = add_message(&fx, "Your quote", MA_DIRECTION_INBOUND, links);
  MaProvenance *p = prov_new("box-a", "sp1");
  g_assert_cmpint(apply(&fx, msg, p), ==, 3); /* contact, account, opportunity; no rule for leads */

  MaActivity *a = activity_for(&fx, MA_RECORD_CONTACT, "C1", msg);
  g_assert_nonnull(a);
  g_assert_cmpstr(a->rule_name, ==, "Contacts quotes");
  g_assert_cmpstr(a->activity_type, ==, "email");
  g_assert_cmpstr(a->title, ==, "Quote: Your quote");
  g_assert_cmpstr(a->content, ==, "Carol Customer / Carol <carol@customer.example>: Hello, the quote is attached.");
  g_assert_cmpstr(a->owner, ==, "bob@acme.test"); /* first internal recipient, not the first recipient */
  g_assert_cmpint(a->message_date, ==, 1700000000);
  ma_activity_free(a);
  a = activity_for(&fx, MA_RECORD_ACCOUNT, "A1", msg);
  g_assert_cmpstr(a->rule_name, ==, "Everything else");
  g_assert_cmpstr(a->title, ==, "Your quote");
  ma_activity_free(a);
  g_assert_null(activity_for(&fx, MA_RECORD_LEAD, "L1", msg));

  g_autoptr(GPtrArray) ev = outbox_events(&fx, "activity.created");
  g_assert_cmpuint(ev->len, ==, 3);
  g_autofree char *key = g_strdup_printf("activity.created:%s:contact:C1", msg);
  gboolean found = FALSE;
  for (guint i = 0; i < ev->len; i++) {
    MaOutboxEvent *e = ev->pdata[i];
    if (strcmp(e->idempotency_key, key) != 0) continue;
    found = TRUE;
    json_t *doc = json_loads(e->payload, 0, NULL);
    g_assert_nonnull(doc);
    g_assert_cmpstr(json_string_value(json_object_get(doc, "title")), ==, "Quote: Your quote");
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "record"), "id")), ==, "C1");
    json_decref(doc);
  }
  g_assert_true(found);

  /* Repeats create nothing: same copy, a duplicate copy, a replay. */
  g_assert_cmpint(apply(&fx, msg, p), ==, 0);
  MaProvenance *p2 = prov_new("box-b", "sp2");
  g_assert_cmpint(apply(&fx, msg, p2), ==, 0);
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 0);
  g_autoptr(GPtrArray) ev2 = outbox_events(&fx, "activity.created");
  g_assert_cmpuint(ev2->len, ==, 3);
  ma_provenance_free(p);
  ma_provenance_free(p2);
  fx_free(&fx);
}

static void test_outbound_owner_and_deleted_record(void)
{
  Fx fx;
  fx_init(&fx);
  set_rules(&fx, "[{\"name\":\"all\",\"object_types\":[\"contact\",\"account\"],\"action\":{\"activity_type\":\"x\"}}]");
  static const char *const links[] = {"contact", "C1", "account", "A1", NULL};
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(storage_record_delete(fx.st, fx.ent, MA_RECORD_ACCOUNT, "A1", &error), ==, 1);
  g_autofree char *msg = add_message(&fx, "Outbound", MA_DIRECTION_OUTBOUND, links);
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 1); /* the deleted account gets none */
  MaActivity *a = activity_for(&fx, MA_RECORD_CONTACT, "C1", msg);
  g_assert_cmpstr(a->owner, ==, "bob@acme.test"); /* the sender */
  ma_activity_free(a);
  fx_free(&fx);
}

/* Inbound mail with no internal recipient (Bcc, forwarded copy): the owner is the copy's employee. */
static void test_owner_falls_back_to_employee(void)
{
  Fx fx;
  fx_init(&fx);
  set_rules(&fx, "[{\"name\":\"all\",\"object_types\":[\"contact\"],\"action\":{\"activity_type\":\"x\"}}]");
  static const char *const links[] = {"contact", "C1", NULL};
  g_autofree char *m1 = add_message_full(&fx, "bcc", MA_DIRECTION_INBOUND, links, TRUE);
  MaProvenance *p = prov_new("box", "sp1");
  p->employee_id = g_strdup("emp-bob");
  g_assert_cmpint(apply(&fx, m1, p), ==, 1);
  MaActivity *a = activity_for(&fx, MA_RECORD_CONTACT, "C1", m1);
  g_assert_cmpstr(a->owner, ==, "bob@acme.test");
  ma_activity_free(a);
  /* Replay finds the employee in the stored provenance. */
  g_autofree char *m2 = add_message_full(&fx, "bcc2", MA_DIRECTION_INBOUND, links, TRUE);
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(storage_provenance_add(fx.st, fx.ent, m2, p, &error), ==, 1);
  g_assert_cmpint(apply(&fx, m2, NULL), ==, 1);
  a = activity_for(&fx, MA_RECORD_CONTACT, "C1", m2);
  g_assert_cmpstr(a->owner, ==, "bob@acme.test");
  ma_activity_free(a);
  /* No employee at all: no owner. */
  g_autofree char *m3 = add_message_full(&fx, "bcc3", MA_DIRECTION_INBOUND, links, TRUE);
  g_assert_cmpint(apply(&fx, m3, NULL), ==, 1);
  a = activity_for(&fx, MA_RECORD_CONTACT, "C1", m3);
  g_assert_null(a->owner);
  ma_activity_free(a);
  ma_provenance_free(p);
  fx_free(&fx);
}

static void test_duplicate_reevaluates_provenance(void)
{
  Fx fx;
  fx_init(&fx);
  set_rules(&fx, "[{\"name\":\"sales box\",\"object_types\":[\"lead\",\"contact\"],"
                 "\"conditions\":[{\"field\":\"mailbox\",\"op\":\"equals\",\"value\":\"box-sales\"}],"
                 "\"action\":{\"activity_type\":\"x\"}}]");
  static const char *const links[] = {"lead", "L1", NULL};
  g_autofree char *msg = add_message(&fx, "Hi", MA_DIRECTION_INBOUND, links);
  MaProvenance *p1 = prov_new("box-other", "sp1");
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(storage_provenance_add(fx.st, fx.ent, msg, p1, &error), ==, 1);
  g_assert_cmpint(apply(&fx, msg, p1), ==, 0);
  /* The same mail arrives again through the sales mailbox: the link without an activity gets one. */
  MaProvenance *p2 = prov_new("box-sales", "sp2");
  g_assert_cmpint(storage_provenance_add(fx.st, fx.ent, msg, p2, &error), ==, 1);
  g_assert_cmpint(apply(&fx, msg, p2), ==, 1);
  g_assert_cmpint(apply(&fx, msg, p2), ==, 0);
  /* Replay considers every stored copy, and stays idempotent. */
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 0);
  ma_provenance_free(p1);
  ma_provenance_free(p2);
  fx_free(&fx);
}

static void test_replay_uses_stored_provenance(void)
{
  Fx fx;
  fx_init(&fx);
  static const char *const links[] = {"lead", "L1", NULL};
  g_autofree char *msg = add_message(&fx, "Hi", MA_DIRECTION_INBOUND, links);
  g_autoptr(GError) error = NULL;
  MaProvenance *p = prov_new("box-sales", "sp1");
  p->employee_id = g_strdup("emp-bob");
  g_assert_cmpint(storage_provenance_add(fx.st, fx.ent, msg, p, &error), ==, 1);
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 0); /* no rules yet */
  set_rules(&fx, "[{\"name\":\"bob's\",\"object_types\":[\"lead\"],"
                 "\"conditions\":[{\"field\":\"employee\",\"op\":\"equals\",\"value\":\"BOB@acme.test\"},"
                 "{\"field\":\"mailbox\",\"op\":\"equals\",\"value\":\"box-sales\"}],"
                 "\"action\":{\"activity_type\":\"x\"}}]");
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 1);
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 0);
  ma_provenance_free(p);
  fx_free(&fx);
}

static void test_switch_off_and_on(void)
{
  Fx fx;
  fx_init(&fx);
  set_rules(&fx, rules_main);
  g_autoptr(GError) error = NULL;
  static const char *const links[] = {"contact", "C1", NULL};
  g_autofree char *m1 = add_message(&fx, "quote one", MA_DIRECTION_INBOUND, links);
  g_assert_cmpint(apply(&fx, m1, NULL), ==, 1);

  g_assert_cmpint(settings_set(fx.st, fx.ent, "activities", "off", &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *m2 = add_message(&fx, "quote two", MA_DIRECTION_INBOUND, links);
  g_assert_cmpint(apply(&fx, m2, NULL), ==, 0);
  /* Rules and history are kept. */
  g_autofree char *stored = NULL;
  g_assert_cmpint(storage_rules_get(fx.st, fx.ent, &stored, &error), ==, 0);
  g_autoptr(RulesSet) set = rules_edit_load(stored, &error);
  g_assert_cmpuint(rules_set_count(set), ==, 3);
  MaActivity *a = activity_for(&fx, MA_RECORD_CONTACT, "C1", m1);
  g_assert_nonnull(a);
  ma_activity_free(a);

  g_assert_cmpint(settings_set(fx.st, fx.ent, "activities", "on", &error), ==, 0);
  g_autofree char *m3 = add_message(&fx, "quote three", MA_DIRECTION_INBOUND, links);
  g_assert_cmpint(apply(&fx, m3, NULL), ==, 1);
  /* And a replay catches up on what was archived while it was off. */
  g_assert_cmpint(apply(&fx, m2, NULL), ==, 1);
  fx_free(&fx);
}

static void test_rules_edit_invalidates_cache(void)
{
  Fx fx;
  fx_init(&fx);
  set_rules(&fx, "[{\"name\":\"no\",\"object_types\":[\"lead\"],"
                 "\"conditions\":[{\"field\":\"subject\",\"op\":\"equals\",\"value\":\"nothing\"}],"
                 "\"action\":{\"activity_type\":\"x\"}}]");
  static const char *const links[] = {"lead", "L1", NULL};
  g_autofree char *msg = add_message(&fx, "Hi", MA_DIRECTION_INBOUND, links);
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 0);
  set_rules(&fx, "[{\"name\":\"yes\",\"object_types\":[\"lead\"],"
                 "\"conditions\":[{\"field\":\"subject\",\"op\":\"equals\",\"value\":\"hi\"}],"
                 "\"action\":{\"activity_type\":\"x\"}}]");
  g_assert_cmpint(apply(&fx, msg, NULL), ==, 1);
  fx_free(&fx);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/activities/one_per_record_first_match", test_one_per_record_first_match);
  g_test_add_func("/activities/outbound_owner_and_deleted_record", test_outbound_owner_and_deleted_record);
  g_test_add_func("/activities/owner_falls_back_to_employee", test_owner_falls_back_to_employee);
  g_test_add_func("/activities/duplicate_reevaluates_provenance", test_duplicate_reevaluates_provenance);
  g_test_add_func("/activities/replay_uses_stored_provenance", test_replay_uses_stored_provenance);
  g_test_add_func("/activities/switch_off_and_on", test_switch_off_and_on);
  g_test_add_func("/activities/rules_edit_invalidates_cache", test_rules_edit_invalidates_cache);
  return g_test_run();
}
