/* relay_json.c - the JSON shapes of agent/relay: a relay (one shape for the API, `relay ... --json`
 * and the route stored with each queued message) and a message's route. The password is
 * write-only: no function here ever reads it.
 */
#include "relay.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <string.h>

static json_t *words(const char *list)
{
  json_t *a = json_array();
  if (!list) return a;
  g_auto(GStrv) w = g_strsplit(list, " ", -1);
  for (char **p = w; *p; p++)
    if (**p) json_array_append_new(a, json_string(*p));
  return a;
}

json_t *relay_to_json(const MaRelay *r, gint64 sent_today)
{
  json_t *doc = json_object();
  json_object_set_new(doc, "id", json_string(r->id));
  json_object_set_new(doc, "name", json_string(r->name));
  json_object_set_new(doc, "host", json_string(r->host));
  json_object_set_new(doc, "port", json_integer(r->port));
  json_object_set_new(doc, "security", json_string(r->security));
  json_object_set_new(doc, "tls_mode", json_string(r->tls_mode));
  /* authorized: XOAUTH2 only, whether the relay holds a valid grant (null for a password mechanism) */
  json_object_set_new(doc, "auth",
                      json_pack("{s:b,s:s?,s:s?,s:s?,s:b,s:o}", "enabled", r->auth_enabled, "mechanism", r->auth_mechanism,
                                "username", r->username, "provider", r->auth_provider, "password_set",
                                r->password_sealed != NULL,
                                "authorized", g_strcmp0(r->auth_mechanism, "XOAUTH2") == 0
                                                ? json_boolean(g_strcmp0(r->grant_state, "valid") == 0)
                                                : json_null()));
  json_object_set_new(doc, "daily_limit", r->daily_limit > 0 ? json_integer(r->daily_limit) : json_null());
  json_object_set_new(doc, "sent_today", json_integer(sent_today));
  json_object_set_new(doc, "email_types", words(r->email_types));
  json_object_set_new(doc, "dkim", json_boolean(r->dkim));
  json_object_set_new(doc, "enabled", json_boolean(r->enabled));
  json_t *status = json_object();
  /* a suspension ends by itself at the start of the enterprise's next day */
  gboolean ended = strcmp(r->status, "suspended") == 0 && !relay_is_suspended(r, ma_now());
  json_object_set_new(status, "state", json_string(ended ? "ok" : r->status));
  json_object_set_new(status, "since", codec_time(r->status_since));
  json_object_set_new(status, "reason", r->status_reason ? json_string(r->status_reason) : json_null());
  json_object_set_new(status, "until", strcmp(r->status, "suspended") == 0 ? codec_time(r->suspended_until) : json_null());
  if (ended) json_object_set_new(status, "ended", json_true());
  json_object_set_new(doc, "status", status);
  json_t *filters = json_array();
  for (guint i = 0; i < r->filters->len; i++) {
    const MaRelayFilter *f = g_ptr_array_index(r->filters, i);
    json_array_append_new(filters, json_pack("{s:i,s:s,s:o}", "priority", f->priority, "sender_domain",
                                             f->sender_domain, "recipient_patterns", words(f->recipient_patterns)));
  }
  json_object_set_new(doc, "filters", filters);
  /* a relay stored before return paths were checked has none: bounce management, the default */
  json_object_set_new(doc, "return_path", json_string(r->return_path ? r->return_path : "bounce"));
  json_object_set_new(doc, "created_at", codec_time(r->created_at));
  json_object_set_new(doc, "updated_at", codec_time(r->updated_at));
  return doc;
}

json_t *relay_route_to_json(GPtrArray *groups, gint64 decided_at)
{
  json_t *arr = json_array();
  for (guint i = 0; i < groups->len; i++) {
    const RelayRouteGroup *g = g_ptr_array_index(groups, i);
    json_t *o = json_object();
    json_object_set_new(o, "channel", g->channel ? json_string(g->channel) : json_null());
    json_object_set_new(o, "relay", g->relay_id ? json_pack("{s:s,s:s?}", "id", g->relay_id, "name", g->relay_name)
                                                : json_null());
    json_object_set_new(o, "mailbox_id", g->mailbox_id ? json_string(g->mailbox_id) : json_null());
    json_object_set_new(o, "filter",
                        g->filter_sender ? json_pack("{s:i,s:s,s:o}", "priority", g->filter_priority, "sender_domain",
                                                     g->filter_sender, "recipient_patterns", words(g->filter_patterns))
                                         : json_null());
    json_object_set_new(o, "reason", json_string(g->reason ? g->reason : ""));
    json_t *rcpts = json_array();
    for (guint k = 0; k < g->rcpts->len; k++) json_array_append_new(rcpts, json_string(g_ptr_array_index(g->rcpts, k)));
    json_object_set_new(o, "recipients", rcpts);
    json_array_append_new(arr, o);
  }
  return json_pack("{s:o,s:o,s:[]}", "decided_at", codec_time(decided_at), "groups", arr, "fallbacks");
}
