/* api_health.c - GET /healthz and GET /metrics, the two resources that need no key.
 *
 * /healthz answers 200 {"status":"ok"} when the database answers, 503 otherwise. /metrics is the
 * Prometheus text format (version 0.0.4): the process counters of agent/lib/metrics plus the outbound queue by state, plus totals
 * read from storage (archived messages, activities, records, webhook backlog) and the timeline item
 * cache's hits, misses, evictions and size. Neither reveals any tenant's data: only process-wide
 * counts.
 */
#include "api_internal.h"
#include "agent/lib/clock.h"
#include "agent/lib/metrics.h"
#include "agent/version/version.h"
#include "rules/rules.h"

static void healthz_get(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  gint64 backlog = 0;

  if (!api_check_query(ctx, NULL))
    return;
  if (storage_outbox_backlog(ctx->st, &backlog, &error) < 0) {
    api_reply_json(ctx, 503, json_pack("{s:s,s:s}", "status", "unavailable", "storage", "not answering"));
    return;
  }
  api_reply_json(ctx, 200, json_pack("{s:s}", "status", "ok"));
}

static void metrics_get(ApiCtx *ctx)
{
  g_autoptr(GString) out = g_string_sized_new(4096);
  g_autoptr(GError) error = NULL;
  gint64 backlog = 0, messages = 0, activities = 0, records = 0;

  if (!api_check_query(ctx, NULL))
    return;
  ma_metrics_render(out);
  /* mailagent_build_info: constant 1, the versions as labels (values we produce, not a peer's) */
  json_t *libs = ma_version_libraries();
  g_string_append_printf(out, "# HELP mailagent_build_info mailagent's version and the libraries it runs with.\n"
                              "# TYPE mailagent_build_info gauge\nmailagent_build_info{version=\"%s\"", ma_version());
  gsize i;
  json_t *lib;
  json_array_foreach(libs, i, lib) {
    g_autofree char *label = g_ascii_strdown(json_string_value(json_object_get(lib, "name")), -1);
    g_string_append_printf(out, ",%s=\"%s\"", label, json_string_value(json_object_get(lib, "version")));
  }
  g_string_append(out, "} 1\n");
  json_decref(libs);
  g_string_append_printf(out, "# HELP mailagent_rules_regex_limit_hits_total Rule regexes stopped by their match limits.\n"
                              "# TYPE mailagent_rules_regex_limit_hits_total counter\n"
                              "mailagent_rules_regex_limit_hits_total %" G_GUINT64_FORMAT "\n",
                         rules_regex_limit_hits());
  ApiItemCacheStats items;
  api_item_cache_stats(ctx->srv->item_cache, &items);
  g_string_append_printf(out,
                         "# HELP mailagent_api_item_cache_hits_total Timeline items copied from the item cache.\n"
                         "# TYPE mailagent_api_item_cache_hits_total counter\n"
                         "mailagent_api_item_cache_hits_total %" G_GUINT64_FORMAT "\n"
                         "# HELP mailagent_api_item_cache_misses_total Timeline rows the item cache had not got.\n"
                         "# TYPE mailagent_api_item_cache_misses_total counter\n"
                         "mailagent_api_item_cache_misses_total %" G_GUINT64_FORMAT "\n"
                         "# HELP mailagent_api_item_cache_evictions_total Items dropped to stay under the bound.\n"
                         "# TYPE mailagent_api_item_cache_evictions_total counter\n"
                         "mailagent_api_item_cache_evictions_total %" G_GUINT64_FORMAT "\n"
                         "# HELP mailagent_api_item_cache_bytes Bytes the item cache holds (bound 8 MiB).\n"
                         "# TYPE mailagent_api_item_cache_bytes gauge\n"
                         "mailagent_api_item_cache_bytes %" G_GSIZE_FORMAT "\n",
                         items.hits, items.misses, items.evictions, items.bytes);
  if (storage_outbox_backlog(ctx->st, &backlog, &error) == 0)
    g_string_append_printf(out, "# HELP mailagent_webhook_backlog Webhook events waiting for delivery.\n"
                                "# TYPE mailagent_webhook_backlog gauge\nmailagent_webhook_backlog %" G_GINT64_FORMAT "\n",
                           backlog);
  g_clear_error(&error);
  gint64 dead = 0;
  if (storage_outbox_dead_count(ctx->st, &dead, &error) == 0)
    g_string_append_printf(out, "# HELP mailagent_webhook_dead Webhook events parked as dead, waiting for an operator.\n"
                                "# TYPE mailagent_webhook_dead gauge\nmailagent_webhook_dead %" G_GINT64_FORMAT "\n",
                           dead);
  g_clear_error(&error);
  if (storage_counts(ctx->st, &messages, &activities, &records, &error) == 0)
    g_string_append_printf(out,
                           "# HELP mailagent_archive_messages Messages in the archive (all enterprises).\n"
                           "# TYPE mailagent_archive_messages gauge\nmailagent_archive_messages %" G_GINT64_FORMAT "\n"
                           "# HELP mailagent_archive_activities Activities stored (all enterprises).\n"
                           "# TYPE mailagent_archive_activities gauge\nmailagent_archive_activities %" G_GINT64_FORMAT "\n"
                           "# HELP mailagent_records CRM records stored (all enterprises).\n"
                           "# TYPE mailagent_records gauge\nmailagent_records %" G_GINT64_FORMAT "\n",
                           messages, activities, records);
  g_clear_error(&error);
  gint64 by_state[MA_OUT__COUNT], oldest = 0;
  if (storage_outbound_stats(ctx->st, by_state, &oldest, &error) == 0) {
    g_string_append(out, "# HELP mailagent_outbound_recipients Outbound recipients by delivery state (sent, bounced and"
                         " expired count every delivery outcome so far).\n# TYPE mailagent_outbound_recipients gauge\n");
    for (int st = 0; st < MA_OUT__COUNT; st++)
      g_string_append_printf(out, "mailagent_outbound_recipients{state=\"%s\"} %" G_GINT64_FORMAT "\n",
                             ma_outbound_state_name((MaOutboundState) st), by_state[st]);
    g_string_append_printf(out, "# HELP mailagent_outbound_oldest_age_seconds Age of the oldest message with a recipient"
                                " not yet delivered (0 when none).\n# TYPE mailagent_outbound_oldest_age_seconds gauge\n"
                                "mailagent_outbound_oldest_age_seconds %" G_GINT64_FORMAT "\n",
                           oldest ? MAX(0, ma_now() - oldest) : 0);
  }
  g_clear_error(&error);
  g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  gint64 quarantined = 0;
  if (storage_mailbox_states(ctx->st, states, &quarantined, &error) == 0) {
    /* one series per state, not per mailbox: the addresses stay out of the metrics */
    g_string_append(out, "# HELP mailagent_mailboxes Bound mailboxes by state (active, failing, needs_reauth, paused...).\n"
                         "# TYPE mailagent_mailboxes gauge\n");
    g_autoptr(GList) names = g_list_sort(g_hash_table_get_keys(states), (GCompareFunc)g_strcmp0);
    for (GList *n = names; n; n = n->next)
      g_string_append_printf(out, "mailagent_mailboxes{state=\"%s\"} %d\n", (const char *)n->data,
                             GPOINTER_TO_INT(g_hash_table_lookup(states, n->data)));
    g_string_append_printf(out, "# HELP mailagent_mailbox_quarantined Messages of bound mailboxes in quarantine.\n"
                                "# TYPE mailagent_mailbox_quarantined gauge\nmailagent_mailbox_quarantined %" G_GINT64_FORMAT "\n",
                           quarantined);
  }
  api_reply_bytes(ctx, 200, "text/plain; version=0.0.4; charset=utf-8", out->str, out->len);
}

const ApiRoute api_health_routes[] = {
  {EVHTTP_REQ_GET, "/healthz", API_AUTH_NONE, healthz_get},
  {EVHTTP_REQ_GET, "/metrics", API_AUTH_NONE, metrics_get},
  {0},
};
