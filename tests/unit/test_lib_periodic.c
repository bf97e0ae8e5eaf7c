/* test_lib_periodic.c - agent/lib/periodic: runs at once, again at once while the function says
 * there is more, then every interval; stop wakes a sleeping thread at once and joins it. */
#include "agent/lib/periodic.h"

typedef struct {
  gint calls;   /* atomic */
  gint more;    /* how many calls answer TRUE */
} Counter;

static gboolean count(gpointer data)
{
  Counter *c = data;
  return g_atomic_int_add(&c->calls, 1) < c->more;
}

static void test_runs_and_stops(void)
{
  Counter c = {0, 3};
  MaPeriodic *p = ma_periodic_start("test", 3600 * 1000, count, &c);
  /* three answers of "more" and the first sleeping call: four calls without waiting an hour */
  for (int i = 0; i < 500 && g_atomic_int_get(&c.calls) < 4; i++) g_usleep(10000);
  g_assert_cmpint(g_atomic_int_get(&c.calls), ==, 4);
  gint64 t0 = g_get_monotonic_time();
  ma_periodic_stop(&p);
  g_assert_null(p);
  g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC); /* woken, not waited out */
  g_assert_cmpint(g_atomic_int_get(&c.calls), ==, 4);
  ma_periodic_stop(&p); /* NULL is fine */
}

static void test_interval(void)
{
  Counter c = {0, 0};
  MaPeriodic *p = ma_periodic_start("test", 20, count, &c);
  for (int i = 0; i < 500 && g_atomic_int_get(&c.calls) < 3; i++) g_usleep(10000);
  ma_periodic_stop(&p);
  g_assert_cmpint(g_atomic_int_get(&c.calls), >=, 3);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/lib/periodic/runs_and_stops", test_runs_and_stops);
  g_test_add_func("/lib/periodic/interval", test_interval);
  return g_test_run();
}
