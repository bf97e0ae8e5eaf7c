/* test_storage_blob_race.c - a blob stored on one node while retention erases, on another, the
 * last message that referenced it (issue 18): blobs are shared by digest, so a put that finds the
 * blob stored and an erasure that finds it referenced by nothing must not both go on, or the new
 * message's reference dangles. Two handles (two nodes), the erasure in a thread, both orders:
 *   - put first: the put's transaction has found the blob and not yet inserted its reference when
 *     the erasure comes; the erasure must wait and keep the blob;
 *   - erasure first: the erasure has deleted the blob and not yet committed when the put comes;
 *     the put must wait and store the blob anew.
 * Then the new message's blob is there whole and the erased message is gone. On PostgreSQL the
 * test sees the waiting side wait (pg_stat_activity: a backend waiting for a lock) before it lets
 * the other go on, so the interleaving is the one named; SQLite takes one writer at a time, so there
 * the other side only gets a moment to start. Runs on both backends (testutil_storage.h).
 */
#include "storage/storage.h"
#include "storage/storage_search.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <libpq-fe.h>
#include <string.h>

#define OLD_AT 1000      /* the erased message's archive time */
#define CUTOFF 2000      /* retention erases what was archived before this */
#define NEW_AT 3000      /* the new message's */

static const char raw[] = "From: Hank <hank@globex.com>\r\nSubject: The same bytes twice\r\n\r\nShared by digest.\r\n";

typedef struct {
  char *dir;
  gconstpointer backend;
  MaStorage *node_a; /* stores the new message */
  MaStorage *node_b; /* runs retention */
  char sha256[65];
} Fixture;

static MaStoredMessage *message_with_raw(const char *id, gint64 at, const char *sha256)
{
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup("e1");
  m->dedup_key = g_strdup_printf("dk-%s", id);
  m->subject = g_strdup("The same bytes twice");
  m->date = at;
  m->archived_at = at;
  m->text = g_strdup("");
  m->raw_sha256 = g_strdup(sha256);
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "Hank", "hank@globex.com"));
  return m;
}

static void fx_setup(Fixture *fx, gconstpointer data)
{
  GError *error = NULL;
  fx->dir = testutil_tempdir("ma-blob-race-XXXXXX");
  fx->backend = data;
  fx->node_a = testutil_storage_open(fx->dir, data);
  fx->node_b = testutil_storage_open_again(fx->dir, data);
  MaEnterprise e = {.id = "e1", .slug = "e1", .name = "e1", .created_at = 1};
  g_assert_cmpint(storage_enterprise_create(fx->node_a, &e, &error), ==, 0);
  /* the old message and its raw blob, which retention will erase */
  g_assert_cmpint(storage_begin_batch(fx->node_a, &error), ==, 0);
  g_assert_cmpint(storage_blob_put(fx->node_a, raw, strlen(raw), fx->sha256, &error), ==, 0);
  MaStoredMessage *m = message_with_raw("old", OLD_AT, fx->sha256);
  g_assert_cmpint(storage_message_insert(fx->node_a, m, &error), ==, 0);
  ma_stored_message_free(m);
  g_assert_cmpint(storage_commit(fx->node_a, &error), ==, 0);
  g_assert_no_error(error);
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  (void)data;
  storage_close(&fx->node_a);
  storage_close(&fx->node_b);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

/* Waits until another connection of the test database waits for a lock (PostgreSQL): TRUE when
 * one did within a generous bound. On SQLite, gives the other thread a moment and says TRUE. */
static gboolean other_side_waits(Fixture *fx)
{
  if (fx->backend != TESTUTIL_ON_PG) {
    g_usleep(200 * 1000);
    return TRUE;
  }
  PGconn *c = PQconnectdb(g_getenv("MAILAGENT_TEST_PG"));
  g_assert_cmpint(PQstatus(c), ==, CONNECTION_OK);
  gboolean waiting = FALSE;
  for (int i = 0; i < 1000 && !waiting; i++) {
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()");
    g_assert_cmpint(PQresultStatus(r), ==, PGRES_TUPLES_OK);
    waiting = atoi(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
    if (!waiting) g_usleep(10 * 1000);
  }
  PQfinish(c);
  return waiting;
}

/* Node a's new message in its own batch: the put, then the reference, then the commit. */
static void store_new_message(Fixture *fx)
{
  GError *error = NULL;
  char sha[65];
  g_assert_cmpint(storage_begin_batch(fx->node_a, &error), ==, 0);
  g_assert_cmpint(storage_blob_put(fx->node_a, raw, strlen(raw), sha, &error), ==, 0);
  g_assert_cmpstr(sha, ==, fx->sha256);
  MaStoredMessage *m = message_with_raw("new", NEW_AT, sha);
  g_assert_cmpint(storage_message_insert(fx->node_a, m, &error), ==, 0);
  ma_stored_message_free(m);
  g_assert_cmpint(storage_commit(fx->node_a, &error), ==, 0);
  g_assert_no_error(error);
}

static gpointer retention_thread(gpointer data)
{
  Fixture *fx = data;
  GError *error = NULL;
  MaEraseCounts counts = {0};
  int n = storage_expire_before(fx->node_b, "e1", CUTOFF, 100, &counts, &error);
  g_assert_no_error(error);
  g_assert_cmpint(n, ==, 1);
  return NULL;
}

static gpointer new_message_thread(gpointer data)
{
  store_new_message(data);
  return NULL;
}

/* The end state of both orders: the old message erased, the new one stored with its whole blob. */
static void assert_no_dangling(Fixture *fx)
{
  GError *error = NULL;
  MaStoredMessage *old = NULL, *new = NULL;
  g_assert_cmpint(storage_message_get(fx->node_a, "e1", "old", &old, &error), ==, 0);
  g_assert_null(old);
  g_assert_cmpint(storage_message_get(fx->node_a, "e1", "new", &new, &error), ==, 1);
  g_assert_cmpstr(new->raw_sha256, ==, fx->sha256);
  ma_stored_message_free(new);
  GBytes *blob = NULL;
  g_assert_cmpint(storage_blob_get(fx->node_a, fx->sha256, &blob, &error), ==, 1); /* not dangling */
  g_assert_no_error(error);
  gsize len = 0;
  const char *bytes = g_bytes_get_data(blob, &len);
  g_assert_cmpmem(bytes, len, raw, strlen(raw)); /* and whole */
  g_bytes_unref(blob);
}

/* Node a has found the blob stored and not yet inserted its reference; retention on node b erases
 * the old message meanwhile: it must wait for node a's commit, then see the new reference. */
static void test_put_then_erase(Fixture *fx, gconstpointer data)
{
  (void)data;
  GError *error = NULL;
  char sha[65];
  g_assert_cmpint(storage_begin_batch(fx->node_a, &error), ==, 0);
  g_assert_cmpint(storage_blob_put(fx->node_a, raw, strlen(raw), sha, &error), ==, 0);
  GThread *retention = g_thread_new("retention", retention_thread, fx);
  g_assert_true(other_side_waits(fx)); /* retention waits for the put's transaction */
  MaStoredMessage *m = message_with_raw("new", NEW_AT, sha);
  g_assert_cmpint(storage_message_insert(fx->node_a, m, &error), ==, 0);
  ma_stored_message_free(m);
  g_assert_cmpint(storage_commit(fx->node_a, &error), ==, 0);
  g_assert_no_error(error);
  g_thread_join(retention);
  assert_no_dangling(fx);
}

/* Retention on node b has deleted the old message and its blob, not yet committed; node a stores
 * the same bytes meanwhile: its put must wait, then store the blob anew. */
static void test_erase_then_put(Fixture *fx, gconstpointer data)
{
  (void)data;
  GError *error = NULL;
  MaEraseCounts counts = {0};
  g_assert_cmpint(storage_begin_batch(fx->node_b, &error), ==, 0);
  g_assert_cmpint(storage_expire_before(fx->node_b, "e1", CUTOFF, 100, &counts, &error), ==, 1);
  g_assert_cmpint(counts.blobs, ==, 1); /* the blob is gone in node b's transaction */
  GThread *writer = g_thread_new("new-message", new_message_thread, fx);
  g_assert_true(other_side_waits(fx)); /* the put waits for the erasure's transaction */
  g_assert_cmpint(storage_commit(fx->node_b, &error), ==, 0);
  g_assert_no_error(error);
  g_thread_join(writer);
  assert_no_dangling(fx);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  testutil_storage_add("/storage/blob-race/put-then-erase", "/storage/postgresql/blob-race/put-then-erase", Fixture,
                       fx_setup, test_put_then_erase, fx_teardown);
  testutil_storage_add("/storage/blob-race/erase-then-put", "/storage/postgresql/blob-race/erase-then-put", Fixture,
                       fx_setup, test_erase_then_put, fx_teardown);
  return g_test_run();
}
