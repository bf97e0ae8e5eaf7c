/* relay_fallback.c - what the delivery thread asks agent/relay while mail is under way: where a
 * queued recipient goes (its route, or its latest fallback), the fallback of a recipient whose
 * relay failed (decided again by rule 4 of docs/routing.md and recorded in the message's route),
 * and the count of failed sessions that suspends a relay for the rest of the enterprise's day with
 * the webhook event relay.suspended. Runs inside the delivery thread's transactions.
 */
#include "relay.h"

#include "agent/domains/domains.h"
#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/tenant/settings.h"

#include <string.h>

static gboolean names(json_t *rcpts, const char *address)
{
  size_t i;
  json_t *v;
  json_array_foreach(rcpts, i, v) if (json_is_string(v) && g_ascii_strcasecmp(json_string_value(v), address) == 0)
    return TRUE;
  return FALSE;
}

static void take(json_t *o, RelayRecipientRoute *out)
{
  const char *channel = json_string_value(json_object_get(o, "channel"));
  const char *relay = json_string_value(json_object_get(json_object_get(o, "relay"), "id"));
  const char *mailbox = json_string_value(json_object_get(o, "mailbox_id"));
  g_strlcpy(out->channel, channel ? channel : "", sizeof out->channel);
  g_strlcpy(out->relay_id, relay ? relay : "", sizeof out->relay_id);
  g_strlcpy(out->mailbox_id, mailbox ? mailbox : "", sizeof out->mailbox_id);
}

void relay_route_of(const char *route_json, const char *address, RelayRecipientRoute *out)
{
  memset(out, 0, sizeof *out);
  json_t *doc = route_json ? json_loads(route_json, 0, NULL) : NULL;
  if (!doc) return;
  json_t *fallbacks = json_object_get(doc, "fallbacks");
  for (size_t i = json_array_size(fallbacks); i-- > 0;) {
    json_t *f = json_array_get(fallbacks, i);
    /* a fallback that found no channel (channel null) leaves the recipient on its first route */
    if (json_is_string(json_object_get(f, "channel")) && names(json_object_get(f, "recipients"), address)) {
      take(f, out);
      json_decref(doc);
      return;
    }
  }
  size_t i;
  json_t *g;
  json_array_foreach(json_object_get(doc, "groups"), i, g) if (names(json_object_get(g, "recipients"), address))
  {
    take(g, out);
    break;
  }
  json_decref(doc);
}

int relay_fallback(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *outbound_id,
                   const char *address, const char *relay_id, const char *why, gint64 now, char **reason_r,
                   GError **error)
{
  *reason_r = NULL;
  MaOutbound *m = NULL;
  int rc = storage_outbound_get(st, enterprise_id, outbound_id, &m, error);
  if (rc <= 0) return rc;
  const char *at = strrchr(m->header_from ? m->header_from : m->mail_from, '@');
  g_autofree char *domain = g_ascii_strdown(at ? at + 1 : "", -1);
  g_autofree char *scope_reason = NULL;
  int ok = 1;
  if (g_strcmp0(cfg->relay_default_path_scope, "any") != 0) ok = ma_domains_may_send(st, enterprise_id, domain, &scope_reason, error);
  g_autofree char *employee_channels = NULL;
  if (ok > 0 && m->employee && settings_get(st, cfg, enterprise_id, "employee_channels", &employee_channels, error) < 0)
    ok = -1;
  if (ok > 0 && m->employee && !strstr(employee_channels, "mailagent_relay")) {
    ok = 0;
    scope_reason = g_strdup("the enterprise does not allow its employees mailagent's own delivery");
  }
  if (ok < 0) {
    ma_outbound_free(m);
    return -1;
  }
  json_t *route = m->route_json ? json_loads(m->route_json, 0, NULL) : NULL;
  if (!route) route = json_pack("{s:n,s:[],s:[]}", "decided_at", "groups", "fallbacks");
  if (!json_is_array(json_object_get(route, "fallbacks"))) json_object_set_new(route, "fallbacks", json_array());
  char when[32];
  ma_time_format(now, when);
  g_autofree char *reason =
    ok > 0 ? g_strdup_printf("rule 4 on fallback: %s: mailagent's own delivery", why)
           : g_strdup_printf("rule 4 on fallback: %s, and mailagent's own delivery is not open to %s: %s",
                             why, domain, scope_reason ? scope_reason : "not in the verified domain scope");
  json_array_append_new(json_object_get(route, "fallbacks"),
                        json_pack("{s:s,s:s?,s:{s:s},s:s,s:[s]}", "at", when, "channel", ok > 0 ? "mailagent_relay" : NULL,
                                  "from_relay", "id", relay_id, "reason", reason, "recipients", address));
  g_autofree char *text = json_dumps(route, JSON_COMPACT);
  json_decref(route);
  rc = storage_outbound_set_route(st, enterprise_id, outbound_id, text, error);
  ma_outbound_free(m);
  if (rc < 0) return -1;
  if (ok == 0) *reason_r = g_steal_pointer(&reason);
  return ok > 0 ? 1 : 0;
}

int relay_session_failed(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *relay_id,
                         const char *why, gint64 now, gint64 min_gap, GError **error)
{
  g_autofree char *tz = NULL;
  if (settings_get(st, cfg, enterprise_id, "timezone", &tz, error) < 0) return -1;
  char day[16];
  gint64 next_day = 0;
  relay_day(now, tz, day, &next_day);
  int failures = 0;
  int counted = storage_relay_count_failure(st, enterprise_id, relay_id, day, now, min_gap, &failures, error);
  if (counted < 0) return -1;
  g_autoptr(MaRelay) r = NULL;
  if (storage_relay_get(st, enterprise_id, relay_id, &r, error) <= 0) return error && *error ? -1 : 0;
  ma_info("relay", "%s: relay %s session failed (%s): %d failure(s) counted today%s", enterprise_id, r->name, why,
          failures, counted ? "" : " (this one within the retry interval of the last: not counted)");
  if (!counted || failures < RELAY_FAILURES_TO_SUSPEND || relay_is_suspended(r, now)) return 0;
  g_autofree char *reason = g_strdup_printf("%d failed sessions on %s; last: %s", failures, day, why);
  if (storage_relay_set_status(st, enterprise_id, relay_id, "suspended", now, reason, next_day, error) < 0) return -1;
  char since[32], until[32];
  ma_time_format(now, since);
  ma_time_format(next_day, until);
  g_autofree char *key = g_strdup_printf("relay.suspended:%s:%s", relay_id, day);
  json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s}", "relay_id", relay_id, "name", r->name, "host", r->host,
                          "since", since, "until", until, "failures", failures, "reason", reason, "idempotency_key", key);
  g_autofree char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (storage_outbox_add(st, enterprise_id, "relay.suspended", key, payload, now, error) < 0) return -1;
  ma_warn("relay", "%s: relay %s suspended until %s: %s", enterprise_id, r->name, until, reason);
  return 1;
}
