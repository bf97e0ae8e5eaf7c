/* cli_queue.c - `mailagent queue list|show|retry|hold|release|delete`: the outbound queue for the
 * operator (what postqueue -p and postsuper are to Postfix), across every enterprise unless one is
 * named. Changes are storage writes the running `serve` sees at its next scan (within a second).
 */
#include "cli.h"

#include "agent/lib/clock.h"
#include "agent/outbound/outbound.h"

#include <stdio.h>
#include <string.h>

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *state_name = NULL, *cursor = NULL;
  int limit = 100;
  GOptionEntry entries[] = {
    {"state", 0, 0, G_OPTION_ARG_STRING, &state_name, "Only messages with a recipient in this state", "STATE"},
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "At most N messages (default 100)", "N"},
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &cursor, "Continue after this message id", "ID"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("queue list", "[ENTERPRISE]",
    "List queued messages (oldest first) with each recipient's state.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 0, 1, "mailagent queue list [ENTERPRISE] [--state S] [--limit N]")) >= 0) return rc;
  MaOutboundState state = MA_OUT_QUEUED;
  if (state_name && ma_outbound_state_parse(state_name, &state) < 0)
    return cli_usage_error("--state: one of queued, sending, sent, deferred, bounced, expired, held, suppressed");
  if (limit < 1 || limit > 10000) return cli_usage_error("--limit: 1 to 10000");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if (argc == 2) {
    if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  } else if ((rc = cli_open(&common, &cfg, &st)) != 0) {
    return rc;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbound_free);
  rc = storage_outbound_list(st, ent ? ent->id : NULL, state_name ? (int) state : -1, cursor, limit + 1, list, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("queue list", error);
  const char *next = list->len > (guint) limit ? ((MaOutbound *) g_ptr_array_index(list, limit - 1))->id : NULL;
  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < list->len && i < (guint) limit; i++)
      json_array_append_new(items, outbound_to_json(g_ptr_array_index(list, i)));
    json_t *page = json_object();
    json_object_set_new(page, "items", items);
    json_object_set_new(page, "next_cursor", next ? json_string(next) : json_null());
    cli_print_json(page, FALSE);
    return 0;
  }
  if (list->len == 0) {
    printf("queue is empty\n");
    return 0;
  }
  for (guint i = 0; i < list->len && i < (guint) limit; i++) {
    const MaOutbound *m = g_ptr_array_index(list, i);
    char created[32];
    ma_time_format(m->created_at, created);
    printf("%s  %s  %" G_GINT64_FORMAT " bytes  from=<%s>\n", m->id, created, m->size, m->mail_from);
    for (guint k = 0; k < m->recipients->len; k++) {
      const MaOutboundRecipient *r = g_ptr_array_index(m->recipients, k);
      printf("    %-9s %s%s%s\n", ma_outbound_state_name(r->state), r->address, r->last_reply ? "  " : "",
             r->last_reply ? r->last_reply : "");
    }
  }
  if (next) printf("more: --cursor %s\n", next);
  return 0;
}

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("queue show", "ID", "Show one queued message and every recipient's state.",
                                              &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent queue show ID [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaOutbound *m = NULL;
  rc = storage_outbound_get(st, NULL, argv[1], &m, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail("queue show", error);
  if (rc == 0) return cli_usage_error("no queued message %s", argv[1]);
  json_t *doc = outbound_to_json(m);
  if (common.json) {
    cli_print_json(doc, FALSE);
  } else {
    char *text = json_dumps(doc, JSON_INDENT(2));
    printf("%s\n", text);
    free(text);
    json_decref(doc);
  }
  ma_outbound_free(m);
  return 0;
}

static int operate(int argc, char **argv, const char *name, MaOutboundOp op, const char *summary)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *prg = g_strdup_printf("queue %s", name);
  g_autoptr(GOptionContext) ctx = cli_context(prg, "ID", summary, &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  g_autofree char *usage = g_strdup_printf("mailagent queue %s ID", name);
  if ((rc = cli_positional(argc, argv, 1, 1, usage)) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  int changed = 0;
  rc = storage_outbound_operate(st, NULL, argv[1], op, ma_now(), &changed, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail(prg, error);
  if (op == MA_OUT_OP_DELETE) printf("deleted %s\n", argv[1]);
  else printf("%s: %d recipient(s) changed\n", argv[1], changed);
  return 0;
}

static int cmd_retry(int argc, char **argv)
{
  return operate(argc, argv, "retry", MA_OUT_OP_RETRY, "Make the message's waiting recipients due now.");
}

static int cmd_hold(int argc, char **argv)
{
  return operate(argc, argv, "hold", MA_OUT_OP_HOLD, "Hold the message's queued and deferred recipients.");
}

static int cmd_release(int argc, char **argv)
{
  return operate(argc, argv, "release", MA_OUT_OP_RELEASE, "Release held recipients (due now).");
}

static int cmd_delete(int argc, char **argv)
{
  return operate(argc, argv, "delete", MA_OUT_OP_DELETE, "Delete the message from the queue, whatever its state.");
}

int cli_queue(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"list", cmd_list, "list queued messages and their recipients' states"},
    {"show", cmd_show, "show one message"},
    {"retry", cmd_retry, "retry waiting recipients now"},
    {"hold", cmd_hold, "hold a message"},
    {"release", cmd_release, "release a held message"},
    {"delete", cmd_delete, "delete a message from the queue"},
  };
  return cli_dispatch("queue", subs, G_N_ELEMENTS(subs), argc, argv);
}
