/* fuzz_search.c - libFuzzer target for the search parsers: the input is (1) tokenized as indexed
 * text, checking every token (non-empty, at most SEARCH_TOKEN_MAX bytes, valid UTF-8, offsets in
 * order and inside the input), and (2) parsed as a user query; a query the parser accepts is run
 * by storage_search on a real temporary database with an indexed message, and must answer (0):
 * any error means user text reached FTS5 as syntax; (3) the input is marked by search_mark with
 * the query's tokens (both backends' highlighter), whole and as an excerpt, and every mark must be
 * closed and never nested, the text between marks the input's. Must never crash or leak.
 * Seeds: tests/fixtures/search_queries.
 */
#include "agent/lib/clock.h"
#include "agent/lib/error.h"
#include "agent/search/search_mark.h"
#include "agent/search/search_snippet.h"
#include "agent/search/search_tokenize.h"
#include "fuzz_storage.h"
#include "storage/storage_search.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static MaStorage *st;

static void setup(void)
{
  st = fuzz_storage_open("fuzz-search-XXXXXX");
  MaEnterprise e = {.id = "ent1", .slug = "fuzz", .name = "Fuzz", .created_at = 1};
  if (storage_enterprise_create(st, &e, NULL) < 0) abort();
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup("msg1");
  m->enterprise_id = g_strdup("ent1");
  m->dedup_key = g_strdup("dk1");
  m->subject = g_strdup("Quarterly invoice AND report");
  m->text = g_strdup("Hello, the invoice is attached. 東京都の事務所で会いましょう。NEAR(x y)");
  m->date = 1700000000;
  m->archived_at = m->date;
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Carol", "carol@customer.example"));
  if (storage_message_insert(st, m, NULL) < 0 || storage_search_index(st, m, NULL) < 0) abort();
  ma_stored_message_free(m);
}

typedef struct {
  size_t size;
  int last_start;
} Check;

static int check_token(void *ctx, const char *token, int len, int start, int end)
{
  Check *c = ctx;
  if (len <= 0 || len > SEARCH_TOKEN_MAX || !g_utf8_validate(token, len, NULL)) abort();
  if (start < c->last_start || start >= end || (size_t)end > c->size) abort();
  c->last_start = start;
  return 0;
}

/* Marks alternate open, close, open...; with them removed the output is a piece of text (the
 * whole of it for a highlight), ellipses aside. */
static void check_marks(const char *text, const char *marked, gboolean whole)
{
  gboolean open = FALSE;
  GString *plain = g_string_new(NULL);
  for (const char *p = marked; *p; p++) {
    if (*p == SEARCH_MARK_OPEN[0] || *p == SEARCH_MARK_CLOSE[0]) {
      if ((*p == SEARCH_MARK_OPEN[0]) == open) abort();
      open = !open;
    } else {
      g_string_append_c(plain, *p);
    }
  }
  if (open) abort();
  if (whole && strcmp(plain->str, text) != 0) abort();
  g_string_free(plain, TRUE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!st) setup();
  Check c = {size, 0};
  search_tokenize((const char *)data, size, check_token, &c);

  char *text = g_strndup((const char *)data, size);
  GError *error = NULL;
  MaSearchQuery *q = search_query_parse(text, &error);
  if (!q && !g_error_matches(error, MA_ERROR, MA_ERROR_INVALID)) abort();
  g_clear_error(&error);
  if (q && !memchr(text, SEARCH_MARK_OPEN[0], strlen(text)) && !memchr(text, SEARCH_MARK_CLOSE[0], strlen(text))) {
    GHashTable *tokens = search_mark_tokens(q);
    char *highlight = search_mark(text, tokens, 0);
    char *excerpt = search_mark(text, tokens, 24);
    check_marks(text, highlight, TRUE);
    check_marks(text, excerpt, FALSE);
    g_free(highlight);
    g_free(excerpt);
    g_hash_table_unref(tokens);
  }
  if (q) {
    for (int order = 0; order < 2; order++) {
      MaSearchRequest req = {.query = q, .order = order ? MA_SEARCH_RELEVANCE : MA_SEARCH_NEWEST};
      GPtrArray *hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
      if (storage_search(st, "ent1", &req, 0, 10, hits, &error) < 0) {
        fprintf(stderr, "search answered with %s\n", error ? error->message : "no error");
        abort();
      }
      g_ptr_array_unref(hits);
    }
    search_query_free(q);
  }
  g_free(text);
  return 0;
}
