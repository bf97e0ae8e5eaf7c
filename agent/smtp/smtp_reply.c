/* smtp_reply.c - the SMTP reply grammar (RFC 5321 4.2) as a push parser, one octet at a time so a
 * reply split anywhere across reads parses the same; plus the EHLO keyword reader. Pure: no I/O,
 * no allocation, bounded by the limits in smtp_reply.h whatever the peer sends.
 */
#include "smtp_reply.h"

#include <stdlib.h>
#include <string.h>

void smtp_reply_parser_init(SmtpReplyParser *p)
{
  memset(p, 0, sizeof *p);
}

gboolean smtp_reply_parser_pending(const SmtpReplyParser *p)
{
  return p->line_len > 0 || p->overlong || p->cur.lines > 0;
}

/* "x.y.z" at the start of text with x the reply's class, y and z of 1-3 digits, then a space or
 * the end: the enhanced status code (RFC 3463 2). Copies it to out. */
static void read_enhanced(const char *text, int code, char out[16])
{
  const char *p = text;
  out[0] = '\0';
  if (p[0] != '0' + code / 100 || p[1] != '.') return;
  p += 2;
  for (int part = 0; part < 2; part++) {
    int digits = 0;
    while (g_ascii_isdigit(*p) && digits < 4) p++, digits++;
    if (digits < 1 || digits > 3) return;
    if (part == 0 && *p++ != '.') return;
  }
  if (*p != '\0' && *p != ' ') return;
  gsize n = (gsize) (p - text);
  memcpy(out, text, n);
  out[n] = '\0';
}

static void append_text(SmtpReply *r, const char *text, gsize len)
{
  gsize have = strlen(r->text);
  if (r->lines > 0 && have < SMTP_REPLY_MAX_TEXT) r->text[have++] = '\n';
  gsize room = SMTP_REPLY_MAX_TEXT - have;
  if (len > room) {
    len = room;
    r->truncated = TRUE;
  }
  memcpy(r->text + have, text, len);
  r->text[have + len] = '\0';
}

/* One complete line (CR/LF removed). 1: the reply ended; 0: more lines follow; -1: error. */
static int take_line(SmtpReplyParser *p, const char **error_r)
{
  const char *l = p->line;
  gsize n = p->line_len;
  if (n < 3 || l[0] < '2' || l[0] > '5' || !g_ascii_isdigit(l[1]) || !g_ascii_isdigit(l[2])) {
    *error_r = "reply line does not start with a three-digit code";
    return -1;
  }
  if (n > 3 && l[3] != ' ' && l[3] != '-') {
    *error_r = "reply code not followed by space or hyphen";
    return -1;
  }
  int code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
  if (p->cur.lines > 0 && code != p->cur.code) {
    *error_r = "multi-line reply changes its code";
    return -1;
  }
  if (p->cur.lines == SMTP_REPLY_MAX_LINES) {
    *error_r = "reply has too many lines";
    return -1;
  }
  const char *text = n > 4 ? l + 4 : "";
  gsize text_len = n > 4 ? n - 4 : 0;
  for (gsize i = 0; i < text_len; i++)
    if (text[i] == '\0') {
      *error_r = "reply contains NUL";
      return -1;
    }
  if (p->cur.lines == 0) {
    p->cur.code = code;
    read_enhanced(text, code, p->cur.enhanced);
  }
  append_text(&p->cur, text, text_len);
  p->cur.lines++;
  return n > 3 && l[3] == '-' ? 0 : 1;
}

int smtp_reply_feed(SmtpReplyParser *p, const char *buf, gsize len, gsize *consumed, SmtpReply *out,
                    const char **error_r)
{
  for (gsize i = 0; i < len; i++) {
    char c = buf[i];
    if (c != '\n') {
      if (p->line_len < SMTP_REPLY_MAX_LINE) p->line[p->line_len++] = c;
      else p->overlong = TRUE;
      continue;
    }
    if (p->overlong) {
      *error_r = "reply line too long";
      *consumed = i + 1;
      return -1;
    }
    if (p->line_len > 0 && p->line[p->line_len - 1] == '\r') p->line_len--;
    p->line[p->line_len] = '\0';
    int rc = take_line(p, error_r);
    p->line_len = 0;
    if (rc < 0) {
      *consumed = i + 1;
      return -1;
    }
    if (rc == 1) {
      *out = p->cur;
      memset(&p->cur, 0, sizeof p->cur);
      *consumed = i + 1;
      return 1;
    }
  }
  *consumed = len;
  return 0;
}

void smtp_reply_summary(const SmtpReply *r, char *out, gsize size)
{
  g_assert(size > 0);
  const char *nl = strchr(r->text, '\n');
  gsize first = nl ? (gsize) (nl - r->text) : strlen(r->text);
  /* the enhanced code is part of the text already when present */
  g_snprintf(out, size, "%03d %.*s", r->code, (int) first, r->text);
  for (char *c = out; *c; c++)
    if ((unsigned char) *c < 0x20 || *c == 0x7f) *c = '?';
}

static gboolean keyword_is(const char *line, gsize len, const char *kw, const char **rest)
{
  gsize k = strlen(kw);
  if (len < k || g_ascii_strncasecmp(line, kw, k) != 0) return FALSE;
  if (len > k && line[k] != ' ' && line[k] != '=') return FALSE;
  *rest = line + k;
  return TRUE;
}

void smtp_reply_ehlo_caps(const SmtpReply *r, SmtpEhloCaps *caps)
{
  memset(caps, 0, sizeof *caps);
  const char *p = strchr(r->text, '\n');
  while (p) {
    const char *line = p + 1;
    const char *end = strchr(line, '\n');
    gsize len = end ? (gsize) (end - line) : strlen(line);
    const char *rest = NULL;
    if (keyword_is(line, len, "PIPELINING", &rest)) caps->pipelining = TRUE;
    else if (keyword_is(line, len, "STARTTLS", &rest)) caps->starttls = TRUE;
    else if (keyword_is(line, len, "8BITMIME", &rest)) caps->eightbitmime = TRUE;
    else if (keyword_is(line, len, "SMTPUTF8", &rest)) caps->smtputf8 = TRUE;
    else if (keyword_is(line, len, "ENHANCEDSTATUSCODES", &rest)) caps->enhancedstatuscodes = TRUE;
    else if (keyword_is(line, len, "CHUNKING", &rest)) caps->chunking = TRUE;
    else if (keyword_is(line, len, "SIZE", &rest)) {
      char num[24] = "";
      gsize n = (gsize) (line + len - rest);
      if (n > 1 && n < sizeof num) {
        memcpy(num, rest + 1, n - 1);
        num[n - 1] = '\0';
        char *e = NULL;
        gint64 v = g_ascii_strtoll(num, &e, 10);
        if (e && *e == '\0' && v > 0) caps->size = v;
      }
    } else if (keyword_is(line, len, "AUTH", &rest)) {
      /* "AUTH PLAIN LOGIN" (and the old "AUTH=PLAIN LOGIN") */
      const char *q = rest;
      const char *stop = line + len;
      while (q < stop) {
        while (q < stop && (*q == ' ' || *q == '=')) q++;
        const char *w = q;
        while (q < stop && *q != ' ') q++;
        gsize wl = (gsize) (q - w);
        if (wl == 5 && g_ascii_strncasecmp(w, "PLAIN", 5) == 0) caps->auth_plain = TRUE;
        else if (wl == 5 && g_ascii_strncasecmp(w, "LOGIN", 5) == 0) caps->auth_login = TRUE;
        else if (wl == 7 && g_ascii_strncasecmp(w, "XOAUTH2", 7) == 0) caps->auth_xoauth2 = TRUE;
        else if (wl == 11 && g_ascii_strncasecmp(w, "OAUTHBEARER", 11) == 0) caps->auth_oauthbearer = TRUE;
      }
    }
    p = end;
  }
}
