/* dkim_tags.c - the tag-list parser of RFC 6376 section 3.2, shared by DKIM-Signature fields and
 * key records, plus base64 with folding white space. Pure and bounded: a list longer than
 * MA_DKIM_MAX_TAG_LIST or with more than DKIM_MAX_TAGS tags is refused, nothing is allocated while
 * parsing (tags point into the caller's text). Fuzzed by tests/fuzz/fuzz_dkim.c.
 */
#include "dkim_private.h"

#include <string.h>

static gboolean is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* tag-value characters: VCHAR except ';' (RFC 6376: %x21-3A / %x3C-7E), plus folding white
 * space inside. */
static gboolean is_tval_char(unsigned char c) { return c >= 0x21 && c <= 0x7e && c != ';'; }

int dkim_tags_parse(const char *text, gsize len, DkimTags *out, const char **error_r)
{
  out->n = 0;
  if (len > MA_DKIM_MAX_TAG_LIST) {
    *error_r = "tag list too long";
    return -1;
  }
  gsize i = 0;
  for (;;) {
    while (i < len && is_fws(text[i])) i++;
    if (i == len) return 0; /* empty list, or a trailing ';' */
    gsize name_start = i;
    if (!g_ascii_isalpha(text[i])) {
      *error_r = "tag name must start with a letter";
      return -1;
    }
    while (i < len && (g_ascii_isalnum(text[i]) || text[i] == '_')) i++;
    gsize name_len = i - name_start;
    while (i < len && is_fws(text[i])) i++;
    if (i == len || text[i] != '=') {
      *error_r = "tag without '='";
      return -1;
    }
    i++;
    while (i < len && is_fws(text[i])) i++;
    gsize value_start = i, value_end = i;
    while (i < len && text[i] != ';') {
      if (is_tval_char((unsigned char) text[i])) value_end = i + 1;
      else if (!is_fws(text[i])) {
        *error_r = "invalid character in a tag value";
        return -1;
      }
      i++;
    }
    if (out->n == DKIM_MAX_TAGS) {
      *error_r = "too many tags";
      return -1;
    }
    for (guint t = 0; t < out->n; t++)
      if (out->tags[t].name_len == name_len && memcmp(out->tags[t].name, text + name_start, name_len) == 0) {
        *error_r = "duplicate tag";
        return -1;
      }
    DkimTag *tag = &out->tags[out->n++];
    tag->name = text + name_start;
    tag->name_len = name_len;
    tag->value = text + value_start;
    tag->value_len = value_end - value_start;
    if (i == len) return 0;
    i++; /* ';' */
  }
}

const DkimTag *dkim_tags_find(const DkimTags *tags, const char *name)
{
  gsize name_len = strlen(name);
  for (guint i = 0; i < tags->n; i++)
    if (tags->tags[i].name_len == name_len && memcmp(tags->tags[i].name, name, name_len) == 0)
      return &tags->tags[i];
  return NULL;
}

char *dkim_tag_dup(const DkimTags *tags, const char *name, gboolean strip_ws)
{
  const DkimTag *t = dkim_tags_find(tags, name);
  if (!t) return NULL;
  if (!strip_ws) return g_strndup(t->value, t->value_len);
  char *out = g_malloc(t->value_len + 1);
  gsize n = 0;
  for (gsize i = 0; i < t->value_len; i++)
    if (!is_fws(t->value[i])) out[n++] = t->value[i];
  out[n] = '\0';
  return out;
}

guchar *dkim_base64_decode(const char *text, gsize len, gsize *out_len)
{
  char *clean = g_malloc(len + 1);
  gsize n = 0, pad = 0;
  for (gsize i = 0; i < len; i++) {
    char c = text[i];
    if (is_fws(c)) continue;
    if (c == '=') {
      pad++;
    } else if (pad || !(g_ascii_isalnum(c) || c == '+' || c == '/')) {
      g_free(clean);
      return NULL;
    }
    clean[n++] = c;
  }
  clean[n] = '\0';
  if (n % 4 != 0 || pad > 2) {
    g_free(clean);
    return NULL;
  }
  guchar *out = g_base64_decode(clean, out_len);
  g_free(clean);
  if (n == 0) { /* g_base64_decode of "" returns NULL on some versions */
    g_free(out);
    *out_len = 0;
    return g_malloc0(1);
  }
  return out;
}

gboolean dkim_name_valid(const char *s)
{
  gsize len = strlen(s), label = 0;
  if (len == 0 || len > 253) return FALSE;
  for (gsize i = 0; i <= len; i++) {
    char c = s[i];
    if (c == '.' || c == '\0') {
      if (label == 0 || label > 63) return FALSE;
      label = 0;
    } else if (g_ascii_isalnum(c) || c == '-' || c == '_') {
      label++;
    } else {
      return FALSE;
    }
  }
  return TRUE;
}


int ma_dkim_record_parse(const char *txt, gsize len, char **k_r, char **p_r, const char **error_r)
{
  DkimTags tags;
  *k_r = *p_r = NULL;
  if (dkim_tags_parse(txt, len, &tags, error_r) < 0) return -1;
  g_autofree char *v = dkim_tag_dup(&tags, "v", TRUE);
  if (v && strcmp(v, "DKIM1") != 0) {
    *error_r = "v= is not DKIM1";
    return -1;
  }
  char *p = dkim_tag_dup(&tags, "p", TRUE);
  if (!p) {
    *error_r = "no p= tag";
    return -1;
  }
  char *k = dkim_tag_dup(&tags, "k", TRUE);
  *k_r = k ? k : g_strdup("rsa");
  *p_r = p;
  return 0;
}
