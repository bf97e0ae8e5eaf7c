/* test_pipeline_rematch.c - late re-matching costs the mail that matches the change, not the
 * archive (issue 16), on both backends (testutil_storage.h: integration/storage_pg runs the
 * /pipeline/rematch/postgresql case). Two archives hold the same three messages from
 * carol@customer.example and from a customer2.example address, beside a small and a big number of
 * messages of other senders (1,000 and 100,000 on SQLite; 1,000 and 20,000 on PostgreSQL, whose
 * inserts cost a round trip each); importing Carol's contact and an account for customer2.example
 * re-matches both archives (on PostgreSQL after ANALYZE, as autovacuum leaves a table that grew:
 * unanalyzed, the planner may scan the archive by date instead of probing a participant index).
 * The work is counted by storage_work_counters (SQLite's own step
 * counters of every statement run; PostgreSQL's table statistics), not timed: the big archive may
 * cost no more than the small one plus a small margin for deeper index b-trees. No statement may
 * scan a whole table: on SQLite none does; on PostgreSQL, whose planner rightly scans the tiny
 * tables (settings, rules, records) whole, the rows read by whole-table scans may not grow with the
 * archive. Also checks what re-matching did: the messages linked with their reasons and one
 * activity each, nothing else touched.
 */
#include "agent/pipeline/pending.h"
#include "agent/tenant/settings.h"

#include "testutil.h"
#include "testutil_storage.h"

#include <string.h>

#define SMALL 1000
#define BIG_SQLITE 100000
#define BIG_PG 20000

static void insert_mail(MaStorage *st, const char *id, const char *from, gint64 at)
{
  g_autoptr(GError) error = NULL;
  MaStoredMessage *m = ma_stored_message_new();
  m->id = g_strdup(id);
  m->enterprise_id = g_strdup("e1");
  m->dedup_key = g_strdup(id);
  m->subject = g_strdup("Order");
  m->date = at;
  m->archived_at = at;
  m->text = g_strdup("");
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, NULL, from));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, NULL, "homer@acme.example"));
  g_assert_cmpint(storage_message_insert(st, m, &error), ==, 0);
  ma_stored_message_free(m);
}

/* An archive of `others` unrelated messages plus the five that will match, on the backend data
 * selects (testutil_storage_open: a fresh one); returns its storage. */
static MaStorage *archive_of(const char *dir, gconstpointer data, guint others)
{
  g_autoptr(GError) error = NULL;
  MaStorage *st = testutil_storage_open(dir, data);
  MaEnterprise e = {.id = "e1", .slug = "acme", .name = "Acme", .created_at = 1};
  e.domains = g_ptr_array_new();
  g_ptr_array_add(e.domains, "acme.example");
  g_assert_cmpint(storage_enterprise_create(st, &e, &error), ==, 0);
  g_ptr_array_unref(e.domains);
  g_assert_cmpint(settings_set(st, "e1", "archive_unmatched", "on", &error), ==, 0);
  g_assert_cmpint(storage_rules_put(st, "e1", "[{\"id\":\"r1\",\"name\":\"All\",\"object_types\":[\"contact\",\"account\"],"
                                    "\"action\":{\"activity_type\":\"email\"}}]", &error), ==, 0);
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  g_assert_cmpint(storage_begin_batch(st, &error), ==, 0);
  for (guint i = 0; i < others; i++) {
    char id[32], from[64];
    g_snprintf(id, sizeof id, "m%06u", i);
    g_snprintf(from, sizeof from, "user%u@sender%u.example", i, i % 5000);
    insert_mail(st, id, from, now - 3600 - i % 86400);
    if (i % 20000 == 19999) {
      g_assert_cmpint(storage_commit(st, &error), ==, 0);
      g_assert_cmpint(storage_begin_batch(st, &error), ==, 0);
    }
  }
  insert_mail(st, "carol-1", "carol@customer.example", now - 600);
  insert_mail(st, "carol-2", "Carol@Customer.example", now - 500);
  insert_mail(st, "carol-3", "carol@customer.example", now - 400);
  insert_mail(st, "dan-1", "dan@customer2.example", now - 300);
  insert_mail(st, "old-1", "carol@customer.example", now - 90 * 86400); /* past the re-matching window */
  g_assert_cmpint(storage_commit(st, &error), ==, 0);
  if (data == TESTUTIL_ON_PG) testutil_storage_pg_analyze(g_getenv("MAILAGENT_TEST_PG"));
  return st;
}

/* Imports the contact and the account, re-matches; returns the steps it took and sets *scans to
 * the steps spent in whole-table scans. */
static gint64 rematch_work(MaStorage *st, gint64 *scans_out)
{
  g_autoptr(GError) error = NULL;
  MaRecord *c = ma_record_new(MA_RECORD_CONTACT, "C17");
  c->name = g_strdup("Carol");
  g_ptr_array_add(c->emails, g_strdup("carol@customer.example"));
  MaRecord *a = ma_record_new(MA_RECORD_ACCOUNT, "A3");
  a->name = g_strdup("Customer Two");
  g_ptr_array_add(a->domains, g_strdup("customer2.example"));
  g_assert_cmpint(storage_record_upsert(st, "e1", c, &error), ==, 0);
  g_assert_cmpint(storage_record_upsert(st, "e1", a, &error), ==, 0);
  g_autoptr(GPtrArray) emails = g_ptr_array_new();
  g_ptr_array_add(emails, "carol@customer.example");
  g_autoptr(GPtrArray) domains = g_ptr_array_new();
  g_ptr_array_add(domains, "customer2.example");
  MaRecordChanges changes = {emails, domains, NULL};
  gint64 steps = 0, scans = 0;
  g_assert_cmpint(storage_work_counters(st, TRUE, &steps, &scans, &error), ==, 0); /* from 0 */
  MaRematchStats stats = {0};
  g_assert_cmpint(pending_rematch(st, NULL, "e1", &changes, &stats, &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(storage_work_counters(st, FALSE, &steps, &scans, &error), ==, 0);
  g_assert_cmpint(stats.relinked, ==, 4); /* carol-1..3 and dan-1; not old-1, not the others */
  *scans_out = scans;
  /* what it did: links with reasons, one activity per (message, record) */
  g_autoptr(GPtrArray) links = g_ptr_array_new_with_free_func((GDestroyNotify) ma_record_ref_free);
  g_assert_cmpint(storage_message_links(st, "e1", "carol-2", links, &error), ==, 0);
  g_assert_cmpuint(links->len, ==, 1);
  g_assert_cmpstr(((MaRecordRef *) links->pdata[0])->reason, ==, "from carol@customer.example = contact C17");
  g_ptr_array_set_size(links, 0);
  g_assert_cmpint(storage_message_links(st, "e1", "dan-1", links, &error), ==, 0);
  g_assert_cmpstr(((MaRecordRef *) links->pdata[0])->reason, ==, "domain customer2.example = account A3");
  g_ptr_array_set_size(links, 0);
  g_assert_cmpint(storage_message_links(st, "e1", "old-1", links, &error), ==, 0);
  g_assert_cmpuint(links->len, ==, 0);
  gint64 msgs = 0, acts = 0, recs = 0;
  g_assert_cmpint(storage_counts(st, &msgs, &acts, &recs, &error), ==, 0);
  g_assert_cmpint(acts, ==, 4);
  ma_record_free(c);
  ma_record_free(a);
  return steps;
}

static void test_cost_follows_the_matching_mail(gconstpointer data)
{
  guint big_n = data == TESTUTIL_ON_PG ? BIG_PG : BIG_SQLITE;
  g_autofree char *small_dir = testutil_tempdir("ma-rematch-small-XXXXXX");
  g_autofree char *big_dir = testutil_tempdir("ma-rematch-big-XXXXXX");
  gint64 small_scans = 0, big_scans = 0;
  MaStorage *small = archive_of(small_dir, data, SMALL);
  gint64 small_steps = rematch_work(small, &small_scans);
  storage_close(&small);
  MaStorage *big = archive_of(big_dir, data, big_n);
  gint64 big_steps = rematch_work(big, &big_scans);
  storage_close(&big);
  g_test_message("re-matching steps: %" G_GINT64_FORMAT " with %d other messages, %" G_GINT64_FORMAT " with %u"
                 " (whole-table scans: %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")",
                 small_steps, SMALL, big_steps, big_n, small_scans, big_scans);
  if (g_getenv("REMATCH_REPORT"))
    g_printerr("re-matching steps: %" G_GINT64_FORMAT " with %d other archived messages, %" G_GINT64_FORMAT " with %u\n",
               small_steps, SMALL, big_steps, big_n);
  /* many times the archive, the same matching mail: at most 1.5 times the work (index depth) */
  g_assert_cmpint(big_steps, <=, small_steps * 3 / 2);
  if (data == TESTUTIL_ON_PG) {
    /* whole-table scans only of tables the archive does not grow (not even the small archive's) */
    g_assert_cmpint(small_scans, <, SMALL);
    g_assert_cmpint(big_scans, <=, small_scans);
  } else {
    g_assert_cmpint(small_scans, ==, 0); /* no statement scanned a whole table */
    g_assert_cmpint(big_scans, ==, 0);
  }
  testutil_rm_rf(small_dir);
  testutil_rm_rf(big_dir);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_data_func("/pipeline/rematch/cost_follows_the_matching_mail", NULL, test_cost_follows_the_matching_mail);
  if (testutil_storage_pg())
    g_test_add_data_func("/pipeline/rematch/postgresql/cost_follows_the_matching_mail", TESTUTIL_ON_PG,
                         test_cost_follows_the_matching_mail);
  return g_test_run();
}
