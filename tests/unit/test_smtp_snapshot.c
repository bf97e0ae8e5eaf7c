/* test_smtp_snapshot.c - the RCPT snapshot against a real database: addresses (case, rotation
 * grace against the test clock), the forwarder policy from the snapshot's employees, domains and
 * settings, the tenant version that moves with tenant tables only, and the refresher publishing a
 * change without anyone asking. */
#include "agent/lib/clock.h"
#include "agent/smtp/rcpt_refresher.h"
#include "agent/smtp/rcpt_snapshot.h"
#include "agent/tenant/settings.h"
#include "testutil.h"

#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fx;

static void fx_setup(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  MaEnterprise e = {.id = "e1", .slug = "acme", .name = "Acme", .inbound_local = "acme-k3x9", .created_at = 1};
  MaEmployee emp = {.id = "emp-1", .enterprise_id = "e1", .email = "alice@acme.example", .created_at = 1};

  fx->dir = testutil_tempdir("ma-snapshot-XXXXXX");
  g_assert_cmpint(storage_open(fx->dir, TRUE, &fx->st, &error), ==, 0);
  e.domains = g_ptr_array_new();
  g_ptr_array_add(e.domains, "acme.example");
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  g_ptr_array_unref(e.domains);
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, 0);
  g_assert_no_error(error);
}

static void fx_teardown(Fx *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
  ma_clock_set_for_test(0);
}

static gint64 tenant_version(Fx *fx)
{
  gint64 v = -1;
  GError *error = NULL;
  g_assert_cmpint(storage_tenant_version(fx->st, &v, &error), ==, 0);
  return v;
}

static RcptSnapshot *load(Fx *fx)
{
  GError *error = NULL;
  RcptSnapshot *snap = rcpt_snapshot_load(fx->st, "employee", tenant_version(fx), &error);
  g_assert_no_error(error);
  g_assert_nonnull(snap);
  return snap;
}

static void test_addresses(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  g_autofree char *ent = NULL;
  RcptSnapshot *snap;

  ma_clock_set_for_test(1000000 * 1000LL);
  g_assert_cmpint(storage_inbound_rotate(fx->st, "e1", "acme-new1", 1000000 + 3600, &error), ==, 0);
  snap = load(fx);
  g_assert_cmpuint(rcpt_snapshot_address_count(snap), ==, 2);
  g_assert_cmpint(rcpt_snapshot_inbound(snap, "ACME-NEW1", ma_now(), &ent), ==, 1);
  g_assert_cmpstr(ent, ==, "e1");
  g_clear_pointer(&ent, g_free);
  /* the old address lives through its grace, then the same snapshot refuses it */
  g_assert_cmpint(rcpt_snapshot_inbound(snap, "acme-k3x9", ma_now(), &ent), ==, 1);
  g_clear_pointer(&ent, g_free);
  g_assert_cmpint(rcpt_snapshot_inbound(snap, "acme-k3x9", 1000000 + 3600, &ent), ==, 0);
  g_assert_null(ent);
  g_assert_cmpint(rcpt_snapshot_inbound(snap, "nobody", ma_now(), &ent), ==, 0);
  rcpt_snapshot_unref(snap);
}

static void test_policy(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  FwdDecision d = {0};
  RcptSnapshot *snap = load(fx);

  g_assert_cmpint(rcpt_snapshot_policy(snap, "e1", "192.0.2.1", "Alice@Acme.Example", NULL, 0, &d, &error), ==, 0);
  g_assert_true(d.satisfied);
  g_assert_cmpstr(d.employee_id, ==, "emp-1");
  g_assert_cmpstr(d.signal, ==, "envelope_sender");
  forwarder_decision_clear(&d);
  g_assert_cmpint(rcpt_snapshot_policy(snap, "e1", "192.0.2.1", "bob@acme.example", NULL, 0, &d, &error), ==, 0);
  g_assert_false(d.satisfied);
  forwarder_decision_clear(&d);
  rcpt_snapshot_unref(snap);

  /* settings come from the snapshot loaded after the change, not before */
  g_assert_cmpint(settings_set(fx->st, "e1", "forwarder_policy", "domain", &error), ==, 0);
  g_assert_cmpint(settings_set(fx->st, "e1", "forwarder_networks", "192.0.2.0/24", &error), ==, 0);
  snap = load(fx);
  g_assert_cmpint(rcpt_snapshot_policy(snap, "e1", "192.0.2.1", "bob@else.example", NULL, 0, &d, &error), ==, 0);
  g_assert_true(d.satisfied);
  g_assert_cmpstr(d.signal, ==, "forwarder_network");
  forwarder_decision_clear(&d);
  /* an enterprise the snapshot does not know: defaults, no employees */
  g_assert_cmpint(rcpt_snapshot_policy(snap, "gone", "192.0.2.1", "alice@acme.example", NULL, 0, &d, &error), ==, 0);
  g_assert_false(d.satisfied);
  forwarder_decision_clear(&d);
  rcpt_snapshot_unref(snap);
}

static void test_tenant_version(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  gint64 v0 = tenant_version(fx), v1, v2;
  MaRecord *r = ma_record_new(MA_RECORD_CONTACT, "c1");
  MaEmployee emp = {.id = "emp-2", .enterprise_id = "e1", .email = "bob@acme.example", .created_at = 1};

  r->name = g_strdup("Ann");
  g_assert_cmpint(storage_record_upsert(fx->st, "e1", r, &error), ==, 0);
  ma_record_free(r);
  g_assert_cmpint(tenant_version(fx), ==, v0); /* CRM records are not read at RCPT */
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, 0);
  v1 = tenant_version(fx);
  g_assert_cmpint(v1, !=, v0);
  g_assert_cmpint(storage_enterprise_domain_add(fx->st, "e1", "acme.test", &error), ==, 0);
  v2 = tenant_version(fx);
  g_assert_cmpint(v2, !=, v1);
  g_assert_cmpint(settings_set(fx->st, "e1", "archiving", "off", &error), ==, 0);
  g_assert_cmpint(tenant_version(fx), !=, v2);
  g_assert_no_error(error);
}

/* The refresher picks up a new employee committed by another connection on its own. */
static void test_refresher(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  MaEmployee emp = {.id = "emp-3", .enterprise_id = "e1", .email = "carol@acme.example", .created_at = 1};
  RcptRefresher *r = rcpt_refresher_start(fx->dir, "employee", &error);
  RcptSnapshot *snap;
  FwdDecision d = {0};
  gboolean seen = FALSE;

  g_assert_no_error(error);
  snap = rcpt_refresher_current(r);
  g_assert_cmpint(rcpt_snapshot_policy(snap, "e1", "192.0.2.1", "carol@acme.example", NULL, 0, &d, &error), ==, 0);
  g_assert_false(d.satisfied);
  forwarder_decision_clear(&d);
  rcpt_snapshot_unref(snap);
  g_assert_cmpint(storage_employee_add(fx->st, &emp, &error), ==, 0);
  for (int i = 0; i < 500 && !seen; i++) { /* up to 5 s; it takes about one interval */
    snap = rcpt_refresher_current(r);
    g_assert_cmpint(rcpt_snapshot_policy(snap, "e1", "192.0.2.1", "carol@acme.example", NULL, 0, &d, &error), ==, 0);
    seen = d.satisfied;
    forwarder_decision_clear(&d);
    rcpt_snapshot_unref(snap);
    if (!seen) g_usleep(10000);
  }
  g_assert_true(seen);
  rcpt_refresher_stop(r);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add("/smtp/snapshot/addresses", Fx, NULL, fx_setup, test_addresses, fx_teardown);
  g_test_add("/smtp/snapshot/policy", Fx, NULL, fx_setup, test_policy, fx_teardown);
  g_test_add("/smtp/snapshot/tenant_version", Fx, NULL, fx_setup, test_tenant_version, fx_teardown);
  g_test_add("/smtp/snapshot/refresher", Fx, NULL, fx_setup, test_refresher, fx_teardown);
  return g_test_run();
}
