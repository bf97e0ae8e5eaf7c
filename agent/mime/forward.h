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
                        "netease" */
  char *from;        /* header values as written in the block (UTF-8), NULL when absent; */
  char *to;          /*   address lists like "Name <a@b>; c@d" or "Name[a@b]" are normalised by */
  char *cc;          /*   forward_parse_addresses */
  char *subject;
  char *date;        /* as written; forward_parse_date reads it */
  char *body;        /* the original's text after the header block (UTF-8), "" when none */
  guint note_lines;  /* non-blank lines above the block (the forwarder's own note); for HTML,
                        counted in the text forward_html_to_text renders */
  gboolean marked;   /* the block's separator says "forwarded" (Gmail, Apple, Thunderbird,
                        NetEase). FALSE for Outlook and QQ blocks, which look exactly the same
                        above a quoted reply: without a Fwd: subject they may be a reply. */
} MaForwardBlock;

void ma_forward_block_free(MaForwardBlock *b);

/* Looks for the first forward header block in a text body. 1 found (*out set, caller frees),
 * 0 none. Input of any size is scanned in linear time. */
int forward_find_in_text(const char *text, MaForwardBlock **out);
/* The same for an HTML body (tables, <div> with bold labels, Outlook's #divRplyFwdMsg...). */
int forward_find_in_html(const char *html, gsize len, MaForwardBlock **out);

/* Renders an HTML body to lines of text the way forward_find_in_html reads it: block elements end
 * lines, table cells are joined by a space, <hr> and Outlook's forward-header <div>s become a line
 * of underscores; script/style/head are dropped; whitespace collapses as a browser would.
 * html need not be NUL-terminated; at most 16 MB are read. Returns a new string; caller frees. */
char *forward_html_to_text(const char *html, gsize len);

/* Splits a block's address list into "name <address>"-free pairs: out gets MaParticipant* with the
 * given role. Handles "Name <a@b>", "\"Name\" <a@b>", "a@b", "Name[a@b]" (QQ), "Name [mailto:a@b]"
 * (Outlook text), separated by ',' or ';'. */
void forward_parse_addresses(const char *list, int role, GPtrArray *out);

/* Reads dates as clients write them ("Mon, Jan 8, 2024 at 10:12 AM", "2024年1月8日 10:12",
 * "Monday, January 8, 2024 10:12 AM", RFC 5322). Returns Unix seconds, or 0 when unreadable. */
gint64 forward_parse_date(const char *text);

#endif
