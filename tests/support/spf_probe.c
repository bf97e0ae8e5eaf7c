/* spf_probe.c - agent/spf over agent/dns against a real DNS server, for
 * tests/integration/spf_dns.sh (never part of mailagent).
 *
 *   spf_probe -s SERVERS [-t MS] [-r TRIES] check IP DOMAIN [SENDER [HELO]]
 *       result=R mechanism=M domain=D dns_terms=N void=N
 *       problem=...        (none/temperror/permerror)
 *       explanation=...    (fail)
 *   spf_probe -s SERVERS plan DOMAIN (--include NAME | ADDRESS...)
 *       current=... / proposed=... / changed=yes|no / already=yes|no / dns_terms_after=N /
 *       void_after=N, then one "lint LEVEL CODE MESSAGE" line per finding
 * Exit 0, or 2 for usage and resolver errors, 75 when the plan's own look-up failed.
 */
#include "agent/lib/error.h"
#include "agent/spf/spf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(SpfResolver *res, int argc, char **argv)
{
  if (argc < 2) return 2;
  MaDnsAddr ip = {0};
  if (inet_pton(AF_INET, argv[0], &ip.addr.v4) == 1) ip.family = AF_INET;
  else if (inet_pton(AF_INET6, argv[0], &ip.addr.v6) == 1) ip.family = AF_INET6;
  else return 2;
  SpfQuery q = {.ip = &ip, .domain = argv[1], .sender = argc > 2 ? argv[2] : NULL,
                .helo = argc > 3 ? argv[3] : "helo.test"};
  SpfOutcome out;
  spf_check_host(res, &q, &out);
  printf("result=%s mechanism=%s domain=%s dns_terms=%u void=%u\n", spf_result_name(out.result),
         out.mechanism ? out.mechanism : "-", out.domain ? out.domain : "-", out.dns_terms, out.void_lookups);
  if (out.problem) printf("problem=%s\n", out.problem);
  if (out.explanation) printf("explanation=%s\n", out.explanation);
  spf_outcome_clear(&out);
  return 0;
}

static int plan(SpfResolver *res, int argc, char **argv)
{
  if (argc < 2) return 2;
  SpfOurs ours = {0};
  if (strcmp(argv[1], "--include") == 0 && argc == 3) ours.include = argv[2];
  else ours.addresses = (const char *const *)argv + 1; /* argv is NULL-terminated */
  SpfPlan p;
  g_autoptr(GError) error = NULL;
  if (spf_plan(res, argv[0], &ours, &p, &error) < 0) {
    fprintf(stderr, "spf_probe: %s\n", error->message);
    return error->code == MA_ERROR_TEMPFAIL ? 75 : 2;
  }
  printf("current=%s\nproposed=%s\nchanged=%s\nalready=%s\ndns_terms_after=%u\nvoid_after=%u\n",
         p.current ? p.current : "-", p.proposed ? p.proposed : "-", p.changed ? "yes" : "no",
         p.already_authorised ? "yes" : "no", p.dns_terms_after, p.void_lookups_after);
  for (guint i = 0; i < p.lint->len; i++) {
    SpfLintItem *it = g_ptr_array_index(p.lint, i);
    printf("lint %s %s %s\n", it->level == SPF_LINT_ERROR ? "error" : "warning", it->code, it->message);
  }
  spf_plan_clear(&p);
  return 0;
}

int main(int argc, char **argv)
{
  MaDnsOptions opts = {.cache_entries = 1000};
  int i = 1;
  for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
    if (strcmp(argv[i], "-s") == 0) opts.servers = argv[i + 1];
    else if (strcmp(argv[i], "-t") == 0) opts.timeout_ms = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "-r") == 0) opts.tries = atoi(argv[i + 1]);
    else break;
  }
  if (i >= argc) {
    fprintf(stderr, "usage: spf_probe -s SERVERS check|plan ...\n");
    return 2;
  }
  g_autoptr(GError) error = NULL;
  MaDnsSync *dns = ma_dns_sync_new(&opts, &error);
  if (!dns) {
    fprintf(stderr, "spf_probe: %s\n", error->message);
    return 2;
  }
  SpfResolver res = spf_resolver_dns(dns);
  int rc = 2;
  if (strcmp(argv[i], "check") == 0) rc = check(&res, argc - i - 1, argv + i + 1);
  else if (strcmp(argv[i], "plan") == 0) rc = plan(&res, argc - i - 1, argv + i + 1);
  if (rc == 2) fprintf(stderr, "spf_probe: bad arguments\n");
  ma_dns_sync_free(dns);
  return rc;
}
