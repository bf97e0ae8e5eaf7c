/* testutil_storage.c - storage handles for the tests that run against both backends. */
#include "testutil_storage.h"

#include <libpq-fe.h>

gboolean testutil_storage_pg(void)
{
  return g_getenv("MAILAGENT_TEST_PG") != NULL;
}

void testutil_storage_pg_reset(const char *conninfo)
{
  PGconn *c = PQconnectdb(conninfo);
  g_assert_cmpint(PQstatus(c), ==, CONNECTION_OK);
  PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  g_assert_cmpint(PQresultStatus(r), ==, PGRES_COMMAND_OK);
  PQclear(r);
  PQfinish(c);
}

void testutil_storage_pg_analyze(const char *conninfo)
{
  PGconn *c = PQconnectdb(conninfo);
  g_assert_cmpint(PQstatus(c), ==, CONNECTION_OK);
  PGresult *r = PQexec(c, "ANALYZE");
  g_assert_cmpint(PQresultStatus(r), ==, PGRES_COMMAND_OK);
  PQclear(r);
  PQfinish(c);
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
