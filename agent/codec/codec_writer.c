/* codec_writer.c - the streaming JSON writer (codec_writer.h): commas and nesting, string
 * escaping, UTF-8 repair.
 */
#include "codec_writer.h"

#include "agent/lib/clock.h"

#include <string.h>

void codec_writer_init(CodecWriter *w, GString *out)
{
  w->out = out;
  w->depth = 0;
  w->after_key = FALSE;
}

/* Before any value or key: the comma that separates it from the previous one. */
static void separate(CodecWriter *w)
{
  if (w->after_key) {
    w->after_key = FALSE;
    return;
  }
  if (w->depth == 0)
    return;
  if (w->has_items[w->depth - 1])
    g_string_append_c(w->out, ',');
  w->has_items[w->depth - 1] = TRUE;
}

static void open_container(CodecWriter *w, char c)
{
  g_assert(w->depth < CODEC_WRITER_MAX_DEPTH);
  separate(w);
  g_string_append_c(w->out, c);
  w->has_items[w->depth++] = FALSE;
}

static void close_container(CodecWriter *w, char c)
{
  g_assert(w->depth > 0 && !w->after_key);
  w->depth--;
  g_string_append_c(w->out, c);
}

void codec_writer_object_begin(CodecWriter *w) { open_container(w, '{'); }
void codec_writer_object_end(CodecWriter *w) { close_container(w, '}'); }
void codec_writer_array_begin(CodecWriter *w) { open_container(w, '['); }
void codec_writer_array_end(CodecWriter *w) { close_container(w, ']'); }

/* Makes room for n more bytes at the end of out and returns where they go (out's length already
 * counts them): GString's own append goes through g_string_insert_len, whose overlap and position
 * checks cost more than the copy for the short strings JSON is made of. */
static inline char *grow(GString *out, gsize n)
{
  gsize at = out->len;

  if (at + n < out->allocated_len) {
    out->len = at + n;
    out->str[out->len] = '\0';
  } else {
    g_string_set_size(out, at + n);
  }
  return out->str + at;
}

/* Copies n bytes: most of what JSON is made of is shorter than 16 bytes, and two fixed-size
 * (overlapping) copies of those are inlined where a call to memcpy costs more than the copy. */
static inline void copy_bytes(char *dst, const char *s, gsize n)
{
  if (n >= 8 && n <= 16) {
    memcpy(dst, s, 8);
    memcpy(dst + n - 8, s + n - 8, 8);
  } else if (n < 8) {
    for (gsize i = 0; i < n; i++) dst[i] = s[i];
  } else {
    memcpy(dst, s, n);
  }
}

static inline void append_bytes(GString *out, const char *s, gsize n)
{
  copy_bytes(grow(out, n), s, n);
}

/* 1 for the bytes a JSON string must escape: '"', '\' and the controls. */
static const guint8 escaped[256] = {
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
  ['"'] = 1, ['\\'] = 1,
};

/* Appends s (valid UTF-8, len bytes) as a quoted JSON string. Runs of plain bytes are copied at
 * once; only '"', '\' and controls are escaped, as jansson does without JSON_ENSURE_ASCII. */
static void quote(GString *out, const char *s, gsize len)
{
  static const char hex[] = "0123456789abcdef";
  gsize run = 0;

  g_string_append_c(out, '"');
  for (gsize i = 0; i < len; i++) {
    guchar c = (guchar)s[i];
    if (!escaped[c])
      continue;
    append_bytes(out, s + run, i - run);
    run = i + 1;
    switch (c) {
    case '"': append_bytes(out, "\\\"", 2); break;
    case '\\': append_bytes(out, "\\\\", 2); break;
    case '\n': append_bytes(out, "\\n", 2); break;
    case '\r': append_bytes(out, "\\r", 2); break;
    case '\t': append_bytes(out, "\\t", 2); break;
    case '\b': append_bytes(out, "\\b", 2); break;
    case '\f': append_bytes(out, "\\f", 2); break;
    default: {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      append_bytes(out, u, sizeof u);
    }
    }
  }
  append_bytes(out, s + run, len - run);
  g_string_append_c(out, '"');
}

/* TRUE when none of the len bytes at s needs a look: no '"', '\', control or non-ASCII byte (so
 * the string is valid UTF-8 and quoted as it is). Eight bytes at a time: most of what a page
 * writes (ids, addresses, names, subjects) is plain ASCII, and a byte-by-byte scan of it was the
 * writer's largest cost. */
static gboolean plain_ascii(const char *s, gsize len)
{
  const guint64 ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  const guint64 quotes = ones * '"', backslashes = ones * '\\';
  guint64 any = 0, v, q, b;
  gsize i = 0;

#define PLAIN_WORD(v)                                                                                 \
  (q = (v) ^ quotes, b = (v) ^ backslashes,                                                          \
   /* per byte: below 0x20, equal to '"' or '\' (a zero byte of q or b), or 0x80 and above */      \
   (((v) - ones * 0x20) & ~(v)) | ((q - ones) & ~q) | ((b - ones) & ~b) | (v))
  if (len < 8) {
    v = ones * ' '; /* padded with a byte that needs no look */
    memcpy(&v, s, len);
    return (PLAIN_WORD(v) & highs) == 0;
  }
  for (; i + 8 <= len; i += 8) {
    memcpy(&v, s + i, 8);
    any |= PLAIN_WORD(v);
  }
  if (i < len) { /* the last 8 bytes, overlapping the words already seen */
    memcpy(&v, s + len - 8, 8);
    any |= PLAIN_WORD(v);
  }
#undef PLAIN_WORD
  return (any & highs) == 0;
}

/* Appends s (len bytes, plain_ascii) quoted. */
static inline void quote_plain(GString *out, const char *s, gsize len)
{
  char *at = grow(out, len + 2);
  at[0] = '"';
  copy_bytes(at + 1, s, len);
  at[len + 1] = '"';
}

void codec_writer_key_text(CodecWriter *w, const char *text, gsize len)
{
  g_assert(w->depth > 0 && !w->after_key && len > 1 && text[0] == ',');
  gboolean *has_items = &w->has_items[w->depth - 1];
  if (!*has_items) { /* the object's first key: no comma */
    *has_items = TRUE;
    text++;
    len--;
  }
  append_bytes(w->out, text, len);
  w->after_key = TRUE;
}

void codec_writer_string(CodecWriter *w, const char *s)
{
  const char *end = NULL;

  if (!s) {
    codec_writer_null(w);
    return;
  }
  separate(w);
  gsize len = strlen(s);
  if (plain_ascii(s, len)) {
    quote_plain(w->out, s, len);
    return;
  }
  if (g_utf8_validate(s, (gssize)len, &end)) {
    quote(w->out, s, (gsize)(end - s));
    return;
  }
  char *valid = g_utf8_make_valid(s, -1);
  quote(w->out, valid, strlen(valid));
  g_free(valid);
}

void codec_writer_time(CodecWriter *w, gint64 unix_seconds)
{
  char buf[32];

  if (unix_seconds <= 0) {
    codec_writer_null(w);
    return;
  }
  ma_time_format(unix_seconds, buf);
  separate(w);
  quote(w->out, buf, strlen(buf)); /* ASCII: no UTF-8 check needed */
}

void codec_writer_int(CodecWriter *w, gint64 v)
{
  char digits[24];
  char *p = digits + sizeof digits;
  guint64 u = v < 0 ? (guint64)0 - (guint64)v : (guint64)v;

  separate(w);
  do { /* printf's format parsing costs more than the digits */
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  append_bytes(w->out, p, (gsize)(digits + sizeof digits - p));
}

void codec_writer_bool(CodecWriter *w, gboolean v)
{
  separate(w);
  if (v) append_bytes(w->out, "true", 4);
  else append_bytes(w->out, "false", 5);
}

void codec_writer_null(CodecWriter *w)
{
  separate(w);
  append_bytes(w->out, "null", 4);
}

void codec_writer_raw(CodecWriter *w, const char *json, gsize len)
{
  g_assert(len > 0);
  separate(w);
  append_bytes(w->out, json, len);
}
