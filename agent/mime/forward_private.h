/* forward_private.h - what the files of the forward recogniser share (forward.c, forward_text.c,
 * forward_address.c, forward_date.c, forward_html.c): limits and small UTF-8 text helpers. Not for
 * use outside agent/mime/forward*.c.
 */
#ifndef MA_FORWARD_PRIVATE_H
#define MA_FORWARD_PRIVATE_H

#include <glib.h>
#include <string.h>

#define FORWARD_MAX_SCAN_LINES 400       /* lines searched for the start of a block */
#define FORWARD_MAX_BLOCK_LINES 32       /* header lines (with blanks/continuations) in a block */
#define FORWARD_MAX_VALUE 8192           /* bytes kept of one header value / normalised line */
#define FORWARD_MAX_DATE_SCAN 512        /* bytes of a date string looked at */
#define FORWARD_MAX_HTML (8u << 20)      /* HTML bytes handed to libxml2 */
#define FORWARD_HTML_PROBE (256u << 10)  /* larger HTML is first probed on this prefix */
#define FORWARD_MAX_RENDER (16u << 20)   /* bytes of text rendered from HTML */

static inline gboolean fwd_is_ws(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static inline gboolean fwd_starts_with(const char *s, const char *prefix)
{
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Length of the Unicode space at p (NBSP, ideographic space, U+2000..U+200B, U+202F), 0 if none.
 * p must be NUL-terminated or have 3 readable bytes. */
gsize fwd_unicode_space_len(const char *p);

/* The largest length <= len that does not end inside a UTF-8 sequence of s. */
gsize fwd_utf8_clip(const char *s, gsize len);

/* Trims ASCII and Unicode spaces at both ends, in place. Returns s. */
char *fwd_trim_inplace(char *s);

/* At most max bytes of src[0..len) as a new string (caller frees): the HTML entities clients leave
 * in text bodies decoded (&nbsp; &lt; &gt; &quot; &amp; and numeric forms), Unicode spaces and tabs
 * made ' ', space runs collapsed, ends trimmed. */
char *fwd_normalise_copy(const char *src, gsize len, gsize max);

/* TRUE when forward_parse_addresses would find at least one address in list (stops at the first). */
gboolean fwd_has_address(const char *list);

#endif
