/* forward.h - finds a hand-forwarded original inside a message body: the header block that Gmail,
 * Outlook (English and Chinese labels), Apple Mail and QQ/Exmail/Foxmail put above the quoted
 * original, in text/plain and in HTML-only forms. Pure text processing: no GMime, no I/O.
 * (message/rfc822 attachments are handled by the MIME parser, not here.)
 */
#ifndef MA_FORWARD_H
#define MA_FORWARD_H

#include <glib.h>

typedef struct {
  const char *kind;  /* static: "gmail", "outlook", "apple", "qq", "thunderbird",
                        "netease", "yahoo" */
  char *from;        /* header values as written in the block (UTF-8), NULL when absent; */
  char *to;          /*   address lists like "Name <a@b>; c@d" or "Name[a@b]" are normalised by */
  char *cc;          /*   forward_parse_addresses */
  char *subject;
  char *date;        /* as written; forward_parse_date reads it */
  char *body;        /* the original's text after the header block (UTF-8), "" when none */
  guint note_lines;  /* non-blank lines above the block (the forwarder's own note); for HTML,
                        counted in the text forward_html_to_text renders */
  gboolean marked;   /* the block's separator says "forwarded" (Gmail, Apple, Thunderbird,
                        NetEase, Yahoo). FALSE for Outlook and QQ blocks, which look exactly the same
                        above a quoted reply: without a Fwd: subject they may be a reply. */
} MaForwardBlock;

void ma_forward_block_free(MaForwardBlock *b);

/* Looks for the first (outermost) forward header block in a text body: a separator line
 * ("---------- Forwarded message ---------", "-----Original Message-----", a line of underscores,
 * "Begin forwarded message:", "------------------ 原始邮件 ------------------", ...) followed by
 * header lines, or, without a separator, a header-shaped block starting with From:/发件人: that has
 * at least three fields including a date and either a readable date or an address in From.
 * Labels may use ':' or '：' and be quoted with '>' (the body then loses the same quote depth).
 * Only the first 400 lines are searched, a block has at most 32 lines, a value keeps 8 KB.
 * 1 found (*out set, caller frees with ma_forward_block_free), 0 none (*out NULL).
 * Input of any size is scanned in linear time; text must be NUL-terminated UTF-8. */
int forward_find_in_text(const char *text, MaForwardBlock **out);
/* The same for an HTML body (tables, <div> with bold labels, Outlook's #divRplyFwdMsg...): the
 * HTML is rendered with forward_html_to_text and read by the same recogniser. html is UTF-8 and
 * need not be NUL-terminated; bodies above 256 KB are first probed on a prefix. */
int forward_find_in_html(const char *html, gsize len, MaForwardBlock **out);

/* Renders an HTML body to lines of text the way forward_find_in_html reads it: block elements end
 * lines, table cells are joined by a space, <hr> and Outlook's forward-header <div>s become a line
 * of underscores, <a href="mailto:x">Name</a> shows as "Name <x>"; script/style/head are dropped;
 * whitespace collapses as a browser would. html need not be NUL-terminated; at most 8 MB are read.
 * Returns a new string (never NULL); caller frees. */
char *forward_html_to_text(const char *html, gsize len);

/* Splits a block's address list into participants: appends MaParticipant* (owned by out, which
 * should free with ma_participant_free) with the given MaRole. Handles "Name <a@b>",
 * "\"Name\" <a@b>", "a@b", "Name[a@b]" (QQ), "Name [mailto:a@b]" (Outlook text),
 * "a@b <mailto:a@b>" (Apple), "A <a@x> on behalf of B <b@y>" / "代表" (B is kept), separated by
 * ',' or ';' (also full-width): when ';' separates, ',' belongs to names ("Pan, Xinhui <x@y>").
 * The domain is lower-cased and IDN-decoded; elements without an address and duplicates within
 * the list are dropped; a name equal to the address becomes NULL. NULL list adds nothing.
 * Invalid UTF-8 in list is repaired first: every name and address appended is valid UTF-8. */
void forward_parse_addresses(const char *list, int role, GPtrArray *out);

/* Reads dates as clients write them ("Mon, Jan 8, 2024 at 10:12 AM", "2024年1月8日 10:12",
 * "2024年1月8日(星期一) 下午3:05", "Monday, January 8, 2024 10:12 AM", "October 27, 2024 at
 * 8:41:32 PM EDT", "GMT+8", RFC 5322, ISO 8601; French/German/Spanish month names). No timezone
 * means UTC; numeric "3/5/2024" is read month first unless the first number exceeds 12.
 * Returns Unix seconds, or 0 when unreadable (NULL too). */
gint64 forward_parse_date(const char *text);

#endif
