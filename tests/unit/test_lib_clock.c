/* test_lib_clock.c - the test clock of agent/lib/clock.h: a clock file moves a running process's
 * time (seconds and milliseconds), a missing or malformed file falls back to the real clock, and
 * ma_clock_set_for_test overrides both. Its own binary: the environment is read once per process. */
#include "clock.h"

#include <glib.h>
#include <glib/gstdio.h>

static char *clock_path;

static void write_clock(const char *text)
{
  g_autofree char *tmp = g_strconcat(clock_path, ".tmp", NULL);
  g_assert_true(g_file_set_contents(tmp, text, -1, NULL));
  g_assert_cmpint(g_rename(tmp, clock_path), ==, 0);
  g_usleep(60 * 1000); /* the clock re-reads the file at most every 50 ms */
}

static void test_clock_file_moves_time(void)
{
  write_clock("2000000000\n");
  g_assert_cmpint(ma_now(), ==, 2000000000);
  g_assert_cmpint(ma_now_ms(), ==, G_GINT64_CONSTANT(2000000000000));
  write_clock("2000000600.25");
  g_assert_cmpint(ma_now(), ==, 2000000600);
  g_assert_cmpint(ma_now_ms(), ==, G_GINT64_CONSTANT(2000000600250));
}

static void test_clock_file_missing_or_malformed(void)
{
  gint64 real = g_get_real_time() / G_USEC_PER_SEC;
  write_clock("soon");
  g_assert_cmpint(ma_now(), >=, real);
  g_assert_cmpint(ma_now(), <, real + 60);
  g_assert_cmpint(g_unlink(clock_path), ==, 0);
  g_usleep(60 * 1000);
  g_assert_cmpint(ma_now(), >=, real);
  g_assert_cmpint(ma_now(), <, real + 60);
}

static void test_clock_set_for_test_wins(void)
{
  write_clock("2000000000");
  ma_clock_set_for_test(G_GINT64_CONSTANT(1700000000123));
  g_assert_cmpint(ma_now_ms(), ==, G_GINT64_CONSTANT(1700000000123));
  g_assert_cmpint(ma_now(), ==, 1700000000);
  ma_clock_set_for_test(0);
  g_assert_cmpint(ma_now(), ==, 2000000000);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_autofree char *dir = g_dir_make_tmp("clock-XXXXXX", NULL);
  g_assert_nonnull(dir);
  clock_path = g_build_filename(dir, "clock", NULL);
  g_unsetenv("MAILAGENT_FAKE_NOW");
  g_setenv("MAILAGENT_CLOCK_FILE", clock_path, TRUE);
  g_test_add_func("/lib/clock/file-moves-time", test_clock_file_moves_time);
  g_test_add_func("/lib/clock/file-missing-or-malformed", test_clock_file_missing_or_malformed);
  g_test_add_func("/lib/clock/set-for-test-wins", test_clock_set_for_test_wins);
  int rc = g_test_run();
  g_unlink(clock_path);
  g_rmdir(dir);
  g_free(clock_path);
  return rc;
}
