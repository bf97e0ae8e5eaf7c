/* collector_smtp.c - a binding's SMTP side: the client settings for sending through the employee's
 * own mailbox (host, port, implicit TLS or STARTTLS, a verified certificate unless the binding
 * allows an untrusted one, AUTH by password or OAuth2), and the login check run before a binding
 * that may send is saved: DNS, connect, TLS and certificate, EHLO, AUTH, then QUIT - the real
 * SMTP client (agent/smtp_client) on a private event loop.
 *
 * Blocking by design (name resolution, the whole session): it runs where binding runs, in the CLI
 * or on a collector thread, never on an event loop of the daemon. Never puts a secret in an error.
 */
#include "collector.h"

#include "agent/lib/error.h"
#include "agent/lib/tls.h"
#include "agent/smtp_client/smtp_client_io.h"

#include <event2/event.h>
#include <netdb.h>
#include <string.h>

void collector_smtp_client_config(const MaMailbox *m, const char *helo, const char *secret, SmtpClientConfig *out)
{
  g_assert(m->smtp_host);
  *out = (SmtpClientConfig){
    .helo_name = helo,
    .tls_mode = m->allow_untrusted ? SMTP_TLS_REQUIRED : SMTP_TLS_REQUIRED_VERIFY,
    .implicit_tls = g_strcmp0(m->smtp_security, "tls") == 0,
    .auth = g_str_equal(m->auth, "oauth2") ? SMTP_AUTH_XOAUTH2 : SMTP_AUTH_PLAIN,
    .auth_user = m->username,
    .auth_secret = secret,
    .server_host = m->smtp_host,
    .server_port = m->smtp_port,
  };
}

typedef struct {
  struct event_base *base;
  gboolean closed;
  char *step, *why;
} Check;

static void on_closed(void *arg, SmtpClientConn *conn)
{
  Check *k = arg;
  const char *step = NULL;
  const char *why = smtp_client_conn_failure(conn, &step);
  if (why) {
    k->step = g_strdup(step);
    k->why = g_strdup(why);
  }
  k->closed = TRUE;
  event_base_loopbreak(k->base);
}

/* The first IPv4 or IPv6 address of host as text (new string), or NULL with *error. */
static char *resolve(const char *host, GError **error)
{
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "smtp dns: %s: %s", host, gai_strerror(rc));
    return NULL;
  }
  char buf[64] = "";
  const struct addrinfo *pick = res; /* IPv4 first: "localhost" must not land on ::1 when only 127.0.0.1 listens */
  for (const struct addrinfo *a = res; a; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  const void *addr = pick->ai_family == AF_INET6 ? (const void *) &((struct sockaddr_in6 *) pick->ai_addr)->sin6_addr
                                                 : (const void *) &((struct sockaddr_in *) pick->ai_addr)->sin_addr;
  evutil_inet_ntop(pick->ai_family, addr, buf, sizeof buf);
  freeaddrinfo(res);
  return g_strdup(buf);
}

int collector_smtp_verify(const CollectorEnv *env, const MaMailbox *m, const char *secret, GError **error)
{
  if (!m->smtp_host) return 0;
  g_autofree char *address = resolve(m->smtp_host, error);
  if (!address) return -1;
  SSL_CTX *ssl = ma_tls_client_ctx_new(env->cfg->collector_ca_file, error);
  if (!ssl) return -1;
  Check k = {.base = event_base_new()};
  SmtpClientConfig cfg;
  collector_smtp_client_config(m, env->cfg->hostname, secret, &cfg);
  guint timeout = (guint) MAX(env->cfg->collector_timeout, 1);
  SmtpClientTarget target = {.host = m->smtp_host, .address = address, .port = m->smtp_port, .ssl_ctx = ssl,
                             .connect_timeout_s = timeout, .command_timeout_s = timeout};
  SmtpClientConnHooks hooks = {.arg = &k, .closed = on_closed};
  GError *open_error = NULL;
  SmtpClientConn *conn = smtp_client_conn_open(k.base, &target, &cfg, NULL, &hooks, &open_error);
  if (conn) {
    while (!k.closed && event_base_dispatch(k.base) == 0) {
    }
    smtp_client_conn_free(conn);
  }
  event_base_free(k.base);
  SSL_CTX_free(ssl);
  int rc = 0;
  if (open_error) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "smtp connect: %s", open_error->message);
    g_error_free(open_error);
    rc = -1;
  } else if (k.why) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "smtp %s: %s:%d: %s", k.step, m->smtp_host, m->smtp_port, k.why);
    rc = -1;
  }
  g_free(k.step);
  g_free(k.why);
  return rc;
}
