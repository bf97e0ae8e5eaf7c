/* outbound_events.c - the per-recipient delivery events for the CRM (docs/webhooks.md owns the
 * catalogue): message.sent, message.deferred, message.bounced, written to the outbox in the same
 * transaction as the state they report, so an event exists exactly when its state does. Also the
 * JSON shape of a queued message, shared by the API and `mailagent queue --json`, and the retry
 * schedule.
 */
#include "outbound.h"

#include "agent/lib/clock.h"

#include <jansson.h>

gint64 outbound_retry_delay(int attempts, int initial, int max)
{
  gint64 d = initial;
  for (int i = 1; i < attempts && d < max; i++) d *= 2;
  return MIN(d, (gint64) max);
}

static json_t *time_or_null(gint64 t)
{
  if (t <= 0) return json_null();
  char buf[32];
  ma_time_format(t, buf);
  return json_string(buf);
}

static json_t *string_or_null(const char *s)
{
  return s ? json_string(s) : json_null();
}

int outbound_event_emit(MaStorage *st, const char *event, const MaOutbound *m, const MaOutboundRecipient *r,
                        gint64 now, GError **error)
{
  return outbound_event_emit_with(st, event, m, r, NULL, now, error);
}

int outbound_event_emit_with(MaStorage *st, const char *event, const MaOutbound *m, const MaOutboundRecipient *r,
                             json_t *extra, gint64 now, GError **error)
{
  return outbound_event_emit_report(st, event, m, r, extra, NULL, now, error);
}

int outbound_event_emit_report(MaStorage *st, const char *event, const MaOutbound *m, const MaOutboundRecipient *r,
                               json_t *extra, const char *report, gint64 now, GError **error)
{
  g_autofree char *key = report ? g_strdup_printf("%s:%s:%" G_GINT64_FORMAT ":%d:%s", event, m->id, r->id, r->attempts, report)
                                : g_strdup_printf("%s:%s:%" G_GINT64_FORMAT ":%d", event, m->id, r->id, r->attempts);
  json_t *doc = json_object();
  json_object_set_new(doc, "outbound_id", json_string(m->id));
  json_object_set_new(doc, "message_id", string_or_null(m->message_id));
  json_object_set_new(doc, "recipient", json_string(r->address));
  json_object_set_new(doc, "state", json_string(ma_outbound_state_name(r->state)));
  json_object_set_new(doc, "reply", string_or_null(r->last_reply));
  json_object_set_new(doc, "attempts", json_integer(r->attempts));
  json_object_set_new(doc, "time", time_or_null(now));
  json_object_set_new(doc, "idempotency_key", json_string(key));
  if (extra) json_object_update(doc, extra);
  g_autofree char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  int rc = storage_outbox_add(st, m->enterprise_id, event, key, payload, now, error);
  return rc < 0 ? -1 : 0;
}

json_t *outbound_to_json(const MaOutbound *m)
{
  json_t *doc = json_object();
  json_object_set_new(doc, "id", json_string(m->id));
  json_object_set_new(doc, "enterprise_id", json_string(m->enterprise_id));
  json_object_set_new(doc, "type", json_string(m->type));
  json_object_set_new(doc, "channel", json_string(m->channel));
  json_object_set_new(doc, "employee", string_or_null(m->employee));
  json_object_set_new(doc, "mail_from", json_string(m->mail_from));
  json_object_set_new(doc, "from", string_or_null(m->header_from));
  json_object_set_new(doc, "subject", string_or_null(m->subject));
  json_object_set_new(doc, "message_id", string_or_null(m->message_id));
  json_object_set_new(doc, "size", json_integer(m->size));
  json_object_set_new(doc, "created_at", time_or_null(m->created_at));
  json_t *route = m->route_json ? json_loads(m->route_json, 0, NULL) : NULL;
  json_object_set_new(doc, "route", route ? route : json_null());
  json_t *records = m->records_json ? json_loads(m->records_json, 0, NULL) : NULL;
  json_object_set_new(doc, "records", records ? records : json_array());
  json_object_set_new(doc, "return_path", string_or_null(m->return_path));
  json_object_set_new(doc, "list_unsubscribe", json_boolean(m->list_unsubscribe));
  json_object_set_new(doc, "sent_copy", m->sent_copy_state ? json_pack("{s:s, s:o}", "state", m->sent_copy_state,
                                                                        "detail", string_or_null(m->sent_copy_detail))
                                                           : json_null());
  json_t *rcpts = json_array();
  for (guint i = 0; i < m->recipients->len; i++) {
    const MaOutboundRecipient *r = g_ptr_array_index(m->recipients, i);
    json_t *o = json_object();
    json_object_set_new(o, "address", json_string(r->address));
    json_object_set_new(o, "state", json_string(ma_outbound_state_name(r->state)));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_object_set_new(o, "reply", string_or_null(r->last_reply));
    json_object_set_new(o, "last_attempt_at", time_or_null(r->last_attempt_at));
    gboolean waits = r->state == MA_OUT_QUEUED || r->state == MA_OUT_DEFERRED;
    json_object_set_new(o, "next_attempt_at", waits ? time_or_null(r->next_attempt_at) : json_null());
    json_object_set_new(o, "updated_at", time_or_null(r->updated_at));
    json_t *own_route = r->route_json ? json_loads(r->route_json, 0, NULL) : NULL;
    if (own_route) json_object_set_new(o, "route", own_route);
    json_array_append_new(rcpts, o);
  }
  json_object_set_new(doc, "recipients", rcpts);
  return doc;
}
