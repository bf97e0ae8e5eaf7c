/* mime_downgrade.h - re-encodes a message for 7-bit transport (RFC 6152 section 3, RFC 2045): every
 * leaf part whose body holds octets >= 0x80 or lines over 998 octets, labelled 7bit, 8bit, binary
 * or not labelled, is written as quoted-printable and its Content-Transfer-Encoding header line
 * replaced (a part without Content-Type gets one naming its charset, utf-8 when the body is valid
 * UTF-8, else unknown-8bit; the top-level entity gets MIME-Version when it lacks one); a multipart
 * or message/rfc822 labelled 8bit or binary whose content all became 7-bit is relabelled 7bit.
 * Everything else is copied octet for octet: parts that need nothing, boundaries, preambles,
 * header fields other than Content-Transfer-Encoding (parameter lists are never re-encoded).
 *
 * Pure and streaming with bounded memory: bytes in (fed in pieces of any size), bytes out through a
 * callback. Two passes over the same input: the scan finds which parts need re-encoding (the
 * header line must change before the body is seen), the second pass writes. Memory: one header
 * block (MIME_DOWNGRADE_MAX_HEADER), one line head, the entity stack and one bit per entity.
 *
 * What cannot be re-encoded is left as it is and counted in the summary (8-bit octets in header
 * fields, which need SMTPUTF8; in a preamble or epilogue; in base64 or quoted-printable parts;
 * lines over 998 octets there). A part inside multipart/signed or multipart/encrypted that would
 * need re-encoding fails the scan (MA_ERROR_INVALID with the reason): changing it would break the
 * signature (RFC 1847 section 2.1 asks signers for 7-bit content). Input past the limits (depth,
 * entities, header block) fails with MA_ERROR_INVALID too. Line ends are kept as they come; a
 * re-encoded part's lines end in CRLF.
 */
#ifndef MA_MIME_DOWNGRADE_H
#define MA_MIME_DOWNGRADE_H

#include "agent/lib/error.h"

#include <glib.h>

#define MIME_DOWNGRADE_MAX_DEPTH 32          /* nested multiparts and message/rfc822 */
#define MIME_DOWNGRADE_MAX_ENTITIES 1000     /* entities (leaves, multiparts, messages) */
#define MIME_DOWNGRADE_MAX_HEADER (1024 * 1024) /* one entity's header block */
#define MIME_DOWNGRADE_MAX_LINE 998          /* octets per line without CRLF (RFC 5322 2.1.1) */

typedef struct MimeDowngrade MimeDowngrade;

/* Receives output octets (borrowed for the call). */
typedef void (*MimeDowngradeOutput)(const char *data, gsize len, gpointer user);

typedef struct {
  guint entities;          /* entities walked */
  guint to_encode;         /* leaf parts that need (scan) or got (write) quoted-printable */
  guint relabelled;        /* multiparts and messages relabelled 7bit */
  gboolean left_8bit;      /* octets >= 0x80 stay where nothing can re-encode them */
  gboolean left_long_line; /* a line over 998 octets stays (a header, base64, a preamble...) */
} MimeDowngradeSummary;

/* A new converter in its scan pass. Free with mime_downgrade_free (NULL accepted). */
MimeDowngrade *mime_downgrade_new(void);
void mime_downgrade_free(MimeDowngrade *d);
/* Feeds the next piece of the message (any length, possibly 0). 0, or -1 with *error: a limit, a
 * signed part that would change; the converter is then unusable. */
int mime_downgrade_feed(MimeDowngrade *d, const char *data, gsize len, GError **error);
/* Ends the current pass and fills *out (scan: what needs re-encoding; write: what was done).
 * 0, or -1 with *error as for feed. */
int mime_downgrade_end(MimeDowngrade *d, MimeDowngradeSummary *out, GError **error);
/* After the scan's successful end: starts the write pass. Feed the same input again; the
 * converted message goes to output (user passed along). */
void mime_downgrade_start_write(MimeDowngrade *d, MimeDowngradeOutput output, gpointer user);

/* Both passes over a message in memory, fed in pieces of at most chunk octets (0: 64 KiB).
 * 1: re-encoded, *out a new array (the caller's) with the converted message; 0: nothing needed
 * re-encoding, *out NULL; -1 with *error. summary (may be NULL) is the write pass's, or the
 * scan's when nothing was written. */
int mime_downgrade_bytes(const char *data, gsize len, gsize chunk, GByteArray **out, MimeDowngradeSummary *summary,
                         GError **error);

#endif
