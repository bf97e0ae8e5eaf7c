/* search_tokenize.h - the full-text tokenizer of the archive's search index, a pure function of
 * its input bytes (no allocation sized by the input beyond one token, no I/O, no global state), so
 * the SQLite FTS5 glue (storage/storage_sqlite_search.c), the query parser and a PostgreSQL
 * backend cut text the same way.
 *
 * Rules, in order of the input:
 * - Han, Hiragana, Katakana and Hangul runs (with the iteration and prolonged-sound marks) are
 *   cut into overlapping bigrams ("東京都" -> "東京", "京都"); a run of one character is emitted
 *   as that character. A query of any 2+ characters of such a run is then a phrase of bigrams
 *   that matches wherever the characters appear consecutively.
 * - Runs of other letters, digits and combining marks are words, NFKC-normalised and
 *   case-folded ("Straße" -> "strasse", "ＡＢＣ" -> "abc"), at most SEARCH_TOKEN_MAX bytes
 *   (longer words are cut at a character boundary).
 * - Everything else separates tokens; an invalid UTF-8 byte is one separator.
 * Offsets are byte offsets into the input, as FTS5 wants for highlighting.
 */
#ifndef MA_SEARCH_TOKENIZE_H
#define MA_SEARCH_TOKENIZE_H

#include <glib.h>

#define SEARCH_TOKEN_MAX 64

/* Called once per token: token is not NUL-terminated and lives until the callback returns; start
 * and end are the token's byte offsets in the input. Returning non-zero stops tokenizing and is
 * passed back by search_tokenize. */
typedef int (*SearchTokenFn)(void *ctx, const char *token, int len, int start, int end);

/* Tokenizes len bytes of text (need not be NUL-terminated or valid UTF-8). Returns 0, or the first
 * non-zero value a callback returned. */
int search_tokenize(const char *text, gsize len, SearchTokenFn emit, void *ctx);

/* TRUE when c belongs to a run cut into bigrams (Han, Hiragana, Katakana, Hangul). */
gboolean search_is_cjk(gunichar c);

/* Number of tokens text yields (for the query parser: a term with none cannot match). */
guint search_token_count(const char *text, gsize len);

#endif
