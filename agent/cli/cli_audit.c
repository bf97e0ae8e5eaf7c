/* cli_audit.c - `mailagent audit [ENTERPRISE|--admin]`: the audit log of administrative changes
 * (who, through which key or the CLI, what, when), newest first, as GET /v1/audit shows it. Without
 * an argument every entry; ENTERPRISE: that enterprise's. Entries hold no secret.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <stdio.h>
#include <string.h>

int cli_audit_log(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int limit = 50;
  g_autofree char *cursor = NULL;
  GOptionEntry entries[] = {
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "Entries per page (1-1000, default 50)", "N"},
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &cursor, "Continue after a previous page", "C"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("audit", "[ENTERPRISE]",
    "Show the audit log of administrative changes, newest first: when, who (cli:<user> or apikey:<id>), "
    "what, on what.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 0, 1, "mailagent audit [ENTERPRISE] [--limit N] [--cursor C]")) >= 0) return rc;
  if (limit < 1 || limit > 1000) return cli_usage_error("--limit: 1 to 1000");
  gint64 before = cursor ? codec_seq_parse(cursor) : 0;
  if (cursor && !before) return cli_usage_error("--cursor: not a cursor this command printed");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if (argc == 2) rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent);
  else rc = cli_open(&common, &cfg, &st);
  if (rc != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_audit_entry_free);
  rc = storage_audit_list(st, ent ? ent->id : NULL, before, limit + 1, items, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("audit", error);
  g_autofree char *next = codec_seq_page_trim(items, (guint) limit, ma_audit_entry_seq);
  if (common.json) {
    json_t *arr = json_array();
    for (guint i = 0; i < items->len; i++) json_array_append_new(arr, codec_audit_entry_to_json(items->pdata[i]));
    cli_print_json(codec_page(arr, next), FALSE);
    return 0;
  }
  printf("%-20s  %-22s  %-24s  %-20s  %-20s  %s\n", "AT", "ACTOR", "ACTION", "ENTERPRISE", "TARGET", "DETAILS");
  for (guint i = 0; i < items->len; i++) {
    const MaAuditEntry *e = items->pdata[i];
    char when[32];
    ma_time_format(e->at, when);
    printf("%-20s  %-22s  %-24s  %-20s  %-20s  %s\n", when, e->actor, e->action, e->enterprise_id ? e->enterprise_id : "-",
           e->target ? e->target : "-", e->details ? e->details : "");
  }
  if (next) printf("more: --cursor %s\n", next);
  return 0;
}
