/* match_subject.c - pure text helpers for threading and dedup: the normalised subject key and
 * whitespace folding. No storage, no allocation beyond the returned string; linear in the input
 * (each loop pass strips at least one prefix or stops).
 */
#include "match.h"

#include <string.h>

/* Reply and forward prefixes, case-folded, as mail clients of many languages write them. Each must
 * be followed (after an optional counter and spaces) by ':' or the full-width '：'. */
static const char *const prefixes[] = {
  "re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "doorst", "réf", "ref", "tr", "rif", "enc",
  "odp", "pd", "vl", "vb", "r", "ynt", "atb", "yv", "转发", "回复", "答复", "回覆", "轉寄", "轉發",
  "转寄", "返信", "転送", "답장", "전달",
};

#define FULLWIDTH_COLON "\xef\xbc\x9a" /* U+FF1A */

/* Skips spaces (ASCII and Unicode) from p. */
static const char *skip_space(const char *p)
{
  while (*p) {
    gunichar c = g_utf8_get_char_validated(p, -1);
    if (c == (gunichar) -1 || c == (gunichar) -2 || !g_unichar_isspace(c)) break;
    p = g_utf8_next_char(p);
  }
  return p;
}

/* A counter "[2]" or "(3)" or "^2" at p: returns the position after it, or p when there is none. */
static const char *skip_counter(const char *p)
{
  if (*p == '[' || *p == '(') {
    char close = *p == '[' ? ']' : ')';
    const char *q = p + 1;
    while (g_ascii_isdigit(*q)) q++;
    if (q > p + 1 && *q == close) return q + 1;
  } else if (*p == '^') {
    const char *q = p + 1;
    while (g_ascii_isdigit(*q)) q++;
    if (q > p + 1) return q;
  }
  return p;
}

/* A leading "[tag]" (up to 40 bytes, no nesting) or "(digits)": position after it, or p. */
static const char *skip_tag(const char *p)
{
  const char *q = skip_counter(p);
  if (q != p) return q;
  if (*p != '[') return p;
  for (q = p + 1; *q && q - p < 40; q++) {
    if (*q == '[') return p;
    if (*q == ']') return q > p + 1 ? q + 1 : p;
  }
  return p;
}

/* One reply/forward prefix at p: position after its colon, or p. */
static const char *skip_prefix(const char *p)
{
  for (guint i = 0; i < G_N_ELEMENTS(prefixes); i++) {
    gsize len = strlen(prefixes[i]);
    if (strncmp(p, prefixes[i], len) != 0) continue;
    const char *q = skip_space(skip_counter(p + len));
    if (*q == ':') return q + 1;
    if (strncmp(q, FULLWIDTH_COLON, 3) == 0) return q + 3;
  }
  return p;
}

char *match_fold_whitespace(const char *text)
{
  return match_fold_whitespace_n(text, G_MAXSIZE);
}

char *match_fold_whitespace_n(const char *text, gsize max_chars)
{
  if (!text) return g_strdup("");
  gsize len = strlen(text);
  GString *out = g_string_sized_new(MIN(len, max_chars * 4) + 1);
  gboolean pending_space = FALSE;
  gsize chars = 0;
  const char *p = text;
  while (*p && chars < max_chars) {
    unsigned char b = (unsigned char) *p;
    if (b < 0x80) { /* ASCII fast path: most mail text */
      if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v') {
        pending_space = TRUE;
      } else {
        if (pending_space && out->len) {
          g_string_append_c(out, ' ');
          chars++;
        }
        pending_space = FALSE;
        g_string_append_c(out, (char) b);
        chars++;
      }
      p++;
      continue;
    }
    gunichar c = g_utf8_get_char_validated(p, -1);
    if (c == (gunichar) -1 || c == (gunichar) -2) { /* invalid byte: keep it, it is still content */
      if (pending_space && out->len) g_string_append_c(out, ' ');
      pending_space = FALSE;
      g_string_append_c(out, *p++);
      chars++;
      continue;
    }
    const char *next = g_utf8_next_char(p);
    if (g_unichar_isspace(c) || c == 0x200B || c == 0xFEFF) {
      pending_space = TRUE;
    } else {
      if (pending_space && out->len) {
        g_string_append_c(out, ' ');
        chars++;
      }
      pending_space = FALSE;
      g_string_append_len(out, p, next - p);
      chars++;
    }
    p = next;
  }
  return g_string_free(out, FALSE);
}

char *match_subject_key(const char *subject)
{
  if (!subject || !*subject) return g_strdup("");
  /* ASCII (most subjects) is valid UTF-8 already, and Unicode case folding maps it as
   * g_ascii_strdown does: one copy instead of two passes through GLib's Unicode tables */
  g_autofree char *folded = NULL;
  if (g_str_is_ascii(subject)) {
    folded = g_ascii_strdown(subject, -1);
  } else {
    g_autofree char *valid = g_utf8_make_valid(subject, -1);
    folded = g_utf8_casefold(valid, -1);
  }
  const char *p = skip_space(folded);
  for (;;) {
    const char *q = skip_prefix(p);
    if (q == p) q = skip_tag(p);
    if (q == p) break;
    p = skip_space(q);
  }
  return match_fold_whitespace(p);
}
