/* dns_resolver.c - MaDns: c-ares inside a libevent loop, and the synchronous wrapper MaDnsSync.
 *
 * c-ares tells us which sockets it wants watched (ARES_OPT_SOCK_STATE_CB); each gets one
 * persistent libevent event, and one timer follows ares_timeout(). Nothing here waits: answers
 * come back through ares_process_fd on the loop. We parse the raw answer ourselves
 * (dns_answer.c) to get TTLs, CNAME chains, TXT record boundaries and null MX right.
 *
 * Query lifetime: a query is either waiting for c-ares (c-ares always calls back, with
 * ARES_EDESTRUCTION at the latest) or waiting on a zero-delay event that delivers a cached or
 * refused answer on the next loop turn. ma_dns_cancel marks the first kind (freed when c-ares
 * answers) and frees the second at once. Must never: call a user callback from inside
 * ma_dns_query, or call one twice.
 */
#include "dns.h"
#include "dns_answer.h"
#include "dns_cache.h"

#include "agent/lib/error.h"

#include <ares.h>
#include <string.h>

#define DEFAULT_TIMEOUT_MS 2000
#define DEFAULT_TRIES 2

struct MaDns {
  struct event_base *base;
  ares_channel channel;
  gboolean channel_ok;
  GHashTable *watches; /* fd -> struct event* (owned) */
  struct event *timer;
  DnsCache *cache;
  GQueue queries;      /* MaDnsQuery*, every query not yet freed */
  gboolean closing;
};

struct MaDnsQuery {
  MaDns *dns;
  char *name;
  MaDnsType type;
  MaDnsCallback cb;
  void *arg;
  gboolean cancelled;
  gboolean in_ares;      /* c-ares will call back */
  struct event *deliver; /* set when the answer is ready without c-ares */
  MaDnsResult *ready;    /* the answer the deliver event hands over */
  GList *link;           /* in dns->queries */
};

static void update_timer(MaDns *dns)
{
  if (!dns->channel_ok) return;
  struct timeval tv, *t = ares_timeout(dns->channel, NULL, &tv);
  if (t) evtimer_add(dns->timer, t);
  else evtimer_del(dns->timer);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
  MaDns *dns = arg;
  ares_process_fd(dns->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                  (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
  update_timer(dns);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
  MaDns *dns = arg;
  ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  update_timer(dns);
}

/* c-ares: watch fd for reading and/or writing, or stop watching it (both 0). */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
  MaDns *dns = data;
  struct event *ev = g_hash_table_lookup(dns->watches, GINT_TO_POINTER(fd));
  if (ev) {
    event_del(ev);
    if (!readable && !writable) {
      g_hash_table_remove(dns->watches, GINT_TO_POINTER(fd)); /* frees ev */
      return;
    }
    event_assign(ev, dns->base, fd, (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) | EV_PERSIST),
                 on_socket, dns);
  } else {
    if (!readable && !writable) return;
    ev = event_new(dns->base, fd, (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) | EV_PERSIST),
                   on_socket, dns);
    g_hash_table_insert(dns->watches, GINT_TO_POINTER(fd), ev);
  }
  event_add(ev, NULL);
}

static void query_free(MaDnsQuery *q)
{
  g_queue_delete_link(&q->dns->queries, q->link);
  if (q->deliver) event_free(q->deliver);
  ma_dns_result_free(q->ready);
  g_free(q->name);
  g_free(q);
}

/* Hands result (borrowed) to the owner unless cancelled, then frees the query. */
static void finish(MaDnsQuery *q, const MaDnsResult *result)
{
  MaDnsCallback cb = q->cancelled ? NULL : q->cb;
  void *arg = q->arg;
  q->cancelled = TRUE; /* from here the handle is dead even if cb re-enters the resolver */
  if (cb) cb(result, arg);
  query_free(q);
}

static MaDnsResult *from_ares_status(const MaDnsQuery *q, int status)
{
  MaDnsResult *r = ma_dns_result_new(q->name, q->type, MA_DNS_FAILED);
  switch (status) {
  case ARES_ETIMEOUT: r->status = MA_DNS_TIMEOUT; break;
  case ARES_ESERVFAIL: r->status = MA_DNS_SERVFAIL; break;
  case ARES_EDESTRUCTION:
  case ARES_ECANCELLED: r->status = MA_DNS_CANCELLED; break;
  case ARES_EREFUSED: r->reason = "query refused"; break;
  case ARES_ECONNREFUSED: r->reason = "the DNS server refused the query or the connection"; break;
  case ARES_EBADNAME: r->reason = "not a valid domain name"; break;
  case ARES_ENOMEM: r->reason = "out of memory"; break;
  default: r->reason = "DNS look-up failed"; break;
  }
  return r;
}

static void on_ares_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
  MaDnsQuery *q = arg;
  MaDns *dns = q->dns;
  q->in_ares = FALSE;
  MaDnsResult *r;
  if (abuf && alen > 0 && (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA))
    r = dns_answer_parse(abuf, (size_t)alen, q->name, q->type);
  else
    r = from_ares_status(q, status);
  if (!dns->closing) dns_cache_put(dns->cache, r);
  finish(q, r);
  ma_dns_result_free(r);
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
  MaDnsQuery *q = arg;
  MaDnsResult *r = g_steal_pointer(&q->ready);
  finish(q, r);
  ma_dns_result_free(r);
}

MaDns *ma_dns_new(struct event_base *base, const MaDnsOptions *opts, GError **error)
{
  static gsize lib_once = 0;
  if (g_once_init_enter(&lib_once)) {
    ares_library_init(ARES_LIB_INIT_ALL);
    g_once_init_leave(&lib_once, 1);
  }
  MaDns *dns = g_new0(MaDns, 1);
  dns->base = base;
  dns->watches = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)event_free);
  dns->timer = evtimer_new(base, on_timer, dns);
  dns->cache = dns_cache_new(opts->cache_entries);
  g_queue_init(&dns->queries);

  struct ares_options o;
  memset(&o, 0, sizeof o);
  o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
  o.timeout = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
  o.tries = opts->tries > 0 ? opts->tries : DEFAULT_TRIES;
  o.sock_state_cb = on_sock_state;
  o.sock_state_cb_data = dns;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  int rc = ares_init_options(&dns->channel, &o, mask);
  if (rc != ARES_SUCCESS) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "DNS resolver: %s", ares_strerror(rc));
    ma_dns_free(dns);
    return NULL;
  }
  dns->channel_ok = TRUE;
  if (opts->servers && *opts->servers) {
    rc = ares_set_servers_ports_csv(dns->channel, opts->servers);
    if (rc != ARES_SUCCESS) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "[dns] servers: \"%s\" is not a list of ip[:port] (%s)", opts->servers, ares_strerror(rc));
      ma_dns_free(dns);
      return NULL;
    }
  }
  return dns;
}

MaDnsQuery *ma_dns_query(MaDns *dns, const char *name, MaDnsType type, MaDnsCallback cb, void *arg)
{
  g_assert(dns && !dns->closing && cb);
  MaDnsQuery *q = g_new0(MaDnsQuery, 1);
  q->dns = dns;
  q->name = g_strdup(name ? name : "");
  q->type = type;
  q->cb = cb;
  q->arg = arg;
  g_queue_push_tail(&dns->queries, q);
  q->link = g_queue_peek_tail_link(&dns->queries);

  if (!ma_dns_name_is_valid(q->name) || type == MA_DNS_CNAME) {
    q->ready = ma_dns_result_new(q->name, type, MA_DNS_FAILED);
    q->ready->reason = type == MA_DNS_CNAME ? "CNAME is followed, not asked for" : "not a valid domain name";
  } else {
    q->ready = dns_cache_get(dns->cache, q->name, type);
  }
  if (q->ready) {
    q->deliver = evtimer_new(dns->base, on_deliver, q);
    struct timeval now = {0, 0};
    evtimer_add(q->deliver, &now);
    return q;
  }
  q->in_ares = TRUE;
  ares_query(dns->channel, q->name, 1 /* ns_c_in */, (int)type, on_ares_answer, q);
  update_timer(dns);
  return q;
}

void ma_dns_cancel(MaDnsQuery *q)
{
  if (!q || q->cancelled) return;
  q->cancelled = TRUE;
  if (!q->in_ares) query_free(q); /* waiting on its deliver event: nothing else refers to it */
}

guint ma_dns_pending(MaDns *dns)
{
  guint n = 0;
  for (GList *l = dns->queries.head; l; l = l->next)
    if (!((MaDnsQuery *)l->data)->cancelled) n++;
  return n;
}

void ma_dns_free(MaDns *dns)
{
  if (!dns) return;
  dns->closing = TRUE;
  /* answers waiting for the next loop turn: the owners hear CANCELLED now */
  GList *l = dns->queries.head;
  while (l) {
    GList *next = l->next;
    MaDnsQuery *q = l->data;
    if (!q->in_ares) {
      MaDnsResult *r = ma_dns_result_new(q->name, q->type, MA_DNS_CANCELLED);
      finish(q, r);
      ma_dns_result_free(r);
    }
    l = next;
  }
  /* c-ares calls every query back with ARES_EDESTRUCTION, and closes its sockets */
  if (dns->channel_ok) ares_destroy(dns->channel);
  dns->channel_ok = FALSE;
  g_assert(g_queue_is_empty(&dns->queries));
  g_hash_table_destroy(dns->watches);
  if (dns->timer) event_free(dns->timer);
  dns_cache_free(dns->cache);
  g_free(dns);
}

/* ---- the synchronous wrapper ---- */

struct MaDnsSync {
  struct event_base *base;
  MaDns *dns;
};

typedef struct {
  MaDnsResult *result;
} SyncWait;

static void on_sync_answer(const MaDnsResult *result, void *arg)
{
  SyncWait *w = arg;
  w->result = ma_dns_result_copy(result);
}

MaDnsSync *ma_dns_sync_new(const MaDnsOptions *opts, GError **error)
{
  MaDnsSync *s = g_new0(MaDnsSync, 1);
  s->base = event_base_new();
  if (!s->base) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "DNS resolver: cannot create an event loop");
    g_free(s);
    return NULL;
  }
  s->dns = ma_dns_new(s->base, opts, error);
  if (!s->dns) {
    event_base_free(s->base);
    g_free(s);
    return NULL;
  }
  return s;
}

MaDnsResult *ma_dns_sync_lookup(MaDnsSync *s, const char *name, MaDnsType type)
{
  SyncWait w = {NULL};
  MaDnsQuery *q = ma_dns_query(s->dns, name, type, on_sync_answer, &w);
  /* c-ares's timer bounds the wait: every query ends in an answer or ARES_ETIMEOUT */
  while (!w.result)
    if (event_base_loop(s->base, EVLOOP_ONCE) != 0) break; /* -1 error, 1 nothing to wait for */
  if (!w.result) {
    ma_dns_cancel(q);
    w.result = ma_dns_result_new(name, type, MA_DNS_FAILED);
    w.result->reason = "event loop failure";
  }
  return w.result;
}

void ma_dns_sync_free(MaDnsSync *s)
{
  if (!s) return;
  ma_dns_free(s->dns);
  event_base_free(s->base);
  g_free(s);
}
