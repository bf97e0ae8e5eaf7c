/* mime.h - turns one raw RFC 5322 message into the normalised MaMessage of agent/lib/model.h.
 * This module is the only code in mailagent that includes GMime (and, with mime_html.c, the only
 * HTML parser user). Everything here is pure: no I/O, no globals besides GMime's one-time init.
 *
 * Limits (MaMimeLimits, defaults from mime_limits_default()):
 *   max_message_size  50 MB   larger input is refused: -1 with MA_ERROR_LIMIT.
 *   max_parts         1000    MIME entities (leaves + multiparts + embedded messages); the input
 *                             is cut at the boundary line that opens part max_parts+1, so the
 *                             first max_parts parts are still read; a warning says so.
 *   max_depth         20      nesting of multiparts and message/rfc822; the input is cut where
 *                             the too-deep entity starts; a warning says so.
 *   max_header_block  1 MB    the top-level header block; fields past the budget are dropped
 *                             except the ones we read (From, To, Subject, Content-Type, ...).
 *   max_header_field  64 KB   one header field with its continuation lines; a longer field is
 *                             dropped (top level) with a warning.
 *   max_text          4 MB    the text body (UTF-8, all text/plain parts together) and the HTML
 *                             body are each cut there, at a character boundary, with a warning;
 *                             the raw message keeps every octet. Rules read the first 256 KB and
 *                             the snippet 200 characters anyway: the cap bounds what is held,
 *                             stored and indexed for search, so a 50 MB text costs 4 MB.
 * GMime has no limits and cannot be interrupted, so they are enforced by a linear pre-scan of the
 * raw bytes (mime_prescan.c) before GMime sees anything. The pre-scan also repairs what GMime
 * would read badly: a message whose lines end in bare CR gets them turned into LF, and NUL bytes
 * in the top-level header block become spaces (NULs in bodies are dropped from the text). Only
 * when such a repair is needed is the input copied (a mapped file too: the repair is in memory);
 * otherwise GMime reads the caller's buffer in place, or a mapped file through its descriptor
 * (mime_parse_raw). A multipart without a boundary parameter is re-parsed once with the boundary of its
 * first delimiter line (pre-scanned again under the same limits).
 *
 * Policy: "still archive what can be read". Apart from the size limit and input that holds no
 * header at all, mime_parse() succeeds and lists what it could not read in MaMessage.warnings
 * (truncated base64, missing boundary, limits hit...).
 *
 * Hand forwards are unwrapped (MaMessage.unwrapped = TRUE, forwarder_address = outer From):
 *   rfc822:  the message has exactly one message/rfc822 part among the direct children of its
 *            top-level multipart, and either the outer subject starts with a forward prefix
 *            (Fwd:, Fw:, FW:, 转发:, 轉寄:, WG:, TR:, RV:, fwd: any case, also full-width colon)
 *            or the outer message's own text has at most MIME_UNWRAP_MAX_OWN_LINES non-empty
 *            lines and its subject is empty or equal (case-insensitively) to the attached
 *            message's ("Re: ..." with an old mail attached stays a reply). The original's headers, participants, body and attachments become the
 *            MaMessage; its Message-ID (when valid) is kept for dedup; forward_kind = "rfc822".
 *   inline:  otherwise, forward_find_in_text() on the text/plain body (or forward_find_in_html()
 *            on an HTML-only body) finds a header block, and either the subject has a forward
 *            prefix, or the block's separator itself says "forwarded" (block->marked: Gmail,
 *            Apple, Thunderbird, NetEase) AND at most MIME_UNWRAP_MAX_OWN_LINES non-empty lines
 *            stand above it (block->note_lines: the forwarder's own note is short). An unmarked
 *            block (Outlook/QQ style, identical above a quoted reply) under a subject without a
 *            forward prefix ("RE: ...") is a reply and is never unwrapped. Participants come from the
 *            block (forward_parse_addresses), date from forward_parse_date, subject from the
 *            block (else the outer subject without its prefix), text = block body, html = NULL,
 *            the outer attachments are kept; forward_kind = block->kind.
 *   In both cases the outer message's Message-ID, In-Reply-To and References are NOT kept: an
 *   inline block carries no Message-ID, so message_id is NULL and the pipeline dedups by hash.
 *   The forward signals (Resent-From, X-Forwarded-*, Delivered-To) are always the outer ones.
 *
 * Attachments: the content of a part that lies in the caller's buffer or file (identity, base64 or
 * quoted-printable; no pre-scan repair copy) is hashed and measured by decoding it in pieces and
 * is not kept: the attachment is in_raw (model.h) and mime_content_reader decodes it again when
 * it is stored. Other attachments carry their decoded data.
 *
 * Never re-serialise a parsed GMime object (g_mime_object_to_string, write_to_stream on headers,
 * any setter that re-encodes Content-Type): GMime 3.2.13 can loop forever in
 * g_mime_param_list_encode. This module only reads values.
 */
#ifndef MA_MIME_H
#define MA_MIME_H

#include <glib.h>

#include "agent/lib/model.h"
#include "agent/lib/raw.h"

typedef struct {
  gsize max_message_size; /* bytes; default 50 MB */
  guint max_parts;        /* default 1000 */
  guint max_depth;        /* default 20 */
  gsize max_header_block; /* bytes of the top-level header block; default 1 MB */
  gsize max_header_field; /* bytes of one header field incl. continuations; default 64 KB */
  gsize max_text;         /* bytes of the text body, and of the HTML body; default 4 MB */
} MaMimeLimits;

/* Non-empty lines of the forwarder's own text that still count as "a short note". */
#define MIME_UNWRAP_MAX_OWN_LINES 15

/* The documented defaults above. */
MaMimeLimits mime_limits_default(void);

/* Initialises GMime once per process (thread-safe). mime_parse() calls it; calling it early
 * from main() is harmless. */
void mime_global_init(void);

/* NULL when the first bytes of a message could start a header section, else a static reason why
 * mime_parse will refuse it for certain (empty, blank first line, first line indented or not a
 * "Name: value" field). Reads at most the first line; pure, no GMime (mime_start.c). */
const char *mime_header_start_problem(const void *data, gsize len);

/* The forward signals of a message's header section, read in one pass (mime_signals.c): the one
 * reading the SMTP server's forwarder policy and the parser (MaMessage.signals, model.h) share. Address
 * tokens as written (split at white space and , ; < > " ( ), one '@' neither first nor last). */
#define MIME_SIGNAL_FIELD_MAX 65536   /* octets of one field's value that are read */
#define MIME_SIGNAL_ADDRESSES_MAX 100 /* addresses kept per list */
typedef struct {
  GPtrArray *resent_from;     /* char*: of the first Resent-From; NULL when there is none */
  GPtrArray *x_forwarded_for; /* of every X-Forwarded-For (Gmail adds one per hop) */
  GPtrArray *x_forwarded_to;  /* of the first X-Forwarded-To */
  GPtrArray *delivered_to;    /* of the first Delivered-To */
} MimeForwardFields;
/* Reads head (len octets: a message or its header section; the pass stops at the first blank
 * line) into *out, which the caller clears with mime_forward_signals_clear. Never fails. */
void mime_forward_signals_read(const void *head, gsize len, MimeForwardFields *out);
void mime_forward_signals_clear(MimeForwardFields *s);

/* Parses raw (len bytes, need not be NUL-terminated; not modified, not retained) under limits
 * (NULL = defaults). Returns 0 with *out set (the caller frees it with ma_message_free), or -1
 * with *error: MA_ERROR_LIMIT when len > max_message_size, MA_ERROR_INVALID when the input holds
 * no header at all. Thread-safe: any number of threads may parse at once. */
int mime_parse(const void *raw, gsize len, const MaMimeLimits *limits, MaMessage **out,
               GError **error);
/* mime_parse of a message in memory or in a mapped file (raw.h; borrowed, not retained): a mapped
 * file is pre-scanned with its pages given back behind, parsed by GMime through its descriptor,
 * and only the slices the walk reads (text up to max_text, attached messages) are touched, so a
 * large message costs about max_text, not its size. Attachments refer to their place in raw. */
int mime_parse_raw(const MaRaw *raw, const MaMimeLimits *limits, MaMessage **out, GError **error);

/* For modules that walk GMime's tree themselves (agent/bounce): the bytes of raw GMime may read
 * under limits (NULL = defaults), after the pre-scan's cut and repairs (mime_prescan.c), so that
 * nesting, part counts and header sizes stay bounded. Returns 0 with *data and *data_len set and
 * *owned the copy to g_free (NULL when *data points into raw), or -1 when len is over
 * max_message_size. */
int mime_bounded_input(const void *raw, gsize len, const MaMimeLimits *limits, const char **data,
                       gsize *data_len, char **owned);

/* The content of a parsed attachment with in_raw set (model.h), decoded again from the raw message
 * mime_parse read, a piece at a time: for the blob store (storage_blob_put_stream) and anything
 * else that needs the octets. raw must hold the very octets mime_parse was given; the reader
 * borrows it and a (which must outlive the reader) and gives a mapped file's pages back behind
 * it. NULL when a is not in_raw or does not fit in raw. mime_content_reader_read has MaBlobReader's signature (storage.h): at most cap
 * decoded bytes into buf, 0 at the end; it never fails. */
typedef struct MimeContentReader MimeContentReader;
MimeContentReader *mime_content_reader_new(const MaRaw *raw, const MaAttachment *a);
gssize mime_content_reader_read(void *reader, guint8 *buf, gsize cap, GError **error);
void mime_content_reader_free(MimeContentReader *r);

/* "GMime X.Y.Z" of the library linked at run time, for `mailagent version`. Caller frees. */
char *mime_library_version(void);

/* Readable UTF-8 text from HTML (UTF-8 input; any <meta charset> is ignored): block elements and
 * <br> break lines, list items get "- ", table cells are separated by a tab and rows by a line
 * break, script/style/head and comments are skipped, entities decoded, runs of blank lines
 * collapsed. Never NULL; the caller frees it. */
char *mime_html_to_text(const char *html, gsize len);

/* Safe HTML for display by the API: an allowlist of formatting tags and attributes; script,
 * style, iframe, object, embed, form and the like are dropped with their content, on* attributes
 * are dropped, links keep only http:, https:, mailto:, tel: and cid: targets, <img src> only cid:
 * and data:image/ (no remote loads), style attributes lose any declaration that loads or runs
 * something (url(, expression, @import, javascript:, behavior). Never NULL; the caller frees it. */
char *mime_html_sanitize(const char *html, gsize len);

/* Mailboxes of an address-list header value (From, To, Cc, Bcc): appends each addr-spec
 * ("local@domain", domain lower-cased) to addrs and, when names is not NULL, its display name ("" when
 * none) to names (both char*, owned by the arrays). At most 1000. Returns how many were added. */
int mime_address_list_parse(const char *value, GPtrArray *names, GPtrArray *addrs);

#endif
