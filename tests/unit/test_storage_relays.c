/* test_storage_relays.c - unit tests of the enterprise relays in storage (migration 110): tenant
 * scoping, lookup by id or name, filters kept in priority then creation order and replaced whole
 * on update, status changes, the daily counters (sent never below zero, a failure counted only a
 * gap after the last), and a queued message's route rewritten.
 */
#include "storage/storage.h"

#include "testutil.h"

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
  GError *error = NULL;
  fx->dir = testutil_tempdir("ma-relays-XXXXXX");
  g_assert_cmpint(storage_open(fx->dir, TRUE, &fx->st, &error), ==, 0);
  g_assert_no_error(error);
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

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/storage/relays/crud", Fixture, NULL, fx_setup, test_crud, fx_teardown);
  g_test_add("/storage/relays/counters", Fixture, NULL, fx_setup, test_counters, fx_teardown);
  g_test_add("/storage/relays/route", Fixture, NULL, fx_setup, test_route_set, fx_teardown);
  return g_test_run();
}
