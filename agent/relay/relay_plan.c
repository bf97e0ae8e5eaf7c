/* relay_plan.c - gathers what the routing decision needs for one message and decides: the
 * enterprise's relays with today's counters (its calendar day in its `timezone`), the settings
 * `employee_channels`, the employee's default sending mailbox (the one chosen with `channel
 * default-mailbox` while it is active, else the oldest active mailbox bound to them; only a mailbox
 * with an SMTP server whose address is the From), and whether the From domain may use the default path (the verified domain scope
 * of agent/domains; with [relay] default_path_scope = any, every domain of the enterprise unless
 * channel mailagent_relay is asked for by name). Queueing, fallback
 * and `mailagent route explain` all call relay_plan_decide, so they cannot disagree.
 *
 * The shared relay's quotas and suspension (relay_reputation.c) close the default path for the
 * enterprise when they say so. Storage reads only, except relay_plan_reserve, which records the
 * default-path recipients in the shared relay's log inside the caller's transaction (the one that
 * queues the message). A relay's daily count is its delivered and in-flight recipients (the
 * delivery thread reserves them), so routing sends mail to a relay while that count is under its
 * limit and the delivery thread sends the overflow of a busy day to the default path.
 */
#include "relay.h"

#include "agent/domains/domains.h"
#include "agent/tenant/settings.h"

#include <string.h>

void relay_plan_free(RelayPlan *p)
{
  if (!p) return;
  if (p->groups) g_ptr_array_unref(p->groups);
  if (p->skipped) g_ptr_array_unref(p->skipped);
  if (p->relays) g_ptr_array_unref(p->relays);
  if (p->used_today) g_array_unref(p->used_today);
  g_free(p->day);
  g_free(p->timezone);
  g_free(p);
}

/* The employee's default sending mailbox for from (relay_employee_send_mailbox), newly allocated,
 * or NULL; -1 on a storage error. */
static int employee_mailbox(MaStorage *st, const char *enterprise_id, const char *employee, const char *from,
                            char **id_r, GError **error)
{
  *id_r = NULL;
  g_autofree char *lower = g_ascii_strdown(employee, -1);
  MaEmployee *emp = NULL;
  int rc = storage_employee_find(st, enterprise_id, lower, &emp, error);
  if (rc <= 0) return rc;
  rc = relay_employee_send_mailbox(st, enterprise_id, emp, from, id_r, NULL, error);
  ma_employee_free(emp);
  return rc;
}

int relay_plan_decide(MaStorage *st, const MaConfig *cfg, const RelayPlanRequest *req, gint64 now, RelayPlan **out,
                      GError **error)
{
  *out = NULL;
  g_autoptr(RelayPlan) p = g_new0(RelayPlan, 1);
  p->groups = g_ptr_array_new_with_free_func((GDestroyNotify) relay_route_group_free);
  p->skipped = g_ptr_array_new_with_free_func(g_free);
  p->relays = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  p->used_today = g_array_new(FALSE, TRUE, sizeof(gint64));
  g_autofree char *channels = NULL;
  if (settings_get(st, cfg, req->enterprise_id, "timezone", &p->timezone, error) < 0 ||
      settings_get(st, cfg, req->enterprise_id, "employee_channels", &channels, error) < 0)
    return -1;
  char day[16];
  relay_day(now, p->timezone, day, NULL);
  p->day = g_strdup(day);
  if (storage_relay_list(st, req->enterprise_id, p->relays, error) < 0) return -1;
  g_autoptr(GPtrArray) cands = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < p->relays->len; i++) {
    RelayCandidate *c = g_new0(RelayCandidate, 1);
    c->relay = g_ptr_array_index(p->relays, i);
    int failures = 0;
    gint64 last = 0;
    if (storage_relay_usage(st, req->enterprise_id, c->relay->id, day, &c->used_today, &failures, &last, error) < 0) {
      g_free(c);
      return -1;
    }
    c->suspended = relay_is_suspended(c->relay, now);
    g_array_append_val(p->used_today, c->used_today);
    g_ptr_array_add(cands, c);
  }
  g_autofree char *mailbox_id = NULL;
  if (req->employee && employee_mailbox(st, req->enterprise_id, req->employee, req->from, &mailbox_id, error) < 0) return -1;
  const char *at = strrchr(req->from, '@');
  g_autofree char *from_domain = g_ascii_strdown(at ? at + 1 : "", -1);
  g_autofree char *scope_reason = NULL;
  int in_scope = ma_domains_may_send(st, req->enterprise_id, from_domain, &scope_reason, error);
  if (in_scope < 0) return -1;
  /* [relay] default_path_scope = any opens the automatic default path to every domain of the
   * enterprise; channel mailagent_relay asked for by name always needs the verified scope */
  if (in_scope == 0 && g_strcmp0(cfg->relay_default_path_scope, "any") == 0 && g_strcmp0(req->channel, "mailagent_relay") != 0)
    in_scope = 1;
  RelayRouteInput in = {.type = req->type, .channel = req->channel, .from_domain = from_domain,
                        .employee = req->employee, .employee_mailbox_id = mailbox_id,
                        .employee_channels = channels, .relays = cands, .default_path_ok = in_scope > 0,
                        .default_path_reason = scope_reason, .rcpts = req->rcpts, .n_rcpts = req->n_rcpts};
  relay_route_decide(&in, p->groups, p->skipped);
  /* the shared relay's quotas and suspension: the default-path groups are refused when it is closed */
  guint n_default = 0;
  for (guint i = 0; i < p->groups->len; i++) {
    const RelayRouteGroup *g = g_ptr_array_index(p->groups, i);
    if (g_strcmp0(g->channel, "mailagent_relay") == 0) n_default += g->rcpts->len;
  }
  g_autofree char *closed = NULL;
  if (n_default > 0 && relay_reputation_check(st, cfg, req->enterprise_id, p->timezone, now, n_default, &closed, error) < 0)
    return -1;
  for (guint i = 0; closed && i < p->groups->len; i++) {
    RelayRouteGroup *g = g_ptr_array_index(p->groups, i);
    if (g_strcmp0(g->channel, "mailagent_relay") != 0) continue;
    g_clear_pointer(&g->channel, g_free);
    char *reason = g_strdup_printf("%s; but %s", g->reason, closed);
    g_free(g->reason);
    g->reason = reason;
  }
  *out = g_steal_pointer(&p);
  return 0;
}

int relay_plan_reserve(MaStorage *st, const char *enterprise_id, const char *outbound_id, const RelayPlan *p,
                       gint64 now, GError **error)
{
  /* a relay's daily count moves at delivery (the delivery thread reserves, then keeps what was
   * delivered), not here */
  return relay_reputation_record(st, enterprise_id, outbound_id, p->groups, now, error);
}

const char *relay_plan_refusal(const RelayPlan *p)
{
  for (guint i = 0; i < p->groups->len; i++) {
    const RelayRouteGroup *g = g_ptr_array_index(p->groups, i);
    if (!g->channel) return g->reason;
  }
  return NULL;
}
