/* testutil.c - temporary directories for the unit tests, and two threads racing. */
#include "testutil.h"

#include <glib/gstdio.h>

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

typedef struct {
  GThreadFunc fn;
  gpointer arg;
  gint *ready;
} Together;

static gpointer together_run(gpointer p)
{
  Together *t = p;
  g_atomic_int_inc(t->ready);
  while (g_atomic_int_get(t->ready) < 2) g_thread_yield(); /* both started: go */
  return t->fn(t->arg);
}

void testutil_run_together(GThreadFunc fn, gpointer a, gpointer b)
{
  gint ready = 0;
  Together ta = {fn, a, &ready}, tb = {fn, b, &ready};
  GThread *first = g_thread_new("racer-a", together_run, &ta);
  GThread *second = g_thread_new("racer-b", together_run, &tb);
  g_thread_join(first);
  g_thread_join(second);
}
