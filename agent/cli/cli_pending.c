/* cli_pending.c - `mailagent pending list ENTERPRISE` and `mailagent pending purge`: the pending
 * store of late re-matching (agent/pipeline/pending.h). list shows the mail held because no record
 * matched it: when it arrived, when it will be purged, why it was not archived and its external
 * participants (addresses only; never its text). purge deletes what is past its window now (serve
 * does so every second by itself). Held mail is archived by importing or changing the records it
 * matches (`mailagent records import`, PUT /v1/records/...).
 */
#include "cli.h"
#include "agent/codec/codec.h"

#include "agent/lib/clock.h"

#include <stdio.h>

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int limit = 100;
  GOptionEntry extra[] = {
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most N, newest first (default 100)", "N"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("pending list", "ENTERPRISE",
    "List the mail held for late re-matching: id, received, expires, why it was not archived, and its\n"
    "external participants.", &common, extra);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent pending list ENTERPRISE [--limit N] [--json]")) >= 0) return rc;
  if (limit < 1) return cli_usage_error("--limit must be at least 1");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func((GDestroyNotify) ma_pending_free);
  rc = storage_pending_list(st, ent->id, NULL, limit, held, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("pending list", error);
  json_t *items = json_array();
  for (guint i = 0; i < held->len; i++) {
    const MaPending *p = held->pdata[i];
    json_t *addrs = json_array();
    for (guint k = 0; k < p->addresses->len; k++) json_array_append_new(addrs, json_string(p->addresses->pdata[k]));
    json_array_append_new(items, json_pack("{s:s, s:o, s:o, s:s, s:s?, s:o}", "id", p->id, "received_at",
                                           codec_time(p->received_at), "expires_at", codec_time(p->expires_at), "reason",
                                           p->reason, "route", p->route, "participants", addrs));
  }
  if (common.json) {
    cli_print_json(json_pack("{s:o}", "items", items), FALSE);
    return 0;
  }
  if (json_array_size(items) == 0) printf("nothing held\n");
  size_t i;
  json_t *it;
  json_array_foreach(items, i, it) {
    g_autofree char *addrs = NULL;
    GString *s = g_string_new(NULL);
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(it, "participants"), k, a) g_string_append_printf(s, "%s%s", k ? ", " : "", json_string_value(a));
    addrs = g_string_free(s, FALSE);
    printf("%s  received %s  expires %s  %s: %s\n", json_string_value(json_object_get(it, "id")),
           json_string_value(json_object_get(it, "received_at")), json_string_value(json_object_get(it, "expires_at")),
           json_string_value(json_object_get(it, "reason")), addrs);
  }
  json_decref(items);
  return 0;
}

static int cmd_purge(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("pending purge", "",
    "Delete the held mail of every enterprise whose pending_days window has ended (serve does this by itself).",
    &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 0, 0, "mailagent pending purge [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  gint64 purged = 0;
  rc = storage_pending_purge(st, ma_now(), &purged, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail("pending purge", error);
  if (common.json)
    cli_print_json(json_pack("{s:I}", "purged", (json_int_t) purged), FALSE);
  else
    printf("%" G_GINT64_FORMAT " held message%s purged\n", purged, purged == 1 ? "" : "s");
  return 0;
}

int cli_pending(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"list", cmd_list, "list the mail held for late re-matching, and why"},
    {"purge", cmd_purge, "delete held mail past its pending_days window now"},
  };
  return cli_dispatch("pending", subs, G_N_ELEMENTS(subs), argc, argv);
}
