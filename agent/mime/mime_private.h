/* mime_private.h - declarations shared by the files of the mime module; not for other modules.
 * Nothing here includes GMime, so the pure helpers (pre-scan, charsets, header values) can be
 * unit-tested on their own.
 */
#ifndef MA_MIME_PRIVATE_H
#define MA_MIME_PRIVATE_H

#include <glib.h>

#include "agent/lib/raw.h"
#include "agent/mime/mime.h"

/* ---- pre-scan (mime_prescan.c) ------------------------------------------------------------- */

typedef struct {
  const char *data; /* what GMime must read: the caller's buffer or `copy` */
  gsize len;        /* may be shorter than the input when a part/depth limit cut it */
  char *copy;       /* owned repaired copy, NULL when data points into the caller's buffer */
  gsize header_len; /* the top-level header block's length in data, its blank line included */
  guint parts;      /* entities counted (up to the cut) */
  guint max_depth;  /* deepest nesting seen (up to the cut) */
} MimePrescan;

/* Scans raw[0..len) under limits. 0 with *out filled (release with mime_prescan_clear), or -1 with
 * MA_ERROR_LIMIT when len exceeds max_message_size. Appends what it had to give up (char*, owned
 * by the array) to warnings. Linear in len; never recurses. */
int mime_prescan(const char *raw, gsize len, const MaMimeLimits *limits, MimePrescan *out,
                 GPtrArray *warnings, GError **error);
/* mime_prescan over a message's octets in memory or in a mapped file (raw.h), giving the pages of
 * a mapped file back behind it; out->data points into ma_raw_data(raw) unless a repair copied it. */
int mime_prescan_raw(const MaRaw *raw, const MaMimeLimits *limits, MimePrescan *out, GPtrArray *warnings,
                     GError **error);
void mime_prescan_clear(MimePrescan *p);

/* ---- charsets (mime_charset.c) ------------------------------------------------------------- */

/* data in the declared charset (NULL/unknown: best guess: valid UTF-8, else GB18030, else
 * windows-1252) to UTF-8. Invalid bytes become U+FFFD, NUL bytes are dropped. Never NULL; the
 * caller frees it. */
char *mime_charset_to_utf8(const char *data, gsize len, const char *charset);
/* Keeps the gconv modules of common mail charsets loaded for the life of the process (called
 * once by mime_global_init). */
void mime_charset_pin_modules(void);

/* ---- header values (mime_header.c) --------------------------------------------------------- */

/* Normalised Message-ID from a header value ("<a@B.com>" -> "a@b.com"); NULL when junk.
 * The caller frees it. */
char *mime_msgid_normalise(const char *value);
/* Appends every valid <id> of a References-like value to out (char*, owned by out), oldest first,
 * at most MIME_MAX_REFERENCES (the first and the latest ones are kept). */
#define MIME_MAX_REFERENCES 100
void mime_msgid_list(const char *value, GPtrArray *out);
/* "Local@B\xC3\xBC.COM" or "local@xn--b-xga.com" -> "Local@bü.com" (domain lower-cased and IDN
 * decoded to UTF-8); NULL when there is no "local@domain". The caller frees it. */
char *mime_address_normalise(const char *address);
/* TRUE when subject starts with a forward prefix (Fwd:, FW:, 转发: ...); *rest (optional) points
 * after the prefix and following spaces. */
gboolean mime_subject_is_forward(const char *subject, const char **rest);

/* TRUE when a Content-Type value is syntactically "type/subtype" (RFC 2045 tokens) with
 * optional parameters after ';'. "text", "text/", "garbage" are not (RFC 2045 section 5.2: such a
 * part is read as text/plain). */
gboolean mime_content_type_valid(const char *value);

/* ---- encoded words (mime_rfc2047.c) -------------------------------------------------------- */

/* Decodes the RFC 2047 encoded words of an unfolded, UTF-8 unstructured value: adjacent words in
 * one charset joined as bytes before conversion, lenient base64, white space between words
 * dropped, malformed words kept literally. Never NULL; the caller frees it. */
char *mime_rfc2047_decode(const char *value);

/* Appends a warning once (no duplicates). */
void mime_warn(GPtrArray *warnings, const char *text);

#endif
