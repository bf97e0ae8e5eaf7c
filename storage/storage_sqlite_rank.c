/* storage_sqlite_rank.c - the relevance score of the SQLite search index: ma_rank(search_index,
 * IDF), an FTS5 auxiliary function computing BM25 exactly as FTS5's bm25() does (search_rank.h:
 * the column weights below, the document length over the whole index's average), except for the
 * inverse document frequency of each phrase, which the caller passes as a blob of doubles, one per
 * phrase of the MATCH expression in order.
 *
 * Why not bm25(): it learns each phrase's document frequency by running the phrase as a query over
 * the whole index on every search (xQueryPhrase), which reads every posting of a common word (15
 * ms for a word in each of 500,000 messages) and counts other enterprises' mail too. The caller
 * (storage_sqlite_search.c) estimates the frequencies within the enterprise from a bounded number
 * of postings instead. Pure arithmetic on what FTS5 hands over: no SQL, no allocation per row.
 */
#include "sqlite_internal.h"

#include "agent/search/search_rank.h"

/* subject, body, sender, recipients, attachments: the columns of search_index (migration 131) */
static const double column_weight[] = {10.0, 1.0, 4.0, 4.0, 2.0};

/* Per query (FTS5 aux data): the average document length and a frequency slot per phrase. */
typedef struct {
  double average_length;
  int phrases;
  double frequency[];
} RankQuery;

static RankQuery *rank_query(const Fts5ExtensionApi *api, Fts5Context *fts, int *rc)
{
  RankQuery *q = api->xGetAuxdata(fts, 0);
  if (q) return q;
  int phrases = api->xPhraseCount(fts);
  sqlite3_int64 rows = 0, tokens = 0;
  *rc = api->xRowCount(fts, &rows);
  if (*rc == SQLITE_OK) *rc = api->xColumnTotalSize(fts, -1, &tokens);
  if (*rc != SQLITE_OK) return NULL;
  q = sqlite3_malloc64(sizeof *q + (sqlite3_uint64)phrases * sizeof q->frequency[0]);
  if (!q) {
    *rc = SQLITE_NOMEM;
    return NULL;
  }
  q->phrases = phrases;
  q->average_length = rows > 0 && tokens > 0 ? (double)tokens / (double)rows : 1.0;
  *rc = api->xSetAuxdata(fts, q, sqlite3_free); /* frees q itself when it fails */
  return *rc == SQLITE_OK ? q : NULL;
}

void sql_search_rank(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_args,
                     sqlite3_value **args)
{
  int rc = SQLITE_OK;
  RankQuery *q = rank_query(api, fts, &rc);
  if (!q) {
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  const double *idf = n_args == 1 ? sqlite3_value_blob(args[0]) : NULL;
  if (!idf || sqlite3_value_bytes(args[0]) != (int)(q->phrases * sizeof *idf)) {
    sqlite3_result_error(ctx, "ma_rank: one inverse document frequency per phrase expected", -1);
    return;
  }
  for (int i = 0; i < q->phrases; i++) q->frequency[i] = 0.0;
  int hits = 0, length = 0;
  rc = api->xInstCount(fts, &hits);
  for (int i = 0; rc == SQLITE_OK && i < hits; i++) {
    int phrase = 0, column = 0, offset = 0;
    rc = api->xInst(fts, i, &phrase, &column, &offset);
    if (rc == SQLITE_OK && phrase >= 0 && phrase < q->phrases && column >= 0 &&
        column < (int)G_N_ELEMENTS(column_weight))
      q->frequency[phrase] += column_weight[column];
  }
  if (rc == SQLITE_OK) rc = api->xColumnSize(fts, -1, &length);
  if (rc != SQLITE_OK) {
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  double score = 0.0;
  for (int i = 0; i < q->phrases; i++)
    score += search_rank_term(idf[i], q->frequency[i], (double)length, q->average_length);
  sqlite3_result_double(ctx, -score); /* as bm25(): lower is better, so ORDER BY score ascends */
}
