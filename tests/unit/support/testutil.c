/* testutil.c - temporary directories for the unit tests. */
#include "testutil.h"

#include <glib/gstdio.h>
#include <libpq-fe.h>

char *testutil_tempdir(const char *template_name)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp(template_name, &error);
  g_assert_no_error(error);
  return dir;
}

void testutil_rm_rf(const char *path)
{
  if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
    GDir *d = g_dir_open(path, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
      g_autofree char *child = g_build_filename(path, name, NULL);
      testutil_rm_rf(child);
    }
    if (d) g_dir_close(d);
    g_rmdir(path);
  } else {
    g_unlink(path);
  }
}

void testutil_pg_reset(const char *conninfo)
{
  PGconn *c = PQconnectdb(conninfo);
  g_assert_cmpint(PQstatus(c), ==, CONNECTION_OK);
  PGresult *r = PQexec(c, "SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  g_assert_cmpint(PQresultStatus(r), ==, PGRES_COMMAND_OK);
  PQclear(r);
  PQfinish(c);
}
