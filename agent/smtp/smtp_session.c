/* smtp_session.c - the inbound SMTP state machine (see smtp_session.h).
 *
 * One enum of states, one function that changes state (set_state, which also sets the deadline
 * for the new state), one input function (smtp_session_process) and a commands[] table where
 * each command has a check step and a proceed step. A check only decides: it reads the session
 * (const) and returns a Verdict, with what it found out in CommandFacts and the log record of a
 * refusal; dispatch answers a refusal (answer: logs it once, replies, charges the error budget),
 * and only proceed changes the session. The end of a message works the same way (judge_message
 * decides, finish_message acts). Between BDAT chunks the session is in SMTP_STATE_BDAT_WAIT; a
 * refused chunk is read in SMTP_STATE_BDAT_SKIP.
 * Time comes in as now_ms (monotonic) on every entry point: nothing here reads a clock.
 * The pure parts live beside it: input framing (smtp_input), the envelope (smtp_envelope), the
 * AUTH exchange (smtp_auth), the parsers (smtp_parse), the limits (smtp_limits).
 *
 * Pipelining (RFC 2920) is honoured after EHLO; a command that arrives with more input behind it
 * where that is not allowed (before EHLO, after HELO, behind EHLO or DATA) is a protocol
 * synchronization error: 554 5.5.0 and close (like Postfix's smtpd_forbid_unauth_pipelining).
 * STARTTLS discards whatever plaintext is buffered behind it (CVE-2011-0411) and the session
 * starts again from SMTP_STATE_HELO after the handshake.
 *
 * Message octets go from the decoder into the spool body as they arrive (spool_body.h: a 64 KiB
 * buffer, then page-cache writes to its file once the message outgrows it); only the header
 * section is read back, at the end of the message, for the forwarder policy. A write error is
 * sticky and answered once at the end (452 4.3.1 for a full disk, else 451 4.3.0); a refused
 * message's file is unlinked.
 *
 * Must never: reply 250 to a message before the spool writer says it is durable; read a line
 * without a bound; let a message end on anything but CRLF.CRLF; hold a message in memory.
 */
#include "smtp_session.h"

#include "agent/lib/log.h"
#include "agent/lib/metrics.h"
#include "agent/mime/mime.h"

#include "smtp_auth.h"
#include "smtp_envelope.h"
#include "smtp_input.h"

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
  SmtpAuthExchange auth;    /* AUTH in progress (SMTP_STATE_AUTH) */

  /* transaction */
  SmtpEnvelope env;
  MaSpoolBody *body;        /* its file, NULL outside DATA/BDAT */
  SmtpDataDecoder *dec;
  SmtpRateMeter rate;       /* octets on the wire, for the data rate */
  gint64 unextended_octets; /* received since the deadline was last extended */
  gint64 bdat_left;         /* octets of the current chunk still to read */
  gboolean bdat_last;       /* it is the last one */
  const char *skip_reply;   /* SMTP_STATE_BDAT_SKIP: the refusal once the chunk is read */
  SmtpState skip_return;    /* ... and the state it returns to */
  gint64 submitted_ms;
  char *spool_client_log;   /* envelope summary for the log line */
};

static const char *const state_names[SMTP_STATE__COUNT] = {
  "greeting", "helo", "idle", "mail", "rcpt", "data", "bdat", "bdat-wait", "bdat-skip", "spooling", "tls", "auth",
  "closing",
};

const char *smtp_state_name(SmtpState st)
{
  return st < SMTP_STATE__COUNT ? state_names[st] : "?";
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
  case SMTP_STATE_BDAT_SKIP:
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
  smtp_envelope_reset(&s->env);
  g_clear_pointer(&s->dec, smtp_data_decoder_free);
  g_clear_pointer(&s->body, spool_body_free); /* unlinks the file of a message not handed over */
  s->bdat_left = 0;
  s->bdat_last = FALSE;
  s->skip_reply = NULL;
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
  smtp_envelope_init(&s->env);
  s->tls = lim->implicit_tls;
  set_state(s, SMTP_STATE_GREETING, now_ms);
  return s;
}

void smtp_session_free(SmtpSession *s)
{
  if (!s) return;
  transaction_reset(s);
  smtp_envelope_clear(&s->env);
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

/* A check's decision. */
typedef enum {
  VERDICT_PROCEED, /* accepted: the proceed step acts */
  VERDICT_REFUSE,  /* answered, one unit of the error budget (a 5xx the client should not repeat) */
  VERDICT_DEFER,   /* answered, no cost (a temporary 4xx, or a limit the client did not break on purpose) */
  VERDICT_CLOSE,   /* answered, then the session ends */
} VerdictKind;

typedef struct {
  VerdictKind kind;
  const char *text; /* the reply (static) ... */
  char *owned;      /* ... or a formatted one, freed by answer */
  const char *then; /* VERDICT_CLOSE: a second line after it, or NULL */
  MaLogLevel log_level;
  char *log;        /* what answer logs with the reply (formatted only when that level is on), or NULL */
} Verdict;

#define PROCEED ((Verdict){VERDICT_PROCEED, NULL, NULL, NULL, MA_LOG_INFO, NULL})
#define REFUSE(t) ((Verdict){VERDICT_REFUSE, (t), NULL, NULL, MA_LOG_INFO, NULL})
#define DEFER(t) ((Verdict){VERDICT_DEFER, (t), NULL, NULL, MA_LOG_INFO, NULL})
#define CLOSE(t) ((Verdict){VERDICT_CLOSE, (t), NULL, NULL, MA_LOG_INFO, NULL})

/* v, with the record answer logs when it is answered (a check decides; it never logs itself). */
static Verdict with_log(Verdict v, MaLogLevel level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static Verdict with_log(Verdict v, MaLogLevel level, const char *fmt, ...)
{
  if (!ma_log_enabled(level)) return v;
  va_list ap;
  va_start(ap, fmt);
  v.log_level = level;
  v.log = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  return v;
}

/* A refusal whose reply is formatted (owned by the verdict). */
static Verdict refuse_owned(char *text)
{
  Verdict v = REFUSE(NULL);
  v.owned = text;
  return v;
}

/* What a check found out, handed to its proceed step (one command's life; freed by dispatch). */
typedef struct {
  SmtpPath path;          /* MAIL: the reverse path */
  char *rcpt;             /* RCPT: the address to deliver to; NULL for a repeat of an accepted one */
  gboolean bounce;        /* RCPT: one of our bounce addresses (bounce_domain) */
  char *enterprise_id;    /* RCPT: the transaction's enterprise, when this RCPT is its first */
  FwdDecision decision;   /* ... and the envelope judgement of the forwarder policy */
  gint64 bdat_size;       /* BDAT: the chunk */
  gboolean bdat_last;
  const char *bdat_refusal; /* BDAT: read the chunk, then answer this */
} CommandFacts;

static void facts_clear(CommandFacts *f)
{
  g_free(f->rcpt);
  g_free(f->enterprise_id);
  forwarder_decision_clear(&f->decision);
}

typedef struct {
  SmtpCmd cmd;
  /* states in which the command is allowed (bit per SmtpState); others get `sequence` */
  guint states;
  const char *sequence;
  /* TRUE: must be the last command of a pipelined group (RFC 2920 3.1) */
  gboolean last_in_group;
  Verdict (*check)(const SmtpSession *s, const char *arg, CommandFacts *f);
  SmtpAction (*proceed)(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms);
} SmtpCommand;

#define ST(x) (1u << SMTP_STATE_##x)
#define AFTER_GREETING (ST(HELO) | ST(IDLE) | ST(MAIL) | ST(RCPT))

static Verdict check_helo(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  if (!arg[0] || strlen(arg) >= sizeof s->helo) return REFUSE("501 5.5.4 Syntax: EHLO hostname");
  return PROCEED;
}

static SmtpAction proceed_helo(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  transaction_reset(s);
  g_strlcpy(s->helo, arg, sizeof s->helo);
  s->ehlo = FALSE;
  replyf(s, "250 %s", s->lim.hostname);
  set_state(s, SMTP_STATE_IDLE, now_ms);
  return SMTP_CONTINUE;
}

static SmtpAction proceed_ehlo(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  transaction_reset(s);
  g_strlcpy(s->helo, arg, sizeof s->helo);
  s->ehlo = TRUE;
  replyf(s, "250-%s", s->lim.hostname);
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

static Verdict check_mail(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  const char *why = NULL;
  if (s->shutting_down) return CLOSE("421 4.3.2 Service shutting down, closing connection");
  if (s->lim.submission && !s->authed) return REFUSE("530 5.7.0 Authentication required");
  if (smtp_parse_mail(arg, &f->path, &why) < 0) return REFUSE(why);
  if (f->path.size > s->lim.max_message_size) return REFUSE("552 5.3.4 Message size exceeds fixed maximum message size");
  if (f->path.body == SMTP_BODY_BINARYMIME) return REFUSE("555 5.5.4 BODY=BINARYMIME is not supported");
  if (f->path.smtputf8 && !s->ehlo) return REFUSE("555 5.5.4 SMTPUTF8 needs EHLO");
  if (s->hooks.disk_ok && !s->hooks.disk_ok(s->hooks.ctx)) return DEFER(STORE_NO_SPACE);
  return PROCEED;
}

static SmtpAction proceed_mail(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  s->env.mail = f->path;
  reply(s, "250 2.1.0 Ok");
  set_state(s, SMTP_STATE_MAIL, now_ms);
  return SMTP_CONTINUE;
}

/* RCPT to bounce_domain: only our own tokens, never mixed with the enterprises' addresses. */
static Verdict check_bounce_rcpt(const SmtpSession *s, const SmtpPath *path, CommandFacts *f)
{
  if (path->quoted || path->source_route || !s->hooks.bounce_lookup || s->hooks.bounce_lookup(s->hooks.ctx, path->local) != 1)
    return with_log(REFUSE("550 5.1.1 Recipient address rejected: no such bounce address here"), MA_LOG_INFO,
                    "rcpt refused client=%s to=<%s> reason=\"not a bounce address of ours\"", s->client, path->address);
  if (s->env.enterprise_id) return DEFER("452 4.5.3 Bounce addresses and other recipients go in separate transactions");
  f->bounce = TRUE;
  g_autofree char *addr = g_ascii_strdown(path->address, -1);
  if (!smtp_envelope_has_rcpt(&s->env, addr, FALSE)) f->rcpt = g_steal_pointer(&addr);
  return PROCEED;
}

static Verdict check_rcpt(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  SmtpPath path;
  const char *why = NULL;
  char local[SMTP_MAX_LOCAL + 1];
  g_autofree char *enterprise = NULL;
  g_autoptr(GError) error = NULL;

  /* every accepted RCPT counts, a repeat too (it is delivered once) */
  if (s->env.rcpt_accepted >= s->lim.max_recipients) return DEFER("452 4.5.3 Error: too many recipients");
  if (s->lim.submission) {
    /* the authenticated client may send anywhere: any well-formed address, no look-up */
    if (smtp_parse_rcpt(arg, &path, &why) < 0 || !path.domain[0] || path.source_route)
      return REFUSE(why ? why : "501 5.1.3 Error: a recipient address local@domain is required");
    if (!smtp_envelope_has_rcpt(&s->env, path.address, TRUE)) f->rcpt = g_strdup(path.address);
    if (!s->env.enterprise_id) f->enterprise_id = g_strdup(s->auth_enterprise);
    return PROCEED;
  }
  if (s->lim.bounce_domain && smtp_parse_rcpt(arg, &path, &why) == 0 &&
      g_ascii_strcasecmp(path.domain, s->lim.bounce_domain) == 0)
    return check_bounce_rcpt(s, &path, f);
  if (smtp_parse_rcpt(arg, &path, &why) < 0 || smtp_rcpt_local_part(&path, s->lim.inbound_domain, local, &why) < 0)
    return with_log(REFUSE(why), MA_LOG_INFO, "rcpt refused client=%s reason=\"%s\"", s->client, why);
  int rc = s->hooks.rcpt_lookup(s->hooks.ctx, local, &enterprise, &error);
  if (rc < 0)
    return with_log(DEFER("451 4.3.0 Temporary lookup failure, try again later"), MA_LOG_WARN,
                    "recipient look-up failed client=%s: %s", s->client, error->message);
  if (rc == 0) return REFUSE("550 5.1.1 Recipient address rejected: no such virtual address here");
  if (s->env.bounce) return DEFER("452 4.5.3 Bounce addresses and other recipients go in separate transactions");
  if (s->env.enterprise_id && strcmp(s->env.enterprise_id, enterprise) != 0)
    return DEFER("452 4.5.3 One enterprise per transaction; send the other recipients separately");
  if (!s->env.enterprise_id) {
    /* envelope signals are judged here; headers may still satisfy the policy at end of DATA */
    if (s->hooks.policy(s->hooks.ctx, enterprise, s->client, s->env.mail.address, NULL, 0, &f->decision, &error) < 0)
      return with_log(DEFER("451 4.3.0 Temporary lookup failure, try again later"), MA_LOG_WARN,
                      "forwarder policy look-up failed client=%s: %s", s->client, error->message);
    if (!f->decision.satisfied && f->decision.final) { /* the envelope already tells: no DATA */
      const char *reason = f->decision.reason ? f->decision.reason : "unknown forwarder";
      return with_log(refuse_owned(g_strdup_printf("550 5.7.1 Recipient refused by the forwarder policy: %s", reason)),
                      MA_LOG_INFO, "rcpt refused client=%s from=<%s> result=550 reason=\"%s\"", s->client,
                      s->env.mail.address, f->decision.reason ? f->decision.reason : "");
    }
    f->enterprise_id = g_steal_pointer(&enterprise);
  }
  g_autofree char *addr = g_strdup_printf("%s@%s", local, s->lim.inbound_domain);
  if (!smtp_envelope_has_rcpt(&s->env, addr, FALSE)) f->rcpt = g_steal_pointer(&addr);
  return PROCEED;
}

static SmtpAction proceed_rcpt(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  smtp_envelope_add_rcpt(&s->env, g_steal_pointer(&f->rcpt));
  if (f->bounce) s->env.bounce = TRUE;
  if (f->enterprise_id) {
    s->env.enterprise_id = g_steal_pointer(&f->enterprise_id);
    smtp_envelope_set_decision(&s->env, &f->decision);
  }
  reply(s, "250 2.1.5 Ok");
  set_state(s, SMTP_STATE_RCPT, now_ms);
  return SMTP_CONTINUE;
}

static void body_sink(void *ctx, const guint8 *p, gsize n)
{
  spool_body_write(ctx, p, n);
}

/* Opens the message's spool file (the hook names it) and its decoder. -1 (logged) when the file
 * cannot be made. */
static int begin_message(SmtpSession *s, gboolean dot_mode, gint64 now_ms)
{
  SmtpDataLimits dl = s->lim.data;
  g_autoptr(GError) error = NULL;
  dl.max_size = s->lim.max_message_size;
  g_assert(s->body == NULL && s->dec == NULL);
  if (s->hooks.body_new(s->hooks.ctx, &s->body, &error) < 0) {
    ma_warn("smtp", "cannot start a spool file client=%s: %s", s->client, error->message);
    return -1;
  }
  s->dec = smtp_data_decoder_new_sink(&dl, dot_mode, body_sink, s->body);
  smtp_rate_start(&s->rate, now_ms);
  s->unextended_octets = 0;
  return 0;
}

static Verdict check_data(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  if (arg[0]) return REFUSE("501 5.5.4 Syntax: DATA");
  if (s->state == SMTP_STATE_MAIL) return REFUSE("554 5.5.1 Error: no valid recipients");
  return PROCEED;
}

static SmtpAction proceed_data(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  if (begin_message(s, TRUE, now_ms) < 0) {
    reply(s, STORE_FAILED);
    return SMTP_CONTINUE;
  }
  reply(s, "354 End data with <CR><LF>.<CR><LF>");
  set_state(s, SMTP_STATE_DATA, now_ms);
  return SMTP_CONTINUE;
}

/* BDAT is judged once its size is known: a refused chunk is still read (SMTP_STATE_BDAT_SKIP) so
 * that its octets are never taken for commands. */
static Verdict check_bdat(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  if (smtp_parse_bdat(arg, &f->bdat_size, &f->bdat_last) < 0) {
    /* the chunk length is unknown, so its octets cannot be skipped: the stream is lost */
    Verdict v = CLOSE("501 5.5.4 Syntax: BDAT size [LAST]");
    v.then = "421 4.5.0 Closing connection: cannot resynchronise after a bad BDAT";
    return v;
  }
  if (!s->ehlo) f->bdat_refusal = "503 5.5.1 Error: BDAT needs EHLO (CHUNKING)";
  else if (s->state == SMTP_STATE_HELO || s->state == SMTP_STATE_IDLE) f->bdat_refusal = "503 5.5.1 Error: need MAIL command";
  else if (s->state == SMTP_STATE_MAIL) f->bdat_refusal = "554 5.5.1 Error: no valid recipients";
  return PROCEED;
}

/* Reads the chunk announced by BDAT: into the message, or (refused) to be dropped. */
static SmtpAction proceed_bdat(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  const char *refusal = f->bdat_refusal;
  if (!refusal && s->state != SMTP_STATE_BDAT_WAIT && begin_message(s, FALSE, now_ms) < 0)
    refusal = STORE_FAILED; /* the chunk is still read, then refused */
  s->bdat_left = f->bdat_size;
  s->bdat_last = f->bdat_last;
  if (refusal) {
    if (!s->dec) smtp_rate_start(&s->rate, now_ms); /* the skipped octets are a transfer too */
    s->skip_reply = refusal;
    s->skip_return = s->state;
    set_state(s, SMTP_STATE_BDAT_SKIP, now_ms);
    return SMTP_CONTINUE;
  }
  set_state(s, SMTP_STATE_BDAT, now_ms);
  return SMTP_CONTINUE;
}

/* The check of NOOP, VRFY, RSET, HELP and ETRN, commands that move no mail (as Postfix's
 * smtpd_junk_command_limit): past junk_command_limit of them since the last accepted message the
 * session ends with 421. Their proceed steps count them (count_junk). */
static Verdict check_junk(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  if (s->lim.junk_command_limit == 0 || s->junk < s->lim.junk_command_limit) return PROCEED;
  return with_log(CLOSE("421 4.7.0 Too many commands without progress, closing connection"), MA_LOG_INFO,
                  "closing: %u commands without progress client=%s", s->junk, s->client);
}

static void count_junk(SmtpSession *s)
{
  s->junk++;
}

static SmtpAction proceed_rset(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  count_junk(s);
  transaction_reset(s);
  reply(s, "250 2.0.0 Ok");
  set_state(s, s->state == SMTP_STATE_HELO ? SMTP_STATE_HELO : SMTP_STATE_IDLE, now_ms);
  return SMTP_CONTINUE;
}

static SmtpAction proceed_noop(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  count_junk(s);
  reply(s, "250 2.0.0 Ok");
  set_state(s, s->state, now_ms);
  return SMTP_CONTINUE;
}

static SmtpAction proceed_quit(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  return close_with(s, "221 2.0.0 Bye", now_ms);
}

static SmtpAction proceed_help(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  count_junk(s);
  reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS");
  return SMTP_CONTINUE;
}

static SmtpAction proceed_vrfy(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  count_junk(s);
  reply(s, "252 2.0.0 Cannot VRFY user, but will accept message for valid recipients");
  return SMTP_CONTINUE;
}

/* RFC 1985: nothing is queued here for anyone to release. */
static SmtpAction proceed_etrn(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  count_junk(s);
  reply(s, "458 4.7.0 Unable to queue messages: ETRN is not offered");
  return SMTP_CONTINUE;
}

static Verdict check_starttls(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  if (!s->lim.tls_available || !s->hooks.starttls) return REFUSE("454 4.7.0 TLS not available");
  if (s->tls) return REFUSE("503 5.5.1 Error: TLS already active");
  if (arg[0]) return REFUSE("501 5.5.4 Syntax: STARTTLS");
  return PROCEED;
}

static SmtpAction proceed_starttls(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
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

static Verdict check_auth(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  const char *initial;
  if (!s->lim.submission || !s->hooks.auth) return REFUSE("503 5.5.1 Error: authentication not enabled");
  if (s->authed) return REFUSE("503 5.5.1 Error: already authenticated");
  /* never a password in plaintext: STARTTLS first (RFC 4954 4, 538) */
  if (!s->tls && !s->lim.auth_plaintext) return REFUSE("538 5.7.11 Encryption required for requested authentication mechanism");
  if (smtp_auth_mechanism(arg, &initial) == SMTP_SASL_UNKNOWN) return REFUSE("504 5.5.4 Unrecognized authentication type");
  return PROCEED;
}

/* Where the AUTH exchange stands after the client's last line: the next challenge, a refusal, or
 * the credentials checked with the hook (235, 535 or 454). */
static SmtpAction auth_step(SmtpSession *s, SmtpAuthStep step, const char *text, gint64 now_ms)
{
  g_autoptr(GError) error = NULL;
  char *enterprise = NULL;
  if (step == SMTP_AUTH_CONTINUE) {
    reply(s, text);
    set_state(s, SMTP_STATE_AUTH, now_ms);
    return SMTP_CONTINUE;
  }
  set_state(s, SMTP_STATE_IDLE, now_ms);
  int rc = step == SMTP_AUTH_CREDENTIALS ? s->hooks.auth(s->hooks.ctx, s->auth.user, s->auth.password, &enterprise, &error) : 0;
  memset(s->auth.password, 0, sizeof s->auth.password); /* a partly decoded one too */
  if (step == SMTP_AUTH_FAILED) return refuse(s, text, now_ms);
  if (rc < 0) {
    ma_warn("smtp", "authentication look-up failed client=%s: %s", s->client, error->message);
    reply(s, "454 4.7.0 Temporary authentication failure");
    return SMTP_CONTINUE;
  }
  if (rc == 0) {
    ma_info("smtp", "authentication failed client=%s user=%s", s->client, s->auth.user);
    return refuse(s, "535 5.7.8 Authentication credentials invalid", now_ms);
  }
  s->authed = TRUE;
  g_free(s->auth_enterprise);
  s->auth_enterprise = enterprise;
  ma_info("smtp", "authenticated client=%s user=%s", s->client, s->auth.user);
  reply(s, "235 2.7.0 Authentication successful");
  return SMTP_CONTINUE;
}

static SmtpAction proceed_auth(SmtpSession *s, const char *arg, CommandFacts *f, gint64 now_ms)
{
  const char *text = NULL;
  SmtpAuthStep step = smtp_auth_start(&s->auth, arg, &text);
  return auth_step(s, step, text, now_ms);
}

static Verdict check_refuse_expn(const SmtpSession *s, const char *arg, CommandFacts *f)
{
  return REFUSE("502 5.5.1 EXPN not available");
}

static const SmtpCommand commands[] = {
  {SMTP_CMD_EHLO, AFTER_GREETING | ST(BDAT_WAIT), NULL, TRUE, check_helo, proceed_ehlo},
  {SMTP_CMD_HELO, AFTER_GREETING | ST(BDAT_WAIT), NULL, TRUE, check_helo, proceed_helo},
  {SMTP_CMD_MAIL, ST(IDLE), NULL, FALSE, check_mail, proceed_mail},
  {SMTP_CMD_RCPT, ST(MAIL) | ST(RCPT), "503 5.5.1 Error: need MAIL command", FALSE, check_rcpt, proceed_rcpt},
  {SMTP_CMD_DATA, ST(MAIL) | ST(RCPT), "503 5.5.1 Error: need RCPT command", TRUE, check_data, proceed_data},
  {SMTP_CMD_BDAT, AFTER_GREETING | ST(BDAT_WAIT), NULL, FALSE, check_bdat, proceed_bdat},
  {SMTP_CMD_RSET, AFTER_GREETING | ST(BDAT_WAIT), NULL, FALSE, check_junk, proceed_rset},
  {SMTP_CMD_NOOP, AFTER_GREETING | ST(BDAT_WAIT), NULL, FALSE, check_junk, proceed_noop},
  {SMTP_CMD_QUIT, AFTER_GREETING | ST(BDAT_WAIT), NULL, FALSE, NULL, proceed_quit},
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

/* The refusal of a command the state does not allow. */
static const char *out_of_sequence(const SmtpSession *s, const SmtpCommand *c)
{
  if (s->state == SMTP_STATE_HELO) return "503 5.5.1 Error: send HELO/EHLO first";
  if (c->cmd == SMTP_CMD_MAIL) return "503 5.5.1 Error: nested MAIL command";
  if (s->state == SMTP_STATE_IDLE) return "503 5.5.1 Error: need MAIL command";
  if (s->state == SMTP_STATE_BDAT_WAIT) return "503 5.5.1 Error: only BDAT may follow BDAT";
  return c->sequence ? c->sequence : "503 5.5.1 Error: bad sequence of commands";
}

/* Answers a verdict that is not PROCEED: logs its record, then replies (frees both texts). */
static SmtpAction answer(SmtpSession *s, Verdict v, gint64 now_ms)
{
  g_autofree char *owned = v.owned;
  g_autofree char *log = v.log;
  const char *text = owned ? owned : v.text;
  if (log) ma_log(v.log_level, "smtp", "%s", log);
  switch (v.kind) {
  case VERDICT_REFUSE:
    return refuse(s, text, now_ms);
  case VERDICT_DEFER:
    reply(s, text);
    return SMTP_CONTINUE;
  case VERDICT_CLOSE:
    if (v.then) reply(s, text);
    return close_with(s, v.then ? v.then : text, now_ms);
  default:
    g_assert_not_reached();
  }
}

/* Runs one command line (NUL-terminated, CRLF removed). more: input is buffered behind it. */
static SmtpAction dispatch(SmtpSession *s, const char *line, gsize len, gboolean more, gint64 now_ms)
{
  const char *arg;
  gboolean bad;
  if (s->state == SMTP_STATE_AUTH) { /* a response line, not a command */
    const char *text = NULL;
    SmtpAuthStep step = smtp_auth_next(&s->auth, line, &text);
    return auth_step(s, step, text, now_ms);
  }
  SmtpCmd cmd = smtp_parse_command(line, len, &arg, &bad);
  const SmtpCommand *c = command_lookup(cmd);

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
  if (!(c->states & (1u << s->state))) return refuse(s, out_of_sequence(s, c), now_ms);

  CommandFacts f = {0};
  Verdict v = c->check ? c->check(s, arg, &f) : PROCEED;
  SmtpAction a = v.kind == VERDICT_PROCEED ? c->proceed(s, arg, &f, now_ms) : answer(s, v, now_ms);
  facts_clear(&f);
  return a;
}

/* ---- end of message ---------------------------------------------------------------------- */

/* Judges a complete message by its header section (head): PROCEED, or the refusal. Reads the
 * session only; when the headers satisfy the forwarder policy better than the envelope did, the
 * new decision is in *better (else it stays zeroed). what: the envelope and size, for the log. */
static Verdict judge_message(const SmtpSession *s, const guint8 *head, gsize head_len, const char *what,
                             FwdDecision *better)
{
  g_autoptr(GError) error = NULL;
  /* mail the archive could never parse is refused now, not acknowledged and then kept unparsed */
  const char *unparseable = mime_header_start_problem(head, head_len);
  if (unparseable)
    return with_log(refuse_owned(g_strdup_printf("554 5.6.0 Message refused: %s", unparseable)), MA_LOG_INFO,
                    "message refused %s result=554 reason=\"%s\"", what, unparseable);
  if (s->lim.submission || s->env.bounce) return PROCEED; /* no forwarder policy for either */
  const FwdDecision *d = &s->env.decision;
  if (!d->satisfied || !d->employee_id) {
    FwdDecision h = {0};
    if (s->hooks.policy(s->hooks.ctx, s->env.enterprise_id, s->client, s->env.mail.address, head, head_len, &h, &error) < 0)
      return with_log(DEFER("451 4.3.0 Temporary lookup failure, try again later"), MA_LOG_WARN,
                      "forwarder policy look-up failed %s: %s", what, error->message);
    if (h.satisfied || !d->satisfied) {
      *better = h;
      d = better;
    } else {
      forwarder_decision_clear(&h);
    }
  }
  if (d->satisfied) return PROCEED;
  return with_log(refuse_owned(g_strdup_printf("550 5.7.1 Message refused by the forwarder policy: %s",
                                               d->reason ? d->reason : "not forwarded by the enterprise")),
                  MA_LOG_INFO, "message refused %s result=550 reason=\"%s\"", what, d->reason ? d->reason : "");
}

/* The message is complete: judge it and hand it to the spool, or refuse it. */
static SmtpAction finish_message(SmtpSession *s, gint64 now_ms)
{
  SmtpDataError err = smtp_data_decoder_error(s->dec);
  g_autoptr(GString) what = g_string_new(NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) head = NULL;
  FwdDecision better = {0};
  Verdict v;

  /* the envelope for the log records (info: the message's line; warn: a failure), only when logged */
  if (ma_log_enabled(MA_LOG_WARN)) {
    smtp_envelope_describe(&s->env, s->client, what);
    g_string_append_printf(what, " size=%" G_GINT64_FORMAT, smtp_data_decoder_size(s->dec));
  }
  if (err != SMTP_DATA_OK) {
    const char *refusal = smtp_data_error_reply(err);
    v = with_log(REFUSE(refusal), MA_LOG_INFO, "message refused %s result=\"%.3s\" reason=\"%s\"", what->str, refusal,
                 refusal + 4);
  } else if (spool_body_read_head(s->body, (gsize) smtp_data_decoder_header_size(s->dec), &head, &error) < 0 ||
             spool_body_flush(s->body, &error) < 0) { /* the header section: what the checks judge */
    v = with_log(DEFER(spool_body_no_space(s->body) ? STORE_NO_SPACE : STORE_FAILED), MA_LOG_WARN,
                 "message not stored %s: %s", what->str, error->message);
  } else {
    gsize head_len = 0;
    const guint8 *head_data = g_bytes_get_data(head, &head_len);
    v = judge_message(s, head_data ? head_data : (const guint8 *) "", head_len, what->str, &better);
  }
  if (v.kind != VERDICT_PROCEED) {
    forwarder_decision_clear(&better);
    transaction_reset(s);
    set_state(s, SMTP_STATE_IDLE, now_ms);
    return answer(s, v, now_ms);
  }
  if (better.satisfied) smtp_envelope_set_decision(&s->env, &better); /* (an unsatisfied one was refused) */
  MaSpoolEntry *e = smtp_envelope_spool_entry(&s->env, s->lim.submission ? "submission" : s->env.bounce ? "bounce" : "smtp", s->client, s->helo,
                                              g_steal_pointer(&s->body));
  g_clear_pointer(&s->spool_client_log, g_free);
  if (ma_log_enabled(MA_LOG_INFO))
    s->spool_client_log = g_strdup_printf("%s employee=%s signal=%s", what->str, e->employee_id ? e->employee_id : "-",
                                          e->signal ? e->signal : "-");
  s->submitted_ms = now_ms;
  transaction_reset(s);
  set_state(s, SMTP_STATE_SPOOLING, now_ms);
  s->hooks.submit(s->hooks.ctx, s, e);
  return SMTP_CONTINUE;
}

void smtp_session_spooled(SmtpSession *s, SmtpSpoolResult result, const char *spool_id, gint64 now_ms)
{
  if (s->state != SMTP_STATE_SPOOLING) return;
  gboolean ok = result == SMTP_SPOOL_STORED;
  if (ok) s->junk = 0; /* progress */
  if (ok) replyf(s, "250 2.0.0 Ok: queued as %s", spool_id);
  else reply(s, result == SMTP_SPOOL_NO_SPACE ? STORE_NO_SPACE : STORE_FAILED);
  ma_info("smtp", "message spool_id=%s %s result=%s ack_ms=%" G_GINT64_FORMAT, spool_id,
          s->spool_client_log ? s->spool_client_log : "", ok ? "250" : result == SMTP_SPOOL_NO_SPACE ? "452" : "451",
          now_ms - s->submitted_ms);
  set_state(s, SMTP_STATE_IDLE, now_ms);
}

void smtp_session_finished(SmtpSession *s, const char *reply_text, gint64 now_ms)
{
  if (s->state != SMTP_STATE_SPOOLING) return;
  reply(s, reply_text);
  ma_info("smtp", "message %s result=%.3s ack_ms=%" G_GINT64_FORMAT, s->spool_client_log ? s->spool_client_log : "",
          reply_text, now_ms - s->submitted_ms);
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
  gboolean done;
  gsize used = smtp_input_feed(s->in, s->dec, G_MAXSIZE, &done);
  if (used == 0) return SMTP_CONTINUE;
  *progress = TRUE;
  count_transfer(s, used, now_ms);
  return done ? finish_message(s, now_ms) : SMTP_CONTINUE;
}

/* Reads the octets of the current BDAT chunk: into the message (SMTP_STATE_BDAT) or dropped
 * (SMTP_STATE_BDAT_SKIP). */
static SmtpAction process_bdat(SmtpSession *s, gint64 now_ms, gboolean *progress)
{
  gboolean skip = s->state == SMTP_STATE_BDAT_SKIP;
  while (s->bdat_left > 0) {
    gboolean done;
    gsize used = smtp_input_feed(s->in, skip ? NULL : s->dec, (gsize) s->bdat_left, &done);
    if (used == 0) return SMTP_CONTINUE;
    s->bdat_left -= (gint64) used;
    count_transfer(s, used, now_ms);
    *progress = TRUE;
  }
  /* chunk complete */
  *progress = TRUE;
  if (skip) {
    const char *text = s->skip_reply;
    s->skip_reply = NULL;
    set_state(s, s->skip_return, now_ms);
    return refuse(s, text, now_ms);
  }
  if (!s->bdat_last) {
    replyf(s, "250 2.0.0 %" G_GINT64_FORMAT " octets received", smtp_data_decoder_size(s->dec));
    set_state(s, SMTP_STATE_BDAT_WAIT, now_ms);
    return SMTP_CONTINUE;
  }
  smtp_data_decoder_finish(s->dec);
  return finish_message(s, now_ms);
}

/* Reads one command line if a whole one is buffered. */
static SmtpAction process_line(SmtpSession *s, gint64 now_ms, gboolean *progress)
{
  char line[SMTP_MAX_TEXT_LINE + 1];
  gsize n = 0;
  SmtpInputLine got = smtp_input_line(s->in, line, &n, &s->discard_line);
  if (got == SMTP_INPUT_NONE) return SMTP_CONTINUE;
  *progress = TRUE;
  if (got == SMTP_INPUT_DROPPED) return SMTP_CONTINUE;
  if (got == SMTP_INPUT_TOO_LONG) return refuse(s, "500 5.5.2 Error: line too long", now_ms);
  s->deadline_ms = now_ms + s->lim.command_timeout_ms; /* per command */
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
    case SMTP_STATE_BDAT_SKIP:
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

/* Message octets are arriving, or expected between BDAT chunks: the data rate is watched. */
static gboolean in_transfer(const SmtpSession *s)
{
  return s->state == SMTP_STATE_DATA || s->state == SMTP_STATE_BDAT || s->state == SMTP_STATE_BDAT_WAIT ||
         s->state == SMTP_STATE_BDAT_SKIP;
}

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
  if (in_transfer(s) && s->lim.min_data_rate > 0 && now_ms - s->rate.start_ms > s->lim.rate_grace_ms &&
      smtp_rate_below(&s->rate, now_ms, s->lim.rate_window_ms, s->lim.min_data_rate)) {
    ma_info("smtp", "data rate too low client=%s octets=%" G_GINT64_FORMAT " in ms=%" G_GINT64_FORMAT, s->client,
            s->rate.total, now_ms - s->rate.start_ms);
    return close_with(s, "421 4.4.2 Data rate too low, closing connection", now_ms);
  }
  return SMTP_CONTINUE;
}

gint64 smtp_session_next_wakeup(const SmtpSession *s, gint64 now_ms)
{
  gint64 next = s->deadline_ms;
  if (in_transfer(s) && s->lim.min_data_rate > 0) next = MIN(next, now_ms + 1000); /* the rate, each second */
  return next;
}

SmtpAction smtp_session_shutdown(SmtpSession *s, gint64 now_ms)
{
  s->shutting_down = TRUE;
  if (s->state == SMTP_STATE_HELO || s->state == SMTP_STATE_IDLE || s->state == SMTP_STATE_GREETING)
    return close_with(s, "421 4.3.2 Service shutting down, closing connection", now_ms);
  return SMTP_CONTINUE;
}
