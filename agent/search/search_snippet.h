/* search_snippet.h - renders a highlighted excerpt from a search backend for its reader. Backends
 * mark each matched token with SEARCH_MARK_OPEN ... SEARCH_MARK_CLOSE around it (SQLite: FTS5's
 * snippet() and highlight()); this turns that into HTML (<mark>, everything else escaped, for the
 * API) or plain text ([word], for the terminal). Pure. Control characters become spaces, stray or
 * nested marks are dropped, an open mark is closed at the end: the output is always well formed.
 */
#ifndef MA_SEARCH_SNIPPET_H
#define MA_SEARCH_SNIPPET_H

#include <glib.h>

#define SEARCH_MARK_OPEN "\x02"
#define SEARCH_MARK_CLOSE "\x03"
#define SEARCH_ELLIPSIS "\xe2\x80\xa6" /* U+2026 */

typedef enum { SEARCH_SNIPPET_HTML, SEARCH_SNIPPET_TEXT } SearchSnippetStyle;

/* marked may be NULL (gives ""). Invalid UTF-8 is replaced (U+FFFD). Caller frees. */
char *search_snippet_render(const char *marked, SearchSnippetStyle style);

#endif
