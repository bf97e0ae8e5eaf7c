/* test_storage_archive.c - unit tests of the archive side of storage: messages (dedup, parts,
 * links, provenance), threads, activities (uniqueness), the timeline (order, interleaving,
 * filters, cursor stability under inserts, bad cursors, speed of a deep page, the per-enterprise
 * version its cache reads), the outbox (claims with leases, two senders at once), the same
 * message stored by two handles at once, and tenant isolation and fault injection across all of
 * them.
 *
 * One parameter, the backend: every test runs against SQLite under /storage/..., and again against
 * PostgreSQL under /storage/postgresql/... when MAILAGENT_TEST_PG names a database
 * (integration/storage_pg starts one); each PostgreSQL test starts from an empty schema.
 */
#include "storage/storage.h"
#include "storage/storage_archive.h"
#include "storage/storage_backend.h"
#include "storage/storage_search.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

static void add_enterprise(MaStorage *st, const char *id)
{
  MaEnterprise e = {.id = (char *)id, .slug = (char *)id, .name = (char *)id, .created_at = 1};
  GError *error = NULL;
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_assert_no_error(error);
}

#define ON_PG TESTUTIL_ON_PG

/* Another handle on the fixture's database (another node, another thread). */
static MaStorage *open_other(Fixture *fx, gconstpointer data)
{
  return testutil_storage_open_again(fx->dir, data);
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-archive-XXXXXX");
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

/* A message of enterprise ent with id, date, linked to the given contact ids (NULL-terminated). */
static MaStoredMessage *message(const char *ent, const char *id, gint64 date, const char *msgid, const char *thread)
{
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup(ent);
  m->thread_id = g_strdup(thread);
  m->message_id = g_strdup(msgid);
  m->dedup_key = g_strdup_printf("dk-%s", id);
  m->subject = g_strdup_printf("Subject %s", id);
  m->date = date;
  m->archived_at = date + 5;
  m->size = 1234;
  m->text = g_strdup("Hello   there,\n\n  this is\tthe body.");
  m->html = g_strdup("<p>Hello</p>");
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Hank", "hank@globex.com"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, NULL, "ann@acme.com"));
  return m;
}

static void insert(MaStorage *st, MaStoredMessage *m)
{
  GError *error = NULL;
  g_assert_cmpint(storage_message_insert(st, m, &error), ==, 0);
  g_assert_no_error(error);
  ma_stored_message_free(m);
}

static void insert_linked(MaStorage *st, const char *ent, const char *id, gint64 date, const char *contact)
{
  MaStoredMessage *m = message(ent, id, date, NULL, NULL);
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, contact));
  insert(st, m);
}

static MaAttachment *attachment(const char *name, const char *sha, gboolean is_inline)
{
  MaAttachment *a = ma_attachment_new();
  a->filename = g_strdup(name);
  a->content_type = g_strdup("application/pdf");
  a->size = 42;
  a->is_inline = is_inline;
  g_strlcpy(a->sha256, sha, sizeof a->sha256);
  return a;
}

static void add_activity(MaStorage *st, const char *ent, const char *id, const char *msg, const char *contact,
                         int expect)
{
  MaActivity a = {.id = (char *)id,
                  .enterprise_id = (char *)ent,
                  .message_id = (char *)msg,
                  .record = {MA_RECORD_CONTACT, (char *)contact},
                  .rule_id = "r1",
                  .rule_name = "Log it",
                  .activity_type = "email",
                  .title = "Email logged",
                  .content = "body",
                  .owner = "ann@acme.com",
                  .created_at = 99};
  GError *error = NULL;
  g_assert_cmpint(storage_activity_create(st, &a, &error), ==, expect);
  g_assert_no_error(error);
}

/* ---- messages ------------------------------------------------------------------------------- */

static void test_message_roundtrip(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, "raw message", 11, sha, &error), ==, 0);
  MaStoredMessage *m = message("e1", "m1", 1700000000, "abc@globex.com", "t1");
  m->direction = MA_DIRECTION_OUTBOUND;
  m->raw_sha256 = g_strdup(sha);
  g_ptr_array_add(m->attachments, attachment("deal.pdf", sha, FALSE));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_ACCOUNT, "a1"));
  insert(fx->st, m);

  MaStoredMessage *got = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "m1", &got, &error), ==, 1);
  g_assert_cmpstr(got->message_id, ==, "abc@globex.com");
  g_assert_cmpstr(got->thread_id, ==, "t1");
  g_assert_cmpstr(got->subject, ==, "Subject m1");
  g_assert_cmpint(got->direction, ==, MA_DIRECTION_OUTBOUND);
  g_assert_cmpint(got->date, ==, 1700000000);
  g_assert_cmpint(got->archived_at, ==, 1700000005);
  g_assert_cmpint(got->size, ==, 1234);
  g_assert_cmpstr(got->raw_sha256, ==, sha);
  g_assert_cmpstr(got->text, ==, "Hello   there,\n\n  this is\tthe body.");
  g_assert_cmpstr(got->html, ==, "<p>Hello</p>");
  g_assert_cmpstr(got->snippet, ==, "Hello there, this is the body.");
  g_assert_cmpuint(got->participants->len, ==, 2);
  MaParticipant *p = g_ptr_array_index(got->participants, 0);
  g_assert_cmpint(p->role, ==, MA_ROLE_FROM);
  g_assert_cmpstr(p->name, ==, "Hank");
  g_assert_cmpstr(p->address, ==, "hank@globex.com");
  p = g_ptr_array_index(got->participants, 1);
  g_assert_null(p->name);
  g_assert_cmpuint(got->attachments->len, ==, 1);
  MaAttachment *a = g_ptr_array_index(got->attachments, 0);
  g_assert_cmpstr(a->filename, ==, "deal.pdf");
  g_assert_cmpstr(a->sha256, ==, sha);
  g_assert_cmpuint(a->size, ==, 42);
  g_assert_cmpuint(got->links->len, ==, 2);
  MaRecordRef *l = g_ptr_array_index(got->links, 0);
  g_assert_cmpint(l->type, ==, MA_RECORD_ACCOUNT); /* ordered by type */
  ma_stored_message_free(got);

  /* Links: add is idempotent. */
  MaRecordRef ref = {MA_RECORD_LEAD, "l1", "to l1@example.com = lead l1"};
  g_assert_cmpint(storage_link_add(fx->st, "e1", "m1", &ref, &error), ==, 1);
  g_assert_cmpint(storage_link_add(fx->st, "e1", "m1", &ref, &error), ==, 0);
  g_assert_cmpint(storage_link_add(fx->st, "e1", "nope", &ref, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  GPtrArray *links = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_ref_free);
  g_assert_cmpint(storage_message_links(fx->st, "e1", "m1", links, &error), ==, 0);
  g_assert_cmpuint(links->len, ==, 3);
  /* the reason is kept with the link (explain shows it) */
  gboolean seen_reason = FALSE;
  for (guint i = 0; i < links->len; i++) {
    const MaRecordRef *r = links->pdata[i];
    if (r->type == MA_RECORD_LEAD) {
      g_assert_cmpstr(r->reason, ==, "to l1@example.com = lead l1");
      seen_reason = TRUE;
    }
  }
  g_assert_true(seen_reason);
  g_ptr_array_unref(links);

  /* Attachments visible to e1 only. */
  g_assert_cmpint(storage_attachment_visible(fx->st, "e1", sha, NULL, NULL, &error), ==, 1);
  g_assert_cmpint(storage_attachment_visible(fx->st, "e2", sha, NULL, NULL, &error), ==, 0);
  g_assert_cmpint(storage_attachment_visible(fx->st, "e1", "ffff", NULL, NULL, &error), ==, 0);

  gint64 msgs = 0, acts = 0, recs = 0;
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(msgs, ==, 1);

  /* The insert counts itself: a refused insert, alone or in a batch that is rolled back, does not. */
  MaStoredMessage *again = message("e1", "m1", 1700000000, "abc@globex.com", "t1");
  g_assert_cmpint(storage_message_insert(fx->st, again, &error), ==, -1);
  g_clear_error(&error);
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  MaStoredMessage *fresh = message("e1", "m9", 1700000000, "fresh@globex.com", "t1");
  g_assert_cmpint(storage_message_insert(fx->st, fresh, &error), ==, 0);
  g_assert_cmpint(storage_message_insert(fx->st, again, &error), ==, -1);
  g_clear_error(&error);
  storage_rollback(fx->st);
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(msgs, ==, 1);
  g_assert_cmpint(storage_message_insert(fx->st, fresh, &error), ==, 0);
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(msgs, ==, 2);
  ma_stored_message_free(again);
  ma_stored_message_free(fresh);
}

static void test_message_dedup(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  insert(fx->st, message("e1", "m1", 100, "abc@x", NULL));
  MaStoredMessage *nomid = message("e1", "m2", 100, NULL, NULL);
  g_free(nomid->dedup_key);
  nomid->dedup_key = g_strdup("hash-2");
  insert(fx->st, nomid);

  char *id = NULL;
  g_assert_cmpint(storage_message_find_duplicate(fx->st, "e1", "abc@x", "other", &id, &error), ==, 1);
  g_assert_cmpstr(id, ==, "m1");
  g_clear_pointer(&id, g_free);
  g_assert_cmpint(storage_message_find_duplicate(fx->st, "e1", NULL, "hash-2", &id, &error), ==, 1);
  g_assert_cmpstr(id, ==, "m2");
  g_clear_pointer(&id, g_free);
  /* A new Message-ID with a known dedup key is still the same mail. */
  g_assert_cmpint(storage_message_find_duplicate(fx->st, "e1", "new@x", "hash-2", &id, &error), ==, 1);
  g_clear_pointer(&id, g_free);
  g_assert_cmpint(storage_message_find_duplicate(fx->st, "e1", "new@x", "hash-9", &id, &error), ==, 0);
  g_assert_null(id);
  /* Per enterprise: e2 has none of these. */
  g_assert_cmpint(storage_message_find_duplicate(fx->st, "e2", "abc@x", "hash-2", &id, &error), ==, 0);

  /* Inserting a duplicate is a conflict and leaves nothing (no participants of the loser). */
  MaStoredMessage *dup = message("e1", "m3", 100, "abc@x", NULL);
  g_assert_cmpint(storage_message_insert(fx->st, dup, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  ma_stored_message_free(dup);
  MaStoredMessage *got = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "m3", &got, &error), ==, 0);
  /* The same Message-ID in another enterprise is a different message. */
  insert(fx->st, message("e2", "m3", 100, "abc@x", NULL));
}

static void test_provenance(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  insert(fx->st, message("e1", "m1", 100, "abc@x", NULL));
  MaProvenance *p = ma_provenance_new("smtp");
  p->employee_id = g_strdup("emp1");
  p->signal = g_strdup("envelope_sender");
  p->client = g_strdup("192.0.2.1");
  p->envelope_from = g_strdup("ann@acme.com");
  p->spool_id = g_strdup("s1");
  p->received_at = 200;
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", p, &error), ==, 1);
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", p, &error), ==, 0); /* replay of s1 */
  g_free(p->spool_id);
  p->spool_id = g_strdup("s2");
  p->received_at = 300;
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", p, &error), ==, 1);
  MaProvenance *q = ma_provenance_new("imap");
  q->mailbox = g_strdup("mb1");
  q->received_at = 400;
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", q, &error), ==, 1);
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", q, &error), ==, 0); /* same route+mailbox */
  /* copies that only differ where one index key (migration 177) holds what two partial ones did */
  q->employee_id = g_strdup("emp2");
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", q, &error), ==, 1); /* another employee */
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", q, &error), ==, 0);
  MaProvenance *r = ma_provenance_new("s2"); /* a route spelled as a spool id: not that spooled copy */
  r->received_at = 500;
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", r, &error), ==, 1);
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", r, &error), ==, 0);
  g_assert_cmpint(storage_provenance_add(fx->st, "e2", "m1", q, &error), ==, -1); /* not e2's message */
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);

  GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_provenance_free);
  g_assert_cmpint(storage_provenance_list(fx->st, "e1", "m1", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 5);
  MaProvenance *first = g_ptr_array_index(list, 0);
  g_assert_cmpstr(first->route, ==, "smtp");
  g_assert_cmpstr(first->employee_id, ==, "emp1");
  g_assert_cmpstr(first->signal, ==, "envelope_sender");
  g_assert_cmpstr(first->client, ==, "192.0.2.1");
  g_assert_cmpstr(first->envelope_from, ==, "ann@acme.com");
  g_assert_cmpstr(first->spool_id, ==, "s1");
  g_assert_cmpstr(((MaProvenance *)g_ptr_array_index(list, 2))->mailbox, ==, "mb1");
  g_assert_null(((MaProvenance *)g_ptr_array_index(list, 2))->employee_id);
  g_assert_cmpstr(((MaProvenance *)g_ptr_array_index(list, 3))->employee_id, ==, "emp2");
  g_assert_cmpstr(((MaProvenance *)g_ptr_array_index(list, 4))->route, ==, "s2");
  g_assert_null(((MaProvenance *)g_ptr_array_index(list, 4))->spool_id);
  g_ptr_array_set_size(list, 0);
  g_assert_cmpint(storage_provenance_list(fx->st, "e2", "m1", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 0);
  g_ptr_array_unref(list);
  ma_provenance_free(p);
  ma_provenance_free(q);
  ma_provenance_free(r);
}

/* The pipeline's one write for a new message: the row, its search document and its provenance
 * all go in; a conflicting message leaves none of them. */
static void test_message_archive(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaProvenance *p = ma_provenance_new("imap");
  p->mailbox = g_strdup("mb1");
  p->spool_id = g_strdup("s1");
  p->received_at = 200;
  MaStoredMessage *m = message("e1", "m1", 100, "abc@x", NULL);
  g_assert_cmpint(storage_message_archive(fx->st, m, p, &error), ==, 0);
  g_assert_no_error(error);
  ma_stored_message_free(m);
  g_assert_cmpint(storage_provenance_add(fx->st, "e1", "m1", p, &error), ==, 0); /* the row is there */
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_provenance_free);
  g_assert_cmpint(storage_provenance_list(fx->st, "e1", "m1", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  g_assert_cmpstr(((MaProvenance *)list->pdata[0])->spool_id, ==, "s1");

  g_autoptr(MaSearchQuery) query = search_query_parse("body", &error);
  g_assert_no_error(error);
  MaSearchRequest req = {.query = query, .order = MA_SEARCH_NEWEST};
  g_autoptr(GPtrArray) hits = g_ptr_array_new_with_free_func((GDestroyNotify)ma_search_hit_free);
  g_assert_cmpint(storage_search(fx->st, "e1", &req, 0, 10, hits, &error), ==, 0);
  g_assert_cmpuint(hits->len, ==, 1);

  /* the same Message-ID under another id: a conflict, and no search document or provenance */
  g_free(p->spool_id);
  p->spool_id = g_strdup("s2");
  m = message("e1", "m2", 100, "abc@x", NULL);
  g_assert_cmpint(storage_message_archive(fx->st, m, p, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  ma_stored_message_free(m);
  g_ptr_array_set_size(hits, 0);
  g_assert_cmpint(storage_search(fx->st, "e1", &req, 0, 10, hits, &error), ==, 0);
  g_assert_cmpuint(hits->len, ==, 1);
  g_ptr_array_set_size(list, 0);
  g_assert_cmpint(storage_provenance_list(fx->st, "e1", "m2", list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 0);
  ma_provenance_free(p);
}

static void test_archived_since(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  insert(fx->st, message("e1", "m1", 100, NULL, NULL)); /* archived at 105 */
  insert(fx->st, message("e1", "m2", 200, NULL, NULL));
  insert(fx->st, message("e1", "m3", 300, NULL, NULL));
  insert(fx->st, message("e2", "m4", 300, NULL, NULL));
  GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_message_ids_archived_since(fx->st, "e1", 150, NULL, 1, ids, &error), ==, 0);
  g_assert_cmpuint(ids->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(ids, 0), ==, "m2");
  g_ptr_array_set_size(ids, 0);
  g_assert_cmpint(storage_message_ids_archived_since(fx->st, "e1", 150, "m2", 10, ids, &error), ==, 0);
  g_assert_cmpuint(ids->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(ids, 0), ==, "m3");
  g_ptr_array_set_size(ids, 0);
  g_assert_cmpint(storage_message_ids_archived_since(fx->st, "e1", 0, NULL, 0, ids, &error), ==, 0);
  g_assert_cmpuint(ids->len, ==, 3);
  g_ptr_array_unref(ids);
}

/* ---- threads -------------------------------------------------------------------------------- */

static void test_threads(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_thread_create(fx->st, "e1", "t1", "deal", "hank@globex.com", 100, &error), ==, 0);
  g_assert_cmpint(storage_thread_create(fx->st, "e1", "t1", "deal", "x", 100, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  MaStoredMessage *m1 = message("e1", "m1", 100, "one@x", "t1");
  g_ptr_array_add(m1->links, ma_record_ref_new(MA_RECORD_OPPORTUNITY, "o1"));
  g_ptr_array_add(m1->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  insert(fx->st, m1);
  insert(fx->st, message("e1", "m2", 50, "two@x", "t1"));

  const char *refs[] = {"unknown@x", "one@x"};
  char *tid = NULL;
  g_assert_cmpint(storage_thread_find_by_message_ids(fx->st, "e1", refs, 2, &tid, &error), ==, 1);
  g_assert_cmpstr(tid, ==, "t1");
  g_clear_pointer(&tid, g_free);
  g_assert_cmpint(storage_thread_find_by_message_ids(fx->st, "e1", refs, 1, &tid, &error), ==, 0);
  g_assert_cmpint(storage_thread_find_by_message_ids(fx->st, "e2", refs, 2, &tid, &error), ==, 0);

  g_assert_cmpint(storage_thread_find_by_subject(fx->st, "e1", "deal", "hank@globex.com", 100, &tid, &error), ==, 1);
  g_assert_cmpstr(tid, ==, "t1");
  g_clear_pointer(&tid, g_free);
  g_assert_cmpint(storage_thread_find_by_subject(fx->st, "e1", "deal", "hank@globex.com", 101, &tid, &error), ==, 0);
  g_assert_cmpint(storage_thread_touch(fx->st, "e1", "t1", 500, &error), ==, 0);
  g_assert_cmpint(storage_thread_touch(fx->st, "e1", "t1", 300, &error), ==, 0); /* never lowers */
  g_assert_cmpint(storage_thread_find_by_subject(fx->st, "e1", "deal", "hank@globex.com", 500, &tid, &error), ==, 1);
  g_clear_pointer(&tid, g_free);
  g_assert_cmpint(storage_thread_find_by_subject(fx->st, "e1", "deal", "other", 0, &tid, &error), ==, 0);
  g_assert_cmpint(storage_thread_find_by_subject(fx->st, "e2", "deal", "hank@globex.com", 0, &tid, &error), ==, 0);
  g_assert_cmpint(storage_thread_touch(fx->st, "e2", "t1", 900, &error), ==, 0); /* no effect on e1 */
  g_assert_cmpint(storage_thread_find_by_subject(fx->st, "e1", "deal", "hank@globex.com", 501, &tid, &error), ==, 0);

  GPtrArray *refsout = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_ref_free);
  g_assert_cmpint(storage_thread_opportunity_links(fx->st, "e1", "t1", refsout, &error), ==, 0);
  g_assert_cmpuint(refsout->len, ==, 1);
  g_assert_cmpstr(((MaRecordRef *)g_ptr_array_index(refsout, 0))->id, ==, "o1");
  g_ptr_array_set_size(refsout, 0);
  g_assert_cmpint(storage_thread_opportunity_links(fx->st, "e2", "t1", refsout, &error), ==, 0);
  g_assert_cmpuint(refsout->len, ==, 0);
  g_ptr_array_unref(refsout);

  GPtrArray *msgs = g_ptr_array_new_with_free_func((GDestroyNotify)ma_stored_message_free);
  g_assert_cmpint(storage_thread_messages(fx->st, "e1", "t1", msgs, &error), ==, 0);
  g_assert_cmpuint(msgs->len, ==, 2);
  g_assert_cmpstr(((MaStoredMessage *)g_ptr_array_index(msgs, 0))->id, ==, "m2"); /* oldest first */
  g_assert_cmpuint(((MaStoredMessage *)g_ptr_array_index(msgs, 1))->links->len, ==, 2);
  g_ptr_array_set_size(msgs, 0);
  g_assert_cmpint(storage_thread_messages(fx->st, "e2", "t1", msgs, &error), ==, 0);
  g_assert_cmpuint(msgs->len, ==, 0);
  g_ptr_array_unref(msgs);
}

/* A long thread is read in chunks (IN lists of at most 512 ids) and keeps its order and parts. */
static void test_thread_long(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  for (int i = 0; i < 600; i++) {
    char id[16];
    g_snprintf(id, sizeof id, "m%04d", i);
    MaStoredMessage *m = message("e1", id, 10000 - i, NULL, "t-long"); /* newest inserted first */
    g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
    insert(fx->st, m);
  }
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  GPtrArray *msgs = g_ptr_array_new_with_free_func((GDestroyNotify)ma_stored_message_free);
  g_assert_cmpint(storage_thread_messages(fx->st, "e1", "t-long", msgs, &error), ==, 0);
  g_assert_cmpuint(msgs->len, ==, 600);
  for (guint i = 0; i < msgs->len; i++) {
    MaStoredMessage *m = g_ptr_array_index(msgs, i);
    g_assert_cmpint(m->date, ==, 10000 - 599 + (gint64)i); /* oldest first */
    g_assert_cmpuint(m->participants->len, ==, 2);
    g_assert_cmpuint(m->links->len, ==, 1);
    g_assert_nonnull(m->text);
  }
  g_ptr_array_unref(msgs);
}

/* ---- activities ----------------------------------------------------------------------------- */

static void test_activities(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaStoredMessage *m = message("e1", "m1", 100, NULL, NULL);
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_ACCOUNT, "a1"));
  insert(fx->st, m);

  GPtrArray *todo = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_ref_free);
  g_assert_cmpint(storage_links_without_activity(fx->st, "e1", "m1", todo, &error), ==, 0);
  g_assert_cmpuint(todo->len, ==, 2);
  g_ptr_array_set_size(todo, 0);

  add_activity(fx->st, "e1", "act1", "m1", "c1", 1);
  add_activity(fx->st, "e1", "act2", "m1", "c1", 0); /* same (message, record): kept once */
  g_assert_cmpint(storage_links_without_activity(fx->st, "e1", "m1", todo, &error), ==, 0);
  g_assert_cmpuint(todo->len, ==, 1);
  g_assert_cmpint(((MaRecordRef *)g_ptr_array_index(todo, 0))->type, ==, MA_RECORD_ACCOUNT);
  g_ptr_array_set_size(todo, 0);
  g_assert_cmpint(storage_links_without_activity(fx->st, "e2", "m1", todo, &error), ==, 0);
  g_assert_cmpuint(todo->len, ==, 0);
  g_ptr_array_unref(todo);

  MaActivity *a = NULL;
  g_assert_cmpint(storage_activity_get(fx->st, "e1", "act1", &a, &error), ==, 1);
  g_assert_cmpstr(a->message_id, ==, "m1");
  g_assert_cmpint(a->record.type, ==, MA_RECORD_CONTACT);
  g_assert_cmpstr(a->record.id, ==, "c1");
  g_assert_cmpstr(a->rule_name, ==, "Log it");
  g_assert_cmpstr(a->title, ==, "Email logged");
  g_assert_cmpstr(a->owner, ==, "ann@acme.com");
  g_assert_cmpint(a->created_at, ==, 99);
  g_assert_cmpint(a->message_date, ==, 100);
  ma_activity_free(a);
  g_assert_cmpint(storage_activity_get(fx->st, "e1", "act2", &a, &error), ==, 0);
  g_assert_cmpint(storage_activity_get(fx->st, "e2", "act1", &a, &error), ==, 0);

  /* An activity for another tenant's message is refused. */
  MaActivity bad = {.id = "act3", .enterprise_id = "e2", .message_id = "m1", .record = {MA_RECORD_CONTACT, "c1"}};
  g_assert_cmpint(storage_activity_create(fx->st, &bad, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);

  gint64 msgs = 0, acts = 0, recs = 0;
  g_assert_cmpint(storage_counts(fx->st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(acts, ==, 1);
}

/* ---- timeline ------------------------------------------------------------------------------- */

/* Reads the whole timeline of contact c1 in pages of `page`, as "m:<id>" / "a:<id>" strings. */
static GPtrArray *timeline_all(MaStorage *st, const char *ent, const MaTimelineFilter *f, int page)
{
  GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
  char *cursor = NULL;
  int pages = 0;
  do {
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
    char *next = NULL;
    GError *error = NULL;
    g_assert_cmpint(storage_timeline(st, ent, MA_RECORD_CONTACT, "c1", f, cursor, page, out, &next, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpuint(out->len, <=, (guint)page);
    if (next) g_assert_cmpuint(out->len, ==, (guint)page);
    for (guint i = 0; i < out->len; i++) {
      MaTimelineItem *it = g_ptr_array_index(out, i);
      if (it->is_activity)
        g_ptr_array_add(seen, g_strdup_printf("a:%s", it->activity->id));
      else
        g_ptr_array_add(seen, g_strdup_printf("m:%s", it->message->id));
    }
    g_ptr_array_unref(out);
    g_free(cursor);
    cursor = next;
    g_assert_cmpint(++pages, <, 1000);
  } while (cursor);
  return seen;
}

static char *joined(GPtrArray *a)
{
  g_ptr_array_add(a, NULL);
  char *s = g_strjoinv(",", (char **)a->pdata);
  g_ptr_array_unref(a);
  return s;
}

/* Asserts contact c1's whole timeline under f, read in pages of `page`, is want ("m:<id>,a:<id>"). */
static void assert_timeline(MaStorage *st, const MaTimelineFilter *f, int page, const char *want)
{
  char *s = joined(timeline_all(st, "e1", f, page));
  g_assert_cmpstr(s, ==, want);
  g_free(s);
}

static void test_timeline_order(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  insert_linked(fx->st, "e1", "m01", 100, "c1");
  insert_linked(fx->st, "e1", "m02", 300, "c1");
  insert_linked(fx->st, "e1", "m03", 200, "c1");
  insert_linked(fx->st, "e1", "m04", 300, "c1"); /* same date as m02: higher id first */
  insert_linked(fx->st, "e1", "m05", 250, "c2"); /* another record */
  add_activity(fx->st, "e1", "act2", "m02", "c1", 1);
  add_activity(fx->st, "e1", "act1", "m01", "c1", 1);
  add_activity(fx->st, "e1", "act5", "m05", "c2", 1); /* on c2's timeline only */

  char *all = joined(timeline_all(fx->st, "e1", NULL, 50));
  g_assert_cmpstr(all, ==, "m:m04,a:act2,m:m02,m:m03,a:act1,m:m01");
  /* Same order in pages of every size. */
  for (int page = 1; page <= 6; page++) {
    char *paged = joined(timeline_all(fx->st, "e1", NULL, page));
    g_assert_cmpstr(paged, ==, all);
    g_free(paged);
  }
  g_free(all);

  /* Items carry participants and links, not bodies. */
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  char *next = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 2, out, &next, &error), ==, 0);
  g_assert_nonnull(next);
  MaTimelineItem *it = g_ptr_array_index(out, 0);
  g_assert_false(it->is_activity);
  g_assert_null(it->activity);
  g_assert_cmpuint(it->message->participants->len, ==, 2);
  g_assert_cmpuint(it->message->links->len, ==, 1);
  g_assert_null(it->message->text);
  g_assert_null(it->message->html);
  g_assert_cmpstr(it->message->snippet, ==, "Hello there, this is the body.");
  it = g_ptr_array_index(out, 1);
  g_assert_true(it->is_activity);
  g_assert_cmpstr(it->activity->message_id, ==, "m02");
  g_ptr_array_unref(out);
  g_free(next);

  /* Tenant isolation: e2 sees nothing of c1, not even with a cursor from e1's timeline. */
  char *e2 = joined(timeline_all(fx->st, "e2", NULL, 10));
  g_assert_cmpstr(e2, ==, "");
  g_free(e2);
  out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 1, out, &next, &error), ==, 0);
  g_assert_nonnull(next);
  g_ptr_array_set_size(out, 0);
  char *e1_cursor = next;
  next = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e2", MA_RECORD_CONTACT, "c1", NULL, e1_cursor, 10, out, &next, &error), ==, 0);
  g_assert_cmpuint(out->len, ==, 0);
  g_assert_null(next);
  g_free(e1_cursor);
  g_ptr_array_unref(out);
}

/* storage_timeline_each's visitor: each item as one line naming its parts, so that a message
 * shown another's participants, attachments or links would differ from what was stored. */
static void describe_item(const MaTimelineItem *item, void *user_data)
{
  GString *out = user_data;
  if (item->is_activity) {
    g_string_append_printf(out, "a:%s(%s);", item->activity->id, item->activity->message_id);
    return;
  }
  const MaStoredMessage *m = item->message;
  g_string_append_printf(out, "m:%s[", m->id);
  for (guint i = 0; i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    g_string_append_printf(out, "%s%d=%s/%s", i ? " " : "", (int)p->role, p->name ? p->name : "-", p->address);
  }
  g_string_append(out, "|");
  for (guint i = 0; i < m->attachments->len; i++) {
    const MaAttachment *a = g_ptr_array_index(m->attachments, i);
    g_string_append_printf(out, "%s%s:%" G_GSIZE_FORMAT, i ? " " : "", a->filename, a->size);
  }
  g_string_append(out, "|");
  for (guint i = 0; i < m->links->len; i++) {
    const MaRecordRef *r = g_ptr_array_index(m->links, i);
    g_string_append_printf(out, "%s%s", i ? " " : "", r->id);
  }
  g_string_append(out, "];");
}

/* The visited items are views of the rows: each message gets exactly its own parts (counts and
 * values differing per message), in page order, with the same cursor as storage_timeline. */
static void test_timeline_each(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  for (int i = 1; i <= 4; i++) {
    char id[8], who[32];
    g_snprintf(id, sizeof id, "m%d", i);
    MaStoredMessage *m = message("e1", id, 100 * i, NULL, NULL);
    g_ptr_array_set_size(m->participants, 0);
    for (int k = 0; k < i; k++) { /* message i has i participants, i - 1 attachments */
      g_snprintf(who, sizeof who, "p%d.%d@globex.com", i, k);
      g_ptr_array_add(m->participants, ma_participant_new(k ? MA_ROLE_CC : MA_ROLE_FROM, k ? NULL : "First", who));
      if (k) {
        char name[32];
        g_snprintf(name, sizeof name, "f%d.%d.pdf", i, k);
        g_ptr_array_add(m->attachments, attachment(name, "ab", FALSE));
      }
    }
    g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
    if (i % 2) g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c9"));
    insert(fx->st, m);
  }
  add_activity(fx->st, "e1", "act3", "m3", "c1", 1);

  g_autoptr(GString) seen = g_string_new(NULL);
  g_autofree char *next = NULL;
  g_assert_cmpint(storage_timeline_each(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 4, describe_item, seen,
                                        &next, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpstr(seen->str, ==,
                  "m:m4[0=First/p4.0@globex.com 3=-/p4.1@globex.com 3=-/p4.2@globex.com 3=-/p4.3@globex.com"
                  "|f4.1.pdf:42 f4.2.pdf:42 f4.3.pdf:42|c1];"
                  "a:act3(m3);"
                  "m:m3[0=First/p3.0@globex.com 3=-/p3.1@globex.com 3=-/p3.2@globex.com|f3.1.pdf:42 f3.2.pdf:42|c1 c9];"
                  "m:m2[0=First/p2.0@globex.com 3=-/p2.1@globex.com|f2.1.pdf:42|c1];");
  g_assert_nonnull(next);

  /* the rest after the cursor; the copying storage_timeline agrees on the cursor */
  g_string_truncate(seen, 0);
  g_autofree char *last = NULL;
  g_assert_cmpint(storage_timeline_each(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, next, 4, describe_item, seen,
                                        &last, &error), ==, 0);
  g_assert_cmpstr(seen->str, ==, "m:m1[0=First/p1.0@globex.com||c1 c9];");
  g_assert_null(last);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  g_autofree char *copied_next = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 4, out, &copied_next, &error),
                  ==, 0);
  g_assert_cmpuint(out->len, ==, 4);
  g_assert_cmpstr(copied_next, ==, next);
  g_ptr_array_unref(out);
}

static void test_timeline_filters(Fixture *fx, gconstpointer data)
{
  char sha[65];
  GError *error = NULL;
  g_assert_cmpint(storage_blob_put(fx->st, "pdf", 3, sha, &error), ==, 0);
  MaStoredMessage *m = message("e1", "m1", 100, NULL, "t1");
  g_ptr_array_add(m->attachments, attachment("a.pdf", sha, FALSE));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  insert(fx->st, m);
  m = message("e1", "m2", 200, NULL, "t2");
  m->direction = MA_DIRECTION_OUTBOUND;
  g_ptr_array_add(m->attachments, attachment("logo.png", sha, TRUE)); /* inline only */
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  insert(fx->st, m);
  insert_linked(fx->st, "e1", "m3", 300, "c1");
  add_activity(fx->st, "e1", "act1", "m1", "c1", 1);

  MaTimelineFilter f = {.has_attachment = -1};
  assert_timeline(fx->st, &f, 2, "m:m3,m:m2,a:act1,m:m1");
  f.direction = "outbound";
  assert_timeline(fx->st, &f, 2, "m:m2");
  f.direction = "inbound";
  assert_timeline(fx->st, &f, 1, "m:m3,a:act1,m:m1");
  f.direction = NULL;
  f.has_attachment = 1;
  assert_timeline(fx->st, &f, 5, "a:act1,m:m1");
  f.has_attachment = 0;
  assert_timeline(fx->st, &f, 5, "m:m3,m:m2");
  f.has_attachment = -1;
  f.since = 200;
  f.until = 300; /* exclusive */
  assert_timeline(fx->st, &f, 5, "m:m2");
  /* since alone ends the page at the first older row (SQLite checks it in C): across cursors, and
   * with no cursor after a full page whose next row is older; with a filter too (in SQL) */
  f.until = 0;
  assert_timeline(fx->st, &f, 1, "m:m3,m:m2");
  GPtrArray *page = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  char *after_since = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", &f, NULL, 2, page, &after_since, &error), ==,
                  0);
  g_assert_no_error(error);
  g_assert_cmpuint(page->len, ==, 2);
  g_assert_null(after_since);
  g_ptr_array_unref(page);
  f.direction = "inbound";
  assert_timeline(fx->st, &f, 1, "m:m3");
  f.direction = NULL;
  f.since = f.until = 0;
  f.thread_id = "t1";
  assert_timeline(fx->st, &f, 5, "a:act1,m:m1");

  f.thread_id = NULL;
  f.direction = "sideways";
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  char *next = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", &f, NULL, 5, out, &next, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_ptr_array_unref(out);
}

/* The cursor's text is what g_strdup_printf and g_base64_encode made of "date|id|kind" (base64url,
 * padding cut), for every length mod 3, negative and extreme dates, and it decodes back. */
static void test_cursor_encode(void)
{
  const char *ids[] = {"", "m", "m1", "m12", "01m8y33ze94sgc7gxga5", "id with | and \xc3\xa9"};
  const gint64 dates[] = {0, 1, -1, 1600369963, G_MAXINT64, G_MININT64 + 1};
  for (gsize i = 0; i < G_N_ELEMENTS(ids); i++) {
    for (gsize j = 0; j < G_N_ELEMENTS(dates); j++) {
      for (int kind = 0; kind <= 1; kind++) {
        g_autofree char *plain = g_strdup_printf("%" G_GINT64_FORMAT "|%s|%d", dates[j], ids[i], kind);
        g_autofree char *want = g_base64_encode((const guchar *)plain, strlen(plain));
        g_strdelimit(want, "+", '-');
        g_strdelimit(want, "/", '_');
        char *pad = strchr(want, '=');
        if (pad) *pad = '\0';
        g_autofree char *got = storage_timeline_cursor_encode(dates[j], ids[i], kind);
        g_assert_cmpstr(got, ==, want);
      }
    }
  }
  MaTimelinePos pos = {0};
  GError *error = NULL;
  g_autofree char *c = storage_timeline_cursor_encode(1600369963, "01m8y33ze94sgc7gxga5", 1);
  g_assert_cmpint(storage_timeline_cursor_decode(c, &pos, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(pos.date, ==, 1600369963);
  g_assert_cmpstr(pos.message_id, ==, "01m8y33ze94sgc7gxga5");
  g_assert_cmpint(pos.kind, ==, 1);
  g_free(pos.message_id);
}

static void test_timeline_cursor(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  for (int i = 0; i < 10; i++) {
    char id[16];
    g_snprintf(id, sizeof id, "m%02d", i);
    insert_linked(fx->st, "e1", id, 1000 + i * 10, "c1");
  }
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  char *next = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 4, out, &next, &error), ==, 0);
  g_assert_cmpstr(((MaTimelineItem *)g_ptr_array_index(out, 3))->message->id, ==, "m06");
  g_ptr_array_set_size(out, 0);

  /* Inserts before and after the cursor position: the next page continues exactly after m06. */
  insert_linked(fx->st, "e1", "n-new", 5000, "c1");  /* newer than everything: not on later pages */
  insert_linked(fx->st, "e1", "n-mid", 1025, "c1");  /* between m02 and m03: shows up in order */
  add_activity(fx->st, "e1", "act6", "m06", "c1", 1); /* before m06 (already passed) */
  add_activity(fx->st, "e1", "act5", "m05", "c1", 1); /* just before m05: on the next page */
  GPtrArray *seen = g_ptr_array_new_with_free_func(g_free);
  char *cursor = next;
  while (cursor) {
    next = NULL;
    g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, cursor, 3, out, &next, &error), ==, 0);
    for (guint i = 0; i < out->len; i++) {
      MaTimelineItem *it = g_ptr_array_index(out, i);
      g_ptr_array_add(seen, g_strdup(it->is_activity ? it->activity->id : it->message->id));
    }
    g_ptr_array_set_size(out, 0);
    g_free(cursor);
    cursor = next;
  }
  char *s = joined(seen);
  g_assert_cmpstr(s, ==, "act5,m05,m04,m03,n-mid,m02,m01,m00");
  g_free(s);

  /* Bad cursors. */
  const char *bad[] = {"", "!!!", "bm90IGEgY3Vyc29y" /* "not a cursor" */, "MTAwfHx8MQ" /* "100|||1" */,
                       "YWJjfG0xfDA" /* "abc|m1|0" */, "MTAwfG0xfDc" /* "100|m1|7" */};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    next = NULL;
    g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, bad[i], 3, out, &next, &error), ==, -1);
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_null(next);
    g_assert_cmpuint(out->len, ==, 0);
  }
  g_ptr_array_unref(out);
}

/* Cursors come from clients: random and mutated ones are either a valid position or INVALID. */
static void test_timeline_cursor_garbage(Fixture *fx, gconstpointer data)
{
  for (int i = 0; i < 5; i++) {
    char id[16];
    g_snprintf(id, sizeof id, "m%02d", i);
    insert_linked(fx->st, "e1", id, 1000 + i, "c1");
  }
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  char *good = NULL;
  GError *error = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 2, out, &good, &error), ==, 0);
  g_assert_nonnull(good);
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/|%\x01";
  GRand *rng = g_rand_new_with_seed(42);
  int valid = 0, invalid = 0;
  for (int n = 0; n < 3000; n++) {
    GString *c = g_string_new(NULL);
    if (n % 2) {
      g_string_assign(c, good); /* mutate a real cursor */
      int edits = g_rand_int_range(rng, 1, 4);
      for (int k = 0; k < edits && c->len; k++)
        c->str[g_rand_int_range(rng, 0, (gint32)c->len)] = alphabet[g_rand_int_range(rng, 0, sizeof alphabet - 1)];
      if (g_rand_boolean(rng)) g_string_truncate(c, (gsize)g_rand_int_range(rng, 0, (gint32)c->len + 1));
    } else {
      int len = g_rand_int_range(rng, 0, 300);
      for (int k = 0; k < len; k++) g_string_append_c(c, alphabet[g_rand_int_range(rng, 0, sizeof alphabet - 1)]);
    }
    char *next = NULL;
    int rc = storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, c->str, 3, out, &next, &error);
    if (rc == 0) {
      valid++;
      g_assert_cmpuint(out->len, <=, 3);
    } else {
      invalid++;
      g_assert_cmpint(rc, ==, -1);
      g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
      g_clear_error(&error);
      g_assert_null(next);
    }
    g_free(next);
    g_ptr_array_set_size(out, 0);
    g_string_free(c, TRUE);
  }
  g_test_message("garbage cursors: %d accepted as positions, %d refused", valid, invalid);
  g_assert_cmpint(invalid, >, 1000);
  g_rand_free(rng);
  g_free(good);
  g_ptr_array_unref(out);
}

/* A record with many messages among many others: a deep page is an index range scan. The work is
 * counted (storage_work_counters: SQLite's step counters, PostgreSQL's table statistics), not
 * timed: every page after the second costs about what the second cost, whatever its depth (an
 * OFFSET-like read would cost more on each page), reads only a small part of the record's rows,
 * and scans no more whole-table rows than the second page did (none on SQLite). */
static void test_timeline_speed(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  const int per_record = 3000, others = 3000;
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  for (int i = 0; i < per_record + others; i++) {
    char id[32];
    g_snprintf(id, sizeof id, "m%06d", i);
    insert_linked(fx->st, "e1", id, 1000000 + (i * 7919) % 100000, i < per_record ? "c1" : "c2");
  }
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  char *cursor = NULL;
  int pages = 0;
  gint64 second_steps = -1, second_scans = -1, worst_steps = 0, worst_scans = 0;
  guint total = 0;
  do {
    char *next = NULL;
    gint64 steps = 0, scans = 0;
    g_assert_cmpint(storage_work_counters(fx->st, TRUE, &steps, &scans, &error), ==, 0);
    g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, cursor, 50, out, &next, &error), ==, 0);
    g_assert_cmpint(storage_work_counters(fx->st, FALSE, &steps, &scans, &error), ==, 0);
    if (pages == 1) { /* the first page with a cursor: what every later one may cost */
      second_steps = steps;
      second_scans = scans;
    } else if (pages > 1) {
      worst_steps = MAX(worst_steps, steps);
      worst_scans = MAX(worst_scans, scans);
    }
    total += out->len;
    g_ptr_array_set_size(out, 0);
    g_free(cursor);
    cursor = next;
    pages++;
  } while (cursor);
  g_assert_cmpuint(total, ==, (guint)per_record);
  g_assert_cmpint(pages, ==, per_record / 50);
  g_test_message("timeline: %d pages; the second page %" G_GINT64_FORMAT " steps (%" G_GINT64_FORMAT
                 " in whole-table scans), the worst later one %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT ")",
                 pages, second_steps, second_scans, worst_steps, worst_scans);
  g_assert_cmpint(second_steps, >, 0);                  /* the counters do count this work */
  g_assert_cmpint(second_steps, <, per_record);         /* a range of the record, not its every row */
  g_assert_cmpint(worst_steps, <=, second_steps * 3 / 2); /* a deep page costs what a shallow one does */
  g_assert_cmpint(worst_scans, <=, second_scans);
  g_ptr_array_unref(out);
}

/* ---- outbox --------------------------------------------------------------------------------- */

/* Bodies live out of the message rows (migration 124): a text past the streaming threshold (written
 * with incremental blob I/O) and a small one read back exactly, html too; a message with neither
 * reads "" and NULL. */
static void test_message_bodies(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  GString *big = g_string_new(NULL);
  for (int i = 0; big->len < 300 * 1024; i++) g_string_append_printf(big, "line %d of a long body \xe4\xb8\xad\r\n", i);
  MaStoredMessage *m = message("e1", "mb", 100, NULL, NULL);
  g_free(m->text);
  m->text = g_strdup(big->str);
  insert(fx->st, m);
  m = message("e1", "ms", 101, NULL, NULL);
  insert(fx->st, m);
  m = message("e1", "mn", 102, NULL, NULL);
  g_clear_pointer(&m->text, g_free);
  g_clear_pointer(&m->html, g_free);
  insert(fx->st, m);
  MaStoredMessage *got = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "mb", &got, &error), ==, 1);
  g_assert_cmpuint(strlen(got->text), ==, big->len);
  g_assert_true(strcmp(got->text, big->str) == 0);
  g_assert_cmpstr(got->html, ==, "<p>Hello</p>");
  ma_stored_message_free(got);
  g_assert_cmpint(storage_message_get(fx->st, "e1", "ms", &got, &error), ==, 1);
  g_assert_cmpstr(got->text, ==, "Hello   there,\n\n  this is\tthe body.");
  ma_stored_message_free(got);
  g_assert_cmpint(storage_message_get(fx->st, "e1", "mn", &got, &error), ==, 1);
  g_assert_cmpstr(got->text, ==, "");
  g_assert_null(got->html);
  ma_stored_message_free(got);
  /* another enterprise never reads it */
  g_assert_cmpint(storage_message_get(fx->st, "e2", "mb", &got, &error), ==, 0);
  g_assert_no_error(error);
  g_string_free(big, TRUE);
}

static gint64 archive_version(MaStorage *st, const char *ent)
{
  GError *error = NULL;
  gint64 v = -1;
  g_assert_cmpint(storage_archive_version(st, ent, &v, &error), ==, 0);
  g_assert_no_error(error);
  return v;
}

/* The per-enterprise version moves with what a timeline page reads, for that enterprise only. */
/* ---- the timeline rows stay exact ------------------------------------------------------------ */

/* Checks the whole timeline of contact `record` (read in pages of 2) item by item against the
 * stored mail read the other way (storage_message_get from the messages' own rows, the activity,
 * the queue's delivery states), and returns its items as "m:<id>" / "a:<id>" in page order. */
static char *timeline_checked(MaStorage *st, const char *ent, const char *record)
{
  GString *seen = g_string_new(NULL);
  char *cursor = NULL;
  GError *error = NULL;
  do {
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
    char *next = NULL;
    g_assert_cmpint(storage_timeline(st, ent, MA_RECORD_CONTACT, record, NULL, cursor, 2, out, &next, &error), ==, 0);
    g_assert_no_error(error);
    for (guint i = 0; i < out->len; i++) {
      MaTimelineItem *it = out->pdata[i];
      g_string_append_printf(seen, "%s%s:%s", seen->len ? " " : "", it->is_activity ? "a" : "m",
                             it->is_activity ? it->activity->id : it->message->id);
      if (it->is_activity) {
        MaActivity *a = NULL;
        g_assert_cmpint(storage_activity_get(st, ent, it->activity->id, &a, &error), ==, 1);
        g_assert_cmpstr(it->activity->message_id, ==, a->message_id);
        g_assert_cmpstr(it->activity->record.id, ==, a->record.id);
        g_assert_cmpstr(it->activity->rule_id, ==, a->rule_id);
        g_assert_cmpstr(it->activity->rule_name, ==, a->rule_name);
        g_assert_cmpstr(it->activity->activity_type, ==, a->activity_type);
        g_assert_cmpstr(it->activity->title, ==, a->title);
        g_assert_cmpstr(it->activity->content, ==, a->content);
        g_assert_cmpstr(it->activity->owner, ==, a->owner);
        g_assert_cmpint(it->activity->created_at, ==, a->created_at);
        g_assert_cmpint(it->activity->message_date, ==, a->message_date);
        ma_activity_free(a);
        continue;
      }
      MaStoredMessage *v = it->message, *m = NULL;
      g_assert_cmpint(storage_message_get(st, ent, v->id, &m, &error), ==, 1);
      g_assert_cmpstr(v->subject, ==, m->subject);
      g_assert_cmpstr(v->snippet, ==, m->snippet);
      g_assert_cmpstr(v->thread_id, ==, m->thread_id);
      g_assert_cmpstr(v->parse_error, ==, m->parse_error);
      g_assert_cmpint(v->direction, ==, m->direction);
      g_assert_cmpint(v->date, ==, m->date);
      g_assert_cmpuint(v->machine, ==, m->machine);
      /* the participants a page shows: From, To and Cc, in their order */
      guint k = 0;
      for (guint j = 0; j < m->participants->len; j++) {
        MaParticipant *p = m->participants->pdata[j];
        if (p->role != MA_ROLE_FROM && p->role != MA_ROLE_TO && p->role != MA_ROLE_CC) continue;
        g_assert_cmpuint(k, <, v->participants->len);
        MaParticipant *q = v->participants->pdata[k++];
        g_assert_cmpint(q->role, ==, p->role);
        g_assert_cmpstr(q->name, ==, p->name);
        g_assert_cmpstr(q->address, ==, p->address);
      }
      g_assert_cmpuint(k, ==, v->participants->len);
      g_assert_cmpuint(v->attachments->len, ==, m->attachments->len);
      for (guint j = 0; j < m->attachments->len; j++) {
        MaAttachment *x = m->attachments->pdata[j], *y = v->attachments->pdata[j];
        g_assert_cmpstr(y->filename, ==, x->filename);
        g_assert_cmpstr(y->content_type, ==, x->content_type);
        g_assert_cmpstr(y->content_id, ==, x->content_id);
        g_assert_cmpint(y->is_inline, ==, x->is_inline);
        g_assert_cmpuint(y->size, ==, x->size);
        g_assert_cmpstr(y->sha256, ==, x->sha256);
      }
      g_assert_cmpuint(v->links->len, ==, m->links->len);
      for (guint j = 0; j < m->links->len; j++) {
        MaRecordRef *x = m->links->pdata[j], *y = v->links->pdata[j];
        g_assert_cmpint(y->type, ==, x->type);
        g_assert_cmpstr(y->id, ==, x->id);
      }
      /* delivery states exactly when the queue holds the message's Message-ID */
      GPtrArray *delivery = NULL;
      if (m->direction == MA_DIRECTION_OUTBOUND && m->message_id)
        g_assert_cmpint(storage_outbound_delivery(st, ent, m->message_id, &delivery, &error), ==, 0);
      g_assert_cmpuint(it->delivery ? it->delivery->len : 0, ==, delivery ? delivery->len : 0);
      for (guint j = 0; delivery && j < delivery->len; j++) {
        MaOutboundRecipient *x = delivery->pdata[j], *y = it->delivery->pdata[j];
        g_assert_cmpstr(y->address, ==, x->address);
        g_assert_cmpint(y->state, ==, x->state);
      }
      if (delivery) g_ptr_array_unref(delivery);
      ma_stored_message_free(m);
    }
    g_free(cursor);
    cursor = next;
  } while (cursor);
  return g_string_free(seen, FALSE);
}

/* SQLite: every timeline row stores its own key's date, message id and kind as its position
 * (TIMELINE_POSITION), which pages read instead of the key; PostgreSQL stores no position. */
static void assert_positions(MaStorage *st, gconstpointer data)
{
  if (data == ON_PG) return;
  GError *error = NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_debug_query(st,
                                      "SELECT count(*) > 0, sum(CASE WHEN substr(item, 1, length("
                                      TIMELINE_POSITION("date", "message_id", "kind") ")) IS "
                                      TIMELINE_POSITION("date", "message_id", "kind") " THEN 0 ELSE 1 END)"
                                      " FROM timeline",
                                      rows, &error),
                  ==, 0);
  g_assert_no_error(error);
  g_assert_cmpstr(rows->pdata[0], ==, "1|0"); /* rows there, none of them off */
}

/* The timeline of contact record read and checked (timeline_checked) is expected; so are the
 * rows' positions (assert_positions, with the test's data). */
#define ASSERT_TIMELINE(st, record, expected)                                                          \
  do {                                                                                               \
    g_autofree char *seen_ = timeline_checked((st), "e1", (record));                                 \
    g_assert_cmpstr(seen_, ==, (expected));                                                          \
    assert_positions((st), data);                                                                    \
  } while (0)

/* Queues outbound message id of e1 with Message-ID message_id (raw blob sha) to one recipient. */
static void queue_outbound(MaStorage *st, const char *id, const char *message_id, const char *sha)
{
  GError *error = NULL;
  MaOutbound *q = ma_outbound_new();
  q->id = g_strdup(id);
  q->enterprise_id = g_strdup("e1");
  q->message_id = g_strdup(message_id);
  q->mail_from = g_strdup("ann@acme.com");
  q->raw_sha256 = g_strdup(sha);
  q->size = 3;
  q->created_at = 1000;
  MaOutboundRecipient *r = g_new0(MaOutboundRecipient, 1);
  r->address = g_strdup("hank@globex.com");
  r->state = MA_OUT_QUEUED;
  g_ptr_array_add(q->recipients, r);
  g_assert_cmpint(storage_outbound_enqueue(st, q, NULL, NULL, NULL, 1000, NULL, NULL, &error), ==, 1);
  g_assert_no_error(error);
  ma_outbound_free(q);
}

/* A new message's timeline rows carry the item the view timeline_message_fields makes from its
 * stored rows (SQLite encodes it in C from the values it binds, storage_timeline_row.h): every
 * field NULL and not, participants of every role (Sender, Bcc and Reply-To are not listed), an
 * attachment without name or content id, links given out of order and twice, a snippet left to
 * storage, and an outbound message whose Message-ID the queue already holds (its delivery key)
 * next to one the queue does not. Compared byte for byte on every row. */
static void test_timeline_insert_item(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, "pdf", 3, sha, &error), ==, 0);
  queue_outbound(fx->st, "q1", "queued@acme.com", sha);

  MaStoredMessage *m = message("e1", "m1", 100, "in1@globex.com", "t1");
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_SENDER, "S", "s@globex.com"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_CC, "12:~ 3:x", "cc@gl\xc3\xb6" "bex.com"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_BCC, NULL, "hidden@acme.com"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_REPLY_TO, "R", "r@globex.com"));
  g_ptr_array_add(m->attachments, attachment("a.pdf", sha, FALSE));
  MaAttachment *bare = attachment(NULL, sha, TRUE);
  g_clear_pointer(&bare->content_type, g_free);
  bare->content_id = g_strdup("<cid@x>");
  g_ptr_array_add(m->attachments, bare);
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c9"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_ACCOUNT, "a1"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c10"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c9"));
  insert(fx->st, m); /* 3 rows */
  m = message("e1", "m2", 200, "queued@acme.com", NULL);
  m->direction = MA_DIRECTION_OUTBOUND;
  m->machine = MA_MACHINE_AUTO;
  g_clear_pointer(&m->subject, g_free);
  m->parse_error = g_strdup("odd");
  m->snippet = g_strdup("");
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_LEAD, "l1"));
  insert(fx->st, m); /* 1 row, with the delivery key */
  m = message("e1", "m3", 300, "notqueued@acme.com", "t3");
  m->direction = MA_DIRECTION_OUTBOUND;
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_OPPORTUNITY, "o1"));
  insert(fx->st, m); /* 2 rows */

  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func(g_free);
  /* SQLite stores each row's position before its item (TIMELINE_POSITION); PostgreSQL the item */
  const char *stored = data == ON_PG ? "v.item" : TIMELINE_POSITION("v.date", "v.id", "0") " || v.item";
  g_autofree char *sql = g_strconcat("SELECT count(*), sum(CASE WHEN t.item IS DISTINCT FROM ", stored,
                                     " THEN 1 ELSE 0 END),"
                                     " sum(CASE WHEN t.item LIKE '%15:queued@acme.com%' THEN 1 ELSE 0 END)"
                                     " FROM timeline t JOIN timeline_message_fields v ON v.id = t.message_id"
                                     " WHERE t.kind = 0",
                                     NULL);
  g_assert_cmpint(storage_debug_query(fx->st, sql, rows, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpuint(rows->len, ==, 1);
  g_assert_cmpstr(rows->pdata[0], ==, "6|0|1");
}

/* The timeline rows carry their items (denormalised), so every change of what an item shows must
 * reach them in the same commit: a record linked later (re-matching), a record unlinked, a message
 * taken out of the archive, erased, expired by retention, and the queue gaining, changing and
 * losing the outbound message's delivery states. Each step compares every item with the stored
 * mail read the other way, on both backends. */
static void test_timeline_exact(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, "pdf", 3, sha, &error), ==, 0);
  /* m1: every kind of participant (a Bcc is never shown), a name that looks like the lists' own
   * length prefixes, an attachment and an inline one, two records */
  MaStoredMessage *m = message("e1", "m1", 100, NULL, "t1");
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_CC, "12:~ 3:x", "cc@gl\xc3\xb6" "bex.com"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_BCC, NULL, "hidden@acme.com"));
  g_ptr_array_add(m->attachments, attachment("a.pdf", sha, FALSE));
  g_ptr_array_add(m->attachments, attachment("logo.png", sha, TRUE));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c9"));
  insert(fx->st, m);
  m = message("e1", "m2", 200, "out2@acme.com", "t2");
  m->direction = MA_DIRECTION_OUTBOUND;
  m->machine = MA_MACHINE_AUTO;
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  insert(fx->st, m);
  insert_linked(fx->st, "e1", "m3", 300, "c1");
  add_activity(fx->st, "e1", "act3", "m3", "c1", 1);
  m = message("e1", "m4", 400, NULL, NULL);
  g_ptr_array_set_size(m->participants, 0);
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Gone", "erased@globex.com"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  insert(fx->st, m);
  m = message("e1", "m5", 50, NULL, NULL); /* archived at 55: the oldest */
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  insert(fx->st, m);
  ASSERT_TIMELINE(fx->st, "c1", "m:m4 a:act3 m:m3 m:m2 m:m1 m:m5");
  ASSERT_TIMELINE(fx->st, "c9", "m:m1");

  /* re-matching links m3 to c2 as well: both records' rows list both links */
  MaRecordRef c2 = {MA_RECORD_CONTACT, "c2", NULL};
  g_assert_cmpint(storage_link_add(fx->st, "e1", "m3", &c2, &error), ==, 1);
  ASSERT_TIMELINE(fx->st, "c1", "m:m4 a:act3 m:m3 m:m2 m:m1 m:m5");
  ASSERT_TIMELINE(fx->st, "c2", "m:m3");

  /* c9 unlinked: its rows go, and m1's row on c1 no longer lists it */
  MaRecordRef c9 = {MA_RECORD_CONTACT, "c9", NULL};
  g_assert_cmpint(storage_record_unlink(fx->st, "e1", &c9, NULL, &error), ==, 1);
  ASSERT_TIMELINE(fx->st, "c9", "");
  ASSERT_TIMELINE(fx->st, "c1", "m:m4 a:act3 m:m3 m:m2 m:m1 m:m5");

  /* m3 taken out of the archive: its rows and its activity's go from every record */
  g_assert_cmpint(storage_message_unarchive(fx->st, "e1", "m3", NULL, &error), ==, 1);
  ASSERT_TIMELINE(fx->st, "c1", "m:m4 m:m2 m:m1 m:m5");
  ASSERT_TIMELINE(fx->st, "c2", "");

  /* erasure of an address and retention take their messages' rows */
  MaEraseCounts counts = {0};
  g_assert_cmpint(storage_erase_address(fx->st, "e1", "ERASED@globex.com", &counts, &error), ==, 0);
  g_assert_no_error(error);
  ASSERT_TIMELINE(fx->st, "c1", "m:m2 m:m1 m:m5");
  g_assert_cmpint(storage_expire_before(fx->st, "e1", 56, 10, &counts, &error), ==, 1);
  ASSERT_TIMELINE(fx->st, "c1", "m:m2 m:m1");

  /* the queue gains the outbound message's Message-ID, holds it, and loses it */
  queue_outbound(fx->st, "q1", "out2@acme.com", sha);
  ASSERT_TIMELINE(fx->st, "c1", "m:m2 m:m1");
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify)ma_timeline_item_free);
  g_autofree char *next = NULL;
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 1, items, &next, &error), ==, 0);
  g_assert_nonnull(((MaTimelineItem *)items->pdata[0])->delivery); /* the comparison above saw it */
  int changed = 0;
  g_assert_cmpint(storage_outbound_operate(fx->st, "e1", "q1", MA_OUT_OP_HOLD, 1001, &changed, &error), ==, 0);
  g_assert_cmpint(changed, ==, 1);
  ASSERT_TIMELINE(fx->st, "c1", "m:m2 m:m1");
  g_assert_cmpint(storage_outbound_operate(fx->st, "e1", "q1", MA_OUT_OP_DELETE, 1002, &changed, &error), ==, 0);
  ASSERT_TIMELINE(fx->st, "c1", "m:m2 m:m1");
  g_ptr_array_set_size(items, 0);
  g_clear_pointer(&next, g_free);
  g_assert_cmpint(storage_timeline(fx->st, "e1", MA_RECORD_CONTACT, "c1", NULL, NULL, 1, items, &next, &error), ==, 0);
  g_assert_null(((MaTimelineItem *)items->pdata[0])->delivery);
}

static void test_archive_version(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  gint64 a0 = archive_version(fx->st, "e1"), b0 = archive_version(fx->st, "e2");
  g_assert_cmpint(archive_version(fx->st, "nobody"), ==, 0);
  /* a message without links reaches no timeline: no page changes */
  insert(fx->st, message("e1", "m0", 100, NULL, NULL));
  g_assert_cmpint(archive_version(fx->st, "e1"), ==, a0);
  insert_linked(fx->st, "e1", "m1", 100, "c1");
  gint64 a1 = archive_version(fx->st, "e1");
  g_assert_cmpint(a1, !=, a0);
  g_assert_cmpint(archive_version(fx->st, "e2"), ==, b0);
  /* an activity adds a timeline row; a second one for the same (message, record) is ignored */
  add_activity(fx->st, "e1", "a1", "m1", "c1", 1);
  gint64 a2 = archive_version(fx->st, "e1");
  g_assert_cmpint(a2, !=, a1);
  add_activity(fx->st, "e1", "a1b", "m1", "c1", 0);
  g_assert_cmpint(archive_version(fx->st, "e1"), ==, a2);
  /* a record created or deleted (a page may become 404 or stop being one); settings are no page */
  MaRecord *r = ma_record_new(MA_RECORD_CONTACT, "c9");
  g_assert_cmpint(storage_record_upsert(fx->st, "e2", r, &error), ==, 0);
  ma_record_free(r);
  gint64 b1 = archive_version(fx->st, "e2");
  g_assert_cmpint(b1, !=, b0);
  g_assert_cmpint(storage_record_delete(fx->st, "e2", MA_RECORD_CONTACT, "c9", &error), ==, 1);
  g_assert_cmpint(archive_version(fx->st, "e2"), !=, b1);
  g_assert_cmpint(archive_version(fx->st, "e1"), ==, a2);
  g_assert_cmpint(storage_setting_set(fx->st, "e1", "archiving", "off", &error), ==, 0);
  g_assert_cmpint(archive_version(fx->st, "e1"), ==, a2);
  /* deleting the enterprise removes its version with its rows (nothing names it any more): it
   * reads as never changed, which no cache saw, since a version starts at a random value */
  g_assert_cmpint(a2, !=, 0);
  g_assert_cmpint(storage_enterprise_delete(fx->st, "e1", &error), ==, 1);
  g_assert_cmpint(archive_version(fx->st, "e1"), ==, 0);
  g_assert_cmpint(archive_version(fx->st, "e2"), !=, 0);
  g_assert_no_error(error);
}

static void assert_counts(MaStorage *st, gint64 messages, gint64 activities)
{
  GError *error = NULL;
  gint64 m = -1, a = -1, r = -1;
  g_assert_cmpint(storage_counts(st, &m, &a, &r, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(m, ==, messages);
  g_assert_cmpint(a, ==, activities);
}

/* Inside a batch the version moves once per enterprise, at the commit, however many timeline rows
 * the batch added; a batch rolled back moves nothing, and leaves nothing to move at the next one.
 * The row counts (written at the commit too) follow the same way. */
static void test_archive_version_batch(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  insert_linked(fx->st, "e1", "m0", 100, "c0");
  insert_linked(fx->st, "e2", "n0", 100, "c0");
  assert_counts(fx->st, 2, 0);
  gint64 a0 = archive_version(fx->st, "e1"), b0 = archive_version(fx->st, "e2");
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  insert_linked(fx->st, "e1", "m1", 101, "c1");
  MaStoredMessage *m = message("e1", "m2", 102, NULL, NULL);
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c2"));
  insert(fx->st, m);
  add_activity(fx->st, "e1", "a1", "m1", "c1", 1);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(archive_version(fx->st, "e1"), ==, a0 + 1); /* four rows, one move */
  g_assert_cmpint(archive_version(fx->st, "e2"), ==, b0);
  assert_counts(fx->st, 4, 1);
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  insert_linked(fx->st, "e2", "n1", 101, "c1");
  storage_rollback(fx->st);
  g_assert_cmpint(storage_begin_batch(fx->st, &error), ==, 0);
  insert(fx->st, message("e1", "m3", 103, NULL, NULL)); /* no link: no timeline row */
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(archive_version(fx->st, "e2"), ==, b0);
  g_assert_cmpint(archive_version(fx->st, "e1"), ==, a0 + 1);
  assert_counts(fx->st, 5, 1); /* m3 counted, n1 not */
  ASSERT_TIMELINE(fx->st, "c1", "m:m2 a:a1 m:m1");
}

static void test_outbox(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  g_assert_cmpint(storage_outbox_add(fx->st, "e1", "message.archived", "k1", "{\"n\":1}", 100, &error), ==, 1);
  g_assert_cmpint(storage_outbox_add(fx->st, "e1", "message.archived", "k1", "{\"n\":9}", 100, &error), ==, 0);
  g_assert_cmpint(storage_outbox_add(fx->st, "e2", "activity.created", "k2", "{\"n\":2}", 101, &error), ==, 1);
  g_assert_cmpint(storage_outbox_add(fx->st, "e1", "activity.created", "k3", "{\"n\":3}", 102, &error), ==, 1);
  gint64 backlog = 0;
  g_assert_cmpint(storage_outbox_backlog(fx->st, &backlog, &error), ==, 0);
  g_assert_cmpint(backlog, ==, 3);

  /* A lease that does not outlast now claims nothing: a read of what is due. */
  GPtrArray *due = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, 101, 0, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 2); /* k3 not due before 102 */
  MaOutboxEvent *e1 = g_ptr_array_index(due, 0), *e2 = g_ptr_array_index(due, 1);
  g_assert_cmpstr(e1->idempotency_key, ==, "k1");
  g_assert_cmpstr(e1->payload, ==, "{\"n\":1}");
  g_assert_cmpstr(e1->event, ==, "message.archived");
  g_assert_cmpstr(e1->enterprise_id, ==, "e1");
  g_assert_cmpint(e1->seq, <, e2->seq);
  gint64 seq1 = e1->seq, seq2 = e2->seq;
  g_ptr_array_set_size(due, 0);

  /* Claimed until 130: invisible to other claims until then, or until an outcome ends the claim. */
  g_assert_cmpint(storage_outbox_claim(fx->st, 102, 130, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 3);
  g_ptr_array_set_size(due, 0);
  g_assert_cmpint(storage_outbox_claim(fx->st, 110, 140, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 0);

  /* k1 fails: retried at 200, and k3 (e1's next) waits behind it; e2's k2 is delivered. */
  g_assert_cmpint(storage_outbox_failed(fx->st, seq1, 1, 200, "HTTP 503", FALSE, &error), ==, 0);
  g_assert_cmpint(storage_outbox_delivered(fx->st, seq2, 150, &error), ==, 0);
  g_assert_cmpint(storage_outbox_claim(fx->st, 150, 0, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 0); /* k3's lease ran out, but k1 is not due */
  g_assert_cmpint(storage_outbox_claim(fx->st, 200, 0, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 2);
  e1 = g_ptr_array_index(due, 0);
  g_assert_cmpstr(e1->idempotency_key, ==, "k1");
  g_assert_cmpint(e1->attempts, ==, 1);
  g_assert_cmpint(e1->next_attempt_at, ==, 200);
  g_assert_cmpstr(e1->last_error, ==, "HTTP 503");
  g_assert_cmpstr(((MaOutboxEvent *)g_ptr_array_index(due, 1))->idempotency_key, ==, "k3");
  g_ptr_array_set_size(due, 0);
  g_assert_cmpint(storage_outbox_claim(fx->st, 200, 0, 1, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 1); /* limit */
  g_ptr_array_set_size(due, 0);

  /* Given back unattempted: claimable again at once. */
  g_assert_cmpint(storage_outbox_claim(fx->st, 200, 260, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 2);
  gint64 seq3 = ((MaOutboxEvent *)g_ptr_array_index(due, 1))->seq;
  g_ptr_array_set_size(due, 0);
  g_assert_cmpint(storage_outbox_release(fx->st, seq1, &error), ==, 0);
  g_assert_cmpint(storage_outbox_release(fx->st, seq3, &error), ==, 0);
  g_assert_cmpint(storage_outbox_claim(fx->st, 201, 0, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 2);
  g_ptr_array_set_size(due, 0);

  /* Dead: parked, never due again, not in the backlog, and no longer blocking k3. Delivered keys
   * are not re-added. */
  g_assert_cmpint(storage_outbox_failed(fx->st, seq1, 8, 300, "gave up", TRUE, &error), ==, 0);
  g_assert_cmpint(storage_outbox_claim(fx->st, 100000, 0, 10, due, &error), ==, 0);
  g_assert_cmpuint(due->len, ==, 1);
  g_ptr_array_unref(due);
  g_assert_cmpint(storage_outbox_backlog(fx->st, &backlog, &error), ==, 0);
  g_assert_cmpint(backlog, ==, 1);
  g_assert_cmpint(storage_outbox_add(fx->st, "e2", "activity.created", "k2", "{}", 500, &error), ==, 0);
  g_assert_no_error(error);
}

/* Two senders (two handles, two threads) share one outbox: each claims, "delivers" what it got and
 * records it. Every event is delivered exactly once, and each enterprise's events in seq order,
 * whichever sender took them. */
#define SENDER_EVENTS 60

typedef struct {
  MaStorage *st;
  GMutex *lock;
  GArray *log;      /* seq of every delivery, in the order recorded (shared) */
  GHashTable *ents; /* seq -> enterprise (read only) */
} Sender;

static gpointer sender_thread(gpointer p)
{
  Sender *s = p;
  GError *error = NULL;
  for (int idle = 0; idle < 200;) {
    GPtrArray *got = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbox_event_free);
    g_assert_cmpint(storage_outbox_claim(s->st, 1000, 1600, 4, got, &error), ==, 0);
    g_assert_no_error(error);
    for (guint i = 0; i < got->len; i++) {
      MaOutboxEvent *e = got->pdata[i];
      g_mutex_lock(s->lock);
      g_array_append_val(s->log, e->seq);
      g_mutex_unlock(s->lock);
      g_assert_cmpint(storage_outbox_delivered(s->st, e->seq, 1000, &error), ==, 0);
    }
    if (got->len == 0) {
      gint64 backlog = 0;
      g_assert_cmpint(storage_outbox_backlog(s->st, &backlog, &error), ==, 0);
      if (backlog == 0) idle = 200;
      else {
        idle++;
        g_usleep(2000);
      }
    }
    g_ptr_array_unref(got);
  }
  return NULL;
}

static void test_outbox_two_senders(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  GHashTable *ents = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  static const char *const owners[] = {"e1", "e2", NULL};
  for (int i = 0; i < SENDER_EVENTS; i++) {
    g_autofree char *key = g_strdup_printf("k%d", i);
    g_assert_cmpint(storage_outbox_add(fx->st, owners[i % 3], "message.archived", key, "{}", 900, &error), ==, 1);
  }
  GPtrArray *all = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, 1000, 0, 0, all, &error), ==, 0);
  g_assert_cmpuint(all->len, ==, SENDER_EVENTS);
  for (guint i = 0; i < all->len; i++) {
    MaOutboxEvent *e = all->pdata[i];
    g_hash_table_insert(ents, g_memdup2(&e->seq, sizeof e->seq), (gpointer)owners[i % 3]);
  }
  GMutex lock;
  g_mutex_init(&lock);
  GArray *log = g_array_new(FALSE, FALSE, sizeof(gint64));
  Sender a = {fx->st, &lock, log, ents}, b = {open_other(fx, data), &lock, log, ents};
  testutil_run_together(sender_thread, &a, &b);
  storage_close(&b.st);
  /* exactly once each */
  g_assert_cmpuint(log->len, ==, SENDER_EVENTS);
  GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
  for (guint i = 0; i < log->len; i++) g_assert_true(g_hash_table_add(seen, &g_array_index(log, gint64, i)));
  /* per enterprise in seq order */
  for (int k = 0; k < 3; k++) {
    gint64 last = 0;
    for (guint i = 0; i < log->len; i++) {
      gint64 seq = g_array_index(log, gint64, i);
      if (g_hash_table_lookup(ents, &seq) != owners[k]) continue;
      g_assert_cmpint(seq, >, last);
      last = seq;
    }
  }
  g_hash_table_unref(seen);
  g_array_unref(log);
  g_mutex_clear(&lock);
  g_ptr_array_unref(all);
  g_hash_table_unref(ents);
}

/* A sender that dies keeps its claims only until the lease ends; then another takes them. */
static void test_outbox_lease_expiry(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  MaStorage *other = open_other(fx, data);
  g_assert_cmpint(storage_outbox_add(fx->st, "e1", "message.archived", "k1", "{}", 100, &error), ==, 1);
  GPtrArray *got = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, 100, 160, 10, got, &error), ==, 0);
  g_assert_cmpuint(got->len, ==, 1);
  gint64 seq = ((MaOutboxEvent *)got->pdata[0])->seq;
  g_ptr_array_set_size(got, 0);
  storage_close(&fx->st); /* the first sender dies holding the claim */
  g_assert_cmpint(storage_outbox_claim(other, 159, 200, 10, got, &error), ==, 0);
  g_assert_cmpuint(got->len, ==, 0);
  g_assert_cmpint(storage_outbox_claim(other, 160, 220, 10, got, &error), ==, 0);
  g_assert_cmpuint(got->len, ==, 1);
  g_assert_cmpint(((MaOutboxEvent *)got->pdata[0])->seq, ==, seq);
  g_assert_cmpint(storage_outbox_delivered(other, seq, 161, &error), ==, 0);
  g_ptr_array_set_size(got, 0);
  g_assert_cmpint(storage_outbox_claim(other, 10000, 0, 10, got, &error), ==, 0);
  g_assert_cmpuint(got->len, ==, 0);
  g_ptr_array_unref(got);
  g_assert_no_error(error);
  fx->st = other;
}

/* ---- the same message on two nodes at once ---------------------------------------------------- */

#define RACE_MESSAGES 25

typedef struct {
  MaStorage *st;
  const char *node;
  int retries;
} Archiver;

/* What the pipeline does for one message, in one batch: find it as a duplicate, else insert it;
 * then provenance, the activity of its record and the archived event. A conflict (the other node
 * stored it first) or a temporary failure voids the batch, which is tried again. */
static int archive_once(Archiver *a, int i, GError **error)
{
  g_autofree char *msgid = g_strdup_printf("<race-%d@example.com>", i);
  g_autofree char *mine = g_strdup_printf("%s-m%d", a->node, i);
  g_autofree char *spool = g_strdup_printf("%s-spool-%d", a->node, i);
  g_autofree char *act = g_strdup_printf("%s-act%d", a->node, i);
  if (storage_begin_batch(a->st, error) < 0) return -1;
  char *existing = NULL;
  int rc = storage_message_find_duplicate(a->st, "e1", msgid, NULL, &existing, error);
  const char *id = existing ? existing : mine;
  if (rc == 0) {
    MaStoredMessage *m = message("e1", mine, 1000 + i, msgid, NULL);
    g_free(m->dedup_key);
    m->dedup_key = g_strdup_printf("dk-race-%d", i);
    g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
    rc = storage_message_insert(a->st, m, error);
    ma_stored_message_free(m);
  }
  MaProvenance *p = ma_provenance_new("forward");
  p->spool_id = g_strdup(spool);
  p->received_at = 1000 + i;
  if (rc >= 0) rc = storage_provenance_add(a->st, "e1", id, p, error);
  ma_provenance_free(p);
  MaActivity ac = {.id = act, .enterprise_id = "e1", .message_id = (char *)id,
                   .record = {MA_RECORD_CONTACT, "c1", NULL}, .activity_type = "email", .created_at = 1};
  if (rc >= 0) rc = storage_activity_create(a->st, &ac, error);
  g_autofree char *key = g_strconcat("message.archived:", id, NULL);
  if (rc >= 0) rc = storage_outbox_add(a->st, "e1", "message.archived", key, "{}", 1000, error);
  if (rc >= 0) rc = storage_commit(a->st, error);
  if (rc < 0) storage_rollback(a->st);
  g_free(existing);
  return rc < 0 ? -1 : 0;
}

static gpointer archiver_thread(gpointer p)
{
  Archiver *a = p;
  for (int i = 0; i < RACE_MESSAGES; i++) {
    GError *error = NULL;
    while (archive_once(a, i, &error) < 0) {
      g_assert_true(error->code == MA_ERROR_CONFLICT || error->code == MA_ERROR_TEMPFAIL);
      g_clear_error(&error);
      a->retries++;
      g_assert_cmpint(a->retries, <, 1000);
    }
  }
  return NULL;
}

static void test_message_race(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  Archiver a = {fx->st, "a", 0}, b = {open_other(fx, data), "b", 0};
  testutil_run_together(archiver_thread, &a, &b);
  storage_close(&b.st);
  g_test_message("conflicts and retries: node a %d, node b %d", a.retries, b.retries);
  for (int i = 0; i < RACE_MESSAGES; i++) {
    g_autofree char *msgid = g_strdup_printf("<race-%d@example.com>", i);
    g_autofree char *id = NULL;
    g_assert_cmpint(storage_message_find_duplicate(fx->st, "e1", msgid, NULL, &id, &error), ==, 1);
    GPtrArray *list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_provenance_free);
    g_assert_cmpint(storage_provenance_list(fx->st, "e1", id, list, &error), ==, 0);
    g_assert_cmpuint(list->len, ==, 2); /* one per node */
    g_ptr_array_unref(list);
    list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_activity_free);
    g_assert_cmpint(storage_message_activities(fx->st, "e1", id, list, &error), ==, 0);
    g_assert_cmpuint(list->len, ==, 1);
    g_ptr_array_unref(list);
  }
  gint64 messages = 0, activities = 0, records = 0, backlog = 0;
  g_assert_cmpint(storage_counts(fx->st, &messages, &activities, &records, &error), ==, 0);
  g_assert_cmpint(messages, ==, RACE_MESSAGES);
  g_assert_cmpint(activities, ==, RACE_MESSAGES);
  g_assert_cmpint(storage_outbox_backlog(fx->st, &backlog, &error), ==, 0);
  g_assert_cmpint(backlog, ==, RACE_MESSAGES); /* one archived event each */
  char *s = joined(timeline_all(fx->st, "e1", NULL, 500));
  g_assert_cmpuint(strlen(s) > 0, ==, TRUE);
  g_free(s);
  g_assert_no_error(error);
}

/* ---- deleting an enterprise ------------------------------------------------------------------ */

/* Everything of the enterprise goes (its messages and parts, activities, timeline, outbox events,
 * the blobs only it referenced); another enterprise's mail and a blob both referenced stay. */
static void test_enterprise_delete(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  char own[65], shared[65], raw[65];
  g_assert_cmpint(storage_blob_put(fx->st, "only e1's", 9, own, &error), ==, 0);
  g_assert_cmpint(storage_blob_put(fx->st, "both", 4, shared, &error), ==, 0);
  g_assert_cmpint(storage_blob_put(fx->st, "raw of m1", 9, raw, &error), ==, 0);
  MaStoredMessage *m = message("e1", "m1", 100, "<m1@x>", "t1");
  m->raw_sha256 = g_strdup(raw);
  g_ptr_array_add(m->attachments, attachment("a.pdf", own, FALSE));
  g_ptr_array_add(m->attachments, attachment("b.pdf", shared, FALSE));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "c1"));
  insert(fx->st, m);
  add_activity(fx->st, "e1", "act1", "m1", "c1", 1);
  m = message("e2", "m2", 100, "<m1@x>", "t2");
  g_ptr_array_add(m->attachments, attachment("b.pdf", shared, FALSE));
  insert(fx->st, m);
  g_assert_cmpint(storage_outbox_add(fx->st, "e1", "message.archived", "k1", "{}", 100, &error), ==, 1);
  g_assert_cmpint(storage_outbox_add(fx->st, "e2", "message.archived", "k2", "{}", 100, &error), ==, 1);

  g_assert_cmpint(storage_enterprise_delete(fx->st, "e1", &error), ==, 1);
  g_assert_no_error(error);
  MaStoredMessage *got = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "m1", &got, &error), ==, 0);
  MaActivity *act = NULL;
  g_assert_cmpint(storage_activity_get(fx->st, "e1", "act1", &act, &error), ==, 0);
  GBytes *b = NULL;
  g_assert_cmpint(storage_blob_get(fx->st, own, &b, &error), ==, 0);
  g_assert_cmpint(storage_blob_get(fx->st, raw, &b, &error), ==, 0);
  g_assert_cmpint(storage_blob_get(fx->st, shared, &b, &error), ==, 1);
  g_bytes_unref(b);
  char *s = joined(timeline_all(fx->st, "e1", NULL, 10));
  g_assert_cmpstr(s, ==, "");
  g_free(s);
  GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)ma_outbox_event_free);
  g_assert_cmpint(storage_outbox_claim(fx->st, 1000, 0, 10, events, &error), ==, 0);
  g_assert_cmpuint(events->len, ==, 1);
  g_assert_cmpstr(((MaOutboxEvent *)events->pdata[0])->enterprise_id, ==, "e2");
  g_ptr_array_unref(events);
  gint64 messages = 0, activities = 0, records = 0;
  g_assert_cmpint(storage_counts(fx->st, &messages, &activities, &records, &error), ==, 0);
  g_assert_cmpint(messages, ==, 1);
  g_assert_cmpint(activities, ==, 0);
  g_assert_cmpint(storage_message_get(fx->st, "e2", "m2", &got, &error), ==, 1);
  g_assert_cmpuint(got->attachments->len, ==, 1);
  ma_stored_message_free(got);
  g_assert_cmpint(storage_enterprise_delete(fx->st, "e1", &error), ==, 0);
  g_assert_no_error(error);
}

/* ---- fault injection ------------------------------------------------------------------------ */

static void test_fault_message(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  storage_fault_inject_commit_failures(fx->st, 1);
  /* A whole pipeline step in one transaction: blob, message with links, activity, outbox event. */
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  char sha[65];
  g_assert_cmpint(storage_blob_put(fx->st, "raw", 3, sha, &error), ==, 0);
  insert_linked(fx->st, "e1", "m1", 100, "c1");
  add_activity(fx->st, "e1", "act1", "m1", "c1", 1);
  g_assert_cmpint(storage_outbox_add(fx->st, "e1", "message.archived", "k1", "{}", 100, &error), ==, 1);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);

  MaStoredMessage *m = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "m1", &m, &error), ==, 0);
  MaActivity *a = NULL;
  g_assert_cmpint(storage_activity_get(fx->st, "e1", "act1", &a, &error), ==, 0);
  GBytes *b = NULL;
  g_assert_cmpint(storage_blob_get(fx->st, sha, &b, &error), ==, 0);
  gint64 backlog = -1;
  g_assert_cmpint(storage_outbox_backlog(fx->st, &backlog, &error), ==, 0);
  g_assert_cmpint(backlog, ==, 0);
  char *s = joined(timeline_all(fx->st, "e1", NULL, 10));
  g_assert_cmpstr(s, ==, "");
  g_free(s);

  /* The replay succeeds and is complete. */
  g_assert_cmpint(storage_begin(fx->st, &error), ==, 0);
  insert_linked(fx->st, "e1", "m1", 100, "c1");
  add_activity(fx->st, "e1", "act1", "m1", "c1", 1);
  g_assert_cmpint(storage_commit(fx->st, &error), ==, 0);
  s = joined(timeline_all(fx->st, "e1", NULL, 10));
  g_assert_cmpstr(s, ==, "a:act1,m:m1");
  g_free(s);
}

static void test_message_isolation(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  insert_linked(fx->st, "e1", "m1", 100, "c1");
  MaStoredMessage *m = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e2", "m1", &m, &error), ==, 0);
  g_assert_null(m);
  GPtrArray *links = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_ref_free);
  g_assert_cmpint(storage_message_links(fx->st, "e2", "m1", links, &error), ==, 0);
  g_assert_cmpuint(links->len, ==, 0);
  MaRecordRef ref = {MA_RECORD_CONTACT, "c9", NULL};
  g_assert_cmpint(storage_link_add(fx->st, "e2", "m1", &ref, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_cmpint(storage_message_links(fx->st, "e1", "m1", links, &error), ==, 0);
  g_assert_cmpuint(links->len, ==, 1);
  g_ptr_array_unref(links);
  GPtrArray *ids = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_message_ids_archived_since(fx->st, "e2", 0, NULL, 10, ids, &error), ==, 0);
  g_assert_cmpuint(ids->len, ==, 0);
  g_ptr_array_unref(ids);

  /* Both tenants have a record with the CRM id c1: each timeline shows only its own mail. */
  insert_linked(fx->st, "e2", "m2", 200, "c1");
  add_activity(fx->st, "e2", "act2", "m2", "c1", 1);
  char *s = joined(timeline_all(fx->st, "e1", NULL, 10));
  g_assert_cmpstr(s, ==, "m:m1");
  g_free(s);
  s = joined(timeline_all(fx->st, "e2", NULL, 10));
  g_assert_cmpstr(s, ==, "a:act2,m:m2");
  g_free(s);
  /* Thread look-ups by Message-ID stay inside the tenant as well. */
  MaStoredMessage *a = message("e1", "m3", 300, "shared@x", "t-e1");
  MaStoredMessage *b = message("e2", "m4", 300, "shared@x", "t-e2");
  insert(fx->st, a);
  insert(fx->st, b);
  const char *refs[] = {"shared@x"};
  char *tid = NULL;
  g_assert_cmpint(storage_thread_find_by_message_ids(fx->st, "e2", refs, 1, &tid, &error), ==, 1);
  g_assert_cmpstr(tid, ==, "t-e2");
  g_free(tid);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fx_setup, fn, fx_teardown)
  ADD("/storage/message/roundtrip", test_message_roundtrip);
  ADD("/storage/message/bodies", test_message_bodies);
  ADD("/storage/message/dedup", test_message_dedup);
  ADD("/storage/message/provenance", test_provenance);
  ADD("/storage/message/archive", test_message_archive);
  ADD("/storage/message/archived-since", test_archived_since);
  ADD("/storage/message/tenant-isolation", test_message_isolation);
  ADD("/storage/threads", test_threads);
  ADD("/storage/threads/long", test_thread_long);
  ADD("/storage/activities", test_activities);
  ADD("/storage/timeline/order", test_timeline_order);
  ADD("/storage/timeline/each", test_timeline_each);
  ADD("/storage/timeline/filters", test_timeline_filters);
  ADD("/storage/timeline/cursor", test_timeline_cursor);
  ADD("/storage/timeline/cursor-garbage", test_timeline_cursor_garbage);
  g_test_add_func("/storage/timeline/cursor-encode", test_cursor_encode);
  ADD("/storage/timeline/speed", test_timeline_speed);
  ADD("/storage/timeline/archive-version", test_archive_version);
  ADD("/storage/timeline/archive-version-batch", test_archive_version_batch);
  ADD("/storage/timeline/exact", test_timeline_exact);
  ADD("/storage/timeline/insert-item", test_timeline_insert_item);
  ADD("/storage/outbox", test_outbox);
  ADD("/storage/outbox/two-senders", test_outbox_two_senders);
  ADD("/storage/outbox/lease-expiry", test_outbox_lease_expiry);
  ADD("/storage/message/race", test_message_race);
  ADD("/storage/enterprise/delete", test_enterprise_delete);
  ADD("/storage/fault/message", test_fault_message);
  /* PostgreSQL: the same tests, against the database MAILAGENT_TEST_PG names */
#define ADD_PG(path, fn) g_test_add("/storage/postgresql" path, Fixture, ON_PG, fx_setup, fn, fx_teardown)
  if (g_getenv("MAILAGENT_TEST_PG")) {
    ADD_PG("/message/roundtrip", test_message_roundtrip);
    ADD_PG("/message/bodies", test_message_bodies);
    ADD_PG("/message/dedup", test_message_dedup);
    ADD_PG("/message/provenance", test_provenance);
    ADD_PG("/message/archive", test_message_archive);
    ADD_PG("/message/archived-since", test_archived_since);
    ADD_PG("/message/tenant-isolation", test_message_isolation);
    ADD_PG("/threads", test_threads);
    ADD_PG("/threads/long", test_thread_long);
    ADD_PG("/activities", test_activities);
    ADD_PG("/timeline/order", test_timeline_order);
    ADD_PG("/timeline/filters", test_timeline_filters);
    ADD_PG("/timeline/cursor", test_timeline_cursor);
    ADD_PG("/timeline/cursor-garbage", test_timeline_cursor_garbage);
    ADD_PG("/timeline/speed", test_timeline_speed);
    ADD_PG("/timeline/archive-version", test_archive_version);
    ADD_PG("/timeline/archive-version-batch", test_archive_version_batch);
    ADD_PG("/timeline/exact", test_timeline_exact);
    ADD_PG("/timeline/insert-item", test_timeline_insert_item);
    ADD_PG("/outbox", test_outbox);
    ADD_PG("/outbox/two-senders", test_outbox_two_senders);
    ADD_PG("/outbox/lease-expiry", test_outbox_lease_expiry);
    ADD_PG("/message/race", test_message_race);
    ADD_PG("/enterprise/delete", test_enterprise_delete);
    ADD_PG("/fault/message", test_fault_message);
  }
  return g_test_run();
}
