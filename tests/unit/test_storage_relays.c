/* test_storage_relays.c - unit tests of the enterprise relays in storage (migrations 110, 151): tenant
 * scoping, lookup by id or name, filters kept in priority then creation order and replaced whole
 * on update, status changes, the daily counters (sent never below zero, a failure counted only a
 * gap after the last), a queued message's route rewritten, the shared relay's reputation (the log,
 * the bounce rate, suspensions), channel system accounts and employees' default sending mailboxes,
 * an XOAUTH2 relay's provider and the state of its grant (deleted with the relay).
 * Both backends (testutil_storage.h).
 */
#include "storage/storage.h"
#include "storage/storage_backend.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

static void add_enterprise(MaStorage *st, const char *id)
{
  MaEnterprise e = {0};
  e.id = (char *) id;
  e.slug = (char *) id;
  e.name = (char *) id;
  e.inbound_local = g_strconcat(id, "-in", NULL);
  e.domains = g_ptr_array_new();
  GError *error = NULL;
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_unref(e.domains);
  g_free(e.inbound_local);
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-relays-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  add_enterprise(fx->st, "ent1");
  add_enterprise(fx->st, "ent2");
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static MaRelay *relay(const char *ent, const char *id, const char *name)
{
  MaRelay *r = ma_relay_new();
  r->id = g_strdup(id);
  r->enterprise_id = g_strdup(ent);
  r->name = g_strdup(name);
  r->host = g_strdup("smtp.acme.example");
  r->port = 587;
  r->security = g_strdup("starttls");
  r->tls_mode = g_strdup("required-verify");
  r->email_types = g_strdup("mass");
  r->enabled = TRUE;
  r->dkim = TRUE;
  r->password_sealed = g_strdup("v1:opaque");
  r->created_at = 100;
  r->updated_at = 100;
  return r;
}

static void filter(MaRelay *r, int priority, const char *sender, const char *patterns)
{
  MaRelayFilter *f = g_new0(MaRelayFilter, 1);
  f->priority = priority;
  f->sender_domain = g_strdup(sender);
  f->recipient_patterns = g_strdup(patterns);
  g_ptr_array_add(r->filters, f);
}

static void test_crud(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaRelay *r = relay("ent1", "r1", "corp");
  filter(r, 5, "acme.example", "*.globex.example");
  filter(r, 1, "acme.example", NULL);
  g_assert_cmpint(storage_relay_add(fx->st, r, &error), ==, 0);
  g_assert_no_error(error);
  MaRelay *dup = relay("ent1", "r2", "corp");
  g_assert_cmpint(storage_relay_add(fx->st, dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  ma_relay_free(dup);
  dup = relay("nope", "r3", "x");
  g_assert_cmpint(storage_relay_add(fx->st, dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  ma_relay_free(dup);

  MaRelay *got = NULL;
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "corp", &got, &error), ==, 1);
  g_assert_cmpstr(got->id, ==, "r1");
  g_assert_cmpstr(got->password_sealed, ==, "v1:opaque");
  g_assert_cmpuint(got->filters->len, ==, 2);
  MaRelayFilter *f0 = g_ptr_array_index(got->filters, 0), *f1 = g_ptr_array_index(got->filters, 1);
  g_assert_cmpint(f0->priority, ==, 1); /* priority order, whatever the insertion order */
  g_assert_null(f0->recipient_patterns);
  g_assert_cmpstr(f1->recipient_patterns, ==, "*.globex.example");
  g_assert_cmpint(f0->seq, >, f1->seq);  /* the creation order is kept for ties */
  ma_relay_free(got);
  /* another enterprise sees nothing */
  g_assert_cmpint(storage_relay_get(fx->st, "ent2", "r1", &got, &error), ==, 0);
  g_assert_cmpint(storage_relay_delete(fx->st, "ent2", "r1", &error), ==, 0);
  g_assert_cmpint(storage_relay_set_status(fx->st, "ent2", "r1", "ok", 1, NULL, 0, &error), ==, 0);

  /* update replaces the filters */
  g_ptr_array_set_size(r->filters, 0);
  filter(r, 3, "acme.example", "client.example");
  r->daily_limit = 5;
  g_assert_cmpint(storage_relay_update(fx->st, r, &error), ==, 1);
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "r1", &got, &error), ==, 1);
  g_assert_cmpuint(got->filters->len, ==, 1);
  g_assert_cmpint(got->daily_limit, ==, 5);
  ma_relay_free(got);

  g_assert_cmpint(storage_relay_set_status(fx->st, "ent1", "r1", "suspended", 10, "3 failures", 20, &error), ==, 1);
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "r1", &got, &error), ==, 1);
  g_assert_cmpstr(got->status, ==, "suspended");
  g_assert_cmpint(got->suspended_until, ==, 20);
  ma_relay_free(got);

  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  g_assert_cmpint(storage_relay_list(fx->st, "ent1", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_ptr_array_set_size(list, 0);
  g_assert_cmpint(storage_relay_list(fx->st, "ent2", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 0);
  g_ptr_array_unref(list);
  g_assert_cmpint(storage_relay_delete(fx->st, "ent1", "r1", &error), ==, 1);
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "r1", &got, &error), ==, 0);
  g_assert_no_error(error);
  ma_relay_free(r);
}

static void test_counters(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaRelay *r = relay("ent1", "r1", "corp");
  filter(r, 1, "acme.example", NULL);
  g_assert_cmpint(storage_relay_add(fx->st, r, &error), ==, 0);
  gint64 sent = -1, last = -1;
  int failures = -1;
  g_assert_cmpint(storage_relay_usage(fx->st, "ent1", "r1", "2026-12-02", &sent, &failures, &last, &error), ==, 0);
  g_assert_cmpint(sent, ==, 0);
  g_assert_cmpint(storage_relay_count_sent(fx->st, "ent1", "r1", "2026-12-02", 3, &error), ==, 0);
  g_assert_cmpint(storage_relay_count_sent(fx->st, "ent1", "r1", "2026-12-02", -1, &error), ==, 0);
  g_assert_cmpint(storage_relay_count_sent(fx->st, "ent1", "r1", "2026-12-03", -1, &error), ==, 0);
  g_assert_cmpint(storage_relay_usage(fx->st, "ent1", "r1", "2026-12-02", &sent, &failures, &last, &error), ==, 0);
  g_assert_cmpint(sent, ==, 2);
  g_assert_cmpint(storage_relay_usage(fx->st, "ent1", "r1", "2026-12-03", &sent, &failures, &last, &error), ==, 0);
  g_assert_cmpint(sent, ==, 0); /* never below zero */
  /* another enterprise's id counts nothing */
  g_assert_cmpint(storage_relay_count_sent(fx->st, "ent2", "r1", "2026-12-02", 7, &error), ==, 0);
  g_assert_cmpint(storage_relay_usage(fx->st, "ent1", "r1", "2026-12-02", &sent, &failures, &last, &error), ==, 0);
  g_assert_cmpint(sent, ==, 2);
  /* reservations against a limit of 5 (2 counted): never more than the room, a place given back
   * is taken again, no limit grants all, another enterprise's id grants nothing */
  int granted = -1;
  g_assert_cmpint(storage_relay_reserve(fx->st, "ent1", "r1", "2026-12-02", 5, 2, &granted, &error), ==, 0);
  g_assert_cmpint(granted, ==, 2);
  g_assert_cmpint(storage_relay_reserve(fx->st, "ent1", "r1", "2026-12-02", 5, 4, &granted, &error), ==, 0);
  g_assert_cmpint(granted, ==, 1);
  g_assert_cmpint(storage_relay_reserve(fx->st, "ent1", "r1", "2026-12-02", 5, 1, &granted, &error), ==, 0);
  g_assert_cmpint(granted, ==, 0);
  g_assert_cmpint(storage_relay_count_sent(fx->st, "ent1", "r1", "2026-12-02", -1, &error), ==, 0);
  g_assert_cmpint(storage_relay_reserve(fx->st, "ent1", "r1", "2026-12-02", 5, 3, &granted, &error), ==, 0);
  g_assert_cmpint(granted, ==, 1);
  g_assert_cmpint(storage_relay_reserve(fx->st, "ent1", "r1", "2026-12-02", 0, 3, &granted, &error), ==, 0);
  g_assert_cmpint(granted, ==, 3);
  g_assert_cmpint(storage_relay_usage(fx->st, "ent1", "r1", "2026-12-02", &sent, &failures, &last, &error), ==, 0);
  g_assert_cmpint(sent, ==, 8);
  g_assert_cmpint(storage_relay_count_sent(fx->st, "ent1", "r1", "2026-12-02", -6, &error), ==, 0);
  g_assert_cmpint(storage_relay_reserve(fx->st, "ent2", "r1", "2026-12-02", 0, 3, &granted, &error), ==, 0);
  g_assert_cmpint(granted, ==, 0);

  g_assert_cmpint(storage_relay_count_failure(fx->st, "ent1", "r1", "2026-12-02", 1000, 300, &failures, &error), ==, 1);
  g_assert_cmpint(failures, ==, 1);
  g_assert_cmpint(storage_relay_count_failure(fx->st, "ent1", "r1", "2026-12-02", 1299, 300, &failures, &error), ==, 0);
  g_assert_cmpint(failures, ==, 1); /* within the gap: one outage, one failure */
  g_assert_cmpint(storage_relay_count_failure(fx->st, "ent1", "r1", "2026-12-02", 1300, 300, &failures, &error), ==, 1);
  g_assert_cmpint(failures, ==, 2);
  g_assert_cmpint(storage_relay_count_failure(fx->st, "ent1", "r1", "2026-12-03", 1301, 300, &failures, &error), ==, 1);
  g_assert_cmpint(failures, ==, 1); /* a new day counts from one */
  g_assert_no_error(error);
  ma_relay_free(r);
}

static void test_route_set(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaOutbound *m = ma_outbound_new();
  m->id = g_strdup("o1");
  m->enterprise_id = g_strdup("ent1");
  m->type = g_strdup("mass");
  m->channel = g_strdup("auto");
  m->mail_from = g_strdup("a@acme.example");
  m->raw_sha256 = g_strdup("00");
  m->route_json = g_strdup("{\"groups\":[]}");
  MaOutboundRecipient *rr = g_new0(MaOutboundRecipient, 1);
  rr->address = g_strdup("x@client.example");
  g_ptr_array_add(m->recipients, rr);
  char *ph = NULL, *pr = NULL;
  g_assert_cmpint(storage_outbound_enqueue(fx->st, m, NULL, NULL, "{}", 1, &ph, &pr, &error), ==, 1);
  g_assert_cmpint(storage_outbound_set_route(fx->st, "ent2", "o1", "{}", &error), ==, 0);
  g_assert_cmpint(storage_outbound_set_route(fx->st, "ent1", "o1", "{\"fallbacks\":[]}", &error), ==, 1);
  MaOutbound *got = NULL;
  g_assert_cmpint(storage_outbound_get(fx->st, "ent1", "o1", &got, &error), ==, 1);
  g_assert_cmpstr(got->route_json, ==, "{\"fallbacks\":[]}");
  g_assert_no_error(error);
  ma_outbound_free(got);
  ma_outbound_free(m);
}

/* The shared relay's reputation: the log read for quotas and the bounce rate (only what came after
 * a lifted suspension counts), and a suspension kept as first set until lifted. */
static void test_default_path(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  gint64 since = -1, total = -1, bounced = -1, count = -1, complained = -1;
  char *reason = NULL;
  g_assert_cmpint(storage_default_path_suspension(fx->st, "ent1", &since, &reason, &error), ==, 0);
  g_assert_cmpint(storage_default_path_suspend(fx->st, "ent1", 900, "bounce rate", &error), ==, 1);
  g_assert_cmpint(storage_default_path_suspend(fx->st, "ent1", 950, "again", &error), ==, 0);
  g_assert_cmpint(storage_default_path_suspension(fx->st, "ent1", &since, &reason, &error), ==, 1);
  g_assert_cmpint(since, ==, 900);
  g_assert_cmpstr(reason, ==, "bounce rate");
  g_clear_pointer(&reason, g_free);
  g_assert_cmpint(storage_default_path_suspension(fx->st, "ent2", &since, &reason, &error), ==, 0);
  g_assert_cmpint(storage_default_path_suspend(fx->st, "nope", 900, "x", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);

  static const char *const rcpts[] = {"a@x.example", "b@x.example", "c@x.example"};
  MaOutbound *m = ma_outbound_new();
  m->id = g_strdup("o1");
  m->enterprise_id = g_strdup("ent1");
  m->mail_from = g_strdup("a@acme.example");
  m->raw_sha256 = g_strdup("00");
  for (guint i = 0; i < G_N_ELEMENTS(rcpts); i++) {
    MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
    r->address = g_strdup(rcpts[i]);
    g_ptr_array_add(m->recipients, r);
    g_assert_cmpint(storage_default_path_record(fx->st, "ent1", "o1", rcpts[i], 100 * (i + 1), &error), ==, 0);
  }
  g_assert_cmpint(storage_outbound_enqueue(fx->st, m, NULL, NULL, NULL, 1, NULL, NULL, &error), ==, 1);
  MaOutbound *got = NULL;
  g_assert_cmpint(storage_outbound_get(fx->st, "ent1", "o1", &got, &error), ==, 1);
  gint64 row_b = ((MaOutboundRecipient *)got->recipients->pdata[1])->id;
  ma_outbound_free(got);
  ma_outbound_free(m);
  g_assert_cmpint(storage_outbound_bounce(fx->st, row_b, MA_OUT_BOUNCED, "550 5.1.1", 400, &error), ==, 1);

  g_assert_cmpint(storage_default_path_count(fx->st, "ent1", 200, &count, &error), ==, 0);
  g_assert_cmpint(count, ==, 2);
  g_assert_cmpint(storage_default_path_count(fx->st, "ent2", 0, &count, &error), ==, 0);
  g_assert_cmpint(count, ==, 0);
  /* complaints: one per recipient however many reports; another enterprise's counts nothing here */
  g_assert_cmpint(storage_default_path_complaint(fx->st, "ent1", "o1", "a@x.example", 450, &error), ==, 1);
  g_assert_cmpint(storage_default_path_complaint(fx->st, "ent1", "o1", "a@x.example", 460, &error), ==, 0);
  g_assert_cmpint(storage_default_path_complaint(fx->st, "ent2", "o1", "c@x.example", 470, &error), ==, 1);
  g_assert_cmpint(storage_default_path_rates(fx->st, "ent1", 1000, &total, &bounced, &complained, &error), ==, 0);
  g_assert_cmpint(total, ==, 3);
  g_assert_cmpint(bounced, ==, 1);
  g_assert_cmpint(complained, ==, 1);
  g_assert_cmpint(storage_default_path_rates(fx->st, "ent1", 1, &total, &bounced, &complained, &error), ==, 0);
  g_assert_cmpint(total, ==, 1); /* the newest only: c, not bounced, and its complaint was ent2's */
  g_assert_cmpint(bounced, ==, 0);
  g_assert_cmpint(complained, ==, 0);

  /* lifted: the rate starts afresh, and a new suspension can be set */
  g_assert_cmpint(storage_default_path_resume(fx->st, "ent1", 1000, &error), ==, 1);
  g_assert_cmpint(storage_default_path_resume(fx->st, "ent1", 1001, &error), ==, 0);
  g_assert_cmpint(storage_default_path_suspension(fx->st, "ent1", &since, &reason, &error), ==, 0);
  g_assert_cmpint(storage_default_path_rates(fx->st, "ent1", 1000, &total, &bounced, &complained, &error), ==, 0);
  g_assert_cmpint(total, ==, 0);
  g_assert_cmpint(storage_default_path_suspend(fx->st, "ent1", 2000, "quota", &error), ==, 1);
  g_assert_cmpint(storage_default_path_suspension(fx->st, "ent1", &since, &reason, &error), ==, 1);
  g_assert_cmpint(since, ==, 2000);
  g_assert_cmpstr(reason, ==, "quota");
  g_free(reason);
  g_assert_no_error(error);
}

/* Channel system accounts and an employee's default sending mailbox: set, replaced, scoped, and
 * the choice forgotten with its employee. */
static void test_channel_accounts(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  char *address = NULL;
  gint64 verified = -1;
  g_assert_cmpint(storage_channel_account_get(fx->st, "ent1", "enterprise_relay", &address, &verified, &error), ==, 0);
  g_assert_cmpint(storage_channel_account_set(fx->st, "ent1", "enterprise_relay", "ops@acme.example", 5, &error), ==, 0);
  g_assert_cmpint(storage_channel_account_set(fx->st, "ent1", "enterprise_relay", "it@acme.example", 6, &error), ==, 0);
  g_assert_cmpint(storage_channel_account_get(fx->st, "ent1", "enterprise_relay", &address, &verified, &error), ==, 1);
  g_assert_cmpstr(address, ==, "it@acme.example");
  g_assert_cmpint(verified, ==, 6);
  g_clear_pointer(&address, g_free);
  g_assert_cmpint(storage_channel_account_get(fx->st, "ent2", "enterprise_relay", &address, &verified, &error), ==, 0);
  g_assert_cmpint(storage_channel_account_clear(fx->st, "ent2", "enterprise_relay", &error), ==, 0);
  g_assert_cmpint(storage_channel_account_clear(fx->st, "ent1", "enterprise_relay", &error), ==, 1);
  g_assert_cmpint(storage_channel_account_get(fx->st, "ent1", "enterprise_relay", &address, &verified, &error), ==, 0);
  g_assert_cmpint(storage_channel_account_set(fx->st, "nope", "enterprise_relay", "x@y.example", 1, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);

  MaEmployee ann = {.id = "emp1", .enterprise_id = "ent1", .email = "ann@acme.example", .created_at = 1};
  g_assert_cmpint(storage_employee_add(fx->st, &ann, &error), ==, 0);
  /* the mailboxes a choice names (a foreign key on both backends) */
  for (int i = 1; i <= 2; i++) {
    g_autofree char *id = g_strdup_printf("mb%d", i), *host = g_strdup_printf("imap%d.acme.example", i);
    MaMailbox mb = {.id = id, .enterprise_id = "ent1", .employee_id = "emp1", .email = "ann@acme.example",
                    .username = "ann@acme.example", .protocol = "imap", .host = host, .port = 993,
                    .security = "tls", .auth = "password", .archiving = TRUE, .created_at = i};
    g_assert_cmpint(storage_mailbox_add(fx->st, &mb, &error), ==, 0);
  }
  char *mailbox = NULL;
  g_assert_cmpint(storage_employee_send_mailbox_get(fx->st, "ent1", "emp1", &mailbox, &error), ==, 0);
  g_assert_cmpint(storage_employee_send_mailbox_set(fx->st, "ent1", "emp1", "mb1", &error), ==, 0);
  g_assert_cmpint(storage_employee_send_mailbox_set(fx->st, "ent1", "emp1", "mb2", &error), ==, 0);
  g_assert_cmpint(storage_employee_send_mailbox_get(fx->st, "ent1", "emp1", &mailbox, &error), ==, 1);
  g_assert_cmpstr(mailbox, ==, "mb2");
  g_clear_pointer(&mailbox, g_free);
  g_assert_cmpint(storage_employee_send_mailbox_get(fx->st, "ent2", "emp1", &mailbox, &error), ==, 0);
  /* unbinding the chosen mailbox forgets the choice, and its daily counts */
  int granted = 0;
  g_assert_cmpint(storage_mailbox_send_reserve(fx->st, "mb2", "2026-12-02", 0, 3, &granted, NULL, &error), ==, 0);
  g_assert_cmpint(storage_mailbox_remove(fx->st, "ent1", "mb2", &error), ==, 1);
  g_assert_cmpint(storage_employee_send_mailbox_get(fx->st, "ent1", "emp1", &mailbox, &error), ==, 0);
  gint64 sent = -1;
  g_assert_cmpint(storage_mailbox_sent_on(fx->st, "mb2", "2026-12-02", &sent, &error), ==, 0);
  g_assert_cmpint(sent, ==, 0);
  g_assert_cmpint(storage_employee_send_mailbox_set(fx->st, "ent1", "emp1", "mb1", &error), ==, 0);
  g_assert_cmpint(storage_employee_remove(fx->st, "ent1", "emp1", &error), ==, 1);
  g_assert_cmpint(storage_employee_send_mailbox_get(fx->st, "ent1", "emp1", &mailbox, &error), ==, 0);
  g_assert_null(mailbox);
  g_assert_no_error(error);
}


/* An XOAUTH2 relay keeps its provider; it reads its grant's state (owner "relay:<id>", never
 * another enterprise's nor another owner's), which a write of the relay does not touch; deleting
 * the relay deletes its grant and only its own. */
static void test_oauth2_grant(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaRelay *r = relay("ent1", "r1", "corp");
  r->auth_enabled = TRUE;
  r->auth_mechanism = g_strdup("XOAUTH2");
  r->username = g_strdup("relay@acme.example");
  r->auth_provider = g_strdup("outlook");
  g_clear_pointer(&r->password_sealed, g_free);
  filter(r, 1, "acme.example", NULL);
  g_assert_cmpint(storage_relay_add(fx->st, r, &error), ==, 0);
  MaRelay *other = relay("ent1", "r2", "other");
  g_assert_cmpint(storage_relay_add(fx->st, other, &error), ==, 0);
  g_assert_no_error(error);
  MaRelay *got = NULL;
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "r1", &got, &error), ==, 1);
  g_assert_cmpstr(got->auth_provider, ==, "outlook");
  g_assert_null(got->grant_state); /* not signed in yet */
  ma_relay_free(got);

  MaOAuth2Grant g = {.owner = "relay:r1", .enterprise_id = "ent1", .provider = "outlook", .access_sealed = "a",
                     .access_expires_at = 500, .refresh_sealed = "rt", .updated_at = 100};
  g_assert_cmpint(storage_oauth2_grant_put(fx->st, &g, &error), ==, 0);
  MaOAuth2Grant mb = {.owner = "mailbox:r2", .enterprise_id = "ent1", .provider = "outlook", .access_sealed = "a",
                      .access_expires_at = 500, .updated_at = 100};
  g_assert_cmpint(storage_oauth2_grant_put(fx->st, &mb, &error), ==, 0);
  g_assert_no_error(error);
  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  g_assert_cmpint(storage_relay_list(fx->st, "ent1", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 2);
  g_assert_cmpstr(((MaRelay *) g_ptr_array_index(list, 0))->grant_state, ==, "valid");
  g_assert_null(((MaRelay *) g_ptr_array_index(list, 1))->grant_state); /* mailbox:r2 is not relay r2's */
  g_ptr_array_unref(list);

  /* a write of the relay keeps the grant; the provider changes with it */
  g_free(r->auth_provider);
  r->auth_provider = g_strdup("gmail");
  r->grant_state = g_strdup("revoked"); /* ignored: not the relay's to write */
  g_assert_cmpint(storage_relay_update(fx->st, r, &error), ==, 1);
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "corp", &got, &error), ==, 1);
  g_assert_cmpstr(got->auth_provider, ==, "gmail");
  g_assert_cmpstr(got->grant_state, ==, "valid");
  ma_relay_free(got);
  g_assert_cmpint(storage_oauth2_grant_revoke(fx->st, "relay:r1", 200, &error), ==, 0);
  g_assert_cmpint(storage_relay_get(fx->st, "ent1", "r1", &got, &error), ==, 1);
  g_assert_cmpstr(got->grant_state, ==, "revoked");
  ma_relay_free(got);

  /* deleting the relay deletes its grant, not the mailbox's */
  g_assert_cmpint(storage_relay_delete(fx->st, "ent1", "r1", &error), ==, 1);
  MaOAuth2Grant *left = NULL;
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "relay:r1", &left, &error), ==, 0);
  g_assert_null(left);
  g_assert_cmpint(storage_oauth2_grant_get(fx->st, "mailbox:r2", &left, &error), ==, 1);
  g_assert_no_error(error);
  ma_oauth2_grant_free(left);
  ma_relay_free(r);
  ma_relay_free(other);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  /* one parameter, the backend: SQLite always, PostgreSQL when MAILAGENT_TEST_PG names one */
#define ADD(path, fn) testutil_storage_add("/storage" path, "/storage/postgresql" path, Fixture, fx_setup, fn, fx_teardown)
  ADD("/relays/crud", test_crud);
  ADD("/relays/counters", test_counters);
  ADD("/relays/route", test_route_set);
  ADD("/relays/default-path", test_default_path);
  ADD("/relays/channel-accounts", test_channel_accounts);
  ADD("/relays/oauth2-grant", test_oauth2_grant);
  return g_test_run();
}
