/* smtp_session.c - the inbound SMTP state machine (see smtp_session.h).
 *
 * One enum of states, one function that changes state (set_state, which also sets the deadline
 * for the new state), one input function (smtp_session_process) and a commands[] table where
 * each command has a check step (validates and replies on refusal) and a proceed step (acts).
 *
 * Pipelining (RFC 2920) is honoured after EHLO; a command that arrives with more input behind it
 * where that is not allowed (before EHLO, after HELO, behind EHLO or DATA) is a protocol
 * synchronization error: 554 5.5.0 and close (like Postfix's smtpd_forbid_unauth_pipelining).
 * STARTTLS discards whatever plaintext is buffered behind it (CVE-2011-0411) and the session
 * starts again from SMTP_STATE_HELO after the handshake.
 *
 * Message octets go from the decoder into the spool body file as they arrive (spool_body.h: a
 * 64 KiB buffer, page-cache writes); only the header section is read back, at the end of the
 * message, for the forwarder policy. A write error is sticky and answered once at the end (452
 * 4.3.1 for a full disk, else 451 4.3.0); a refused message's file is unlinked.
 *
 * Must never: reply 250 to a message before the spool writer says it is durable; read a line
 * without a bound; let a message end on anything but CRLF.CRLF; hold a message in memory.
 */
#include "smtp_session.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/lib/metrics.h"
#include "agent/mime/mime.h"

#include "smtp_auth.h"

#include <stdarg.h>
#include <string.h>

#define OUTPUT_HIGH (64 * 1024)
#define STORE_FAILED "451 4.3.0 Temporary failure storing the message, try again later"
#define STORE_NO_SPACE "452 4.3.1 Insufficient system storage, try again later"

struct SmtpSession {
  SmtpLimits lim;
  SmtpSessionHooks hooks;
  char client[64];
  SmtpState state;
  struct evbuffer *in, *out;
  gint64 deadline_ms;
  guint errors;
  guint junk;               /* NOOP/VRFY/RSET/HELP/ETRN since the last accepted message */
  gboolean ehlo;            /* EHLO (not HELO): pipelining allowed */
  gboolean tls;
  gboolean shutting_down;
  gboolean discard_line;    /* inside an over-long line */
  char helo[256];
  gboolean authed;          /* submission: AUTH succeeded */
  char *auth_enterprise;    /* ... for this enterprise */
  SmtpSaslMech auth_mech;   /* AUTH in progress (SMTP_STATE_AUTH) */
  char auth_user[SMTP_AUTH_MAX + 1];

  /* transaction */
  gboolean have_mail;
  SmtpPath mail;
  GPtrArray *rcpts;         /* char* addresses as accepted, each once */
  guint rcpt_accepted;      /* RCPT commands accepted, repeats included (the recipient limit) */
  char *enterprise_id;
  gboolean bounce;          /* the recipients are return-path/unsubscribe addresses on bounce_domain */
  FwdDecision decision;     /* envelope judgement at RCPT */
  char *msg_id;             /* spool id of the message being received */
  MaSpoolBody *body;        /* its file, NULL outside DATA/BDAT */
  SmtpDataDecoder *dec;
  SmtpRateMeter rate;       /* octets on the wire, for the data rate */
  gint64 unextended_octets; /* received since the deadline was last extended */
  gint64 bdat_left;         /* octets of the current chunk still to read */
  gboolean bdat_last;
  gboolean bdat_active;     /* a BDAT transfer is under way */
  const char *bdat_refusal; /* chunk being discarded: reply this once it is read */
  SmtpState bdat_prev;      /* state to return to after a discarded chunk */
  gint64 submitted_ms;
  char *spool_client_log;   /* envelope summary for the log line */
};

static const char *const state_names[SMTP_STATE__COUNT] = {
  "greeting", "helo", "idle", "mail", "rcpt", "data", "bdat", "spooling", "tls", "auth", "closing",
};

const char *smtp_state_name(SmtpState st)
{
  return st < SMTP_STATE__COUNT ? state_names[st] : "?";
}

void smtp_limits_defaults(SmtpLimits *lim)
{
  memset(lim, 0, sizeof *lim);
  lim->max_message_size = 52428800;
  lim->max_recipients = 100;
  lim->error_budget = 10;
  lim->junk_command_limit = 100;
  lim->command_timeout_ms = 300000;
  lim->data_timeout_ms = 600000;
  lim->tls_timeout_ms = 30000;
  lim->min_data_rate = 1024;
  lim->rate_grace_ms = 5000;
  lim->rate_window_ms = 10000;
  lim->data.max_size = lim->max_message_size;
  lim->data.max_line = SMTP_MAX_TEXT_LINE;
  lim->data.max_header = 102400;
  lim->data.max_headers = 1000;
}

/* ---- replies and state --------------------------------------------------------------------- */

static void reply(SmtpSession *s, const char *text)
{
  ma_metrics_count_smtp_reply(text);
  evbuffer_add(s->out, text, strlen(text));
  evbuffer_add(s->out, "\r\n", 2);
}

static void replyf(SmtpSession *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void replyf(SmtpSession *s, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  reply(s, text);
}

/* The one place the state changes; sets the deadline for what the new state waits for. */
static void set_state(SmtpSession *s, SmtpState st, gint64 now_ms)
{
  s->state = st;
  switch (st) {
  case SMTP_STATE_DATA:
  case SMTP_STATE_BDAT:
    s->deadline_ms = now_ms + s->lim.data_timeout_ms;
    break;
  case SMTP_STATE_TLS:
    s->deadline_ms = now_ms + s->lim.tls_timeout_ms;
    break;
  case SMTP_STATE_SPOOLING:
  case SMTP_STATE_CLOSING:
    s->deadline_ms = G_MAXINT64;
    break;
  default:
    s->deadline_ms = now_ms + s->lim.command_timeout_ms;
    break;
  }
}

static void transaction_reset(SmtpSession *s)
{
  s->have_mail = FALSE;
  memset(&s->mail, 0, sizeof s->mail);
  g_ptr_array_set_size(s->rcpts, 0);
  s->rcpt_accepted = 0;
  g_clear_pointer(&s->enterprise_id, g_free);
  s->bounce = FALSE;
  forwarder_decision_clear(&s->decision);
  g_clear_pointer(&s->dec, smtp_data_decoder_free);
  g_clear_pointer(&s->body, spool_body_free); /* unlinks the file of a message not handed over */
  g_clear_pointer(&s->msg_id, g_free);
  s->bdat_left = 0;
  s->bdat_last = FALSE;
  s->bdat_active = FALSE;
  s->bdat_refusal = NULL;
}

/* A refusal that costs one unit of the error budget. SMTP_CLOSE when the budget is spent. */
static SmtpAction refuse(SmtpSession *s, const char *text, gint64 now_ms)
{
  reply(s, text);
  if (++s->errors >= s->lim.error_budget) {
    reply(s, "421 4.7.0 Too many errors, closing connection");
    ma_info("smtp", "closing: error budget spent client=%s", s->client);
    set_state(s, SMTP_STATE_CLOSING, now_ms);
    return SMTP_CLOSE;
  }
  return SMTP_CONTINUE;
}

static SmtpAction close_with(SmtpSession *s, const char *text, gint64 now_ms)
{
  reply(s, text);
  set_state(s, SMTP_STATE_CLOSING, now_ms);
  return SMTP_CLOSE;
}


/* ---- lifecycle ------------------------------------------------------------------------------- */

SmtpSession *smtp_session_new(const SmtpLimits *lim, const SmtpSessionHooks *hooks, const char *client_ip,
                              gint64 now_ms)
{
  SmtpSession *s = g_new0(SmtpSession, 1);
  s->lim = *lim;
  s->lim.hostname = g_strdup(lim->hostname ? lim->hostname : "localhost");
  s->lim.inbound_domain = g_strdup(lim->inbound_domain ? lim->inbound_domain : "");
  s->lim.bounce_domain = lim->bounce_domain && *lim->bounce_domain ? g_strdup(lim->bounce_domain) : NULL;
  s->hooks = *hooks;
  g_strlcpy(s->client, client_ip ? client_ip : "unknown", sizeof s->client);
  s->rcpts = g_ptr_array_new_with_free_func(g_free);
  s->tls = lim->implicit_tls;
  set_state(s, SMTP_STATE_GREETING, now_ms);
  return s;
}

void smtp_session_free(SmtpSession *s)
{
  if (!s) return;
  transaction_reset(s);
  g_ptr_array_unref(s->rcpts);
  g_free(s->spool_client_log);
  g_free(s->auth_enterprise);
  g_free(s->lim.hostname);
  g_free(s->lim.inbound_domain);
  g_free(s->lim.bounce_domain);
  g_free(s);
}

void smtp_session_set_buffers(SmtpSession *s, struct evbuffer *in, struct evbuffer *out)
{
  s->in = in;
  s->out = out;
}

SmtpState smtp_session_state(const SmtpSession *s) { return s->state; }
const char *smtp_session_client(const SmtpSession *s) { return s->client; }
gboolean smtp_session_is_tls(const SmtpSession *s) { return s->tls; }

SmtpAction smtp_session_greet(SmtpSession *s, gboolean early_input, gint64 now_ms)
{
  if (early_input || evbuffer_get_length(s->in) > 0) {
    ma_info("smtp", "pipelining before greeting client=%s", s->client);
    return close_with(s, "554 5.5.0 Error: protocol synchronization (client spoke before the greeting)", now_ms);
  }
  replyf(s, "220 %s ESMTP mailagent", s->lim.hostname ? s->lim.hostname : "localhost");
  set_state(s, SMTP_STATE_HELO, now_ms);
  return SMTP_CONTINUE;
}

/* ---- commands ------------------------------------------------------------------------------ */

typedef struct {
  SmtpCmd cmd;
  /* states in which the command is allowed (bit per SmtpState); others get `sequence` */
  guint states;
  const char *sequence;
  /* TRUE: must be the last command of a pipelined group (RFC 2920 3.1) */
  gboolean last_in_group;
  /* validates; on refusal it has replied and returns -1 (or -2 when the session must close) */
  int (*check)(SmtpSession *s, const char *arg, gint64 now_ms);
  SmtpAction (*proceed)(SmtpSession *s, const char *arg, gint64 now_ms);
} SmtpCommand;

#define ST(x) (1u << SMTP_STATE_##x)
#define AFTER_GREETING (ST(HELO) | ST(IDLE) | ST(MAIL) | ST(RCPT))
#define AFTER_HELO (ST(IDLE) | ST(MAIL) | ST(RCPT))

static int check_helo(SmtpSession *s, const char *arg, gint64 now_ms)
{
  if (!arg[0] || strlen(arg) >= sizeof s->helo) {
    refuse(s, "501 5.5.4 Syntax: EHLO hostname", now_ms);
    return -1;
  }
  return 0;
}

static SmtpAction proceed_helo(SmtpSession *s, const char *arg, gint64 now_ms)
{
  transaction_reset(s);
  g_strlcpy(s->helo, arg, sizeof s->helo);
  s->ehlo = FALSE;
  replyf(s, "250 %s", s->lim.hostname ? s->lim.hostname : "localhost");
  set_state(s, SMTP_STATE_IDLE, now_ms);
  return SMTP_CONTINUE;
}

static SmtpAction proceed_ehlo(SmtpSession *s, const char *arg, gint64 now_ms)
{
  transaction_reset(s);
  g_strlcpy(s->helo, arg, sizeof s->helo);
  s->ehlo = TRUE;
  replyf(s, "250-%s", s->lim.hostname ? s->lim.hostname : "localhost");
  reply(s, "250-PIPELINING");
  replyf(s, "250-SIZE %" G_GINT64_FORMAT, s->lim.max_message_size);
  reply(s, "250-8BITMIME");
  reply(s, "250-ENHANCEDSTATUSCODES");
  reply(s, "250-SMTPUTF8");
  if (s->lim.tls_available && !s->tls) reply(s, "250-STARTTLS");
  if (s->lim.submission && (s->tls || s->lim.auth_plaintext) && !s->authed) reply(s, "250-AUTH PLAIN LOGIN");
  reply(s, "250 CHUNKING");
  set_state(s, SMTP_STATE_IDLE, now_ms);
  return SMTP_CONTINUE;
}

static int check_mail(SmtpSession *s, const char *arg, gint64 now_ms)
{
  const char *why = NULL;
  if (s->shutting_down) {
    reply(s, "421 4.3.2 Service shutting down, closing connection");
    set_state(s, SMTP_STATE_CLOSING, now_ms);
    return -2;
  }
  if (s->lim.submission && !s->authed) {
    refuse(s, "530 5.7.0 Authentication required", now_ms);
    return -1;
  }
  if (smtp_parse_mail(arg, &s->mail, &why) < 0) {
    refuse(s, why, now_ms);
    return -1;
  }
  if (s->mail.size > s->lim.max_message_size) {
    refuse(s, "552 5.3.4 Message size exceeds fixed maximum message size", now_ms);
    return -1;
  }
  if (s->mail.body == SMTP_BODY_BINARYMIME) {
    refuse(s, "555 5.5.4 BODY=BINARYMIME is not supported", now_ms);
    return -1;
  }
  if (s->mail.smtputf8 && !s->ehlo) {
    refuse(s, "555 5.5.4 SMTPUTF8 needs EHLO", now_ms);
    return -1;
  }
  if (s->hooks.disk_ok && !s->hooks.disk_ok(s->hooks.ctx)) {
    reply(s, "452 4.3.1 Insufficient system storage, try again later");
    return -1;
  }
  return 0;
}

static SmtpAction proceed_mail(SmtpSession *s, const char *arg, gint64 now_ms)
{
  s->have_mail = TRUE;
  reply(s, "250 2.1.0 Ok");
  set_state(s, SMTP_STATE_MAIL, now_ms);
  return SMTP_CONTINUE;
}

/* RCPT to bounce_domain: only our own tokens, never mixed with the enterprises' addresses. */
static int check_bounce_rcpt(SmtpSession *s, const SmtpPath *path, gint64 now_ms)
{
  if (path->quoted || path->source_route || !s->hooks.bounce_lookup || s->hooks.bounce_lookup(s->hooks.ctx, path->local) != 1) {
    ma_info("smtp", "rcpt refused client=%s to=<%s> reason=\"not a bounce address of ours\"", s->client, path->address);
    refuse(s, "550 5.1.1 Recipient address rejected: no such bounce address here", now_ms);
    return -1;
  }
  if (s->enterprise_id) {
    reply(s, "452 4.5.3 Bounce addresses and other recipients go in separate transactions");
    return -1;
  }
  s->bounce = TRUE;
  char *addr = g_ascii_strdown(path->address, -1);
  gboolean dup = FALSE;
  for (guint i = 0; i < s->rcpts->len; i++) dup |= strcmp(g_ptr_array_index(s->rcpts, i), addr) == 0;
  if (dup) g_free(addr);
  else g_ptr_array_add(s->rcpts, addr);
  s->rcpt_accepted++;
  return 0;
}

static int check_rcpt(SmtpSession *s, const char *arg, gint64 now_ms)
{
  SmtpPath path;
  const char *why = NULL;
  char local[SMTP_MAX_LOCAL + 1];
  g_autofree char *enterprise = NULL;
  g_autoptr(GError) error = NULL;
  int rc;

  if (s->rcpt_accepted >= s->lim.max_recipients) {
    reply(s, "452 4.5.3 Error: too many recipients");
    return -1;
  }
  if (s->lim.submission) {
    /* the authenticated client may send anywhere: any well-formed address, no look-up */
    if (smtp_parse_rcpt(arg, &path, &why) < 0 || !path.domain[0] || path.source_route) {
      refuse(s, why ? why : "501 5.1.3 Error: a recipient address local@domain is required", now_ms);
      return -1;
    }
    gboolean dup = FALSE;
    for (guint i = 0; i < s->rcpts->len; i++) dup |= g_ascii_strcasecmp(g_ptr_array_index(s->rcpts, i), path.address) == 0;
    if (!dup) g_ptr_array_add(s->rcpts, g_strdup(path.address));
    if (!s->enterprise_id) s->enterprise_id = g_strdup(s->auth_enterprise);
    return 0;
  }
  if (s->lim.bounce_domain && smtp_parse_rcpt(arg, &path, &why) == 0 &&
      g_ascii_strcasecmp(path.domain, s->lim.bounce_domain) == 0)
    return check_bounce_rcpt(s, &path, now_ms);
  if (smtp_parse_rcpt(arg, &path, &why) < 0 || smtp_rcpt_local_part(&path, s->lim.inbound_domain, local, &why) < 0) {
    ma_info("smtp", "rcpt refused client=%s reason=\"%s\"", s->client, why);
    refuse(s, why, now_ms);
    return -1;
  }
  rc = s->hooks.rcpt_lookup(s->hooks.ctx, local, &enterprise, &error);
  if (rc < 0) {
    ma_warn("smtp", "recipient look-up failed client=%s: %s", s->client, error->message);
    reply(s, "451 4.3.0 Temporary lookup failure, try again later");
    return -1;
  }
  if (rc == 0) {
    refuse(s, "550 5.1.1 Recipient address rejected: no such virtual address here", now_ms);
    return -1;
  }
  if (s->bounce) {
    reply(s, "452 4.5.3 Bounce addresses and other recipients go in separate transactions");
    return -1;
  }
  if (s->enterprise_id && strcmp(s->enterprise_id, enterprise) != 0) {
    reply(s, "452 4.5.3 One enterprise per transaction; send the other recipients separately");
    return -1;
  }
  if (!s->enterprise_id) {
    /* envelope signals are judged here; headers may still satisfy the policy at end of DATA */
    if (s->hooks.policy(s->hooks.ctx, enterprise, s->client, s->mail.address, NULL, 0, &s->decision, &error) < 0) {
      ma_warn("smtp", "forwarder policy look-up failed client=%s: %s", s->client, error->message);
      forwarder_decision_clear(&s->decision);
      reply(s, "451 4.3.0 Temporary lookup failure, try again later");
      return -1;
    }
    if (!s->decision.satisfied && s->decision.final) { /* the envelope already tells: no DATA */
      g_autofree char *text = g_strdup_printf("550 5.7.1 Recipient refused by the forwarder policy: %s",
                                              s->decision.reason ? s->decision.reason : "unknown forwarder");
      ma_info("smtp", "rcpt refused client=%s from=<%s> result=550 reason=\"%s\"", s->client, s->mail.address,
              s->decision.reason ? s->decision.reason : "");
      forwarder_decision_clear(&s->decision);
      refuse(s, text, now_ms);
      return -1;
    }
    s->enterprise_id = g_steal_pointer(&enterprise);
  }
  {
    char *addr = g_strdup_printf("%s@%s", local, s->lim.inbound_domain);
    gboolean dup = FALSE;
    for (guint i = 0; i < s->rcpts->len; i++) dup |= strcmp(g_ptr_array_index(s->rcpts, i), addr) == 0;
    if (dup) g_free(addr); /* one delivery; the repeat still counts against max_recipients */
    else g_ptr_array_add(s->rcpts, addr);
    s->rcpt_accepted++;
  }
  return 0;
}

static SmtpAction proceed_rcpt(SmtpSession *s, const char *arg, gint64 now_ms)
{
  reply(s, "250 2.1.5 Ok");
  set_state(s, SMTP_STATE_RCPT, now_ms);
  return SMTP_CONTINUE;
}

static void body_sink(void *ctx, const guint8 *p, gsize n)
{
  spool_body_write(ctx, p, n);
}

/* Opens the message's spool file and its decoder. -1 (logged) when the file cannot be made. */
static int begin_message(SmtpSession *s, gboolean dot_mode, gint64 now_ms)
{
  SmtpDataLimits dl = s->lim.data;
  g_autoptr(GError) error = NULL;
  dl.max_size = s->lim.max_message_size;
  g_assert(s->body == NULL && s->dec == NULL);
  s->msg_id = ma_id_new();
  if (s->hooks.body_new(s->hooks.ctx, s->msg_id, &s->body, &error) < 0) {
    ma_warn("smtp", "cannot start a spool file client=%s: %s", s->client, error->message);
    g_clear_pointer(&s->msg_id, g_free);
    return -1;
  }
  s->dec = smtp_data_decoder_new_sink(&dl, dot_mode, body_sink, s->body);
  smtp_rate_start(&s->rate, now_ms);
  s->unextended_octets = 0;
  return 0;
}

static int check_data(SmtpSession *s, const char *arg, gint64 now_ms)
{
  if (arg[0]) {
    refuse(s, "501 5.5.4 Syntax: DATA", now_ms);
    return -1;
  }
  if (s->state == SMTP_STATE_MAIL) {
    refuse(s, "554 5.5.1 Error: no valid recipients", now_ms);
    return -1;
  }
  if (s->bdat_active) {
    refuse(s, "503 5.5.1 Error: DATA during a BDAT transfer", now_ms);
    return -1;
  }
  return 0;
}

static SmtpAction proceed_data(SmtpSession *s, const char *arg, gint64 now_ms)
{
  if (begin_message(s, TRUE, now_ms) < 0) {
    reply(s, STORE_FAILED);
    return SMTP_CONTINUE;
  }
  reply(s, "354 End data with <CR><LF>.<CR><LF>");
  set_state(s, SMTP_STATE_DATA, now_ms);
  return SMTP_CONTINUE;
}

/* BDAT is checked after its size is known: a refused chunk is still read (and dropped) so that
 * its octets are never taken for commands. */
static int check_bdat(SmtpSession *s, const char *arg, gint64 now_ms)
{
  g_auto(GStrv) words = g_strsplit(arg, " ", -1);
  guint n = g_strv_length(words);
  gint64 size = -1;

  if (n >= 1 && words[0][0] && strlen(words[0]) <= 18 && strspn(words[0], "0123456789") == strlen(words[0]))
    size = g_ascii_strtoll(words[0], NULL, 10);
  if (size < 0 || n > 2 || (n == 2 && g_ascii_strcasecmp(words[1], "LAST") != 0)) {
    /* the chunk length is unknown, so its octets cannot be skipped: the stream is lost */
    reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
    reply(s, "421 4.5.0 Closing connection: cannot resynchronise after a bad BDAT");
    set_state(s, SMTP_STATE_CLOSING, now_ms);
    return -2;
  }
  s->bdat_left = size;
  s->bdat_last = n == 2;
  s->bdat_refusal = NULL;
  if (!s->ehlo) s->bdat_refusal = "503 5.5.1 Error: BDAT needs EHLO (CHUNKING)";
  else if (s->state == SMTP_STATE_HELO || s->state == SMTP_STATE_IDLE) s->bdat_refusal = "503 5.5.1 Error: need MAIL command";
  else if (s->state == SMTP_STATE_MAIL) s->bdat_refusal = "554 5.5.1 Error: no valid recipients";
  if (s->bdat_refusal) {
    s->bdat_prev = s->state;
    set_state(s, SMTP_STATE_BDAT, now_ms);
    return -1;
  }
  return 0;
}

static SmtpAction proceed_bdat(SmtpSession *s, const char *arg, gint64 now_ms)
{
  if (!s->bdat_active) {
    if (begin_message(s, FALSE, now_ms) < 0) { /* the chunk is still read, then refused */
      s->bdat_refusal = STORE_FAILED;
      s->bdat_prev = s->state;
      set_state(s, SMTP_STATE_BDAT, now_ms);
      return SMTP_CONTINUE;
    }
    s->bdat_active = TRUE;
  }
  set_state(s, SMTP_STATE_BDAT, now_ms);
  return SMTP_CONTINUE;
}

/* The check of NOOP, VRFY, RSET, HELP and ETRN, commands that move no mail (as Postfix's
 * smtpd_junk_command_limit): past junk_command_limit of them since the last accepted message the
 * session ends with 421. */
static int check_junk(SmtpSession *s, const char *arg, gint64 now_ms)
{
  if (s->lim.junk_command_limit == 0 || ++s->junk <= s->lim.junk_command_limit) return 0;
  ma_info("smtp", "closing: %u commands without progress client=%s", s->junk - 1, s->client);
  close_with(s, "421 4.7.0 Too many commands without progress, closing connection", now_ms);
  return -2;
}

static SmtpAction proceed_rset(SmtpSession *s, const char *arg, gint64 now_ms)
{
  transaction_reset(s);
  reply(s, "250 2.0.0 Ok");
  set_state(s, s->state == SMTP_STATE_HELO ? SMTP_STATE_HELO : SMTP_STATE_IDLE, now_ms);
  return SMTP_CONTINUE;
}

static SmtpAction proceed_noop(SmtpSession *s, const char *arg, gint64 now_ms)
{
  reply(s, "250 2.0.0 Ok");
  set_state(s, s->state, now_ms);
  return SMTP_CONTINUE;
}

static SmtpAction proceed_quit(SmtpSession *s, const char *arg, gint64 now_ms)
{
  return close_with(s, "221 2.0.0 Bye", now_ms);
}

static SmtpAction proceed_help(SmtpSession *s, const char *arg, gint64 now_ms)
{
  reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS");
  return SMTP_CONTINUE;
}

static SmtpAction proceed_vrfy(SmtpSession *s, const char *arg, gint64 now_ms)
{
  reply(s, "252 2.0.0 Cannot VRFY user, but will accept message for valid recipients");
  return SMTP_CONTINUE;
}

/* RFC 1985: nothing is queued here for anyone to release. */
static SmtpAction proceed_etrn(SmtpSession *s, const char *arg, gint64 now_ms)
{
  reply(s, "458 4.7.0 Unable to queue messages: ETRN is not offered");
  return SMTP_CONTINUE;
}

static int check_starttls(SmtpSession *s, const char *arg, gint64 now_ms)
{
  if (!s->lim.tls_available || !s->hooks.starttls) {
    refuse(s, "454 4.7.0 TLS not available", now_ms);
    return -1;
  }
  if (s->tls) {
    refuse(s, "503 5.5.1 Error: TLS already active", now_ms);
    return -1;
  }
  if (arg[0]) {
    refuse(s, "501 5.5.4 Syntax: STARTTLS", now_ms);
    return -1;
  }
  return 0;
}

static SmtpAction proceed_starttls(SmtpSession *s, const char *arg, gint64 now_ms)
{
  gsize pending = evbuffer_get_length(s->in);
  if (pending) {
    /* plaintext sent behind STARTTLS must never be read as if it came through TLS */
    ma_info("smtp", "discarding %zu octets pipelined after STARTTLS client=%s", pending, s->client);
    evbuffer_drain(s->in, pending);
  }
  transaction_reset(s);
  reply(s, "220 2.0.0 Ready to start TLS");
  set_state(s, SMTP_STATE_TLS, now_ms);
  s->hooks.starttls(s->hooks.ctx, s);
  return SMTP_CONTINUE;
}

static int check_auth(SmtpSession *s, const char *arg, gint64 now_ms)
{
  const char *initial;
  if (!s->lim.submission || !s->hooks.auth) {
    refuse(s, "503 5.5.1 Error: authentication not enabled", now_ms);
    return -1;
  }
  if (s->authed) {
    refuse(s, "503 5.5.1 Error: already authenticated", now_ms);
    return -1;
  }
  if (!s->tls && !s->lim.auth_plaintext) {
    /* never a password in plaintext: STARTTLS first (RFC 4954 4, 538) */
    refuse(s, "538 5.7.11 Encryption required for requested authentication mechanism", now_ms);
    return -1;
  }
  if (smtp_auth_mechanism(arg, &initial) == SMTP_SASL_UNKNOWN) {
    refuse(s, "504 5.5.4 Unrecognized authentication type", now_ms);
    return -1;
  }
  return 0;
}

/* Checks the credentials with the hook and answers 235, 535 or 454. */
static SmtpAction auth_verify(SmtpSession *s, const char *user, char *password, gint64 now_ms)
{
  g_autoptr(GError) error = NULL;
  char *enterprise = NULL;
  int rc = s->hooks.auth(s->hooks.ctx, user, password, &enterprise, &error);
  memset(password, 0, strlen(password));
  set_state(s, SMTP_STATE_IDLE, now_ms);
  if (rc < 0) {
    ma_warn("smtp", "authentication look-up failed client=%s: %s", s->client, error->message);
    reply(s, "454 4.7.0 Temporary authentication failure");
    return SMTP_CONTINUE;
  }
  if (rc == 0) {
    ma_info("smtp", "authentication failed client=%s user=%s", s->client, user);
    return refuse(s, "535 5.7.8 Authentication credentials invalid", now_ms);
  }
  s->authed = TRUE;
  g_free(s->auth_enterprise);
  s->auth_enterprise = enterprise;
  ma_info("smtp", "authenticated client=%s user=%s", s->client, user);
  reply(s, "235 2.7.0 Authentication successful");
  return SMTP_CONTINUE;
}

static SmtpAction proceed_auth(SmtpSession *s, const char *arg, gint64 now_ms)
{
  const char *initial, *why = NULL;
  char user[SMTP_AUTH_MAX + 1], password[SMTP_AUTH_MAX + 1];
  s->auth_mech = smtp_auth_mechanism(arg, &initial);
  s->auth_user[0] = '\0';
  if (s->auth_mech == SMTP_SASL_PLAIN && *initial) {
    if (smtp_auth_decode_plain(initial, user, password, &why) < 0) return refuse(s, why, now_ms);
    return auth_verify(s, user, password, now_ms);
  }
  if (s->auth_mech == SMTP_SASL_LOGIN && *initial) {
    if (smtp_auth_decode_line(initial, s->auth_user, &why) < 0) return refuse(s, why, now_ms);
    reply(s, "334 UGFzc3dvcmQ6"); /* "Password:" */
  } else {
    reply(s, s->auth_mech == SMTP_SASL_PLAIN ? "334 " : "334 VXNlcm5hbWU6"); /* "Username:" */
  }
  set_state(s, SMTP_STATE_AUTH, now_ms);
  return SMTP_CONTINUE;
}

/* A response line while AUTH runs. */
static SmtpAction auth_continue(SmtpSession *s, const char *line, gint64 now_ms)
{
  const char *why = NULL;
  char user[SMTP_AUTH_MAX + 1], password[SMTP_AUTH_MAX + 1];
  if (strcmp(line, "*") == 0) {
    set_state(s, SMTP_STATE_IDLE, now_ms);
    return refuse(s, "501 5.0.0 Authentication cancelled", now_ms);
  }
  if (s->auth_mech == SMTP_SASL_PLAIN) {
    if (smtp_auth_decode_plain(line, user, password, &why) < 0) goto bad;
    return auth_verify(s, user, password, now_ms);
  }
  if (!s->auth_user[0]) {
    if (smtp_auth_decode_line(line, s->auth_user, &why) < 0 || !s->auth_user[0]) goto bad;
    reply(s, "334 UGFzc3dvcmQ6");
    return SMTP_CONTINUE;
  }
  if (smtp_auth_decode_line(line, password, &why) < 0) goto bad;
  return auth_verify(s, s->auth_user, password, now_ms);
bad:
  set_state(s, SMTP_STATE_IDLE, now_ms);
  return refuse(s, why ? why : "501 5.5.2 Error: malformed authentication response", now_ms);
}

static int check_refuse_expn(SmtpSession *s, const char *arg, gint64 now_ms)
{
  refuse(s, "502 5.5.1 EXPN not available", now_ms);
  return -1;
}

static const SmtpCommand commands[] = {
  {SMTP_CMD_EHLO, AFTER_GREETING, NULL, TRUE, check_helo, proceed_ehlo},
  {SMTP_CMD_HELO, AFTER_GREETING, NULL, TRUE, check_helo, proceed_helo},
  {SMTP_CMD_MAIL, ST(IDLE), NULL, FALSE, check_mail, proceed_mail},
  {SMTP_CMD_RCPT, ST(MAIL) | ST(RCPT), "503 5.5.1 Error: need MAIL command", FALSE, check_rcpt, proceed_rcpt},
  {SMTP_CMD_DATA, ST(MAIL) | ST(RCPT), "503 5.5.1 Error: need RCPT command", TRUE, check_data, proceed_data},
  {SMTP_CMD_BDAT, AFTER_GREETING, NULL, FALSE, check_bdat, proceed_bdat},
  {SMTP_CMD_RSET, AFTER_GREETING, NULL, FALSE, check_junk, proceed_rset},
  {SMTP_CMD_NOOP, AFTER_GREETING, NULL, FALSE, check_junk, proceed_noop},
  {SMTP_CMD_QUIT, AFTER_GREETING, NULL, FALSE, NULL, proceed_quit},
  {SMTP_CMD_HELP, AFTER_GREETING, NULL, FALSE, check_junk, proceed_help},
  {SMTP_CMD_VRFY, AFTER_GREETING, NULL, FALSE, check_junk, proceed_vrfy},
  {SMTP_CMD_ETRN, AFTER_GREETING, NULL, FALSE, check_junk, proceed_etrn},
  {SMTP_CMD_EXPN, AFTER_GREETING, NULL, FALSE, check_refuse_expn, NULL},
  {SMTP_CMD_STARTTLS, ST(IDLE), "503 5.5.1 Error: send EHLO first, outside a transaction", FALSE, check_starttls,
   proceed_starttls},
  {SMTP_CMD_AUTH, ST(IDLE), "503 5.5.1 Error: AUTH outside a transaction, after EHLO", TRUE, check_auth, proceed_auth},
};

static const SmtpCommand *command_lookup(SmtpCmd cmd)
{
  for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
    if (commands[i].cmd == cmd) return &commands[i];
  return NULL;
}

/* Runs one command line (NUL-terminated, CRLF removed). more: input is buffered behind it. */
static SmtpAction dispatch(SmtpSession *s, const char *line, gsize len, gboolean more, gint64 now_ms)
{
  const char *arg;
  gboolean bad;
  if (s->state == SMTP_STATE_AUTH) return auth_continue(s, line, now_ms);
  SmtpCmd cmd = smtp_parse_command(line, len, &arg, &bad);
  const SmtpCommand *c = command_lookup(cmd);
  int rc;

  /* RFC 2920: pipelining only after EHLO, and never behind a command that must end a group */
  if (more && cmd != SMTP_CMD_BDAT && cmd != SMTP_CMD_QUIT && cmd != SMTP_CMD_STARTTLS &&
      (!s->ehlo || s->state == SMTP_STATE_HELO || (c && c->last_in_group))) {
    ma_info("smtp", "improper command pipelining after %s client=%s", smtp_cmd_name(cmd), s->client);
    return close_with(s, "554 5.5.0 Error: protocol synchronization", now_ms);
  }
  if (bad) return refuse(s, "500 5.5.2 Error: bad syntax (control characters in command)", now_ms);
  if (!c) return refuse(s, "500 5.5.2 Error: command not recognized", now_ms);
  if (len > SMTP_MAX_COMMAND - 2 && cmd != SMTP_CMD_BDAT)
    return refuse(s, "500 5.5.2 Error: command line too long", now_ms);
  if (!(c->states & (1u << s->state))) {
    if (s->state == SMTP_STATE_HELO) return refuse(s, "503 5.5.1 Error: send HELO/EHLO first", now_ms);
    if (cmd == SMTP_CMD_MAIL) return refuse(s, "503 5.5.1 Error: nested MAIL command", now_ms);
    if (s->state == SMTP_STATE_IDLE) return refuse(s, "503 5.5.1 Error: need MAIL command", now_ms);
    return refuse(s, c->sequence ? c->sequence : "503 5.5.1 Error: bad sequence of commands", now_ms);
  }
  if (s->bdat_active && cmd != SMTP_CMD_BDAT && cmd != SMTP_CMD_RSET && cmd != SMTP_CMD_QUIT &&
      cmd != SMTP_CMD_NOOP && cmd != SMTP_CMD_EHLO && cmd != SMTP_CMD_HELO)
    return refuse(s, "503 5.5.1 Error: only BDAT may follow BDAT", now_ms);
  if (c->check) {
    rc = c->check(s, arg, now_ms);
    if (rc == -2 || s->state == SMTP_STATE_CLOSING) return SMTP_CLOSE;
    if (rc < 0) return SMTP_CONTINUE;
  }
  return c->proceed(s, arg, now_ms);
}

/* ---- end of message ---------------------------------------------------------------------- */

static void log_envelope(SmtpSession *s, GString *g)
{
  g_string_append_printf(g, "client=%s from=<%s> rcpts=", s->client, s->mail.address);
  for (guint i = 0; i < s->rcpts->len; i++)
    g_string_append_printf(g, "%s%s", i ? "," : "", (const char *) g_ptr_array_index(s->rcpts, i));
}

/* The message is complete: judge it and hand it to the spool, or refuse it. */
static SmtpAction finish_message(SmtpSession *s, gint64 now_ms)
{
  SmtpDataError err = smtp_data_decoder_error(s->dec);
  gint64 size = smtp_data_decoder_size(s->dec);
  g_autoptr(GString) env = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  MaSpoolEntry *e;

  log_envelope(s, env);
  if (err != SMTP_DATA_OK) {
    const char *text = smtp_data_error_reply(err);
    ma_info("smtp", "message refused %s size=%" G_GINT64_FORMAT " result=\"%.3s\" reason=\"%s\"", env->str, size,
            text, text + 4);
    transaction_reset(s);
    set_state(s, SMTP_STATE_IDLE, now_ms);
    return refuse(s, text, now_ms);
  }
  /* the header section, read back from the file: the start check and the forwarder policy judge
   * it (bounded by the decoder's header limits, and freed before the hand-over) */
  g_autoptr(GBytes) head = NULL;
  gsize head_len = 0;
  const guint8 *head_data = (const guint8 *) "";
  if (spool_body_flush(s->body, &error) < 0 ||
      spool_body_read_head(s->body, (gsize) smtp_data_decoder_header_size(s->dec), &head, &error) < 0) {
    const char *text = spool_body_no_space(s->body) ? STORE_NO_SPACE : STORE_FAILED;
    ma_warn("smtp", "message not stored %s size=%" G_GINT64_FORMAT ": %s", env->str, size, error->message);
    reply(s, text);
    transaction_reset(s);
    set_state(s, SMTP_STATE_IDLE, now_ms);
    return SMTP_CONTINUE;
  }
  if (g_bytes_get_size(head) > 0) head_data = g_bytes_get_data(head, &head_len);
  /* mail the archive could never parse is refused now, not acknowledged and then kept unparsed */
  const char *unparseable = mime_header_start_problem(head_data, head_len);
  if (unparseable) {
    g_autofree char *text = g_strdup_printf("554 5.6.0 Message refused: %s", unparseable);
    ma_info("smtp", "message refused %s size=%" G_GINT64_FORMAT " result=554 reason=\"%s\"", env->str, size,
            unparseable);
    transaction_reset(s);
    set_state(s, SMTP_STATE_IDLE, now_ms);
    return refuse(s, text, now_ms);
  }
  if (!s->lim.submission && !s->bounce && (!s->decision.satisfied || !s->decision.employee_id)) {
    FwdDecision d = {0};
    int rc = s->hooks.policy(s->hooks.ctx, s->enterprise_id, s->client, s->mail.address, head_data, head_len, &d,
                             &error);
    if (rc < 0) {
      ma_warn("smtp", "forwarder policy look-up failed %s: %s", env->str, error->message);
      reply(s, "451 4.3.0 Temporary lookup failure, try again later");
      transaction_reset(s);
      set_state(s, SMTP_STATE_IDLE, now_ms);
      return SMTP_CONTINUE;
    }
    if (d.satisfied || !s->decision.satisfied) {
      forwarder_decision_clear(&s->decision);
      s->decision = d;
    } else {
      forwarder_decision_clear(&d);
    }
  }
  if (!s->lim.submission && !s->bounce && !s->decision.satisfied) {
    g_autofree char *text = g_strdup_printf("550 5.7.1 Message refused by the forwarder policy: %s",
                                            s->decision.reason ? s->decision.reason : "not forwarded by the enterprise");
    ma_info("smtp", "message refused %s size=%" G_GINT64_FORMAT " result=550 reason=\"%s\"", env->str, size,
            s->decision.reason ? s->decision.reason : "");
    transaction_reset(s);
    set_state(s, SMTP_STATE_IDLE, now_ms);
    return refuse(s, text, now_ms);
  }

  e = ma_spool_entry_new();
  e->id = g_steal_pointer(&s->msg_id);
  e->enterprise_id = g_strdup(s->enterprise_id);
  e->route = g_strdup(s->lim.submission ? "submission" : s->bounce ? "bounce" : "smtp");
  e->client = g_strdup(s->client);
  e->helo = g_strdup(s->helo);
  e->mail_from = g_strdup(s->mail.address);
  if (!e->rcpts) e->rcpts = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < s->rcpts->len; i++) g_ptr_array_add(e->rcpts, g_strdup(g_ptr_array_index(s->rcpts, i)));
  e->employee_id = g_strdup(s->decision.employee_id);
  e->signal = g_strdup(s->decision.signal);
  e->received_at = ma_now();
  e->body = g_steal_pointer(&s->body);
  g_free(s->spool_client_log);
  s->spool_client_log = g_strdup_printf("%s size=%" G_GINT64_FORMAT " employee=%s signal=%s", env->str, size,
                                        e->employee_id ? e->employee_id : "-", e->signal ? e->signal : "-");
  s->submitted_ms = now_ms;
  transaction_reset(s);
  set_state(s, SMTP_STATE_SPOOLING, now_ms);
  s->hooks.submit(s->hooks.ctx, s, e);
  return SMTP_CONTINUE;
}

void smtp_session_spooled(SmtpSession *s, gboolean ok, const char *spool_id, gint64 now_ms)
{
  if (s->state != SMTP_STATE_SPOOLING) return;
  if (ok) s->junk = 0; /* progress */
  if (ok) replyf(s, "250 2.0.0 Ok: queued as %s", spool_id);
  else reply(s, "451 4.3.0 Temporary failure storing the message, try again later");
  ma_info("smtp", "message spool_id=%s %s result=%s ack_ms=%" G_GINT64_FORMAT, spool_id, s->spool_client_log,
          ok ? "250" : "451", now_ms - s->submitted_ms);
  set_state(s, SMTP_STATE_IDLE, now_ms);
}

void smtp_session_finished(SmtpSession *s, const char *reply_text, gint64 now_ms)
{
  if (s->state != SMTP_STATE_SPOOLING) return;
  reply(s, reply_text);
  ma_info("smtp", "message %s result=%.3s ack_ms=%" G_GINT64_FORMAT, s->spool_client_log, reply_text,
          now_ms - s->submitted_ms);
  set_state(s, SMTP_STATE_IDLE, now_ms);
}

/* ---- input --------------------------------------------------------------------------------- */

/* Counts n octets of message transfer: the rate window, and the deadline once enough arrived (a
 * trickle of single octets never extends it). */
static void count_transfer(SmtpSession *s, gsize n, gint64 now_ms)
{
  smtp_rate_count(&s->rate, n, now_ms);
  s->unextended_octets += (gint64) n;
  if (s->unextended_octets >= SMTP_DATA_PROGRESS) {
    s->unextended_octets = 0;
    s->deadline_ms = now_ms + s->lim.data_timeout_ms;
  }
}

/* Feeds buffered DATA octets to the decoder. */
static SmtpAction process_data(SmtpSession *s, gint64 now_ms, gboolean *progress)
{
  struct evbuffer_iovec v[8];
  int n = evbuffer_peek(s->in, -1, NULL, v, G_N_ELEMENTS(v));
  gsize used_total = 0;
  int done = 0;

  for (int i = 0; i < n && i < (int) G_N_ELEMENTS(v) && !done; i++) {
    gsize used = 0;
    done = smtp_data_decoder_feed(s->dec, v[i].iov_base, v[i].iov_len, &used);
    used_total += used;
  }
  if (used_total == 0) return SMTP_CONTINUE;
  *progress = TRUE;
  evbuffer_drain(s->in, used_total);
  count_transfer(s, used_total, now_ms);
  if (done) return finish_message(s, now_ms);
  return SMTP_CONTINUE;
}

/* Reads the octets of the current BDAT chunk. */
static SmtpAction process_bdat(SmtpSession *s, gint64 now_ms, gboolean *progress)
{
  while (s->bdat_left > 0) {
    struct evbuffer_iovec v;
    gsize take, used;
    if (evbuffer_peek(s->in, -1, NULL, &v, 1) < 1) return SMTP_CONTINUE;
    take = MIN((gsize) s->bdat_left, v.iov_len);
    if (take == 0) return SMTP_CONTINUE;
    if (!s->bdat_refusal) smtp_data_decoder_feed(s->dec, v.iov_base, take, &used);
    evbuffer_drain(s->in, take);
    s->bdat_left -= take;
    count_transfer(s, take, now_ms);
    *progress = TRUE;
  }
  /* chunk complete */
  *progress = TRUE;
  if (s->bdat_refusal) {
    const char *text = s->bdat_refusal;
    s->bdat_refusal = NULL;
    set_state(s, s->bdat_prev, now_ms);
    return refuse(s, text, now_ms);
  }
  if (!s->bdat_last) {
    replyf(s, "250 2.0.0 %" G_GINT64_FORMAT " octets received", smtp_data_decoder_size(s->dec));
    set_state(s, SMTP_STATE_RCPT, now_ms);
    return SMTP_CONTINUE;
  }
  smtp_data_decoder_finish(s->dec);
  return finish_message(s, now_ms);
}

/* Reads one command line if a whole one is buffered. */
static SmtpAction process_line(SmtpSession *s, gint64 now_ms, gboolean *progress)
{
  gsize len = evbuffer_get_length(s->in), scan = MIN(len, (gsize) SMTP_MAX_TEXT_LINE + 1);
  struct evbuffer_ptr end, p;
  char line[SMTP_MAX_TEXT_LINE + 1];
  gsize n;

  if (len == 0) return SMTP_CONTINUE;
  evbuffer_ptr_set(s->in, &end, scan, EVBUFFER_PTR_SET);
  p = evbuffer_search_range(s->in, "\n", 1, NULL, &end);
  if (p.pos < 0) {
    if (len > SMTP_MAX_TEXT_LINE) { /* no LF within the bound: drop what was searched, reply at its end */
      evbuffer_drain(s->in, scan);
      s->discard_line = TRUE;
      *progress = TRUE;
    }
    return SMTP_CONTINUE;
  }
  n = (gsize) p.pos; /* octets before LF */
  *progress = TRUE;
  if (s->discard_line || n + 1 > SMTP_MAX_TEXT_LINE) {
    evbuffer_drain(s->in, n + 1);
    s->discard_line = FALSE;
    return refuse(s, "500 5.5.2 Error: line too long", now_ms);
  }
  s->deadline_ms = now_ms + s->lim.command_timeout_ms; /* per command */
  evbuffer_remove(s->in, line, n + 1);
  if (n > 0 && line[n - 1] == '\r') n--;
  line[n] = '\0';
  return dispatch(s, line, n, evbuffer_get_length(s->in) > 0, now_ms);
}

SmtpAction smtp_session_process(SmtpSession *s, gint64 now_ms)
{
  for (;;) {
    gboolean progress = FALSE;
    SmtpAction a;
    if (evbuffer_get_length(s->out) > OUTPUT_HIGH) return SMTP_CONTINUE; /* client is not reading */
    switch (s->state) {
    case SMTP_STATE_GREETING:
    case SMTP_STATE_SPOOLING:
    case SMTP_STATE_TLS:
      return SMTP_CONTINUE;
    case SMTP_STATE_CLOSING:
      return SMTP_CLOSE;
    case SMTP_STATE_DATA:
      a = process_data(s, now_ms, &progress);
      break;
    case SMTP_STATE_BDAT:
      a = process_bdat(s, now_ms, &progress);
      break;
    default:
      a = process_line(s, now_ms, &progress);
      break;
    }
    if (a == SMTP_CLOSE) return SMTP_CLOSE;
    if (!progress) return SMTP_CONTINUE;
  }
}

void smtp_session_tls_done(SmtpSession *s, gboolean ok, gint64 now_ms)
{
  if (!ok) {
    set_state(s, SMTP_STATE_CLOSING, now_ms);
    return;
  }
  s->tls = TRUE;
  s->ehlo = FALSE;
  s->authed = FALSE; /* RFC 3207 4.2: nothing from before the handshake counts */
  g_clear_pointer(&s->auth_enterprise, g_free);
  s->helo[0] = '\0';
  transaction_reset(s);
  set_state(s, SMTP_STATE_HELO, now_ms); /* RFC 3207: forget everything, EHLO again */
}

/* ---- time ---------------------------------------------------------------------------------- */

SmtpAction smtp_session_timer(SmtpSession *s, gint64 now_ms)
{
  if (s->state == SMTP_STATE_CLOSING || s->state == SMTP_STATE_SPOOLING) return SMTP_CONTINUE;
  if (now_ms >= s->deadline_ms) {
    ma_info("smtp", "timeout in state %s client=%s", smtp_state_name(s->state), s->client);
    if (s->state == SMTP_STATE_TLS) {
      set_state(s, SMTP_STATE_CLOSING, now_ms);
      return SMTP_CLOSE;
    }
    return close_with(s, "421 4.4.2 Timeout exceeded, closing connection", now_ms);
  }
  if ((s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT || s->bdat_active) && s->lim.min_data_rate > 0) {
    if (now_ms - s->rate.start_ms > s->lim.rate_grace_ms &&
        smtp_rate_below(&s->rate, now_ms, s->lim.rate_window_ms, s->lim.min_data_rate)) {
      ma_info("smtp", "data rate too low client=%s octets=%" G_GINT64_FORMAT " in ms=%" G_GINT64_FORMAT, s->client,
              s->rate.total, now_ms - s->rate.start_ms);
      return close_with(s, "421 4.4.2 Data rate too low, closing connection", now_ms);
    }
  }
  return SMTP_CONTINUE;
}

gint64 smtp_session_next_wakeup(const SmtpSession *s)
{
  gint64 next = s->deadline_ms;
  if ((s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT || s->bdat_active) && s->lim.min_data_rate > 0)
    next = MIN(next, g_get_monotonic_time() / 1000 + 1000);
  return next;
}

SmtpAction smtp_session_shutdown(SmtpSession *s)
{
  s->shutting_down = TRUE;
  if (s->state == SMTP_STATE_HELO || s->state == SMTP_STATE_IDLE || s->state == SMTP_STATE_GREETING) {
    reply(s, "421 4.3.2 Service shutting down, closing connection");
    s->state = SMTP_STATE_CLOSING;
    return SMTP_CLOSE;
  }
  return SMTP_CONTINUE;
}
