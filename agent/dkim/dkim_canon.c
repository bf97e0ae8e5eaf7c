/* dkim_canon.c - header field splitting and the relaxed and simple canonicalisations of RFC 6376
 * section 3.4. The body is hashed as it is canonicalised, through a small fixed buffer, so a body
 * of any size costs no memory; LF and CRLF line ends are both read as CRLF (mail handed to us
 * with Unix line ends signs and verifies as it will travel).
 */
#include "dkim_private.h"

#include <string.h>

static gboolean is_wsp(char c) { return c == ' ' || c == '\t'; }

/* The end of the line starting at i: the index of its '\n', or len. */
static gsize line_end(const char *s, gsize len, gsize i)
{
  const char *nl = memchr(s + i, '\n', len - i);
  return nl ? (gsize) (nl - s) : len;
}

int dkim_header_split(const char *message, gsize len, GArray *fields, gsize *body_offset)
{
  gsize i = 0;
  DkimField current = { 0 };
  while (i < len) {
    gsize end = line_end(message, len, i);
    gsize content_end = (end > i && message[end - 1] == '\r') ? end - 1 : end;
    gsize next = end < len ? end + 1 : len;
    if (content_end == i) { /* the empty line */
      if (current.start) g_array_append_val(fields, current);
      *body_offset = next;
      return 0;
    }
    if (is_wsp(message[i])) {
      if (!current.start) return -1; /* a continuation before any field */
      current.len = next - (gsize) (current.start - message);
    } else {
      const char *colon = memchr(message + i, ':', content_end - i);
      if (!colon) return -1;
      if (current.start) g_array_append_val(fields, current);
      gsize name_len = (gsize) (colon - (message + i));
      while (name_len > 0 && is_wsp(message[i + name_len - 1])) name_len--;
      if (name_len == 0) return -1;
      current.start = message + i;
      current.name_len = name_len;
      current.len = next - i;
    }
    if (end == len) break;
    i = next;
  }
  /* No empty line: the whole message is a header ending with a line terminator, its body empty. */
  if (len == 0 || message[len - 1] != '\n') return -1;
  if (current.start) g_array_append_val(fields, current);
  *body_offset = len;
  return 0;
}

void dkim_canon_header_relaxed(const DkimField *field, GString *out)
{
  for (gsize i = 0; i < field->name_len; i++) g_string_append_c(out, g_ascii_tolower(field->start[i]));
  g_string_append_c(out, ':');
  const char *v = memchr(field->start, ':', field->len);
  g_assert(v);
  v++;
  const char *end = field->start + field->len;
  gboolean pending_space = FALSE, started = FALSE;
  for (; v < end; v++) {
    char c = *v;
    if (c == '\r' || c == '\n') continue; /* unfold */
    if (is_wsp(c)) {
      pending_space = started;
      continue;
    }
    if (pending_space) g_string_append_c(out, ' ');
    pending_space = FALSE;
    started = TRUE;
    g_string_append_c(out, c);
  }
  g_string_append(out, "\r\n");
}

void dkim_canon_header_simple(const DkimField *field, GString *out)
{
  const char *p = field->start, *end = field->start + field->len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (gsize) (end - p));
    const char *content_end = nl ? nl : end;
    if (content_end > p && content_end[-1] == '\r') content_end--;
    g_string_append_len(out, p, content_end - p);
    g_string_append(out, "\r\n");
    p = nl ? nl + 1 : end;
  }
}

/* The canonical body goes to the digest through this buffer, counted and cut at the limit. */
typedef struct {
  EVP_MD_CTX *md;
  gint64 limit;   /* < 0: none */
  guint64 total;  /* canonical octets produced */
  char buf[4096];
  gsize used;
} BodySink;

static void sink_flush(BodySink *s)
{
  if (s->used) EVP_DigestUpdate(s->md, s->buf, s->used);
  s->used = 0;
}

static void sink_put(BodySink *s, const char *data, gsize n)
{
  for (gsize i = 0; i < n; i++) {
    if (s->limit < 0 || (gint64) s->total < s->limit) {
      if (s->used == sizeof s->buf) sink_flush(s);
      s->buf[s->used++] = data[i];
    }
    s->total++;
  }
}

void dkim_canon_body(const char *body, gsize len, gboolean relaxed, gint64 limit, EVP_MD_CTX *md,
                     guint64 *canon_len)
{
  BodySink sink = { .md = md, .limit = limit };
  guint64 empty_lines = 0; /* held back: trailing empty lines are dropped */
  gboolean any_line = FALSE;
  gsize i = 0;
  while (i < len) {
    gsize end = line_end(body, len, i);
    gsize content_end = (end > i && body[end - 1] == '\r') ? end - 1 : end;
    /* In relaxed mode, a line's trailing white space goes; runs inside become one space. */
    gsize visible_end = content_end;
    if (relaxed)
      while (visible_end > i && is_wsp(body[visible_end - 1])) visible_end--;
    if (visible_end == i) {
      empty_lines++;
    } else {
      for (; empty_lines; empty_lines--) sink_put(&sink, "\r\n", 2);
      if (relaxed) {
        gsize j = i;
        while (j < visible_end) {
          if (is_wsp(body[j])) {
            sink_put(&sink, " ", 1);
            while (j < visible_end && is_wsp(body[j])) j++;
          } else {
            gsize run = j;
            while (run < visible_end && !is_wsp(body[run])) run++;
            sink_put(&sink, body + j, run - j);
            j = run;
          }
        }
      } else {
        sink_put(&sink, body + i, visible_end - i);
      }
      sink_put(&sink, "\r\n", 2);
      any_line = TRUE;
    }
    i = end < len ? end + 1 : len;
  }
  /* Simple: an empty body is one CRLF (RFC 6376 3.4.3); relaxed: an empty body stays empty. */
  if (!relaxed && !any_line) sink_put(&sink, "\r\n", 2);
  sink_flush(&sink);
  *canon_len = sink.total;
}

gboolean dkim_strip_b_value(GString *field)
{
  char *colon = memchr(field->str, ':', field->len);
  if (!colon) return FALSE;
  gsize i = (gsize) (colon - field->str) + 1;
  while (i < field->len) {
    gsize seg = i;
    while (seg < field->len && (field->str[seg] == ' ' || field->str[seg] == '\t' ||
                                field->str[seg] == '\r' || field->str[seg] == '\n'))
      seg++;
    gsize after = seg;
    if (after < field->len && field->str[after] == 'b') {
      after++;
      while (after < field->len && is_wsp(field->str[after])) after++;
      if (after < field->len && field->str[after] == '=') {
        gsize value_start = after + 1, value_end = value_start;
        while (value_end < field->len && field->str[value_end] != ';') value_end++;
        /* Keep a trailing CRLF of the canonical field (the relaxed form ends in one). */
        if (value_end == field->len && field->len >= 2 && field->str[field->len - 2] == '\r')
          value_end = field->len - 2;
        g_string_erase(field, (gssize) value_start, (gssize) (value_end - value_start));
        return TRUE;
      }
    }
    const char *semi = memchr(field->str + i, ';', field->len - i);
    if (!semi) return FALSE;
    i = (gsize) (semi - field->str) + 1;
  }
  return FALSE;
}
