/* storage_archive.c - what both backends' archive code shares (storage_archive.h): the snippet
 * made from a message's text and the timeline's keyset cursor. Pure functions: no database.
 */
#include "storage_archive.h"

#include <string.h>

#define SNIPPET_CHARS 200
#define CURSOR_MAX_LEN 200

/* ---- snippets ------------------------------------------------------------------------------- */

char *storage_snippet_make(const char *text)
{
  GString *out = g_string_new(NULL);
  glong chars = 0;
  gboolean space = FALSE;
  for (const char *p = text ? text : ""; *p && chars < SNIPPET_CHARS; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char_validated(p, -1);
    if (c == (gunichar)-1 || c == (gunichar)-2) break;
    if (g_unichar_isspace(c)) {
      space = out->len > 0;
      continue;
    }
    if (space) {
      g_string_append_c(out, ' ');
      chars++;
      space = FALSE;
    }
    g_string_append_unichar(out, c);
    chars++;
  }
  return g_string_free(out, FALSE);
}

/* ---- the timeline cursor ---------------------------------------------------------------------------------- */

/* v in decimal at buf (room for 20 bytes); its length. */
static gsize decimal(char *buf, gint64 v)
{
  char rev[20];
  gsize n = 0, k = 0;
  guint64 u = v < 0 ? -(guint64)v : (guint64)v;
  do {
    rev[n++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) buf[k++] = '-';
  while (n) buf[k++] = rev[--n];
  return k;
}

/* Written by hand, not with g_strdup_printf and g_base64_encode: those were 2% of a computed
 * page whose items the API's item cache answers (scripts/bench/api/pages.sh). The text is the same:
 * test_storage_archive's /storage/timeline/cursor-encode compares it with theirs. */
char *storage_timeline_cursor_encode(gint64 date, const char *message_id, int kind)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  gsize id_len = strlen(message_id);
  g_autofree guchar *plain = g_malloc(id_len + 44); /* two decimals of at most 20 bytes, two '|' */
  gsize n = decimal((char *)plain, date);
  plain[n++] = '|';
  memcpy(plain + n, message_id, id_len);
  n += id_len;
  plain[n++] = '|';
  n += decimal((char *)plain + n, kind);

  char *out = g_malloc((n + 2) / 3 * 4 + 1), *o = out; /* base64url, unpadded */
  gsize i = 0;
  for (; i + 3 <= n; i += 3) {
    guint32 v = (guint32)plain[i] << 16 | (guint32)plain[i + 1] << 8 | plain[i + 2];
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    *o++ = alphabet[(v >> 6) & 63];
    *o++ = alphabet[v & 63];
  }
  if (i < n) {
    guint32 v = (guint32)plain[i] << 16 | (i + 1 < n ? (guint32)plain[i + 1] << 8 : 0);
    *o++ = alphabet[v >> 18];
    *o++ = alphabet[(v >> 12) & 63];
    if (i + 1 < n) *o++ = alphabet[(v >> 6) & 63];
  }
  *o = '\0';
  return out;
}

int storage_timeline_cursor_decode(const char *cursor, MaTimelinePos *pos, GError **error)
{
  size_t n = strlen(cursor);
  gboolean ok = n > 0 && n <= CURSOR_MAX_LEN;
  for (size_t i = 0; ok && i < n; i++)
    ok = g_ascii_isalnum(cursor[i]) || cursor[i] == '-' || cursor[i] == '_';
  char *plain = NULL;
  char **parts = NULL;
  if (ok) {
    GString *b64 = g_string_new(cursor);
    for (gsize i = 0; i < b64->len; i++) {
      if (b64->str[i] == '-') b64->str[i] = '+';
      else if (b64->str[i] == '_') b64->str[i] = '/';
    }
    while (b64->len % 4) g_string_append_c(b64, '=');
    gsize len = 0;
    guchar *raw = g_base64_decode(b64->str, &len);
    g_string_free(b64, TRUE);
    plain = g_strndup((const char *)raw, len);
    ok = strlen(plain) == len; /* no NUL inside */
    g_free(raw);
  }
  if (ok) {
    parts = g_strsplit(plain, "|", -1);
    ok = g_strv_length(parts) == 3 && *parts[0] && *parts[1] && *parts[2];
  }
  if (ok) {
    char *end = NULL;
    pos->date = g_ascii_strtoll(parts[0], &end, 10);
    ok = end && *end == '\0';
    for (const char *p = parts[1]; ok && *p; p++) ok = g_ascii_isalnum(*p) || *p == '-' || *p == '_';
    ok = ok && (strcmp(parts[2], "0") == 0 || strcmp(parts[2], "1") == 0);
  }
  if (ok) {
    pos->message_id = g_strdup(parts[1]);
    pos->kind = parts[2][0] - '0';
  }
  g_strfreev(parts);
  g_free(plain);
  if (!ok) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "invalid cursor");
    return -1;
  }
  return 0;
}

