/* outbound_delivery_relay.c - the delivery thread's part for enterprise relays' daily limits (issue
 * 13: "each recipient delivered through the relay counts one"). Before a connection to a relay
 * starts, its job's recipients are reserved against the relay's limit on the enterprise's calendar
 * day (storage_relay_reserve: the room is read and taken in one write, so connections in flight
 * never overshoot); those beyond it fall back to the default path like a failed relay (rule 4 of
 * docs/routing.md; not a failure of the relay). A reserved recipient the relay did not accept
 * (250 to RCPT and DATA accepted) gives its place back in the transaction that records its outcome
 * (outbound_delivery_outcome.c), so the count is what was delivered. Runs on the delivery thread
 * (outbound_delivery.c), whose types it shares.
 */
#include "outbound_delivery_internal.h"

#include "agent/tenant/settings.h"

gboolean delivery_relay_admit(Engine *e, Job *j)
{
  const RelayTarget *t = j->dest->ent;
  g_autoptr(GError) error = NULL;
  g_autofree char *tz = NULL;
  if (settings_get(e->st, e->cfg, t->enterprise_id, "timezone", &tz, &error) < 0) {
    delivery_fail_job(e, j, SMTP_OUTCOME_TEMP, "cannot read the enterprise's time zone (storage)");
    return FALSE;
  }
  relay_day(ma_now(), tz, j->day, NULL);
  int granted = 0;
  if (storage_relay_reserve(e->st, t->enterprise_id, t->relay_id, j->day, t->daily_limit, (int) j->rcpts->len, &granted,
                            &error) < 0) {
    ma_error("outbound", "%s: relay %s: cannot count its daily limit: %s", j->msg->id, t->name, error->message);
    delivery_fail_job(e, j, SMTP_OUTCOME_TEMP, "cannot count the relay's daily limit (storage)");
    return FALSE;
  }
  j->reserved = granted;
  if ((guint) granted == j->rcpts->len) return TRUE;
  /* the tail goes back through rule 4: the relay's limit, not its failure */
  for (guint k = (guint) granted; k < j->rcpts->len; k++) {
    Outcome *o = g_new0(Outcome, 1);
    o->msg = delivery_job_msg_copy(j->msg);
    o->r = g_ptr_array_index(j->rcpts, k);
    g_ptr_array_index(j->rcpts, k) = NULL;
    o->outcome = SMTP_OUTCOME_TEMP;
    o->fallback_from = g_strdup(t->relay_id);
    o->over_limit = TRUE;
    g_snprintf(o->reply, sizeof o->reply, "relay %s reached its daily limit (%" G_GINT64_FORMAT " on %s)", t->name,
               t->daily_limit, j->day);
    ma_info("outbound", "%s to=<%s> %s", j->msg->id, o->r->address, o->reply);
    g_ptr_array_add(e->outcomes, o);
  }
  event_active(e->flush_ev, EV_TIMEOUT, 1);
  g_ptr_array_set_size(j->rcpts, granted); /* the tail is NULL now */
  if (granted == 0) {
    delivery_job_free(j);
    return FALSE;
  }
  return TRUE;
}
