/* search_mark.c - marks a text's tokens that a query matched (see search_mark.h). */
#include "search_mark.h"

#include "search_snippet.h"
#include "search_tokenize.h"

#include <string.h>

#define MARK_LEAD 3 /* tokens of context shown before the first match in an excerpt */

typedef struct {
  int start, end;
  gboolean matched;
} Span;

typedef struct {
  GArray *spans;
  GHashTable *tokens;
} Collect;

static int collect_token(void *ctx, const char *token, int len, int start, int end)
{
  Collect *c = ctx;
  char key[SEARCH_TOKEN_MAX + 1]; /* no allocation per token of a body: tokens are that short */
  g_assert(len >= 0 && len <= SEARCH_TOKEN_MAX);
  memcpy(key, token, (size_t)len);
  key[len] = '\0';
  Span s = {start, end, c->tokens && g_hash_table_contains(c->tokens, key)};
  g_array_append_val(c->spans, s);
  return 0;
}

static int add_token(void *ctx, const char *token, int len, int start, int end)
{
  g_hash_table_add(ctx, g_strndup(token, len));
  return 0;
}

GHashTable *search_mark_tokens(const MaSearchQuery *q)
{
  GHashTable *set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; q && i < q->terms->len; i++) {
    const MaSearchTerm *t = g_ptr_array_index(q->terms, i);
    search_tokenize(t->text, strlen(t->text), add_token, set);
  }
  return set;
}

char *search_mark(const char *text, GHashTable *tokens, int window)
{
  if (!text) return g_strdup("");
  gsize len = strlen(text);
  Collect c = {g_array_new(FALSE, FALSE, sizeof(Span)), tokens};
  search_tokenize(text, len, collect_token, &c);
  Span *s = (Span *)c.spans->data;
  guint n = c.spans->len, first = 0, last = n; /* the tokens shown: [first, last) */
  if (window > 0 && n > 0) {
    guint hit = 0;
    while (hit < n && !s[hit].matched) hit++;
    first = hit < n && hit > MARK_LEAD ? hit - MARK_LEAD : 0;
    last = MIN(n, first + (guint)window);
  }
  GString *out = g_string_new(NULL);
  gsize from = window > 0 && n > 0 ? (gsize)s[first].start : 0;
  gsize to = window > 0 && n > 0 ? (gsize)s[last - 1].end : len;
  if (window > 0 && n > 0 && first > 0) g_string_append(out, SEARCH_ELLIPSIS);
  gsize at = from;
  for (guint i = first; i < last; i++) {
    if (!s[i].matched) continue;
    /* one mark over this token and every matched token overlapping or touching it */
    gsize open = MAX((gsize)s[i].start, at), close = s[i].end;
    while (i + 1 < last && s[i + 1].matched && (gsize)s[i + 1].start <= close) {
      i++;
      close = MAX(close, (gsize)s[i].end);
    }
    g_string_append_len(out, text + at, open - at);
    g_string_append(out, SEARCH_MARK_OPEN);
    g_string_append_len(out, text + open, close - open);
    g_string_append(out, SEARCH_MARK_CLOSE);
    at = close;
  }
  if (to > at) g_string_append_len(out, text + at, to - at);
  if (window > 0 && last < n) g_string_append(out, SEARCH_ELLIPSIS);
  g_array_free(c.spans, TRUE);
  return g_string_free(out, FALSE);
}
