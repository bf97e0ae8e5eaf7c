/* relay_limits.c - time as a relay's limits see it: the enterprise's calendar day in its time
 * zone (setting `timezone`, an IANA name read through GLib from the system's tzdata), and whether a
 * suspension still holds. The clock is ma_now() (the test clock in tests).
 */
#include "relay.h"

#include <string.h>

void relay_day(gint64 t, const char *tz, char day[16], gint64 *next_day)
{
  GTimeZone *zone = tz && *tz ? g_time_zone_new_identifier(tz) : NULL;
  if (!zone) zone = g_time_zone_new_utc();
  GDateTime *dt = g_date_time_new_from_unix_utc(t);
  GDateTime *local = g_date_time_to_timezone(dt, zone);
  g_snprintf(day, 16, "%04d-%02d-%02d", g_date_time_get_year(local), g_date_time_get_month(local),
             g_date_time_get_day_of_month(local));
  if (next_day) {
    GDateTime *midnight = g_date_time_new(zone, g_date_time_get_year(local), g_date_time_get_month(local),
                                          g_date_time_get_day_of_month(local), 0, 0, 0);
    GDateTime *next = g_date_time_add_days(midnight, 1);
    *next_day = g_date_time_to_unix(next);
    g_date_time_unref(next);
    g_date_time_unref(midnight);
  }
  g_date_time_unref(local);
  g_date_time_unref(dt);
  g_time_zone_unref(zone);
}

gboolean relay_is_suspended(const MaRelay *r, gint64 now)
{
  return r->status && strcmp(r->status, "suspended") == 0 && r->suspended_until > now;
}
