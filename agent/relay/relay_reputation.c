/* relay_reputation.c - the shared relay's reputation: mailagent's own delivery path serves every
 * tenant from the same addresses, so one enterprise must not spoil them for the others. Two
 * guards, both per enterprise:
 *   - quotas: the settings default_path_hourly_limit (the last 3600 s) and default_path_daily_limit
 *     (the enterprise's calendar day) bound the recipients it routes to that path; a message that
 *     would cross one is refused at submission with the reason;
 *   - suspension: when the hard-bounce rate over its last RELAY_REPUTATION_WINDOW default-path
 *     recipients (at least RELAY_REPUTATION_MIN_SAMPLE of them) exceeds RELAY_MAX_BOUNCE_PERCENT,
 *     or their complaint rate exceeds RELAY_MAX_COMPLAINT_PERMILLE, its use of the path is
 *     suspended (webhook event default_path.suspended with the cause, the warning) until an
 *     operator lifts it (`mailagent route resume`). Bounces are the queue's own state (`bounced`: a
 *     5xx, or a DSN after the 250, marked by the bounce issue); complaints are the ARF reports the
 *     bounce issue matched to a recipient (storage_default_path_complaint). The rates are read when
 *     default-path recipients are recorded and when a complaint arrives, so a complaint suspends at
 *     once and a bounce from the next message on.
 */
#include "relay.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/tenant/settings.h"

#include <string.h>

static int limit_of(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *key, gint64 *out,
                    GError **error)
{
  g_autofree char *v = NULL;
  if (settings_get(st, cfg, enterprise_id, key, &v, error) < 0) return -1;
  *out = v ? g_ascii_strtoll(v, NULL, 10) : 0;
  return 0;
}

int relay_reputation_check(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *tz, gint64 now,
                           guint n, char **refusal_r, GError **error)
{
  *refusal_r = NULL;
  gint64 since = 0;
  g_autofree char *why = NULL;
  int rc = storage_default_path_suspension(st, enterprise_id, &since, &why, error);
  if (rc < 0) return -1;
  if (rc > 0) {
    char at[32];
    ma_time_format(since, at);
    *refusal_r = g_strdup_printf("the enterprise's use of mailagent's own delivery is suspended since %s (%s)", at, why);
    return 0;
  }
  if (n == 0) return 0;
  gint64 hour_limit = 0, day_limit = 0, used = 0;
  if (limit_of(st, cfg, enterprise_id, "default_path_hourly_limit", &hour_limit, error) < 0 ||
      limit_of(st, cfg, enterprise_id, "default_path_daily_limit", &day_limit, error) < 0)
    return -1;
  if (hour_limit > 0) {
    if (storage_default_path_count(st, enterprise_id, now - 3599, &used, error) < 0) return -1;
    if (used + n > hour_limit) {
      *refusal_r = g_strdup_printf("the hourly quota of mailagent's own delivery (%" G_GINT64_FORMAT
                                   " recipients, setting default_path_hourly_limit) is used up: %" G_GINT64_FORMAT
                                   " sent in the last hour, %u more asked",
                                   hour_limit, used, n);
      return 0;
    }
  }
  if (day_limit > 0) {
    char day[16];
    gint64 next = 0;
    relay_day(now, tz, day, &next);
    GTimeZone *zone = tz && *tz ? g_time_zone_new_identifier(tz) : NULL;
    if (!zone) zone = g_time_zone_new_utc();
    GDateTime *n_dt = g_date_time_new_from_unix_utc(now), *local = g_date_time_to_timezone(n_dt, zone);
    GDateTime *mid = g_date_time_new(zone, g_date_time_get_year(local), g_date_time_get_month(local),
                                     g_date_time_get_day_of_month(local), 0, 0, 0);
    gint64 start = g_date_time_to_unix(mid);
    g_date_time_unref(mid);
    g_date_time_unref(local);
    g_date_time_unref(n_dt);
    g_time_zone_unref(zone);
    if (storage_default_path_count(st, enterprise_id, start, &used, error) < 0) return -1;
    if (used + n > day_limit) {
      *refusal_r = g_strdup_printf("the daily quota of mailagent's own delivery (%" G_GINT64_FORMAT
                                   " recipients on %s, setting default_path_daily_limit) is used up: %" G_GINT64_FORMAT
                                   " sent today, %u more asked",
                                   day_limit, day, used, n);
      return 0;
    }
  }
  return 0;
}

/* Suspends the enterprise's use of the path, with the warning: the webhook event (cause says which
 * rule) and the log line. 0 or -1. */
static int suspend(MaStorage *st, const char *enterprise_id, const char *cause, const char *reason, gint64 total,
                   gint64 bounced, gint64 complained, gint64 now, GError **error)
{
  int rc = storage_default_path_suspend(st, enterprise_id, now, reason, error);
  if (rc <= 0) return rc;
  char at[32];
  ma_time_format(now, at);
  g_autofree char *key = g_strdup_printf("default_path.suspended:%s:%" G_GINT64_FORMAT, enterprise_id, now);
  json_t *doc = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s}", "since", at, "cause", cause, "reason", reason, "recipients",
                          (json_int_t) total, "bounced", (json_int_t) bounced, "complained", (json_int_t) complained,
                          "idempotency_key", key);
  g_autofree char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (storage_outbox_add(st, enterprise_id, "default_path.suspended", key, payload, now, error) < 0) return -1;
  ma_warn("relay", "%s: use of mailagent's own delivery suspended: %s", enterprise_id, reason);
  return 0;
}

int relay_reputation_review(MaStorage *st, const char *enterprise_id, gint64 now, GError **error)
{
  gint64 total = 0, bounced = 0, complained = 0;
  if (storage_default_path_rates(st, enterprise_id, RELAY_REPUTATION_WINDOW, &total, &bounced, &complained, error) < 0)
    return -1;
  if (total < RELAY_REPUTATION_MIN_SAMPLE) return 0;
  if (bounced * 100 > total * RELAY_MAX_BOUNCE_PERCENT) {
    g_autofree char *reason = g_strdup_printf("hard-bounce rate %.1f%% over the last %" G_GINT64_FORMAT
                                              " recipients by mailagent's own delivery (limit %d%%)",
                                              100.0 * (double) bounced / (double) total, total, RELAY_MAX_BOUNCE_PERCENT);
    return suspend(st, enterprise_id, "hard_bounces", reason, total, bounced, complained, now, error);
  }
  if (complained * 1000 > total * RELAY_MAX_COMPLAINT_PERMILLE) {
    g_autofree char *reason = g_strdup_printf("complaint rate %.2f%% over the last %" G_GINT64_FORMAT
                                              " recipients by mailagent's own delivery (limit %d.%d%%)",
                                              100.0 * (double) complained / (double) total, total,
                                              RELAY_MAX_COMPLAINT_PERMILLE / 10, RELAY_MAX_COMPLAINT_PERMILLE % 10);
    return suspend(st, enterprise_id, "complaints", reason, total, bounced, complained, now, error);
  }
  return 0;
}

int relay_reputation_record(MaStorage *st, const char *enterprise_id, const char *outbound_id, GPtrArray *groups,
                            gint64 now, GError **error)
{
  guint n = 0;
  for (guint i = 0; i < groups->len; i++) {
    const RelayRouteGroup *g = g_ptr_array_index(groups, i);
    if (g_strcmp0(g->channel, "mailagent_relay") != 0) continue;
    for (guint k = 0; k < g->rcpts->len; k++, n++)
      if (storage_default_path_record(st, enterprise_id, outbound_id, g_ptr_array_index(g->rcpts, k), now, error) < 0)
        return -1;
  }
  return n == 0 ? 0 : relay_reputation_review(st, enterprise_id, now, error);
}

int relay_reputation_complaint(MaStorage *st, const char *enterprise_id, const char *outbound_id, const char *address,
                               gint64 now, GError **error)
{
  int rc = storage_default_path_complaint(st, enterprise_id, outbound_id, address, now, error);
  return rc <= 0 ? rc : relay_reputation_review(st, enterprise_id, now, error);
}
