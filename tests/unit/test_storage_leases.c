/* test_storage_leases.c - the leaders of `serve`'s scheduled jobs (storage_job_lease) with two
 * storage handles in two threads, as two nodes have on one database: for each of many jobs exactly
 * one handle is granted; the holder renews its own lease and the other is refused until it runs
 * out, then takes it over; a leader asking with until = now hands the job over at once. Both
 * backends (testutil_storage.h).
 */
#include "storage/storage.h"

#include "testutil.h"
#include "testutil_storage.h"

#define JOBS 40
#define NOW 1000000
#define LEASE 30

typedef struct {
  char *dir;
  MaStorage *st;
} Fixture;

static void fx_setup(Fixture *fx, gconstpointer data)
{
  fx->dir = testutil_tempdir("ma-leases-XXXXXX");
  fx->st = testutil_storage_open(fx->dir, data);
}

static void fx_teardown(Fixture *fx, gconstpointer data)
{
  storage_close(&fx->st);
  testutil_rm_rf(fx->dir);
  g_free(fx->dir);
}

static int lease(MaStorage *st, const char *job, const char *owner, gint64 now, gint64 until)
{
  GError *error = NULL;
  int rc = storage_job_lease(st, job, owner, now, until, &error);
  g_assert_no_error(error);
  return rc;
}

typedef struct {
  MaStorage *st;
  const char *owner;
  int granted[JOBS];
} Node;

/* Asks for every job in turn, as a node's schedulers do at one round. */
static gpointer node_race(gpointer p)
{
  Node *n = p;
  for (int i = 0; i < JOBS; i++) {
    char job[32];
    g_snprintf(job, sizeof job, "job-%d", i);
    n->granted[i] = lease(n->st, job, n->owner, NOW, NOW + LEASE);
  }
  return NULL;
}

static void test_race_one_granted(Fixture *fx, gconstpointer data)
{
  MaStorage *second = testutil_storage_open_again(fx->dir, data);
  Node a = {.st = fx->st, .owner = "node-a"};
  Node b = {.st = second, .owner = "node-b"};
  testutil_run_together(node_race, &a, &b);
  int won_a = 0;
  for (int i = 0; i < JOBS; i++) {
    g_assert_cmpint(a.granted[i] + b.granted[i], ==, 1); /* exactly one leader per job */
    won_a += a.granted[i];
  }
  g_test_message("node-a leads %d of %d jobs", won_a, JOBS);
  /* the winners keep their jobs: each renews, the other is still refused */
  for (int i = 0; i < JOBS; i++) {
    char job[32];
    g_snprintf(job, sizeof job, "job-%d", i);
    Node *leader = a.granted[i] ? &a : &b, *other = a.granted[i] ? &b : &a;
    g_assert_cmpint(lease(leader->st, job, leader->owner, NOW + 10, NOW + 10 + LEASE), ==, 1);
    g_assert_cmpint(lease(other->st, job, other->owner, NOW + 10 + LEASE - 1, NOW + 20 + LEASE), ==, 0);
  }
  storage_close(&second);
}

static void test_expired_taken_over(Fixture *fx, gconstpointer data)
{
  MaStorage *second = testutil_storage_open_again(fx->dir, data);
  g_assert_cmpint(lease(fx->st, "domains", "node-a", NOW, NOW + LEASE), ==, 1);
  g_assert_cmpint(lease(second, "domains", "node-b", NOW + 1, NOW + 1 + LEASE), ==, 0);
  g_assert_cmpint(lease(second, "domains", "node-b", NOW + LEASE - 1, NOW + 2 * LEASE), ==, 0);
  /* node-a stopped renewing (it died): at the end of its lease node-b takes the job */
  g_assert_cmpint(lease(second, "domains", "node-b", NOW + LEASE, NOW + 2 * LEASE), ==, 1);
  g_assert_cmpint(lease(fx->st, "domains", "node-a", NOW + LEASE + 1, NOW + 2 * LEASE + 1), ==, 0);
  /* another job is independent */
  g_assert_cmpint(lease(fx->st, "retention", "node-a", NOW + LEASE + 1, NOW + 2 * LEASE + 1), ==, 1);
  /* node-b hands "domains" back (until = now): node-a gets it at once */
  g_assert_cmpint(lease(second, "domains", "node-b", NOW + LEASE + 2, NOW + LEASE + 2), ==, 1);
  g_assert_cmpint(lease(fx->st, "domains", "node-a", NOW + LEASE + 2, NOW + 2 * LEASE + 2), ==, 1);
  /* a refused hand-back (not the holder) changes nothing */
  g_assert_cmpint(lease(second, "domains", "node-b", NOW + LEASE + 3, NOW + LEASE + 3), ==, 0);
  g_assert_cmpint(lease(second, "domains", "node-b", NOW + LEASE + 4, NOW + 2 * LEASE + 4), ==, 0);
  storage_close(&second);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) testutil_storage_add("/storage_leases" path, "/storage_leases/postgresql" path, Fixture, fx_setup, fn, fx_teardown)
  ADD("/race-one-granted", test_race_one_granted);
  ADD("/expired-taken-over", test_expired_taken_over);
  return g_test_run();
}
