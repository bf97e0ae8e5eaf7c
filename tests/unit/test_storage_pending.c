/* test_storage_pending.c - the pending store of storage (issue 16): holding is idempotent by raw
 * digest, candidates are found by address without +tag and by account domain (never by another
 * enterprise's records), list and delete are scoped to one enterprise, purge goes by expiry, and a
 * held message's blob is deleted with it unless an archived message still uses the same digest.
 * Also a deleted record's unlinking and a message leaving the archive for the store.
 *
 * One parameter, the backend: SQLite under /storage/pending/..., PostgreSQL under
 * /storage/postgresql/pending/... against MAILAGENT_TEST_PG (integration/storage_pg).
 */
#include "agent/lib/crypto.h"
#include "storage/storage.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

typedef struct {
  char *dir;
  MaStorage *st;
} Fx;

static void fx_setup(Fx *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  fx->dir = testutil_tempdir("ma-pending-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
  for (int i = 1; i <= 2; i++) {
    g_autofree char *id = g_strdup_printf("e%d", i);
    MaEnterprise e = {.id = id, .slug = id, .name = id, .created_at = 1};
    g_assert_cmpint(storage_enterprise_create(fx->st, &e, &error), ==, 0);
  }
}

static void fx_teardown(Fx *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static char *hold(MaStorage *st, const char *ent, const char *raw, gint64 expires, const char *const *addresses)
{
  g_autoptr(GError) error = NULL;
  char digest[65];
  g_assert_cmpint(storage_blob_put(st, raw, strlen(raw), digest, &error), ==, 0);
  MaPending *p = ma_pending_new();
  p->id = g_strdup_printf("p-%s-%s", ent, raw);
  p->enterprise_id = g_strdup(ent);
  p->raw_sha256 = g_strdup(digest);
  p->received_at = 100;
  p->expires_at = expires;
  p->reason = g_strdup("no_matching_record");
  for (int i = 0; addresses[i]; i++) g_ptr_array_add(p->addresses, g_strdup(addresses[i]));
  g_assert_cmpint(storage_pending_add(st, p, &error), ==, 1);
  g_assert_cmpint(storage_pending_add(st, p, &error), ==, 0); /* the same raw message: held once */
  char *id = g_strdup(p->id);
  ma_pending_free(p);
  return id;
}

static guint candidates(MaStorage *st, const char *ent)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_pending_candidates(st, ent, 0, ids, &error), ==, 0);
  return ids->len;
}

static gboolean blob_exists(MaStorage *st, const char *raw)
{
  g_autoptr(GError) error = NULL;
  char digest[65];
  ma_sha256_hex(raw, strlen(raw), digest);
  g_autoptr(GBytes) b = NULL;
  return storage_blob_get(st, digest, &b, &error) == 1;
}

static void test_candidates_and_scope(Fx *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  static const char *const carol[] = {"carol+news@customer.example", NULL};
  static const char *const dan[] = {"dan@customer2.example", NULL};
  g_autofree char *p1 = hold(fx->st, "e1", "raw one", 1000, carol);
  g_autofree char *p2 = hold(fx->st, "e1", "raw two", 2000, dan);
  g_assert_cmpuint(candidates(fx->st, "e1"), ==, 0);
  /* a contact of e2 with Carol's address matches nothing of e1's */
  MaRecord *c = ma_record_new(MA_RECORD_CONTACT, "C17");
  g_ptr_array_add(c->emails, g_strdup("carol@customer.example"));
  g_assert_cmpint(storage_record_upsert(fx->st, "e2", c, &error), ==, 0);
  g_assert_cmpuint(candidates(fx->st, "e1"), ==, 0);
  g_assert_cmpint(storage_record_upsert(fx->st, "e1", c, &error), ==, 0);
  g_assert_cmpuint(candidates(fx->st, "e1"), ==, 1); /* by address, the +tag aside */
  MaRecord *a = ma_record_new(MA_RECORD_ACCOUNT, "A3");
  g_ptr_array_add(a->domains, g_strdup("customer2.example"));
  g_assert_cmpint(storage_record_upsert(fx->st, "e1", a, &error), ==, 0);
  g_assert_cmpuint(candidates(fx->st, "e1"), ==, 2); /* by domain */
  ma_record_free(c);
  ma_record_free(a);

  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_pending_free);
  g_assert_cmpint(storage_pending_list(fx->st, "e2", NULL, 0, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 0);
  g_assert_cmpint(storage_pending_list(fx->st, "e1", p1, 0, list, &error), ==, 0);
  g_assert_cmpuint(list->len, ==, 1);
  const MaPending *got = list->pdata[0];
  g_assert_cmpstr(got->reason, ==, "no_matching_record");
  g_assert_cmpstr(got->addresses->pdata[0], ==, "carol+news@customer.example");
  g_assert_cmpint(storage_pending_delete(fx->st, "e2", p1, &error), ==, 0); /* not e2's */
  g_assert_cmpint(storage_pending_delete(fx->st, "e1", p1, &error), ==, 1);
  g_assert_false(blob_exists(fx->st, "raw one"));
  g_assert_true(blob_exists(fx->st, "raw two"));
}

static void test_purge_and_shared_blobs(Fx *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  static const char *const who[] = {"x@y.example", NULL};
  g_autofree char *p1 = hold(fx->st, "e1", "shared raw", 1000, who);
  g_autofree char *p2 = hold(fx->st, "e2", "later raw", 5000, who);
  /* an archived message of e1 uses the same raw digest */
  char digest[65];
  ma_sha256_hex("shared raw", strlen("shared raw"), digest);
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup("m1");
  m->enterprise_id = g_strdup("e1");
  m->dedup_key = g_strdup("m1");
  m->subject = g_strdup("");
  m->raw_sha256 = g_strdup(digest);
  m->text = g_strdup("");
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, NULL, "x@y.example"));
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, "C1"));
  g_assert_cmpint(storage_message_insert(fx->st, m, &error), ==, 0);
  ma_stored_message_free(m);
  gint64 purged = 0;
  g_assert_cmpint(storage_pending_purge(fx->st, 999, &purged, &error), ==, 0);
  g_assert_cmpint(purged, ==, 0);
  g_assert_cmpint(storage_pending_purge(fx->st, 1000, &purged, &error), ==, 0);
  g_assert_cmpint(purged, ==, 1);
  g_assert_true(blob_exists(fx->st, "shared raw")); /* the archived message still uses it */
  g_assert_true(blob_exists(fx->st, "later raw"));

  /* the record goes: the message is linked to nothing and leaves the archive, held again */
  MaRecordRef ref = {MA_RECORD_CONTACT, "C1", NULL};
  g_autoptr(GPtrArray) orphans = g_ptr_array_new_with_free_func(g_free);
  g_assert_cmpint(storage_record_unlink(fx->st, "e2", &ref, orphans, &error), ==, 0); /* not e2's */
  g_assert_cmpint(storage_record_unlink(fx->st, "e1", &ref, orphans, &error), ==, 1);
  g_assert_cmpuint(orphans->len, ==, 1);
  MaPending *again = ma_pending_new();
  again->id = g_strdup("p-again");
  again->enterprise_id = g_strdup("e1");
  again->raw_sha256 = g_strdup(digest);
  again->expires_at = 10000;
  again->reason = g_strdup("record_deleted");
  g_assert_cmpint(storage_message_unarchive(fx->st, "e1", "m1", again, &error), ==, 1);
  ma_pending_free(again);
  MaStoredMessage *gone = NULL;
  g_assert_cmpint(storage_message_get(fx->st, "e1", "m1", &gone, &error), ==, 0);
  g_assert_true(blob_exists(fx->st, "shared raw")); /* now the held copy's */
  g_assert_cmpint(storage_pending_purge(fx->st, 10000, &purged, &error), ==, 0);
  g_assert_cmpint(purged, ==, 2);
  g_assert_false(blob_exists(fx->st, "shared raw"));
  g_assert_false(blob_exists(fx->st, "later raw"));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  testutil_storage_add("/storage/pending/candidates_and_scope", "/storage/postgresql/pending/candidates_and_scope", Fx,
                       fx_setup, test_candidates_and_scope, fx_teardown);
  testutil_storage_add("/storage/pending/purge_and_shared_blobs", "/storage/postgresql/pending/purge_and_shared_blobs", Fx,
                       fx_setup, test_purge_and_shared_blobs, fx_teardown);
  return g_test_run();
}
