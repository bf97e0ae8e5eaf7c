/* relay_probe.c - `mailagent relay test`: one real delivery through an enterprise relay, step by
 * step, with every server reply handed to the caller: DNS (an IP address as is; a name by its MX
 * hosts, else its own address), connect, TLS and the certificate check, AUTH, MAIL, RCPT, DATA,
 * through the same agent/smtp_client session the delivery thread uses (so the test proves what
 * delivery will do). It blocks on its own event loop and synchronous resolver, never on serve's
 * SMTP loop: the CLI runs it, and the API's POST /v1/relays/{id}:test on the API thread (bounded by
 * [queue] connect_timeout and command_timeout). relay_test adds what both share: the default
 * recipient and sender, and the relay marked ok on a pass. An XOAUTH2 relay's token comes from
 * agent/oauth2 through a token provider of this private loop (it may wait here, unlike the
 * delivery thread's oauth2_async), so the session refreshes a refused token once as delivery does.
 * Credentials and tokens never reach the trace (smtp_client redacts them).
 */
#include "relay.h"

#include "agent/dns/dns.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/error.h"
#include "agent/lib/tls.h"
#include "agent/smtp_client/smtp_client_io.h"
#include "agent/tenant/settings.h"

#include <event2/event.h>
#include <gio/gio.h>
#include <string.h>

typedef struct {
  RelayProbeTrace trace;
  void *arg;
  struct event_base *base;
  gboolean done;
  SmtpRcptResult result;
  /* XOAUTH2: the token provider of this private loop (one request at a time: one connection) */
  const RelayProbeEnv *env;
  const MaRelay *relay;
  struct event *token_ev;   /* answers the request on the next loop turn */
  SmtpTokenReady token_ready;
  void *token_arg;
  char *token, *token_why;
} Probe;

static void token_deliver(evutil_socket_t fd, short what, void *arg)
{
  Probe *p = arg;
  p->token_ready(p->token_arg, p->token, p->token_why);
  if (p->token) memset(p->token, 0, strlen(p->token));
  g_clear_pointer(&p->token, g_free);
  g_clear_pointer(&p->token_why, g_free);
}

/* SmtpTokenProvider.get on the probe's own loop: this loop may wait (the test blocks by design), so
 * the token is fetched here, and handed over on the next turn as the asynchronous provider would. */
static guint token_get(void *ctx, const char *owner, gboolean force_refresh, SmtpTokenReady ready, void *arg)
{
  Probe *p = ctx;
  g_assert(p->token == NULL && p->token_why == NULL);
  p->token_ready = ready;
  p->token_arg = arg;
  g_autoptr(GError) error = NULL;
  if (!p->env->oauth2 || !p->env->st) {
    p->token_why = g_strdup("no OAuth2 environment (master key and presets) to get a token");
  } else if (oauth2_access_token(p->env->oauth2, p->env->st, owner, force_refresh, &p->token, &error) < 0) {
    p->token_why = g_strdup(error->message);
    if (g_error_matches(error, MA_ERROR, MA_ERROR_CONFLICT)) {
      g_autoptr(GError) mark = NULL;
      if (relay_oauth2_revoked(p->env->st, p->relay->id, error->message, &mark) < 0)
        p->trace(p->arg, "  ", "the relay could not be marked as needing sign-in (storage)");
    }
  }
  p->trace(p->arg, "  ", p->token ? (force_refresh ? "OAuth2: a fresh access token (refreshed after the refusal)"
                                                   : "OAuth2: an access token from the relay's grant")
                                  : "OAuth2: no access token");
  event_active(p->token_ev, EV_TIMEOUT, 1);
  return 1;
}

static void token_cancel(void *ctx, guint ticket)
{
  Probe *p = ctx;
  event_del(p->token_ev);
  if (p->token) memset(p->token, 0, strlen(p->token));
  g_clear_pointer(&p->token, g_free);
  g_clear_pointer(&p->token_why, g_free);
}

static void on_trace(void *arg, char direction, const char *text)
{
  Probe *p = arg;
  p->trace(p->arg, direction == 'C' ? "C:" : direction == 'S' ? "S:" : "  ", text);
}

static void on_job_done(void *arg, SmtpClientConn *conn, const SmtpRcptResult *results, guint n)
{
  Probe *p = arg;
  if (n > 0) p->result = results[0];
  if (smtp_client_conn_ready(conn)) smtp_client_conn_quit(conn);
}

static void on_closed(void *arg, SmtpClientConn *conn)
{
  Probe *p = arg;
  p->done = TRUE;
  event_base_loopbreak(p->base);
}

/* The address to connect to (newly allocated) and the name the certificate must carry. */
static char *resolve(const MaConfig *cfg, const char *host, char **tls_name, Probe *p, GError **error)
{
  GInetAddress *ip = g_inet_address_new_from_string(host);
  if (ip) {
    g_object_unref(ip);
    p->trace(p->arg, "DNS", "an IP address: no look-up; the certificate must name this address");
    *tls_name = g_strdup(host);
    return g_strdup(host);
  }
  MaDnsOptions opts;
  ma_dns_options_from_config(&opts, cfg);
  MaDnsSync *dns = ma_dns_sync_new(&opts, error);
  if (!dns) return NULL;
  g_autoptr(MaDnsResult) mx = ma_dns_sync_lookup(dns, host, MA_DNS_MX);
  const char *name = host;
  if (mx->status == MA_DNS_OK && mx->n > 0) {
    name = mx->mx[0].exchange;
    g_autofree char *line = g_strdup_printf("MX %s: %s (preference %u)", host, name, mx->mx[0].preference);
    p->trace(p->arg, "DNS", line);
  } else {
    g_autofree char *line = g_strdup_printf("MX %s: %s; using the host's own address", host, ma_dns_status_name(mx->status));
    p->trace(p->arg, "DNS", line);
  }
  g_autoptr(MaDnsResult) a = ma_dns_sync_lookup(dns, name, MA_DNS_A);
  ma_dns_sync_free(dns);
  if (a->status != MA_DNS_OK || a->n == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "DNS: no address for %s (%s)", name, ma_dns_status_name(a->status));
    return NULL;
  }
  char buf[64];
  evutil_inet_ntop(AF_INET, &a->addr[0].addr.v4, buf, sizeof buf);
  g_autofree char *line = g_strdup_printf("A %s: %s", name, buf);
  p->trace(p->arg, "DNS", line);
  *tls_name = g_strdup(name);
  return g_strdup(buf);
}

int relay_probe(const RelayProbeEnv *env, const MaRelay *r, const char *mail_from, const char *rcpt,
                RelayProbeTrace trace, void *arg, char **failure_r, GError **error)
{
  const MaConfig *cfg = env->cfg;
  *failure_r = NULL;
  Probe p = {.trace = trace, .arg = arg, .env = env, .relay = r};
  g_autofree char *password = NULL;
  if (r->auth_enabled && r->password_sealed && !relay_uses_oauth2(r)) {
    guint8 master[32];
    g_autofree char *aad = g_strdup_printf("relay:%s", r->id);
    if (ma_master_key_load(cfg->master_key_file, FALSE, master, error) < 0) return -1;
    password = ma_secret_open(master, aad, r->password_sealed, error);
    memset(master, 0, sizeof master);
    if (!password) return -1;
  }
  g_autofree char *tls_name = NULL;
  g_autofree char *address = resolve(cfg, r->host, &tls_name, &p, error);
  if (!address) return -1;
  SSL_CTX *ssl = ma_tls_client_ctx_new(cfg->tls_ca_file, error);
  if (!ssl) return -1;
  p.base = event_base_new();
  SmtpClientTarget target = {.host = tls_name, .address = address, .port = r->port, .ssl_ctx = ssl,
                             .connect_timeout_s = (guint) cfg->queue_connect_timeout,
                             .command_timeout_s = (guint) cfg->queue_command_timeout};
  SmtpClientConfig sc = {.helo_name = cfg->hostname, .implicit_tls = g_strcmp0(r->security, "implicit") == 0};
  if (smtp_tls_mode_parse(r->tls_mode, &sc.tls_mode) < 0) sc.tls_mode = SMTP_TLS_REQUIRED_VERIFY;
  SmtpTokenProvider tokens = {.ctx = &p, .get = token_get, .cancel = token_cancel};
  g_autofree char *owner = NULL;
  if (relay_uses_oauth2(r)) {
    sc.auth = SMTP_AUTH_XOAUTH2;
    sc.auth_user = r->username;
    sc.server_host = r->host;
    sc.server_port = r->port;
    target.tokens = &tokens;
    target.token_owner = owner = relay_oauth2_owner(r->id);
    p.token_ev = event_new(p.base, -1, 0, token_deliver, &p);
  } else if (r->auth_enabled && password && smtp_auth_mech_parse(r->auth_mechanism, &sc.auth) == 0) {
    sc.auth_user = r->username;
    sc.auth_secret = password;
  }
  char date[40];
  GDateTime *now = g_date_time_new_from_unix_utc(ma_now());
  g_autofree char *d = g_date_time_format(now, "%a, %d %b %Y %H:%M:%S +0000");
  g_date_time_unref(now);
  g_strlcpy(date, d, sizeof date);
  g_autofree char *id = ma_id_new();
  g_autofree char *body = g_strdup_printf("From: <%s>\r\nTo: <%s>\r\nSubject: mailagent relay test: %s\r\nDate: %s\r\n"
                                          "Message-ID: <%s@%s>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                                          "A test of relay %s (%s:%d) by mailagent. Nothing to do.\r\n",
                                          mail_from, rcpt, r->name, date, id, cfg->hostname, r->name, r->host, r->port);
  GBytes *bytes = g_bytes_new(body, strlen(body));
  const char *rcpts[] = {rcpt};
  SmtpClientJob job = {.mail_from = mail_from, .rcpts = rcpts, .n_rcpts = 1, .body = bytes};
  SmtpClientConnHooks hooks = {.arg = &p, .job_done = on_job_done, .closed = on_closed, .trace = on_trace};
  SmtpClientConn *conn = smtp_client_conn_open(p.base, &target, &sc, &job, &hooks, error);
  int rc = -1;
  if (conn) {
    event_base_dispatch(p.base);
    smtp_client_conn_free(conn);
    rc = 0;
    if (p.result.outcome != SMTP_OUTCOME_SENT || !p.done) *failure_r = g_strdup(p.result.reply[0] ? p.result.reply : "no answer");
  }
  if (password) memset(password, 0, strlen(password));
  g_bytes_unref(bytes);
  if (p.token_ev) {
    token_cancel(&p, 0);
    event_free(p.token_ev);
  }
  event_base_free(p.base);
  SSL_CTX_free(ssl);
  return rc;
}

int relay_test(const RelayProbeEnv *env, const MaRelay *r, const char *to, const char *from, RelayProbeTrace trace,
               void *arg, char **failure_r, GError **error)
{
  MaStorage *st = env->st;
  const MaConfig *cfg = env->cfg;
  *failure_r = NULL;
  g_autofree char *admin = NULL;
  if (!to && settings_get(st, cfg, r->enterprise_id, "admin_email", &admin, error) < 0) return -1;
  if (!to) to = admin;
  if (!to || !strchr(to, '@')) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "to: a recipient is needed (or set the admin_email setting)");
    return -1;
  }
  g_autofree char *sender = from ? g_strdup(from)
                            : r->return_path && strchr(r->return_path, '@')
                              ? g_strdup(r->return_path)
                              : g_strdup_printf("postmaster@%s", r->filters->len ? ((MaRelayFilter *) g_ptr_array_index(r->filters, 0))->sender_domain
                                                                                 : cfg->hostname);
  if (relay_probe(env, r, sender, to, trace, arg, failure_r, error) < 0) return -1;
  if (*failure_r) return 0;
  g_autofree char *reason = g_strdup_printf("test passed (to %s)", to);
  return storage_relay_set_status(st, r->enterprise_id, r->id, "ok", ma_now(), reason, 0, error) < 0 ? -1 : 0;
}
