/* test_storage_search.c - storage_search.h: tenant isolation, newest-first order and cursor pages,
 * relevance, fields, a record's scope, English/Chinese/Japanese, hostile queries (never a storage
 * error), deletions (erasure by address, retention) with their counts, shared blobs kept, and
 * nothing found afterwards, and a batch's messages indexed at its commit in one FTS5 segment.
 *
 * One parameter, the backend: SQLite under /storage_search/..., PostgreSQL (its own text search)
 * under /storage/postgresql/search/... against MAILAGENT_TEST_PG (integration/storage_pg); the
 * backfill of SQLite's migration 131 is SQLite's alone.
 */
#include "agent/search/search_snippet.h"
#include "storage/storage_search.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <sqlite3.h>
#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

static void add_enterprise(MaStorage *st, const char *id)
{
  MaEnterprise e = {.id = (char *)id, .slug = (char *)id, .name = (char *)id, .created_at = 1};
  g_assert_cmpint(storage_enterprise_create(st, &e, NULL), ==, 0);
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-search-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  add_enterprise(fx->st, "e1");
  add_enterprise(fx->st, "e2");
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

/* Archives and indexes a message; raw is stored as its blob when not NULL. */
static void archive(MaStorage *st, const char *ent, const char *id, gint64 date, const char *from, const char *subject,
                    const char *text, const char *file, const char *raw, const char *contact)
{
  GError *error = NULL;
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup(ent);
  m->dedup_key = g_strdup_printf("dk-%s", id);
  m->subject = g_strdup(subject);
  m->date = date;
  m->archived_at = date;
  m->text = g_strdup(text);
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Sender Name", from));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, NULL, "ann@acme.example"));
  if (file) {
    MaAttachment *a = ma_attachment_new();
    a->filename = g_strdup(file);
    a->content_type = g_strdup("application/pdf");
    a->size = 3;
    char sha[65];
    g_assert_cmpint(storage_blob_put(st, "pdf", 3, sha, &error), ==, 0);
    memcpy(a->sha256, sha, sizeof a->sha256);
    g_ptr_array_add(m->attachments, a);
  }
  if (raw) {
    char sha[65];
    g_assert_cmpint(storage_blob_put(st, raw, strlen(raw), sha, &error), ==, 0);
    m->raw_sha256 = g_strdup(sha);
  }
  if (contact) g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, contact));
  g_assert_cmpint(storage_message_insert(st, m, &error), ==, 0);
  g_assert_cmpint(storage_search_index(st, m, &error), ==, 0);
  g_assert_no_error(error);
  ma_stored_message_free(m);
}

/* The ids found, in order, joined by ' ' (caller frees); *next gets the last hit's seq. */
static char *find(MaStorage *st, const char *ent, const char *q, MaSearchOrder order, const char *contact, gint64 after,
                  int limit, gint64 *last)
{
  GError *error = NULL;
  g_autoptr(MaSearchQuery) query = search_query_parse(q, &error);
  g_assert_no_error(error);
  MaSearchRequest req = {.query = query, .order = order, .in_record = contact != NULL,
                         .record_type = MA_RECORD_CONTACT, .record_id = contact};
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  g_assert_cmpint(storage_search(st, ent, &req, after, limit, hits, &error), ==, 0);
  g_assert_no_error(error);
  GString *ids = g_string_new(NULL);
  for (guint i = 0; i < hits->len; i++) {
    const MaSearchHit *h = hits->pdata[i];
    g_assert_cmpstr(h->message->enterprise_id, ==, ent);
    g_string_append_printf(ids, "%s%s", i ? " " : "", h->message->id);
    if (last) *last = h->seq;
  }
  return g_string_free(ids, FALSE);
}

#define FIND(fx, ent, q) find((fx)->st, ent, q, MA_SEARCH_NEWEST, NULL, 0, 50, NULL)

static void test_tenants(Fixture *fx, gconstpointer data)
{
  archive(fx->st, "e1", "m1", 1000, "carol@customer.example", "Invoice", "the shared word zebra", NULL, NULL, NULL);
  archive(fx->st, "e2", "m2", 2000, "carol@customer.example", "Invoice", "the shared word zebra", NULL, NULL, NULL);
  g_autofree char *a = FIND(fx, "e1", "zebra");
  g_autofree char *b = FIND(fx, "e2", "zebra invoice");
  g_autofree char *c = FIND(fx, "e3", "zebra");
  g_assert_cmpstr(a, ==, "m1");
  g_assert_cmpstr(b, ==, "m2");
  g_assert_cmpstr(c, ==, "");
  /* the enterprise id is never a word of the query's columns */
  g_autofree char *d = FIND(fx, "e1", "e2");
  g_assert_cmpstr(d, ==, "");
}

static void test_order_and_pages(Fixture *fx, gconstpointer data)
{
  /* dated out of archive order; two in the same second */
  archive(fx->st, "e1", "m3", 3000, "a@x.example", "report", "alpha", NULL, NULL, NULL);
  archive(fx->st, "e1", "m1", 1000, "a@x.example", "report", "alpha", NULL, NULL, NULL);
  archive(fx->st, "e1", "m5", 5000, "a@x.example", "report", "alpha", NULL, NULL, NULL);
  archive(fx->st, "e1", "m4", 3000, "a@x.example", "report", "alpha", NULL, NULL, NULL);
  archive(fx->st, "e1", "m0", -50, "a@x.example", "report", "alpha", NULL, NULL, NULL);
  g_autofree char *all = FIND(fx, "e1", "alpha report");
  g_assert_cmpstr(all, ==, "m5 m4 m3 m1 m0");
  gint64 last = 0;
  g_autofree char *p1 = find(fx->st, "e1", "alpha", MA_SEARCH_NEWEST, NULL, 0, 2, &last);
  g_autofree char *p2 = find(fx->st, "e1", "alpha", MA_SEARCH_NEWEST, NULL, last, 2, &last);
  /* a message arriving between pages sorts before page one, never into a later page */
  archive(fx->st, "e1", "m9", 9000, "a@x.example", "report", "alpha", NULL, NULL, NULL);
  g_autofree char *p3 = find(fx->st, "e1", "alpha", MA_SEARCH_NEWEST, NULL, last, 2, &last);
  g_assert_cmpstr(p1, ==, "m5 m4");
  g_assert_cmpstr(p2, ==, "m3 m1");
  g_assert_cmpstr(p3, ==, "m0");
}

/* A hit's message carries its parts in their stored order (participants and attachments by
 * position, links by record), several messages at once, whatever order the ids were loaded in. */
static void test_hit_parts_order(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  for (int i = 0; i < 3; i++) {
    g_autofree char *id = g_strdup_printf("p%d", i);
    MaStoredMessage *m = ma_stored_message_new();
    m->id = g_strdup(id);
    m->enterprise_id = g_strdup("e1");
    m->dedup_key = g_strdup_printf("dk-%s", id);
    m->subject = g_strdup("ordered");
    m->date = 1000 + i;
    m->archived_at = m->date;
    m->text = g_strdup("parts");
    /* positions against the alphabet: a sort by address or name would show */
    static const char *const who[] = {"zed@x.example", "mia@x.example", "bob@x.example", "amy@x.example"};
    for (int k = 0; k < 4; k++)
      g_ptr_array_add(m->participants, ma_participant_new(k ? MA_ROLE_CC : MA_ROLE_FROM, NULL, who[k]));
    static const char *const files[] = {"z.pdf", "a.pdf"};
    for (int k = 0; k < 2; k++) {
      MaAttachment *a = ma_attachment_new();
      a->filename = g_strdup(files[k]);
      a->content_type = g_strdup("application/pdf");
      a->size = (gsize)(10 + k);
      g_strlcpy(a->sha256, "00", sizeof a->sha256);
      g_ptr_array_add(m->attachments, a);
    }
    g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_LEAD, "l9"));
    g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c2"));
    g_assert_cmpint(storage_message_insert(fx->st, m, &error), ==, 0);
    g_assert_cmpint(storage_search_index(fx->st, m, &error), ==, 0);
    g_assert_no_error(error);
    ma_stored_message_free(m);
  }
  g_autoptr(MaSearchQuery) query = search_query_parse("ordered parts", &error);
  MaSearchRequest req = {.query = query, .order = MA_SEARCH_NEWEST};
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  g_assert_cmpint(storage_search(fx->st, "e1", &req, 0, 10, hits, &error), ==, 0);
  g_assert_cmpuint(hits->len, ==, 3);
  for (guint i = 0; i < hits->len; i++) {
    const MaStoredMessage *m = ((MaSearchHit *)hits->pdata[i])->message;
    GString *seen = g_string_new(NULL);
    for (guint k = 0; k < m->participants->len; k++)
      g_string_append_printf(seen, "%s ", ((MaParticipant *)m->participants->pdata[k])->address);
    for (guint k = 0; k < m->attachments->len; k++)
      g_string_append_printf(seen, "%s ", ((MaAttachment *)m->attachments->pdata[k])->filename);
    for (guint k = 0; k < m->links->len; k++) {
      const MaRecordRef *r = m->links->pdata[k];
      g_string_append_printf(seen, "%s:%s ", ma_record_type_name(r->type), r->id);
    }
    g_assert_cmpstr(seen->str, ==,
                    "zed@x.example mia@x.example bob@x.example amy@x.example z.pdf a.pdf contact:c2 lead:l9 ");
    g_string_free(seen, TRUE);
  }
}

static void test_relevance_fields_record(Fixture *fx, gconstpointer data)
{
  archive(fx->st, "e1", "body", 3000, "a@x.example", "hello", "a long body that mentions budget once", NULL, NULL, "c1");
  archive(fx->st, "e1", "subj", 1000, "bob@vendor.example", "Budget", "nothing else", "Budget-2027.pdf", NULL, NULL);
  g_autofree char *newest = FIND(fx, "e1", "budget");
  g_autofree char *relevant = find(fx->st, "e1", "budget", MA_SEARCH_RELEVANCE, NULL, 0, 50, NULL);
  g_assert_cmpstr(newest, ==, "body subj");
  g_assert_cmpstr(relevant, ==, "subj body");
  gint64 last = 0;
  g_autofree char *r1 = find(fx->st, "e1", "budget", MA_SEARCH_RELEVANCE, NULL, 0, 1, &last);
  g_autofree char *r2 = find(fx->st, "e1", "budget", MA_SEARCH_RELEVANCE, NULL, last, 1, &last);
  g_assert_cmpstr(r1, ==, "subj");
  g_assert_cmpstr(r2, ==, "body");
  g_autofree char *from = FIND(fx, "e1", "from:bob@vendor.example");
  g_autofree char *from_name = FIND(fx, "e1", "from:\"sender name\" budget");
  g_autofree char *to = FIND(fx, "e1", "to:bob");
  g_autofree char *file = FIND(fx, "e1", "file:2027");
  g_autofree char *subject = FIND(fx, "e1", "subject:budget");
  g_autofree char *in_record = find(fx->st, "e1", "budget", MA_SEARCH_NEWEST, "c1", 0, 50, NULL);
  g_autofree char *other_record = find(fx->st, "e1", "budget", MA_SEARCH_NEWEST, "c2", 0, 50, NULL);
  g_assert_cmpstr(from, ==, "subj");
  g_assert_cmpstr(from_name, ==, "body subj");
  g_assert_cmpstr(to, ==, "");
  g_assert_cmpstr(file, ==, "subj");
  g_assert_cmpstr(subject, ==, "subj");
  g_assert_cmpstr(in_record, ==, "body");
  g_assert_cmpstr(other_record, ==, "");
}

/* Relevance weighs a term by how rare it is in the enterprise's own mail, not in the whole index:
 * "rare" is in two of e1's messages but in a hundred of e2's, "common" in all of e1's. Y, with
 * "rare" three times, outranks X, with "common" three times: with the whole index's counts (FTS5's
 * bm25) X would win, and with no weights at all they would tie and the newer, X, come first. */
static void test_relevance_enterprise_idf(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  for (int i = 0; i < 100; i++) {
    g_autofree char *id = g_strdup_printf("other%03d", i);
    archive(fx->st, "e2", id, 100 + i, "a@x.example", "note", "rare words", NULL, NULL, NULL);
  }
  for (int i = 0; i < 30; i++) {
    g_autofree char *id = g_strdup_printf("filler%02d", i);
    archive(fx->st, "e1", id, 100 + i, "a@x.example", "note", "common words here", NULL, NULL, NULL);
  }
  archive(fx->st, "e1", "X", 2000, "a@x.example", "note", "common common common rare", NULL, NULL, NULL);
  archive(fx->st, "e1", "Y", 1000, "a@x.example", "note", "common rare rare rare", NULL, NULL, "c1");
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_autofree char *ranked = find(fx->st, "e1", "common rare", MA_SEARCH_RELEVANCE, NULL, 0, 2, NULL);
  g_assert_cmpstr(ranked, ==, "Y X");
  g_autofree char *newest = find(fx->st, "e1", "common rare", MA_SEARCH_NEWEST, NULL, 0, 2, NULL);
  g_assert_cmpstr(newest, ==, "X Y");
  g_autofree char *in_record = find(fx->st, "e1", "common", MA_SEARCH_RELEVANCE, "c1", 0, 10, NULL);
  g_assert_cmpstr(in_record, ==, "Y");
}

static void test_cjk_and_snippets(Fixture *fx, gconstpointer data)
{
  archive(fx->st, "e1", "zh", 2000, "li@example.cn", "季度报告", "请查看附件中的第三季度销售报告。", NULL, NULL, NULL);
  archive(fx->st, "e1", "ja", 1000, "sato@example.jp", "会議のお知らせ", "東京都の事務所で来週の会議を行います。", NULL, NULL, NULL);
  const char *zh[] = {"季度", "销售报告", "第三季度销售", "报告"};
  for (guint i = 0; i < G_N_ELEMENTS(zh); i++) {
    g_autofree char *got = FIND(fx, "e1", zh[i]);
    g_assert_cmpstr(got, ==, "zh");
  }
  const char *ja[] = {"京都", "事務所", "会議", "来週の会"};
  for (guint i = 0; i < G_N_ELEMENTS(ja); i++) {
    g_autofree char *got = FIND(fx, "e1", ja[i]);
    g_assert_cmpstr(got, ==, "ja");
  }
  g_autofree char *none = FIND(fx, "e1", "京都事");
  g_assert_cmpstr(none, ==, "");
  /* the highlight marks the matched characters */
  g_autoptr(MaSearchQuery) q = search_query_parse("事務所", NULL);
  MaSearchRequest req = {.query = q, .order = MA_SEARCH_NEWEST};
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  g_assert_cmpint(storage_search(fx->st, "e1", &req, 0, 10, hits, NULL), ==, 0);
  g_assert_cmpuint(hits->len, ==, 1);
  g_autofree char *snippet = search_snippet_render(((MaSearchHit *)hits->pdata[0])->snippet_marked, SEARCH_SNIPPET_TEXT);
  g_assert_nonnull(strstr(snippet, "[事務所]"));
}

static void test_hostile_queries(Fixture *fx, gconstpointer data)
{
  archive(fx->st, "e1", "m1", 1000, "a@x.example", "subject", "body text", NULL, NULL, NULL);
  const char *queries[] = {"AND", "OR NOT", "NEAR(a b, 3)", "a*", "^a", "\"a\" + \"b\"", "col:a", "{subject}:a",
                           "a\"\"b", "'; DROP TABLE messages; --", "tenant:e1", "\"unclosed", "x-y", "body: text"};
  for (guint i = 0; i < G_N_ELEMENTS(queries); i++) {
    g_autofree char *got = FIND(fx, "e1", queries[i]);
    (void)got; /* find asserts the search itself succeeded */
  }
  g_autofree char *after = FIND(fx, "e1", "body");
  g_assert_cmpstr(after, ==, "m1");
}

static void test_erase_address(Fixture *fx, gconstpointer data)
{
  archive(fx->st, "e1", "m1", 1000, "Gone@Customer.example", "one", "secret one", "a.pdf", "raw one", "c1");
  archive(fx->st, "e1", "m2", 2000, "keep@customer.example", "two", "secret two", "b.pdf", "raw two", "c1");
  archive(fx->st, "e2", "m3", 3000, "gone@customer.example", "three", "secret three", NULL, "raw one", NULL);
  GError *error = NULL;
  MaEraseCounts c = {0};
  g_assert_cmpint(storage_erase_address(fx->st, "e1", "gone@customer.example", &c, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(c.messages, ==, 1);
  g_assert_cmpint(c.index_entries, ==, 1);
  g_assert_cmpint(c.links, ==, 1);
  g_assert_cmpint(c.blobs, ==, 0); /* "raw one" is e2's too; the attachment content is m2's too */
  g_assert_cmpint(storage_search_compact(fx->st, &error), ==, 0);
  g_autofree char *gone = FIND(fx, "e1", "secret");
  g_assert_cmpstr(gone, ==, "m2");
  g_autofree char *other = FIND(fx, "e2", "secret");
  g_assert_cmpstr(other, ==, "m3");
  MaStoredMessage *m = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "m1", &m, &error), ==, 0);
  /* erasing in e2 now frees the shared raw blob */
  MaEraseCounts c2 = {0};
  g_assert_cmpint(storage_erase_address(fx->st, "e2", "GONE@customer.example", &c2, &error), ==, 0);
  g_assert_cmpint(c2.messages, ==, 1);
  g_assert_cmpint(c2.blobs, ==, 1);
  GBytes *b = NULL;
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, "raw two", 7, sha, &error), ==, 0);
  g_assert_cmpint(storage_blob_get(fx->st, sha, &b, &error), ==, 1);
  g_bytes_unref(b);
}

static void test_expire(Fixture *fx, gconstpointer data)
{
  for (int i = 0; i < 5; i++) {
    char id[8];
    g_snprintf(id, sizeof id, "m%d", i);
    archive(fx->st, "e1", id, 1000 * (i + 1), "a@x.example", "old", "expiring words", NULL, NULL, NULL);
  }
  archive(fx->st, "e2", "x1", 10, "a@x.example", "old", "expiring words", NULL, NULL, NULL);
  GError *error = NULL;
  MaEraseCounts c = {0};
  /* archived before 3500: m0..m2, two per call */
  g_assert_cmpint(storage_expire_before(fx->st, "e1", 3500, 2, &c, &error), ==, 2);
  g_assert_cmpint(storage_expire_before(fx->st, "e1", 3500, 2, &c, &error), ==, 1);
  g_assert_cmpint(storage_expire_before(fx->st, "e1", 3500, 2, &c, &error), ==, 0);
  g_assert_cmpint(c.messages, ==, 3);
  g_assert_cmpint(c.index_entries, ==, 3);
  g_autofree char *left = FIND(fx, "e1", "expiring");
  g_assert_cmpstr(left, ==, "m4 m3");
  g_autofree char *other = FIND(fx, "e2", "expiring");
  g_assert_cmpstr(other, ==, "x1");
  /* deleting the enterprise unindexes its mail through the same trigger */
  g_assert_cmpint(storage_enterprise_delete(fx->st, "e1", &error), ==, 1);
  add_enterprise(fx->st, "e1");
  g_autofree char *after = FIND(fx, "e1", "expiring");
  g_assert_cmpstr(after, ==, "");
  g_assert_cmpint(storage_search_compact(fx->st, &error), ==, 0);
}

/* Archives n messages b00, b01... dated 2000 + i with the words "batched words", in e1, or every
 * third one (b00, b03...) in e2 when split. */
static void archive_batched(MaStorage *st, int n, gboolean split)
{
  for (int i = 0; i < n; i++) {
    char id[8];
    g_snprintf(id, sizeof id, "b%02d", i);
    archive(st, split && i % 3 == 0 ? "e2" : "e1", id, 2000 + i, "a@x.example", "batch", "batched words", NULL, NULL,
            NULL);
  }
}

/* SQLite: the integer the query sql returns, read on a plain connection (FTS5's tables need no
 * tokenizer when they are read as tables); the storage handle is closed and opened again. */
static gint64 sqlite_read_int(Fixture *fx, gconstpointer data, const char *sql)
{
  storage_close(&fx->st);
  g_autofree char *path = g_build_filename(fx->dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &s, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
  gint64 v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  fx->st = testutil_storage_open_again(fx->dir, data);
  return v;
}

/* A text body that is a slice of the raw message (MaStoredMessage.text_raw_at/len; CRLF and a lone
 * CR made LF) reads back as that text, is indexed as it (words, a phrase across a line end, the
 * snippet), and goes with its message; on SQLite no body row is written for it unless there is
 * HTML (migration 173). Archived in a batch, as the pipeline does: the index reads the slice at
 * the commit. */
static void test_text_in_raw(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  const char *raw = "From: a@x.example\r\nSubject: q3\r\n\r\nQuarterly figures\r\nattached,\rregards.\r\n\r\n";
  const char *text = "Quarterly figures\nattached,\nregards.";
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, raw, strlen(raw), sha, &error), ==, 0);
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  for (int i = 0; i < 2; i++) {
    MaStoredMessage *m = ma_stored_message_new();
    m->id = g_strdup(i ? "h1" : "r1");
    m->enterprise_id = g_strdup("e1");
    m->dedup_key = g_strdup(m->id);
    m->subject = g_strdup("q3");
    m->date = m->archived_at = 1000 + i;
    m->size = (gint64) strlen(raw);
    m->raw_sha256 = g_strdup(sha);
    m->text = g_strdup(text);
    m->text_raw_at = strstr(raw, "Quarterly") - raw;
    m->text_raw_len = strlen("Quarterly figures\r\nattached,\rregards.");
    m->html = i ? g_strdup("<p>Quarterly</p>") : NULL;
    g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, NULL, "a@x.example"));
    g_assert_cmpint(storage_message_archive(fx->st, m, NULL, &error), ==, 0);
    ma_stored_message_free(m);
  }
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_assert_no_error(error);
  if (!data) { /* SQLite: the text is not stored a second time */
    g_assert_cmpint(sqlite_read_int(fx, data, "SELECT count(*) FROM messages WHERE text_raw_len IS NOT NULL"), ==, 2);
    g_assert_cmpint(sqlite_read_int(fx, data, "SELECT count(*) FROM message_bodies WHERE text = ''"), ==, 1);
    g_assert_cmpint(sqlite_read_int(fx, data, "SELECT count(*) FROM message_bodies"), ==, 1);
  }
  for (int i = 0; i < 2; i++) {
    MaStoredMessage *got = NULL;
    g_assert_cmpint(storage_message_get(fx->st, "e1", i ? "h1" : "r1", &got, &error), ==, 1);
    g_assert_cmpstr(got->text, ==, text);
    g_assert_cmpstr(got->html, ==, i ? "<p>Quarterly</p>" : NULL);
    ma_stored_message_free(got);
  }
  g_autofree char *words = FIND(fx, "e1", "figures");
  g_assert_cmpstr(words, ==, "h1 r1");
  g_autofree char *phrase = FIND(fx, "e1", "\"attached regards\"");
  g_assert_cmpstr(phrase, ==, "h1 r1");
  g_autofree char *header = FIND(fx, "e1", "subject"); /* the header lines around the slice are not text */
  g_assert_cmpstr(header, ==, "");
  g_autoptr(MaSearchQuery) q = search_query_parse("regards", NULL);
  MaSearchRequest req = {.query = q, .order = MA_SEARCH_NEWEST};
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  g_assert_cmpint(storage_search(fx->st, "e1", &req, 0, 10, hits, &error), ==, 0);
  g_assert_cmpuint(hits->len, ==, 2);
  g_autofree char *snippet = search_snippet_render(((MaSearchHit *)hits->pdata[0])->snippet_marked, SEARCH_SNIPPET_TEXT);
  g_assert_cmpstr(snippet, ==, "Quarterly figures attached, [regards]"); /* the line ends folded */
  /* erased with everything derived from it, the shared raw blob last */
  MaEraseCounts c = {0};
  g_assert_cmpint(storage_erase_address(fx->st, "e1", "a@x.example", &c, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(c.messages, ==, 2);
  g_assert_cmpint(c.index_entries, ==, 2);
  g_assert_cmpint(c.blobs, ==, 1);
  g_assert_cmpint(storage_search_compact(fx->st, &error), ==, 0);
  g_autofree char *gone = FIND(fx, "e1", "figures");
  g_assert_cmpstr(gone, ==, "");
}

/* SQLite: FTS5 writes its pending terms as a new segment at every statement savepoint, so a batch
 * indexed message by message leaves many segments; indexed at its commit, one. */
static void test_batch_one_segment(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  archive_batched(fx->st, 40, FALSE);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  /* an FTS5 data row's id is its segment's number shifted left by 37; 0 is the table's own rows */
  g_assert_cmpint(sqlite_read_int(fx, data, "SELECT count(DISTINCT id >> 37) FROM search_index_data WHERE id >> 37 > 0"),
                  ==, 1);
  g_autofree char *found = find(fx->st, "e1", "batched", MA_SEARCH_NEWEST, NULL, 0, 50, NULL);
  g_assert_cmpuint(strlen(found), ==, 40 * 4 - 1);
}

/* SQLite: a batch reads an enterprise's index number once (tenant_number) and keeps it until it
 * ends; a number assigned by a batch that rolled back is not used by the next one, which assigns
 * again (here to another enterprise first: every document lies in its own enterprise's range). */
static void test_batch_tenant_rolled_back(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  archive(fx->st, "e1", "r1", 1000, "a@x.example", "tenant", "rolled back", NULL, NULL, NULL);
  archive(fx->st, "e1", "r2", 1001, "a@x.example", "tenant", "rolled back", NULL, NULL, NULL);
  storage_rollback(fx->st);
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  archive(fx->st, "e1", "t1", 1002, "a@x.example", "tenant", "kept words", NULL, NULL, NULL);
  archive(fx->st, "e2", "t2", 1003, "a@x.example", "tenant", "kept words", NULL, NULL, NULL);
  archive(fx->st, "e1", "t3", 1004, "a@x.example", "tenant", "kept words", NULL, NULL, NULL);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *e1 = FIND(fx, "e1", "kept");
  g_assert_cmpstr(e1, ==, "t3 t1");
  g_autofree char *e2 = FIND(fx, "e2", "kept");
  g_assert_cmpstr(e2, ==, "t2");
  g_assert_cmpint(sqlite_read_int(fx, data,
                                  "SELECT count(*) FROM search_docs d LEFT JOIN search_tenants t ON t.num = d.doc >> 44"
                                  " WHERE t.enterprise_id IS NOT d.enterprise_id"),
                  ==, 0);
  g_assert_cmpint(sqlite_read_int(fx, data, "SELECT count(DISTINCT doc >> 44) FROM search_docs"), ==, 2);
}

/* A batch (storage_begin_batch, the pipeline's) indexes its messages at its commit, all in one
 * statement: found afterwards, found by a search inside the batch, never when the batch rolls
 * back, and a message deleted in the batch it was archived in leaves no entry behind. */
static void test_batch(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  archive(fx->st, "e1", "r1", 1000, "a@x.example", "draft", "rolled back words", NULL, NULL, NULL);
  storage_rollback(fx->st);
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  archive_batched(fx->st, 30, TRUE);
  /* a search in the batch sees the batch's messages */
  g_autofree char *inside = find(fx->st, "e1", "batched", MA_SEARCH_NEWEST, NULL, 0, 2, NULL);
  g_assert_cmpstr(inside, ==, "b29 b28");
  archive(fx->st, "e1", "gone", 500, "a@x.example", "batch", "expired words", NULL, NULL, NULL);
  MaEraseCounts c = {0};
  g_assert_cmpint(storage_expire_before(fx->st, "e1", 900, 10, &c, &error), ==, 1);
  g_assert_cmpint(c.index_entries, ==, 1);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *rolled = FIND(fx, "e1", "rolled");
  g_assert_cmpstr(rolled, ==, "");
  g_autofree char *expired = FIND(fx, "e1", "expired");
  g_assert_cmpstr(expired, ==, "");
  g_autofree char *e1 = FIND(fx, "e1", "batched words");
  g_assert_cmpuint(strlen(e1), ==, 20 * 4 - 1);
  g_assert_true(g_str_has_prefix(e1, "b29 b28 b26 b25"));
  g_autofree char *e2 = FIND(fx, "e2", "batched");
  g_assert_cmpstr(e2, ==, "b27 b24 b21 b18 b15 b12 b09 b06 b03 b00");
  g_assert_cmpint(storage_search_compact(fx->st, &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *after = FIND(fx, "e2", "batched");
  g_assert_cmpstr(after, ==, e2);
  /* SQLite: FTS5 counts its documents in its averages row (a varint first: 30 is one byte); a
   * message unindexed before it was indexed would have taken one off */
  if (!data)
    g_assert_cmpint(sqlite_read_int(fx, data, "SELECT substr(block, 1, 1) = x'1E' FROM search_index_data WHERE id = 1"),
                    ==, 1);
}

/* SQLite: the participants' and file names' text indexed with a new message is the one the view
 * search_fields makes from its stored rows (the one migration 131 indexed existing mail with). */
static void test_fields_as_view(Fixture *fx, gconstpointer data)
{
  archive(fx->st, "e1", "m1", 1000, "a@x.example", "one", "text", "a.pdf", NULL, NULL);
  archive(fx->st, "e1", "m2", 2000, "b@x.example", "two", "text", NULL, NULL, NULL);
  g_assert_cmpint(sqlite_read_int(fx, data,
                                  "SELECT count(*) FROM search_docs d JOIN search_fields f USING (message_id)"
                                  " WHERE d.sender = f.sender AND d.recipients = f.recipients"
                                  " AND d.attachments IS f.attachments AND d.sender LIKE 'Sender Name %'"),
                  ==, 2);
}

/* Migration 160: the index's leaf pages are 1,000 bytes; migration 178: its segments are merged 8
 * at a time (FTS5's configuration, read on a plain connection: the configuration table needs no
 * tokenizer). */
static void test_page_size(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  g_autofree char *path = g_build_filename(fx->dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_prepare_v2(db, "SELECT k, v FROM search_index_config WHERE k IN ('pgsz', 'automerge') ORDER BY k",
                                     -1, &s, NULL),
                  ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
  g_assert_cmpstr((const char *)sqlite3_column_text(s, 0), ==, "automerge");
  g_assert_cmpint(sqlite3_column_int(s, 1), ==, 8);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
  g_assert_cmpstr((const char *)sqlite3_column_text(s, 0), ==, "pgsz");
  g_assert_cmpint(sqlite3_column_int(s, 1), ==, 1000);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);
  fx->st = testutil_storage_open_again(fx->dir, data);
}

/* A rebuild (after a tokenizer change) finds the same messages in the same order, at the same
 * page positions. */
static void test_rebuild(Fixture *fx, gconstpointer data)
{
  archive(fx->st, "e1", "m1", 1000, "a@x.example", "plan", "東京都の事務所 budget", NULL, NULL, NULL);
  archive(fx->st, "e1", "m2", 2000, "b@x.example", "plan", "budget again", NULL, NULL, NULL);
  archive(fx->st, "e2", "m3", 3000, "c@x.example", "plan", "budget", NULL, NULL, NULL);
  gint64 before = 0, after = 0;
  g_autofree char *first = find(fx->st, "e1", "budget", MA_SEARCH_NEWEST, NULL, 0, 1, &before);
  GError *error = NULL;
  g_assert_cmpint(storage_search_rebuild(fx->st, &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *again = find(fx->st, "e1", "budget", MA_SEARCH_NEWEST, NULL, 0, 1, &after);
  g_assert_cmpstr(first, ==, "m2");
  g_assert_cmpstr(again, ==, "m2");
  g_assert_cmpint(after, ==, before);
  g_autofree char *rest = find(fx->st, "e1", "budget", MA_SEARCH_NEWEST, NULL, after, 10, NULL);
  g_assert_cmpstr(rest, ==, "m1");
  g_autofree char *cjk = FIND(fx, "e1", "務所");
  g_assert_cmpstr(cjk, ==, "m1");
  g_autofree char *other = FIND(fx, "e2", "budget");
  g_assert_cmpstr(other, ==, "m3");
}

/* Migration 131 indexes the mail archived before it: same-second messages keep their order and
 * a second with more messages than its slot holds spills into the next without a collision. */
static void test_backfill(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  int latest = storage_schema_version(fx->st);
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  for (int i = 0; i < 9000; i++) {
    MaStoredMessage *m = ma_stored_message_new();
    m->id = g_strdup_printf("m%05d", i);
    m->enterprise_id = g_strdup(i % 2 ? "e1" : "e2");
    m->dedup_key = g_strdup(m->id);
    m->subject = g_strdup("old mail");
    m->text = g_strdup(i == 8999 ? "the last one" : "older text");
    m->date = i < 8800 ? 5000 : 5001; /* 4,400 of e1's in one second (its slot holds 4,096), 100 next */
    m->archived_at = m->date;
    g_assert_cmpint(storage_message_insert(fx->st, m, &error), ==, 0);
    ma_stored_message_free(m);
  }
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  storage_close(&fx->st);
  g_autofree char *path = g_build_filename(fx->dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db,
                               "DROP TRIGGER search_forget; DROP VIEW search_content; DROP VIEW search_fields; DROP INDEX messages_by_raw;"
                               "DROP TABLE search_docs; DROP TABLE search_tenants; DROP TABLE search_index_data;"
                               "DROP TABLE search_index_idx; DROP TABLE search_index_docsize; DROP TABLE search_index_config;"
                               "PRAGMA writable_schema=ON; DELETE FROM sqlite_schema WHERE name = 'search_index';"
                               "PRAGMA writable_schema=OFF; PRAGMA user_version=130", /* just below migration 131 */
                               NULL, NULL, NULL),
                  ==, SQLITE_OK);
  sqlite3_close(db);
  /* the migrations after 131 are undone too, so that they apply again: 145, 151, 165, 166, 170, 171,
   * 173, 174 and 177 (160 and 178 went with 131's configuration table) */
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db, "DROP INDEX outbox_pending_by_enterprise; ALTER TABLE outbox DROP COLUMN claimed_until;"
                                   "ALTER TABLE relays DROP COLUMN auth_provider;" TESTUTIL_UNDO_SQLITE_177 TESTUTIL_UNDO_SQLITE_174
                                   TESTUTIL_UNDO_SQLITE_173 TESTUTIL_UNDO_SQLITE_171 TESTUTIL_UNDO_SQLITE_170 TESTUTIL_UNDO_SQLITE_166
                                   TESTUTIL_UNDO_SQLITE_165,
                               NULL, NULL, NULL),
                  ==, SQLITE_OK);
  sqlite3_close(db);
  g_assert_cmpint(storage_open(fx->dir, FALSE, &fx->st, &error), ==, 0);
  g_assert_cmpint(storage_schema_version(fx->st), ==, latest);
  g_autofree char *last = find(fx->st, "e1", "old", MA_SEARCH_NEWEST, NULL, 0, 3, NULL);
  g_assert_cmpstr(last, ==, "m08999 m08997 m08995");
  g_autofree char *spilled = find(fx->st, "e1", "old", MA_SEARCH_NEWEST, NULL, 0, 101, NULL);
  g_assert_true(g_str_has_suffix(spilled, "m08801 m08799")); /* the second's last, after the next second's mail */
  gint64 seq = 0;
  g_autofree char *page = find(fx->st, "e1", "old", MA_SEARCH_NEWEST, NULL, 0, 5000, &seq);
  g_assert_cmpuint(strlen(page), ==, 4500 * 7 - 1); /* every message of e1, once */
  g_autofree char *other = find(fx->st, "e2", "last", MA_SEARCH_NEWEST, NULL, 0, 10, NULL);
  g_assert_cmpstr(other, ==, "");
  /* new mail of the full second goes into the next second with room */
  archive(fx->st, "e1", "new", 5000, "a@x.example", "old", "new text", NULL, NULL, NULL);
  g_autofree char *after = find(fx->st, "e1", "old", MA_SEARCH_NEWEST, NULL, 0, 2, NULL);
  g_assert_cmpstr(after, ==, "new m08999");
}

/* ---- relevance against SQLite's own bm25() ---------------------------------------------------- */

#define BM25_CORPUS 320 /* under the 500 postings the estimates read: their counts are exact */

/* The corpus's pseudo-random numbers: one step of a linear congruential generator. */
static guint corpus_next(guint32 *seed)
{
  *seed = *seed * 1103515245u + 12345u;
  return (*seed >> 16) & 0x7fff;
}

/* A word index skewed towards the first words: the product of two draws, taken one after the
 * other (two draws in one expression would be unsequenced, so the corpus would depend on the
 * compiler). */
static guint corpus_skewed(guint32 *seed)
{
  guint a = corpus_next(seed) % 12;
  guint b = corpus_next(seed) % 12;
  return a * b / 12;
}

/* A deterministic corpus of e1 (the only enterprise with mail, so the whole index's counts, which
 * bm25() reads, are e1's): subjects and bodies of varied length from a skewed vocabulary, some
 * messages the same text as the one before (equal scores: the newer first), dates out of order. */
static void bm25_corpus(MaStorage *st)
{
  static const char *const words[] = {"alpha", "beta", "gamma", "delta", "invoice", "budget", "report",
                                      "march", "zebra", "quartz", "lemon", "north"};
  GError *error = NULL;
  guint32 seed = 12345;
#define NEXT() corpus_next(&seed)
  g_autofree char *prev_subject = NULL, *prev_body = NULL;
  g_assert_cmpint(storage_begin(st, &error), ==, 0);
  for (int i = 0; i < BM25_CORPUS; i++) {
    g_autofree char *id = g_strdup_printf("r%03d", i);
    g_autofree char *subject = NULL, *body = NULL;
    if (i % 23 == 7 && prev_subject) {
      subject = g_strdup(prev_subject);
      body = g_strdup(prev_body);
    } else {
      GString *sub = g_string_new(NULL), *text = g_string_new(NULL);
      for (guint n = 1 + NEXT() % 3, k = 0; k < n; k++)
        g_string_append_printf(sub, "%s%s", k ? " " : "", words[corpus_skewed(&seed)]);
      for (guint n = 2 + NEXT() % 120, k = 0; k < n; k++)
        g_string_append_printf(text, "%s%s", k ? " " : "", NEXT() % 3 ? "filler" : words[corpus_skewed(&seed)]);
      subject = g_string_free(sub, FALSE);
      body = g_string_free(text, FALSE);
    }
    g_autofree char *from = g_strdup_printf("%s@x.example", words[NEXT() % 12]);
    archive(st, "e1", id, 10000 + (gint64)(NEXT() % 5000), from, subject, body, i % 9 == 0 ? "budget-march.pdf" : NULL,
            NULL, i % 4 == 0 ? "c1" : NULL);
    g_free(prev_subject);
    g_free(prev_body);
    prev_subject = g_strdup(subject);
    prev_body = g_strdup(body);
  }
  g_assert_cmpint(storage_commit(st, &error), ==, 0);
#undef NEXT
}

/* SQLite's own order: bm25() with the weights of storage_sqlite_rank.c, the newer first among
 * equal scores, at most limit ids joined by ' ' (caller frees). expr is the FTS5 expression,
 * record a contact to keep to (or NULL). */
static char *bm25_order(MaStorage *st, const char *expr, const char *record, int limit)
{
  g_autofree char *sql = g_strdup_printf(
    "SELECT d.message_id FROM search_index f JOIN search_docs d ON d.doc = f.rowid WHERE search_index MATCH '%s'%s%s%s"
    " ORDER BY bm25(search_index, 10.0, 1.0, 4.0, 4.0, 2.0), f.rowid DESC LIMIT %d",
    expr, record ? " AND EXISTS(SELECT 1 FROM message_links l WHERE l.message_id = d.message_id AND"
                   " l.record_type = 1 AND l.record_id = '" : "", record ? record : "", record ? "')" : "", limit);
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(g_free);
  GError *error = NULL;
  g_assert_cmpint(storage_debug_query(st, sql, rows, &error), ==, 0);
  g_assert_no_error(error);
  g_ptr_array_add(rows, NULL);
  return g_strjoinv(" ", (char **)rows->pdata);
}

/* The relevance pages of storage_search, page_size at a time through the cursor, joined. */
static char *relevance_pages(MaStorage *st, const char *q, const char *record, int page_size, int pages)
{
  GString *all = g_string_new(NULL);
  gint64 last = 0;
  for (int p = 0; p < pages; p++) {
    gint64 before = last;
    g_autofree char *page = find(st, "e1", q, MA_SEARCH_RELEVANCE, record, last, page_size, &last);
    if (!*page) break;
    g_string_append_printf(all, "%s%s", all->len ? " " : "", page);
    g_assert_cmpint(last, >, before);
  }
  return g_string_free(all, FALSE);
}

/* SQLite: ma_rank ranks as bm25() does (the same scores, so the same order, ties the newer first)
 * when its estimates are exact, on every page, for single words, pairs, a phrase, a field and a
 * record's mail; and the documents it skips reading the length of (they cannot reach the page)
 * are never ones the page needs. */
static void test_relevance_as_bm25(Fixture *fx, gconstpointer data)
{
  bm25_corpus(fx->st);
  static const struct {
    const char *query, *expr;
  } cases[] = {
    {"invoice", "invoice"},
    {"budget march", "budget AND march"},
    {"alpha zebra", "alpha AND zebra"},
    {"filler", "filler"},
    {"\"budget march\"", "\"budget march\""},
    {"subject:alpha", "subject : alpha"},
    {"report lemon", "report AND lemon"},
  };
  guint compared = 0;
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *expected = bm25_order(fx->st, cases[i].expr, NULL, 50);
    g_autofree char *one_page = relevance_pages(fx->st, cases[i].query, NULL, 50, 1);
    g_autofree char *pages = relevance_pages(fx->st, cases[i].query, NULL, 7, 8); /* 56: past the 50 */
    g_autofree char *expected_56 = bm25_order(fx->st, cases[i].expr, NULL, 56);
    g_test_message("%s: %s", cases[i].query, expected);
    g_assert_cmpuint(strlen(expected), >, 20); /* several hits: an order to compare */
    g_assert_cmpstr(one_page, ==, expected);
    g_assert_cmpstr(pages, ==, expected_56);
    g_autofree char *in_record = relevance_pages(fx->st, cases[i].query, "c1", 5, 4);
    g_autofree char *expected_record = bm25_order(fx->st, cases[i].expr, "c1", 20);
    g_assert_cmpstr(in_record, ==, expected_record);
    compared++;
  }
  g_assert_cmpuint(compared, ==, G_N_ELEMENTS(cases));
  /* equal texts tie: the newer comes first, as bm25() orders them */
  g_autofree char *newest = find(fx->st, "e1", "filler", MA_SEARCH_NEWEST, NULL, 0, 50, NULL);
  g_autofree char *newest_expected = NULL;
  {
    g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(g_free);
    g_assert_cmpint(storage_debug_query(fx->st,
                                        "SELECT d.message_id FROM search_index f JOIN search_docs d ON d.doc = f.rowid"
                                        " WHERE search_index MATCH 'filler' ORDER BY f.rowid DESC LIMIT 50",
                                        rows, NULL), ==, 0);
    g_ptr_array_add(rows, NULL);
    newest_expected = g_strjoinv(" ", (char **)rows->pdata);
  }
  g_assert_cmpstr(newest, ==, newest_expected);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fx_setup, fn, fx_teardown)
  ADD("/storage_search/tenants", test_tenants);
  ADD("/storage_search/order_and_pages", test_order_and_pages);
  ADD("/storage_search/hit_parts_order", test_hit_parts_order);
  ADD("/storage_search/relevance_fields_record", test_relevance_fields_record);
  ADD("/storage_search/relevance_enterprise_idf", test_relevance_enterprise_idf);
  ADD("/storage_search/cjk_and_snippets", test_cjk_and_snippets);
  ADD("/storage_search/hostile_queries", test_hostile_queries);
  ADD("/storage_search/erase_address", test_erase_address);
  ADD("/storage_search/expire", test_expire);
  ADD("/storage_search/backfill", test_backfill);
  ADD("/storage_search/rebuild", test_rebuild);
  ADD("/storage_search/page_size", test_page_size);
  ADD("/storage_search/batch", test_batch);
  ADD("/storage_search/batch_one_segment", test_batch_one_segment);
  ADD("/storage_search/batch_tenant_rolled_back", test_batch_tenant_rolled_back);
  ADD("/storage_search/fields_as_view", test_fields_as_view);
  ADD("/storage_search/relevance_as_bm25", test_relevance_as_bm25);
  ADD("/storage_search/text_in_raw", test_text_in_raw);
#define ADD_PG(path, fn) g_test_add("/storage/postgresql/search" path, Fixture, TESTUTIL_ON_PG, fx_setup, fn, fx_teardown)
  if (testutil_storage_pg()) {
    ADD_PG("/tenants", test_tenants);
    ADD_PG("/order_and_pages", test_order_and_pages);
    ADD_PG("/relevance_fields_record", test_relevance_fields_record);
    ADD_PG("/cjk_and_snippets", test_cjk_and_snippets);
    ADD_PG("/hostile_queries", test_hostile_queries);
    ADD_PG("/erase_address", test_erase_address);
    ADD_PG("/expire", test_expire);
    ADD_PG("/rebuild", test_rebuild);
    ADD_PG("/batch", test_batch);
    ADD_PG("/text_in_raw", test_text_in_raw);
  }
  return g_test_run();
}
