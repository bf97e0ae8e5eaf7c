/* smtp_client.c - the outgoing SMTP session: one state enum, one function that reads replies
 * (smtp_client_process) and dispatches on the state, one place per decision (TLS policy in
 * after_hello, transaction checks in job_begin, outcomes in the reply handlers).
 *
 * Policy, in the order the protocol meets it:
 *   - TLS: off never sends STARTTLS; the other modes send it when offered; the required modes
 *     give up (temporary failure, "TLS required") when it is not offered or refused; the verify
 *     modes give up when the handshake's certificate did not verify. A refused STARTTLS in a
 *     preferred mode continues in plaintext but never authenticates.
 *   - AUTH only over TLS (or in mode off), with the configured mechanism when offered; XOAUTH2
 *     becomes OAUTHBEARER when the server offers that, and a refused token is refreshed once
 *     (need_token with force_refresh) and tried again on the same connection.
 *   - A transaction is pipelined (MAIL, every RCPT and DATA in one write) only when PIPELINING
 *     was offered; otherwise one command per reply. Either way replies are matched in order, so
 *     every recipient keeps its own reply.
 * The session never blocks and never allocates by what the peer says: replies go through the
 * bounded smtp_reply parser, the message is written in slices as the output drains.
 */
#include "smtp_client.h"

#include "agent/oauth2/oauth2.h"

#include <string.h>

#define OUTPUT_HIGH_WATER (256 * 1024) /* stop writing the message while this much is unsent */
#define SLICE (64 * 1024)              /* message octets examined per round */
#define MAX_LINE 998                   /* octets per line without CRLF (RFC 5322 2.1.1) */

struct SmtpClient {
  SmtpClientState state;
  char *helo_name, *auth_user, *auth_secret, *server_host;
  int server_port;
  gboolean token_refreshed;  /* OAuth2: the one forced refresh after a refusal was asked */
  gboolean was_ready;        /* reached SC_READY once: later failures are the job's, not the login's */
  const char *failure_step;  /* static text; set with failure by the first failure before ready */
  char failure[512];
  SmtpTlsMode tls_mode;
  gboolean implicit_tls;
  SmtpAuthMech auth;
  SmtpClientHooks hooks;
  struct evbuffer *in, *out;
  SmtpReplyParser parser;
  SmtpEhloCaps caps;
  gboolean tls, tls_verified, tls_refused, authed, quit_wanted;
  /* the running job */
  gboolean has_job;
  SmtpClientJob job;
  SmtpRcptResult *results;
  gboolean *accepted;        /* RCPT got 2xx in this transaction */
  gboolean *decided;         /* the recipient's outcome is known (its own reply) */
  guint n_accepted;
  guint sent, replied;       /* envelope commands written / replies read: 0 MAIL, 1..n RCPT, n+1 DATA */
  gboolean mail_ok;
  gsize body_off;
  gboolean line_start;
};

static const char *const state_names[SC__COUNT] = {
  [SC_GREETING] = "greeting", [SC_EHLO] = "ehlo",         [SC_HELO] = "helo",
  [SC_STARTTLS] = "starttls", [SC_TLS] = "tls",           [SC_AUTH] = "auth",
  [SC_AUTH_LOGIN_USER] = "auth-login-user", [SC_AUTH_LOGIN_PASS] = "auth-login-pass", [SC_TOKEN] = "token",
  [SC_READY] = "ready",       [SC_ENVELOPE] = "envelope", [SC_BODY] = "body",
  [SC_DOT] = "dot",           [SC_RSET] = "rset",         [SC_QUIT] = "quit",
  [SC_DONE] = "done",
};

const char *smtp_client_state_name(SmtpClientState s)
{
  return s >= 0 && s < SC__COUNT ? state_names[s] : "?";
}

static const char *const tls_mode_names[] = {"off", "preferred", "required", "preferred-verify", "required-verify"};

const char *smtp_tls_mode_name(SmtpTlsMode m)
{
  return tls_mode_names[m];
}

int smtp_tls_mode_parse(const char *name, SmtpTlsMode *out)
{
  for (guint i = 0; i < G_N_ELEMENTS(tls_mode_names); i++)
    if (name && strcmp(name, tls_mode_names[i]) == 0) {
      *out = (SmtpTlsMode) i;
      return 0;
    }
  return -1;
}

static const char *const mech_names[] = {"none", "PLAIN", "LOGIN", "XOAUTH2"};

const char *smtp_auth_mech_name(SmtpAuthMech m)
{
  return mech_names[m];
}

int smtp_auth_mech_parse(const char *name, SmtpAuthMech *out)
{
  for (guint i = 0; i < G_N_ELEMENTS(mech_names); i++)
    if (name && g_ascii_strcasecmp(name, mech_names[i]) == 0) {
      *out = (SmtpAuthMech) i;
      return 0;
    }
  return -1;
}

static gboolean mode_requires_tls(SmtpTlsMode m)
{
  return m == SMTP_TLS_REQUIRED || m == SMTP_TLS_REQUIRED_VERIFY;
}

static gboolean mode_verifies(SmtpTlsMode m)
{
  return m == SMTP_TLS_PREFERRED_VERIFY || m == SMTP_TLS_REQUIRED_VERIFY;
}

SmtpClient *smtp_client_new(const SmtpClientConfig *cfg, const SmtpClientHooks *hooks)
{
  SmtpClient *c = g_new0(SmtpClient, 1);
  c->state = SC_GREETING;
  c->helo_name = g_strdup(cfg->helo_name ? cfg->helo_name : "localhost");
  c->auth_user = g_strdup(cfg->auth_user);
  c->auth_secret = g_strdup(cfg->auth_secret);
  c->server_host = g_strdup(cfg->server_host);
  c->server_port = cfg->server_port;
  c->tls_mode = cfg->tls_mode;
  c->implicit_tls = cfg->implicit_tls;
  c->auth = cfg->auth;
  c->hooks = *hooks;
  smtp_reply_parser_init(&c->parser);
  return c;
}

void smtp_client_free(SmtpClient *c)
{
  if (!c) return;
  g_free(c->helo_name);
  g_free(c->auth_user);
  if (c->auth_secret) memset(c->auth_secret, 0, strlen(c->auth_secret));
  g_free(c->auth_secret);
  g_free(c->server_host);
  g_free(c->results);
  g_free(c->accepted);
  g_free(c->decided);
  g_free(c);
}

void smtp_client_set_buffers(SmtpClient *c, struct evbuffer *in, struct evbuffer *out)
{
  c->in = in;
  c->out = out;
}

SmtpClientState smtp_client_state(const SmtpClient *c)
{
  return c->state;
}

gboolean smtp_client_is_tls(const SmtpClient *c)
{
  return c->tls;
}

const SmtpEhloCaps *smtp_client_caps(const SmtpClient *c)
{
  return &c->caps;
}

/* ---- results ---------------------------------------------------------------------------------- */

static void result_set(SmtpRcptResult *r, SmtpOutcome outcome, gboolean host_level, const char *text)
{
  r->outcome = outcome;
  r->host_level = host_level;
  g_strlcpy(r->reply, text, sizeof r->reply);
  for (char *p = r->reply; *p; p++)
    if ((unsigned char) *p < 0x20) *p = ' ';
}

static SmtpOutcome outcome_of(const SmtpReply *r)
{
  return r->code / 100 == 2 ? SMTP_OUTCOME_SENT : r->code / 100 == 5 ? SMTP_OUTCOME_PERM : SMTP_OUTCOME_TEMP;
}

/* Every undecided recipient (only the accepted ones when accepted_only) gets this outcome, which
 * decides it. */
static void results_fill(SmtpClient *c, SmtpOutcome outcome, gboolean host_level, const char *text,
                         gboolean accepted_only)
{
  for (guint i = 0; i < c->job.n_rcpts; i++) {
    if (c->decided[i] || (accepted_only && !c->accepted[i])) continue;
    result_set(&c->results[i], outcome, host_level, text);
    c->decided[i] = TRUE;
  }
}

/* Hands the results to the owner and forgets the job. */
static void job_finish(SmtpClient *c)
{
  g_assert(c->has_job);
  c->has_job = FALSE;
  SmtpRcptResult *results = c->results;
  guint n = c->job.n_rcpts;
  c->results = NULL;
  g_clear_pointer(&c->accepted, g_free);
  g_clear_pointer(&c->decided, g_free);
  c->hooks.job_done(c->hooks.ctx, c, results, n);
  g_free(results);
}

/* ---- writing ---------------------------------------------------------------------------------- */

static void send_line(SmtpClient *c, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void send_line(SmtpClient *c, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  if (c->hooks.trace) {
    va_list copy;
    va_copy(copy, ap);
    g_autofree char *line = g_strdup_vprintf(fmt, copy);
    va_end(copy);
    /* credentials never reach the trace: "AUTH PLAIN <credentials>", LOGIN's lines "<credentials>" */
    gboolean auth = c->state == SC_AUTH || c->state == SC_AUTH_LOGIN_USER || c->state == SC_AUTH_LOGIN_PASS;
    char *sp = g_str_has_prefix(line, "AUTH ") ? strchr(line + 5, ' ') : NULL;
    g_autofree char *shown = !auth ? g_strdup(line)
                             : g_str_has_prefix(line, "AUTH ") ? g_strdup_printf("%.*s%s", sp ? (int) (sp - line) : (int) strlen(line), line, sp ? " <credentials>" : "")
                                                                 : g_strdup("<credentials>");
    c->hooks.trace(c->hooks.ctx, 'C', shown);
    memset(line, 0, strlen(line));
  }
  evbuffer_add_vprintf(c->out, fmt, ap);
  va_end(ap);
  evbuffer_add(c->out, "\r\n", 2);
}

/* The step a failure in the current state belongs to. */
static const char *state_step(SmtpClientState s)
{
  switch (s) {
  case SC_GREETING: return "greeting";
  case SC_EHLO:
  case SC_HELO: return "ehlo";
  case SC_STARTTLS: return "starttls";
  case SC_TLS: return "tls";
  case SC_AUTH:
  case SC_AUTH_LOGIN_USER:
  case SC_AUTH_LOGIN_PASS:
  case SC_TOKEN: return "auth";
  default: return "session";
  }
}

/* Keeps the first failure before the session was ready (the login check reports it). */
static void failure_note(SmtpClient *c, const char *step, const char *text)
{
  if (c->was_ready || c->failure_step) return;
  c->failure_step = step ? step : state_step(c->state);
  g_strlcpy(c->failure, text, sizeof c->failure);
}

const char *smtp_client_failure(const SmtpClient *c, const char **step)
{
  if (step) *step = c->failure_step;
  return c->failure_step ? c->failure : NULL;
}

static void send_quit(SmtpClient *c)
{
  c->state = SC_QUIT; /* before the line, so the trace does not take it for an AUTH answer */
  send_line(c, "QUIT");
}

/* The session cannot go on: the job's recipients fail with text, then QUIT (or close at once when
 * the connection is not usable any more). */
static void session_fail(SmtpClient *c, SmtpOutcome outcome, const char *text, gboolean connection_usable)
{
  failure_note(c, NULL, text);
  if (c->has_job) {
    results_fill(c, outcome, TRUE, text, FALSE);
    job_finish(c);
  }
  if (connection_usable) send_quit(c);
  else c->state = SC_DONE;
}

static void send_envelope_command(SmtpClient *c, guint k)
{
  if (k == 0) {
    GString *cmd = g_string_new(NULL);
    g_string_printf(cmd, "MAIL FROM:<%s>", c->job.mail_from ? c->job.mail_from : "");
    if (c->caps.size) g_string_append_printf(cmd, " SIZE=%" G_GSIZE_FORMAT, g_bytes_get_size(c->job.body));
    if (c->job.eight_bit) g_string_append(cmd, " BODY=8BITMIME");
    if (c->job.smtputf8) g_string_append(cmd, " SMTPUTF8");
    send_line(c, "%s", cmd->str);
    g_string_free(cmd, TRUE);
  } else if (k <= c->job.n_rcpts) {
    send_line(c, "RCPT TO:<%s>", c->job.rcpts[k - 1]);
  } else {
    send_line(c, "DATA");
  }
  c->sent = k + 1;
}

/* The longest line of body, without its line end (CR, LF or CRLF). */
static gsize longest_line(GBytes *body)
{
  gsize len = 0, run = 0, max = 0;
  const guint8 *p = g_bytes_get_data(body, &len);
  for (gsize i = 0; i < len; i++) {
    if (p[i] == '\r' || p[i] == '\n') run = 0;
    else if (++run > max) max = run;
  }
  return max;
}

/* Starts the job in SC_READY: checks what the server's extensions allow, then MAIL (with RCPT and
 * DATA when pipelining). A job the server cannot take ends at once with a permanent reason. */
static void job_begin(SmtpClient *c)
{
  g_assert(c->state == SC_READY && c->has_job);
  gsize size = g_bytes_get_size(c->job.body);
  char why[256] = "";
  if (c->caps.size && (gint64) size > c->caps.size)
    g_snprintf(why, sizeof why, "552 5.3.4 message size %" G_GSIZE_FORMAT " exceeds the server's limit %" G_GINT64_FORMAT,
               size, c->caps.size);
  else if (c->job.smtputf8 && !c->caps.smtputf8) /* first: such a message is 8-bit too, and this is why */
    g_snprintf(why, sizeof why, "553 5.6.7 the message needs SMTPUTF8, which the server does not offer");
  else if (c->job.eight_bit && !c->caps.eightbitmime)
    g_snprintf(why, sizeof why, "554 5.6.3 the message needs 8BITMIME, which the server does not offer");
  else if (longest_line(c->job.body) > MAX_LINE)
    g_snprintf(why, sizeof why, "554 5.6.0 a line of the message is over %d octets", MAX_LINE);
  if (why[0]) {
    results_fill(c, SMTP_OUTCOME_PERM, FALSE, why, FALSE);
    job_finish(c);
    return;
  }
  c->sent = c->replied = 0;
  c->n_accepted = 0;
  c->mail_ok = FALSE;
  c->state = SC_ENVELOPE;
  if (c->caps.pipelining)
    for (guint k = 0; k <= c->job.n_rcpts + 1; k++) send_envelope_command(c, k);
  else
    send_envelope_command(c, 0);
}

void smtp_client_start_job(SmtpClient *c, const SmtpClientJob *job)
{
  g_assert(!c->has_job && job->n_rcpts > 0 && job->body);
  c->job = *job;
  c->has_job = TRUE;
  c->results = g_new0(SmtpRcptResult, job->n_rcpts);
  c->accepted = g_new0(gboolean, job->n_rcpts);
  c->decided = g_new0(gboolean, job->n_rcpts);
  for (guint i = 0; i < job->n_rcpts; i++)
    result_set(&c->results[i], SMTP_OUTCOME_TEMP, TRUE, "not attempted");
  if (c->state == SC_READY) job_begin(c);
}

void smtp_client_quit(SmtpClient *c)
{
  c->quit_wanted = TRUE;
  if (c->state == SC_READY) send_quit(c);
}

/* Writes the next slices of the message: line ends normalised to CRLF, dot-stuffed, then the end
 * of data. Stops while more than OUTPUT_HIGH_WATER octets wait to be sent. */
static void write_body(SmtpClient *c)
{
  gsize len = 0;
  const guint8 *p = g_bytes_get_data(c->job.body, &len);
  while (c->body_off < len && evbuffer_get_length(c->out) < OUTPUT_HIGH_WATER) {
    gsize end = MIN(len, c->body_off + SLICE);
    gsize i = c->body_off;
    while (i < end) {
      if (c->line_start && p[i] == '.') evbuffer_add(c->out, ".", 1);
      gsize run = i;
      while (run < end && p[run] != '\r' && p[run] != '\n') run++;
      if (run > i) {
        evbuffer_add(c->out, p + i, run - i);
        c->line_start = FALSE;
      }
      if (run == end) {
        i = run;
        break;
      }
      /* CRLF, a bare CR or a bare LF: all leave as CRLF */
      i = run + 1;
      if (p[run] == '\r' && i < len && p[i] == '\n') i++;
      evbuffer_add(c->out, "\r\n", 2);
      c->line_start = TRUE;
    }
    c->body_off = i;
  }
  if (c->body_off < len) return;
  if (!c->line_start) evbuffer_add(c->out, "\r\n", 2);
  evbuffer_add(c->out, ".\r\n", 3);
  c->state = SC_DOT;
}

/* ---- the hello phase -------------------------------------------------------------------------- */

static void send_auth(SmtpClient *c)
{
  c->state = SC_AUTH;
  if (c->auth == SMTP_AUTH_PLAIN) {
    gsize ul = strlen(c->auth_user), pl = strlen(c->auth_secret);
    g_autofree guchar *raw = g_malloc(ul + pl + 2);
    raw[0] = '\0';
    memcpy(raw + 1, c->auth_user, ul);
    raw[ul + 1] = '\0';
    memcpy(raw + ul + 2, c->auth_secret, pl);
    g_autofree char *b64 = g_base64_encode(raw, ul + pl + 2);
    memset(raw, 0, ul + pl + 2);
    send_line(c, "AUTH PLAIN %s", b64);
  } else if (c->auth == SMTP_AUTH_LOGIN) {
    send_line(c, "AUTH LOGIN");
    c->state = SC_AUTH_LOGIN_USER;
  } else if (!c->auth_secret) {
    /* OAuth2 without a token yet: the owner gets one (off the loop) and calls smtp_client_token */
    c->state = SC_TOKEN;
    if (c->hooks.need_token) c->hooks.need_token(c->hooks.ctx, c, c->token_refreshed);
    else smtp_client_token(c, NULL, "no token provider");
  } else if (c->caps.auth_oauthbearer) {
    g_autofree char *b64 = oauth2_sasl_oauthbearer(c->auth_user, c->server_host ? c->server_host : "",
                                                   c->server_port, c->auth_secret);
    send_line(c, "AUTH OAUTHBEARER %s", b64);
    memset(b64, 0, strlen(b64));
  } else {
    g_autofree char *b64 = oauth2_sasl_xoauth2(c->auth_user, c->auth_secret);
    send_line(c, "AUTH XOAUTH2 %s", b64);
    memset(b64, 0, strlen(b64));
  }
}

void smtp_client_token(SmtpClient *c, const char *token, const char *why)
{
  g_assert(c->state == SC_TOKEN);
  if (!token) {
    char text[512];
    g_snprintf(text, sizeof text, "authentication failed: no OAuth2 access token: %s", why ? why : "unknown reason");
    session_fail(c, SMTP_OUTCOME_TEMP, text, TRUE);
    return;
  }
  if (c->auth_secret) memset(c->auth_secret, 0, strlen(c->auth_secret));
  g_free(c->auth_secret);
  c->auth_secret = g_strdup(token);
  send_auth(c);
}

static gboolean mech_offered(const SmtpClient *c)
{
  return (c->auth == SMTP_AUTH_PLAIN && c->caps.auth_plain) || (c->auth == SMTP_AUTH_LOGIN && c->caps.auth_login) ||
         (c->auth == SMTP_AUTH_XOAUTH2 && (c->caps.auth_xoauth2 || c->caps.auth_oauthbearer));
}

static void become_ready(SmtpClient *c)
{
  c->state = SC_READY;
  c->was_ready = TRUE;
  if (c->has_job) job_begin(c);
  else if (c->quit_wanted) send_quit(c);
}

/* After a successful EHLO/HELO: STARTTLS, AUTH, or ready - the TLS and AUTH policy in one place. */
static void after_hello(SmtpClient *c)
{
  if (!c->tls) {
    if (c->tls_mode != SMTP_TLS_OFF && c->caps.starttls && !c->tls_refused) {
      send_line(c, "STARTTLS");
      c->state = SC_STARTTLS;
      return;
    }
    if (mode_requires_tls(c->tls_mode)) {
      failure_note(c, "starttls", c->tls_refused ? "TLS required but the server refused STARTTLS"
                                                 : "TLS required but the server does not offer STARTTLS");
      session_fail(c, SMTP_OUTCOME_TEMP,
                   c->tls_refused ? "TLS required (mode required) but the server refused STARTTLS"
                                  : "TLS required (mode required) but the server does not offer STARTTLS",
                   TRUE);
      return;
    }
  }
  if (c->auth != SMTP_AUTH_NONE && !c->authed) {
    if (!c->tls && c->tls_mode != SMTP_TLS_OFF) {
      failure_note(c, "auth", "authentication needs TLS, which this session does not have");
      session_fail(c, SMTP_OUTCOME_TEMP, "authentication needs TLS, which this session does not have", TRUE);
      return;
    }
    if (!mech_offered(c)) {
      char why[128];
      g_snprintf(why, sizeof why, "the server does not offer AUTH %s", smtp_auth_mech_name(c->auth));
      failure_note(c, "auth", why);
      session_fail(c, SMTP_OUTCOME_TEMP, why, TRUE);
      return;
    }
    send_auth(c);
    return;
  }
  become_ready(c);
}

void smtp_client_tls_done(SmtpClient *c, gboolean ok, gboolean verified, const char *detail)
{
  g_assert(c->state == SC_TLS);
  char why[400];
  if (!ok) {
    g_snprintf(why, sizeof why, "TLS handshake failed: %s", detail ? detail : "unknown reason");
    failure_note(c, "tls", why);
    session_fail(c, SMTP_OUTCOME_TEMP, why, FALSE);
    return;
  }
  c->tls = TRUE;
  c->tls_verified = verified;
  smtp_reply_parser_init(&c->parser);
  memset(&c->caps, 0, sizeof c->caps);
  if (mode_verifies(c->tls_mode) && !verified) {
    g_snprintf(why, sizeof why, "TLS certificate not verified (mode %s): %s", smtp_tls_mode_name(c->tls_mode),
               detail ? detail : "unknown reason");
    failure_note(c, "tls", why);
    session_fail(c, SMTP_OUTCOME_TEMP, why, TRUE);
    return;
  }
  send_line(c, "EHLO %s", c->helo_name);
  c->state = SC_EHLO;
}

void smtp_client_tls_implicit(SmtpClient *c, gboolean verified, const char *detail)
{
  g_assert(c->state == SC_GREETING && c->implicit_tls);
  c->tls = TRUE;
  c->tls_verified = verified;
  if (mode_verifies(c->tls_mode) && !verified) {
    char why[400];
    g_snprintf(why, sizeof why, "TLS certificate not verified (mode %s): %s", smtp_tls_mode_name(c->tls_mode),
               detail ? detail : "unknown reason");
    failure_note(c, "tls", why);
    session_fail(c, SMTP_OUTCOME_TEMP, why, FALSE);
  }
}

void smtp_client_abort(SmtpClient *c, const char *reason)
{
  if (c->state == SC_DONE) return;
  if (c->state == SC_GREETING)
    failure_note(c, g_str_has_prefix(reason, "TLS") ? "tls" : g_str_has_prefix(reason, "connect") ? "connect" : NULL,
                 reason);
  /* undecided recipients, accepted ones included (lost before the final reply: not delivered) */
  session_fail(c, SMTP_OUTCOME_TEMP, reason, FALSE);
}

/* ---- replies ---------------------------------------------------------------------------------- */

static void envelope_done(SmtpClient *c)
{
  /* the transaction was refused before the message: reset it, report once RSET is answered */
  send_line(c, "RSET");
  c->state = SC_RSET;
}

static void on_envelope_reply(SmtpClient *c, const SmtpReply *r, const char *summary)
{
  guint n = c->job.n_rcpts;
  guint k = c->replied++;
  if (k == 0) {
    c->mail_ok = r->code / 100 == 2;
    if (!c->mail_ok) results_fill(c, outcome_of(r), FALSE, summary, FALSE);
  } else if (k <= n) {
    if (c->mail_ok) {
      if (r->code / 100 == 2) {
        c->accepted[k - 1] = TRUE;
        c->n_accepted++;
      } else {
        result_set(&c->results[k - 1], outcome_of(r), FALSE, summary);
        c->decided[k - 1] = TRUE;
      }
    }
  } else {
    /* the reply to DATA */
    if (r->code == 354) {
      c->body_off = 0;
      c->line_start = TRUE;
      if (c->n_accepted == 0) {
        /* pipelined DATA accepted with no recipient (RFC 2920 3.1): end an empty message */
        evbuffer_add(c->out, ".\r\n", 3);
        c->state = SC_DOT;
        return;
      }
      c->state = SC_BODY;
      write_body(c);
      return;
    }
    if (c->mail_ok) results_fill(c, outcome_of(r), FALSE, summary, TRUE);
    envelope_done(c);
    return;
  }
  if (c->replied < c->sent) return; /* pipelined: more replies to come */
  if (c->caps.pipelining) return;    /* (all sent at once; DATA's reply decides) */
  /* one by one: the next command, or stop early */
  if (!c->mail_ok || (k == n && c->n_accepted == 0)) {
    envelope_done(c);
    return;
  }
  send_envelope_command(c, k + 1);
}

static void on_final_reply(SmtpClient *c, const SmtpReply *r, const char *summary)
{
  if (c->n_accepted > 0) results_fill(c, outcome_of(r), FALSE, summary, TRUE);
  c->state = SC_READY;
  job_finish(c);
  if (c->state == SC_READY) {
    if (c->has_job) job_begin(c);
    else if (c->quit_wanted) send_quit(c);
  }
}

static void on_auth_reply(SmtpClient *c, const SmtpReply *r, const char *summary)
{
  if (r->code == 235) {
    c->authed = TRUE;
    become_ready(c);
    return;
  }
  if (r->code == 334 && c->state == SC_AUTH_LOGIN_USER) {
    g_autofree char *b64 = g_base64_encode((const guchar *) c->auth_user, strlen(c->auth_user));
    send_line(c, "%s", b64);
    c->state = SC_AUTH_LOGIN_PASS;
    return;
  }
  if (r->code == 334 && c->state == SC_AUTH_LOGIN_PASS) {
    g_autofree char *b64 = g_base64_encode((const guchar *) c->auth_secret, strlen(c->auth_secret));
    send_line(c, "%s", b64);
    memset(b64, 0, strlen(b64));
    c->state = SC_AUTH;
    return;
  }
  if (r->code == 334) {
    /* XOAUTH2/OAUTHBEARER error challenge (or PLAIN asking again): an empty answer ends the
     * exchange (RFC 7628 3.2.3) */
    send_line(c, "%s", "");
    return;
  }
  if (c->auth == SMTP_AUTH_XOAUTH2 && r->code / 100 == 5 && !c->token_refreshed && c->hooks.need_token) {
    /* the token may have expired or been revoked early: one fresh token, one more try */
    c->token_refreshed = TRUE;
    memset(c->auth_secret, 0, strlen(c->auth_secret));
    g_clear_pointer(&c->auth_secret, g_free);
    send_auth(c);
    return;
  }
  char why[600];
  g_snprintf(why, sizeof why, "authentication failed: %s", summary);
  session_fail(c, SMTP_OUTCOME_TEMP, why, TRUE);
}

/* One complete reply in the current state. */
static void on_reply(SmtpClient *c, const SmtpReply *r)
{
  char summary[512];
  smtp_reply_summary(r, summary, sizeof summary);
  if (c->hooks.trace) c->hooks.trace(c->hooks.ctx, 'S', summary);
  if (r->code == 421 && c->state != SC_QUIT) {
    /* the server is closing the transmission channel, whatever we asked */
    char why[600];
    g_snprintf(why, sizeof why, "server closing: %s", summary);
    session_fail(c, SMTP_OUTCOME_TEMP, why, FALSE);
    return;
  }
  switch (c->state) {
  case SC_GREETING:
    if (r->code != 220) {
      char why[600];
      g_snprintf(why, sizeof why, "host refused to talk: %s", summary);
      session_fail(c, SMTP_OUTCOME_TEMP, why, TRUE);
      return;
    }
    send_line(c, "EHLO %s", c->helo_name);
    c->state = SC_EHLO;
    return;
  case SC_EHLO:
    if (r->code == 250) {
      smtp_reply_ehlo_caps(r, &c->caps);
      after_hello(c);
    } else if (r->code / 100 == 5) {
      memset(&c->caps, 0, sizeof c->caps);
      send_line(c, "HELO %s", c->helo_name);
      c->state = SC_HELO;
    } else {
      session_fail(c, SMTP_OUTCOME_TEMP, summary, TRUE);
    }
    return;
  case SC_HELO:
    if (r->code == 250) after_hello(c);
    else session_fail(c, SMTP_OUTCOME_TEMP, summary, TRUE);
    return;
  case SC_STARTTLS:
    if (r->code == 220) {
      if (evbuffer_get_length(c->in) > 0) {
        session_fail(c, SMTP_OUTCOME_TEMP, "server sent data after its STARTTLS go-ahead (response injection): abandoned",
                     FALSE);
        return;
      }
      c->state = SC_TLS;
      c->hooks.starttls(c->hooks.ctx, c);
      return;
    }
    c->tls_refused = TRUE;
    after_hello(c);
    return;
  case SC_AUTH:
  case SC_AUTH_LOGIN_USER:
  case SC_AUTH_LOGIN_PASS:
    on_auth_reply(c, r, summary);
    return;
  case SC_ENVELOPE:
    on_envelope_reply(c, r, summary);
    return;
  case SC_DOT:
    on_final_reply(c, r, summary);
    return;
  case SC_RSET:
    if (r->code != 250) {
      session_fail(c, SMTP_OUTCOME_TEMP, summary, TRUE);
      return;
    }
    c->state = SC_READY;
    job_finish(c);
    if (c->state == SC_READY) {
      if (c->has_job) job_begin(c);
      else if (c->quit_wanted) send_quit(c);
    }
    return;
  case SC_QUIT:
    c->state = SC_DONE;
    return;
  case SC_BODY: {
    /* a reply while we write the message: the server gave up on it */
    char why[600];
    g_snprintf(why, sizeof why, "server replied during the message: %s", summary);
    results_fill(c, outcome_of(r) == SMTP_OUTCOME_SENT ? SMTP_OUTCOME_TEMP : outcome_of(r), FALSE, why, TRUE);
    session_fail(c, SMTP_OUTCOME_TEMP, why, FALSE);
    return;
  }
  case SC_READY:
  case SC_TLS:
  case SC_TOKEN:
  case SC_DONE:
  case SC__COUNT:
    session_fail(c, SMTP_OUTCOME_TEMP, "unexpected reply from the server", FALSE);
    return;
  }
}

SmtpClientState smtp_client_process(SmtpClient *c)
{
  while (c->state != SC_DONE && c->state != SC_TLS && c->state != SC_TOKEN) {
    if (c->state == SC_BODY) {
      write_body(c);
      if (c->state == SC_BODY && evbuffer_get_length(c->in) == 0) break;
    }
    if (evbuffer_get_length(c->in) == 0) break;
    /* read what is contiguous: at most one reply line's worth past the parser's bound per round */
    struct evbuffer_iovec v;
    if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1) break;
    gsize used = 0;
    const char *err = NULL;
    SmtpReply r;
    int rc = smtp_reply_feed(&c->parser, v.iov_base, v.iov_len, &used, &r, &err);
    evbuffer_drain(c->in, used);
    if (rc < 0) {
      char why[200];
      g_snprintf(why, sizeof why, "protocol error from the server: %s", err);
      session_fail(c, SMTP_OUTCOME_TEMP, why, FALSE);
      break;
    }
    if (rc == 1) on_reply(c, &r);
  }
  return c->state;
}
