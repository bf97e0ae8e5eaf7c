/* test_relay_plan.c - relay_plan_decide and the channel settings over a real (temporary) storage:
 * an employee's default sending mailbox (the chosen one while active, else the oldest active),
 * the choice refused for a mailbox bound to someone else, the employee_mailbox system account
 * checked against the bound mailboxes, the default path closed by a suspension, and a relay's
 * XOAUTH2 fields (provider, sign-in state, a refused grant). Both backends
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


/* relay_modify of relay corp with fields (taken: released here). */
static int modify(Fixture *fx, json_t *fields, MaRelay **out, GError **error)
{
  int rc = relay_modify(fx->st, fx->cfg, "ent1", "corp", fields, out, error);
  json_decref(fields);
  return rc;
}

/* relay_create/relay_modify with AUTH XOAUTH2: a username and a provider are needed, no password;
 * TLS is required-verify; the relay is untested and says it needs sign-in; another provider
 * revokes the grant of the old one. */
static void test_xoauth2_fields(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaRelay *r = NULL;
  json_t *f = json_pack("{s:s,s:s,s:i,s:{s:s,s:s},s:[{s:i,s:s}]}", "name", "corp", "host", "smtp.acme.example", "port",
                        587, "auth", "mechanism", "XOAUTH2", "username", "relay@acme.example", "filters", "priority", 1,
                        "sender_domain", "acme.example");
  g_assert_cmpint(relay_create(fx->st, fx->cfg, "ent1", f, &r, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "XOAUTH2 needs a username and a provider"));
  g_clear_error(&error);
  json_object_set_new(json_object_get(f, "auth"), "provider", json_integer(7));
  g_assert_cmpint(relay_create(fx->st, fx->cfg, "ent1", f, &r, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_cmpstr(error->message, ==, "auth.provider: a string");
  g_clear_error(&error);
  json_object_set_new(json_object_get(f, "auth"), "provider", json_string("bad provider!"));
  g_assert_cmpint(relay_create(fx->st, fx->cfg, "ent1", f, &r, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "auth.provider"));
  g_clear_error(&error);
  json_object_set_new(json_object_get(f, "auth"), "provider", json_string("fakeprov"));
  json_object_set_new(f, "tls_mode", json_string("preferred"));
  g_assert_cmpint(relay_create(fx->st, fx->cfg, "ent1", f, &r, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID); /* AUTH needs required-verify */
  g_clear_error(&error);
  json_object_del(f, "tls_mode");
  g_assert_cmpint(relay_create(fx->st, fx->cfg, "ent1", f, &r, &error), ==, 0);
  g_assert_no_error(error);
  json_decref(f);
  g_assert_cmpstr(r->tls_mode, ==, "required-verify");
  g_assert_cmpstr(r->auth_provider, ==, "fakeprov");
  g_assert_null(r->password_sealed);
  g_assert_true(relay_uses_oauth2(r) && relay_needs_sign_in(r));
  g_assert_cmpstr(r->status, ==, "untested");
  g_assert_nonnull(strstr(r->status_reason, "sign in (mailagent relay authorize)"));

  /* signed in: a valid grant, read with the relay */
  g_autofree char *owner = relay_oauth2_owner(r->id);
  g_assert_true(g_str_has_prefix(owner, "relay:") && strcmp(owner + strlen("relay:"), r->id) == 0);
  MaOAuth2Grant g = {.owner = owner, .enterprise_id = "ent1", .provider = "fakeprov", .access_sealed = "a",
                     .access_expires_at = 5000, .updated_at = 1000};
  g_assert_cmpint(storage_oauth2_grant_put(fx->st, &g, &error), ==, 0);
  MaRelay *m = NULL;
  g_assert_cmpint(modify(fx, json_pack("{s:i}", "daily_limit", 5), &m, &error), ==, 0);
  g_assert_cmpstr(m->grant_state, ==, "valid");
  g_assert_false(relay_needs_sign_in(m));
  ma_relay_free(m);
  /* the same provider again keeps the grant; another one revokes it */
  g_assert_cmpint(modify(fx, json_pack("{s:{s:s}}", "auth", "provider", "fakeprov"), &m,
                               &error), ==, 0);
  g_assert_cmpstr(m->grant_state, ==, "valid");
  ma_relay_free(m);
  g_assert_cmpint(modify(fx, json_pack("{s:{s:s}}", "auth", "provider", "other"), &m,
                               &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpstr(m->auth_provider, ==, "other");
  g_assert_true(relay_needs_sign_in(m));
  ma_relay_free(m);
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "corp", &m, &error), ==, 1);
  g_assert_cmpstr(m->grant_state, ==, "revoked");
  /* another username: signed in again as well */
  g_assert_cmpint(storage_oauth2_grant_put(fx->st, &g, &error), ==, 0);
  ma_relay_free(m);
  g_assert_cmpint(modify(fx, json_pack("{s:{s:s}}", "auth", "username", "relay@acme.example"),
                               &m, &error), ==, 0);
  g_assert_cmpstr(m->grant_state, ==, "valid"); /* the same one */
  ma_relay_free(m);
  g_assert_cmpint(modify(fx, json_pack("{s:{s:s}}", "auth", "username", "other@acme.example"),
                               &m, &error), ==, 0);
  g_assert_cmpstr(m->grant_state, ==, "revoked");
  ma_relay_free(m);
  /* the provider refuses the grant: the relay needs sign-in, says why, and the CRM is told once */
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "corp", &m, &error), ==, 1);
  g_assert_cmpint(storage_relay_set_status(fx->st, "ent1", m->id, "ok", 1000, "test passed", 0, &error), ==, 1);
  g_assert_cmpint(relay_oauth2_revoked(fx->st, m->id, "invalid_grant", &error), ==, 1);
  g_assert_cmpint(relay_oauth2_revoked(fx->st, m->id, "invalid_grant", &error), ==, 1);
  ma_relay_free(m);
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "corp", &m, &error), ==, 1);
  g_assert_cmpstr(m->status, ==, "untested");
  g_assert_true(g_str_has_prefix(m->status_reason, "needs sign-in: the provider refused the OAuth2 grant (invalid_grant)"));
  gint64 backlog = 0;
  g_assert_cmpint(storage_outbox_backlog(fx->st, &backlog, &error), ==, 0);
  g_assert_cmpint(backlog, ==, 1); /* told once */
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, G_MAXINT64 / 4, 0, 10, events, &error), ==, 0); /* a read: no lease */
  g_assert_cmpuint(events->len, ==, 1);
  const MaOutboxEvent *ev = g_ptr_array_index(events, 0);
  g_assert_cmpstr(ev->event, ==, "relay.needs_sign_in");
  g_assert_nonnull(strstr(ev->payload, "\"provider\":\"other\""));
  g_assert_nonnull(strstr(ev->payload, "\"username\":\"other@acme.example\""));
  g_assert_cmpint(relay_oauth2_revoked(fx->st, "no-such-relay", "x", &error), ==, 0);
  g_assert_no_error(error);
  ma_relay_free(m);
  ma_relay_free(r);
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
  ADD("/xoauth2_fields", test_xoauth2_fields);
  return g_test_run();
}
