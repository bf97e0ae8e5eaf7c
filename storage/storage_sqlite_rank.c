/* storage_sqlite_rank.c - the relevance score of the SQLite search index: ma_rank(search_index,
 * IDF[, KEEP]), an FTS5 auxiliary function computing BM25 exactly as FTS5's bm25() does
 * (search_rank.h: the column weights below, the document length over the whole index's average),
 * except for the inverse document frequency of each phrase, which the caller passes as a blob of
 * doubles, one per phrase of the MATCH expression in order.
 *
 * Why not bm25(): it learns each phrase's document frequency by running the phrase as a query over
 * the whole index on every search (xQueryPhrase), which reads every posting of a common word (15
 * ms for a word in each of 500,000 messages) and counts other enterprises' mail too. The caller
 * (storage_sqlite_search.c) estimates the frequencies within the enterprise from a bounded number
 * of postings instead.
 *
 * A document's length (all its columns' tokens, what bm25() reads through xColumnSize) is a look-up
 * in FTS5's docsize table by the document's number. xColumnSize runs FTS5's own statement for it,
 * a step and a reset per document (5,400 instructions, most of the function's cost); ma_rank reads
 * the row through one blob handle per statement instead, moved from document to document
 * (sqlite3_blob_reopen: 2,800), and decodes the record as FTS5 writes it (one varint per column;
 * the format of the docsize table is part of FTS5's file format). Any failure to read it falls
 * back to xColumnSize.
 *
 * KEEP (optional): the caller keeps only the KEEP best scores of the statement (a page and the
 * pages before it). The length is read only when the document can still be among them: its score
 * at the shortest length its matches allow (each column holds more tokens than the offset of its
 * last match) bounds its real score from above (BM25 falls as the length grows, and so does each
 * rounded step of the arithmetic), and a document whose bound is below the KEEP best real scores
 * seen so far in the statement is not among the KEEP best in any order of evaluation: it scores
 * SEARCH_RANK_NEVER, after every real score. The scores of the others are the same numbers as
 * without KEEP. No SQL text, one allocation per statement (ownership: FTS5's aux data, freed with
 * the statement's cursor by rank_query_free, which closes the blob handle).
 */
#include "sqlite_internal.h"

#include "agent/search/search_rank.h"

#include <float.h>

/* subject, body, sender, recipients, attachments: the columns of search_index (migration 131) */
static const double column_weight[] = {10.0, 1.0, 4.0, 4.0, 2.0};

#define RANK_KEEP_MAX 100000 /* a larger KEEP is treated as no bound (nothing skipped) */

/* Per statement (FTS5 aux data): the average document length, per phrase its weighted frequency
 * in the current document, and the KEEP best scores so far as a min-heap (best[0] the lowest). */
typedef struct {
  double average_length;
  int phrases;
  int keep;                     /* 0: no bound */
  int kept;                     /* scores in best */
  sqlite3_int64 last_doc;       /* the document last scored (a repeated call adds no score) */
  gboolean scored_any;
  sqlite3_blob *docsize;        /* search_index_docsize.sz, opened at the first length read */
  double *frequency;            /* phrases */
  double *best;                 /* keep */
} RankQuery;

#define RANK_DOCSIZE_TABLE "search_index_docsize" /* FTS5's "<table>_docsize" of search_index */
#define RANK_DOCSIZE_MAX 64 /* bytes of a docsize record read: 5 varints take at most 45 */

static void rank_query_free(void *p)
{
  RankQuery *q = p;
  if (q->docsize) sqlite3_blob_close(q->docsize);
  sqlite3_free(q);
}

/* One SQLite varint (as FTS5 writes the docsize record) from p, at most end - p bytes; the number
 * of bytes read, 0 when the record ends inside it. */
static int rank_varint(const unsigned char *p, const unsigned char *end, sqlite3_uint64 *value)
{
  sqlite3_uint64 v = 0;
  for (int i = 0; i < 9 && p + i < end; i++) {
    if (i == 8) {
      *value = (v << 8) | p[i];
      return 9;
    }
    v = (v << 7) | (p[i] & 0x7f);
    if (!(p[i] & 0x80)) {
      *value = v;
      return i + 1;
    }
  }
  return 0;
}

/* The current document's length in tokens, its columns' sizes summed (xColumnSize(-1)'s figure),
 * read from the docsize row through q's blob handle; xColumnSize when the row cannot be read so. */
static int rank_length(RankQuery *q, const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                       int *length)
{
  sqlite3_int64 doc = api->xRowid(fts);
  int rc = q->docsize ? sqlite3_blob_reopen(q->docsize, doc)
                      : sqlite3_blob_open(sqlite3_context_db_handle(ctx), "main", RANK_DOCSIZE_TABLE, "sz", doc, 0,
                                          &q->docsize);
  unsigned char record[RANK_DOCSIZE_MAX];
  int bytes = rc == SQLITE_OK ? MIN(sqlite3_blob_bytes(q->docsize), (int)sizeof record) : 0;
  if (rc == SQLITE_OK) rc = sqlite3_blob_read(q->docsize, record, bytes, 0);
  sqlite3_uint64 total = 0;
  int columns = 0;
  for (int at = 0, n; rc == SQLITE_OK && columns < (int)G_N_ELEMENTS(column_weight); at += n, columns++) {
    sqlite3_uint64 size = 0;
    if (!(n = rank_varint(record + at, record + bytes, &size))) break;
    total += size;
  }
  if (rc == SQLITE_OK && columns == (int)G_N_ELEMENTS(column_weight) && total <= G_MAXINT) {
    *length = (int)total;
    return SQLITE_OK;
  }
  if (rc != SQLITE_OK && q->docsize) { /* a handle that failed to move is spent */
    sqlite3_blob_close(q->docsize);
    q->docsize = NULL;
  }
  return api->xColumnSize(fts, -1, length);
}

static RankQuery *rank_query(const Fts5ExtensionApi *api, Fts5Context *fts, int keep, int *rc)
{
  RankQuery *q = api->xGetAuxdata(fts, 0);
  if (q) return q;
  int phrases = api->xPhraseCount(fts);
  sqlite3_int64 rows = 0, tokens = 0;
  *rc = api->xRowCount(fts, &rows);
  if (*rc == SQLITE_OK) *rc = api->xColumnTotalSize(fts, -1, &tokens);
  if (*rc != SQLITE_OK) return NULL;
  if (keep < 0 || keep > RANK_KEEP_MAX) keep = 0;
  /* one block: the struct, then the frequencies and the heap */
  sqlite3_uint64 size = sizeof *q + ((sqlite3_uint64)phrases + (sqlite3_uint64)keep) * sizeof(double);
  q = sqlite3_malloc64(size);
  if (!q) {
    *rc = SQLITE_NOMEM;
    return NULL;
  }
  memset(q, 0, sizeof *q);
  q->frequency = (double *)(q + 1);
  q->best = q->frequency + phrases;
  q->phrases = phrases;
  q->keep = keep;
  q->average_length = rows > 0 && tokens > 0 ? (double)tokens / (double)rows : 1.0;
  *rc = api->xSetAuxdata(fts, q, rank_query_free); /* frees q itself when it fails */
  return *rc == SQLITE_OK ? q : NULL;
}

/* BM25 of the current document at the given length (the same sum, in the same order, whatever
 * the length: the bound and the real score round alike). */
static double rank_score(const RankQuery *q, const double *idf, double length)
{
  double score = 0.0;
  for (int i = 0; i < q->phrases; i++)
    score += search_rank_term(idf[i], q->frequency[i], length, q->average_length);
  return score;
}

/* The lowest of the KEEP best scores when there are KEEP of them, else -DBL_MAX (below every score). */
static double rank_threshold(const RankQuery *q)
{
  return q->keep > 0 && q->kept == q->keep ? q->best[0] : -DBL_MAX;
}

/* Adds score to the KEEP best (a min-heap): in place of the lowest when full and better. */
static void rank_keep(RankQuery *q, double score)
{
  if (q->keep == 0) return;
  double *h = q->best;
  int i;
  if (q->kept < q->keep) {
    for (i = q->kept++; i > 0 && h[(i - 1) / 2] > score; i = (i - 1) / 2) h[i] = h[(i - 1) / 2];
    h[i] = score;
    return;
  }
  if (score <= h[0]) return;
  for (i = 0;;) {
    int child = 2 * i + 1;
    if (child >= q->kept) break;
    if (child + 1 < q->kept && h[child + 1] < h[child]) child++;
    if (h[child] >= score) break;
    h[i] = h[child];
    i = child;
  }
  h[i] = score;
}

void sql_search_rank(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx, int n_args,
                     sqlite3_value **args)
{
  int rc = SQLITE_OK;
  int keep = n_args == 2 ? sqlite3_value_int(args[1]) : 0;
  RankQuery *q = n_args == 1 || n_args == 2 ? rank_query(api, fts, keep, &rc) : NULL;
  if (!q) {
    if (rc == SQLITE_OK) sqlite3_result_error(ctx, "ma_rank: (search_index, IDF[, KEEP]) expected", -1);
    else sqlite3_result_error_code(ctx, rc);
    return;
  }
  const double *idf = sqlite3_value_blob(args[0]);
  if (!idf || sqlite3_value_bytes(args[0]) != (int)(q->phrases * sizeof *idf)) {
    sqlite3_result_error(ctx, "ma_rank: one inverse document frequency per phrase expected", -1);
    return;
  }
  for (int i = 0; i < q->phrases; i++) q->frequency[i] = 0.0;
  /* a match at a token's offset in a column says the column has more tokens than that offset */
  int hits = 0, length = 0, column_end[G_N_ELEMENTS(column_weight)] = {0};
  rc = api->xInstCount(fts, &hits);
  for (int i = 0; rc == SQLITE_OK && i < hits; i++) {
    int phrase = 0, column = 0, offset = 0;
    rc = api->xInst(fts, i, &phrase, &column, &offset);
    if (rc == SQLITE_OK && phrase >= 0 && phrase < q->phrases && column >= 0 &&
        column < (int)G_N_ELEMENTS(column_weight)) {
      q->frequency[phrase] += column_weight[column];
      if (offset >= column_end[column]) column_end[column] = offset + 1;
    }
  }
  int shortest = 0;
  for (guint c = 0; c < G_N_ELEMENTS(column_weight); c++) shortest += column_end[c];
  if (rc != SQLITE_OK) {
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  double threshold = rank_threshold(q);
  if (threshold > -DBL_MAX && rank_score(q, idf, (double)shortest) < threshold) {
    sqlite3_result_double(ctx, SEARCH_RANK_NEVER); /* cannot be among the KEEP best */
    return;
  }
  rc = rank_length(q, api, fts, ctx, &length);
  if (rc != SQLITE_OK) {
    sqlite3_result_error_code(ctx, rc);
    return;
  }
  double score = rank_score(q, idf, (double)length);
  sqlite3_int64 doc = api->xRowid(fts);
  if (!q->scored_any || doc != q->last_doc) rank_keep(q, score);
  q->scored_any = TRUE;
  q->last_doc = doc;
  sqlite3_result_double(ctx, -score); /* as bm25(): lower is better, so ORDER BY score ascends */
}
