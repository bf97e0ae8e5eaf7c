/* smtp_server.c - the inbound SMTP listener (see smtp_server.h): accepts connections, caps them
 * overall and per client address, runs one SmtpSession per connection over a bufferevent,
 * upgrades it in place to TLS on STARTTLS (bufferevent_openssl_filter_new on the same
 * bufferevent) - or, for the submission listener of [submission] tls_listen, runs TLS from the
 * first octet (implicit TLS, RFC 8314) - keeps one timer per connection for timeouts and the data-rate check, and bridges
 * the sessions to the RCPT snapshot (recipient and employee look-ups, settings: rcpt_refresher.h)
 * and to the group-commit spool writer.
 *
 * Replies are written to the socket as soon as the session has queued them (conn_send), the write
 * event armed only when they do not fit. Back-pressure: the read high-watermark stops reading from a client whose input is not being
 * consumed (while its message is being spooled, or while it does not read our replies). Never
 * touches the database on the loop: look-ups read the in-memory snapshot, the spool writer and
 * the snapshot refresher have threads of their own.
 */
#include "smtp_server.h"

#include "agent/lib/diskspace.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/log.h"
#include "agent/lib/metrics.h"
#include "agent/lib/tls.h"
#include "agent/bounce/bounce_verp.h"
#include "agent/lib/crypto.h"
#include "forwarder_policy.h"
#include "rcpt_refresher.h"
#include "smtp_session.h"
#include "smtp_spool_writer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/crypto.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READ_HIGH_WATERMARK (256 * 1024)

typedef struct Conn Conn;

struct SmtpServer {
  struct event_base *base;
  SmtpLimits lim;            /* strings below are owned by the server */
  char *hostname, *inbound_domain, *default_policy, *data_dir, *listen, *cert_file, *key_file;
  char *bounce_domain;       /* inbound: [relay] bounce_domain once its token key is loaded, else NULL */
  guint8 token_key[BOUNCE_TOKEN_KEY_LEN];
  gboolean have_token_key;
  gint64 disk_reserve;
  guint max_sessions, max_per_client;
  guint greet_delay_ms;
  MaTls *tls;
  gboolean implicit_tls;     /* submission over implicit TLS ([submission] tls_listen) */
  RcptRefresher *rcpt;       /* the RCPT snapshot (inbound) */
  MaStorage *st;             /* submission: the credentials' store */
  SmtpSpoolWriter *writer;   /* inbound: the spool; NULL for submission */
  const SmtpSinkOps *sink_ops; /* submission: where messages go */
  void *sink;
  gboolean loopback_auth;
  struct evconnlistener *listener;
  GHashTable *per_client;    /* ip -> GUINT count */
  GList *conns;              /* Conn* */
  guint nconns;
  SmtpSpooledFn spooled_fn;
  void *spooled_arg;
  /* shutdown */
  gboolean shutting_down;
  struct event *grace_timer;
  struct event *drain_timer;
  SmtpShutdownFn shutdown_done;
  void *shutdown_arg;
};

struct Conn {
  SmtpServer *srv;
  SmtpSession *s;
  struct bufferevent *bev;   /* the top bufferevent (the TLS filter after STARTTLS) */
  struct event *timer;
  GList *link;
  SmtpSpoolTicket *ticket;
  void *sink_ticket;         /* submission: message handed to the sink, reply pending */
  gboolean tls;              /* c->bev is a TLS bufferevent (STARTTLS filter, implicit TLS): replies go through it */
  gboolean closing;
  gint64 close_by_ms;
  char ip[64];
};

static gint64 now_ms(void)
{
  return g_get_monotonic_time() / 1000;
}

static void conn_free(Conn *c);
static void conn_run(Conn *c);

/* ---- limits from the config ------------------------------------------------------------------ */

/* Inbound: RCPT on [relay] bounce_domain checks return-path and unsubscribe tokens, which needs
 * the token key from the master key (read once). Without the key the domain is not ours. */
static void take_bounce_domain(SmtpServer *srv, const MaConfig *cfg)
{
  g_clear_pointer(&srv->bounce_domain, g_free);
  if (srv->sink_ops || !cfg->relay_bounce_domain || !*cfg->relay_bounce_domain) return;
  if (!srv->have_token_key) {
    g_autoptr(GError) error = NULL;
    guint8 master[32];
    if (ma_master_key_load(cfg->master_key_file, FALSE, master, &error) < 0) {
      ma_warn("smtp", "[relay] bounce_domain %s: no master key (%s): bounces to it are refused",
              cfg->relay_bounce_domain, error->message);
      return;
    }
    bounce_token_key(master, srv->token_key);
    memset(master, 0, sizeof master);
    srv->have_token_key = TRUE;
  }
  srv->bounce_domain = g_ascii_strdown(cfg->relay_bounce_domain, -1);
}

static void take_config(SmtpServer *srv, const MaConfig *cfg)
{
  g_free(srv->hostname);
  g_free(srv->inbound_domain);
  g_free(srv->default_policy);
  srv->hostname = g_strdup(cfg->hostname ? cfg->hostname : "localhost");
  srv->inbound_domain = g_strdup(cfg->inbound_domain);
  srv->default_policy = g_strdup(cfg->forwarder_policy ? cfg->forwarder_policy : "employee");
  smtp_limits_defaults(&srv->lim);
  srv->lim.hostname = srv->hostname;
  srv->lim.inbound_domain = srv->inbound_domain;
  take_bounce_domain(srv, cfg);
  srv->lim.bounce_domain = srv->bounce_domain;
  srv->lim.max_message_size = cfg->max_message_size;
  srv->lim.data.max_size = cfg->max_message_size;
  srv->lim.max_recipients = (guint) MAX(cfg->max_recipients, 1);
  srv->lim.error_budget = (guint) MAX(cfg->error_budget, 1);
  srv->lim.junk_command_limit = (guint) MAX(cfg->junk_command_limit, 0);
  srv->lim.command_timeout_ms = (guint) MAX(cfg->command_timeout, 1) * 1000u;
  srv->lim.data_timeout_ms = (guint) MAX(cfg->data_timeout, 1) * 1000u;
  srv->lim.tls_timeout_ms = MIN(srv->lim.command_timeout_ms, 30000u);
  srv->lim.min_data_rate = (guint) MAX(cfg->min_data_rate, 0);
  srv->lim.rate_grace_ms = MIN(5000u, srv->lim.data_timeout_ms);
  srv->lim.rate_window_ms = (guint) CLAMP(cfg->data_rate_window, 1, SMTP_RATE_WINDOW_MAX_S) * 1000u;
  srv->disk_reserve = cfg->disk_reserve;
  srv->max_sessions = (guint) MAX(cfg->max_sessions, 1);
  srv->max_per_client = (guint) MAX(cfg->max_sessions_per_client, 1);
  srv->greet_delay_ms = (guint)cfg->greet_delay_ms;
  if (srv->rcpt) rcpt_refresher_set_default_policy(srv->rcpt, srv->default_policy);
}

/* ---- session hooks: storage and policy ---------------------------------------------------- */

static int hook_rcpt_lookup(void *ctx, const char *local, char **ent, GError **error)
{
  Conn *c = ctx;
  g_autoptr(RcptSnapshot) snap = rcpt_refresher_current(c->srv->rcpt);
  return rcpt_snapshot_inbound(snap, local, ma_now(), ent);
}

static int hook_bounce_lookup(void *ctx, const char *local)
{
  Conn *c = ctx;
  BounceTokenKind kind;
  gint64 row;
  return c->srv->have_token_key ? bounce_token_decode(c->srv->token_key, local, strlen(local), &kind, &row) : 0;
}

static int hook_policy(void *ctx, const char *enterprise_id, const char *client_ip, const char *mail_from,
                       const guint8 *msg, gsize len, FwdDecision *out, GError **error)
{
  Conn *c = ctx;
  g_autoptr(RcptSnapshot) snap = rcpt_refresher_current(c->srv->rcpt);
  return rcpt_snapshot_policy(snap, enterprise_id, client_ip, mail_from, msg, len, out, error);
}

static gboolean hook_disk_ok(void *ctx)
{
  Conn *c = ctx;
  gint64 free_bytes = 0;
  if (c->srv->disk_reserve <= 0) return TRUE;
  if (ma_disk_free(c->srv->data_dir, &free_bytes) < 0) return TRUE; /* cannot tell: the spool commit will fail if it must */
  return free_bytes >= c->srv->disk_reserve;
}

static void on_spooled(void *arg, gboolean ok, gboolean no_space, const char *spool_id)
{
  Conn *c = arg;
  c->ticket = NULL;
  smtp_session_spooled(c->s, ok ? SMTP_SPOOL_STORED : no_space ? SMTP_SPOOL_NO_SPACE : SMTP_SPOOL_FAILED, spool_id,
                       now_ms());
  conn_run(c);
}

static void on_sink_done(void *arg, const char *reply)
{
  Conn *c = arg;
  c->sink_ticket = NULL;
  smtp_session_finished(c->s, reply, now_ms());
  conn_run(c);
}

static void hook_submit(void *ctx, SmtpSession *s, MaSpoolEntry *e)
{
  Conn *c = ctx;
  e->received_at = ma_now();
  if (c->srv->sink_ops) c->sink_ticket = c->srv->sink_ops->submit(c->srv->sink, e, on_sink_done, c);
  else c->ticket = smtp_spool_writer_submit(c->srv->writer, e, on_spooled, c);
}

/* Submission credentials: the stored SHA-256 of the (random, high-entropy) secret, compared in
 * constant time. */
static int hook_auth(void *ctx, const char *user, const char *password, char **enterprise_id_r, GError **error)
{
  Conn *c = ctx;
  MaSubmissionCredential *cred = NULL;
  g_autofree char *stored = NULL;
  int rc = storage_submission_find(c->srv->st, user, &cred, &stored, error);
  if (rc <= 0) return rc;
  char hash[65];
  ma_sha256_hex(password, strlen(password), hash);
  gboolean ok = stored && strlen(stored) == 64 && CRYPTO_memcmp(hash, stored, 64) == 0;
  if (ok) *enterprise_id_r = g_strdup(cred->enterprise_id);
  ma_submission_credential_free(cred);
  return ok ? 1 : 0;
}

static int hook_body_new(void *ctx, MaSpoolBody **out, GError **error)
{
  Conn *c = ctx;
  g_autofree char *spool_id = ma_id_new();
  return spool_body_new_buffered(c->srv->data_dir, spool_id, out, error);
}

static void on_committed(void *arg, guint n)
{
  SmtpServer *srv = arg;
  ma_metrics_add(MA_METRIC_MESSAGES_RECEIVED, n);
  if (srv->spooled_fn) srv->spooled_fn(srv->spooled_arg, n);
}

/* ---- connection I/O ----------------------------------------------------------------------- */

static void arm_timer(Conn *c)
{
  gint64 now = now_ms(), wake = smtp_session_next_wakeup(c->s, now);
  struct timeval tv;
  gint64 d;
  if (smtp_session_state(c->s) == SMTP_STATE_GREETING) return; /* the greeting timer is running */
  if (wake == G_MAXINT64) {
    event_del(c->timer);
    return;
  }
  d = MAX(wake - now, 0);
  tv.tv_sec = d / 1000;
  tv.tv_usec = (d % 1000) * 1000;
  event_add(c->timer, &tv);
}

/* TRUE when nothing we wrote is still waiting (in the TLS filter or under it). */
static gboolean conn_flushed(Conn *c)
{
  struct bufferevent *under = bufferevent_get_underlying(c->bev);
  return evbuffer_get_length(bufferevent_get_output(c->bev)) == 0 &&
         (!under || evbuffer_get_length(bufferevent_get_output(under)) == 0);
}

/* Sends the replies the session queued straight to the socket: one writev, without arming a write
 * event and waiting a loop turn for it (a reply nearly always fits the socket buffer). What does
 * not fit, or a write error, is left to the bufferevent's write event, enabled only then (and
 * disabled again in on_write once drained). TLS connections write through their filter. */
static void conn_send(Conn *c)
{
  struct evbuffer *out = bufferevent_get_output(c->bev);
  if (c->tls || evbuffer_get_length(out) == 0 || (bufferevent_get_enabled(c->bev) & EV_WRITE)) return;
  evbuffer_unfreeze(out, 1); /* a bufferevent keeps the front of its output frozen but to itself */
  evbuffer_write(out, bufferevent_getfd(c->bev));
  evbuffer_freeze(out, 1);
  if (evbuffer_get_length(out) > 0) bufferevent_enable(c->bev, EV_WRITE);
}

/* Close once the output is flushed (checked on write events and on a short timer, since the TLS
 * filter reports "drained" when its octets reach the socket bufferevent, not the socket). */
static void conn_close_after_flush(Conn *c)
{
  struct timeval tv = {0, 20000};
  if (!c->closing) c->close_by_ms = now_ms() + 10000; /* a client that never reads our last reply */
  c->closing = TRUE;
  bufferevent_disable(c->bev, EV_READ);
  conn_send(c);
  if (conn_flushed(c) || now_ms() >= c->close_by_ms) {
    conn_free(c);
    return;
  }
  event_add(c->timer, &tv);
}

/* Lets the session consume input; closes when it says so. */
static void conn_run(Conn *c)
{
  if (c->closing) return;
  if (smtp_session_process(c->s, now_ms()) == SMTP_CLOSE) {
    conn_close_after_flush(c);
    return;
  }
  conn_send(c);
  arm_timer(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
  conn_run(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
  Conn *c = arg;
  if (!c->tls) bufferevent_disable(bev, EV_WRITE); /* drained: conn_send writes the next reply itself */
  if (c->closing) {
    conn_close_after_flush(c);
    return;
  }
  /* output drained: the session may have stopped reading because the client did not read */
  conn_run(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
  Conn *c = arg;
  if (what & BEV_EVENT_CONNECTED) { /* TLS handshake finished */
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    ma_info("smtp", "TLS established client=%s %s %s", c->ip, SSL_get_version(ssl), SSL_get_cipher_name(ssl));
    if (c->srv->implicit_tls) return; /* TLS from the first octet: the session started as TLS */
    smtp_session_tls_done(c->s, TRUE, now_ms());
    smtp_session_set_buffers(c->s, bufferevent_get_input(bev), bufferevent_get_output(bev));
    conn_run(c);
    return;
  }
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
    if (smtp_session_state(c->s) == SMTP_STATE_TLS) ma_info("smtp", "TLS handshake failed client=%s", c->ip);
    else if (!(what & BEV_EVENT_EOF)) ma_debug("smtp", "connection error client=%s", c->ip);
    conn_free(c);
  }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
  Conn *c = arg;
  if (c->closing) {
    conn_close_after_flush(c);
    return;
  }
  if (smtp_session_timer(c->s, now_ms()) == SMTP_CLOSE) {
    conn_close_after_flush(c);
    return;
  }
  arm_timer(c);
}

static void hook_starttls(void *ctx, SmtpSession *s)
{
  Conn *c = ctx;
  SSL *ssl = ma_tls_ssl_new(c->srv->tls);
  struct bufferevent *tls;

  if (!ssl) {
    smtp_session_tls_done(s, FALSE, now_ms()); /* the session closes; never free it from inside */
    return;
  }
  /* the 220 reply is already in the plain bufferevent's output; the filter writes after it, and
   * the plain one now always writes when it has output */
  c->tls = TRUE;
  bufferevent_enable(c->bev, EV_WRITE);
  tls = bufferevent_openssl_filter_new(c->srv->base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
  if (!tls) {
    SSL_free(ssl);
    smtp_session_tls_done(s, FALSE, now_ms());
    return;
  }
  bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
  c->bev = tls;
  bufferevent_setwatermark(tls, EV_READ, 0, READ_HIGH_WATERMARK);
  bufferevent_setcb(tls, on_read, on_write, on_event, c);
  bufferevent_enable(tls, EV_READ | EV_WRITE);
  smtp_session_set_buffers(c->s, bufferevent_get_input(tls), bufferevent_get_output(tls));
}

/* ---- accept -------------------------------------------------------------------------------- */

static void client_count_add(SmtpServer *srv, const char *ip, int delta)
{
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(srv->per_client, ip));
  n = (guint) ((int) n + delta);
  if (n == 0) g_hash_table_remove(srv->per_client, ip);
  else g_hash_table_replace(srv->per_client, g_strdup(ip), GUINT_TO_POINTER(n));
}

static void conn_free(Conn *c)
{
  SmtpServer *srv = c->srv;
  if (c->ticket) smtp_spool_writer_cancel(c->ticket);
  if (c->sink_ticket) c->srv->sink_ops->cancel(c->srv->sink, c->sink_ticket);
  srv->conns = g_list_delete_link(srv->conns, c->link);
  srv->nconns--;
  ma_metrics_add(MA_METRIC_SMTP_SESSIONS_OPEN, -1);
  client_count_add(srv, c->ip, -1);
  event_free(c->timer);
  bufferevent_free(c->bev);
  smtp_session_free(c->s);
  g_free(c);
  if (srv->shutting_down && srv->nconns == 0 && srv->drain_timer) event_active(srv->drain_timer, EV_TIMEOUT, 0);
}

static void refuse_connection(evutil_socket_t fd, const char *text)
{
  ssize_t n = send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void) n;
  evutil_closesocket(fd);
}

static void on_greet_timer(evutil_socket_t fd, short what, void *arg);

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen, void *arg)
{
  SmtpServer *srv = arg;
  char ip[64] = "unknown";
  SmtpSessionHooks hooks = {0};
  Conn *c;
  char peek;
  gboolean early;

  if (sa->sa_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *) sa)->sin_addr, ip, sizeof ip);
  else if (sa->sa_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *) sa)->sin6_addr, ip, sizeof ip);
  if (srv->shutting_down) {
    refuse_connection(fd, "421 4.3.2 Service shutting down\r\n");
    return;
  }
  if (srv->nconns >= srv->max_sessions) {
    ma_warn("smtp", "refusing connection: %u sessions (max_sessions) client=%s", srv->nconns, ip);
    refuse_connection(fd, "421 4.7.0 Too many connections, try again later\r\n");
    return;
  }
  if (GPOINTER_TO_UINT(g_hash_table_lookup(srv->per_client, ip)) >= srv->max_per_client) {
    ma_warn("smtp", "refusing connection: too many from client=%s", ip);
    refuse_connection(fd, "421 4.7.0 Too many connections from your address, try again later\r\n");
    return;
  }
  /* talking before the greeting; not judged under implicit TLS, where the client speaks first (the
   * listener made fd non-blocking) */
  early = !srv->implicit_tls && recv(fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) > 0;

  c = g_new0(Conn, 1);
  c->srv = srv;
  g_strlcpy(c->ip, ip, sizeof c->ip);
  hooks.ctx = c;
  hooks.rcpt_lookup = hook_rcpt_lookup;
  hooks.policy = hook_policy;
  hooks.disk_ok = hook_disk_ok;
  hooks.submit = hook_submit;
  hooks.starttls = hook_starttls;
  hooks.body_new = hook_body_new;
  hooks.auth = hook_auth;
  hooks.bounce_lookup = hook_bounce_lookup;
  srv->lim.tls_available = srv->tls != NULL;
  srv->lim.submission = srv->sink_ops != NULL;
  srv->lim.auth_plaintext = srv->loopback_auth && (g_str_has_prefix(ip, "127.") || strcmp(ip, "::1") == 0);
  srv->lim.implicit_tls = srv->implicit_tls;
  c->s = smtp_session_new(&srv->lim, &hooks, ip, now_ms());
  if (srv->implicit_tls) {
    /* the handshake first; the greeting waits in the TLS layer's output until it is done */
    c->tls = TRUE; /* replies go through the TLS layer, never straight to the socket */
    SSL *ssl = ma_tls_ssl_new(srv->tls);
    c->bev = ssl ? bufferevent_openssl_socket_new(srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)
                 : NULL;
    if (c->bev) bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    else if (ssl) SSL_free(ssl);
  } else {
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  if (!c->bev) {
    ma_warn("smtp", "cannot set up a connection client=%s", ip);
    smtp_session_free(c->s);
    g_free(c);
    evutil_closesocket(fd);
    return;
  }
  c->timer = evtimer_new(srv->base, on_timer, c);
  srv->conns = g_list_prepend(srv->conns, c);
  c->link = srv->conns;
  srv->nconns++;
  ma_metrics_add(MA_METRIC_SMTP_SESSIONS_TOTAL, 1);
  ma_metrics_add(MA_METRIC_SMTP_SESSIONS_OPEN, 1);
  client_count_add(srv, ip, +1);
  bufferevent_setwatermark(c->bev, EV_READ, 0, READ_HIGH_WATERMARK);
  bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
  /* plain: EV_WRITE (on by default in a new bufferevent) only while a reply waits for room
   * (conn_send); TLS: the TLS layer writes */
  if (!c->tls) bufferevent_disable(c->bev, EV_WRITE);
  bufferevent_enable(c->bev, c->tls ? EV_READ | EV_WRITE : EV_READ);
  smtp_session_set_buffers(c->s, bufferevent_get_input(c->bev), bufferevent_get_output(c->bev));
  if (srv->greet_delay_ms > 0 && !early) {
    struct timeval tv = {srv->greet_delay_ms / 1000, (srv->greet_delay_ms % 1000) * 1000};
    event_assign(c->timer, srv->base, -1, 0, on_greet_timer, c);
    event_add(c->timer, &tv);
    return;
  }
  if (smtp_session_greet(c->s, early, now_ms()) == SMTP_CLOSE) {
    conn_close_after_flush(c);
    return;
  }
  conn_send(c);
  arm_timer(c);
}

static void on_greet_timer(evutil_socket_t fd, short what, void *arg)
{
  Conn *c = arg;
  event_assign(c->timer, c->srv->base, -1, 0, on_timer, c);
  if (smtp_session_greet(c->s, FALSE, now_ms()) == SMTP_CLOSE) {
    conn_close_after_flush(c);
    return;
  }
  conn_run(c);
}

/* ---- public API ---------------------------------------------------------------------------- */

SmtpServer *smtp_server_new(struct event_base *base, const MaConfig *cfg, GError **error)
{
  SmtpServer *srv = g_new0(SmtpServer, 1);
  g_autoptr(GError) tls_error = NULL;

  srv->base = base;
  srv->data_dir = g_strdup(cfg->data_dir);
  srv->listen = g_strdup(cfg->smtp_listen);
  srv->cert_file = g_strdup(cfg->tls_cert_file);
  srv->key_file = g_strdup(cfg->tls_key_file);
  srv->per_client = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  take_config(srv, cfg);
  if (srv->cert_file && srv->key_file && g_file_test(srv->cert_file, G_FILE_TEST_EXISTS) &&
      g_file_test(srv->key_file, G_FILE_TEST_EXISTS)) {
    srv->tls = ma_tls_server_new(srv->cert_file, srv->key_file, &tls_error);
    if (!srv->tls) {
      g_propagate_error(error, g_steal_pointer(&tls_error));
      smtp_server_free(srv);
      return NULL;
    }
  } else {
    ma_warn("smtp", "no TLS certificate at %s: STARTTLS not offered", srv->cert_file ? srv->cert_file : "(none)");
  }
  srv->rcpt = rcpt_refresher_start(srv->data_dir, srv->default_policy, error);
  if (!srv->rcpt) {
    smtp_server_free(srv);
    return NULL;
  }
  srv->writer = smtp_spool_writer_new(base, srv->data_dir, error);
  if (!srv->writer) {
    smtp_server_free(srv);
    return NULL;
  }
  smtp_spool_writer_set_committed(srv->writer, on_committed, srv);
  /* after the writer's orphan sweep, before any session: finished body files become new ones */
  spool_body_set_recycling(TRUE);
  return srv;
}

static SmtpServer *new_submission(struct event_base *base, const MaConfig *cfg, const SmtpSinkOps *ops, void *sink,
                                  gboolean implicit_tls, GError **error)
{
  SmtpServer *srv = g_new0(SmtpServer, 1);
  g_autoptr(GError) tls_error = NULL;

  srv->base = base;
  srv->data_dir = g_strdup(cfg->data_dir);
  srv->listen = g_strdup(implicit_tls ? cfg->submission_tls_listen : cfg->submission_listen);
  srv->implicit_tls = implicit_tls;
  srv->cert_file = g_strdup(cfg->tls_cert_file);
  srv->key_file = g_strdup(cfg->tls_key_file);
  srv->per_client = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  srv->sink_ops = ops;
  srv->sink = sink;
  srv->loopback_auth = cfg->submission_loopback_auth != 0;
  take_config(srv, cfg);
  if (srv->cert_file && srv->key_file && g_file_test(srv->cert_file, G_FILE_TEST_EXISTS) &&
      g_file_test(srv->key_file, G_FILE_TEST_EXISTS)) {
    srv->tls = ma_tls_server_new(srv->cert_file, srv->key_file, &tls_error);
    if (!srv->tls) {
      g_propagate_error(error, g_steal_pointer(&tls_error));
      smtp_server_free(srv);
      return NULL;
    }
  } else if (implicit_tls) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[submission] tls_listen needs a certificate ([smtp] tls_cert_file "
                "and tls_key_file; none at %s)", srv->cert_file ? srv->cert_file : "(none)");
    smtp_server_free(srv);
    return NULL;
  } else {
    ma_warn("smtp", "no TLS certificate at %s: the submission listener offers no STARTTLS (AUTH only from loopback "
            "with [submission] loopback_auth)", srv->cert_file ? srv->cert_file : "(none)");
  }
  if (storage_open(srv->data_dir, FALSE, &srv->st, error) < 0) {
    smtp_server_free(srv);
    return NULL;
  }
  return srv;
}

SmtpServer *smtp_server_new_submission(struct event_base *base, const MaConfig *cfg, const SmtpSinkOps *ops,
                                       void *sink, GError **error)
{
  return new_submission(base, cfg, ops, sink, FALSE, error);
}

SmtpServer *smtp_server_new_submission_tls(struct event_base *base, const MaConfig *cfg, const SmtpSinkOps *ops,
                                           void *sink, GError **error)
{
  g_assert(cfg->submission_tls_listen);
  return new_submission(base, cfg, ops, sink, TRUE, error);
}

void smtp_server_set_spooled_hook(SmtpServer *srv, SmtpSpooledFn fn, void *arg)
{
  srv->spooled_fn = fn;
  srv->spooled_arg = arg;
}

static const char *listen_key(const SmtpServer *srv)
{
  return !srv->sink_ops ? "[smtp] listen" : srv->implicit_tls ? "[submission] tls_listen" : "[submission] listen";
}

int smtp_server_start(SmtpServer *srv, GError **error)
{
  g_autofree char *host = NULL;
  int port;
  struct sockaddr_storage ss;
  int sslen = sizeof ss;
  g_autofree char *addr = NULL;

  if (ma_config_split_listen(srv->listen, &host, &port, error) < 0) return -1;
  addr = strchr(host, ':') ? g_strdup_printf("[%s]:%d", host, port) : g_strdup_printf("%s:%d", host, port);
  memset(&ss, 0, sizeof ss);
  if (evutil_parse_sockaddr_port(addr, (struct sockaddr *) &ss, &sslen) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: cannot parse %s", listen_key(srv), srv->listen);
    return -1;
  }
  srv->listener = evconnlistener_new_bind(srv->base, on_accept, srv, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                          1024, (struct sockaddr *) &ss, sslen);
  if (!srv->listener) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s %s: %s", listen_key(srv), srv->listen, g_strerror(errno));
    return -1;
  }
  ma_info("smtp", "%s on %s (domain %s, %s)", srv->sink_ops ? "submission listening" : "listening", srv->listen,
          srv->inbound_domain, srv->implicit_tls ? "implicit TLS" : srv->tls ? "STARTTLS on" : "STARTTLS off");
  return 0;
}

int smtp_server_reload(SmtpServer *srv, const MaConfig *cfg, GError **error)
{
  int rc = 0;
  g_free(srv->cert_file);
  g_free(srv->key_file);
  srv->cert_file = g_strdup(cfg->tls_cert_file);
  srv->key_file = g_strdup(cfg->tls_key_file);
  take_config(srv, cfg); /* sessions copied their limits: new values apply to new sessions */
  if (srv->cert_file && srv->key_file && g_file_test(srv->cert_file, G_FILE_TEST_EXISTS)) {
    if (srv->tls) rc = ma_tls_reload(srv->tls, srv->cert_file, srv->key_file, error);
    else if (!(srv->tls = ma_tls_server_new(srv->cert_file, srv->key_file, error))) rc = -1;
  }
  ma_info("smtp", "configuration reloaded (TLS %s)", rc == 0 ? "ok" : "kept the previous certificate");
  return rc;
}

static void shutdown_finish(SmtpServer *srv)
{
  SmtpShutdownFn done = srv->shutdown_done;
  if (!done) return;
  if ((srv->writer && smtp_spool_writer_pending(srv->writer) > 0) ||
      (srv->sink_ops && srv->sink_ops->pending(srv->sink) > 0)) { /* let the writer report what it holds */
    struct timeval tv = {0, 20000};
    evtimer_add(srv->drain_timer, &tv);
    return;
  }
  srv->shutdown_done = NULL;
  if (srv->grace_timer) event_del(srv->grace_timer);
  ma_info("smtp", "shutdown complete");
  done(srv->shutdown_arg);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
  SmtpServer *srv = arg;
  if (srv->nconns == 0) shutdown_finish(srv);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
  SmtpServer *srv = arg;
  ma_info("smtp", "grace period over: closing %u sessions", srv->nconns);
  while (srv->conns) conn_free(srv->conns->data);
  shutdown_finish(srv);
}

void smtp_server_shutdown(SmtpServer *srv, int grace_seconds, SmtpShutdownFn done, void *arg)
{
  struct timeval tv = {MAX(grace_seconds, 0), 0};
  GList *l, *next;

  srv->shutting_down = TRUE;
  srv->shutdown_done = done;
  srv->shutdown_arg = arg;
  if (srv->listener) {
    evconnlistener_free(srv->listener);
    srv->listener = NULL;
  }
  ma_info("smtp", "shutting down: %u sessions, grace %d s", srv->nconns, grace_seconds);
  srv->drain_timer = event_new(srv->base, -1, 0, on_drain, srv);
  srv->grace_timer = evtimer_new(srv->base, on_grace, srv);
  evtimer_add(srv->grace_timer, &tv);
  for (l = srv->conns; l; l = next) {
    Conn *c = l->data;
    next = l->next;
    if (!c->closing && smtp_session_shutdown(c->s, now_ms()) == SMTP_CLOSE) conn_close_after_flush(c);
  }
  if (srv->nconns == 0) event_active(srv->drain_timer, EV_TIMEOUT, 0);
}

guint smtp_server_session_count(SmtpServer *srv)
{
  return srv->nconns;
}

void smtp_server_free(SmtpServer *srv)
{
  if (!srv) return;
  if (srv->listener) evconnlistener_free(srv->listener);
  while (srv->conns) conn_free(srv->conns->data);
  smtp_spool_writer_free(srv->writer);
  if (srv->writer) spool_body_set_recycling(FALSE); /* unlinks the files kept for reuse */
  rcpt_refresher_stop(srv->rcpt);
  storage_close(&srv->st);
  ma_tls_free(srv->tls);
  if (srv->grace_timer) event_free(srv->grace_timer);
  if (srv->drain_timer) event_free(srv->drain_timer);
  g_hash_table_unref(srv->per_client);
  g_free(srv->bounce_domain);
  memset(srv->token_key, 0, sizeof srv->token_key);
  g_free(srv->hostname);
  g_free(srv->inbound_domain);
  g_free(srv->default_policy);
  g_free(srv->data_dir);
  g_free(srv->listen);
  g_free(srv->cert_file);
  g_free(srv->key_file);
  g_free(srv);
}
