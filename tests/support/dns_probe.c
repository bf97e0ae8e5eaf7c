/* dns_probe.c - drives agent/dns from tests/integration/dns_resolver.sh (never part of mailagent).
 *
 *   dns_probe [-s SERVERS] [-t TIMEOUT_MS] [-r TRIES] [-c CACHE_ENTRIES] [--sync] [--pause]
 *             NAME/TYPE... [-- NAME/TYPE...]...
 *
 * Each group of NAME/TYPE (TYPE one of A AAAA MX TXT PTR) separated by "--" is one round. In a
 * round every look-up is started at once on one libevent loop through the asynchronous API (with
 * --sync: one after the other through MaDnsSync), and each answer is printed as it arrives:
 *   NAME TYPE STATUS ttl=N canonical=NAME [null_mx] [reason=...]
 *     txt "..." (C escapes) | mx PREF HOST | addr ADDRESS | ptr HOST
 * While a round waits, a 5 ms timer counts loop turns; "ticks=N" at the round's end shows the
 * loop was never blocked. With --pause the probe prints "paused" after each round but the last
 * and waits for a line on stdin (the test changes the world, e.g. stops the DNS server). The
 * cache lives across rounds of one process.
 */
#include "agent/dns/dns.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static guint outstanding;
static guint ticks;

static void print_result(const MaDnsResult *r)
{
  printf("%s %s %s ttl=%u canonical=%s%s%s%s\n", r->name, ma_dns_type_name(r->type),
         ma_dns_status_name(r->status), r->ttl, r->canonical, r->null_mx ? " null_mx" : "",
         r->reason ? " reason=" : "", r->reason ? r->reason : "");
  for (guint i = 0; i < r->n; i++) {
    char buf[INET6_ADDRSTRLEN];
    switch (r->type) {
    case MA_DNS_TXT: {
      g_autofree char *esc = g_strescape(r->txt[i].data, NULL);
      printf("  txt \"%s\" len=%zu\n", esc, r->txt[i].len);
      break;
    }
    case MA_DNS_MX: printf("  mx %u %s\n", r->mx[i].preference, r->mx[i].exchange); break;
    case MA_DNS_A:
    case MA_DNS_AAAA:
      inet_ntop(r->addr[i].family, &r->addr[i].addr, buf, sizeof buf);
      printf("  addr %s\n", buf);
      break;
    case MA_DNS_PTR: printf("  ptr %s\n", r->ptr[i]); break;
    case MA_DNS_CNAME: break;
    }
  }
  fflush(stdout);
}

static void on_answer(const MaDnsResult *r, void *arg)
{
  print_result(r);
  outstanding--;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
  ticks++;
}

static gboolean parse_query(const char *spec, char **name, MaDnsType *type)
{
  const char *slash = strrchr(spec, '/');
  if (!slash) return FALSE;
  static const struct { const char *n; MaDnsType t; } types[] = {
    {"A", MA_DNS_A}, {"AAAA", MA_DNS_AAAA}, {"MX", MA_DNS_MX}, {"TXT", MA_DNS_TXT}, {"PTR", MA_DNS_PTR}};
  for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
    if (g_ascii_strcasecmp(slash + 1, types[i].n) == 0) {
      *name = g_strndup(spec, (gsize)(slash - spec));
      *type = types[i].t;
      return TRUE;
    }
  return FALSE;
}

int main(int argc, char **argv)
{
  MaDnsOptions opts = {.cache_entries = 1000};
  gboolean sync = FALSE, pause = FALSE;
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i++) {
    if (strcmp(argv[i], "--sync") == 0) sync = TRUE;
    else if (strcmp(argv[i], "--pause") == 0) pause = TRUE;
    else if (i + 1 < argc && strcmp(argv[i], "-s") == 0) opts.servers = argv[++i];
    else if (i + 1 < argc && strcmp(argv[i], "-t") == 0) opts.timeout_ms = atoi(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "-r") == 0) opts.tries = atoi(argv[++i]);
    else if (i + 1 < argc && strcmp(argv[i], "-c") == 0) opts.cache_entries = (guint)atoi(argv[++i]);
    else {
      fprintf(stderr, "dns_probe: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  g_autoptr(GError) error = NULL;
  struct event_base *base = event_base_new();
  MaDns *dns = NULL;
  MaDnsSync *sdns = NULL;
  if (sync) sdns = ma_dns_sync_new(&opts, &error);
  else dns = ma_dns_new(base, &opts, &error);
  if (!dns && !sdns) {
    fprintf(stderr, "dns_probe: %s\n", error->message);
    return 2;
  }
  struct event *tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
  struct timeval five_ms = {0, 5000};

  while (i < argc) {
    ticks = 0;
    if (!sync) event_add(tick, &five_ms);
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
      char *name;
      MaDnsType type;
      if (!parse_query(argv[i], &name, &type)) {
        fprintf(stderr, "dns_probe: %s is not NAME/TYPE\n", argv[i]);
        return 2;
      }
      if (sync) {
        MaDnsResult *r = ma_dns_sync_lookup(sdns, name, type);
        print_result(r);
        ma_dns_result_free(r);
      } else {
        outstanding++;
        ma_dns_query(dns, name, type, on_answer, NULL);
      }
      g_free(name);
    }
    while (outstanding > 0) event_base_loop(base, EVLOOP_ONCE);
    event_del(tick);
    if (!sync) printf("ticks=%s\n", ticks > 0 ? "some" : "none");
    if (i < argc) i++; /* past "--" */
    if (pause && i < argc) {
      char line[64];
      printf("paused\n");
      fflush(stdout);
      if (!fgets(line, sizeof line, stdin)) break;
    }
  }
  event_free(tick);
  ma_dns_free(dns);
  ma_dns_sync_free(sdns);
  event_base_free(base);
  return 0;
}
