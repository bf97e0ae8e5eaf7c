/* test_domains.c - agent/domains: names (IDN to A-labels, every refusal names its rule), selector
 * rules and generated selectors, the verification state machine as a table, and a domain's life
 * against an in-memory DNS: key created and sealed, record missing then published (key activates,
 * domain verified, webhook event queued), signing with both keys, the scope check, rotation (the
 * old key signs until the new one verifies, then retires with its removal date), a DNS time-out
 * that changes nothing, a record that disappears (failed only on the second check), and SPF
 * required when the return path is on the domain.
 */
#include "agent/domains/domains_private.h"
#include "agent/lib/clock.h"
#include "agent/lib/config.h"
#include "agent/lib/error.h"

#include "testutil.h"

#include <string.h>

/* ---- names ---------------------------------------------------------------------------------- */

static void test_normalize(void)
{
  static const struct {
    const char *in, *out, *error_part;
  } cases[] = {
    { "Example.COM", "example.com", NULL },
    { "example.com.", "example.com", NULL },
    { "bücher.example", "xn--bcher-kva.example", NULL },
    { "BÜCHER.example", "xn--bcher-kva.example", NULL },
    { "xn--bcher-kva.example", "xn--bcher-kva.example", NULL },
    { "例え.テスト", "xn--r8jz45g.xn--zckzah", NULL },
    { "", NULL, "empty" },
    { "com", NULL, "single label" },
    { "a..b", NULL, "empty label" },
    { "-a.example", NULL, "hyphen" },
    { "a_b.example", NULL, "not" },
    { "user@example.com", NULL, "address" },
    { "example.com/path", NULL, "bare domain" },
    { "exa mple.com", NULL, "space" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    GError *error = NULL;
    g_autofree char *out = ma_domain_normalize(cases[i].in, &error);
    if (cases[i].out) {
      g_assert_no_error(error);
      g_assert_cmpstr(out, ==, cases[i].out);
    } else {
      g_assert_null(out);
      g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
      if (!strstr(error->message, cases[i].error_part))
        g_error("\"%s\": message \"%s\" lacks \"%s\"", cases[i].in, error->message, cases[i].error_part);
      g_clear_error(&error);
    }
  }
  /* Lengths: a 64-octet label, a 254-octet name. */
  g_autofree char *label = g_strnfill(64, 'a');
  g_autofree char *long_label = g_strconcat(label, ".example", NULL);
  GError *error = NULL;
  g_assert_null(ma_domain_normalize(long_label, &error));
  g_assert_nonnull(strstr(error->message, "at most 63"));
  g_clear_error(&error);
  GString *big = g_string_new(NULL);
  while (big->len < 250) g_string_append(big, "abcdefghi.");
  g_string_append(big, "example");
  g_assert_null(ma_domain_normalize(big->str, &error));
  g_assert_nonnull(strstr(error->message, "at most 253"));
  g_clear_error(&error);
  g_string_free(big, TRUE);
  g_autofree char *u = ma_domain_to_unicode("xn--bcher-kva.example");
  g_assert_cmpstr(u, ==, "bücher.example");
}

static void test_selectors(void)
{
  static const struct {
    const char *s, *error_part;
  } cases[] = {
    { "s1", NULL },
    { "ma-2026", NULL },
    { "abcdefghijklmnopqrst", NULL },
    { "abcdefghijklmnopqrstu", "at most 20" },
    { "S1", "lowercase letters, digits and hyphens only" },
    { "s_1", "lowercase letters, digits and hyphens only" },
    { "s.1", "lowercase letters, digits and hyphens only" },
    { "-s1", "starts or ends with a hyphen" },
    { "s1-", "starts or ends with a hyphen" },
    { "", "empty" },
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    GError *error = NULL;
    gboolean ok = ma_dkim_selector_check(cases[i].s, &error);
    g_assert_cmpint(ok, ==, cases[i].error_part == NULL);
    if (!ok) {
      if (!strstr(error->message, cases[i].error_part))
        g_error("\"%s\": message \"%s\" lacks \"%s\"", cases[i].s, error->message, cases[i].error_part);
      g_clear_error(&error);
    }
  }
  /* 2026-12-02 */
  GPtrArray *taken = g_ptr_array_new();
  g_autofree char *a = ma_dkim_selector_generate(1796169600, MA_DKIM_KEY_RSA_2048, taken);
  g_assert_cmpstr(a, ==, "ma20261202r");
  g_ptr_array_add(taken, a);
  g_autofree char *b = ma_dkim_selector_generate(1796169600, MA_DKIM_KEY_RSA_2048, taken);
  g_assert_cmpstr(b, ==, "ma20261202r2");
  g_autofree char *c = ma_dkim_selector_generate(1796169600, MA_DKIM_KEY_ED25519, taken);
  g_assert_cmpstr(c, ==, "ma20261202e");
  g_assert_true(ma_dkim_selector_check(b, NULL));
  g_ptr_array_unref(taken);
}

/* ---- the state machine ---------------------------------------------------------------------- */

static void test_next_state_table(void)
{
  static const struct {
    const char *status;
    int failures, dns_errors;
    MaCheckOutcome outcome;
    const char *reason;
    const char *want_status;
    int want_failures, want_dns_errors;
    gint64 want_delay;
  } rows[] = {
    { "pending", 0, 0, MA_CHECK_OK, NULL, "verified", 0, 0, DOMAINS_RECHECK_VERIFIED },
    { "pending", 0, 0, MA_CHECK_FAILED, "no_record", "pending", 1, 0, DOMAINS_RECHECK_UNVERIFIED },
    { "pending", 0, 0, MA_CHECK_FAILED, "wrong_key", "failed", 1, 0, DOMAINS_RECHECK_UNVERIFIED },
    { "pending", 0, 0, MA_CHECK_FAILED, "no_key", "pending", 1, 0, DOMAINS_RECHECK_VERIFIED },
    { "pending", 0, 0, MA_CHECK_TEMPFAIL, "dns_timeout", "pending", 0, 1, 60 },
    { "pending", 0, 3, MA_CHECK_TEMPFAIL, "dns_timeout", "pending", 0, 4, 480 },
    { "pending", 0, 9, MA_CHECK_TEMPFAIL, "dns_timeout", "pending", 0, 10, DOMAINS_RECHECK_UNVERIFIED },
    { "verified", 0, 0, MA_CHECK_TEMPFAIL, "dns_timeout", "verified", 0, 1, 60 },
    { "verified", 0, 20, MA_CHECK_TEMPFAIL, "dns_timeout", "verified", 0, 21, DOMAINS_RECHECK_VERIFIED },
    { "verified", 0, 2, MA_CHECK_FAILED, "no_record", "verified", 1, 0, DOMAINS_RECHECK_SUSPECT },
    { "verified", 1, 0, MA_CHECK_FAILED, "no_record", "failed", 2, 0, DOMAINS_RECHECK_UNVERIFIED },
    { "verified", 1, 0, MA_CHECK_OK, NULL, "verified", 0, 0, DOMAINS_RECHECK_VERIFIED },
    { "failed", 2, 0, MA_CHECK_FAILED, "no_record", "failed", 3, 0, DOMAINS_RECHECK_UNVERIFIED },
    { "failed", 2, 0, MA_CHECK_OK, NULL, "verified", 0, 0, DOMAINS_RECHECK_VERIFIED },
  };
  for (guint i = 0; i < G_N_ELEMENTS(rows); i++) {
    MaDomain in = { .status = (char *) rows[i].status, .failures = rows[i].failures,
                    .dns_errors = rows[i].dns_errors, .verified_at = 5 };
    MaDomain out = { 0 };
    ma_domains_next_state(&in, rows[i].outcome, rows[i].reason, "d", 1000, &out);
    if (g_strcmp0(out.status, rows[i].want_status) != 0 || out.failures != rows[i].want_failures ||
        out.dns_errors != rows[i].want_dns_errors || out.next_check_at != 1000 + rows[i].want_delay)
      g_error("row %u: got %s failures %d dns_errors %d delay %" G_GINT64_FORMAT, i, out.status, out.failures,
              out.dns_errors, out.next_check_at - 1000);
    g_assert_cmpint(out.checked_at, ==, 1000);
    /* verified_at is the first verification, kept while verified. */
    gboolean was = strcmp(rows[i].status, "verified") == 0;
    if (rows[i].outcome == MA_CHECK_OK) g_assert_cmpint(out.verified_at, ==, was ? 5 : 1000);
    g_free(out.status);
    g_free(out.reason);
    g_free(out.detail);
  }
}

/* ---- a domain's life against an in-memory DNS ----------------------------------------------- */

typedef struct {
  GHashTable *txt;   /* name -> GPtrArray of char* records */
  GHashTable *fail;  /* names that time out */
  guint lookups;
} FakeZone;

static MaDnsResult *fake_lookup(void *ctx, const char *name, MaDnsType type)
{
  FakeZone *z = ctx;
  z->lookups++;
  if (g_hash_table_contains(z->fail, name)) return ma_dns_result_new(name, type, MA_DNS_TIMEOUT);
  GPtrArray *records = type == MA_DNS_TXT ? g_hash_table_lookup(z->txt, name) : NULL;
  if (!records || records->len == 0) return ma_dns_result_new(name, type, MA_DNS_NXDOMAIN);
  MaDnsResult *r = ma_dns_result_new(name, type, MA_DNS_OK);
  for (guint i = 0; i < records->len; i++) {
    const char *t = records->pdata[i];
    ma_dns_result_add_txt(r, t, strlen(t));
  }
  return r;
}

static void zone_set(FakeZone *z, const char *name, const char *value)
{
  GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
  if (value) g_ptr_array_add(a, g_strdup(value));
  g_hash_table_replace(z->txt, g_strdup(name), a);
}

typedef struct {
  char *dir;
  MaStorage *st;
  FakeZone zone;
  MaDomainsResolver resolver;
  MaConfig cfg;
  guint8 master[32];
} Fx;

static void fx_setup(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  fx->dir = testutil_tempdir("ma-domains-XXXXXX");
  g_assert_cmpint(storage_open(fx->dir, TRUE, &fx->st, &error), ==, 0);
  MaEnterprise e = { .id = "e1", .slug = "acme", .name = "Acme", .created_at = 1 };
  e.domains = g_ptr_array_new();
  g_ptr_array_add(e.domains, "xn--bcher-kva.example");
  g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  g_ptr_array_unref(e.domains);
  fx->zone.txt = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  fx->zone.fail = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  fx->resolver = (MaDomainsResolver) { fake_lookup, &fx->zone };
  memset(fx->master, 7, sizeof fx->master);
  ma_clock_set_for_test(1796169600000);
}

static void fx_teardown(Fx *fx, gconstpointer data)
{
  ma_clock_set_for_test(0);
  g_hash_table_unref(fx->zone.txt);
  g_hash_table_unref(fx->zone.fail);
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static const char *D = "xn--bcher-kva.example";

/* Runs a check and applies it; returns the status afterwards. notes gets the operator's messages. */
static char *verify(Fx *fx, gint64 now, GPtrArray *notes, gboolean *changed)
{
  GError *error = NULL;
  MaDomainCheck *c = ma_domains_check(fx->st, &fx->cfg, &fx->resolver, "e1", D, now, &error);
  g_assert_no_error(error);
  gboolean ch = FALSE;
  g_assert_cmpint(ma_domains_apply(fx->st, c, now, notes, &ch, &error), ==, 0);
  g_assert_no_error(error);
  if (changed) *changed = ch;
  char *status = g_strdup(c->domain->status);
  ma_domain_check_free(c);
  return status;
}

static gint64 outbox_count(Fx *fx, const char *event)
{
  GPtrArray *due = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, G_MAXINT64, 0, 100, due, NULL), ==, 0);
  gint64 n = 0;
  for (guint i = 0; i < due->len; i++)
    if (strcmp(((MaOutboxEvent *) due->pdata[i])->event, event) == 0) n++;
  g_ptr_array_unref(due);
  return n;
}

static MaDomainKey *create_key(Fx *fx, MaDkimKeyType type, const char *selector, gint64 now)
{
  MaDomainKeyRequest req = { .enterprise_id = "e1", .domain = D, .selector = selector, .type = type, .now = now };
  MaDomainKey *k = NULL;
  GError *error = NULL;
  g_assert_cmpint(ma_domains_key_create(fx->st, fx->master, &req, &k, &error), ==, 0);
  g_assert_no_error(error);
  return k;
}

static const char msg[] = "From: a@xn--bcher-kva.example\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nbody\r\n";

static void test_life(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
  gint64 t = 1796169600;
  g_autofree char *reason = NULL;

  /* No key yet: pending, not in scope, nothing to sign with. */
  g_autofree char *s0 = verify(fx, t, notes, NULL);
  g_assert_cmpstr(s0, ==, "pending");
  g_assert_cmpint(ma_domains_may_send(fx->st, "e1", "bücher.example", &reason, &error), ==, 0);
  g_assert_nonnull(strstr(reason, "pending"));
  g_clear_pointer(&reason, g_free);
  char *headers = NULL;
  g_assert_cmpint(ma_domains_dkim_sign(fx->st, fx->master, "e1", D, msg, strlen(msg), NULL, &headers, &error), ==, 0);
  g_assert_null(headers);

  /* A key: sealed at rest (no PEM in the row), generated selector, pending until published; the
   * domain (checked rarely while it had no key) is due again at once. */
  MaDomain *due_row = NULL;
  g_assert_cmpint(storage_domain_get(fx->st, "e1", D, &due_row, &error), ==, 1);
  g_assert_cmpint(due_row->next_check_at, ==, t + DOMAINS_RECHECK_VERIFIED);
  ma_domain_free(due_row);
  MaDomainKey *rsa = create_key(fx, MA_DKIM_KEY_RSA_2048, NULL, t + 5);
  g_assert_cmpint(storage_domain_get(fx->st, "e1", D, &due_row, &error), ==, 1);
  g_assert_cmpint(due_row->next_check_at, ==, t + 5);
  ma_domain_free(due_row);
  g_assert_cmpstr(rsa->selector, ==, "ma20261202r");
  g_assert_true(g_str_has_prefix(rsa->private_sealed, "v1:"));
  g_assert_null(strstr(rsa->private_sealed, "PRIVATE KEY"));
  g_autofree char *s1 = verify(fx, t + 10, notes, NULL);
  g_assert_cmpstr(s1, ==, "pending");
  g_assert_cmpint(outbox_count(fx, "domain.status_changed"), ==, 0);

  /* A wrong key published: failed, reason wrong_key. */
  g_autofree char *name = domains_key_name(rsa->selector, D);
  zone_set(&fx->zone, name, "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC");
  gboolean changed = FALSE;
  g_autofree char *s2 = verify(fx, t + 20, notes, &changed);
  g_assert_cmpstr(s2, ==, "failed");
  g_assert_true(changed);
  MaDomain *row = NULL;
  g_assert_cmpint(storage_domain_get(fx->st, "e1", D, &row, &error), ==, 1);
  g_assert_cmpstr(row->reason, ==, "wrong_key");
  g_assert_cmpint(row->checked_at, ==, t + 20);
  ma_domain_free(row);

  /* The right record: verified, key active, in scope; one event per change. */
  g_autofree char *record = ma_domains_key_record(rsa);
  zone_set(&fx->zone, name, record);
  g_autofree char *s3 = verify(fx, t + 30, notes, &changed);
  g_assert_cmpstr(s3, ==, "verified");
  g_assert_cmpint(outbox_count(fx, "domain.status_changed"), ==, 2);
  g_assert_cmpint(ma_domains_may_send(fx->st, "e1", "BÜCHER.example", NULL, &error), ==, 1);
  g_assert_cmpint(ma_domains_may_send(fx->st, "e2", D, NULL, &error), ==, 0);

  /* Signing: one RSA signature; an ed25519 key added signs too once it verifies. */
  g_assert_cmpint(ma_domains_dkim_sign(fx->st, fx->master, "e1", D, msg, strlen(msg), NULL, &headers, &error), ==, 1);
  g_assert_nonnull(strstr(headers, "a=rsa-sha256"));
  g_assert_nonnull(strstr(headers, "s=ma20261202r;"));
  g_clear_pointer(&headers, g_free);
  MaDomainKey *ed = create_key(fx, MA_DKIM_KEY_ED25519, "ed1", t);
  g_autofree char *ed_name = domains_key_name("ed1", D);
  g_autofree char *ed_record = ma_domains_key_record(ed);
  zone_set(&fx->zone, ed_name, ed_record);
  g_autofree char *s4 = verify(fx, t + 40, notes, NULL);
  g_assert_cmpstr(s4, ==, "verified");
  g_assert_cmpint(ma_domains_dkim_sign(fx->st, fx->master, "e1", D, msg, strlen(msg), NULL, &headers, &error), ==, 1);
  const char *first = strstr(headers, "a=rsa-sha256");
  const char *second = strstr(headers, "a=ed25519-sha256");
  g_assert_true(first && second && first < second);
  g_clear_pointer(&headers, g_free);

  /* Rotation: a new RSA key; the old one signs until the new one verifies. */
  GError *conflict = NULL;
  MaDomainKey *rot = create_key(fx, MA_DKIM_KEY_RSA_2048, NULL, t + 50);
  g_assert_cmpstr(rot->selector, ==, "ma20261202r2");
  MaDomainKeyRequest again = { .enterprise_id = "e1", .domain = D, .type = MA_DKIM_KEY_RSA_1024, .now = t };
  MaDomainKey *none = NULL;
  g_assert_cmpint(ma_domains_key_create(fx->st, fx->master, &again, &none, &conflict), ==, -1);
  g_assert_error(conflict, MA_ERROR, MA_ERROR_CONFLICT); /* one pending RSA key at a time */
  g_clear_error(&conflict);
  g_autofree char *s5 = verify(fx, t + 60, notes, NULL);
  g_assert_cmpstr(s5, ==, "verified");
  g_assert_cmpint(ma_domains_dkim_sign(fx->st, fx->master, "e1", D, msg, strlen(msg), NULL, &headers, &error), ==, 1);
  g_assert_nonnull(strstr(headers, "s=ma20261202r;"));
  g_clear_pointer(&headers, g_free);
  g_ptr_array_set_size(notes, 0);
  g_autofree char *rot_name = domains_key_name(rot->selector, D);
  g_autofree char *rot_record = ma_domains_key_record(rot);
  zone_set(&fx->zone, rot_name, rot_record);
  g_autofree char *s6 = verify(fx, t + 70, notes, NULL);
  g_assert_cmpstr(s6, ==, "verified");
  g_assert_cmpint(ma_domains_dkim_sign(fx->st, fx->master, "e1", D, msg, strlen(msg), NULL, &headers, &error), ==, 1);
  g_assert_nonnull(strstr(headers, "s=ma20261202r2;"));
  g_assert_null(strstr(headers, "s=ma20261202r;"));
  g_clear_pointer(&headers, g_free);
  g_assert_cmpuint(notes->len, ==, 2);
  g_assert_nonnull(strstr(notes->pdata[0], "ma20261202r2 of xn--bcher-kva.example verified"));
  g_assert_nonnull(strstr(notes->pdata[1], "ma20261202r of xn--bcher-kva.example retired"));
  g_assert_nonnull(strstr(notes->pdata[1], "may be removed after 2026-12-09T"));

  /* DNS time-out: nothing changes, the next check backs off. */
  g_hash_table_add(fx->zone.fail, g_strdup(rot_name));
  g_hash_table_add(fx->zone.fail, g_strdup(ed_name));
  g_autofree char *s7 = verify(fx, t + 80, notes, NULL);
  g_assert_cmpstr(s7, ==, "verified");
  g_assert_cmpint(storage_domain_get(fx->st, "e1", D, &row, &error), ==, 1);
  g_assert_cmpint(row->dns_errors, ==, 1);
  g_assert_cmpint(row->next_check_at, ==, t + 80 + DOMAINS_BACKOFF_BASE);
  ma_domain_free(row);
  g_hash_table_remove_all(fx->zone.fail);

  /* The records disappear: still verified after one check, failed after the second. */
  zone_set(&fx->zone, rot_name, NULL);
  zone_set(&fx->zone, ed_name, NULL);
  g_autofree char *s8 = verify(fx, t + 90, notes, NULL);
  g_assert_cmpstr(s8, ==, "verified");
  g_assert_cmpint(outbox_count(fx, "domain.status_changed"), ==, 2);
  g_autofree char *s9 = verify(fx, t + 400, notes, NULL);
  g_assert_cmpstr(s9, ==, "failed");
  g_assert_cmpint(outbox_count(fx, "domain.status_changed"), ==, 3);
  g_assert_cmpint(ma_domains_may_send(fx->st, "e1", D, NULL, &error), ==, 0);

  ma_domain_key_free(rsa);
  ma_domain_key_free(ed);
  ma_domain_key_free(rot);
}

/* Ownership by the TXT challenge alone: verified, but not in the sending scope without a key. */
static void test_challenge(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  MaDomain *d = NULL;
  g_assert_cmpint(storage_domain_get(fx->st, "e1", D, &d, &error), ==, 1);
  g_autofree char *name = g_strconcat("_mailagent.", D, NULL);
  g_autofree char *wrong = g_strconcat("mailagent-verification=", "0123", NULL);
  zone_set(&fx->zone, name, wrong);
  g_autofree char *s1 = verify(fx, 1796169600, NULL, NULL);
  g_assert_cmpstr(s1, ==, "pending");
  g_autofree char *right = g_strconcat("mailagent-verification=", d->challenge, NULL);
  zone_set(&fx->zone, name, right);
  g_autofree char *s2 = verify(fx, 1796169700, NULL, NULL);
  g_assert_cmpstr(s2, ==, "verified");
  g_autofree char *reason = NULL;
  g_assert_cmpint(ma_domains_may_send(fx->st, "e1", D, &reason, &error), ==, 0);
  g_assert_nonnull(strstr(reason, "no active DKIM selector"));
  ma_domain_free(d);
}

/* Return path on the domain: SPF must authorise our address; advisory otherwise. */
static void test_spf_required(Fx *fx, gconstpointer data)
{
  GError *error = NULL;
  gint64 t = 1796169600;
  fx->cfg.relay_source_addresses = "192.0.2.25";
  MaDomainKey *k = create_key(fx, MA_DKIM_KEY_ED25519, "s1", t);
  g_autofree char *name = domains_key_name("s1", D);
  g_autofree char *record = ma_domains_key_record(k);
  zone_set(&fx->zone, name, record);
  zone_set(&fx->zone, D, "v=spf1 ip4:198.51.100.0/24 -all");
  g_autofree char *s1 = verify(fx, t, NULL, NULL);
  g_assert_cmpstr(s1, ==, "verified"); /* return path "bounce": SPF advisory */

  /* The record to publish: ours added once before the all term (agent/spf's merge). */
  MaDomainCheck *c = ma_domains_check(fx->st, &fx->cfg, &fx->resolver, "e1", D, t, &error);
  g_assert_nonnull(c);
  g_assert_cmpstr(c->spf_result, ==, "fail");
  g_assert_cmpstr(c->spf_proposed, ==, "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.25 -all");
  ma_domain_check_free(c);
  GPtrArray *two = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(two, g_strdup("v=spf1 -all"));
  g_ptr_array_add(two, g_strdup("v=spf1 ip4:192.0.2.25 -all"));
  g_hash_table_replace(fx->zone.txt, g_strdup(D), two);
  c = ma_domains_check(fx->st, &fx->cfg, &fx->resolver, "e1", D, t, &error);
  gboolean multiple = FALSE;
  for (guint i = 0; i < c->spf_lint->len; i++) multiple |= strstr(c->spf_lint->pdata[i], "multiple_records") != NULL;
  g_assert_true(multiple);
  ma_domain_check_free(c);
  zone_set(&fx->zone, D, "v=spf1 ip4:198.51.100.0/24 -all");

  MaDomain *row = NULL;
  g_assert_cmpint(storage_domain_get(fx->st, "e1", D, &row, &error), ==, 1);
  g_free(row->return_path);
  row->return_path = g_strdup("from");
  g_assert_cmpint(storage_domain_update(fx->st, row, &error), ==, 0);
  ma_domain_free(row);
  g_autofree char *s2 = verify(fx, t + 10, NULL, NULL);
  g_assert_cmpstr(s2, ==, "verified"); /* first definite failure of a verified domain */
  g_autofree char *s3 = verify(fx, t + 20, NULL, NULL);
  g_assert_cmpstr(s3, ==, "failed");
  g_assert_cmpint(storage_domain_get(fx->st, "e1", D, &row, &error), ==, 1);
  g_assert_cmpstr(row->reason, ==, "spf_unauthorised");
  ma_domain_free(row);
  zone_set(&fx->zone, D, "v=spf1 ip4:192.0.2.0/24 -all");
  g_autofree char *s4 = verify(fx, t + 30, NULL, NULL);
  g_assert_cmpstr(s4, ==, "verified");
  ma_domain_key_free(k);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/domains/normalize", test_normalize);
  g_test_add_func("/domains/selectors", test_selectors);
  g_test_add_func("/domains/next-state", test_next_state_table);
  g_test_add("/domains/life", Fx, NULL, fx_setup, test_life, fx_teardown);
  g_test_add("/domains/spf-required", Fx, NULL, fx_setup, test_spf_required, fx_teardown);
  g_test_add("/domains/challenge", Fx, NULL, fx_setup, test_challenge, fx_teardown);
  return g_test_run();
}
