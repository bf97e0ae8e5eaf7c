/* storage_sqlite_search.c - SQLite backend of storage_search.h: the FTS5 index of the archive,
 * its tokenizer, search, and the deletions (retention, erasure by address) that leave no trace.
 *
 * The index (migration 131) is an external-content FTS5 table, search_index, whose content is
 * the view search_content: the stored subject and body text, and the participants' and file
 * names' text that search_docs (one row per indexed message) keeps from when it was indexed.
 * Indexing inserts the view's row, so the index holds exactly what was stored (the capture level
 * decides); inside a batch (storage_begin_batch) the batch's rows are inserted by one statement
 * at its commit (sql_search_flush: FTS5 writes a segment per statement). SQLite 3.40's FTS5 has no contentless_delete: a delete must hand FTS5 the indexed
 * values again, which the BEFORE DELETE trigger search_forget on messages reads from the same
 * view while the message row still exists. Every path that deletes a message (this file, a
 * deleted enterprise, whatever comes later) so unindexes it.
 *
 * A document's rowid is (tenant << 44) | (date << 12) | n: the enterprise's number (search_tenants),
 * the message date in seconds, and a counter for messages of the same second (a full second spills
 * into the next). One enterprise's documents are one rowid range, which FTS5 seeks to in every
 * doclist, so a search reads only that enterprise's postings; within it "newest first" is FTS5's
 * own ORDER BY rowid DESC, which stops at the page's LIMIT instead of sorting every match, and the
 * rowid is the page cursor (the range's upper bound). The join to search_docs checks the
 * enterprise a second time. Relevance ranks the MA_SEARCH_RELEVANCE_WINDOW newest matches with BM25
 * (ma_rank, storage_sqlite_rank.c) weighted by how rare each term is in the enterprise's own
 * mail, estimated from its newest postings. Hits are marked by storage_search_hits_finish (the
 * query's tokens, as the PostgreSQL backend marks them), not by FTS5's highlight() and snippet(),
 * which read each hit's content row through the view again.
 *
 * No trace: secure_delete is on for every connection (storage_sqlite_core.c), so deleted rows and
 * freed pages are zeroed; FTS5 keeps a deleted entry's tokens in old segments until they are
 * merged, so storage_search_compact runs 'optimize' and truncates the write-ahead log.
 * Never logs text or queries.
 */
#include "sqlite_internal.h"
#include "storage_backend.h"

#include "agent/search/search_rank.h"
#include "agent/search/search_tokenize.h"

#include <string.h>

#define SEARCH_TOKENIZER "mailagent"
#define SEARCH_RANK "ma_rank"
#define SEARCH_TENANT_SHIFT 44
#define SEARCH_DATE_SHIFT 12
#define SEARCH_TENANT_MAX ((G_GINT64_CONSTANT(1) << 19) - 1)
#define SEARCH_DATE_MAX ((G_GINT64_CONSTANT(1) << 32) - 1)
#define SEARCH_SLOT (G_GINT64_CONSTANT(1) << SEARCH_DATE_SHIFT)
#define SEARCH_SPILL_MAX 100000 /* seconds a full second may spill into */
#define SEARCH_RELEVANCE_MAX_OFFSET 1000
#define SEARCH_IDF_SAMPLE 500 /* newest postings read to estimate a term's document frequency */
#define ERASE_BATCH 200
#define COMPACT_STEP_PAGES 1024 /* leaf pages merged per transaction (1,000 bytes each: migration 160) */
#define COMPACT_STEPS_MAX 100000

/* ---- the tokenizer ---------------------------------------------------------------------------- */

typedef struct {
  void *fts_ctx;
  int (*fts_token)(void *ctx, int flags, const char *token, int len, int start, int end);
} TokenBridge;

static int token_bridge(void *ctx, const char *token, int len, int start, int end)
{
  TokenBridge *b = ctx;
  return b->fts_token(b->fts_ctx, 0, token, len, start, end);
}

static int tok_create(void *unused, const char **args, int n_args, Fts5Tokenizer **out)
{
  static int one_instance; /* stateless: every table shares it */
  if (n_args != 0) return SQLITE_ERROR;
  *out = (Fts5Tokenizer *)&one_instance;
  return SQLITE_OK;
}

static void tok_delete(Fts5Tokenizer *t) {}

static int tok_tokenize(Fts5Tokenizer *t, void *fts_ctx, int flags, const char *text, int len,
                        int (*fts_token)(void *ctx, int flags, const char *token, int len, int start, int end))
{
  TokenBridge b = {fts_ctx, fts_token};
  return search_tokenize(text, len > 0 ? (gsize)len : 0, token_bridge, &b);
}

int sql_search_register(SqlDb *d, GError **error)
{
  static fts5_tokenizer tokenizer = {tok_create, tok_delete, tok_tokenize};
  fts5_api *api = NULL;
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(d->db, "SELECT fts5(?1)", -1, &s, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
    sqlite3_step(s);
  }
  sqlite3_finalize(s);
  if (!api || api->iVersion < 2) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "storage: this SQLite has no FTS5 (needed by search)");
    return -1;
  }
  rc = api->xCreateTokenizer(api, SEARCH_TOKENIZER, NULL, &tokenizer, NULL);
  if (rc == SQLITE_OK) rc = api->xCreateFunction(api, SEARCH_RANK, NULL, sql_search_rank, NULL);
  if (rc != SQLITE_OK) return sql_fail(d, rc, error, "register the search tokenizer and rank");
  return 0;
}

/* ---- indexing --------------------------------------------------------------------------------- */

/* The enterprise's number in the index (assigned on first use when create). 1, or 0 when it has
 * none (nothing indexed), -1 on error. Read first: it is assigned once, then read per message;
 * inside a batch, once per enterprise in a row (d->search_tenant_id): the batch holds the write
 * lock and nothing deletes a number, so what it read stays true until it ends, and sqlite_begin
 * forgets it (a batch rolled back may have assigned it). */
static int tenant_number(SqlDb *d, const char *enterprise_id, gboolean create, gint64 *num, GError **error)
{
  if (d->batch && d->search_tenant_id && strcmp(d->search_tenant_id, enterprise_id) == 0) {
    *num = d->search_tenant_num;
    return 1;
  }
  for (int pass = 0;; pass++) {
    sqlite3_stmt *s = sql_prep(d, "SELECT num FROM search_tenants WHERE enterprise_id = ?1", error);
    if (!s) return -1;
    sql_bind_text(s, 1, enterprise_id);
    int rc = sqlite3_step(s);
    *num = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sql_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "index tenant");
    if (rc == SQLITE_ROW && (*num < 1 || *num > SEARCH_TENANT_MAX)) {
      g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "storage: the search index holds at most %" G_GINT64_FORMAT
                  " enterprises", SEARCH_TENANT_MAX);
      return -1;
    }
    if (rc == SQLITE_ROW && d->batch) {
      g_free(d->search_tenant_id);
      d->search_tenant_id = g_strdup(enterprise_id);
      d->search_tenant_num = *num;
    }
    if (rc == SQLITE_ROW) return 1;
    if (!create || pass > 0) return 0;
    s = sql_prep(d, "INSERT OR IGNORE INTO search_tenants(enterprise_id) VALUES(?1)", error);
    if (!s) return -1;
    sql_bind_text(s, 1, enterprise_id);
    if (sql_step_done(d, s, error, "index tenant") < 0) return -1;
  }
}

/* A free document id for a message of tenant `num` dated `date`: after the last one of that
 * second, or in the next second that has room. */
static int doc_for_date(SqlDb *d, gint64 num, gint64 date, gint64 *doc, GError **error)
{
  gint64 slot = (num << SEARCH_TENANT_SHIFT) | (CLAMP(date, 0, SEARCH_DATE_MAX) << SEARCH_DATE_SHIFT);
  gint64 tenant_end = ((num + 1) << SEARCH_TENANT_SHIFT) - 1;
  for (int spill = 0; spill < SEARCH_SPILL_MAX && slot + SEARCH_SLOT - 1 <= tenant_end; spill++, slot += SEARCH_SLOT) {
    sqlite3_stmt *s = sql_prep(d, "SELECT max(doc) FROM search_docs WHERE doc BETWEEN ?1 AND ?2", error);
    if (!s) return -1;
    sqlite3_bind_int64(s, 1, slot);
    sqlite3_bind_int64(s, 2, slot + SEARCH_SLOT - 1);
    int rc = sqlite3_step(s);
    gboolean empty = rc == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_NULL;
    gint64 last = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sql_reset(s);
    if (rc != SQLITE_ROW) return sql_fail(d, rc, error, "index slot");
    if (empty || last < slot + SEARCH_SLOT - 1) {
      *doc = empty ? slot : last + 1;
      return 0;
    }
  }
  g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "storage: no room in the search index near this message's date");
  return -1;
}

/* The participants of m whose role is in [first, last], as the view search_fields joins them
 * (migration 131: "name address" in the stored order, separated by spaces); NULL when there are
 * none. Caller frees. */
static char *participants_text(const MaStoredMessage *m, MaRole first, MaRole last)
{
  GString *out = NULL;
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    if (p->role < first || p->role > last) continue;
    out = out ? g_string_append_c(out, ' ') : g_string_new(NULL);
    if (p->name) g_string_append_printf(out, "%s ", p->name);
    g_string_append(out, p->address ? p->address : "");
  }
  return out ? g_string_free(out, FALSE) : NULL;
}

/* The attachments' file names as search_fields joins them; NULL when none has one. Caller frees. */
static char *attachments_text(const MaStoredMessage *m)
{
  GString *out = NULL;
  for (guint i = 0; m->attachments && i < m->attachments->len; i++) {
    const MaAttachment *a = g_ptr_array_index(m->attachments, i);
    if (!a->filename) continue;
    out = out ? g_string_append_c(out, ' ') : g_string_new(NULL);
    g_string_append(out, a->filename);
  }
  return out ? g_string_free(out, FALSE) : NULL;
}

/* m's document row: the participants' and file names' text made from m as it was just stored (the
 * same text the view search_fields reads back from the rows, three look-ups fewer). */
int sql_search_index_body(SqlDb *d, const MaStoredMessage *m, gboolean owned, GError **error)
{
  gint64 num = 0, doc = 0;
  if (tenant_number(d, m->enterprise_id, TRUE, &num, error) < 0 || doc_for_date(d, num, m->date, &doc, error) < 0)
    return -1;
  /* the message must be the enterprise's: looked up first, then the row goes in with VALUES (an
   * INSERT ... SELECT may write several rows, so SQLite opens a statement journal for it, and
   * copies every page it changes there first: dearer than the look-up) */
  int found = owned ? 1 : sql_message_owned(d, m->enterprise_id, m->id, error);
  if (found < 0) return -1;
  if (found == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no message %s", m->id);
    return -1;
  }
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO search_docs(doc, message_id, enterprise_id, sender, recipients, attachments)"
                             " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                             error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, doc);
  sql_bind_text(s, 2, m->id);
  sql_bind_text(s, 3, m->enterprise_id);
  sqlite3_bind_text(s, 4, participants_text(m, MA_ROLE_FROM, MA_ROLE_SENDER), -1, g_free);
  sqlite3_bind_text(s, 5, participants_text(m, MA_ROLE_TO, MA_ROLE_BCC), -1, g_free);
  sqlite3_bind_text(s, 6, attachments_text(m), -1, g_free);
  if (sql_step_done(d, s, error, "index message") < 0) return -1;
  if (d->batch) { /* indexed with the rest of the batch at its commit: see sql_search_flush */
    g_array_append_val(d->search_pending, doc);
    return 0;
  }
  s = sql_prep(d,
               "INSERT INTO search_index(rowid, subject, body, sender, recipients, attachments)"
               " SELECT doc, subject, body, sender, recipients, attachments FROM search_content WHERE doc = ?1",
               error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, doc);
  return sql_step_done(d, s, error, "index message");
}

/* FTS5 writes its pending terms to disk as a new index segment at every statement savepoint,
 * and every statement inside a transaction opens one on the tables it has written. Indexed one by
 * one, each message of a batch would be a segment of its own, merged again later; one statement
 * for the whole batch keeps the terms in FTS5's buffer and writes one segment. The documents are
 * passed as a JSON array of integers (json_each is built in: no statement text per batch size). */
int sql_search_flush(SqlDb *d, GError **error)
{
  if (d->search_pending->len == 0) return 0;
  GString *docs = g_string_sized_new(d->search_pending->len * 20 + 2);
  g_string_append_c(docs, '[');
  for (guint i = 0; i < d->search_pending->len; i++)
    g_string_append_printf(docs, "%s%" G_GINT64_FORMAT, i ? "," : "", g_array_index(d->search_pending, gint64, i));
  g_string_append_c(docs, ']');
  g_array_set_size(d->search_pending, 0);
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO search_index(rowid, subject, body, sender, recipients, attachments)"
                             " SELECT doc, subject, body, sender, recipients, attachments FROM search_content"
                             " WHERE doc IN (SELECT value FROM json_each(?1)) ORDER BY doc",
                             error);
  int rc = -1;
  if (s) {
    sqlite3_bind_text(s, 1, docs->str, (int) docs->len, SQLITE_TRANSIENT);
    rc = sql_step_done(d, s, error, "index messages");
  }
  g_string_free(docs, TRUE);
  return rc;
}

int sqlite_search_index(void *impl, const MaStoredMessage *m, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, sql_search_index_body(d, m, FALSE, error), error);
}

/* ---- search ----------------------------------------------------------------------------------- */

static void append_string(GString *out, const char *text)
{
  g_string_append_c(out, '"');
  for (const char *p = text; *p; p++) {
    if (*p == '"') g_string_append_c(out, '"');
    g_string_append_c(out, *p);
  }
  g_string_append_c(out, '"');
}

static const char *field_columns(MaSearchField f)
{
  switch (f) {
  case MA_SEARCH_SUBJECT:
    return "subject";
  case MA_SEARCH_FROM:
    return "sender";
  case MA_SEARCH_TO:
    return "recipients";
  case MA_SEARCH_FILE:
    return "attachments";
  case MA_SEARCH_ANY:
  default:
    return "{subject body sender recipients attachments}";
  }
}

/* A term as an FTS5 phrase restricted to its columns: the text a quoted string (never syntax). A
 * term of any field names no columns: the set of all five is no restriction, but FTS5 would still
 * filter every posting's positions by it (3-4% of a search's instructions). */
static void append_term(GString *e, const MaSearchTerm *t)
{
  if (t->field != MA_SEARCH_ANY) g_string_append_printf(e, "%s : ", field_columns(t->field));
  append_string(e, t->text);
}

/* The FTS5 expression: every term a phrase, all required; phrase i is term i. */
static char *match_expression(const MaSearchQuery *q)
{
  GString *e = g_string_new(NULL);
  for (guint i = 0; i < q->terms->len; i++) {
    if (i) g_string_append(e, " AND ");
    append_term(e, g_ptr_array_index(q->terms, i));
  }
  return g_string_free(e, FALSE);
}

/* Newest first: FTS5 walks the doclists from ?8 down (one rowid range: the enterprise's, below the
 * cursor) and stops at the LIMIT; no sort. */
#define SEARCH_NEWEST_BEGIN                                                                            \
  "SELECT f.rowid, d.message_id FROM search_index f JOIN search_docs d ON d.doc = f.rowid"             \
  " WHERE search_index MATCH ?1 AND d.enterprise_id = ?2 AND f.rowid >= ?7 AND f.rowid <= ?8"
#define SEARCH_IN_RECORD                                                                               \
  " AND EXISTS(SELECT 1 FROM message_links l WHERE l.message_id = d.message_id"                        \
  " AND l.enterprise_id = ?2 AND l.record_type = ?5 AND l.record_id = ?6)"
#define SEARCH_NEWEST_END " ORDER BY f.rowid DESC LIMIT ?4"
/* By relevance: the innermost query takes the MA_SEARCH_RELEVANCE_WINDOW newest matches (the same
 * walk as newest first: as far back as the oldest of them, through every posting of a common word
 * beside a rare one) and scores each with ma_rank (storage_sqlite_rank.c) on the inverse document
 * frequencies bound as ?9, which reads a match's length only while it can still be among the
 * offset + limit best (?3 + ?4; the others score SEARCH_RANK_NEVER, after every page up to this one);
 * the middle one sorts those scores (a rowid and a score each) and keeps the page; only the page is
 * joined to search_docs, where the enterprise is checked a second time.
 * Within a record the window is of the record's matches, so its candidates join search_docs. */
#define SEARCH_RANKED_BEGIN                                                                            \
  "SELECT r.doc, d.message_id FROM (SELECT doc, score FROM (SELECT f.rowid AS doc, " SEARCH_RANK       \
  "(search_index, ?9, ?3 + ?4) AS score FROM search_index f"
#define SEARCH_RANKED_IN_RECORD " JOIN search_docs d ON d.doc = f.rowid"
#define SEARCH_RANKED_WHERE " WHERE search_index MATCH ?1 AND f.rowid >= ?7 AND f.rowid <= ?8"
#define SEARCH_RANKED_END                                                                              \
  " ORDER BY f.rowid DESC LIMIT " G_STRINGIFY(MA_SEARCH_RELEVANCE_WINDOW) ")"                           \
  " ORDER BY score, doc DESC LIMIT ?4 OFFSET ?3) r"                                                    \
  " JOIN search_docs d ON d.doc = r.doc WHERE d.enterprise_id = ?2 ORDER BY r.score, r.doc DESC"

/* The newest SEARCH_IDF_SAMPLE documents of [lo, hi]: those matching the FTS5 expression expr, or
 * with expr NULL all indexed ones. Sets *n to how many there are (at most the sample) and *oldest
 * to the oldest of them. The sample's last document alone first (OFFSET: no row handed to an
 * aggregate, a third fewer instructions); only when there is none, fewer than the sample, are
 * they counted. */
static int newest_sample(SqlDb *d, const char *expr, gint64 lo, gint64 hi, gint64 *n, gint64 *oldest, GError **error)
{
  for (int count = 0; count < 2; count++) {
    sqlite3_stmt *s = sql_prep(d,
                               count ? (expr ? "SELECT count(*), min(doc) FROM (SELECT rowid AS doc FROM search_index"
                                               " WHERE search_index MATCH ?1 AND rowid >= ?2 AND rowid <= ?3 ORDER BY rowid DESC LIMIT ?4)"
                                             : "SELECT count(*), min(doc) FROM (SELECT doc FROM search_docs"
                                               " WHERE doc >= ?2 AND doc <= ?3 ORDER BY doc DESC LIMIT ?4)")
                                     : (expr ? "SELECT ?4, rowid FROM search_index WHERE search_index MATCH ?1"
                                               " AND rowid >= ?2 AND rowid <= ?3 ORDER BY rowid DESC LIMIT 1 OFFSET ?4 - 1"
                                             : "SELECT ?4, doc FROM search_docs WHERE doc >= ?2 AND doc <= ?3"
                                               " ORDER BY doc DESC LIMIT 1 OFFSET ?4 - 1"),
                               error);
    if (!s) return -1;
    if (expr) sql_bind_text(s, 1, expr);
    sqlite3_bind_int64(s, 2, lo);
    sqlite3_bind_int64(s, 3, hi);
    sqlite3_bind_int(s, 4, SEARCH_IDF_SAMPLE);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    *oldest = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
    sql_reset(s);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE || count) return sql_fail(d, rc, error, "search");
  }
  return 0;
}

/* Number of the tenant's documents (all of them: expr NULL) in which expr matches, estimated from
 * the SEARCH_IDF_SAMPLE newest (search_rank_count). */
static int docs_estimate(SqlDb *d, const char *expr, gint64 first, gint64 last, double *docs, GError **error)
{
  gint64 n = 0, oldest = 0;
  if (newest_sample(d, expr, first, last, &n, &oldest, error) < 0) return -1;
  *docs = search_rank_count(n, SEARCH_IDF_SAMPLE, oldest, first, last);
  return 0;
}

/* The inverse document frequency of each term (BM25's, as FTS5's bm25() computes it) within the
 * tenant's documents, first to last, into idf (doubles, one per term): bm25() counts every
 * document of the whole index holding each term instead, on every search. *none when the
 * tenant has no document. */
static int relevance_weights(SqlDb *d, const MaSearchQuery *q, gint64 lo, gint64 hi, GArray *idf, gboolean *none,
                             GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT (SELECT min(doc) FROM search_docs WHERE doc >= ?1 AND doc <= ?2),"
                             " (SELECT max(doc) FROM search_docs WHERE doc >= ?1 AND doc <= ?2)",
                             error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, lo);
  sqlite3_bind_int64(s, 2, hi);
  int rc = sqlite3_step(s);
  *none = rc != SQLITE_ROW || sqlite3_column_type(s, 0) == SQLITE_NULL;
  gint64 first = *none ? 0 : sqlite3_column_int64(s, 0), last = *none ? 0 : sqlite3_column_int64(s, 1);
  sql_reset(s);
  if (rc != SQLITE_ROW) return sql_fail(d, rc, error, "search");
  if (*none) return 0;
  double total = 0;
  if (docs_estimate(d, NULL, first, last, &total, error) < 0) return -1;
  for (guint i = 0; i < q->terms->len; i++) {
    g_autoptr(GString) expr = g_string_new(NULL);
    append_term(expr, g_ptr_array_index(q->terms, i));
    double with = 0;
    if (docs_estimate(d, expr->str, first, last, &with, error) < 0) return -1;
    double w = search_rank_idf(total, with);
    g_array_append_val(idf, w);
  }
  return 0;
}

int sqlite_search(void *impl, const char *enterprise_id, const MaSearchRequest *req, gint64 after, int limit,
                         GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  if (sql_search_flush(d, error) < 0) return -1; /* this batch's messages are found too */
  gboolean newest = req->order == MA_SEARCH_NEWEST;
  if (!newest && after > SEARCH_RELEVANCE_MAX_OFFSET) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "results by relevance stop after %d; refine the query",
                SEARCH_RELEVANCE_MAX_OFFSET);
    return -1;
  }
  const char *sql = newest ? (req->in_record ? SEARCH_NEWEST_BEGIN SEARCH_IN_RECORD SEARCH_NEWEST_END
                                             : SEARCH_NEWEST_BEGIN SEARCH_NEWEST_END)
                           : (req->in_record ? SEARCH_RANKED_BEGIN SEARCH_RANKED_IN_RECORD SEARCH_RANKED_WHERE
                                                 SEARCH_IN_RECORD SEARCH_RANKED_END
                                             : SEARCH_RANKED_BEGIN SEARCH_RANKED_WHERE SEARCH_RANKED_END);
  gint64 num = 0;
  int known = tenant_number(d, enterprise_id, FALSE, &num, error);
  if (known <= 0) return known; /* 0: nothing of this enterprise was ever indexed */
  g_autofree char *expr = match_expression(req->query);
  gint64 lo = num << SEARCH_TENANT_SHIFT, hi = ((num + 1) << SEARCH_TENANT_SHIFT) - 1;
  /* The cursor is the upper bound itself: FTS5 takes one bound on each side of the rowid, so
   * "below the cursor" as a separate condition would be checked on every newer match instead. */
  if (newest && after > 0) hi = MIN(hi, after - 1);
  g_autoptr(GArray) idf = g_array_new(FALSE, FALSE, sizeof(double));
  gboolean none = FALSE;
  if (!newest && relevance_weights(d, req->query, lo, hi, idf, &none, error) < 0) return -1;
  if (none) return 0;
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  sql_bind_text(s, 1, expr);
  sql_bind_text(s, 2, enterprise_id);
  if (!newest) {
    sqlite3_bind_int64(s, 3, MAX(after, 0));
    sqlite3_bind_blob(s, 9, idf->data, (int)(idf->len * sizeof(double)), SQLITE_STATIC);
  }
  sqlite3_bind_int(s, 4, limit);
  if (req->in_record) {
    sqlite3_bind_int(s, 5, (int)req->record_type);
    sql_bind_text(s, 6, req->record_id);
  }
  sqlite3_bind_int64(s, 7, lo);
  sqlite3_bind_int64(s, 8, hi);
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  g_autoptr(GPtrArray) ids = g_ptr_array_new();
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaSearchHit *h = g_new0(MaSearchHit, 1);
    h->seq = newest ? sqlite3_column_int64(s, 0) : after + (gint64)hits->len + 1;
    h->message = ma_stored_message_new();
    h->message->id = sql_col_dup(s, 1);
    g_ptr_array_add(hits, h);
    g_ptr_array_add(ids, h->message->id);
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "search");
  g_autoptr(GHashTable) by_id =
    g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_stored_message_free);
  if (ids->len && sql_messages_load_many(d, enterprise_id, ids, MA_BODIES_TEXT, by_id, error) < 0) return -1;
  storage_search_hits_finish(hits, by_id, req->query, out);
  return 0;
}

/* ---- deletion without trace ------------------------------------------------------------------- */

static gint64 count_of(SqlDb *d, const char *sql, const char *message_id, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  int rc = sqlite3_step(s);
  gint64 n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sql_reset(s);
  if (rc != SQLITE_ROW) return sql_fail(d, rc, error, "count");
  return n;
}

static int exec1(SqlDb *d, const char *sql, const char *a, const char *b, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  sql_bind_text(s, 1, a);
  if (b) sql_bind_text(s, 2, b);
  return sql_step_done(d, s, error, "erase");
}

int sql_timeline_forget(SqlDb *d, const char *enterprise_id, const char *message_id, gint64 *links, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT record_type, record_id FROM message_links WHERE message_id = ?1"
                             " UNION SELECT record_type, record_id FROM activities WHERE message_id = ?1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  g_autoptr(GPtrArray) refs = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_ref_free);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    g_ptr_array_add(refs, ma_record_ref_new((MaRecordType)sqlite3_column_int(s, 0), (const char *)sqlite3_column_text(s, 1)));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "erase timeline");
  for (guint i = 0; i < refs->len; i++) {
    const MaRecordRef *r = g_ptr_array_index(refs, i);
    s = sql_prep(d,
                 "DELETE FROM timeline WHERE enterprise_id = ?1 AND record_type = ?2 AND record_id = ?3"
                 " AND date = (SELECT date FROM messages WHERE id = ?4) AND message_id = ?4",
                 error);
    if (!s) return -1;
    sql_bind_text(s, 1, enterprise_id);
    sqlite3_bind_int(s, 2, (int)r->type);
    sql_bind_text(s, 3, r->id);
    sql_bind_text(s, 4, message_id);
    if (sql_step_done(d, s, error, "erase timeline") < 0) return -1;
    *links += sqlite3_changes(d->db);
  }
  return 0;
}

/* Deletes one message of the enterprise and what hangs off it; its blobs and thread are noted in
 * temp tables for erase_finish. */
static int erase_message(SqlDb *d, const char *enterprise_id, const char *id, MaEraseCounts *c, GError **error)
{
  gint64 n_index = count_of(d, "SELECT count(*) FROM search_docs WHERE message_id = ?1", id, error);
  gint64 n_act = n_index < 0 ? -1 : count_of(d, "SELECT count(*) FROM activities WHERE message_id = ?1", id, error);
  if (n_act < 0) return -1;
  g_autofree char *archived_key = g_strconcat("message.archived:", id, NULL);
  g_autofree char *activity_lo = g_strconcat("activity.created:", id, ":", NULL);
  g_autofree char *activity_hi = g_strconcat("activity.created:", id, ";", NULL);
  if (exec1(d,
            "INSERT OR IGNORE INTO temp.erase_blobs SELECT raw_sha256 FROM messages WHERE id = ?1"
            " AND raw_sha256 IS NOT NULL UNION SELECT sha256 FROM attachments WHERE message_id = ?1",
            id, NULL, error) < 0 ||
      exec1(d, "INSERT OR IGNORE INTO temp.erase_threads SELECT thread_id FROM messages WHERE id = ?1"
               " AND thread_id IS NOT NULL", id, NULL, error) < 0 ||
      sql_timeline_forget(d, enterprise_id, id, &c->links, error) < 0)
    return -1;
  if (exec1(d, "DELETE FROM outbox WHERE idempotency_key = ?1", archived_key, NULL, error) < 0) return -1;
  c->events += sqlite3_changes(d->db);
  if (exec1(d, "DELETE FROM outbox WHERE idempotency_key >= ?1 AND idempotency_key < ?2", activity_lo, activity_hi,
            error) < 0)
    return -1;
  c->events += sqlite3_changes(d->db);
  /* search_forget unindexes it; participants, attachment rows, links, provenance and activities
   * go by ON DELETE CASCADE */
  if (sql_search_flush(d, error) < 0) return -1; /* search_forget unindexes what must be indexed */
  if (exec1(d, "DELETE FROM messages WHERE id = ?1 AND enterprise_id = ?2", id, enterprise_id, error) < 0) return -1;
  if (sqlite3_changes(d->db) == 0) return 0;
  c->messages++;
  c->index_entries += n_index;
  c->activities += n_act;
  return 0;
}

/* Threads left without messages, then blobs no remaining message or queued mail refers to. */
static int erase_finish(SqlDb *d, const char *enterprise_id, MaEraseCounts *c, GError **error)
{
  if (exec1(d,
            "DELETE FROM threads WHERE enterprise_id = ?1 AND id IN (SELECT id FROM temp.erase_threads)"
            " AND NOT EXISTS(SELECT 1 FROM messages m WHERE m.enterprise_id = ?1 AND m.thread_id = threads.id)",
            enterprise_id, NULL, error) < 0 ||
      exec1(d,
            "DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM temp.erase_blobs)"
            " AND NOT EXISTS(SELECT 1 FROM messages WHERE raw_sha256 = blobs.sha256)"
            " AND NOT EXISTS(SELECT 1 FROM attachments WHERE sha256 = blobs.sha256)"
            " AND NOT EXISTS(SELECT 1 FROM outbound_messages WHERE raw_sha256 = blobs.sha256)"
            " AND NOT EXISTS(SELECT 1 FROM pending_messages WHERE raw_sha256 = blobs.sha256)",
            NULL, NULL, error) < 0)
    return -1;
  c->blobs += sqlite3_changes(d->db);
  return 0;
}

/* One write unit: deletes the messages named by ids (char*) and everything derived from them. */
static int erase_batch(SqlDb *d, const char *enterprise_id, GPtrArray *ids, MaEraseCounts *c, GError **error)
{
  if (sql_write_begin(d, error) < 0) return -1;
  MaEraseCounts batch = {0};
  int rc = sql_exec(d,
                    "CREATE TEMP TABLE IF NOT EXISTS erase_blobs(sha256 TEXT PRIMARY KEY) WITHOUT ROWID;"
                    "CREATE TEMP TABLE IF NOT EXISTS erase_threads(id TEXT PRIMARY KEY) WITHOUT ROWID;"
                    "DELETE FROM temp.erase_blobs; DELETE FROM temp.erase_threads;",
                    error);
  for (guint i = 0; rc == 0 && i < ids->len; i++) rc = erase_message(d, enterprise_id, ids->pdata[i], &batch, error);
  if (rc == 0) rc = erase_finish(d, enterprise_id, &batch, error);
  rc = sql_write_end(d, rc, error);
  if (rc < 0) return -1;
  c->messages += batch.messages;
  c->index_entries += batch.index_entries;
  c->links += batch.links;
  c->activities += batch.activities;
  c->blobs += batch.blobs;
  c->events += batch.events;
  return (int)batch.messages;
}

/* Steps a bound select of message ids into out, then resets it. */
static int collect_ids(SqlDb *d, sqlite3_stmt *s, GPtrArray *out, GError **error)
{
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "select messages to delete");
  return 0;
}

/* The held mail of the pending store in which address is a participant: deleted with its raw copy
 * in one write (held mail is bounded by pending_days, and erasure is rare). */
static int erase_held(SqlDb *d, const char *enterprise_id, const char *address, MaEraseCounts *counts, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT DISTINCT pending_id FROM pending_participants WHERE enterprise_id = ?1"
                             " AND address = ?2 COLLATE NOCASE",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, address);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  if (collect_ids(d, s, ids, error) < 0) return -1;
  if (ids->len == 0) return 0;
  if (sql_write_begin(d, error) < 0) return -1;
  gint64 held = 0;
  int rc = 0;
  for (guint i = 0; rc == 0 && i < ids->len; i++) {
    rc = sql_pending_delete(d, enterprise_id, ids->pdata[i], error);
    if (rc > 0) {
      held++;
      rc = 0;
    }
  }
  if (sql_write_end(d, rc, error) < 0) return -1;
  counts->held += held;
  return 0;
}

int sqlite_erase_address(void *impl, const char *enterprise_id, const char *address, MaEraseCounts *counts,
                                GError **error)
{
  SqlDb *d = impl;
  for (;;) {
    /* a scan of the enterprise's participants: erasure is rare, an index by address is not worth
     * its cost on every archived message */
    sqlite3_stmt *s = sql_prep(d,
                               "SELECT m.id FROM messages m WHERE m.enterprise_id = ?1 AND EXISTS(SELECT 1"
                               " FROM participants p WHERE p.message_id = m.id AND p.address = ?2 COLLATE NOCASE)"
                               " LIMIT ?3",
                               error);
    if (!s) return -1;
    sql_bind_text(s, 1, enterprise_id);
    sql_bind_text(s, 2, address);
    sqlite3_bind_int(s, 3, ERASE_BATCH);
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    if (collect_ids(d, s, ids, error) < 0) return -1;
    if (ids->len == 0) return erase_held(d, enterprise_id, address, counts, error);
    int n = erase_batch(d, enterprise_id, ids, counts, error);
    if (n < 0) return -1;
    if (n == 0) return erase_held(d, enterprise_id, address, counts, error); /* the rows vanished meanwhile */
  }
}

int sqlite_expire_before(void *impl, const char *enterprise_id, gint64 before, int limit, MaEraseCounts *counts,
                                GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT id FROM messages WHERE enterprise_id = ?1 AND archived_at < ?2"
                             " ORDER BY archived_at, id LIMIT ?3",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int64(s, 2, before);
  sqlite3_bind_int(s, 3, MIN(limit, ERASE_BATCH));
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  if (collect_ids(d, s, ids, error) < 0) return -1;
  if (ids->len == 0) return 0;
  return erase_batch(d, enterprise_id, ids, counts, error);
}

/* One step of FTS5's incremental merge (a negative amount merges across levels, towards one
 * segment, as 'optimize' does): 1 when it did work, 0 when there was none left, -1 on error. */
static int compact_step(SqlDb *d, GError **error)
{
  if (sql_write_begin(d, error) < 0) return -1;
  sqlite3_int64 before = sqlite3_total_changes64(d->db);
  int rc = sql_exec(d, "INSERT INTO search_index(search_index, rank) VALUES('merge', -" G_STRINGIFY(COMPACT_STEP_PAGES) ")",
                    error);
  sqlite3_int64 changed = sqlite3_total_changes64(d->db) - before;
  if (sql_write_end(d, rc, error) < 0) return -1;
  return changed >= 2 ? 1 : 0; /* FTS5 counts a step that wrote nothing as one change */
}

int sql_search_compact(SqlDb *d, GError **error)
{
  g_assert(!d->in_txn);
  /* Merge in short transactions, so ingest waits at most one step; then 'optimize', which finds
   * one segment and returns at once when the steps finished, and otherwise finishes the job:
   * only a fully merged index is sure to hold no term of a deleted message. */
  int rc;
  for (int i = 0; i < COMPACT_STEPS_MAX && (rc = compact_step(d, error)) != 0; i++)
    if (rc < 0) return -1;
  if (sql_write_begin(d, error) < 0) return -1;
  rc = sql_exec(d, "INSERT INTO search_index(search_index) VALUES('optimize')", error);
  if (sql_write_end(d, rc, error) < 0) return -1;
  return sqlite_checkpoint(d, error);
}

int sqlite_search_rebuild(void *impl, GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  g_array_set_size(d->search_pending, 0); /* the rebuild indexes them with the rest */
  return sql_write_end(d, sql_exec(d, "INSERT INTO search_index(search_index) VALUES('rebuild')", error), error);
}

int sqlite_search_compact(void *impl, GError **error) { return sql_search_compact(impl, error); }
