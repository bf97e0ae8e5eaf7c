/* outbound_unsubscribe.c - a recipient of mass mail unsubscribes, by the one-click POST of RFC 8058
 * to the List-Unsubscribe URL or by mail to the List-Unsubscribe mailto address; both carry the
 * unsubscribe token of its recipient row (agent/bounce/bounce_verp.h), verified by the caller.
 * The address goes on the enterprise's suppression list and recipient.unsubscribed is emitted in
 * the same transaction, once per recipient row however often the link is followed.
 */
#include "outbound.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"

#include <jansson.h>

int outbound_unsubscribe(MaStorage *st, gint64 row_id, const char *via, GError **error)
{
  MaOutboundRecipient *r = NULL;
  int rc = storage_outbound_recipient_get(st, NULL, row_id, &r, error);
  if (rc <= 0) return rc;
  gint64 now = ma_now();
  g_autofree char *address = g_ascii_strdown(r->address, -1);
  g_autofree char *key = g_strdup_printf("recipient.unsubscribed:%s:%" G_GINT64_FORMAT, r->outbound_id, r->id);
  char at[32];
  ma_time_format(now, at);
  json_t *doc = json_object();
  json_object_set_new(doc, "address", json_string(address));
  json_object_set_new(doc, "outbound_id", json_string(r->outbound_id));
  json_object_set_new(doc, "via", json_string(via));
  json_object_set_new(doc, "time", json_string(at));
  json_object_set_new(doc, "idempotency_key", json_string(key));
  g_autofree char *payload = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  MaSuppression s = {.enterprise_id = r->enterprise_id, .address = address, .reason = "unsubscribe",
                     .detail = (char *) via, .source = r->outbound_id, .created_at = now};
  rc = storage_begin(st, error);
  int added = 0;
  if (rc == 0 && (added = storage_suppression_add(st, &s, error)) < 0) rc = -1;
  if (rc == 0 && storage_outbox_add(st, r->enterprise_id, "recipient.unsubscribed", key, payload, now, error) < 0) rc = -1;
  if (rc == 0) rc = storage_commit(st, error);
  else storage_rollback(st);
  if (rc == 0)
    ma_info("bounce", "enterprise=%s address=<%s> unsubscribed via=%s outbound=%s%s", r->enterprise_id, address, via,
            r->outbound_id, added ? "" : " (already suppressed)");
  ma_outbound_recipient_free(r);
  return rc < 0 ? -1 : 1;
}
