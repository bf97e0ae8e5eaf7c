/* smtp_client.h - one outgoing SMTP conversation as an explicit state machine: greeting, EHLO (HELO
 * fallback), STARTTLS by the five TLS modes, AUTH PLAIN/LOGIN/XOAUTH2 (never before TLS unless the
 * mode is off), then any number of transactions (connection reuse), each with MAIL, RCPT per
 * recipient and DATA, pipelined only when the server offers PIPELINING; a reply kept per recipient.
 *
 * OAuth2 (XOAUTH2 configured; OAUTHBEARER, RFC 7628, used instead when the server offers it): the
 * session asks its owner for the access token through the need_token hook when it has none, and
 * once more with force_refresh after the server refused it (the error challenge answered with an
 * empty line first), then authenticates again on the same connection; a second refusal fails.
 *
 * Like the server's session it knows no socket: it reads the server's octets from an input
 * evbuffer and writes commands and the message to an output evbuffer that its owner
 * (smtp_client_io.c, or a unit test) supplies; the TLS handshake and the end of a job go through
 * hooks. Every reply is read by agent/smtp/smtp_reply (bounded lines, line count and text).
 *
 * Hygiene it enforces whatever the message holds: line ends are normalised to CRLF before
 * dot-stuffing, so no bare CR or LF ever leaves (outbound smuggling); a line over 998 octets fails
 * the job instead of being sent; SIZE is checked before MAIL; a message that needs 8BITMIME or
 * SMTPUTF8 is not sent to a server without them (clear reason). A server that sends anything
 * after its STARTTLS go-ahead before the handshake is abandoned (response injection).
 */
#ifndef MA_SMTP_CLIENT_H
#define MA_SMTP_CLIENT_H

#include "agent/smtp/smtp_reply.h"

#include <event2/buffer.h>
#include <glib.h>

/* The five TLS modes (docs/outbound.md maps them to Postfix's smtp_tls_security_level). */
typedef enum {
  SMTP_TLS_OFF,              /* never STARTTLS (Postfix none) */
  SMTP_TLS_PREFERRED,        /* STARTTLS when offered, else plain; downgradable (may) */
  SMTP_TLS_REQUIRED,         /* no TLS, no delivery; certificate not checked (encrypt) */
  SMTP_TLS_PREFERRED_VERIFY, /* when TLS is offered the certificate must verify; else plain */
  SMTP_TLS_REQUIRED_VERIFY,  /* TLS and a verified certificate for the host name (secure/verify) */
} SmtpTlsMode;

/* "off", "preferred", "required", "preferred-verify", "required-verify". */
const char *smtp_tls_mode_name(SmtpTlsMode m);
int smtp_tls_mode_parse(const char *name, SmtpTlsMode *out);

typedef enum { SMTP_AUTH_NONE, SMTP_AUTH_PLAIN, SMTP_AUTH_LOGIN, SMTP_AUTH_XOAUTH2 } SmtpAuthMech;

const char *smtp_auth_mech_name(SmtpAuthMech m);
int smtp_auth_mech_parse(const char *name, SmtpAuthMech *out);

typedef struct {
  const char *helo_name;     /* our name in EHLO/HELO */
  SmtpTlsMode tls_mode;
  gboolean implicit_tls;     /* TLS from the first octet (port 465): the owner handshakes first */
  SmtpAuthMech auth;
  const char *auth_user;     /* with auth */
  const char *auth_secret;   /* password, or the OAuth2 access token for XOAUTH2 (NULL: ask need_token) */
  const char *server_host;   /* the server's name and port, for OAUTHBEARER's host= and port= */
  int server_port;
} SmtpClientConfig;

typedef enum {
  SMTP_OUTCOME_SENT,         /* the server took responsibility (250 after DATA) */
  SMTP_OUTCOME_TEMP,         /* try again later (4xx, lost connection, TLS policy, time-out) */
  SMTP_OUTCOME_PERM,         /* 5xx for this recipient or message: bounce */
} SmtpOutcome;

typedef struct {
  SmtpOutcome outcome;
  gboolean host_level;       /* failed because of the host/connection, not the recipient: another
                                MX host may do better */
  char reply[512];           /* the remote reply ("550 5.1.1 ...") or our reason */
} SmtpRcptResult;

/* One message for one or more recipients over the session. All borrowed from the owner until
 * the job_done hook. */
typedef struct {
  const char *mail_from;     /* "" for <> */
  const char *const *rcpts;
  guint n_rcpts;
  GBytes *body;              /* the message; any line ends */
  gboolean eight_bit;        /* needs BODY=8BITMIME */
  gboolean smtputf8;         /* needs SMTPUTF8 */
} SmtpClientJob;

typedef enum {
  SC_GREETING,   /* connected, waiting for 220 */
  SC_EHLO,       /* EHLO sent */
  SC_HELO,       /* EHLO refused, HELO sent */
  SC_STARTTLS,   /* STARTTLS sent, waiting for 220 */
  SC_TLS,        /* the owner runs the handshake */
  SC_AUTH,       /* AUTH sent, waiting for 235 or 334 */
  SC_AUTH_LOGIN_USER, /* AUTH LOGIN: username sent */
  SC_AUTH_LOGIN_PASS, /* AUTH LOGIN: password sent */
  SC_TOKEN,      /* waiting for the owner's OAuth2 access token (smtp_client_token) */
  SC_READY,      /* session ready, no job: smtp_client_start_job or smtp_client_quit */
  SC_ENVELOPE,   /* MAIL/RCPT/DATA sent (pipelined or one by one), replies awaited */
  SC_BODY,       /* 354 received, message being written */
  SC_DOT,        /* message written, final reply awaited */
  SC_RSET,       /* RSET after a refused transaction */
  SC_QUIT,       /* QUIT sent */
  SC_DONE,       /* finished: the owner closes the connection */
  SC__COUNT
} SmtpClientState;

const char *smtp_client_state_name(SmtpClientState s);

typedef struct SmtpClient SmtpClient;

typedef struct {
  void *ctx;
  /* The state machine wants TLS: start the handshake on the connection (sending SNI and checking
   * the name as configured by the owner), then call smtp_client_tls_done. */
  void (*starttls)(void *ctx, SmtpClient *c);
  /* The job ended: results[i] for rcpts[i] (valid during the call only). The session is then in
   * SC_READY (start another job or quit) or SC_DONE (close). */
  void (*job_done)(void *ctx, SmtpClient *c, const SmtpRcptResult *results, guint n);
  /* OAuth2: get an access token (a fresh one when force_refresh), then call smtp_client_token.
   * May be NULL when auth_secret is always given. */
  void (*need_token)(void *ctx, SmtpClient *c, gboolean force_refresh);
  /* Optional (NULL: none): every command sent ('C'; AUTH credentials replaced by "<credentials>")
   * and every reply received ('S', one line: smtp_reply_summary), for `mailagent relay test`. */
  void (*trace)(void *ctx, char direction, const char *text);
} SmtpClientHooks;

/* A session (cfg's strings are copied). Free with smtp_client_free. */
SmtpClient *smtp_client_new(const SmtpClientConfig *cfg, const SmtpClientHooks *hooks);
void smtp_client_free(SmtpClient *c);

/* The buffers to read from and write to (borrowed; replaced after the TLS handshake). */
void smtp_client_set_buffers(SmtpClient *c, struct evbuffer *in, struct evbuffer *out);

/* The token need_token asked for (copied), or NULL with why it could not be had (the session then
 * fails with the reason). */
void smtp_client_token(SmtpClient *c, const char *token, const char *why);

/* Why the session failed before it was ready (connect, greeting, EHLO, TLS, AUTH), or NULL when it
 * reached SC_READY. *step names it: "connect", "greeting", "ehlo", "starttls", "tls", "auth". For a
 * check without a job (a binding's SMTP login): start no job, call smtp_client_quit. */
const char *smtp_client_failure(const SmtpClient *c, const char **step);

/* The job to run once the session is ready (may be called before the greeting or in SC_READY).
 * The job's strings and body must live until job_done. */
void smtp_client_start_job(SmtpClient *c, const SmtpClientJob *job);
/* No more jobs: QUIT when ready (the owner closes at SC_DONE). */
void smtp_client_quit(SmtpClient *c);

/* Consumes what the input holds and writes what follows. Returns the state afterwards. */
SmtpClientState smtp_client_process(SmtpClient *c);

/* The handshake ended. ok: TLS is up; verified: the certificate chains to a trusted CA and names
 * the host; detail: why not (for the reply kept). */
void smtp_client_tls_done(SmtpClient *c, gboolean ok, gboolean verified, const char *detail);
/* Implicit TLS (port 465): the owner finished the handshake before the greeting. */
void smtp_client_tls_implicit(SmtpClient *c, gboolean verified, const char *detail);

/* The connection failed (refused, closed, time-out): every recipient of the running job gets a
 * host-level temporary failure with reason. Moves to SC_DONE. */
void smtp_client_abort(SmtpClient *c, const char *reason);

SmtpClientState smtp_client_state(const SmtpClient *c);
gboolean smtp_client_is_tls(const SmtpClient *c);
/* What the server offered in its last EHLO reply. */
const SmtpEhloCaps *smtp_client_caps(const SmtpClient *c);

#endif
