/* storage_pg_search.c - PostgreSQL backend of storage_search.h: the archive's full-text index with
 * PostgreSQL's own text search, search, and the deletions (retention, erasure by address) that
 * leave no trace; the same contracts and results as storage_sqlite_search.c.
 *
 * The index holds search_tokenize's tokens, not PostgreSQL's words: indexing reads the stored
 * message back (what the capture level kept), cuts each field with the same pure tokenizer as the
 * SQLite index and the query parser (CJK runs as overlapping bigrams, other words NFKC-folded), and
 * writes them as a tsvector literal with positions and a weight per field (subject A, From and
 * Sender B, To/Cc/Bcc C, body and file names D; a position left free between fields so no phrase
 * spans two), plus the file names alone for the file: field. A query term is a phrase of its
 * tokens ('a' <-> 'b'), weight-restricted for subject:, from:, to:; so Chinese and Japanese are
 * found by any 2+ characters, and user text only ever reaches PostgreSQL as quoted lexemes.
 * PostgreSQL keeps positions up to 16383: a phrase deep in a very long body may be found or missed
 * by its words alone (they are still indexed, at the last position).
 *
 * A document's number orders "newest first" and is the page cursor: the message date in seconds
 * above 20 bits of a sequence, so it is unique and increasing without a lock between nodes (the
 * sequence's low bits only order messages of the same second). Relevance ranks the newest
 * MA_SEARCH_RELEVANCE_WINDOW matches with ts_rank, as the SQLite backend ranks with BM25.
 *
 * No trace: a message's entry goes with it (ON DELETE CASCADE), and storage_search_compact
 * rewrites the tables that held its text (VACUUM FULL), so no dead row keeps it in a data file.
 * The blobs a batch may free are locked before its messages go (pg_blobs_lock_doomed): a node
 * storing the same bytes meanwhile keeps them, or stores them anew after.
 * Never logs text or queries.
 */
#include "pg_internal.h"

#include "agent/search/search_tokenize.h"

#include <string.h>

#define SEARCH_DATE_MAX ((G_GINT64_CONSTANT(1) << 32) - 1)
#define SEARCH_SEQ_BITS 20
#define SEARCH_RELEVANCE_MAX_OFFSET 1000
#define TSV_POS_MAX 16383        /* PostgreSQL's highest tsvector position */
#define TSV_POSITIONS_MAX 255    /* positions kept per lexeme */
#define TSV_BYTES_MAX (900 * 1024) /* below PostgreSQL's 1 MB per tsvector */
#define ERASE_BATCH 200

/* ---- the document ------------------------------------------------------------------------------- */

typedef struct {
  GHashTable *lexemes; /* token -> GString of "pos weight" entries ("3A,7A") */
  GHashTable *counts;  /* token -> positions so far */
  int pos;             /* the last position used */
  char weight;
  gsize bytes;         /* the literal's size so far */
} TsvBuilder;

static int tsv_token(void *ctx, const char *token, int len, int start, int end)
{
  TsvBuilder *b = ctx;
  if (b->bytes >= TSV_BYTES_MAX) return 1; /* the rest of a huge body stays out of the index */
  if (b->pos < TSV_POS_MAX) b->pos++;
  g_autofree char *key = g_strndup(token, len);
  GString *entries = g_hash_table_lookup(b->lexemes, key);
  int n = GPOINTER_TO_INT(g_hash_table_lookup(b->counts, key));
  if (n >= TSV_POSITIONS_MAX) return 0;
  if (!entries) {
    entries = g_string_new(NULL);
    b->bytes += (gsize)len * 2 + 4;
    g_hash_table_insert(b->lexemes, g_strdup(key), entries);
  }
  g_string_append_printf(entries, "%s%d%c", entries->len ? "," : "", b->pos, b->weight);
  b->bytes += 8;
  g_hash_table_replace(b->counts, g_strdup(key), GINT_TO_POINTER(n + 1));
  return 0;
}

/* One field's text into the builder at the given weight, one free position after it. */
static void tsv_field(TsvBuilder *b, const char *text, char weight)
{
  if (!text) return;
  b->weight = weight;
  search_tokenize(text, strlen(text), tsv_token, b);
  if (b->pos < TSV_POS_MAX) b->pos++;
}

/* A lexeme quoted for tsvector and tsquery input: tokens hold no quote, but the input is never
 * trusted to (a quote is doubled, a backslash escaped). */
static void append_lexeme(GString *out, const char *token)
{
  g_string_append_c(out, '\'');
  for (const char *p = token; *p; p++) {
    if (*p == '\'' || *p == '\\') g_string_append_c(out, *p == '\'' ? '\'' : '\\');
    g_string_append_c(out, *p);
  }
  g_string_append_c(out, '\'');
}

static char *tsv_literal(TsvBuilder *b)
{
  GString *out = g_string_new(NULL);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init(&it, b->lexemes);
  while (g_hash_table_iter_next(&it, &key, &value)) {
    if (out->len) g_string_append_c(out, ' ');
    append_lexeme(out, key);
    g_string_append_printf(out, ":%s", ((GString *)value)->str);
  }
  return g_string_free(out, FALSE);
}

static void string_free(gpointer s)
{
  g_string_free(s, TRUE);
}

static void tsv_init(TsvBuilder *b)
{
  memset(b, 0, sizeof *b);
  b->lexemes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, string_free);
  b->counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void tsv_clear(TsvBuilder *b)
{
  g_hash_table_unref(b->lexemes);
  g_hash_table_unref(b->counts);
}

/* The participants of the roles [lo, hi] as "name address" texts joined by spaces. */
static char *participants_text(const MaStoredMessage *m, MaRole lo, MaRole hi)
{
  GString *out = g_string_new(NULL);
  for (guint i = 0; i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    if (p->role < lo || p->role > hi) continue;
    g_string_append_printf(out, "%s%s%s%s", out->len ? " " : "", p->name ? p->name : "", p->name ? " " : "",
                           p->address ? p->address : "");
  }
  return g_string_free(out, FALSE);
}

static char *files_text(const MaStoredMessage *m)
{
  GString *out = g_string_new(NULL);
  for (guint i = 0; i < m->attachments->len; i++) {
    const MaAttachment *a = g_ptr_array_index(m->attachments, i);
    if (a->filename) g_string_append_printf(out, "%s%s", out->len ? " " : "", a->filename);
  }
  return g_string_free(out, FALSE);
}

/* Writes the index entry of a stored message (read back with its parts and body). */
static int index_stored(PgDb *d, const MaStoredMessage *m, GError **error)
{
  g_autofree char *from = participants_text(m, MA_ROLE_FROM, MA_ROLE_SENDER);
  g_autofree char *to = participants_text(m, MA_ROLE_TO, MA_ROLE_BCC);
  g_autofree char *files = files_text(m);
  TsvBuilder all, only_files;
  tsv_init(&all);
  tsv_init(&only_files);
  tsv_field(&all, m->subject, 'A');
  tsv_field(&all, from, 'B');
  tsv_field(&all, to, 'C');
  tsv_field(&all, files, 'D');
  tsv_field(&all, m->text, 'D'); /* last: a long body is what reaches the position limit */
  tsv_field(&only_files, files, 'D');
  g_autofree char *words = tsv_literal(&all);
  g_autofree char *file_words = tsv_literal(&only_files);
  tsv_clear(&all);
  tsv_clear(&only_files);
  PgParams p = {0};
  pg_param_text(&p, m->id);
  pg_param_text(&p, m->enterprise_id);
  pg_param_int(&p, CLAMP(m->date, 0, SEARCH_DATE_MAX));
  pg_param_text(&p, words);
  pg_param_text(&p, file_words);
  /* indexing again (a rebuild) keeps the document's number, so pages stay in place */
  return pg_exec(d,
                 "INSERT INTO search_docs(message_id, enterprise_id, doc, words, files)"
                 " VALUES($1, $2, ($3::bigint << " G_STRINGIFY(SEARCH_SEQ_BITS) ")"
                 " | (nextval('search_doc_seq') & ((1 << " G_STRINGIFY(SEARCH_SEQ_BITS) ") - 1)), $4::tsvector, $5::tsvector)"
                 " ON CONFLICT(message_id) DO UPDATE SET words = excluded.words, files = excluded.files",
                 &p, "index message", error) < 0
           ? -1
           : 0;
}

/* Reads the named messages of the enterprise back as stored and indexes each. */
static int index_ids(PgDb *d, const char *enterprise_id, GPtrArray *ids, GError **error)
{
  g_autoptr(GHashTable) by_id =
    g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_stored_message_free);
  if (pg_messages_load_many(d, enterprise_id, ids, MA_BODIES_TEXT, by_id, error) < 0) return -1;
  for (guint i = 0; i < ids->len; i++) {
    const MaStoredMessage *m = g_hash_table_lookup(by_id, ids->pdata[i]);
    if (!m) {
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no message %s", (const char *)ids->pdata[i]);
      return -1;
    }
    if (index_stored(d, m, error) < 0) return -1;
  }
  return 0;
}

int pg_search_index_body(PgDb *d, const MaStoredMessage *m, GError **error)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new();
  g_ptr_array_add(ids, m->id);
  return index_ids(d, m->enterprise_id, ids, error);
}

int pg_search_index(void *impl, const MaStoredMessage *m, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, pg_search_index_body(d, m, error), error);
}

int pg_search_rebuild(void *impl, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  PGresult *r = pg_run(d, "SELECT enterprise_id, message_id FROM search_docs ORDER BY enterprise_id, doc", NULL,
                       "rebuild search index", error);
  int rc = r ? 0 : -1;
  for (int i = 0; rc == 0 && i < PQntuples(r);) {
    const char *enterprise_id = PQgetvalue(r, i, 0);
    g_autoptr(GPtrArray) ids = g_ptr_array_new();
    for (; i < PQntuples(r) && ids->len < ERASE_BATCH && strcmp(PQgetvalue(r, i, 0), enterprise_id) == 0; i++)
      g_ptr_array_add(ids, PQgetvalue(r, i, 1));
    rc = index_ids(d, enterprise_id, ids, error);
  }
  if (r) PQclear(r);
  return pg_write_end(d, rc, error);
}

/* ---- search --------------------------------------------------------------------------------------- */

typedef struct {
  GString *query;
  const char *weight; /* ":A" ... or "" */
  guint n;
} PhraseBuilder;

static int phrase_token(void *ctx, const char *token, int len, int start, int end)
{
  PhraseBuilder *b = ctx;
  g_autofree char *t = g_strndup(token, len);
  if (b->n++) g_string_append(b->query, " <-> ");
  append_lexeme(b->query, t);
  g_string_append(b->query, b->weight);
  return 0;
}

static const char *field_weight(MaSearchField f)
{
  switch (f) {
  case MA_SEARCH_SUBJECT: return ":A";
  case MA_SEARCH_FROM: return ":B";
  case MA_SEARCH_TO: return ":C";
  default: return "";
  }
}

/* The tsquery of the terms: every term a phrase of its tokens, all required. With files_only, only
 * the file: terms (NULL when there are none). */
static char *query_text(const MaSearchQuery *q, gboolean files_only)
{
  GString *out = g_string_new(NULL);
  for (guint i = 0; i < q->terms->len; i++) {
    const MaSearchTerm *t = g_ptr_array_index(q->terms, i);
    if (files_only && t->field != MA_SEARCH_FILE) continue;
    if (out->len) g_string_append(out, " & ");
    g_string_append_c(out, '(');
    PhraseBuilder b = {out, field_weight(t->field), 0};
    search_tokenize(t->text, strlen(t->text), phrase_token, &b);
    g_string_append_c(out, ')');
  }
  if (out->len == 0) {
    g_string_free(out, TRUE);
    return NULL;
  }
  return g_string_free(out, FALSE);
}

#define SEARCH_FILTER                                                                                     \
  " FROM search_docs d WHERE d.enterprise_id = $1 AND d.words @@ $2::tsquery"                               \
  " AND ($3::tsquery IS NULL OR d.files @@ $3::tsquery)"                                                    \
  " AND ($4::integer IS NULL OR EXISTS(SELECT 1 FROM message_links l WHERE l.message_id = d.message_id"     \
  " AND l.enterprise_id = $1 AND l.record_type = $4 AND l.record_id = $5))"
#define SEARCH_NEWEST_SQL "SELECT d.doc, d.message_id" SEARCH_FILTER " AND d.doc < $6 ORDER BY d.doc DESC LIMIT $7"
/* ts_rank's weights are {D, C, B, A}: the subject counts most, then the participants, then the body */
#define SEARCH_RELEVANT_SQL                                                                                \
  "WITH recent AS (SELECT d.doc, d.message_id, d.words" SEARCH_FILTER                                      \
  " ORDER BY d.doc DESC LIMIT " G_STRINGIFY(MA_SEARCH_RELEVANCE_WINDOW) ")"                                 \
  " SELECT doc, message_id FROM recent ORDER BY ts_rank('{0.1, 0.4, 0.4, 1.0}', words, $2::tsquery) DESC,"  \
  " doc DESC LIMIT $7 OFFSET $6"

int pg_search(void *impl, const char *enterprise_id, const MaSearchRequest *req, gint64 after, int limit,
              GPtrArray *out, GError **error)
{
  PgDb *d = impl;
  gboolean newest = req->order == MA_SEARCH_NEWEST;
  if (!newest && after > SEARCH_RELEVANCE_MAX_OFFSET) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "results by relevance stop after %d; refine the query",
                SEARCH_RELEVANCE_MAX_OFFSET);
    return -1;
  }
  g_autofree char *all = query_text(req->query, FALSE);
  g_autofree char *files = query_text(req->query, TRUE);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, all);
  pg_param_text(&p, files);
  if (req->in_record) pg_param_int(&p, req->record_type);
  else pg_param_text(&p, NULL);
  pg_param_text(&p, req->in_record ? req->record_id : NULL);
  pg_param_int(&p, newest ? (after > 0 ? after : G_MAXINT64) : MAX(after, 0));
  pg_param_int(&p, MAX(limit, 0));
  PGresult *r = pg_run(d, newest ? SEARCH_NEWEST_SQL : SEARCH_RELEVANT_SQL, &p, "search", error);
  if (!r) return -1;
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  g_autoptr(GPtrArray) ids = g_ptr_array_new();
  for (int i = 0; i < PQntuples(r); i++) {
    MaSearchHit *h = g_new0(MaSearchHit, 1);
    h->seq = newest ? pg_col_int(r, i, 0) : after + (gint64)hits->len + 1;
    h->message = ma_stored_message_new();
    h->message->id = pg_col_dup(r, i, 1);
    g_ptr_array_add(hits, h);
    g_ptr_array_add(ids, h->message->id);
  }
  PQclear(r);
  g_autoptr(GHashTable) by_id =
    g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_stored_message_free);
  if (pg_messages_load_many(d, enterprise_id, ids, MA_BODIES_TEXT, by_id, error) < 0) return -1;
  storage_search_hits_finish(hits, by_id, req->query, out);
  return 0;
}

/* ---- deletion without trace ------------------------------------------------------------------------- */

static gint64 count_of(PgDb *d, const char *sql, const PgParams *p, GError **error)
{
  PGresult *r = pg_run(d, sql, p, "erase", error);
  if (!r) return -1;
  gint64 n = pg_col_int(r, 0, 0);
  PQclear(r);
  return n;
}

/* The connection's lists of the digests and threads a batch of deletions may have orphaned. */
static int erase_tables(PgDb *d, GError **error)
{
  if (pg_control(d, "CREATE TEMP TABLE IF NOT EXISTS erase_blobs(sha256 text PRIMARY KEY)", error) < 0 ||
      pg_control(d, "CREATE TEMP TABLE IF NOT EXISTS erase_threads(id text PRIMARY KEY)", error) < 0)
    return -1;
  return pg_exec(d, "DELETE FROM erase_blobs", NULL, "erase", error) < 0 ||
             pg_exec(d, "DELETE FROM erase_threads", NULL, "erase", error) < 0
           ? -1
           : 0;
}

/* Notes the blobs and thread of a message about to be deleted, for erase_finish. */
static int erase_note(PgDb *d, const char *id, GError **error)
{
  PgParams one = {0};
  pg_param_text(&one, id);
  if (pg_exec(d,
              "INSERT INTO erase_blobs SELECT raw_sha256 FROM messages WHERE id = $1 AND raw_sha256 IS NOT NULL"
              " UNION SELECT sha256 FROM attachments WHERE message_id = $1 ON CONFLICT DO NOTHING",
              &one, "erase", error) < 0 ||
      pg_exec(d,
              "INSERT INTO erase_threads SELECT thread_id FROM messages WHERE id = $1 AND thread_id IS NOT NULL"
              " ON CONFLICT DO NOTHING",
              &one, "erase", error) < 0)
    return -1;
  return 0;
}

/* Deletes one message of the enterprise (noted by erase_note) and what hangs off it. */
static int erase_message(PgDb *d, const char *enterprise_id, const char *id, MaEraseCounts *c, GError **error)
{
  PgParams one = {0};
  pg_param_text(&one, id);
  gint64 n_index = count_of(d, "SELECT count(*) FROM search_docs WHERE message_id = $1", &one, error);
  gint64 n_act = n_index < 0 ? -1 : count_of(d, "SELECT count(*) FROM activities WHERE message_id = $1", &one, error);
  if (n_act < 0) return -1;
  g_autofree char *archived_key = g_strconcat("message.archived:", id, NULL);
  g_autofree char *activity_lo = g_strconcat("activity.created:", id, ":", NULL);
  g_autofree char *activity_hi = g_strconcat("activity.created:", id, ";", NULL);
  PgParams two = {0};
  pg_param_text(&two, id);
  pg_param_text(&two, enterprise_id);
  PgParams keys = {0};
  pg_param_text(&keys, archived_key);
  pg_param_text(&keys, activity_lo);
  pg_param_text(&keys, activity_hi);
  gint64 links = pg_exec(d, "DELETE FROM timeline WHERE enterprise_id = $2 AND message_id = $1", &two, "erase timeline",
                         error);
  gint64 events = links < 0 ? -1
                            : pg_exec(d,
                                      "DELETE FROM outbox WHERE idempotency_key = $1 OR (idempotency_key COLLATE \"C\" >= $2"
                                      " AND idempotency_key COLLATE \"C\" < $3)",
                                      &keys, "erase events", error);
  if (events < 0) return -1;
  /* the index entry, participants, attachment rows, links, provenance, activities and the body go
   * by ON DELETE CASCADE */
  gint64 n = pg_exec(d, "DELETE FROM messages WHERE id = $1 AND enterprise_id = $2", &two, "erase message", error);
  if (n < 0) return -1;
  c->links += links;
  c->events += events;
  if (n == 0) return 0;
  c->messages++;
  c->index_entries += n_index;
  c->activities += n_act;
  return 0;
}

/* Threads left without messages, then blobs (rows and chunks) nothing references any more. */
static int erase_finish(PgDb *d, const char *enterprise_id, MaEraseCounts *c, GError **error)
{
  int queued = pg_table_exists(d, "outbound_messages", error);
  if (queued < 0) return -1;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  if (pg_exec(d,
              "DELETE FROM threads WHERE enterprise_id = $1 AND id IN (SELECT id FROM erase_threads)"
              " AND NOT EXISTS(SELECT 1 FROM messages m WHERE m.enterprise_id = $1 AND m.thread_id = threads.id)",
              &p, "erase threads", error) < 0)
    return -1;
#define UNREFERENCED(queued_check)                                                                         \
  "WITH dropped AS (DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM erase_blobs)"                      \
  " AND NOT EXISTS(SELECT 1 FROM messages WHERE raw_sha256 = blobs.sha256)"                                 \
  " AND NOT EXISTS(SELECT 1 FROM attachments WHERE sha256 = blobs.sha256)" queued_check                     \
  " AND NOT EXISTS(SELECT 1 FROM pending_messages WHERE raw_sha256 = blobs.sha256) RETURNING sha256),"       \
  " chunks AS (DELETE FROM blob_chunks WHERE sha256 IN (SELECT sha256 FROM dropped))"                       \
  " SELECT count(*) FROM dropped"
  gint64 blobs = count_of(d,
                          queued ? UNREFERENCED(" AND NOT EXISTS(SELECT 1 FROM outbound_messages WHERE raw_sha256 = blobs.sha256)")
                                 : UNREFERENCED(""),
                          NULL, error);
#undef UNREFERENCED
  if (blobs < 0) return -1;
  c->blobs += blobs;
  return 0;
}

/* One write unit: deletes the messages named by ids (char*) and everything derived from them. */
static int erase_batch(PgDb *d, const char *enterprise_id, GPtrArray *ids, MaEraseCounts *c, GError **error)
{
  if (pg_write_begin(d, error) < 0) return -1;
  MaEraseCounts batch = {0};
  int rc = erase_tables(d, error);
  for (guint i = 0; rc == 0 && i < ids->len; i++) rc = erase_note(d, ids->pdata[i], error);
  /* the blobs are locked before any delete: deleting messages locks the counters row (a trigger),
   * which a put's transaction holding one of these blobs needs for its commit */
  if (rc == 0) rc = pg_blobs_lock_doomed(d, "SELECT sha256 FROM erase_blobs", NULL, error);
  for (guint i = 0; rc == 0 && i < ids->len; i++) rc = erase_message(d, enterprise_id, ids->pdata[i], &batch, error);
  if (rc == 0) rc = erase_finish(d, enterprise_id, &batch, error);
  if (pg_write_end(d, rc, error) < 0) return -1;
  c->messages += batch.messages;
  c->index_entries += batch.index_entries;
  c->links += batch.links;
  c->activities += batch.activities;
  c->blobs += batch.blobs;
  c->events += batch.events;
  return (int)batch.messages;
}

static int ids_of(PgDb *d, const char *sql, const PgParams *p, GPtrArray *out, GError **error)
{
  return pg_ids_collect(pg_run(d, sql, p, "select messages to delete", error), out);
}

/* The held mail of the pending store in which address is a participant, deleted with its raw copy
 * in one write (held mail is bounded by pending_days, and erasure is rare). */
static int erase_held(PgDb *d, const char *enterprise_id, const char *address, MaEraseCounts *counts, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_text(&p, address);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  if (ids_of(d,
             "SELECT DISTINCT pending_id FROM pending_participants WHERE enterprise_id = $1 AND lower(address) = lower($2)",
             &p, ids, error) < 0)
    return -1;
  if (ids->len == 0) return 0;
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 held = 0;
  int rc = 0;
  for (guint i = 0; rc == 0 && i < ids->len; i++) {
    rc = pg_pending_delete_body(d, enterprise_id, ids->pdata[i], error);
    if (rc > 0) {
      held++;
      rc = 0;
    }
  }
  if (pg_write_end(d, rc, error) < 0) return -1;
  counts->held += held;
  return 0;
}

int pg_erase_address(void *impl, const char *enterprise_id, const char *address, MaEraseCounts *counts, GError **error)
{
  PgDb *d = impl;
  for (;;) {
    PgParams p = {0};
    pg_param_text(&p, enterprise_id);
    pg_param_text(&p, address);
    pg_param_int(&p, ERASE_BATCH);
    g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
    if (ids_of(d,
               "SELECT m.id FROM messages m WHERE m.enterprise_id = $1 AND EXISTS(SELECT 1 FROM participants p"
               " WHERE p.message_id = m.id AND lower(p.address) = lower($2)) LIMIT $3",
               &p, ids, error) < 0)
      return -1;
    if (ids->len == 0) return erase_held(d, enterprise_id, address, counts, error);
    int n = erase_batch(d, enterprise_id, ids, counts, error);
    if (n < 0) return -1;
    if (n == 0) return erase_held(d, enterprise_id, address, counts, error); /* the rows vanished meanwhile */
  }
}

int pg_expire_before(void *impl, const char *enterprise_id, gint64 before, int limit, MaEraseCounts *counts,
                     GError **error)
{
  PgDb *d = impl;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, before);
  pg_param_int(&p, MIN(limit, ERASE_BATCH));
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  if (ids_of(d,
             "SELECT id FROM messages WHERE enterprise_id = $1 AND archived_at < $2 ORDER BY archived_at, id LIMIT $3",
             &p, ids, error) < 0)
    return -1;
  if (ids->len == 0) return 0;
  return erase_batch(d, enterprise_id, ids, counts, error);
}

/* After deletions: PostgreSQL keeps a deleted row in its table's file until the space is reused;
 * VACUUM FULL rewrites each table that held a deleted message's text without its dead rows. */
int pg_search_compact(void *impl, GError **error)
{
  PgDb *d = impl;
  g_assert(!d->in_txn);
  return pg_control(d,
                    "VACUUM (FULL) search_docs, message_bodies, messages, participants, attachments, blob_chunks,"
                    " pending_messages, pending_participants",
                    error);
}
