/* smtp_client_io.c - runs one smtp_client session over a libevent bufferevent: connect, read
 * replies into the session, write what it produces, upgrade in place to TLS (an OpenSSL filter
 * over the same socket) when the session asks, and end on close, error or time-out.
 *
 * Never blocks: the address is an IP literal; every wait is a bufferevent time-out; an OAuth2 token
 * comes from the target's asynchronous token provider. The session
 * decides everything about the protocol and the TLS policy; this file only moves octets and
 * reports the handshake's certificate verdict.
 */
#include "smtp_client_io.h"

#include "agent/lib/error.h"
#include "agent/lib/tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <string.h>

struct SmtpClientConn {
  struct event_base *base;
  struct bufferevent *bev;
  SmtpClient *session;
  SmtpClientConnHooks hooks;
  SSL_CTX *ssl_ctx;
  char *host;
  char *peer;
  guint connect_timeout_s, command_timeout_s;
  const SmtpTokenProvider *tokens;
  char *token_owner;
  guint token_ticket;        /* a token request in flight (0: none) */
  gboolean closing;          /* the closed hook has run or is running */
};

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void set_timeouts(SmtpClientConn *c, guint seconds)
{
  struct timeval tv = {.tv_sec = seconds};
  bufferevent_set_timeouts(c->bev, &tv, &tv);
}

/* The session is over: tell the owner once (it may free c in the hook). */
static void finish(SmtpClientConn *c)
{
  if (c->closing) return;
  c->closing = TRUE;
  bufferevent_disable(c->bev, EV_READ | EV_WRITE);
  if (c->hooks.closed) c->hooks.closed(c->hooks.arg, c);
}

/* Runs the session on what arrived; closes when it is done. Returns FALSE when c may be gone. */
static gboolean pump(SmtpClientConn *c)
{
  SmtpClientState st = smtp_client_process(c->session);
  if (st == SC_DONE) {
    finish(c);
    return FALSE;
  }
  return TRUE;
}

static void on_read(struct bufferevent *bev, void *arg)
{
  pump(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
  SmtpClientConn *c = arg;
  if (smtp_client_state(c->session) == SC_BODY) pump(c);
}

static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
  SmtpClientConn *c = arg;
  if (what & BEV_EVENT_CONNECTED) {
    const char *detail = NULL;
    gboolean verified = ma_tls_client_verified(bufferevent_openssl_get_ssl(bev), &detail);
    if (c->hooks.trace) {
      SSL *ssl = bufferevent_openssl_get_ssl(bev);
      g_autofree char *text = g_strdup_printf("TLS established with %s (%s, %s); certificate %s%s%s", c->peer,
                                              SSL_get_version(ssl), SSL_get_cipher_name(ssl),
                                              verified ? "verified for " : "NOT verified",
                                              verified ? c->host : detail ? ": " : "", verified ? "" : detail ? detail : "");
      c->hooks.trace(c->hooks.arg, 'T', text);
    }
    set_timeouts(c, c->command_timeout_s);
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    smtp_client_set_buffers(c->session, bufferevent_get_input(bev), bufferevent_get_output(bev));
    if (smtp_client_state(c->session) == SC_TLS) smtp_client_tls_done(c->session, TRUE, verified, detail);
    else smtp_client_tls_implicit(c->session, verified, detail);
    pump(c);
    return;
  }
  char why[256];
  unsigned long e = bufferevent_get_openssl_error(bev);
  if (e) {
    char buf[200];
    ERR_error_string_n(e, buf, sizeof buf);
    g_snprintf(why, sizeof why, "%s", buf);
  } else {
    g_snprintf(why, sizeof why, "%s", what & BEV_EVENT_TIMEOUT ? "time-out" : "connection closed");
  }
  if (smtp_client_state(c->session) == SC_TLS) smtp_client_tls_done(c->session, FALSE, FALSE, why);
  else {
    char text[300];
    g_snprintf(text, sizeof text, "TLS handshake failed: %s", why);
    smtp_client_abort(c->session, text);
  }
  finish(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
  SmtpClientConn *c = arg;
  if (what & BEV_EVENT_CONNECTED) {
    set_timeouts(c, c->connect_timeout_s);
    if (c->hooks.trace) {
      g_autofree char *text = g_strdup_printf("connected to %s", c->peer);
      c->hooks.trace(c->hooks.arg, 'T', text);
    }
    return;
  }
  /* drain what arrived with the close (a final reply, a 421) before judging */
  if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_input(bev)) > 0 && !pump(c)) return;
  char why[300];
  SmtpClientState st = smtp_client_state(c->session);
  if (what & BEV_EVENT_TIMEOUT)
    g_snprintf(why, sizeof why, "time-out waiting for %s in state %s", c->peer, smtp_client_state_name(st));
  else if (st == SC_GREETING && !(what & BEV_EVENT_EOF))
    g_snprintf(why, sizeof why, "connect to %s failed: %s", c->peer,
               evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  else
    g_snprintf(why, sizeof why, "lost connection with %s in state %s", c->peer, smtp_client_state_name(st));
  smtp_client_abort(c->session, why);
  finish(c);
}

static void hook_starttls(void *ctx, SmtpClient *s)
{
  SmtpClientConn *c = ctx;
  SSL *ssl = ma_tls_client_ssl_new(c->ssl_ctx, c->host);
  struct bufferevent *tls =
    ssl ? bufferevent_openssl_filter_new(c->base, c->bev, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE)
        : NULL;
  if (!tls) {
    if (ssl) SSL_free(ssl);
    smtp_client_tls_done(s, FALSE, FALSE, "cannot create the TLS layer");
    return; /* the session is done: the read callback that called us finishes it */
  }
  bufferevent_openssl_set_allow_dirty_shutdown(tls, 1);
  c->bev = tls; /* owns the socket bufferevent now */
  bufferevent_setcb(tls, NULL, NULL, on_tls_event, c);
  set_timeouts(c, c->connect_timeout_s);
  bufferevent_enable(tls, EV_READ | EV_WRITE);
}

static void hook_trace(void *ctx, char direction, const char *text)
{
  SmtpClientConn *c = ctx;
  c->hooks.trace(c->hooks.arg, direction, text);
}

static void on_token(void *arg, const char *token, const char *why)
{
  SmtpClientConn *c = arg;
  c->token_ticket = 0;
  if (c->closing) return;
  smtp_client_token(c->session, token, why);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  pump(c);
}

static void hook_need_token(void *ctx, SmtpClient *s, gboolean force_refresh)
{
  SmtpClientConn *c = ctx;
  if (!c->tokens || !c->token_owner) {
    smtp_client_token(s, NULL, "no token provider for this connection");
    return;
  }
  c->token_ticket = c->tokens->get(c->tokens->ctx, c->token_owner, force_refresh, on_token, c);
}

static void hook_job_done(void *ctx, SmtpClient *s, const SmtpRcptResult *results, guint n)
{
  SmtpClientConn *c = ctx;
  if (c->hooks.job_done) c->hooks.job_done(c->hooks.arg, c, results, n);
}

SmtpClientConn *smtp_client_conn_open(struct event_base *base, const SmtpClientTarget *target,
                                      const SmtpClientConfig *cfg, const SmtpClientJob *first_job,
                                      const SmtpClientConnHooks *hooks, GError **error)
{
  struct sockaddr_storage ss;
  int sslen = sizeof ss;
  g_autofree char *spec = strchr(target->address, ':') ? g_strdup_printf("[%s]:%d", target->address, target->port)
                                                       : g_strdup_printf("%s:%d", target->address, target->port);
  memset(&ss, 0, sizeof ss);
  if (evutil_parse_sockaddr_port(spec, (struct sockaddr *) &ss, &sslen) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s is not an IP address and port", spec);
    return NULL;
  }
  SmtpClientConn *c = g_new0(SmtpClientConn, 1);
  c->base = base;
  c->hooks = *hooks;
  c->ssl_ctx = target->ssl_ctx;
  c->host = g_strdup(target->host ? target->host : target->address);
  c->peer = g_strdup_printf("%s[%s]:%d", c->host, target->address, target->port);
  c->connect_timeout_s = target->connect_timeout_s ? target->connect_timeout_s : 30;
  c->command_timeout_s = target->command_timeout_s ? target->command_timeout_s : 300;
  c->tokens = target->tokens;
  c->token_owner = g_strdup(target->token_owner);
  SmtpClientHooks sh = {.ctx = c, .starttls = hook_starttls, .job_done = hook_job_done, .need_token = hook_need_token,
                        .trace = hooks->trace ? hook_trace : NULL};
  SmtpClientConfig session_cfg = *cfg;
  if (!session_cfg.server_host) {
    session_cfg.server_host = c->host;
    session_cfg.server_port = target->port;
  }
  c->session = smtp_client_new(&session_cfg, &sh);
  if (first_job) smtp_client_start_job(c->session, first_job);
  else smtp_client_quit(c->session);
  if (cfg->implicit_tls) {
    SSL *ssl = ma_tls_client_ssl_new(c->ssl_ctx, c->host);
    c->bev = ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                  BEV_OPT_CLOSE_ON_FREE)
                 : NULL;
    if (c->bev) {
      bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
      bufferevent_setcb(c->bev, NULL, NULL, on_tls_event, c);
    } else if (ssl) {
      SSL_free(ssl);
    }
  } else {
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev) bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
  }
  if (!c->bev) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "cannot create a connection to %s", c->peer);
    smtp_client_free(c->session);
    g_free(c->host);
    g_free(c->peer);
    g_free(c->token_owner);
    g_free(c);
    return NULL;
  }
  smtp_client_set_buffers(c->session, bufferevent_get_input(c->bev), bufferevent_get_output(c->bev));
  bufferevent_setwatermark(c->bev, EV_WRITE, 64 * 1024, 0);
  set_timeouts(c, c->connect_timeout_s);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  if (bufferevent_socket_connect(c->bev, (struct sockaddr *) &ss, sslen) < 0) {
    /* an immediate failure (no route, no descriptors): the caller fails the job itself */
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "connect to %s failed: %s", c->peer,
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    smtp_client_conn_free(c);
    return NULL;
  }
  return c;
}

gboolean smtp_client_conn_ready(const SmtpClientConn *c)
{
  return !c->closing && smtp_client_state(c->session) == SC_READY;
}

void smtp_client_conn_next(SmtpClientConn *c, const SmtpClientJob *job)
{
  smtp_client_start_job(c->session, job);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

void smtp_client_conn_quit(SmtpClientConn *c)
{
  smtp_client_quit(c->session);
  set_timeouts(c, 10);
}

void smtp_client_conn_free(SmtpClientConn *c)
{
  if (!c) return;
  if (c->token_ticket) c->tokens->cancel(c->tokens->ctx, c->token_ticket);
  if (c->bev) bufferevent_free(c->bev);
  smtp_client_free(c->session);
  g_free(c->token_owner);
  g_free(c->host);
  g_free(c->peer);
  g_free(c);
}

const char *smtp_client_conn_peer(const SmtpClientConn *c)
{
  return c->peer;
}

gboolean smtp_client_conn_tls(const SmtpClientConn *c)
{
  return smtp_client_is_tls(c->session);
}

const char *smtp_client_conn_failure(const SmtpClientConn *c, const char **step)
{
  return smtp_client_failure(c->session, step);
}
