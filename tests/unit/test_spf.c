/* test_spf.c - agent/spf without DNS: the record parser (table of valid and invalid records,
 * every prefix of valid ones), macro expansion with the examples of RFC 7208 7.4, evaluation
 * over an in-memory zone (include/redirect limits, IPv4-mapped clients, the explanation), and the
 * pure merge. The full RFC 7208 suite is tests/integration/spf_rfc7208.sh; against nsd,
 * tests/integration/spf_dns.sh. */
#include "agent/spf/spf.h"
#include "agent/spf/spf_internal.h"

#include <arpa/inet.h>
#include <string.h>

static SpfRecord *parse(const char *text, char **error)
{
  return spf_record_parse(text, strlen(text), error);
}

static void test_parser_valid(void)
{
  static const char *valid[] = {
    "v=spf1",
    "v=spf1 -all",
    "V=SPF1 MX A:Example.COM/24//64 ~ALL",
    "v=spf1 a/24 mx//64 a:%{d}.example.com ?all   ",
    "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip6:::1 -all",
    "v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} -all",
    "v=spf1 redirect=_spf.example.com",
    "v=spf1 exp=explain._spf.%{d} -all",
    "v=spf1 foo=bar moo.cow-far_out=man:dog/cat ~all",
    "v=spf1 ptr ptr:example.com -all",
    "v=spf1 a:example.com. -all",
    "v=spf1 a:foo-bar.com -all",
    "v=spf1 exists:%{i}.%{h}.%{v}.%{o}.%{s}.%{p} -all",
  };
  for (size_t i = 0; i < G_N_ELEMENTS(valid); i++) {
    char *error = NULL;
    SpfRecord *r = parse(valid[i], &error);
    if (!r) g_error("%s: %s", valid[i], error);
    spf_record_free(r);
  }
  char *error = NULL;
  g_autoptr(SpfRecord) r = parse("v=spf1 -a:x.example.com/24//64 ip4:10.0.0.0/8 redirect=r.example.com", &error);
  SpfTerm *a = g_ptr_array_index(r->terms, 0);
  g_assert_cmpint(a->kind, ==, SPF_TERM_A);
  g_assert_cmpint(a->qualifier, ==, '-');
  g_assert_cmpstr(a->domain_spec, ==, "x.example.com");
  g_assert_cmpint(a->cidr4, ==, 24);
  g_assert_cmpint(a->cidr6, ==, 64);
  SpfTerm *ip = g_ptr_array_index(r->terms, 1);
  g_assert_cmpint(ip->cidr4, ==, 8);
  g_assert_cmpuint(ip->ip[0], ==, 10);
  g_assert_nonnull(r->redirect);
  g_assert_cmpstr(r->redirect->domain_spec, ==, "r.example.com");
  g_assert_null(r->exp);
  g_assert_true(spf_term_queries_dns(a));
  g_assert_false(spf_term_queries_dns(ip));
  g_assert_true(spf_term_queries_dns(r->redirect));
}

static void test_parser_invalid(void)
{
  static const struct {
    const char *text;
    const char *error_part;
  } invalid[] = {
    {"v=spf10 -all", "v=spf1"},
    {"spf1 -all", "v=spf1"},
    {"v=spf1 -all\tmx", "visible ASCII"},
    {"v=spf1 ip4:192.0.2.300", "IPv4"},
    {"v=spf1 ip4:192.0.2.1/33", "CIDR"},
    {"v=spf1 ip4:192.0.2.1/08", "CIDR"},
    {"v=spf1 ip4:01.2.3.4", "IPv4"},
    {"v=spf1 ip6:2001:db8::/129", "CIDR"},
    {"v=spf1 ip6:1.2.3.4", "IPv6"},
    {"v=spf1 a:example.com/", "CIDR"},
    {"v=spf1 a/33", "CIDR"},
    {"v=spf1 all:foo", "no argument"},
    {"v=spf1 include", "needs a domain"},
    {"v=spf1 include:", "needs a domain"},
    {"v=spf1 exists", "needs a domain"},
    {"v=spf1 bogus:example.com", "unknown mechanism"},
    {"v=spf1 a:111.222.33.44", "top-level"},
    {"v=spf1 a:museum", "top-level"},
    {"v=spf1 a:foo.-bar", "top-level"},
    {"v=spf1 a:%{x}.example.com", "macro letter"},
    {"v=spf1 a:%{d", "closing"},
    {"v=spf1 a:%y.example.com", "'%'"},
    {"v=spf1 exists:%{c}.example.com", "exp text"},
    {"v=spf1 redirect=a.example.com redirect=b.example.com", "only once"},
    {"v=spf1 exp=a.example.com exp=b.example.com", "only once"},
    {"v=spf1 redirect=", "domain"},
    {"v=spf1 -all foo=%", "'%'"},
    {"v=spf1 a:%{d0}.example.com", "zero labels"},
    {"v=spf1 ~all \xc3\xa9", "visible ASCII"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(invalid); i++) {
    char *error = NULL;
    SpfRecord *r = parse(invalid[i].text, &error);
    if (r) g_error("accepted: %s", invalid[i].text);
    if (!strstr(error, invalid[i].error_part)) g_error("%s: \"%s\" lacks \"%s\"", invalid[i].text, error, invalid[i].error_part);
    g_free(error);
  }
  /* a record of more terms than the bound */
  GString *many = g_string_new("v=spf1");
  for (int i = 0; i <= SPF_MAX_TERMS; i++) g_string_append(many, " a");
  char *error = NULL;
  g_assert_null(spf_record_parse(many->str, many->len, &error));
  g_assert_nonnull(strstr(error, "terms"));
  g_free(error);
  g_string_free(many, TRUE);
}

/* Every prefix of a long valid record parses or fails cleanly, reading only its len bytes. */
static void test_parser_every_prefix(void)
{
  const char *text = "v=spf1 -a:x.example.com/24//64 mx ip4:10.0.0.0/8 ip6:2001:db8::/32 "
                     "exists:%{ir}.%{l1r+-}._spf.%{d} include:e.example.com ?all exp=x.%{d} redirect=r.example";
  size_t n = strlen(text);
  for (size_t len = 0; len <= n; len++) {
    char *copy = g_memdup2(text, len); /* exactly len bytes: no terminator to lean on */
    char *error = NULL;
    SpfRecord *r = spf_record_parse(copy, len, &error);
    g_assert_true((r != NULL) != (error != NULL));
    spf_record_free(r);
    g_free(error);
    g_free(copy);
  }
}

static void test_is_spf(void)
{
  g_assert_true(spf_record_is_spf("v=spf1", 6));
  g_assert_true(spf_record_is_spf("v=spf1 -all", 11));
  g_assert_true(spf_record_is_spf("V=SpF1 -all", 11));
  g_assert_false(spf_record_is_spf("v=spf10", 7));
  g_assert_false(spf_record_is_spf("v=spf", 5));
  g_assert_false(spf_record_is_spf(" v=spf1", 7));
}

/* RFC 7208 7.4's examples: sender strong-bad@email.example.com, IPv4 192.0.2.3, IPv6 2001:db8::cb01 */
static void test_macro_rfc_examples(void)
{
  MaDnsAddr v4 = {.family = AF_INET}, v6 = {.family = AF_INET6};
  inet_pton(AF_INET, "192.0.2.3", &v4.addr.v4);
  inet_pton(AF_INET6, "2001:db8::cb01", &v6.addr.v6);
  SpfMacroContext c = {.ip = v4, .sender = "strong-bad@email.example.com", .local = "strong-bad",
                       .sender_domain = "email.example.com", .domain = "email.example.com",
                       .helo = "mx.example.org", .now = 1234};
  static const struct {
    const char *in, *out;
  } cases[] = {
    {"%{s}", "strong-bad@email.example.com"},
    {"%{o}", "email.example.com"},
    {"%{d}", "email.example.com"},
    {"%{d4}", "email.example.com"},
    {"%{d3}", "email.example.com"},
    {"%{d2}", "example.com"},
    {"%{d1}", "com"},
    {"%{dr}", "com.example.email"},
    {"%{d2r}", "example.email"},
    {"%{l}", "strong-bad"},
    {"%{l-}", "strong.bad"},
    {"%{lr}", "strong-bad"},
    {"%{lr-}", "bad.strong"},
    {"%{l1r-}", "strong"},
    {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
    {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
    {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
    {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
    {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
    {"%%%_%-", "% %20"},
    {"%{S}", "strong-bad%40email.example.com"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = spf_macro_expand(&c, cases[i].in, FALSE, FALSE);
    g_assert_cmpstr(got, ==, cases[i].out);
  }
  g_autofree char *t = spf_macro_expand(&c, "%{t} %{r}", TRUE, FALSE);
  g_assert_cmpstr(t, ==, "1234 unknown");
  c.ip = v6;
  g_autofree char *six = spf_macro_expand(&c, "%{ir}.%{v}._spf.%{d2}", FALSE, FALSE);
  g_assert_cmpstr(six, ==, "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
  g_autofree char *c6 = spf_macro_expand(&c, "%{c}", TRUE, FALSE);
  g_assert_cmpstr(c6, ==, "2001:db8::cb01");

  /* a domain longer than 253 octets loses whole labels from the left */
  GString *lp = g_string_new(NULL);
  for (int i = 0; i < 30; i++) g_string_append(lp, "abcdefghi.");
  c.local = lp->str;
  g_autofree char *cut = spf_macro_expand(&c, "%{l}example.com", FALSE, TRUE);
  g_assert_cmpuint(strlen(cut), <=, 253);
  g_assert_true(g_str_has_suffix(cut, "abcdefghi.example.com"));
  g_assert_true(g_str_has_prefix(cut, "abcdefghi."));
  g_string_free(lp, TRUE);
}

/* ---- evaluation over a zone in memory ---- */

static const struct {
  const char *name;
  MaDnsType type;
  const char *value; /* TXT text, A/AAAA address, "pref host" for MX, host for PTR */
} zone[] = {
  {"example.test", MA_DNS_TXT, "v=spf1 ip4:192.0.2.0/24 include:inc.example.test exp=exp.example.test -all"},
  {"inc.example.test", MA_DNS_TXT, "v=spf1 a:host.example.test -all"},
  {"host.example.test", MA_DNS_A, "198.51.100.7"},
  {"exp.example.test", MA_DNS_TXT, "%{i} is not one of %{d}'s senders"},
  {"mapped.test", MA_DNS_TXT, "v=spf1 ip4:203.0.113.0/24 -all"},
  {"deep.test", MA_DNS_TXT, "v=spf1 include:d1.test -all"},
  {"d1.test", MA_DNS_TXT, "v=spf1 include:d2.test -all"},
  {"d2.test", MA_DNS_TXT, "v=spf1 include:d3.test -all"},
  {"d3.test", MA_DNS_TXT, "v=spf1 a mx ptr exists:x.test a a a a a a a -all"},
  {"red.test", MA_DNS_TXT, "v=spf1 redirect=nothing.test"},
  {"redirall.test", MA_DNS_TXT, "v=spf1 a -all redirect=deep.test"},
  {"ours.test", MA_DNS_TXT, "v=spf1 ip4:198.51.100.0/24 -all"},
};

static MaDnsResult *zone_lookup(void *ctx, const char *name, MaDnsType type)
{
  guint *asked = ctx;
  (*asked)++;
  MaDnsResult *r = ma_dns_result_new(name, type, MA_DNS_NXDOMAIN);
  for (size_t i = 0; i < G_N_ELEMENTS(zone); i++) {
    if (g_ascii_strcasecmp(zone[i].name, r->name) != 0) continue;
    if (r->status == MA_DNS_NXDOMAIN) r->status = MA_DNS_NODATA;
    if (zone[i].type != type) continue;
    if (type == MA_DNS_TXT) ma_dns_result_add_txt(r, zone[i].value, strlen(zone[i].value));
    if (type == MA_DNS_A) {
      MaDnsAddr a = {.family = AF_INET};
      inet_pton(AF_INET, zone[i].value, &a.addr.v4);
      ma_dns_result_add_addr(r, &a);
    }
  }
  return r;
}

static SpfResult check(const char *ip_text, const char *domain, SpfOutcome *out, guint *asked)
{
  MaDnsAddr ip = {0};
  if (inet_pton(AF_INET, ip_text, &ip.addr.v4) == 1) ip.family = AF_INET;
  else if (inet_pton(AF_INET6, ip_text, &ip.addr.v6) == 1) ip.family = AF_INET6;
  else g_assert_not_reached();
  SpfResolver res = {zone_lookup, asked};
  SpfQuery q = {.ip = &ip, .domain = domain, .sender = "", .helo = "mail.example.test", .now = 1};
  return spf_check_host(&res, &q, out);
}

static void test_eval(void)
{
  guint asked = 0;
  SpfOutcome out;
  g_assert_cmpint(check("192.0.2.9", "example.test", &out, &asked), ==, SPF_RESULT_PASS);
  g_assert_cmpstr(out.mechanism, ==, "ip4:192.0.2.0/24");
  g_assert_cmpuint(asked, ==, 1); /* ip4 matched before anything else was asked */
  spf_outcome_clear(&out);

  g_assert_cmpint(check("198.51.100.7", "example.test", &out, &asked), ==, SPF_RESULT_PASS);
  g_assert_cmpstr(out.mechanism, ==, "include:inc.example.test");
  g_assert_cmpuint(out.dns_terms, ==, 2);
  spf_outcome_clear(&out);

  g_assert_cmpint(check("203.0.113.1", "example.test", &out, &asked), ==, SPF_RESULT_FAIL);
  g_assert_cmpstr(out.explanation, ==, "203.0.113.1 is not one of example.test's senders");
  spf_outcome_clear(&out);

  /* an IPv4-mapped IPv6 client is checked as IPv4 */
  g_assert_cmpint(check("::ffff:203.0.113.5", "mapped.test", &out, &asked), ==, SPF_RESULT_PASS);
  spf_outcome_clear(&out);
  g_assert_cmpint(check("2001:db8::1", "mapped.test", &out, &asked), ==, SPF_RESULT_FAIL);
  spf_outcome_clear(&out);

  /* 3 includes + 11 terms in the last record: the 11th DNS term is a permerror; void look-ups
   * (a, mx, exists on names without records) stop it first */
  asked = 0;
  g_assert_cmpint(check("192.0.2.1", "deep.test", &out, &asked), ==, SPF_RESULT_PERMERROR);
  g_assert_nonnull(strstr(out.problem, "void"));
  g_assert_cmpuint(out.void_lookups, ==, 3);
  spf_outcome_clear(&out);

  g_assert_cmpint(check("192.0.2.1", "red.test", &out, &asked), ==, SPF_RESULT_PERMERROR);
  g_assert_nonnull(strstr(out.problem, "no SPF record"));
  spf_outcome_clear(&out);

  g_assert_cmpint(check("192.0.2.1", "nothing.test", &out, &asked), ==, SPF_RESULT_NONE);
  spf_outcome_clear(&out);
  g_assert_cmpint(check("192.0.2.1", "single-label", &out, &asked), ==, SPF_RESULT_NONE);
  spf_outcome_clear(&out);
  g_assert_cmpstr(spf_result_name(SPF_RESULT_SOFTFAIL), ==, "softfail");
}

static void test_plan_counts(void)
{
  guint asked = 0;
  SpfResolver res = {zone_lookup, &asked};
  const SpfOurs ours = {.include = "ours.test"};
  SpfPlan plan;
  GError *error = NULL;
  /* redirect= beside all is never reached: neither counted nor followed (deep.test would add 14) */
  g_assert_cmpint(spf_plan(&res, "redirall.test", &ours, &plan, &error), ==, 0);
  g_assert_cmpstr(plan.proposed, ==, "v=spf1 a include:ours.test -all redirect=deep.test");
  g_assert_cmpuint(plan.dns_terms_after, ==, 2);
  g_assert_cmpuint(plan.void_lookups_after, ==, 1); /* "a": redirall.test has no address */
  spf_plan_clear(&plan);
  /* through three includes: 3 + 11 terms, 3 of them void */
  g_assert_cmpint(spf_plan(&res, "deep.test", &ours, &plan, &error), ==, 0);
  g_assert_cmpuint(plan.dns_terms_after, ==, 15);
  gboolean too_many = FALSE;
  for (guint i = 0; i < plan.lint->len; i++)
    too_many |= g_strcmp0(((SpfLintItem *)g_ptr_array_index(plan.lint, i))->code, "too_many_lookups") == 0;
  g_assert_true(too_many);
  spf_plan_clear(&plan);
  g_assert_no_error(error);
}

/* ---- the pure merge ---- */

static void test_merge_text(void)
{
  static const char *addrs[] = {"198.51.100.25", "2001:db8:100::/48", NULL};
  static const SpfOurs inc = {.include = "_spf.mailagent.test"};
  static const SpfOurs ips = {.addresses = addrs};
  static const struct {
    const SpfOurs *ours;
    const char *in, *out;
  } cases[] = {
    {&inc, NULL, "v=spf1 include:_spf.mailagent.test ~all"},
    {&inc, "v=spf1 mx -all", "v=spf1 mx include:_spf.mailagent.test -all"},
    {&inc, "v=spf1   mx    ~all  ", "v=spf1 mx include:_spf.mailagent.test ~all"},
    {&inc, "v=spf1 include:_SPF.mailagent.test. -all", "v=spf1 include:_SPF.mailagent.test. -all"},
    {&inc, "v=spf1 -include:_spf.mailagent.test -all",
     "v=spf1 -include:_spf.mailagent.test include:_spf.mailagent.test -all"},
    {&inc, "v=spf1 mx", "v=spf1 mx include:_spf.mailagent.test"},
    {&inc, "v=spf1 mx redirect=x.test exp=e.test", "v=spf1 mx include:_spf.mailagent.test redirect=x.test exp=e.test"},
    {&inc, "v=spf1 ?all mx", "v=spf1 include:_spf.mailagent.test ?all mx"},
    {&ips, "v=spf1 ip4:198.51.100.0/24 -all", "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:100::/48 -all"},
    {&ips, "v=spf1 ip4:198.51.100.25 ip6:2001:db8::/32 -all", "v=spf1 ip4:198.51.100.25 ip6:2001:db8::/32 -all"},
    {&ips, NULL, "v=spf1 ip4:198.51.100.25 ip6:2001:db8:100::/48 ~all"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *error = NULL;
    g_autofree char *got = spf_merge_text(cases[i].in, cases[i].ours, &error);
    if (!got) g_error("%s: %s", cases[i].in, error);
    g_assert_cmpstr(got, ==, cases[i].out);
  }
  char *error = NULL;
  g_assert_null(spf_merge_text("v=spf1 ip4:1.2.3.400 -all", &inc, &error));
  g_assert_nonnull(strstr(error, "IPv4"));
  g_clear_pointer(&error, g_free);
  static const char *bad[] = {"198.51.100.300", NULL};
  const SpfOurs bad_ours = {.addresses = bad};
  g_assert_null(spf_merge_text("v=spf1 -all", &bad_ours, &error));
  g_assert_nonnull(strstr(error, "source_addresses"));
  g_clear_pointer(&error, g_free);
  const SpfOurs none = {0};
  g_assert_null(spf_merge_text("v=spf1 -all", &none, &error));
  g_free(error);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/spf/parser/valid", test_parser_valid);
  g_test_add_func("/spf/parser/invalid", test_parser_invalid);
  g_test_add_func("/spf/parser/every_prefix", test_parser_every_prefix);
  g_test_add_func("/spf/parser/is_spf", test_is_spf);
  g_test_add_func("/spf/macro/rfc_examples", test_macro_rfc_examples);
  g_test_add_func("/spf/eval", test_eval);
  g_test_add_func("/spf/merge_text", test_merge_text);
  g_test_add_func("/spf/plan_counts", test_plan_counts);
  return g_test_run();
}
