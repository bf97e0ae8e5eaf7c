/* search_query.h - the user's search query (GET /v1/search?q=, `mailagent search`) parsed into
 * terms that every storage backend turns into its own full-text expression. Pure: no storage, no
 * I/O. The syntax is deliberately small and has no operators, so no input can reach a backend as
 * syntax (SQLite FTS5's AND/OR/NOT/NEAR, quotes and parentheses are never passed through):
 *
 *   word            a word anywhere (subject, body, participants, attachment names)
 *   "two words"     a phrase: the words next to each other, in order
 *   from:x to:x     x (a word, an address or a "phrase") in the sender / the recipients (to, cc)
 *   subject:x       x in the subject
 *   file:x          x in an attachment's file name
 *
 * Every term must match (AND). Chinese and Japanese need no spaces: "東京都" finds any text with
 * those characters in a row. Words are matched whole and case-insensitively (no prefixes).
 * Limits: SEARCH_QUERY_MAX_BYTES of UTF-8, SEARCH_QUERY_MAX_TERMS terms.
 */
#ifndef MA_SEARCH_QUERY_H
#define MA_SEARCH_QUERY_H

#include <glib.h>

#define SEARCH_QUERY_MAX_BYTES 512
#define SEARCH_QUERY_MAX_TERMS 16

typedef enum {
  MA_SEARCH_ANY,        /* subject, body, participants, attachment names */
  MA_SEARCH_SUBJECT,
  MA_SEARCH_FROM,       /* From and Sender: names and addresses */
  MA_SEARCH_TO,         /* To, Cc and Bcc: names and addresses */
  MA_SEARCH_FILE,       /* attachment file names */
} MaSearchField;

typedef struct {
  MaSearchField field;
  char *text;           /* the word or phrase as typed (valid UTF-8, no quotes) */
} MaSearchTerm;

typedef struct {
  GPtrArray *terms;     /* MaSearchTerm*, owned; at least one, each yielding at least one token */
} MaSearchQuery;

/* Parses q. Returns a new query (caller frees with search_query_free), or NULL with
 * MA_ERROR_INVALID and a message fit for the user (too long, not UTF-8, too many terms, nothing
 * to search for). */
MaSearchQuery *search_query_parse(const char *q, GError **error);
void search_query_free(MaSearchQuery *query);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaSearchQuery, search_query_free)

/* The field's name in the syntax ("from"...), "" for MA_SEARCH_ANY. */
const char *search_field_name(MaSearchField field);

#endif
