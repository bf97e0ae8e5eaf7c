/* cli_suppression.c - `mailagent suppression list|add|remove|import ENTERPRISE`: the addresses an
 * enterprise no longer sends to (hard bounces, complaints, unsubscribes, five soft bounces in a
 * row within 7 days, and operators' entries). Submission to a listed address queues the recipient
 * as suppressed, never attempted. The JSON matches GET /v1/suppressions.
 */
#include "cli.h"

#include "agent/lib/clock.h"
#include "agent/outbound/outbound.h"

#include <stdio.h>
#include <string.h>

#define IMPORT_MAX (64 * 1024 * 1024)

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *after = NULL;
  int limit = 1000;
  GOptionEntry entries[] = {
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &after, "Start after this address (a page's next_cursor)", "ADDRESS"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most N entries (1-10000, default 1000)", "N"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("suppression list", "ENTERPRISE",
    "List the enterprise's suppression list by address.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent suppression list ENTERPRISE [--cursor A] [--limit N] [--json]")) >= 0)
    return rc;
  if (limit < 1 || limit > 10000) return cli_usage_error("--limit: 1 to 10000");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_suppression_free);
  rc = storage_suppression_list(st, ent->id, after, limit + 1, list, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("suppression list", error);
  const char *next = NULL;
  if (list->len > (guint) limit) {
    g_ptr_array_set_size(list, (guint) limit);
    next = ((MaSuppression *) list->pdata[limit - 1])->address;
  }
  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < list->len; i++) json_array_append_new(items, outbound_suppression_json(list->pdata[i]));
    cli_print_json(json_pack("{s:o,s:s?}", "items", items, "next_cursor", next), FALSE);
    return 0;
  }
  if (list->len == 0) printf("no suppressed addresses\n");
  for (guint i = 0; i < list->len; i++) {
    const MaSuppression *s = list->pdata[i];
    char created[32];
    ma_time_format(s->created_at, created);
    printf("%-40s  %-13s  %s  %s\n", s->address, s->reason, created, s->detail ? s->detail : "");
  }
  if (next) printf("more: --cursor %s\n", next);
  return 0;
}

static int cmd_add(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *reason = NULL, *note = NULL;
  GOptionEntry entries[] = {
    {"reason", 0, 0, G_OPTION_ARG_STRING, &reason,
     "manual (default), hard_bounce, complaint, unsubscribe or soft_bounces", "R"},
    {"note", 0, 0, G_OPTION_ARG_STRING, &note, "Why (shown as detail)", "TEXT"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("suppression add", "ENTERPRISE ADDRESS...",
    "Put addresses on the enterprise's suppression list.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 1000, "mailagent suppression add ENTERPRISE ADDRESS... [--reason R] [--note T]")) >= 0)
    return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  json_t *items = json_array();
  rc = 0;
  for (int i = 2; i < argc && rc == 0; i++) {
    g_autoptr(GError) error = NULL;
    int added = outbound_suppression_add(st, ent->id, argv[i], reason, note, &error);
    if (added < 0) {
      rc = cli_fail("suppression add", error);
      break;
    }
    cli_audit(st, ent->id, "suppression.add", argv[i], NULL, NULL);
    json_array_append_new(items, json_pack("{s:s,s:b}", "address", argv[i], "added", added > 0));
    if (!common.json) printf("%s %s\n", argv[i], added > 0 ? "suppressed" : "was suppressed already");
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc == 0 && common.json) cli_print_json(json_pack("{s:o}", "items", items), FALSE);
  else json_decref(items);
  return rc;
}

static int cmd_remove(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("suppression remove", "ENTERPRISE ADDRESS",
    "Take an address off the suppression list: mail to it is sent again (its soft-bounce count starts over).",
    &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent suppression remove ENTERPRISE ADDRESS")) >= 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autofree char *address = outbound_suppression_address(argv[2], &error);
  if (!address) return cli_usage_error("%s", error->message);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  rc = storage_suppression_remove(st, ent->id, address, &error);
  if (rc > 0) cli_audit(st, ent->id, "suppression.remove", address, NULL, NULL);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("suppression remove", error);
  if (rc == 0) return cli_usage_error("%s is not on the suppression list", address);
  if (common.json) cli_print_json(json_pack("{s:s,s:b}", "address", address, "removed", TRUE), FALSE);
  else printf("removed %s\n", address);
  return 0;
}

static int cmd_import(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("suppression import", "ENTERPRISE FILE|-",
    "Import addresses (one per line, or a CSV whose first column is the address; # comments) as manual "
    "suppressions. All or nothing: a bad line is named and nothing is imported.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent suppression import ENTERPRISE FILE|-")) >= 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  if (strcmp(argv[2], "-") == 0) {
    GString *g = g_string_new(NULL);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0 && g->len <= IMPORT_MAX) g_string_append_len(g, buf, (gssize) n);
    len = g->len;
    text = g_string_free(g, FALSE);
  } else if (!g_file_get_contents(argv[2], &text, &len, &error)) {
    return cli_fail("suppression import", error);
  }
  if (len > IMPORT_MAX) return cli_usage_error("the list is larger than %d bytes", IMPORT_MAX);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  guint added = 0, present = 0;
  rc = outbound_suppression_import(st, ent->id, text, len, &added, &present, &error);
  if (rc == 0) {
    cli_audit(st, ent->id, "suppression.import", argv[2],
              json_pack("{s:i,s:i}", "added", (int) added, "present", (int) present), NULL); /* takes the details */
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("suppression import", error);
  if (common.json) cli_print_json(json_pack("{s:i,s:i}", "added", (int) added, "present", (int) present), FALSE);
  else printf("%u added, %u already suppressed\n", added, present);
  return 0;
}

int cli_suppression(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"list", cmd_list, "list suppressed addresses"},
    {"add", cmd_add, "suppress addresses"},
    {"remove", cmd_remove, "take an address off the list"},
    {"import", cmd_import, "import a list of addresses"},
  };
  return cli_dispatch("suppression", subs, G_N_ELEMENTS(subs), argc, argv);
}
