/* api_front.c - the API's front reader: a filtering bufferevent between each connection's socket
 * (or TLS) bufferevent and evhttp, installed with evhttp_set_bevcb, which holds the octets back
 * until the request head is complete and decides on the head alone:
 *   - over [api] max_connections: 503, closed (metric mailagent_api_connections_refused_total);
 *   - a malformed head, or one longer than API_HEAD_MAX: 400 / 431, closed;
 *   - a route that needs a key, or no route at all, without a valid key: 401 with the JSON error,
 *     closed (metric mailagent_api_unauthenticated_total) - the body is never read, so keyless
 *     clients cannot make the daemon buffer anything but their head;
 *   - otherwise everything passes to evhttp untouched, and from then on the filter only copies.
 * libevent 2.1 has no server-side hook between head and body, hence the filter. Two habits of
 * 2.1's filters are corrected here: enabling writes does not flush what evhttp already wrote (a
 * deferred flush does), and evhttp takes a reply as sent once it reaches the socket bufferevent,
 * so that a reply followed by a close (Connection: close, evhttp's own errors) would be cut off
 * when the socket is freed: the output filter therefore writes replies straight to the socket and
 * keeps what the kernel does not take yet in its own output, so evhttp hears "sent" only when it
 * is.
 * Over TLS the socket bufferevent is bufferevent_openssl's (it does the handshake and decrypts);
 * replies go out through SSL_write on its SSL, the same way.
 *
 * Every request is checked: the front counts each request's Content-Length body through and reads
 * the next head the same way; a later refusal waits until evhttp has answered the requests before
 * it, so answers stay in order. A body with a Transfer-Encoding (chunked) has an end only evhttp
 * finds: after one, the connection's later requests are checked by api_authenticate after their
 * body, which max_body bounds. A refused connection stops reading at once; it is closed when the
 * answer has been written (evhttp's timeout closes a client that never reads). Never logs the key.
 */
#include "api_internal.h"
#include "api_head.h"
#include "agent/lib/log.h"
#include "agent/lib/metrics.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

typedef enum {
  FRONT_HEAD,     /* holding octets until the next request head is complete */
  FRONT_BODY,     /* passing the current request (head and Content-Length body) to evhttp */
  FRONT_PASS,     /* a body whose end is not counted (Transfer-Encoding): everything passes */
  FRONT_REFUSING, /* a later request refused: waiting for evhttp to finish the earlier ones */
  FRONT_CLOSING,  /* refusal written, input discarded, closing once flushed */
} FrontState;

struct ApiFrontCount {
  gint refs;
  guint open;    /* connections alive (API thread only) */
};

typedef struct {
  ApiServer *srv;
  ApiFrontCount *count;      /* shared with the server; outlives it while connections remain */
  struct bufferevent *under; /* socket bufferevent, or TLS over the socket */
  SSL *ssl;                  /* TLS: the connection's (the bufferevent owns it); NULL for plain */
  struct bufferevent *filter;
  FrontState state;
  gboolean over_cap;
  gboolean nodelay;
  gboolean eof_sent;
  guint requests;            /* requests passed to evhttp */
  gint64 pass_left;          /* FRONT_BODY: octets of the current request still to pass */
  struct event *flush_ev;    /* deferred flush of what evhttp wrote */
  struct event *writable_ev; /* one-shot: the socket can take more of a reply */
  GByteArray *head;          /* copy of the head octets seen so far, at most API_HEAD_MAX */
  gsize resume;              /* api_head_length's resume point */
  /* the refusal (static strings) */
  int status;
  const char *reason, *code, *message;
} ApiFront;

ApiFrontCount *api_front_count_new(void)
{
  ApiFrontCount *c = g_new0(ApiFrontCount, 1);
  c->refs = 1;
  return c;
}

void api_front_count_unref(ApiFrontCount *c)
{
  if (c && g_atomic_int_dec_and_test(&c->refs))
    g_free(c);
}

guint api_front_count_open(const ApiFrontCount *c)
{
  return c ? c->open : 0;
}

static void on_output_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static void front_free(void *arg)
{
  ApiFront *f = arg;

  if (f->filter)
    evbuffer_remove_cb(bufferevent_get_output(f->filter), on_output_added, f);
  if (f->flush_ev)
    event_free(f->flush_ev);
  if (f->writable_ev)
    event_free(f->writable_ev);

  f->count->open--;
  ma_metrics_add(MA_METRIC_API_CONNECTIONS_OPEN, -1);
  api_front_count_unref(f->count);
  if (f->head)
    g_byte_array_unref(f->head);
  g_free(f);
}

/* The socket's output changed: a refusal waiting for evhttp may go now; a written one closes. */
static void on_under_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static void write_refusal(ApiFront *f)
{
  struct evbuffer *out = bufferevent_get_output(f->under);
  json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", f->code, "message", f->message);
  char *body = json_dumps(doc, JSON_COMPACT);

  evbuffer_add_printf(out,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n%s\r\n%s",
                      f->status, f->reason, strlen(body),
                      f->status == 401 ? "WWW-Authenticate: Bearer realm=\"mailagent\"\r\n" : "", body);
  free(body);
  json_decref(doc);
  f->state = FRONT_CLOSING;
}

/* A refusal of a later request waits until evhttp has taken in and answered everything before it
 * (its input and both outputs empty), so that answers keep the order of the requests. */
static void try_refusal(ApiFront *f)
{
  if (f->state != FRONT_REFUSING || evbuffer_get_length(bufferevent_get_input(f->filter)) > 0 ||
      evbuffer_get_length(bufferevent_get_output(f->filter)) > 0 ||
      evbuffer_get_length(bufferevent_get_output(f->under)) > 0)
    return;
  write_refusal(f);
}

static void on_under_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
  ApiFront *f = arg;

  if (evbuffer_get_length(buf) > 0)
    return;
  if (f->state == FRONT_REFUSING)
    try_refusal(f);
  else if (f->state == FRONT_CLOSING && !f->eof_sent && evbuffer_get_length(buf) == 0) {
    /* evhttp frees the connection (and with it this filter and the socket) on EOF; deferred, so
     * it does not happen inside the socket's own write path */
    f->eof_sent = TRUE;
    bufferevent_trigger_event(f->filter, BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
  }
}

/* Answers status with the API's JSON error and closes once it is written; stops reading now. */
static void refuse(ApiFront *f, struct evbuffer *src, int status, const char *reason, const char *code,
                   const char *message)
{
  f->status = status;
  f->reason = reason;
  f->code = code;
  f->message = message;
  f->state = FRONT_REFUSING;
  g_clear_pointer(&f->head, g_byte_array_unref);
  evbuffer_drain(src, evbuffer_get_length(src));
  bufferevent_disable(f->under, EV_READ);
  try_refusal(f);
  if (f->state == FRONT_CLOSING)
    on_under_output(bufferevent_get_output(f->under), NULL, f); /* written at once: maybe flushed too */
}

static enum evhttp_cmd_type method_of(const char *m)
{
  if (strcmp(m, "GET") == 0) return EVHTTP_REQ_GET;
  if (strcmp(m, "POST") == 0) return EVHTTP_REQ_POST;
  if (strcmp(m, "PUT") == 0) return EVHTTP_REQ_PUT;
  if (strcmp(m, "DELETE") == 0) return EVHTTP_REQ_DELETE;
  return 0;
}

/* What the route of this head needs; a head with no route needs a key too (so that keyless
 * clients learn nothing about paths and send no body anywhere). */
static ApiAuth head_needs(ApiServer *srv, const ApiHead *h)
{
  ApiCtx tmp = {.srv = srv, .st = srv->st, .cfg = srv->cfg};
  const ApiRoute *route = NULL;
  struct evhttp_uri *uri = evhttp_uri_parse_with_flags(h->target, 0);
  const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
  ApiAuth need = API_AUTH_ENTERPRISE;
  enum evhttp_cmd_type m = method_of(h->method);

  if (m && path && *path && api_route_match(m, path, &tmp, &route, NULL) == API_ROUTE_FOUND)
    need = route->auth;
  for (int i = 0; i < tmp.n_params; i++)
    g_free(tmp.param_values[i]);
  if (uri)
    evhttp_uri_free(uri);
  return need;
}

/* The head is complete (hl octets): PASS, or a refusal written. */
static void decide(ApiFront *f, struct evbuffer *src, gsize hl)
{
  ApiServer *srv = f->srv;
  ApiHead h;
  ApiCtx ctx = {.srv = srv, .st = srv->st, .cfg = srv->cfg};
  g_autoptr(GError) error = NULL;
  const char *why = NULL;
  int rc;

  if (api_head_parse((const char *)f->head->data, hl, &h) < 0) {
    refuse(f, src, 400, "Bad Request", "bad_request", "malformed request head");
    return;
  }
  if (f->over_cap) {
    ma_metrics_inc(MA_METRIC_API_CONNECTIONS_REFUSED);
    ma_debug("api", "refusing a connection: %u open ([api] max_connections)", f->count->open);
    refuse(f, src, 503, "Service Unavailable", "busy", "too many API connections, try again later");
    api_head_clear(&h);
    return;
  }
  if (head_needs(srv, &h) != API_AUTH_NONE) {
    api_cache_sync(&ctx);
    rc = api_key_check(&ctx, h.authorization, NULL, &why, &error); /* the verdict only: no copy */
    if (rc < 0) {
      ma_warn("api", "key look-up failed before the body: %s", error->message);
      refuse(f, src, 503, "Service Unavailable", "unavailable", "temporary failure, try again later");
      api_head_clear(&h);
      return;
    }
    if (rc == 0) {
      ma_metrics_inc(MA_METRIC_API_UNAUTHENTICATED);
      refuse(f, src, 401, "Unauthorized", "unauthorized", why);
      api_head_clear(&h);
      return;
    }
  }
  f->requests++;
  if (h.chunked) {
    f->state = FRONT_PASS; /* the end of a chunked body is evhttp's to find: no later head is checked */
  } else {
    f->state = FRONT_BODY;
    f->pass_left = (gint64)hl + MAX(h.content_length, 0);
  }
  api_head_clear(&h);
}

static void set_nodelay(ApiFront *f)
{
  evutil_socket_t fd = bufferevent_getfd(f->under);
  int one = 1;

  if (fd < 0)
    return;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  f->nodelay = TRUE;
}

/* Moves up to n octets (bounded by *room, what evhttp's input may take) from src to dst. */
static gsize pass(struct evbuffer *src, struct evbuffer *dst, gsize n, gsize *room)
{
  n = MIN(n, MIN(evbuffer_get_length(src), *room));
  if (n > 0)
    evbuffer_remove_buffer(src, dst, n);
  *room -= n;
  return n;
}

static enum bufferevent_filter_result front_input(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                                                  enum bufferevent_flush_mode mode, void *arg)
{
  ApiFront *f = arg;
  gsize room = limit < 0 ? G_MAXSIZE : (gsize)limit, moved = 0, len, want, hl;

  if (!f->nodelay)
    set_nodelay(f);
  for (;;) {
    switch (f->state) {
    case FRONT_REFUSING:
    case FRONT_CLOSING:
      evbuffer_drain(src, evbuffer_get_length(src));
      return moved ? BEV_OK : BEV_NEED_MORE;
    case FRONT_PASS:
      moved += pass(src, dst, G_MAXSIZE, &room);
      return moved ? BEV_OK : BEV_NEED_MORE;
    case FRONT_BODY: {
      gsize n = pass(src, dst, (gsize)f->pass_left, &room);
      moved += n;
      f->pass_left -= (gint64)n;
      if (f->pass_left > 0 || evbuffer_get_length(src) == 0 || room == 0) {
        if (f->pass_left == 0) {
          f->state = FRONT_HEAD;
          f->resume = 0;
        }
        return moved ? BEV_OK : BEV_NEED_MORE;
      }
      f->state = FRONT_HEAD; /* the next request's head is already here */
      f->resume = 0;
      break;
    }
    case FRONT_HEAD:
      if (!f->head)
        f->head = g_byte_array_new();
      len = evbuffer_get_length(src);
      want = MIN(len, (gsize)API_HEAD_MAX);
      if (want < f->head->len) /* a new request: the copy starts again */
        g_byte_array_set_size(f->head, 0);
      if (want > f->head->len) {
        struct evbuffer_ptr at;
        gsize have = f->head->len;
        evbuffer_ptr_set(src, &at, have, EVBUFFER_PTR_SET);
        g_byte_array_set_size(f->head, (guint)want);
        evbuffer_copyout_from(src, &at, f->head->data + have, want - have);
      }
      hl = api_head_length((const char *)f->head->data, f->head->len, &f->resume);
      if (hl == 0) {
        if (f->head->len >= API_HEAD_MAX)
          refuse(f, src, 431, "Request Header Fields Too Large", "headers_too_large", "request head too large");
        return moved ? BEV_OK : BEV_NEED_MORE;
      }
      decide(f, src, hl);
      if (f->head)
        g_byte_array_set_size(f->head, 0);
      f->resume = 0;
      break;
    }
  }
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
  ApiFront *f = arg;

  bufferevent_flush(f->filter, EV_WRITE, BEV_NORMAL);
  try_refusal(f);
}

static void on_output_added(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
  ApiFront *f = arg;

  if (info->n_added > 0)
    event_active(f->flush_ev, EV_READ, 0);
}

/* TLS: what evbuffer_write_atmost does for a plain socket, through the connection's SSL (whose
 * handshake the TLS bufferevent finished before any request was read). Octets written, 0 when the
 * socket cannot take more now (SSL wants to write or read: retry on writability), -1 on a TLS or
 * socket error. OpenSSL wants a retry with the same octets: they stay first in src. */
static int ssl_write_atmost(SSL *ssl, struct evbuffer *src, ev_ssize_t limit)
{
  gsize left = limit < 0 ? evbuffer_get_length(src) : MIN((gsize)limit, evbuffer_get_length(src));
  int total = 0;

  while (left > 0) {
    gsize n = MIN(left, (gsize)16384);
    unsigned char *p = evbuffer_pullup(src, (ev_ssize_t)n);
    int r;
    ERR_clear_error();
    r = SSL_write(ssl, p, (int)n);
    if (r <= 0) {
      int e = SSL_get_error(ssl, r);
      return e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? total : -1;
    }
    evbuffer_drain(src, (size_t)r);
    total += r;
    left -= (gsize)r;
  }
  return total;
}

static void move_all(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit)
{
  if (limit < 0)
    evbuffer_add_buffer(dst, src);
  else
    evbuffer_remove_buffer(src, dst, (size_t)limit);
}

/* evhttp's output, written straight to the socket: what the kernel does not take stays in the
 * filter's output, so evhttp learns a reply is sent (and may close) only once it is all on the
 * wire; a one-shot write event brings us back when the socket can take more. */
static enum bufferevent_filter_result front_output(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
                                                   enum bufferevent_flush_mode mode, void *arg)
{
  ApiFront *f = arg;
  evutil_socket_t fd = bufferevent_getfd(f->under);
  int n;

  if (evbuffer_get_length(src) == 0)
    return BEV_NEED_MORE;
  if (fd < 0 || evbuffer_get_length(dst) > 0) { /* no socket yet, or octets queued below: keep the order */
    move_all(src, dst, limit);
    return BEV_OK;
  }
  n = f->ssl ? ssl_write_atmost(f->ssl, src, limit) : evbuffer_write_atmost(src, fd, limit);
  if (n < 0 && (f->ssl || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))) {
    move_all(src, dst, limit); /* a dead socket: the socket bufferevent meets the error and reports it */
    return BEV_OK;
  }
  if (evbuffer_get_length(src) > 0) {
    if (!f->writable_ev)
      f->writable_ev = event_new(bufferevent_get_base(f->filter), fd, EV_WRITE, on_flush, f);
    if (f->writable_ev)
      event_add(f->writable_ev, NULL);
  }
  return n > 0 ? BEV_OK : BEV_NEED_MORE;
}

struct bufferevent *api_front_bevcb(struct event_base *base, void *arg)
{
  ApiServer *srv = arg;
  struct bufferevent *under;
  SSL *ssl = NULL;
  ApiFront *f;

  if (srv->tls) {
    ssl = ma_tls_ssl_new(srv->tls);
    under = ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE) : NULL;
  } else {
    under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  }
  if (!under)
    return NULL;
  f = g_new0(ApiFront, 1);
  f->srv = srv;
  f->count = srv->front_count;
  g_atomic_int_inc(&f->count->refs);
  f->under = under;
  f->ssl = ssl; /* owned by the TLS bufferevent */
  f->head = g_byte_array_new();
  f->over_cap = ++f->count->open > (guint)MAX(srv->cfg->api_max_connections, 1);
  ma_metrics_add(MA_METRIC_API_CONNECTIONS_OPEN, 1);
  bufferevent_setwatermark(under, EV_READ, 0, API_HEAD_MAX);
  f->flush_ev = event_new(base, -1, 0, on_flush, f);
  f->filter = bufferevent_filter_new(under, front_input, front_output, BEV_OPT_CLOSE_ON_FREE, front_free, f);
  if (!f->filter || !f->flush_ev) {
    bufferevent_free(under);
    front_free(f);
    return NULL;
  }
  evbuffer_add_cb(bufferevent_get_output(f->filter), on_output_added, f);
  evbuffer_add_cb(bufferevent_get_output(under), on_under_output, f);
  return f->filter;
}
