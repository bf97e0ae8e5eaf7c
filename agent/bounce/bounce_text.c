/* bounce_text.c - reading the free text of bounces: the "Name: value" field groups of RFC 3464
 * and RFC 5965 bodies and header blocks, addresses and enhanced status codes in prose, the SMTP
 * command a server refused as MTAs word it, the server they quote, where a returned message starts
 * in a single-part bounce, and whitespace folding with a bound. Pure string functions: every scan
 * is bounded by its input, every result is a new string the caller frees (or static).
 */
#include "bounce.h"
#include "bounce_private.h"

#include <stdlib.h>
#include <string.h>

/* Splits text into blank-line separated groups of unfolded "Name: value" fields; each group is a
 * GPtrArray of alternating name, value strings. Caller frees the outer array. */
GPtrArray *bounce_field_groups(const char *text)
{
  GPtrArray *groups = g_ptr_array_new_with_free_func((GDestroyNotify) g_ptr_array_unref);
  GPtrArray *cur = NULL;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (gsize i = 0; lines[i]; i++) {
    char *l = lines[i];
    gsize n = strlen(l);
    if (n && l[n - 1] == '\r') l[--n] = '\0';
    if (n == 0 || strspn(l, " \t") == n) {
      cur = NULL;
      continue;
    }
    if ((l[0] == ' ' || l[0] == '\t') && cur && cur->len >= 2) {
      char *v = g_ptr_array_index(cur, cur->len - 1);
      char *joined = g_strconcat(v, " ", g_strstrip(l), NULL);
      g_free(v);
      cur->pdata[cur->len - 1] = joined;
      continue;
    }
    char *colon = strchr(l, ':');
    if (!colon || colon == l) continue;
    if (!cur) {
      cur = g_ptr_array_new_with_free_func(g_free);
      g_ptr_array_add(groups, cur);
    }
    g_ptr_array_add(cur, g_strstrip(g_strndup(l, (gsize) (colon - l))));
    g_ptr_array_add(cur, g_strstrip(g_strdup(colon + 1)));
  }
  return groups;
}

const char *bounce_group_get(GPtrArray *g, const char *name)
{
  for (guint i = 0; i + 1 < g->len; i += 2)
    if (g_ascii_strcasecmp(g_ptr_array_index(g, i), name) == 0) return g_ptr_array_index(g, i + 1);
  return NULL;
}

static gboolean bounce_addr_char(char c)
{
  return g_ascii_isalnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~.", c));
}

/* The first address in [s, end) at or after s, lower-cased, in *found; *at is where it starts. */
char *bounce_next_address(const char *s, const char *end, const char **at, const char **after)
{
  for (const char *p = s; p < end; p++) {
    if (*p != '@' || p == s) continue;
    /* Both scans are bounded (local part 64 octets, domain 255: RFC 5321 4.5.3.1), so text made
     * of '@' and letters costs linear time. */
    const char *a = p;
    if (p - s >= 3 && p[-1] == '"') {
      /* A quoted local part ("john..doe"@example.org, RFC 5321 4.1.2), kept with its quotes. */
      const char *q = p - 2;
      while (q > s && p - q <= 64 && *q != '"' && *q != '\n' && *q != '<') q--;
      if (*q == '"' && q < p - 2) a = q;
    }
    gboolean quoted = a < p;
    while (!quoted && a > s && p - a <= 64 && bounce_addr_char(a[-1])) a--;
    if (quoted) {
      const char *b = p + 1;
      while (b < end && b - p <= 255 && (g_ascii_isalnum(*b) || *b == '-' || *b == '.')) b++;
      while (b > p + 1 && b[-1] == '.') b--;
      if (b == p + 1 || !memchr(p + 1, '.', (gsize) (b - p - 1))) continue;
      *at = a;
      *after = b;
      return g_ascii_strdown(a, b - a);
    }
    const char *b = p + 1;
    while (b < end && b - p <= 255 && (g_ascii_isalnum(*b) || *b == '-' || *b == '.')) b++;
    while (b > p + 1 && b[-1] == '.') b--;
    while (a < p && a[0] == '.') a++;
    if (a == p || b == p + 1 || !memchr(p + 1, '.', (gsize) (b - p - 1)) || p - a > 64) continue;
    *at = a;
    *after = b;
    return g_ascii_strdown(a, b - a);
  }
  return NULL;
}

/* "rfc822; user@example.org" -> "user@example.org" (lower-case), or NULL. */
char *bounce_typed_address(const char *value)
{
  if (!value) return NULL;
  const char *semi = strchr(value, ';');
  const char *v = semi ? semi + 1 : value;
  const char *at, *after;
  return bounce_next_address(v, v + strlen(v), &at, &after);
}

/* The length of the enhanced status code (RFC 3463 class.subject.detail) at p, or 0. */
static gsize status_at(const char *text, const char *p)
{
  if ((p[0] != '4' && p[0] != '5' && p[0] != '2') || p[1] != '.' || !g_ascii_isdigit(p[2])) return 0;
  if (p > text && (g_ascii_isalnum(p[-1]) || p[-1] == '.')) return 0;
  const char *q = p + 3;
  if (*q != '.' || !g_ascii_isdigit(q[1])) return 0;
  q++;
  gsize digits = 0;
  while (g_ascii_isdigit(*q) && digits < 4) q++, digits++;
  if (digits > 3 || (*q == '.' && g_ascii_isdigit(q[1])) || g_ascii_isalpha(*q)) return 0; /* an address, a version */
  return (gsize) (q - p);
}

/* The enhanced status code of text, or "". Caller frees. As Sisimai::SMTP::Status finds it: a
 * code marked as such first ("(#5.1.1)", qmail's), then one after a reply code ("550 5.1.1",
 * "550-5.7.1"), then any failure code, then a success code (2.X.X). */
char *bounce_find_status(const char *text)
{
  for (int pass = 0; pass < 4; pass++) {
    for (const char *p = text; *p; p++) {
      gsize n = status_at(text, p);
      if (!n) continue;
      gboolean failure = p[0] != '2';
      gboolean marked = p > text && p[-1] == '#';
      const char *r = p - (marked ? 1 : 0);
      gboolean after_reply = r - text >= 4 && (r[-1] == ' ' || r[-1] == '-') && g_ascii_isdigit(r[-2]) &&
                             g_ascii_isdigit(r[-3]) && g_ascii_isdigit(r[-4]) &&
                             (r - text == 4 || !g_ascii_isalnum(r[-5]));
      if ((pass == 0 && failure && marked) || (pass == 1 && failure && after_reply) || (pass == 2 && failure) ||
          (pass == 3 && !failure))
        return g_strndup(p, n);
    }
  }
  return g_strdup("");
}

/* Whitespace runs folded into one space, bounded. Caller frees. */
char *bounce_squeeze_to(const char *s, gsize len, gsize max)
{
  GString *out = g_string_sized_new(MIN(len, max));
  gboolean space = FALSE;
  for (gsize i = 0; i < len && out->len < max; i++) {
    if (g_ascii_isspace(s[i])) {
      space = out->len > 0;
      continue;
    }
    if (out->len + (space ? 2 : 1) > max) break;
    if (space) g_string_append_c(out, ' ');
    space = FALSE;
    g_string_append_c(out, s[i]);
  }
  /* A multi-byte character cut at the bound is dropped, not repaired. */
  while (out->len && !g_utf8_validate(out->str, out->len, NULL) && (out->str[out->len - 1] & 0x80) &&
         len > out->len) {
    const char *end;
    g_utf8_validate(out->str, out->len, &end);
    if ((gsize) (end - out->str) + 4 < out->len) break; /* invalid earlier too: repaired below */
    g_string_truncate(out, (gsize) (end - out->str));
  }
  if (!g_utf8_validate(out->str, out->len, NULL)) {
    /* Invalid bytes become U+FFFD (three bytes each): cut again, at a character boundary. */
    char *valid = g_utf8_make_valid(out->str, out->len);
    g_string_free(out, TRUE);
    gsize n = strlen(valid);
    if (n > max) {
      const char *cut = g_utf8_find_prev_char(valid, valid + max + 1);
      valid[cut ? (gsize) (cut - valid) : 0] = '\0';
    }
    return valid;
  }
  return g_string_free(out, FALSE);
}

char *bounce_squeeze(const char *s, gsize len)
{
  return bounce_squeeze_to(s, len, BOUNCE_DIAGNOSTIC_MAX);
}

/* The SMTP command a server refused, as MTAs write it around the reply ("in reply to RCPT TO
 * command", "after RCPT TO:<...>", ">>> DATA", "SMTP error from remote server for MAIL FROM
 * command"): the last one named in text, "" when none. Caller frees. */
char *bounce_smtp_command(const char *text, gsize len)
{
  static const struct {
    const char *needle, *command;
  } cues[] = {
    {"rcpt to", "RCPT"}, {"end of data", "DATA"}, {"data command", "DATA"}, {">>> data", "DATA"},
    {"after data", "DATA"}, {"mail from", "MAIL"}, {"ehlo ", "EHLO"}, {"helo ", "HELO"},
    {"connect to", "CONN"}, {"while connected to", "CONN"}, {"greeting", "CONN"}, {"message body", "DATA"},
    {"does not like recipient", "RCPT"},          /* qmail: refused at RCPT */
    {"failed after i sent the message", "DATA"}, /* qmail: refused after DATA */
    {"[rcpt_to]", "RCPT"},                                                       /* Yahoo */
    {"smtp:rcpt", "RCPT"}, {"smtp:data", "DATA"}, {"smtp:mail", "MAIL"},         /* "Technical details: SMTP:RCPT" */
  };
  g_autofree char *lower = g_ascii_strdown(text, (gssize) len);
  const char *best = NULL, *found = "";
  for (gsize i = 0; i < G_N_ELEMENTS(cues); i++) {
    const char *p = lower, *last = NULL;
    while ((p = strstr(p, cues[i].needle)) != NULL) last = p++;
    if (last && (!best || last > best)) best = last, found = cues[i].command;
  }
  return g_strdup(found);
}

/* The server an MTA quotes in its diagnostic ("host mx.example.org[192.0.2.1] said:", Postfix and
 * Exim; "Server at mx.example.org returned", Exchange), lower-case, or NULL. Caller frees. */
char *bounce_host_said(const char *diagnostic)
{
  static const char *const cues[] = {"host ", "Server at ", NULL};
  for (const char *const *c = cues; *c; c++) {
    const char *p = strstr(diagnostic, *c);
    if (!p) continue;
    p += strlen(*c);
    gsize n = 0;
    while (g_ascii_isalnum(p[n]) || p[n] == '.' || p[n] == '-') n++;
    while (n && p[n - 1] == '.') n--;
    if (n && memchr(p, '.', n)) return g_ascii_strdown(p, (gssize) n);
  }
  return NULL;
}

/* Where the returned message begins in the text of a single-part bounce, or the end. */
const char *bounce_returned_message_start(const char *text)
{
  static const char *const markers[] = {
    "\n------ This is a copy of the message", "\n--- Below this line is a copy of the message",
    "\n   ----- Original message follows -----", "\n----- Original message follows -----",
    "\n------ Original message follows ------", "\n   ----- Unsent message follows -----",
    "\n----- Unsent message follows -----", "\nContent-Type: message/rfc822", "\n------- Returned Message",
    "\nReturn-Path: <", "\nReceived: from ", "\nOriginal message headers:", "\n----- The header of",
    "\n------ The body of", "\nOriginal message follows.", "\nOriginal Message:\n",
    "\n----- Original message -----", "\n-----Original Message-----", NULL};
  const char *best = text + strlen(text);
  for (const char *const *m = markers; *m; m++) {
    const char *p = strstr(text, *m);
    if (p && p < best && p > text) best = p;
  }
  /* An mbox separator ("From sender@example.org  Sat Oct  4 08:00:07 2025") starts a copy too. */
  for (const char *p = strstr(text, "\nFrom "); p && p < best; p = strstr(p + 1, "\nFrom ")) {
    const char *token = p + 6, *space = strchr(token, ' '), *eol = strchr(token, '\n');
    const char *at = strchr(token, '@');
    if (p > text && space && at && at < space && (!eol || space < eol)) {
      best = p;
      break;
    }
  }
  return best;
}

/* Without an enhanced code: does the text give a 4xx SMTP reply or say the message is retried? */
gboolean bounce_temporary_text(const char *text)
{
  static const char *const phrases[] = {"will be retried", "will retry", "will continue to try",
                                        "only a temporary failure", "delivery attempts will continue"};
  g_autofree char *lower = g_ascii_strdown(text, -1);
  for (gsize i = 0; i < G_N_ELEMENTS(phrases); i++)
    if (strstr(lower, phrases[i])) return TRUE;
  for (const char *p = lower; *p; p++) {
    if (!g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2])) continue;
    gboolean starts = p == lower || !g_ascii_isalnum(p[-1]);
    gboolean ends = p[3] == ' ' || p[3] == '-' || p[3] == ',' || p[3] == '\0';
    if (starts && ends && (p[0] == '4' || p[0] == '5') && p[1] <= '5') return p[0] == '4';
    while (g_ascii_isdigit(*p)) p++;
    if (!*p) break;
  }
  return FALSE;
}

/* In place: a multi-line SMTP reply quoted on one line ("550-5.7.1 Our system has detected 550-5.7.1
 * that this message ..."): when the reply code appears more than twice, the continuation prefixes
 * (" 550-5.7.1 ", " 550 5.7.1 ", RFC 5321 4.2.1) are dropped so that its sentences read whole, as
 * Sisimai::Data does. */
void bounce_join_reply(char *diagnostic)
{
  int code = bounce_reply_code(diagnostic);
  if (!code) return;
  char prefix[5];
  g_snprintf(prefix, sizeof prefix, " %d", code);
  guint seen = g_ascii_isdigit(diagnostic[0]) && atoi(diagnostic) == code;
  for (const char *p = strstr(diagnostic, prefix); p; p = strstr(p + 1, prefix)) seen++;
  if (seen <= 2) return;
  char *out = diagnostic;
  for (const char *in = diagnostic; *in;) {
    if (in > diagnostic && !strncmp(in, prefix, 4) && (in[4] == '-' || in[4] == ' ')) {
      const char *next = in + 5;
      gsize n = status_at(diagnostic, next);
      if (n && next[n] == ' ') next += n + 1; /* and the enhanced code repeated */
      *out++ = ' ';
      in = next;
      continue;
    }
    *out++ = *in++;
  }
  *out = '\0';
}
