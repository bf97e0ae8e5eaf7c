/* test_dns_resolver.c - MaDns's promises about callbacks, with a DNS responder in the test's own
 * event loop (a UDP socket on loopback that answers every question with one A record, or stays
 * silent): a callback is never called from inside ma_dns_query (a cached answer comes on the
 * next loop turn), exactly once, never after ma_dns_cancel, and with MA_DNS_CANCELLED from
 * ma_dns_free; identical questions in flight share one query; a silent server gives
 * MA_DNS_TIMEOUT after `tries` queries. Answers against a
 * real server (nsd) are tests/integration/dns_resolver.sh. */
#include "agent/dns/dns.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  int fd;
  int port;
  gboolean silent;
  guint queries;
  struct event *ev;
} Responder;

static void on_query(evutil_socket_t fd, short what, void *arg)
{
  Responder *r = arg;
  guint8 buf[512], out[600];
  struct sockaddr_in from;
  socklen_t flen = sizeof from;
  ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
  if (n < 12) return;
  r->queries++;
  if (r->silent) return;
  /* header: same id, response + recursion flags, one question, one answer */
  memcpy(out, buf, (size_t)n);
  out[2] = 0x81;
  out[3] = 0x80;
  out[6] = 0;
  out[7] = 1;
  memset(out + 8, 0, 4);
  size_t o = (size_t)n; /* the question as asked, then the answer pointing at its name */
  static const guint8 answer[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
  memcpy(out + o, answer, sizeof answer);
  sendto(fd, out, o + sizeof answer, 0, (struct sockaddr *)&from, flen);
}

static void responder_start(Responder *r, struct event_base *base, gboolean silent)
{
  memset(r, 0, sizeof *r);
  r->silent = silent;
  r->fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  g_assert_cmpint(bind(r->fd, (struct sockaddr *)&a, sizeof a), ==, 0);
  socklen_t len = sizeof a;
  getsockname(r->fd, (struct sockaddr *)&a, &len);
  r->port = ntohs(a.sin_port);
  r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, on_query, r);
  event_add(r->ev, NULL);
}

static void responder_stop(Responder *r)
{
  event_free(r->ev);
  close(r->fd);
}

typedef struct {
  guint calls;
  char name[64];
  MaDnsStatus status;
  guint n;
  gboolean inside_query; /* set while ma_dns_query runs */
  gboolean called_inside;
} Seen;

static void on_answer(const MaDnsResult *res, void *arg)
{
  Seen *s = arg;
  s->calls++;
  g_strlcpy(s->name, res->name, sizeof s->name);
  s->status = res->status;
  s->n = res->n;
  if (s->inside_query) s->called_inside = TRUE;
}

/* Answering tests use tries 1 and a generous time-out, so that a slow turn of a loaded machine
 * causes no retry (it would add a query to the counts) and no time-out; only the silent-server
 * test waits for time-outs. */
static MaDns *resolver_ms(struct event_base *base, const Responder *r, int tries, int timeout_ms)
{
  char servers[64];
  g_snprintf(servers, sizeof servers, "127.0.0.1:%d", r->port);
  MaDnsOptions o = {.servers = servers, .timeout_ms = timeout_ms, .tries = tries, .cache_entries = 16};
  GError *error = NULL;
  MaDns *dns = ma_dns_new(base, &o, &error);
  g_assert_no_error(error);
  return dns;
}

static MaDns *resolver(struct event_base *base, const Responder *r, int tries)
{
  return resolver_ms(base, r, tries, 2000); /* answers come long before: no retry, no time-out */
}

static void run_until(struct event_base *base, const Seen *s, guint calls)
{
  /* a bounded number of turns: a resolver that spins the loop instead of waiting fails here */
  for (int i = 0; i < 1000 && s->calls < calls; i++) event_base_loop(base, EVLOOP_ONCE);
}

static MaDnsQuery *ask(MaDns *dns, const char *name, Seen *s)
{
  s->inside_query = TRUE;
  MaDnsQuery *q = ma_dns_query(dns, name, MA_DNS_A, on_answer, s);
  s->inside_query = FALSE;
  return q;
}

static void test_answer_and_cache(void)
{
  struct event_base *base = event_base_new();
  Responder r;
  responder_start(&r, base, FALSE);
  MaDns *dns = resolver(base, &r, 1);
  Seen a = {0}, b = {0};
  ask(dns, "one.test", &a);
  g_assert_cmpuint(ma_dns_pending(dns), ==, 1);
  run_until(base, &a, 1);
  g_assert_cmpuint(a.calls, ==, 1);
  g_assert_cmpint(a.status, ==, MA_DNS_OK);
  g_assert_cmpuint(a.n, ==, 1);
  g_assert_false(a.called_inside);

  /* the same question again: from the cache, on the next loop turn, no query sent */
  ask(dns, "ONE.test.", &b);
  g_assert_cmpuint(b.calls, ==, 0);
  run_until(base, &b, 1);
  g_assert_cmpuint(b.calls, ==, 1);
  g_assert_false(b.called_inside);
  g_assert_cmpint(b.status, ==, MA_DNS_OK);
  g_assert_cmpuint(r.queries, ==, 1);
  g_assert_cmpuint(ma_dns_pending(dns), ==, 0);

  /* an invalid name: answered, on the next turn, without a query */
  Seen c = {0};
  ask(dns, "a..b", &c);
  g_assert_cmpuint(c.calls, ==, 0);
  run_until(base, &c, 1);
  g_assert_cmpint(c.status, ==, MA_DNS_FAILED);
  g_assert_cmpuint(r.queries, ==, 1);
  ma_dns_free(dns);
  responder_stop(&r);
  event_base_free(base);
}

static void test_cancel(void)
{
  struct event_base *base = event_base_new();
  Responder r;
  responder_start(&r, base, FALSE);
  MaDns *dns = resolver(base, &r, 1);
  Seen warm = {0}, a = {0}, b = {0}, c = {0};
  ask(dns, "cached.test", &warm);
  run_until(base, &warm, 1);

  /* cancelled while waiting for the network, and while waiting to deliver a cached answer */
  MaDnsQuery *qa = ask(dns, "net.test", &a);
  MaDnsQuery *qb = ask(dns, "cached.test", &b);
  ask(dns, "other.test", &c);
  ma_dns_cancel(qa);
  ma_dns_cancel(qb);
  g_assert_cmpuint(ma_dns_pending(dns), ==, 1);
  run_until(base, &c, 1);
  for (int i = 0; i < 20; i++) event_base_loop(base, EVLOOP_NONBLOCK);
  g_assert_cmpuint(a.calls, ==, 0);
  g_assert_cmpuint(b.calls, ==, 0);
  g_assert_cmpuint(c.calls, ==, 1);
  ma_dns_free(dns); /* ASan: the cancelled network query was freed when its answer came */
  responder_stop(&r);
  event_base_free(base);
}

/* identical questions in flight share one query; a cancelled follower is skipped */
static void test_shared_flight(void)
{
  struct event_base *base = event_base_new();
  Responder r;
  responder_start(&r, base, FALSE);
  MaDns *dns = resolver(base, &r, 1);
  Seen a = {0}, b = {0}, c = {0}, d = {0};
  ask(dns, "mx.test", &a);
  ask(dns, "MX.test.", &b);
  MaDnsQuery *qc = ask(dns, "mx.test", &c);
  ask(dns, "other.test", &d);
  ma_dns_cancel(qc);
  g_assert_cmpuint(ma_dns_pending(dns), ==, 3);
  run_until(base, &b, 1);
  run_until(base, &d, 1);
  g_assert_cmpuint(r.queries, ==, 2); /* mx.test once, other.test once */
  g_assert_cmpuint(a.calls, ==, 1);
  g_assert_cmpuint(b.calls, ==, 1);
  g_assert_cmpuint(c.calls, ==, 0);
  g_assert_cmpint(b.status, ==, MA_DNS_OK);
  g_assert_cmpstr(a.name, ==, "mx.test");
  g_assert_cmpstr(b.name, ==, "MX.test"); /* each asker sees its own spelling */
  g_assert_cmpuint(ma_dns_pending(dns), ==, 0);

  /* a follower of a silent flight hears CANCELLED with its leader when the resolver goes */
  Responder quiet;
  responder_start(&quiet, base, TRUE);
  MaDns *dns2 = resolver(base, &quiet, 1);
  Seen e = {0}, f = {0};
  ask(dns2, "x.test", &e);
  ask(dns2, "x.test", &f);
  ma_dns_free(dns2);
  g_assert_cmpuint(e.calls + f.calls, ==, 2);
  g_assert_cmpint(f.status, ==, MA_DNS_CANCELLED);
  ma_dns_free(dns);
  responder_stop(&r);
  responder_stop(&quiet);
  event_base_free(base);
}

/* far more questions than may be in flight: all answered, the queued ones in turn; a queued
 * question cancelled is never answered, and freeing the resolver answers the rest CANCELLED */
static void test_many_questions(void)
{
  struct event_base *base = event_base_new();
  Responder r;
  responder_start(&r, base, FALSE);
  MaDns *dns = resolver_ms(base, &r, 1, 10000);
  enum { N = 600 };
  Seen *seen = g_new0(Seen, N);
  MaDnsQuery *last = NULL;
  for (int i = 0; i < N; i++) {
    char name[32];
    g_snprintf(name, sizeof name, "n%d.test", i);
    last = ask(dns, name, &seen[i]);
  }
  ma_dns_cancel(last); /* certainly still queued: 600 > the slots in flight */
  g_assert_cmpuint(ma_dns_pending(dns), ==, N - 1);
  for (int i = 0; i < N - 1; i++) run_until(base, &seen[i], 1);
  guint ok = 0;
  for (int i = 0; i < N - 1; i++) ok += seen[i].calls == 1 && seen[i].status == MA_DNS_OK;
  g_assert_cmpuint(ok, ==, N - 1);
  g_assert_cmpuint(seen[N - 1].calls, ==, 0);
  g_assert_cmpuint(r.queries, ==, N - 1);

  Seen *more = g_new0(Seen, N);
  for (int i = 0; i < N; i++) {
    char name[32];
    g_snprintf(name, sizeof name, "m%d.test", i);
    ask(dns, name, &more[i]);
  }
  ma_dns_free(dns);
  for (int i = 0; i < N; i++) {
    g_assert_cmpuint(more[i].calls, ==, 1);
    g_assert_cmpint(more[i].status, ==, MA_DNS_CANCELLED);
  }
  g_free(more);
  g_free(seen);
  responder_stop(&r);
  event_base_free(base);
}

static void test_timeout_and_free(void)
{
  struct event_base *base = event_base_new();
  Responder r;
  responder_start(&r, base, TRUE);
  MaDns *dns = resolver_ms(base, &r, 2, 50);
  Seen a = {0};
  ask(dns, "silent.test", &a);
  run_until(base, &a, 1);
  g_assert_cmpuint(a.calls, ==, 1);
  g_assert_cmpint(a.status, ==, MA_DNS_TIMEOUT);
  g_assert_cmpuint(r.queries, ==, 2); /* tries = 2 */

  /* freeing the resolver answers what is pending, once, with CANCELLED */
  Seen b = {0}, c = {0};
  ask(dns, "pending.test", &b);
  ask(dns, "bad..name", &c);
  ma_dns_free(dns);
  g_assert_cmpuint(b.calls, ==, 1);
  g_assert_cmpint(b.status, ==, MA_DNS_CANCELLED);
  g_assert_cmpuint(c.calls, ==, 1);
  g_assert_cmpint(c.status, ==, MA_DNS_CANCELLED);
  responder_stop(&r);
  event_base_free(base);
}

static void test_bad_servers(void)
{
  struct event_base *base = event_base_new();
  MaDnsOptions o = {.servers = "not-an-address"};
  GError *error = NULL;
  g_assert_null(ma_dns_new(base, &o, &error));
  g_assert_nonnull(strstr(error->message, "[dns] servers"));
  g_error_free(error);
  event_base_free(base);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/dns/resolver/answer_and_cache", test_answer_and_cache);
  g_test_add_func("/dns/resolver/cancel", test_cancel);
  g_test_add_func("/dns/resolver/shared_flight", test_shared_flight);
  g_test_add_func("/dns/resolver/many_questions", test_many_questions);
  g_test_add_func("/dns/resolver/timeout_and_free", test_timeout_and_free);
  g_test_add_func("/dns/resolver/bad_servers", test_bad_servers);
  return g_test_run();
}
