/* spf_suite.c - runs the RFC 7208 test suite (python3-spf's rfc7208-tests.yml, turned into JSON
 * by spf_suite_json.py) through agent/spf's evaluator (never part of mailagent).
 *
 *   spf_suite SUITE.json    prints "ok ID" or "FAIL ID: ..." per test, then "N passed, M failed"
 *
 * Each scenario's zone is served to the evaluator through its resolver interface, answering as
 * python3-spf's own driver (testspf.py) does: a name not in the zone is NXDOMAIN ("error.*"
 * names time out), a name without records of the asked type is NODATA, an entry "TIMEOUT"
 * before any record of the asked type times the look-up out, a CNAME is followed. The result
 * must be one of the test's results and, where the test gives one, the explanation must match
 * (the default explanation is "DEFAULT", as in testspf.py).
 */
#include "agent/spf/spf.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  json_t *zone; /* name -> [entry...] */
} Zone;

static void add_records(MaDnsResult *r, json_t *list, const char *owner, Zone *z, int depth, gboolean *timeout);

static MaDnsResult *zone_lookup(void *ctx, const char *name, MaDnsType type)
{
  Zone *z = ctx;
  MaDnsResult *r = ma_dns_result_new(name, type, MA_DNS_NODATA);
  g_autofree char *key = g_ascii_strdown(r->name, -1);
  json_t *list = json_object_get(z->zone, key);
  if (!list) {
    r->status = g_str_has_prefix(key, "error.") ? MA_DNS_TIMEOUT : MA_DNS_NXDOMAIN;
    return r;
  }
  gboolean timeout = FALSE;
  add_records(r, list, key, z, 0, &timeout);
  if (timeout) {
    ma_dns_result_free(r);
    return ma_dns_result_new(name, type, MA_DNS_TIMEOUT);
  }
  return r;
}

static void add_records(MaDnsResult *r, json_t *list, const char *owner, Zone *z, int depth, gboolean *timeout)
{
  gboolean seen_type = FALSE;
  const char *want = ma_dns_type_name(r->type);
  size_t i;
  json_t *entry;
  json_array_foreach(list, i, entry) {
    if (json_is_string(entry)) { /* "TIMEOUT" */
      if (!seen_type) *timeout = TRUE;
      return;
    }
    const char *t = json_string_value(json_array_get(entry, 0));
    json_t *v = json_array_get(entry, 1);
    if (strcmp(t, want) == 0) seen_type = TRUE;
    if (json_is_string(v) && strcmp(json_string_value(v), "TIMEOUT") == 0) {
      if (strcmp(t, want) == 0) {
        *timeout = TRUE;
        return;
      }
      continue;
    }
    if (strcmp(t, "CNAME") == 0 && depth < 8) {
      g_autofree char *target = g_ascii_strdown(json_string_value(v), -1);
      size_t n = strlen(target);
      if (n && target[n - 1] == '.') target[n - 1] = '\0';
      json_t *next = json_object_get(z->zone, target);
      g_free(r->canonical);
      r->canonical = g_strdup(target);
      if (next) add_records(r, next, target, z, depth + 1, timeout);
      else if (r->n == 0) r->status = MA_DNS_NXDOMAIN;
      continue;
    }
    if (strcmp(t, want) != 0) continue;
    if (r->type == MA_DNS_TXT) {
      GString *s = g_string_new(NULL);
      size_t k;
      json_t *part;
      json_array_foreach(v, k, part) g_string_append_len(s, json_string_value(part), (gssize)json_string_length(part));
      ma_dns_result_add_txt(r, s->str, s->len);
      g_string_free(s, TRUE);
    } else if (r->type == MA_DNS_MX) {
      ma_dns_result_add_mx(r, (guint16)json_integer_value(json_array_get(v, 0)),
                           json_string_value(json_array_get(v, 1)));
    } else if (r->type == MA_DNS_PTR) {
      ma_dns_result_add_ptr(r, json_string_value(v));
    } else {
      MaDnsAddr a = {.family = r->type == MA_DNS_A ? AF_INET : AF_INET6};
      if (inet_pton(a.family, json_string_value(v), &a.addr) == 1) ma_dns_result_add_addr(r, &a);
    }
  }
  (void)owner;
}

static gboolean parse_ip(const char *s, MaDnsAddr *a)
{
  memset(a, 0, sizeof *a);
  if (inet_pton(AF_INET, s, &a->addr.v4) == 1) return a->family = AF_INET, TRUE;
  if (inet_pton(AF_INET6, s, &a->addr.v6) == 1) return a->family = AF_INET6, TRUE;
  return FALSE;
}

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: spf_suite SUITE.json\n");
    return 2;
  }
  json_error_t jerr;
  json_t *suite = json_load_file(argv[1], JSON_ALLOW_NUL, &jerr);
  if (!suite) {
    fprintf(stderr, "spf_suite: %s: %s\n", argv[1], jerr.text);
    return 2;
  }
  guint passed = 0, failed = 0;
  size_t si;
  json_t *scenario;
  json_array_foreach(suite, si, scenario) {
    Zone z = {json_object_get(scenario, "zone")};
    SpfResolver resolver = {zone_lookup, &z};
    const char *id;
    json_t *t;
    json_object_foreach(json_object_get(scenario, "tests"), id, t) {
      const char *mailfrom = json_string_value(json_object_get(t, "mailfrom"));
      const char *helo = json_string_value(json_object_get(t, "helo"));
      MaDnsAddr ip;
      if (!parse_ip(json_string_value(json_object_get(t, "host")), &ip)) {
        printf("FAIL %s: bad host in the suite\n", id);
        failed++;
        continue;
      }
      const char *at = strrchr(mailfrom, '@');
      const char *domain = *mailfrom ? (at ? at + 1 : mailfrom) : helo;
      SpfQuery q = {.ip = &ip, .domain = domain, .sender = mailfrom, .helo = helo,
                    .default_explanation = "DEFAULT", .now = 1700000000};
      SpfOutcome out;
      SpfResult r = spf_check_host(&resolver, &q, &out);
      const char *got = spf_result_name(r);
      gboolean ok = FALSE;
      GString *want = g_string_new(NULL);
      size_t k;
      json_t *res;
      json_array_foreach(json_object_get(t, "result"), k, res) {
        if (strcmp(json_string_value(res), got) == 0) ok = TRUE;
        g_string_append_printf(want, "%s%s", k ? "|" : "", json_string_value(res));
      }
      const char *exp = json_string_value(json_object_get(t, "explanation"));
      gboolean exp_ok = !exp || (out.explanation && strcmp(exp, out.explanation) == 0);
      if (ok && exp_ok) {
        printf("ok %s\n", id);
        passed++;
      } else {
        printf("FAIL %s (%s, spec %s): want %s got %s%s%s%s%s%s%s\n", id,
               json_string_value(json_object_get(scenario, "description")),
               json_string_value(json_object_get(t, "spec")), want->str, got,
               out.problem ? " problem=" : "", out.problem ? out.problem : "",
               exp ? " want-exp=" : "", exp ? exp : "", exp ? " got-exp=" : "",
               exp && out.explanation ? out.explanation : "");
        failed++;
      }
      g_string_free(want, TRUE);
      spf_outcome_clear(&out);
    }
  }
  printf("%u passed, %u failed\n", passed, failed);
  json_decref(suite);
  return failed ? 1 : 0;
}
