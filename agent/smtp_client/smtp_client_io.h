/* smtp_client_io.h - one outgoing SMTP connection on a libevent loop: the socket, time-outs and
 * the TLS handshake (STARTTLS or implicit) around one smtp_client session.
 *
 * It connects to an address (never resolves a name: the caller gives an IP literal, from agent/dns
 * or the configuration), runs the session, and reports each job's per-recipient results and the
 * end of the connection through callbacks on the loop thread. A connection, refused or lost, or a
 * time-out, ends the running job with host-level temporary failures. The TLS name checked is the
 * host given (the relay host as configured, or the MX host name); an IP literal is checked against
 * the certificate's IP addresses.
 */
#ifndef MA_SMTP_CLIENT_IO_H
#define MA_SMTP_CLIENT_IO_H

#include "smtp_client.h"

#include <event2/event.h>
#include <openssl/ssl.h>

typedef struct SmtpClientConn SmtpClientConn;

/* A source of OAuth2 access tokens that never blocks the loop (agent/oauth2's oauth2_async is
 * one): get starts fetching the token of owner (a fresh one when force_refresh) and later calls
 * ready on the loop thread, once, with the token (borrowed for the call) or NULL and why; it
 * returns a ticket (> 0) that cancel withdraws (ready is then never called). */
typedef void (*SmtpTokenReady)(void *arg, const char *token, const char *why);
typedef struct {
  void *ctx;
  guint (*get)(void *ctx, const char *owner, gboolean force_refresh, SmtpTokenReady ready, void *arg);
  void (*cancel)(void *ctx, guint ticket);
} SmtpTokenProvider;

typedef struct {
  const char *host;          /* name for SNI and the certificate check (or the IP literal) */
  const char *address;       /* IP literal to connect to */
  int port;
  SSL_CTX *ssl_ctx;          /* borrowed; from ma_tls_client_ctx_new */
  guint connect_timeout_s;   /* connect + greeting (default 30) */
  guint command_timeout_s;   /* any other reply (default 300) */
  const SmtpTokenProvider *tokens; /* OAuth2 (XOAUTH2 without auth_secret): borrowed, outlives the
                                      connection; NULL otherwise */
  const char *token_owner;   /* the grant's owner for tokens ("mailbox:<id>", "relay:<id>") */
} SmtpClientTarget;

/* job_done: a job's results (valid during the call); the connection is reusable when
 * smtp_client_conn_ready says so: give it the next job or quit. closed: the connection is over;
 * the owner frees it there (or later) with smtp_client_conn_free. */
typedef struct {
  void *arg;
  void (*job_done)(void *arg, SmtpClientConn *conn, const SmtpRcptResult *results, guint n);
  void (*closed)(void *arg, SmtpClientConn *conn);
  /* Optional: the session's trace (smtp_client.h) and the connection's steps ('T': connected, TLS
   * established with its certificate check), for `mailagent relay test`. */
  void (*trace)(void *arg, char direction, const char *text);
} SmtpClientConnHooks;

/* Starts connecting and runs first_job (its strings and body must live until its job_done); with
 * first_job NULL the session only logs in (greeting, EHLO, TLS, AUTH) and quits: a login check,
 * whose verdict smtp_client_conn_failure gives in the closed hook.
 * Strings of target and cfg are copied. Returns NULL with *error when the address is not an IP
 * literal or the socket cannot be created. */
SmtpClientConn *smtp_client_conn_open(struct event_base *base, const SmtpClientTarget *target,
                                      const SmtpClientConfig *cfg, const SmtpClientJob *first_job,
                                      const SmtpClientConnHooks *hooks, GError **error);
/* TRUE when the session waits for a job (after job_done on a healthy connection). */
gboolean smtp_client_conn_ready(const SmtpClientConn *conn);
void smtp_client_conn_next(SmtpClientConn *conn, const SmtpClientJob *job);
/* QUIT, then closed. */
void smtp_client_conn_quit(SmtpClientConn *conn);
/* Closes at once (no callback). Accepts NULL. */
void smtp_client_conn_free(SmtpClientConn *conn);
/* "host:port" for logs. */
const char *smtp_client_conn_peer(const SmtpClientConn *conn);
gboolean smtp_client_conn_tls(const SmtpClientConn *conn);
/* The failure before the session was ready and its step (smtp_client_failure), or NULL. */
const char *smtp_client_conn_failure(const SmtpClientConn *conn, const char **step);

#endif
