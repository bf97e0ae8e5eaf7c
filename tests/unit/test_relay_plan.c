/* test_relay_plan.c - relay_plan_decide and the channel settings over a real (temporary) storage:
 * an employee's default sending mailbox (the chosen one while active, else the oldest active),
 * the choice refused for a mailbox bound to someone else, the employee_mailbox system account
 * checked against the bound mailboxes, and the default path closed by a suspension. Both backends
 * (testutil_storage.h); PostgreSQL once its backend fills the mailbox bindings. */
#include "agent/relay/relay.h"

#include "agent/tenant/settings.h"
#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
  MaConfig *cfg;
} Fixture;

static void add_mailbox(MaStorage *st, const char *id, const char *email, const char *host, const char *employee_id,
                        gint64 created)
{
  MaMailbox m = {.id = (char *) id, .enterprise_id = "ent1", .employee_id = (char *) employee_id, .email = (char *) email,
                 .username = (char *) email, .protocol = "imap", .host = (char *) host, .port = 993,
                 .security = "tls", .auth = "password", .state = "active", .created_at = created,
                 .smtp_host = "smtp.acme.example", .smtp_port = 587, .smtp_security = "starttls"};
  GError *error = NULL;
  g_assert_cmpint(storage_mailbox_add(st, &m, &error), ==, 0);
  g_assert_no_error(error);
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  fx->dir = testutil_tempdir("ma-relay-plan-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  MaEnterprise e = {.id = "ent1", .slug = "ent1", .name = "ent1", .inbound_local = "ent1-in", .domains = g_ptr_array_new()};
  g_ptr_array_add(e.domains, "acme.example");
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  g_ptr_array_unref(e.domains);
  MaEmployee ann = {.id = "emp1", .enterprise_id = "ent1", .email = "ann@acme.example", .created_at = 1};
  MaEmployee bob = {.id = "emp2", .enterprise_id = "ent1", .email = "bob@acme.example", .created_at = 1};
  g_assert_cmpint(storage_employee_add(fx->st, &ann, &error), ==, 0);
  g_assert_cmpint(storage_employee_add(fx->st, &bob, &error), ==, 0);
  add_mailbox(fx->st, "mb1", "ann@acme.example", "imap.acme.example", "emp1", 10);
  add_mailbox(fx->st, "mb2", "ann@acme.example", "imap2.acme.example", "emp1", 20);
  add_mailbox(fx->st, "mb3", "bob@acme.example", "imap.acme.example", "emp2", 30);
  g_assert_no_error(error);
  fx->cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  ma_config_free(fx->cfg);
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

/* The route of one recipient for employee ann, auto: "channel[:mailbox]" or "refused: reason". */
static char *route(Fixture *fx)
{
  const char *rcpts[] = {"x@client.example"};
  RelayPlanRequest req = {.enterprise_id = "ent1", .type = "individual", .channel = "auto", .from = "ann@acme.example",
                          .employee = "ann@acme.example", .rcpts = rcpts, .n_rcpts = 1};
  RelayPlan *p = NULL;
  GError *error = NULL;
  g_assert_cmpint(relay_plan_decide(fx->st, fx->cfg, &req, 1000, &p, &error), ==, 0);
  g_assert_no_error(error);
  const RelayRouteGroup *g = g_ptr_array_index(p->groups, 0);
  char *out = g->channel ? g_strdup_printf("%s%s%s", g->channel, g->mailbox_id ? ":" : "", g->mailbox_id ? g->mailbox_id : "")
                         : g_strdup_printf("refused: %s", g->reason);
  relay_plan_free(p);
  return out;
}

static void test_default_mailbox(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_autofree char *r1 = route(fx);
  g_assert_cmpstr(r1, ==, "employee_mailbox:mb1"); /* the oldest active one */
  g_assert_cmpint(relay_employee_mailbox_set(fx->st, "ent1", "ann@acme.example", "mb2", &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *r2 = route(fx);
  g_assert_cmpstr(r2, ==, "employee_mailbox:mb2"); /* the chosen one */
  g_assert_cmpint(storage_mailbox_set_state(fx->st, "ent1", "mb2", "paused", 0, &error), ==, 1);
  g_autofree char *r3 = route(fx);
  g_assert_cmpstr(r3, ==, "employee_mailbox:mb1"); /* chosen but paused: the oldest active */
  /* someone else's mailbox cannot be chosen */
  g_assert_cmpint(relay_employee_mailbox_set(fx->st, "ent1", "ann@acme.example", "mb3", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_cmpint(relay_employee_mailbox_set(fx->st, "ent1", "nobody@acme.example", "mb1", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  /* employees may not use their mailboxes: the relays (none), then the default path, closed here */
  g_assert_cmpint(settings_set(fx->st, "ent1", "employee_channels", "enterprise_relay mailagent_relay", &error), ==, 0);
  g_autofree char *r4 = route(fx);
  g_assert_true(g_str_has_prefix(r4, "refused: rule 3: no relay filter matches, and mailagent's own delivery is not open"));
}

static void test_system_accounts(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(relay_channel_account_set(fx->st, "ent1", "employee_mailbox", "Ann@ACME.example", &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(relay_channel_account_set(fx->st, "ent1", "employee_mailbox", "carl@acme.example", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_cmpint(relay_channel_account_set(fx->st, "ent1", "enterprise_relay", "ops@acme.example", &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "no enabled relay has a filter for acme.example"));
  g_clear_error(&error);
  g_assert_cmpint(relay_channel_account_set(fx->st, "ent1", "carrier_pigeon", "ops@acme.example", &error), ==, -1);
  g_clear_error(&error);
  char *from = NULL;
  g_assert_cmpint(relay_channel_default_from(fx->st, "ent1", &from, &error), ==, 1);
  g_assert_cmpstr(from, ==, "Ann@acme.example");
  g_free(from);
  json_t *doc = relay_channels_to_json(fx->st, fx->cfg, "ent1", &error);
  g_assert_nonnull(doc);
  g_assert_true(json_is_null(json_object_get(json_object_get(doc, "system_accounts"), "mailagent_relay")));
  g_assert_cmpuint(json_array_size(json_object_get(doc, "employee_channels")), ==, 3);
  json_decref(doc);
}

static void test_suspension_closes_default_path(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_autofree char *refusal = NULL;
  g_assert_cmpint(relay_reputation_check(fx->st, fx->cfg, "ent1", "UTC", 1000, 1, &refusal, &error), ==, 0);
  g_assert_null(refusal);
  g_assert_cmpint(storage_default_path_suspend(fx->st, "ent1", 900, "test", &error), ==, 1);
  g_assert_cmpint(storage_default_path_suspend(fx->st, "ent1", 950, "again", &error), ==, 0);
  g_assert_cmpint(relay_reputation_check(fx->st, fx->cfg, "ent1", "UTC", 1000, 1, &refusal, &error), ==, 0);
  g_assert_nonnull(strstr(refusal, "suspended since"));
  g_clear_pointer(&refusal, g_free);
  g_assert_cmpint(storage_default_path_resume(fx->st, "ent1", 1000, &error), ==, 1);
  g_assert_cmpint(relay_reputation_check(fx->st, fx->cfg, "ent1", "UTC", 1000, 1, &refusal, &error), ==, 0);
  g_assert_null(refusal);
  /* the hourly quota */
  g_assert_cmpint(settings_set(fx->st, "ent1", "default_path_hourly_limit", "2", &error), ==, 0);
  for (int i = 0; i < 2; i++) g_assert_cmpint(storage_default_path_record(fx->st, "ent1", "o1", "a@b.example", 990, &error), ==, 0);
  g_assert_cmpint(relay_reputation_check(fx->st, fx->cfg, "ent1", "UTC", 1000, 1, &refusal, &error), ==, 0);
  g_assert_nonnull(strstr(refusal, "hourly quota"));
  g_clear_pointer(&refusal, g_free);
  g_assert_cmpint(relay_reputation_check(fx->st, fx->cfg, "ent1", "UTC", 990 + 3600, 1, &refusal, &error), ==, 0);
  g_assert_null(refusal); /* an hour later */
  g_assert_no_error(error);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* one parameter, the backend: SQLite always, PostgreSQL when MAILAGENT_TEST_PG names one and its
   * backend fills the mailbox bindings these tests choose among */
#define ADD(path, fn)                                                                                       \
  do {                                                                                                      \
    g_test_add("/relay/plan" path, Fixture, NULL, fx_setup, fn, fx_teardown);                               \
    if (testutil_storage_pg() && ma_storage_pg_backend.mailbox_add)                                         \
      g_test_add("/relay/plan/postgresql" path, Fixture, TESTUTIL_ON_PG, fx_setup, fn, fx_teardown);        \
  } while (0)
  ADD("/default_mailbox", test_default_mailbox);
  ADD("/system_accounts", test_system_accounts);
  ADD("/suspension", test_suspension_closes_default_path);
  return g_test_run();
}
