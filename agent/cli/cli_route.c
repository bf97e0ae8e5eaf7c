/* cli_route.c - `mailagent route explain ENTERPRISE --from A --to B [--type T] [--channel C]
 * [--employee E]`: which channel a message would take and why, by the same code that routes a
 * message when it is queued (relay_plan_decide): every filter passed over and why, the filter of
 * the relay that matched, the limit left today, or the reason mail would be refused. Reads only.
 * `route status` and `route resume` show and lift the enterprise's suspension from mailagent's own
 * delivery path (the shared relay's reputation, relay_reputation.c).
 */
#include "cli.h"

#include "agent/lib/clock.h"
#include "agent/relay/relay.h"

#include <stdio.h>
#include <string.h>

static int cmd_explain(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *from = NULL, *type = NULL, *channel = NULL, *employee = NULL;
  g_auto(GStrv) to = NULL;
  GOptionEntry entries[] = {
    {"from", 0, 0, G_OPTION_ARG_STRING, &from, "The From address", "ADDR"},
    {"to", 0, 0, G_OPTION_ARG_STRING_ARRAY, &to, "A recipient (repeat)", "ADDR"},
    {"type", 0, 0, G_OPTION_ARG_STRING, &type, "workflow, mass or individual (default individual)", "T"},
    {"channel", 0, 0, G_OPTION_ARG_STRING, &channel, "auto (default), employee_mailbox, enterprise_relay, mailagent_relay", "C"},
    {"employee", 0, 0, G_OPTION_ARG_STRING, &employee, "On whose behalf (id or address)", "E"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("route explain", "ENTERPRISE",
    "Explain the route a message would take (docs/routing.md), without queueing anything.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 1, 1, "mailagent route explain ENTERPRISE --from A --to B [--type T]");
  if (rc >= 0) return rc;
  if (!from || !strchr(from, '@')) return cli_usage_error("--from: the From address is needed");
  if (!to || !to[0]) return cli_usage_error("--to: at least one recipient");
  if (type && strcmp(type, "workflow") && strcmp(type, "mass") && strcmp(type, "individual"))
    return cli_usage_error("--type: workflow, mass or individual");
  if (channel && strcmp(channel, "auto") && strcmp(channel, "employee_mailbox") && strcmp(channel, "enterprise_relay") &&
      strcmp(channel, "mailagent_relay"))
    return cli_usage_error("--channel: auto, employee_mailbox, enterprise_relay or mailagent_relay");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  RelayPlanRequest req = {.enterprise_id = ent->id, .type = type ? type : "individual", .channel = channel,
                          .from = from, .employee = employee, .rcpts = (const char *const *) to,
                          .n_rcpts = g_strv_length(to)};
  g_autoptr(GError) error = NULL;
  g_autoptr(RelayPlan) plan = NULL;
  rc = relay_plan_decide(st, cfg, &req, ma_now(), &plan, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("route explain", error);
  if (common.json) {
    json_t *doc = relay_route_to_json(plan->groups, ma_now());
    json_object_del(doc, "fallbacks");
    json_t *skipped = json_array();
    for (guint i = 0; i < plan->skipped->len; i++) json_array_append_new(skipped, json_string(g_ptr_array_index(plan->skipped, i)));
    json_object_set_new(doc, "passed_over", skipped);
    json_t *relays = json_array();
    for (guint i = 0; i < plan->relays->len; i++)
      json_array_append_new(relays, relay_to_json(g_ptr_array_index(plan->relays, i), g_array_index(plan->used_today, gint64, i)));
    json_object_set_new(doc, "relays", relays);
    json_object_set_new(doc, "day", json_string(plan->day));
    json_object_set_new(doc, "timezone", json_string(plan->timezone));
    cli_print_json(doc, FALSE);
    return relay_plan_refusal(plan) ? 1 : 0;
  }
  printf("day %s (%s)\n", plan->day, plan->timezone);
  for (guint i = 0; i < plan->skipped->len; i++) printf("passed over: %s\n", (char *) g_ptr_array_index(plan->skipped, i));
  for (guint i = 0; i < plan->groups->len; i++) {
    const RelayRouteGroup *g = g_ptr_array_index(plan->groups, i);
    g_autofree char *rcpts = NULL;
    g_ptr_array_add(g->rcpts, NULL);
    rcpts = g_strjoinv(", ", (char **) g->rcpts->pdata);
    g_ptr_array_set_size(g->rcpts, g->rcpts->len - 1);
    printf("%s -> %s\n", rcpts, g->channel ? g->channel : "REFUSED");
    if (g->relay_id) {
      for (guint k = 0; k < plan->relays->len; k++) {
        const MaRelay *r = g_ptr_array_index(plan->relays, k);
        if (strcmp(r->id, g->relay_id) != 0) continue;
        gint64 used = g_array_index(plan->used_today, gint64, k);
        printf("  relay %s (%s:%d), filter priority %d: from %s to %s\n", r->name, r->host, r->port, g->filter_priority,
               g->filter_sender, g->filter_patterns ? g->filter_patterns : "any recipient");
        if (r->daily_limit > 0)
          printf("  limit left today: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " (before this message)\n",
                 MAX(0, r->daily_limit - used), r->daily_limit);
        else
          printf("  limit left today: no daily limit\n");
      }
    }
    if (g->mailbox_id) printf("  mailbox %s\n", g->mailbox_id);
    printf("  why: %s\n", g->reason);
  }
  return relay_plan_refusal(plan) ? 1 : 0;
}

/* The shared relay's state for the enterprise: suspension, quotas used, bounce rate. */
static int cmd_status(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("route status", "ENTERPRISE",
    "Show the enterprise's use of mailagent's own delivery path: suspension, recipients in the last hour, "
    "bounce and complaint rates over the last 1,000.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 1, 1, "mailagent route status ENTERPRISE [--json]");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  gint64 since = 0, hour = 0, total = 0, bounced = 0, complained = 0, now = ma_now();
  g_autofree char *reason = NULL;
  int suspended = storage_default_path_suspension(st, ent->id, &since, &reason, &error);
  if (suspended >= 0 && storage_default_path_count(st, ent->id, now - 3599, &hour, &error) == 0 &&
      storage_default_path_rates(st, ent->id, RELAY_REPUTATION_WINDOW, &total, &bounced, &complained, &error) == 0)
    rc = 0;
  else
    rc = -1;
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("route status", error);
  char at[32] = "";
  if (suspended > 0) ma_time_format(since, at);
  if (common.json) {
    cli_print_json(json_pack("{s:b,s:s?,s:s?,s:I,s:I,s:I,s:I}", "suspended", suspended > 0, "since",
                             suspended > 0 ? at : NULL, "reason", reason, "recipients_last_hour", (json_int_t) hour,
                             "recent_recipients", (json_int_t) total, "recent_bounced", (json_int_t) bounced,
                             "recent_complained", (json_int_t) complained),
                   FALSE);
    return 0;
  }
  printf("mailagent's own delivery: %s%s%s%s\n", suspended > 0 ? "SUSPENDED since " : "open", at,
         reason ? ": " : "", reason ? reason : "");
  printf("  recipients in the last hour: %" G_GINT64_FORMAT "\n", hour);
  printf("  last %" G_GINT64_FORMAT " recipients: %" G_GINT64_FORMAT " bounced (suspension above %d%%), %" G_GINT64_FORMAT
         " complained (suspension above %d.%d%%)\n",
         total, bounced, RELAY_MAX_BOUNCE_PERCENT, complained, RELAY_MAX_COMPLAINT_PERMILLE / 10,
         RELAY_MAX_COMPLAINT_PERMILLE % 10);
  return 0;
}

static int cmd_resume(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("route resume", "ENTERPRISE",
    "Lift the suspension of the enterprise's use of mailagent's own delivery path.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc < 0) rc = cli_positional(argc, argv, 1, 1, "mailagent route resume ENTERPRISE");
  if (rc >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  rc = storage_default_path_resume(st, ent->id, ma_now(), &error);
  if (rc > 0) cli_audit(st, ent->id, "route.resume", ent->id, NULL, NULL);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("route resume", error);
  printf(rc > 0 ? "resumed: the enterprise may use mailagent's own delivery again\n" : "it was not suspended\n");
  return 0;
}

int cli_route(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"explain", cmd_explain, "explain which channel a message would take, and why"},
    {"status", cmd_status, "the enterprise's use of mailagent's own delivery path: suspension, quotas, bounces"},
    {"resume", cmd_resume, "lift the suspension of the enterprise's use of mailagent's own delivery path"},
  };
  return cli_dispatch("route", subs, G_N_ELEMENTS(subs), argc, argv);
}
