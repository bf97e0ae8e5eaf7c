/* outbound_notice.c - mail that mailagent itself writes to an enterprise's administrators (today:
 * "relay suspended"), queued to the enterprise's `admin_email` setting through the default path.
 * The From is mailagent's own address (postmaster@[smtp] hostname), so the notice depends on no
 * customer domain's DMARC; it skips routing (there is nothing to choose) and DKIM (not a customer
 * domain). Queued inside the caller's transaction, delivered like any queued message.
 */
#include "outbound_internal.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/tenant/settings.h"

#include <string.h>

void outbound_relay_suspended_notice(MaStorage *st, const MaConfig *cfg, const char *enterprise_id,
                                     const char *relay_id, const char *why, gint64 now)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *to = NULL;
  if (settings_get(st, cfg, enterprise_id, "admin_email", &to, &error) < 0 || !to || !*to) {
    ma_warn("outbound", "%s: relay %s suspended; no admin_email setting to warn (%s)", enterprise_id, relay_id,
            error ? error->message : "unset");
    return;
  }
  g_autoptr(MaRelay) r = NULL;
  if (storage_relay_get(st, enterprise_id, relay_id, &r, &error) <= 0) return;
  char until[32];
  ma_time_format(r->suspended_until, until);
  g_autofree char *from = g_strdup_printf("mailagent <postmaster@%s>", cfg->hostname);
  g_autofree char *subject = g_strdup_printf("mailagent: relay %s suspended until %s", r->name, until);
  g_autofree char *text = g_strdup_printf(
    "Your enterprise relay %s (%s:%d) failed three sessions today and is suspended until %s.\n"
    "Mail that would have used it takes the default path meanwhile, when its From domain may.\n\n"
    "Last failure: %s\n\nCheck it with: mailagent relay test <enterprise> %s\n",
    r->name, r->host, r->port, until, why, r->name);
  g_autoptr(GPtrArray) rcpts = g_ptr_array_new();
  g_ptr_array_add(rcpts, to);
  OutboundRequest req = {.type = "workflow", .from = from, .to = rcpts, .subject = subject, .text = text};
  OutboundMessage msg;
  if (outbound_message_compose(&req, cfg->hostname, now, &msg, &error) < 0) {
    ma_error("outbound", "%s: cannot write the relay notice: %s", enterprise_id, error->message);
    return;
  }
  MaOutbound *m = ma_outbound_new();
  m->id = ma_id_new();
  m->enterprise_id = g_strdup(enterprise_id);
  m->type = g_strdup("workflow");
  m->channel = g_strdup("mailagent_relay");
  m->mail_from = g_strdup("");      /* a notice is never bounced back to anyone */
  m->header_from = g_strdup(msg.header_from);
  m->subject = g_strdup(msg.subject);
  m->message_id = g_strdup(msg.message_id);
  m->size = msg.raw->len;
  m->created_at = now;
  json_t *route = json_pack("{s:n,s:[{s:s,s:n,s:n,s:n,s:s,s:[s]}],s:[]}", "decided_at", "groups", "channel",
                            "mailagent_relay", "relay", "mailbox_id", "filter", "reason",
                            "a notice of mailagent to the enterprise's admin_email: the default path", "recipients", to,
                            "fallbacks");
  m->route_json = json_dumps(route, JSON_COMPACT);
  json_decref(route);
  MaOutboundRecipient *rr = g_new0(MaOutboundRecipient, 1);
  rr->address = g_strdup(to);
  rr->state = MA_OUT_QUEUED;
  g_ptr_array_add(m->recipients, rr);
  char sha[65];
  g_autofree char *prior_hash = NULL, *prior_response = NULL;
  if (storage_blob_put(st, msg.raw->data, msg.raw->len, sha, &error) == 0) {
    m->raw_sha256 = g_strdup(sha);
    storage_outbound_enqueue(st, m, NULL, NULL, "{}", now, &prior_hash, &prior_response, &error);
  }
  if (error) ma_error("outbound", "%s: cannot queue the relay notice: %s", enterprise_id, error->message);
  else ma_info("outbound", "%s: relay %s suspended: notice %s queued to %s", enterprise_id, r->name, m->id, to);
  outbound_message_clear(&msg);
  ma_outbound_free(m);
}
