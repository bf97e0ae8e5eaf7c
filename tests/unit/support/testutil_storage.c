/* testutil_storage.c - storage handles for the tests that run against both backends. */
#include "testutil_storage.h"

#include <libpq-fe.h>

gboolean testutil_storage_pg(void)
{
  return g_getenv("MAILAGENT_TEST_PG") != NULL;
}

/* Runs sql (no result rows) on a connection of its own to conninfo; aborts the test if it fails. */
static void pg_run_alone(const char *conninfo, const char *sql)
{
  PGconn *c = PQconnectdb(conninfo);
  g_assert_cmpint(PQstatus(c), ==, CONNECTION_OK);
  PGresult *r = PQexec(c, sql);
  g_assert_cmpint(PQresultStatus(r), ==, PGRES_COMMAND_OK);
  PQclear(r);
  PQfinish(c);
}

void testutil_storage_pg_reset(const char *conninfo)
{
  pg_run_alone(conninfo, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

void testutil_storage_pg_analyze(const char *conninfo)
{
  pg_run_alone(conninfo, "ANALYZE");
}

MaStorage *testutil_storage_open_again(const char *dir, gconstpointer data)
{
  GError *error = NULL;
  MaStorage *st = NULL;
  if (data == TESTUTIL_ON_PG)
    g_assert_cmpint(storage_open_backend(&ma_storage_pg_backend, g_getenv("MAILAGENT_TEST_PG"), TRUE, &st, &error), ==, 0);
  else
    g_assert_cmpint(storage_open(dir, TRUE, &st, &error), ==, 0);
  g_assert_no_error(error);
  return st;
}

MaStorage *testutil_storage_open(const char *dir, gconstpointer data)
{
  if (data == TESTUTIL_ON_PG) testutil_storage_pg_reset(g_getenv("MAILAGENT_TEST_PG"));
  return testutil_storage_open_again(dir, data);
}
