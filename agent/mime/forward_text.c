/* forward_text.c - UTF-8 text helpers of the forward recogniser: Unicode spaces, clipping at a
 * character boundary, trimming, and the normalisation of one line (entities left in text bodies by
 * QQ Mail, NBSP, space runs). Every function is linear in its input and allocates only its result.
 */
#include "forward_private.h"

/* Length of the Unicode space at p (NBSP, ideographic space, narrow NBSP...), 0 if none. */
gsize fwd_unicode_space_len(const char *p)
{
  const guchar *u = (const guchar *)p;
  if (u[0] == 0xC2 && u[1] == 0xA0) return 2;                                   /* U+00A0 */
  if (u[0] == 0xE3 && u[1] == 0x80 && u[2] == 0x80) return 3;                   /* U+3000 */
  if (u[0] == 0xE2 && u[1] == 0x80 && (u[2] == 0xAF || (u[2] >= 0x80 && u[2] <= 0x8B)))
    return 3;                                                                   /* U+2000..200B, U+202F */
  return 0;
}

/* Moves len back so that s[0..len) does not end inside a UTF-8 sequence. */
gsize fwd_utf8_clip(const char *s, gsize len)
{
  gsize end = len;
  while (end > 0 && ((guchar)s[end - 1] & 0xC0) == 0x80) end--;
  if (end > 0) {
    guchar lead = (guchar)s[end - 1];
    gsize need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (end - 1 + need <= len) return len;
    return end - 1;
  }
  return len;
}

/* Trims ASCII and Unicode spaces at both ends, in place. Returns s. */
char *fwd_trim_inplace(char *s)
{
  char *p = s;
  for (;;) {
    gsize u;
    if (fwd_is_ws(*p)) p++;
    else if ((u = fwd_unicode_space_len(p)) > 0) p += u;
    else break;
  }
  if (p != s) memmove(s, p, strlen(p) + 1);
  gsize n = strlen(s);
  for (;;) {
    if (n > 0 && fwd_is_ws(s[n - 1])) { n--; continue; }
    if (n >= 2 && (guchar)s[n - 2] == 0xC2 && (guchar)s[n - 1] == 0xA0) { n -= 2; continue; }
    if (n >= 3 && fwd_unicode_space_len(s + n - 3) == 3) { n -= 3; continue; }
    break;
  }
  s[n] = '\0';
  return s;
}

/* Copies at most max bytes of src[0..len) into a new string, decoding the few HTML entities that
 * clients leave in text bodies (QQ writes "&nbsp;" and "&gt;" into text/plain), turning Unicode
 * spaces into ' ' and collapsing runs of spaces. Caller frees. */
char *fwd_normalise_copy(const char *src, gsize len, gsize max)
{
  static const struct { const char *ent; char ch; } ents[] = {
    { "&nbsp;", ' ' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&amp;", '&' },
    { "&#160;", ' ' }, { "&#60;", '<' }, { "&#62;", '>' }, { "&#34;", '"' }, { "&#39;", '\'' },
  };
  if (len > max) len = fwd_utf8_clip(src, max);
  char *s = g_malloc(len + 1), *o = s; /* the result is never longer than the input */
  gsize i = 0;
  while (i < len) {
    char c = src[i];
    if ((guchar)c < 0x80 && c != '&') { /* ASCII: no entity, no Unicode space */
      i++;
    } else if (c == '&') {
      gboolean hit = FALSE;
      for (gsize k = 0; k < G_N_ELEMENTS(ents); k++) {
        gsize el = strlen(ents[k].ent);
        if (i + el <= len && g_ascii_strncasecmp(src + i, ents[k].ent, el) == 0) {
          c = ents[k].ch;
          i += el;
          hit = TRUE;
          break;
        }
      }
      if (!hit) i++;
    } else {
      gsize u = fwd_unicode_space_len(src + i);
      if (u > 0 && i + u <= len) {
        c = ' ';
        i += u;
      } else {
        i++;
      }
    }
    if (c == '\t' || c == '\r' || c == '\0') c = ' ';
    if (c == ' ' && o > s && o[-1] == ' ') continue;
    *o++ = c;
  }
  *o = '\0';
  return fwd_trim_inplace(s);
}
