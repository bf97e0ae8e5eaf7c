/* smtp_parse.c - pure SMTP parsing: command verbs, MAIL/RCPT paths (RFC 5321 4.1.2) with ESMTP
 * parameters, the open-relay refusal for recipients, the BDAT chunk size, and the incremental
 * DATA/BDAT decoder.
 *
 * The decoder is a byte-at-a-time state machine, so a message split anywhere across reads decodes
 * the same. Only CRLF "." CRLF ends DATA: a CR or LF that is not part of a CRLF pair is a sticky
 * error and never starts a new line, so none of the SMTP smuggling endings (CVE-2023-51764 class)
 * can end a message early. The decoder never stores more than max_size octets.
 */
#include "smtp_parse.h"

#include <string.h>

/* ---- command verbs --------------------------------------------------------------------------- */

static const char *const cmd_names[SMTP_CMD__COUNT] = {
  [SMTP_CMD_UNKNOWN] = "UNKNOWN", [SMTP_CMD_HELO] = "HELO", [SMTP_CMD_EHLO] = "EHLO",
  [SMTP_CMD_MAIL] = "MAIL",       [SMTP_CMD_RCPT] = "RCPT", [SMTP_CMD_DATA] = "DATA",
  [SMTP_CMD_BDAT] = "BDAT",       [SMTP_CMD_RSET] = "RSET", [SMTP_CMD_NOOP] = "NOOP",
  [SMTP_CMD_QUIT] = "QUIT",       [SMTP_CMD_HELP] = "HELP", [SMTP_CMD_VRFY] = "VRFY",
  [SMTP_CMD_EXPN] = "EXPN",       [SMTP_CMD_STARTTLS] = "STARTTLS", [SMTP_CMD_AUTH] = "AUTH",
  [SMTP_CMD_ETRN] = "ETRN",
};

const char *smtp_cmd_name(SmtpCmd cmd)
{
  return cmd >= 0 && cmd < SMTP_CMD__COUNT ? cmd_names[cmd] : "UNKNOWN";
}

SmtpCmd smtp_parse_command(const char *line, gsize len, const char **arg, gboolean *bad)
{
  gsize i, verb_len;

  *bad = FALSE;
  *arg = line + len;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char) line[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      *bad = TRUE;
      return SMTP_CMD_UNKNOWN;
    }
  }
  for (verb_len = 0; verb_len < len && line[verb_len] != ' '; verb_len++)
    ;
  if (verb_len < len) *arg = line + verb_len + 1;
  for (int c = SMTP_CMD_HELO; c < SMTP_CMD__COUNT; c++) {
    if (strlen(cmd_names[c]) == verb_len && g_ascii_strncasecmp(line, cmd_names[c], verb_len) == 0)
      return (SmtpCmd) c;
  }
  return SMTP_CMD_UNKNOWN;
}

/* ---- paths ----------------------------------------------------------------------------------- */

static gboolean is_atext(unsigned char c)
{
  return g_ascii_isalnum(c) || c >= 0x80 || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static gboolean is_ldh(unsigned char c)
{
  return g_ascii_isalnum(c) || c == '-' || c >= 0x80;
}

/* Parses a domain (RFC 5321 Domain, UTF-8 labels allowed) or an address literal at p; returns the
 * end or NULL. */
static const char *parse_domain(const char *p, gboolean *literal)
{
  *literal = FALSE;
  if (*p == '[') {
    const char *q = p + 1;
    while (*q && *q != ']' && *q != '[' && *q != '\\' && (unsigned char) *q > 0x20) q++;
    if (*q != ']' || q == p + 1) return NULL;
    *literal = TRUE;
    return q + 1;
  }
  for (;;) {
    const char *label = p;
    while (is_ldh((unsigned char) *p)) p++;
    if (p == label || p - label > 63 || label[0] == '-' || p[-1] == '-') return NULL;
    if (*p != '.') return p;
    p++;
  }
}

/* Parses "<[@route:]local@domain>" or "<>" at p into out; returns the end (after '>') or NULL. */
static const char *parse_path(const char *p, SmtpPath *out, gboolean allow_null)
{
  const char *local_start, *local_end, *dom_start, *dom_end;
  gboolean literal;

  if (*p != '<') return NULL;
  p++;
  if (*p == '>') return allow_null ? p + 1 : NULL;
  if (*p == '@') { /* A-d-l: "@a,@b:" */
    out->source_route = TRUE;
    for (;;) {
      if (*p != '@') return NULL;
      p = parse_domain(p + 1, &literal);
      if (!p) return NULL;
      if (*p == ',') { p++; continue; }
      if (*p == ':') { p++; break; }
      return NULL;
    }
  }
  local_start = p;
  if (*p == '"') {
    out->quoted = TRUE;
    p++;
    while (*p && *p != '"') {
      if (*p == '\\') {
        p++;
        if ((unsigned char) *p < 0x20 || *p == 0x7f) return NULL;
      } else if ((unsigned char) *p < 0x20 || *p == 0x7f) {
        return NULL;
      }
      p++;
    }
    if (*p != '"') return NULL;
    p++;
  } else {
    for (;;) {
      const char *atom = p;
      while (is_atext((unsigned char) *p)) p++;
      if (p == atom) return NULL;
      if (*p != '.') break;
      p++;
    }
  }
  local_end = p;
  if (*p != '@') return NULL;
  dom_start = ++p;
  p = parse_domain(p, &literal);
  if (!p || *p != '>') return NULL;
  dom_end = p;
  if ((gsize) (local_end - local_start) > sizeof out->local - 1 || (gsize) (dom_end - dom_start) > SMTP_MAX_DOMAIN ||
      (gsize) (dom_end - local_start) > SMTP_MAX_PATH)
    return NULL;
  memcpy(out->local, local_start, local_end - local_start);
  out->local[local_end - local_start] = '\0';
  memcpy(out->domain, dom_start, dom_end - dom_start);
  out->domain[dom_end - dom_start] = '\0';
  memcpy(out->address, local_start, dom_end - local_start);
  out->address[dom_end - local_start] = '\0';
  for (const char *q = local_start; q < dom_end; q++)
    if ((unsigned char) *q >= 0x80) out->utf8 = TRUE;
  return p + 1;
}

static void path_init(SmtpPath *out)
{
  memset(out, 0, sizeof *out);
  out->size = -1;
}

/* Parses "KEYWORD[=value]" parameters separated by spaces. mail: MAIL's set, else RCPT (none). */
static int parse_params(const char *p, SmtpPath *out, gboolean mail, const char **reply_r)
{
  gboolean seen_size = FALSE, seen_body = FALSE;

  while (*p == ' ') p++;
  while (*p) {
    const char *kw = p, *eq = NULL, *val;
    gsize kw_len, val_len;
    while (*p && *p != ' ') {
      if (*p == '=' && !eq) eq = p;
      p++;
    }
    kw_len = (eq ? eq : p) - kw;
    val = eq ? eq + 1 : NULL;
    val_len = val ? (gsize) (p - val) : 0;
    if (!mail) {
      *reply_r = "555 5.5.4 Unsupported RCPT TO parameter";
      return -1;
    }
    if (kw_len == 4 && g_ascii_strncasecmp(kw, "SIZE", 4) == 0) {
      gint64 v = 0;
      if (seen_size || !val || val_len == 0 || val_len > 18) {
        *reply_r = "501 5.5.4 Bad SIZE parameter";
        return -1;
      }
      for (gsize i = 0; i < val_len; i++) {
        if (!g_ascii_isdigit(val[i])) {
          *reply_r = "501 5.5.4 Bad SIZE parameter";
          return -1;
        }
        v = v * 10 + (val[i] - '0');
      }
      seen_size = TRUE;
      out->size = v;
    } else if (kw_len == 4 && g_ascii_strncasecmp(kw, "BODY", 4) == 0) {
      if (seen_body || !val) {
        *reply_r = "501 5.5.4 Bad BODY parameter";
        return -1;
      }
      if (val_len == 4 && g_ascii_strncasecmp(val, "7BIT", 4) == 0) out->body = SMTP_BODY_7BIT;
      else if (val_len == 8 && g_ascii_strncasecmp(val, "8BITMIME", 8) == 0) out->body = SMTP_BODY_8BITMIME;
      else if (val_len == 10 && g_ascii_strncasecmp(val, "BINARYMIME", 10) == 0) out->body = SMTP_BODY_BINARYMIME;
      else {
        *reply_r = "501 5.5.4 Bad BODY parameter";
        return -1;
      }
      seen_body = TRUE;
    } else if (kw_len == 8 && g_ascii_strncasecmp(kw, "SMTPUTF8", 8) == 0) {
      if (val || out->smtputf8) {
        *reply_r = "501 5.5.4 Bad SMTPUTF8 parameter";
        return -1;
      }
      out->smtputf8 = TRUE;
    } else {
      *reply_r = "555 5.5.4 Unsupported MAIL FROM parameter";
      return -1;
    }
    while (*p == ' ') p++;
  }
  return 0;
}

static int parse_envelope(const char *arg, const char *keyword, SmtpPath *out, gboolean mail, const char **reply_r)
{
  gsize klen = strlen(keyword);
  const char *p;

  path_init(out);
  if (g_ascii_strncasecmp(arg, keyword, klen) != 0) {
    *reply_r = mail ? "501 5.5.4 Syntax: MAIL FROM:<address>" : "501 5.5.4 Syntax: RCPT TO:<address>";
    return -1;
  }
  p = arg + klen;
  while (*p == ' ') p++;
  p = parse_path(p, out, mail);
  if (!p || (*p && *p != ' ')) {
    *reply_r = mail ? "501 5.1.7 Bad sender address syntax" : "501 5.1.3 Bad recipient address syntax";
    return -1;
  }
  if (parse_params(p, out, mail, reply_r) < 0) return -1;
  if (out->utf8 && !out->smtputf8) {
    *reply_r = "553 5.6.7 Non-ASCII address needs SMTPUTF8";
    return -1;
  }
  return 0;
}

int smtp_parse_mail(const char *arg, SmtpPath *out, const char **reply_r)
{
  return parse_envelope(arg, "FROM:", out, TRUE, reply_r);
}

int smtp_parse_rcpt(const char *arg, SmtpPath *out, const char **reply_r)
{
  return parse_envelope(arg, "TO:", out, FALSE, reply_r);
}

int smtp_rcpt_local_part(const SmtpPath *path, const char *inbound_domain, char local_r[SMTP_MAX_LOCAL + 1],
                         const char **reply_r)
{
  gsize n = strlen(path->local);

  if (path->address[0] == '\0') {
    *reply_r = "501 5.1.3 Bad recipient address syntax";
    return -1;
  }
  if (path->source_route) {
    *reply_r = "550 5.7.1 Source routes are not accepted; relay access denied";
    return -1;
  }
  if (path->domain[0] == '[') {
    *reply_r = "550 5.7.1 Address literals are not accepted; relay access denied";
    return -1;
  }
  if (g_ascii_strcasecmp(path->domain, inbound_domain) != 0) {
    *reply_r = "550 5.7.1 Relay access denied";
    return -1;
  }
  if (path->quoted) {
    *reply_r = "550 5.7.1 Quoted local parts are not accepted; relay access denied";
    return -1;
  }
  for (gsize i = 0; i < n; i++) {
    unsigned char c = (unsigned char) path->local[i];
    if (c == '%' || c == '!' || c == '@' || c == ':') {
      *reply_r = "550 5.7.1 Relay access denied";
      return -1;
    }
    if (!(g_ascii_isalnum(c) || c == '.' || c == '_' || c == '+' || c == '-')) {
      *reply_r = "550 5.1.1 No such recipient here";
      return -1;
    }
  }
  if (n == 0 || n > SMTP_MAX_LOCAL) {
    *reply_r = "550 5.1.1 No such recipient here";
    return -1;
  }
  for (gsize i = 0; i <= n; i++) local_r[i] = g_ascii_tolower(path->local[i]);
  return 0;
}

/* ---- BDAT ------------------------------------------------------------------------------------ */

int smtp_parse_bdat(const char *arg, gint64 *size_r, gboolean *last_r)
{
  const char *p = arg;
  gint64 size = 0;
  int digits = 0;
  for (; g_ascii_isdigit(*p); p++) {
    if (++digits > 18) return -1; /* below G_MAXINT64, and far above any size limit */
    size = size * 10 + (*p - '0');
  }
  if (digits == 0) return -1;
  *last_r = FALSE;
  if (*p == ' ' && g_ascii_strcasecmp(p + 1, "LAST") == 0) {
    *last_r = TRUE;
    p += 5;
  }
  if (*p) return -1;
  *size_r = size;
  return 0;
}

/* ---- DATA / BDAT decoder ----------------------------------------------------------------------- */

typedef enum { DEC_BOL, DEC_MID, DEC_CR, DEC_DOT, DEC_DOT_CR, DEC_DONE } DecState;

struct SmtpDataDecoder {
  SmtpDataLimits lim;
  gboolean dot_mode;
  SmtpDataSink sink;
  void *sink_ctx;
  DecState state;
  SmtpDataError error;
  gint64 size;            /* message octets produced */
  guint line_len;         /* octets of the current line on the wire, without CRLF */
  gboolean in_headers;
  guint header_len;       /* current logical header */
  guint header_count;
  gint64 header_total;
  gint64 header_end;      /* message octets up to and including the blank line, -1 until seen */
  guint8 pending[4096];   /* output not yet appended to out */
  guint npending;
};

SmtpDataDecoder *smtp_data_decoder_new_sink(const SmtpDataLimits *limits, gboolean dot_mode, SmtpDataSink sink,
                                            void *sink_ctx)
{
  SmtpDataDecoder *d = g_new0(SmtpDataDecoder, 1);
  d->lim = *limits;
  d->dot_mode = dot_mode;
  d->sink = sink;
  d->sink_ctx = sink_ctx;
  d->state = DEC_BOL;
  d->in_headers = TRUE;
  d->header_end = -1;
  return d;
}

static void byte_array_sink(void *ctx, const guint8 *p, gsize n)
{
  g_byte_array_append(ctx, p, (guint) n);
}

SmtpDataDecoder *smtp_data_decoder_new(const SmtpDataLimits *limits, gboolean dot_mode, GByteArray *out)
{
  return smtp_data_decoder_new_sink(limits, dot_mode, byte_array_sink, out);
}

void smtp_data_decoder_free(SmtpDataDecoder *d)
{
  g_free(d);
}

static void set_error(SmtpDataDecoder *d, SmtpDataError e)
{
  if (d->error == SMTP_DATA_OK) d->error = e;
}

static void flush_pending(SmtpDataDecoder *d)
{
  if (d->npending) {
    d->sink(d->sink_ctx, d->pending, d->npending);
    d->npending = 0;
  }
}

/* Appends one octet of message content, counting it against the limits. */
static inline void emit(SmtpDataDecoder *d, guint8 c)
{
  d->size++;
  if (d->size > d->lim.max_size) {
    set_error(d, SMTP_DATA_TOO_BIG);
    return;
  }
  if (d->error != SMTP_DATA_OK) return; /* the message is refused: keep counting, stop storing */
  d->pending[d->npending++] = c;
  if (d->npending == sizeof d->pending) flush_pending(d);
}

static inline void count_line_octet(SmtpDataDecoder *d)
{
  d->line_len++;
  if (d->line_len + 2 > d->lim.max_line) set_error(d, SMTP_DATA_LINE_TOO_LONG);
  if (d->in_headers) {
    d->header_len++;
    d->header_total++;
    if (d->header_len > d->lim.max_header || d->header_total > (gint64) d->lim.max_header * 10)
      set_error(d, SMTP_DATA_HEADER_TOO_BIG);
  }
}

/* Content octet in the middle of a line (also handles CR and a bare LF). */
static inline void mid(SmtpDataDecoder *d, guint8 c)
{
  if (c == '\r') {
    d->state = DEC_CR;
  } else if (c == '\n') {
    /* a bare LF: an error, and NOT a new line, so a following "." cannot end DATA */
    set_error(d, SMTP_DATA_BARE_NEWLINE);
    emit(d, c);
    count_line_octet(d);
    d->state = DEC_MID;
  } else {
    emit(d, c);
    count_line_octet(d);
    d->state = DEC_MID;
  }
}

/* First octet of a line. */
static inline void bol(SmtpDataDecoder *d, guint8 c)
{
  if (d->in_headers && c != '\r') {
    if (c == ' ' || c == '\t') {
      /* folded continuation of the current header */
    } else {
      d->header_count++;
      d->header_len = 0;
      if (d->header_count > d->lim.max_headers) set_error(d, SMTP_DATA_HEADER_TOO_BIG);
    }
  }
  mid(d, c);
}

/* Fast path: in the middle of a line with no error yet, takes the run of octets up to the next CR
 * or LF at once when it cannot reach any limit (else the octet-by-octet path decides exactly which
 * octet does). Returns the octets taken (0: use the slow path). */
static gsize mid_run(SmtpDataDecoder *d, const guint8 *p, gsize n)
{
  gsize run = 0;
  while (run < n && p[run] != '\r' && p[run] != '\n') run++;
  if (run < 2 || d->size + (gint64) run > d->lim.max_size || d->line_len + run + 2 > d->lim.max_line)
    return 0;
  if (d->in_headers && (d->header_len + run > d->lim.max_header ||
                        d->header_total + (gint64) run > (gint64) d->lim.max_header * 10))
    return 0;
  d->size += run;
  d->line_len += (guint) run;
  if (d->in_headers) {
    d->header_len += (guint) run;
    d->header_total += run;
  }
  if (d->npending + run > sizeof d->pending) flush_pending(d);
  if (run > sizeof d->pending) {
    d->sink(d->sink_ctx, p, run);
  } else {
    memcpy(d->pending + d->npending, p, run);
    d->npending += (guint) run;
  }
  return run;
}

int smtp_data_decoder_feed(SmtpDataDecoder *d, const guint8 *buf, gsize len, gsize *consumed)
{
  gsize i;

  for (i = 0; i < len && d->state != DEC_DONE; i++) {
    guint8 c = buf[i];
    if (d->state == DEC_MID && d->error == SMTP_DATA_OK) {
      gsize run = mid_run(d, buf + i, len - i);
      if (run > 0) {
        i += run - 1;
        continue;
      }
    }
    switch (d->state) {
    case DEC_BOL:
      if (d->dot_mode && c == '.') {
        d->line_len = 1; /* the stuffed dot counts on the wire but is not content */
        d->state = DEC_DOT;
      } else {
        bol(d, c);
      }
      break;
    case DEC_MID:
      mid(d, c);
      break;
    case DEC_CR:
      if (c == '\n') {
        gboolean blank = d->in_headers && d->line_len == 0;
        emit(d, '\r');
        emit(d, '\n');
        if (blank) {
          d->in_headers = FALSE;
          d->header_end = d->size;
        }
        d->line_len = 0;
        d->state = DEC_BOL;
      } else {
        set_error(d, SMTP_DATA_BARE_NEWLINE); /* a bare CR */
        emit(d, '\r');
        count_line_octet(d);
        mid(d, c);
      }
      break;
    case DEC_DOT:
      if (c == '\r') d->state = DEC_DOT_CR;
      else bol(d, c); /* "..x" -> ".x", ".x" -> "x" (RFC 5321 4.5.2) */
      break;
    case DEC_DOT_CR:
      if (c == '\n') {
        d->state = DEC_DONE;
      } else {
        set_error(d, SMTP_DATA_BARE_NEWLINE);
        emit(d, '\r');
        count_line_octet(d);
        mid(d, c);
      }
      break;
    case DEC_DONE:
      break;
    }
  }
  flush_pending(d);
  *consumed = i;
  return d->state == DEC_DONE ? 1 : 0;
}

void smtp_data_decoder_finish(SmtpDataDecoder *d)
{
  if (d->state == DEC_CR || d->state == DEC_DOT_CR) set_error(d, SMTP_DATA_BARE_NEWLINE);
  flush_pending(d);
  d->state = DEC_DONE;
}

SmtpDataError smtp_data_decoder_error(const SmtpDataDecoder *d)
{
  return d->error;
}

gint64 smtp_data_decoder_size(const SmtpDataDecoder *d)
{
  return d->size;
}

gint64 smtp_data_decoder_header_size(const SmtpDataDecoder *d)
{
  return d->header_end >= 0 ? d->header_end : d->size;
}

const char *smtp_data_error_reply(SmtpDataError e)
{
  switch (e) {
  case SMTP_DATA_OK: return "250 2.0.0 OK";
  case SMTP_DATA_BARE_NEWLINE:
    return "550 5.5.2 Message refused: bare CR or LF in message content (only CRLF line endings are accepted)";
  case SMTP_DATA_TOO_BIG: return "552 5.3.4 Message size exceeds fixed limit";
  case SMTP_DATA_LINE_TOO_LONG: return "550 5.5.2 Message refused: a line is longer than 1000 octets";
  case SMTP_DATA_HEADER_TOO_BIG: return "552 5.3.4 Message header too large";
  }
  return "554 5.3.0 Message refused";
}
