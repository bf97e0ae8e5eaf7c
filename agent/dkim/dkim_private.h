/* dkim_private.h - what the files of agent/dkim share: the tag-list parser (RFC 6376 3.2), header
 * field splitting, relaxed and simple canonicalisation, and base64 with whitespace. Pure functions
 * over buffers; no I/O. Not for use outside agent/dkim (tests and the fuzz target excepted).
 */
#ifndef MA_DKIM_PRIVATE_H
#define MA_DKIM_PRIVATE_H

#include "dkim.h"

#include <openssl/evp.h>

#define DKIM_MAX_TAGS 32

/* One tag=value of a tag list: both point into the parsed text (not NUL-terminated); the value is
 * trimmed of surrounding folding white space, inner white space is kept. */
typedef struct {
  const char *name;
  gsize name_len;
  const char *value;
  gsize value_len;
} DkimTag;

typedef struct {
  DkimTag tags[DKIM_MAX_TAGS];
  guint n;
} DkimTags;

/* Parses a tag list (a DKIM-Signature value or a key record). Returns 0, or -1 with *error_r (a
 * static string): a tag without "=", an invalid tag name or value character, a duplicate tag,
 * more than DKIM_MAX_TAGS tags, or text longer than MA_DKIM_MAX_TAG_LIST. The text is borrowed:
 * the tags point into it. */
int dkim_tags_parse(const char *text, gsize len, DkimTags *out, const char **error_r);
/* The tag named name, or NULL. */
const DkimTag *dkim_tags_find(const DkimTags *tags, const char *name);
/* The value of tag name as a newly allocated string (NULL when absent); with strip_ws, every
 * space, tab, CR and LF removed (base64 values, h= lists). */
char *dkim_tag_dup(const DkimTags *tags, const char *name, gboolean strip_ws);

/* One header field of a message: from the first byte of its name to the end of its last line,
 * line terminator included. */
typedef struct {
  const char *start;
  gsize len;      /* with the final line terminator */
  gsize name_len; /* the field name, without trailing white space */
} DkimField;

/* Splits the header of message into fields (appended to fields, a GArray of DkimField) and sets
 * *body_offset to the first byte after the empty line. Returns 0, or -1 when the header has no
 * terminating empty line (a message that is only a header, without the empty line, is accepted
 * when it ends with a line terminator: its body is empty) or a line that is neither a field nor a
 * continuation. */
int dkim_header_split(const char *message, gsize len, GArray *fields, gsize *body_offset);

/* Appends the relaxed canonical form of field ("name:value\r\n", name lower-cased, unfolded, white
 * space runs as one space, none around the colon or at the end) to out. */
void dkim_canon_header_relaxed(const DkimField *field, GString *out);
/* Appends the field as it is, line terminators made CRLF (simple canonicalisation). */
void dkim_canon_header_simple(const DkimField *field, GString *out);

/* Hashes the canonical body (relaxed or simple) of body[0..len) into md (already initialised),
 * at most limit octets of canonical text when limit >= 0. Sets *canon_len to the canonical length
 * (the whole of it, even past limit). Line terminators LF and CRLF are both read as CRLF. */
void dkim_canon_body(const char *body, gsize len, gboolean relaxed, gint64 limit, EVP_MD_CTX *md,
                     guint64 *canon_len);

/* Removes the value of the b= tag from a canonical DKIM-Signature field text in place (leaving
 * "b="), as the signature is computed without it. Returns FALSE when there is no b= tag. */
gboolean dkim_strip_b_value(GString *canonical_field);

/* Decodes base64 that may contain folding white space. Returns the newly allocated bytes and sets
 * *out_len, or NULL when a character outside the alphabet appears or the length is wrong. */
guchar *dkim_base64_decode(const char *text, gsize len, gsize *out_len);

/* TRUE when s is a valid selector or domain for the d= and s= tags: dot-separated labels of
 * letters, digits, hyphens and underscores, 1..63 octets each, at most 253 octets in all. */
gboolean dkim_name_valid(const char *s);

/* The OpenSSL key inside key, borrowed (dkim_sign.c). */
EVP_PKEY *dkim_key_pkey(const MaDkimKey *key);

#endif
