/* outbound_mailbox.c - the employee-mailbox channel's decisions (see outbound_mailbox.h): choosing
 * the employee's mailbox, the route JSON recorded on the queue row, and the calendar day of the
 * mailbox's daily limit in the enterprise's time zone. Storage reads only; no network.
 */
#include "outbound_mailbox.h"

#include "agent/lib/error.h"

#include <jansson.h>
#include <string.h>

static gboolean may_send(const MaMailbox *m)
{
  return m->smtp_host && g_strcmp0(m->state, "active") == 0;
}

int outbound_mailbox_choose(MaStorage *st, const char *enterprise_id, const char *employee, const char *from,
                            MaMailbox **out, char **why, GError **error)
{
  *out = NULL;
  *why = NULL;
  g_autofree char *who = g_ascii_strdown(employee ? employee : from, -1);
  MaEmployee *emp = NULL;
  if (storage_employee_find(st, enterprise_id, who, &emp, error) < 0) return -1;
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify) ma_mailbox_free);
  if (storage_mailbox_list(st, enterprise_id, all, error) < 0) {
    ma_employee_free(emp);
    return -1;
  }
  gboolean bound = FALSE;
  for (guint i = 0; i < all->len && !*out; i++) {
    MaMailbox *m = g_ptr_array_index(all, i);
    gboolean theirs = emp ? g_strcmp0(m->employee_id, emp->id) == 0 : g_ascii_strcasecmp(m->email, who) == 0;
    if (!theirs) continue;
    bound = TRUE;
    if (may_send(m)) *out = g_ptr_array_steal_index(all, i);
  }
  if (!*out)
    *why = g_strdup_printf("%s has %s", who, bound ? "no active bound mailbox that may send (no SMTP server, paused, "
                                                     "or waiting for authorization)"
                                                   : "no bound mailbox");
  ma_employee_free(emp);
  return *out ? 1 : 0;
}

char *outbound_mailbox_route(const MaMailbox *m, const char *reason)
{
  json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "channel", "employee_mailbox", "mailbox_id", m->id, "mailbox",
                        m->email, "reason", reason);
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  char *copy = g_strdup(text);
  free(text);
  return copy;
}

char *outbound_fallback_route(const char *from_mailbox_id, const char *reason)
{
  json_t *o = json_pack("{s:s, s:s, s:s}", "channel", "mailagent_relay", "fallback_from_mailbox", from_mailbox_id,
                        "reason", reason);
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  char *copy = g_strdup(text);
  free(text);
  return copy;
}

char *outbound_route_mailbox_id(const char *route_json)
{
  if (!route_json || !strstr(route_json, "employee_mailbox")) return NULL;
  json_t *o = json_loads(route_json, 0, NULL);
  char *id = NULL;
  if (o && g_strcmp0(json_string_value(json_object_get(o, "channel")), "employee_mailbox") == 0 &&
      json_is_string(json_object_get(o, "mailbox_id")))
    id = g_strdup(json_string_value(json_object_get(o, "mailbox_id")));
  json_decref(o);
  return id;
}

void outbound_mailbox_day(MaStorage *st, const char *enterprise_id, gint64 now, char day[16], gint64 *next_day)
{
  g_autofree char *name = NULL;
  GTimeZone *tz = NULL;
  if (storage_setting_get(st, enterprise_id, "timezone", &name, NULL) > 0 && name && *name)
    tz = g_time_zone_new_identifier(name);
  if (!tz) tz = g_time_zone_new_utc();
  GDateTime *t = g_date_time_new_from_unix_utc(now);
  GDateTime *local = g_date_time_to_timezone(t, tz);
  g_snprintf(day, 16, "%04d-%02d-%02d", g_date_time_get_year(local), g_date_time_get_month(local),
             g_date_time_get_day_of_month(local));
  GDateTime *midnight = g_date_time_new(tz, g_date_time_get_year(local), g_date_time_get_month(local),
                                        g_date_time_get_day_of_month(local), 0, 0, 0);
  GDateTime *next = g_date_time_add_days(midnight, 1);
  *next_day = g_date_time_to_unix(next);
  g_date_time_unref(next);
  g_date_time_unref(midnight);
  g_date_time_unref(local);
  g_date_time_unref(t);
  g_time_zone_unref(tz);
}
