/* mime_rfc2047.c - decodes the RFC 2047 encoded words of an unstructured header value (the
 * Subject) the way real mail needs it, where GMime 3.2 loses text:
 * - adjacent encoded words in the same charset are joined as bytes before the charset is
 *   converted, so a multi-byte character split across two words (UTF-8, GBK, ISO-2022-JP, as
 *   Outlook, Foxmail and many Japanese mailers write long subjects) comes out whole;
 * - base64 payloads are read leniently: '=' padding anywhere (not only at the end) ends the
 *   quantum in progress and reading goes on, and a short final quantum still yields its bytes, so
 *   nothing after a stray '=' is dropped;
 * - white space between two encoded words is dropped (RFC 2047 section 6.2), any other text is
 *   kept as it is; encoded words glued to text are decoded too (mailers write "Re:=?utf-8?...").
 * A word that is not well formed stays literal text. Linear in the input; the output is at most
 * a few times the input. Pure: no GMime parsing, no logging.
 */
#include "mime_private.h"

#include <string.h>

#define RFC2047_MAX_CHARSET 64

typedef struct {
  GString *out;          /* UTF-8 result */
  char charset[RFC2047_MAX_CHARSET + 1]; /* of the pending run; "" when none */
  GByteArray *pending;   /* decoded bytes of the run of adjacent words in `charset` */
} Decoder;

static void flush_run(Decoder *d)
{
  if (!d->charset[0]) return;
  char *utf8 = mime_charset_to_utf8((const char *)d->pending->data, d->pending->len, d->charset);
  g_string_append(d->out, utf8);
  g_free(utf8);
  g_byte_array_set_size(d->pending, 0);
  d->charset[0] = '\0';
}

static int b64_value(char c)
{
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* The bytes of a partial quantum of n (0-3) characters: two give one byte, three give two. */
static void flush_quantum(guint32 acc, guint n, GByteArray *out)
{
  if (n == 2) {
    guint8 b = (guint8)(acc >> 4);
    g_byte_array_append(out, &b, 1);
  } else if (n == 3) {
    guint8 b[2] = {(guint8)(acc >> 10), (guint8)(acc >> 2)};
    g_byte_array_append(out, b, 2);
  }
}

/* Lenient base64: '=' ends the quantum in progress wherever it stands (chunks padded one by one
 * and joined, "5oql5A==u7fl"), a '=' between whole quanta is skipped ("5L2g=5aW9"), other
 * characters outside the alphabet are skipped, and a short final quantum gives its bytes. */
static void decode_b(const char *s, gsize len, GByteArray *out)
{
  guint32 acc = 0;
  guint n = 0;
  for (gsize i = 0; i < len; i++) {
    if (s[i] == '=') {
      flush_quantum(acc, n, out);
      acc = 0;
      n = 0;
      continue;
    }
    int v = b64_value(s[i]);
    if (v < 0) continue;
    acc = (acc << 6) | (guint32)v;
    if (++n == 4) {
      guint8 b[3] = {(guint8)(acc >> 16), (guint8)(acc >> 8), (guint8)acc};
      g_byte_array_append(out, b, 3);
      acc = 0;
      n = 0;
    }
  }
  flush_quantum(acc, n, out);
}

/* RFC 2047 "Q": '_' is a space, "=XX" a byte; a '=' without two hex digits is kept. */
static void decode_q(const char *s, gsize len, GByteArray *out)
{
  for (gsize i = 0; i < len; i++) {
    guint8 b = (guint8)s[i];
    if (s[i] == '_') {
      b = ' ';
    } else if (s[i] == '=' && i + 2 < len && g_ascii_isxdigit(s[i + 1]) && g_ascii_isxdigit(s[i + 2])) {
      b = (guint8)(g_ascii_xdigit_value(s[i + 1]) * 16 + g_ascii_xdigit_value(s[i + 2]));
      i += 2;
    }
    g_byte_array_append(out, &b, 1);
  }
}

/* Parses an encoded word at s ("=?charset?X?text?="). Returns its length and fills charset (the
 * part before any RFC 2231 "*language"), encoding ('B' or 'Q') and the text's span; 0 when s does
 * not start a well-formed word. The text may not hold white space or '?'. */
static gsize parse_word(const char *s, char charset[RFC2047_MAX_CHARSET + 1], char *encoding, const char **text,
                        gsize *text_len)
{
  if (s[0] != '=' || s[1] != '?') return 0;
  const char *p = s + 2;
  gsize n = 0;
  while (p[n] && p[n] != '?' && !g_ascii_isspace(p[n]) && n <= RFC2047_MAX_CHARSET) n++;
  if (n == 0 || n > RFC2047_MAX_CHARSET || p[n] != '?') return 0;
  gsize cs = n;
  const char *star = memchr(p, '*', n);
  if (star) cs = (gsize)(star - p);
  if (cs == 0) return 0;
  memcpy(charset, p, cs);
  charset[cs] = '\0';
  p += n + 1;
  char e = g_ascii_toupper(p[0]);
  if ((e != 'B' && e != 'Q') || p[1] != '?') return 0;
  *encoding = e;
  p += 2;
  const char *t = p;
  while (*p && !(p[0] == '?' && p[1] == '=')) {
    if (g_ascii_isspace(*p) || *p == '?') return 0;
    p++;
  }
  if (!*p) return 0;
  *text = t;
  *text_len = (gsize)(p - t);
  return (gsize)(p + 2 - s);
}

char *mime_rfc2047_decode(const char *value)
{
  if (!value) return g_strdup("");
  Decoder d = {g_string_sized_new(strlen(value)), "", g_byte_array_new()};
  const char *gap = NULL; /* white space after an encoded word, dropped when another one follows */
  gsize gap_len = 0;
  const char *p = value;
  while (*p) {
    char charset[RFC2047_MAX_CHARSET + 1];
    char encoding = 0;
    const char *text = NULL;
    gsize text_len = 0;
    gsize n = *p == '=' ? parse_word(p, charset, &encoding, &text, &text_len) : 0;
    if (n > 0) {
      if (d.charset[0] && g_ascii_strcasecmp(d.charset, charset) != 0) flush_run(&d);
      if (!d.charset[0]) g_strlcpy(d.charset, charset, sizeof d.charset);
      gap = NULL; /* white space between two encoded words is not text */
      if (encoding == 'B')
        decode_b(text, text_len, d.pending);
      else
        decode_q(text, text_len, d.pending);
      p += n;
      /* white space up to the next token belongs to the gap */
      const char *ws = p;
      while (g_ascii_isspace(*p)) p++;
      if (p > ws) {
        gap = ws;
        gap_len = (gsize)(p - ws);
      }
      continue;
    }
    flush_run(&d);
    if (gap) {
      g_string_append_len(d.out, gap, (gssize)gap_len);
      gap = NULL;
    }
    g_string_append_c(d.out, *p++);
  }
  flush_run(&d);
  if (gap) g_string_append_len(d.out, gap, (gssize)gap_len);
  g_byte_array_unref(d.pending);
  char *res = g_string_free(d.out, FALSE);
  if (!g_utf8_validate(res, -1, NULL)) { /* literal text that was not UTF-8 after all */
    char *valid = g_utf8_make_valid(res, -1);
    g_free(res);
    res = valid;
  }
  return res;
}
