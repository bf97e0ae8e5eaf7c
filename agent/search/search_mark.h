/* search_mark.h - marks the words of a text that a search query matched, with SEARCH_MARK_OPEN and
 * SEARCH_MARK_CLOSE (search_snippet.h), for both storage backends' hits (storage_search.c): so they
 * mark alike, and SQLite reads no hit's content through FTS5 again (PostgreSQL's own highlighter
 * would not know search_tokenize's tokens). Pure: the tokenizer cuts the text as it cut the
 * indexed copy, and every token that is one of the query's is marked; overlapping bigrams of one
 * CJK match become one mark.
 */
#ifndef MA_SEARCH_MARK_H
#define MA_SEARCH_MARK_H

#include "search_query.h"

#include <glib.h>

/* The tokens of the query's terms, as a set (char* keys; caller g_hash_table_unref). */
GHashTable *search_mark_tokens(const MaSearchQuery *q);

/* text (may be NULL: "") with its matched tokens marked. window 0: the whole text (a subject's
 * highlight); else an excerpt of at most window tokens that starts shortly before the first match
 * (the start of the text when none matched), with SEARCH_ELLIPSIS where the text was cut. Caller
 * frees. */
char *search_mark(const char *text, GHashTable *tokens, int window);

#endif
