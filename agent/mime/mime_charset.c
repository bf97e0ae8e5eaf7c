/* mime_charset.c - body text in any charset iconv knows, to UTF-8, never failing.
 *
 * The declared charset is mapped through GMime's alias table (g_mime_charset_iconv_name) and
 * widened where mail clients lie in a known way (gb2312/gbk -> GB18030, iso-8859-1/us-ascii ->
 * windows-1252, ks_c_5601-1987 -> CP949). Bytes that do not convert become U+FFFD one at a time,
 * so a single bad byte does not lose the rest. glibc loads a gconv module on iconv_open and
 * unloads it on the last iconv_close (dlopen + dlclose, ~200 us, on every header GMime decodes
 * too): mime_charset_pin_modules() keeps one converter per common mail charset open for the
 * life of the process so that never happens. With no usable charset the guess is: valid UTF-8,
 * else GB18030 if it converts cleanly, else windows-1252. NUL bytes are always dropped (the
 * result is a C string). Cost: one pass when the input is ASCII/UTF-8, otherwise one iconv pass.
 */
#include "mime_private.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>

#include <gmime/gmime.h>

/* Copies s[0..len) without NUL bytes. */
static char *strndup_no_nul(const char *s, gsize len)
{
  char *out = g_malloc(len + 1), *o = out;
  const char *p = s, *end = s + len;
  while (p < end) {
    const char *z = memchr(p, '\0', (gsize)(end - p));
    gsize n = z ? (gsize)(z - p) : (gsize)(end - p);
    memcpy(o, p, n);
    o += n;
    p += n + (z ? 1 : 0);
  }
  *o = '\0';
  return out;
}

/* g_utf8_validate_len (which also refuses NUL bytes), with the leading run of 8-byte words that
 * are plain ASCII without NUL skipped a word at a time: glib checks byte by byte, and most body
 * text is ASCII. Splitting after an ASCII byte changes no verdict. */
static gboolean utf8_valid(const char *data, gsize len)
{
  const guint64 ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  gsize i = 0;
  for (; i + 8 <= len; i += 8) {
    guint64 w;
    memcpy(&w, data + i, sizeof w);
    if ((w & highs) || ((w - ones) & ~w & highs)) break; /* a non-ASCII or a zero byte */
  }
  return g_utf8_validate_len(data + i, len - i, NULL);
}

static char *utf8_repair(const char *data, gsize len)
{
  char *tmp = strndup_no_nul(data, len);
  char *valid = g_utf8_make_valid(tmp, -1);
  g_free(tmp);
  return valid;
}

/* Lenient conversion with an open converter: invalid input bytes become U+FFFD. */
static char *convert_lenient(GIConv cd, const char *data, gsize len, gboolean strict, gboolean *clean)
{
  GString *out = g_string_sized_new(len + len / 2 + 16);
  char *in = (char *)data;
  gsize inleft = len;
  char buf[4096];
  *clean = TRUE;
  while (inleft > 0) {
    char *o = buf;
    gsize oleft = sizeof buf;
    gsize r = g_iconv(cd, &in, &inleft, &o, &oleft);
    g_string_append_len(out, buf, (gssize)(o - buf));
    if (r != (gsize)-1) continue;
    if (errno == E2BIG) continue;
    *clean = FALSE;
    if (strict) break;
    /* EILSEQ, EINVAL (truncated sequence at the end) or anything else: skip one byte. */
    g_string_append(out, "\xEF\xBF\xBD");
    in++;
    inleft--;
    g_iconv(cd, NULL, NULL, NULL, NULL);
  }
  char *o = buf;
  gsize oleft = sizeof buf;
  g_iconv(cd, NULL, NULL, &o, &oleft); /* flush shift states (ISO-2022-JP) */
  g_string_append_len(out, buf, (gssize)(o - buf));
  if (!*clean && strict) {
    g_string_free(out, TRUE);
    return NULL;
  }
  /* iconv passes NUL through; drop them so the result is a whole C string. */
  if (memchr(out->str, '\0', out->len)) {
    char *clean_copy = strndup_no_nul(out->str, out->len);
    g_string_free(out, TRUE);
    return clean_copy;
  }
  return g_string_free(out, FALSE);
}

/* Converts from `charset`; NULL when iconv does not know it (or strict and not clean). */
static char *convert_from(const char *charset, const char *data, gsize len, gboolean strict)
{
  /* g_mime_iconv_open maps charset aliases; mime_charset_pin_modules() keeps modules loaded. */
  iconv_t ic = g_mime_iconv_open("UTF-8", charset);
  if (ic == (iconv_t)-1) return NULL;
  GIConv cd = (GIConv)ic;
  g_iconv(cd, NULL, NULL, NULL, NULL); /* a cached converter may hold a shift state */
  gboolean clean;
  char *s = convert_lenient(cd, data, len, strict, &clean);
  g_mime_iconv_close(ic);
  /* Never trust the converter's output blindly: glibc maps odd names ("utf-8\x10", unknown
   * aliases) to converters that pass invalid sequences through. */
  if (s && !g_utf8_validate(s, -1, NULL)) {
    char *v = g_utf8_make_valid(s, -1);
    g_free(s);
    s = v;
  }
  return s;
}

static char *guess(const char *data, gsize len)
{
  if (utf8_valid(data, len)) return strndup_no_nul(data, len);
  char *s = convert_from("GB18030", data, len, TRUE);
  if (s) return s;
  s = convert_from("WINDOWS-1252", data, len, FALSE);
  return s ? s : utf8_repair(data, len);
}

static gboolean is_ascii(const char *data, gsize len)
{
  for (gsize i = 0; i < len; i++)
    if ((guchar)data[i] >= 0x80) return FALSE;
  return TRUE;
}

char *mime_charset_to_utf8(const char *data, gsize len, const char *charset)
{
  if (!data || len == 0) return g_strdup("");
  if (!charset || !*charset) return guess(data, len);
  if (g_ascii_strcasecmp(charset, "utf-8") == 0 || g_ascii_strcasecmp(charset, "utf8") == 0) {
    if (utf8_valid(data, len)) return strndup_no_nul(data, len);
    return utf8_repair(data, len);
  }
  if (g_ascii_strcasecmp(charset, "us-ascii") == 0 || g_ascii_strcasecmp(charset, "ascii") == 0) {
    if (is_ascii(data, len)) return strndup_no_nul(data, len);
    return guess(data, len); /* 8-bit text declared as ASCII: guess */
  }
  const char *name = g_mime_charset_iconv_name(charset);
  if (!name) name = charset;
  if (g_ascii_strcasecmp(charset, "gb2312") == 0 || g_ascii_strcasecmp(charset, "gbk") == 0 ||
      g_ascii_strcasecmp(charset, "x-gbk") == 0 || g_ascii_strcasecmp(charset, "euc-cn") == 0 ||
      g_ascii_strcasecmp(name, "gb2312") == 0 || g_ascii_strcasecmp(name, "gbk") == 0)
    name = "GB18030";
  else if (g_ascii_strcasecmp(charset, "iso-8859-1") == 0 || g_ascii_strcasecmp(charset, "latin1") == 0 ||
           g_ascii_strcasecmp(name, "iso-8859-1") == 0)
    name = "WINDOWS-1252";
  else if (g_ascii_strcasecmp(charset, "ks_c_5601-1987") == 0)
    name = "CP949";
  else if (g_ascii_strcasecmp(charset, "big5") == 0)
    name = "BIG5-HKSCS";
  if (is_ascii(data, len) && g_ascii_strncasecmp(name, "utf-16", 6) != 0 &&
      g_ascii_strncasecmp(name, "utf-32", 6) != 0 && g_ascii_strncasecmp(name, "ucs", 3) != 0 &&
      g_ascii_strncasecmp(name, "iso-2022", 8) != 0 && g_ascii_strncasecmp(name, "utf-7", 5) != 0)
    return strndup_no_nul(data, len);
  char *s = convert_from(name, data, len, FALSE);
  return s ? s : guess(data, len);
}

static iconv_t charset_pins[40];

void mime_charset_pin_modules(void)
{
  static const char *const common[] = {
    "GBK", "GB18030", "GB2312", "BIG5", "BIG5-HKSCS", "SHIFT_JIS", "CP932", "EUC-JP", "ISO-2022-JP",
    "EUC-KR", "CP949", "ISO-2022-KR", "KOI8-R", "KOI8-U", "WINDOWS-1250", "WINDOWS-1251",
    "WINDOWS-1252", "WINDOWS-1253", "WINDOWS-1254", "WINDOWS-1255", "WINDOWS-1256",
    "WINDOWS-1257", "WINDOWS-1258", "ISO-8859-2", "ISO-8859-5", "ISO-8859-7", "ISO-8859-9",
    "ISO-8859-15", "TIS-620", "UTF-7", "UTF-16", "UTF-16LE", "UTF-16BE",
  };
  /* Deliberately never closed: process-lifetime pins (a few KB each), kept reachable. */
  for (gsize i = 0; i < G_N_ELEMENTS(common) && i < G_N_ELEMENTS(charset_pins); i++)
    charset_pins[i] = iconv_open("UTF-8", common[i]);
}
