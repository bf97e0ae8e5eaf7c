/* search_query.c - parses the search syntax of search_query.h into terms. One left-to-right scan:
 * skip spaces, read an optional known "field:" prefix, then a "phrase" (an unclosed quote runs to
 * the end) or a word (up to the next space). A term whose text yields no token (punctuation only)
 * is dropped; a query left with none is refused.
 *
 * Must never pass input through as backend syntax: terms carry plain text only.
 */
#include "search_query.h"

#include "agent/lib/error.h"
#include "search_tokenize.h"

#include <string.h>

static const struct {
  const char *name;
  MaSearchField field;
} fields[] = {
  {"from", MA_SEARCH_FROM},
  {"to", MA_SEARCH_TO},
  {"subject", MA_SEARCH_SUBJECT},
  {"file", MA_SEARCH_FILE},
};

const char *search_field_name(MaSearchField field)
{
  for (guint i = 0; i < G_N_ELEMENTS(fields); i++)
    if (fields[i].field == field) return fields[i].name;
  return "";
}

static void term_free(gpointer p)
{
  MaSearchTerm *t = p;
  g_free(t->text);
  g_free(t);
}

void search_query_free(MaSearchQuery *query)
{
  if (!query) return;
  g_ptr_array_unref(query->terms);
  g_free(query);
}

static gboolean is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

/* A known "field:" at p (case-insensitive): sets *field and returns the prefix length, else 0. */
static gsize field_prefix(const char *p, const char *end, MaSearchField *field)
{
  for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
    gsize n = strlen(fields[i].name);
    if ((gsize)(end - p) > n && g_ascii_strncasecmp(p, fields[i].name, n) == 0 && p[n] == ':') {
      *field = fields[i].field;
      return n + 1;
    }
  }
  return 0;
}

MaSearchQuery *search_query_parse(const char *q, GError **error)
{
  gsize len = q ? strlen(q) : 0;
  if (len > SEARCH_QUERY_MAX_BYTES) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the query is longer than %d bytes", SEARCH_QUERY_MAX_BYTES);
    return NULL;
  }
  if (!q || !g_utf8_validate(q, (gssize)len, NULL)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the query is not UTF-8 text");
    return NULL;
  }
  g_autoptr(GPtrArray) terms = g_ptr_array_new_with_free_func(term_free);
  const char *p = q, *end = q + len;
  while (p < end) {
    while (p < end && is_space(*p)) p++;
    if (p == end) break;
    MaSearchField field = MA_SEARCH_ANY;
    p += field_prefix(p, end, &field);
    const char *start = p;
    gsize n;
    if (p < end && *p == '"') {
      start = ++p;
      while (p < end && *p != '"') p++;
      n = (gsize)(p - start);
      if (p < end) p++; /* the closing quote */
    } else {
      while (p < end && !is_space(*p)) p++;
      n = (gsize)(p - start);
    }
    if (search_token_count(start, n) == 0) continue;
    if (terms->len == SEARCH_QUERY_MAX_TERMS) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the query has more than %d terms", SEARCH_QUERY_MAX_TERMS);
      return NULL;
    }
    MaSearchTerm *t = g_new0(MaSearchTerm, 1);
    t->field = field;
    t->text = g_strndup(start, n);
    g_ptr_array_add(terms, t);
  }
  if (terms->len == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the query has no word to search for");
    return NULL;
  }
  MaSearchQuery *query = g_new0(MaSearchQuery, 1);
  query->terms = g_steal_pointer(&terms);
  return query;
}
