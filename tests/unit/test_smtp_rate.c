/* test_smtp_rate.c - the sliding-window rate meter: since the start while the transfer is shorter
 * than the window, then only the last window; slots reused a minute later start from zero; the
 * window is clamped; and the verdict a fast start followed by a drip gets (forgotten after one
 * window, where an average from the start would have kept the client for hours). */
#include "agent/smtp/smtp_rate.h"

static void test_recent_and_window(void)
{
  SmtpRateMeter m;
  gint64 span = -1;
  smtp_rate_start(&m, 200);
  smtp_rate_count(&m, 1000000, 700); /* second 0 */
  g_assert_cmpint(smtp_rate_recent(&m, 900, 10000, &span), ==, 1000000);
  g_assert_cmpint(span, ==, 700); /* shorter than the window: since the start */
  for (gint64 t = 1200; t <= 9200; t += 1000) smtp_rate_count(&m, 1, t); /* seconds 1..9 */
  /* at 9.5 s the window (10 s: seconds 0..9, 9 partly) still holds the start */
  g_assert_cmpint(smtp_rate_recent(&m, 9500, 10000, &span), ==, 1000000 + 9);
  g_assert_cmpint(span, ==, 9300);
  smtp_rate_count(&m, 1, 10200);
  /* at 10.5 s it covers seconds 1..10 only */
  g_assert_cmpint(smtp_rate_recent(&m, 10500, 10000, &span), ==, 10);
  g_assert_cmpint(span, ==, 9500);
  smtp_rate_count(&m, 1, 11200);
  smtp_rate_count(&m, 1, 12200);
  g_assert_cmpint(smtp_rate_recent(&m, 12500, 2000, &span), ==, 2); /* seconds 11, 12 */
  g_assert_cmpint(span, ==, 1500);
  g_assert_cmpint(m.total, ==, 1000012);
}

static void test_slot_reuse_and_clamp(void)
{
  SmtpRateMeter m;
  gint64 span = 0;
  smtp_rate_start(&m, 0);
  smtp_rate_count(&m, 500, 3100);                 /* second 3 */
  smtp_rate_count(&m, 7, 63100);                  /* second 63: the same slot, reset first */
  g_assert_cmpint(smtp_rate_recent(&m, 63500, 60000, &span), ==, 7);
  g_assert_cmpint(span, ==, 59500);
  g_assert_cmpint(smtp_rate_recent(&m, 63500, 3600000, &span), ==, 7); /* clamped to 60 s */
  g_assert_cmpint(smtp_rate_recent(&m, 63500, 0, &span), ==, 7);       /* clamped to 1 s */
  g_assert_cmpint(span, ==, 500);
  g_assert_cmpint(smtp_rate_recent(&m, 64500, 0, &span), ==, 0);       /* nothing in second 64 */
  /* a new transfer forgets everything */
  smtp_rate_start(&m, 70000);
  g_assert_cmpint(smtp_rate_recent(&m, 70400, 10000, &span), ==, 0);
  g_assert_cmpint(span, ==, 400);
}

static void test_fast_start_then_drip(void)
{
  SmtpRateMeter m;
  int cut_at = -1;
  smtp_rate_start(&m, 0);
  smtp_rate_count(&m, 1000000, 500);
  for (int s = 1; s <= 600 && cut_at < 0; s++) {
    smtp_rate_count(&m, 1, s * 1000);
    if (smtp_rate_below(&m, s * 1000, 10000, 1024)) cut_at = s;
  }
  /* the window is 10 s: the start drops out at the 10th second */
  g_assert_cmpint(cut_at, ==, 10);
  /* a steady client at twice the minimum is never below it */
  smtp_rate_start(&m, 0);
  for (int s = 0; s < 600; s++) {
    smtp_rate_count(&m, 2048, s * 1000 + 10);
    g_assert_false(smtp_rate_below(&m, s * 1000 + 999, 10000, 1024));
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp/rate/recent_and_window", test_recent_and_window);
  g_test_add_func("/smtp/rate/slot_reuse_and_clamp", test_slot_reuse_and_clamp);
  g_test_add_func("/smtp/rate/fast_start_then_drip", test_fast_start_then_drip);
  return g_test_run();
}
