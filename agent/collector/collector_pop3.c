/* collector_pop3.c - one POP3 session of the collector, as one explicit state machine on libetpan's
 * mailpop3 over our OpenSSL stream (collector_stream).
 *
 *   CONNECT -> [TLS] -> GREETING -> [STLS] -> AUTH -> LIST (LIST + UIDL) -> RETR (rounds) -> QUIT -> DONE
 *
 * UIDL-based and never deletes (no DELE is ever sent): a message is collected once per UIDL, the
 * UIDLs recorded only after the round is durable in the spool. POP3 has no date search, so the
 * first sync's window (p->since, as IMAP's SEARCH SINCE) is applied by each message's Date header,
 * read with TOP n 0: older mail is recorded as done without being fetched, mail without a readable
 * Date is taken. A checkpoint row marks the window done when the first sync reaches the end; later
 * syncs take every new UIDL. A server without UIDL is refused (without it a
 * message cannot be recognised again). RETR is read by our own reader, not libetpan's (which holds
 * the whole message): the reply is un-stuffed as it arrives, straight into the message's spool
 * file, so memory stays at one read buffer whatever the size. A message over the size limit fails
 * alone and is quarantined after three tries.
 *
 * OAuth2: libetpan has no SASL XOAUTH2 for POP3, so `AUTH XOAUTH2 <initial response>` is written
 * here on libetpan's stream; a "+ <error challenge>" is answered with an empty line as RFC 7628
 * 3.2.3 says, and the final -ERR read.
 */
#include "collector.h"
#include "collector_stream.h"

#include "agent/lib/error.h"
#include "agent/oauth2/oauth2.h"
#include "agent/smtp/smtp_parse.h" /* the dot-stuffing decoder: RFC 1939 3 is RFC 5321 4.5.2 */

#include <libetpan/libetpan.h>
#include <string.h>

#define POP3_REPLY_QUOTE_MAX 200
#define POP3_FAILURES_BEFORE_QUARANTINE MA_MAILBOX_QUARANTINE_AFTER
#define POP3_LINE_MAX 8192
/* libetpan's private state number for "authenticated" (mailpop3.c: DISCONNECTED, AUTHORIZATION,
 * TRANSACTION); set after our own AUTH XOAUTH2 so its LIST and RETR accept the session. */
#define LIBETPAN_POP3_STATE_TRANSACTION 2

typedef enum {
  POP3_CONNECT,
  POP3_TLS,
  POP3_GREETING,
  POP3_STLS,
  POP3_AUTH,
  POP3_LIST,
  POP3_RETR,
  POP3_QUIT,
  POP3_DONE,
} Pop3State;

typedef struct {
  const CollectorSessionParams *p;
  CollectorSink *sink;
  CollectorSessionResult *res;
  Pop3State state;
  mailstream *stream;      /* ours until handed to mailpop3_connect */
  gboolean stream_given;   /* mailpop3 owns (and closes) the stream */
  mailpop3 *pop3;
  carray *msgs;       /* libetpan's LIST/UIDL table (owned by pop3) */
  guint pos;
  gsize round_bytes;
  gboolean window;    /* the binding's first sync: only mail dated on or after p->since */
} Pop3Session;

static char *quote(const char *r)
{
  GString *out = g_string_new(NULL);
  for (const char *c = r ? r : "(no reply)"; *c && out->len < POP3_REPLY_QUOTE_MAX; c++)
    g_string_append_c(out, (unsigned char)*c < 0x20 || *c == 0x7f ? ' ' : *c);
  return g_string_free(out, FALSE);
}

static int fail(Pop3Session *s, GError **error, int code, const char *step, int rc)
{
  g_autofree char *reply = quote(s->pop3 ? s->pop3->pop3_response : NULL);
  if (s->stream && collector_stream_over_budget(s->stream))
    g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "%s: the server's response exceeded the limit", step);
  else if (rc == MAILPOP3_ERROR_STREAM)
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: connection lost or timed out", step);
  else
    g_set_error(error, MA_ERROR, code, "%s: %s", step, reply);
  return -1;
}

static void budget(Pop3Session *s, gsize bytes)
{
  collector_stream_set_budget(s->stream, bytes);
}

static int pop3_connect(Pop3Session *s, GError **error)
{
  const MaMailbox *m = s->p->mailbox;
  if (collector_stream_connect(m->host, m->port, s->p->timeout_ms, &s->stream, error) < 0) return -1;
  return g_str_equal(m->security, "tls") ? POP3_TLS : POP3_GREETING;
}

static int pop3_tls(Pop3Session *s, GError **error)
{
  const MaMailbox *m = s->p->mailbox;
  if (collector_stream_start_tls(s->stream, s->p->tls, m->host, !m->allow_untrusted, error) < 0) return -1;
  s->res->untrusted = m->allow_untrusted;
  return s->state == POP3_STLS ? POP3_AUTH : POP3_GREETING;
}

static int pop3_greeting(Pop3Session *s, GError **error)
{
  budget(s, POP3_LINE_MAX);
  s->stream_given = TRUE;
  int rc = mailpop3_connect(s->pop3, s->stream);
  if (rc != MAILPOP3_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "greeting", rc);
  return collector_stream_is_tls(s->stream) ? POP3_AUTH : POP3_STLS;
}

static int pop3_stls(Pop3Session *s, GError **error)
{
  budget(s, 64 * 1024);
  int rc = mailpop3_stls(s->pop3);
  if (rc != MAILPOP3_NO_ERROR) return fail(s, error, MA_ERROR_INVALID, "starttls", rc);
  return pop3_tls(s, error);
}

/* Reads one reply line into a new string (CRLF removed). NULL when the stream failed. */
static char *read_line(Pop3Session *s)
{
  MMAPString *buf = mmap_string_new("");
  char *line = mailstream_read_line_remove_eol(s->stream, buf);
  char *out = line ? g_strndup(line, POP3_LINE_MAX) : NULL;
  mmap_string_free(buf);
  return out;
}

static int send_line(Pop3Session *s, const char *text)
{
  if (mailstream_write(s->stream, text, strlen(text)) < 0 || mailstream_write(s->stream, "\r\n", 2) < 0 ||
      mailstream_flush(s->stream) < 0)
    return -1;
  return 0;
}

static int auth_xoauth2(Pop3Session *s, GError **error)
{
  const MaMailbox *m = s->p->mailbox;
  g_autofree char *ir = oauth2_sasl_xoauth2(m->username, s->p->secret);
  g_autofree char *cmd = g_strconcat("AUTH XOAUTH2 ", ir, NULL);
  mailstream_set_privacy(s->stream, 0);
  int wrc = send_line(s, cmd);
  memset(cmd, 0, strlen(cmd));
  memset(ir, 0, strlen(ir));
  mailstream_set_privacy(s->stream, 1);
  g_autofree char *reply = wrc == 0 ? read_line(s) : NULL;
  if (reply && reply[0] == '+' && reply[1] != 'O') {
    /* an error challenge (base64 JSON): the client answers with an empty response, the server
     * then sends its final -ERR (RFC 7628 3.2.3) */
    g_free(reply);
    reply = send_line(s, "") == 0 ? read_line(s) : NULL;
  }
  if (!reply) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "auth: connection lost or timed out");
    return -1;
  }
  if (!g_str_has_prefix(reply, "+OK")) {
    s->res->auth_failed = TRUE;
    g_autofree char *q = quote(reply);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "auth: %s", q);
    return -1;
  }
  s->pop3->pop3_state = LIBETPAN_POP3_STATE_TRANSACTION;
  return 0;
}

static int pop3_auth(Pop3Session *s, GError **error)
{
  const MaMailbox *m = s->p->mailbox;
  budget(s, 64 * 1024);
  if (g_str_equal(m->auth, "oauth2")) return auth_xoauth2(s, error) < 0 ? -1 : POP3_LIST;
  int rc = mailpop3_user(s->pop3, m->username);
  if (rc == MAILPOP3_NO_ERROR) rc = mailpop3_pass(s->pop3, s->p->secret);
  if (rc != MAILPOP3_NO_ERROR) {
    if (rc != MAILPOP3_ERROR_STREAM) s->res->auth_failed = TRUE;
    return fail(s, error, MA_ERROR_INVALID, "auth", rc);
  }
  return POP3_LIST;
}

static int pop3_list(Pop3Session *s, GError **error)
{
  budget(s, s->p->batch_bytes + (1 << 20));
  int rc = mailpop3_list(s->pop3, &s->msgs);
  if (rc != MAILPOP3_NO_ERROR) return fail(s, error, MA_ERROR_TEMPFAIL, "list", rc);
  for (guint i = 0; s->msgs && i < carray_count(s->msgs); i++) {
    struct mailpop3_msg_info *mi = carray_get(s->msgs, i);
    if (mi && !mi->msg_uidl) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "list: the server does not answer UIDL");
      return -1;
    }
  }
  if (s->p->verify_only) return POP3_QUIT;
  MaFolderCheckpoint cp;
  int synced = collector_sink_checkpoint(s->sink, "", &cp, error);
  if (synced < 0) return -1;
  s->window = synced == 0 && s->p->since > 0;
  s->pos = 0;
  return POP3_RETR;
}

/* Makes the round durable and records its UIDLs. last: the sync reached the end of the list, which
 * on a first sync also records that the date window was applied. */
static int commit(Pop3Session *s, gboolean last, GError **error)
{
  gint64 before = collector_sink_spooled(s->sink);
  MaFolderCheckpoint done = {.uidvalidity = 1}; /* POP3 has no UIDVALIDITY: 1 only means "synced once" */
  if (collector_sink_commit(s->sink, "", 0, last && s->window ? &done : NULL, error) < 0) return -1;
  s->res->fetched += collector_sink_spooled(s->sink) - before;
  s->round_bytes = 0;
  return 0;
}

/* Counts a failure of one message; TRUE when it is now quarantined (skip it for good). */
static gboolean message_failed(Pop3Session *s, const char *uidl, const char *why, gboolean permanent)
{
  int count = 0;
  for (int i = 0; i < (permanent ? POP3_FAILURES_BEFORE_QUARANTINE : 1); i++)
    if (collector_sink_fail(s->sink, "", uidl, why, &count) < 0) return FALSE;
  if (count < POP3_FAILURES_BEFORE_QUARANTINE) return FALSE;
  s->res->quarantined++;
  return TRUE;
}

/* The Date header of a message as Unix seconds, from its header section (TOP n 0); 0 when there
 * is none or it cannot be read. */
static gint64 header_date(const char *head, size_t len)
{
  size_t at = 0;
  struct mailimf_fields *fields = NULL;
  if (mailimf_envelope_fields_parse(head, len, &at, &fields) != MAILIMF_NO_ERROR) return 0;
  gint64 when = 0;
  for (clistiter *it = clist_begin(fields->fld_list); it; it = clist_next(it)) {
    struct mailimf_field *f = clist_content(it);
    if (f->fld_type != MAILIMF_FIELD_ORIG_DATE || !f->fld_data.fld_orig_date) continue;
    const struct mailimf_date_time *dt = f->fld_data.fld_orig_date->dt_date_time;
    if (!dt || dt->dt_year < 1970 || dt->dt_year > 9999 || dt->dt_month < 1 || dt->dt_month > 12 || dt->dt_day < 1 ||
        dt->dt_day > 31)
      break;
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
    g_autoptr(GDateTime) t = g_date_time_new(utc, dt->dt_year, dt->dt_month, dt->dt_day, CLAMP(dt->dt_hour, 0, 23),
                                             CLAMP(dt->dt_min, 0, 59), CLAMP(dt->dt_sec, 0, 59));
    int zone = ABS(dt->dt_zone) % 10000; /* +hhmm as the number hhmm */
    gint64 offset = (gint64)(zone / 100) * 3600 + (zone % 100) * 60;
    if (t) when = g_date_time_to_unix(t) - (dt->dt_zone < 0 ? -offset : offset);
    break;
  }
  mailimf_fields_free(fields);
  return when > 0 ? when : 0;
}

/* TRUE when the first sync's window leaves message index out: its Date is before p->since. A
 * failed TOP takes the message (the window only ever saves work). */
static gboolean before_window(Pop3Session *s, guint index)
{
  char *head = NULL;
  size_t len = 0;
  budget(s, 1 << 20);
  if (mailpop3_top(s->pop3, index, 0, &head, &len) != MAILPOP3_NO_ERROR) return FALSE;
  gint64 date = header_date(head, len);
  mailpop3_top_free(head);
  return date > 0 && date < s->p->since;
}

typedef enum { RETR_OK, RETR_REFUSED, RETR_TOO_LARGE, RETR_MALFORMED } RetrOutcome;

static void retr_to_body(void *ctx, const guint8 *p, gsize n)
{
  collector_body_append(ctx, p, n);
}

/* RETR n with our own reader instead of libetpan's mailpop3_retr, which holds the whole message:
 * the reply's octets pass through the dot-stuffing decoder straight into the message's spool file,
 * one read buffer at a time. *out: the body (RETR_OK) or NULL. -1 with *error when the connection
 * failed (MA_ERROR_TEMPFAIL) or the server broke the protocol (MA_ERROR_INVALID). */
static int retr_streamed(Pop3Session *s, guint index, RetrOutcome *outcome, CollectorBody **out, GError **error)
{
  *out = NULL;
  budget(s, POP3_LINE_MAX);
  char cmd[32];
  g_snprintf(cmd, sizeof cmd, "RETR %u", index);
  g_autofree char *status = send_line(s, cmd) == 0 ? read_line(s) : NULL;
  if (!status) return fail(s, error, MA_ERROR_TEMPFAIL, "retr", MAILPOP3_ERROR_STREAM);
  if (!g_str_has_prefix(status, "+OK")) {
    *outcome = RETR_REFUSED;
    return 0;
  }
  CollectorBody *body = collector_sink_body_new(s->sink, "", error);
  if (!body) return -1;
  /* Stuffing adds at most one octet per line: twice the limit bounds any message within it. */
  budget(s, 2 * s->p->max_message + 64 * 1024);
  SmtpDataLimits lim = {.max_size = (gint64)s->p->max_message,
                        .max_line = (guint)MIN(s->p->max_message + 2, G_MAXUINT),
                        .max_header = 1 << 20,
                        .max_headers = 10000};
  SmtpDataDecoder *dec = smtp_data_decoder_new_sink(&lim, TRUE, retr_to_body, body);
  guint8 buf[64 * 1024];
  int done = 0;
  while (!done) {
    /* Only what is buffered or one read of the socket: mailstream_read would wait for a full buffer
     * past the end of the reply, until the time-out. */
    ssize_t avail = mailstream_feed_read_buffer(s->stream);
    ssize_t n = avail > 0 ? mailstream_read(s->stream, buf, MIN((gsize)avail, sizeof buf)) : -1;
    if (n <= 0) {
      smtp_data_decoder_free(dec);
      collector_body_free(body);
      return fail(s, error, MA_ERROR_TEMPFAIL, "retr", MAILPOP3_ERROR_STREAM);
    }
    gsize used = 0;
    done = smtp_data_decoder_feed(dec, buf, (gsize)n, &used);
    if (done && used < (gsize)n) {
      smtp_data_decoder_free(dec);
      collector_body_free(body);
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "retr: the server sent more after the end of the message");
      return -1;
    }
  }
  SmtpDataError derr = smtp_data_decoder_error(dec);
  smtp_data_decoder_free(dec);
  if (derr != SMTP_DATA_OK) {
    collector_body_free(body);
    *outcome = derr == SMTP_DATA_TOO_BIG ? RETR_TOO_LARGE : RETR_MALFORMED;
    return 0;
  }
  *outcome = RETR_OK;
  *out = body;
  return 0;
}

static int pop3_retr(Pop3Session *s, GError **error)
{
  guint n = s->msgs ? carray_count(s->msgs) : 0;
  if (s->pos >= n) return commit(s, TRUE, error) < 0 ? -1 : POP3_QUIT;
  struct mailpop3_msg_info *mi = carray_get(s->msgs, s->pos);
  s->pos++;
  if (!mi || mi->msg_deleted) return POP3_RETR;
  int seen = collector_sink_seen(s->sink, "", 0, mi->msg_uidl, error);
  if (seen < 0) return -1;
  if (seen) return POP3_RETR;
  if (mi->msg_size > s->p->max_message) {
    message_failed(s, mi->msg_uidl, "larger than the message size limit", TRUE);
    collector_sink_skip(s->sink, mi->msg_uidl);
    s->res->skipped++;
    return POP3_RETR;
  }
  if (s->window && before_window(s, mi->msg_index)) {
    collector_sink_skip(s->sink, mi->msg_uidl);
    return POP3_RETR;
  }
  RetrOutcome outcome = RETR_REFUSED;
  CollectorBody *body = NULL;
  GError *e = NULL;
  int rc = retr_streamed(s, mi->msg_index, &outcome, &body, &e);
  collector_crash_point("after_fetch");
  if (rc < 0) {
    /* what is queued is still good: keep it, then report */
    if (collector_stream_over_budget(s->stream))
      message_failed(s, mi->msg_uidl, "larger than the message size limit", FALSE);
    if (commit(s, FALSE, error) < 0) {
      g_error_free(e);
      return -1;
    }
    g_propagate_error(error, e);
    return -1;
  }
  if (outcome != RETR_OK) {
    const char *why = outcome == RETR_TOO_LARGE ? "larger than the message size limit"
                      : outcome == RETR_MALFORMED ? "the server sent a malformed message (bare CR or LF, or a header over 1 MiB)"
                                                  : "RETR refused";
    if (message_failed(s, mi->msg_uidl, why, outcome == RETR_TOO_LARGE)) {
      collector_sink_skip(s->sink, mi->msg_uidl);
      s->res->skipped++;
    }
    return POP3_RETR;
  }
  gint64 len = collector_body_size(body);
  if (collector_sink_add_body(s->sink, mi->msg_uidl, body, error) < 0) return -1;
  s->round_bytes += (gsize)len;
  if (s->round_bytes >= s->p->batch_bytes && commit(s, FALSE, error) < 0) return -1;
  return POP3_RETR;
}

static int pop3_quit(Pop3Session *s, GError **error)
{
  budget(s, POP3_LINE_MAX);
  mailpop3_quit(s->pop3); /* no DELE was sent, so QUIT removes nothing */
  return POP3_DONE;
}

/* The one place the state changes. */
static int pop3_step(Pop3Session *s, GError **error)
{
  int next;
  switch (s->state) {
  case POP3_CONNECT: next = pop3_connect(s, error); break;
  case POP3_TLS: next = pop3_tls(s, error); break;
  case POP3_GREETING: next = pop3_greeting(s, error); break;
  case POP3_STLS: next = pop3_stls(s, error); break;
  case POP3_AUTH: next = pop3_auth(s, error); break;
  case POP3_LIST: next = pop3_list(s, error); break;
  case POP3_RETR: next = pop3_retr(s, error); break;
  case POP3_QUIT: next = pop3_quit(s, error); break;
  default: g_assert_not_reached();
  }
  if (next < 0) return -1;
  s->state = (Pop3State)next;
  return 0;
}

int collector_pop3_run(const CollectorSessionParams *p, CollectorSink *sink, CollectorSessionResult *res,
                       GError **error)
{
  g_assert(p && p->mailbox && p->secret && (sink || p->verify_only));
  Pop3Session s = {.p = p, .sink = sink, .res = res, .state = POP3_CONNECT};
  s.pop3 = mailpop3_new(0, NULL);
  int rc = 0;
  while (s.state != POP3_DONE && (rc = pop3_step(&s, error)) == 0) {
  }
  if (!s.stream_given && s.stream) mailstream_close(s.stream);
  mailpop3_free(s.pop3);
  return rc;
}
