/* cli_webhook.c - `mailagent webhook dead list|show|retry|purge`: webhook events the sender parked
 * after their last attempt ([webhook] max_attempts), for the operator to look at once the CRM's
 * endpoint works again. `retry` requeues (attempts start again, due now; a running `serve` picks
 * them up at its next pass), `purge` gives them up for good (kept, so a replayed pipeline step still
 * cannot emit them twice, but no longer listed). Works beside a running `serve`. Nothing here prints
 * a message body: payloads hold ids and metadata.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Opens storage and resolves the optional ENTERPRISE to its id (NULL: all). 0, or the exit status
 * after printing why; on failure nothing is open. */
static int open_scope(const CliCommon *common, const char *enterprise, MaConfig **cfg, MaStorage **st,
                      char **enterprise_id)
{
  *enterprise_id = NULL;
  if (!enterprise) return cli_open(common, cfg, st);
  MaEnterprise *ent = NULL;
  int rc = cli_open_enterprise(common, enterprise, cfg, st, &ent);
  if (rc != 0) return rc;
  *enterprise_id = g_strdup(ent->id);
  ma_enterprise_free(ent);
  return 0;
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int limit = 100;
  g_autofree char *cursor = NULL;
  GOptionEntry entries[] = {
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "Events per page (1-1000, default 100)", "N"},
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &cursor, "Continue after a previous page", "C"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("webhook dead list", "[ENTERPRISE]",
    "List dead webhook events, oldest first: id, event, enterprise, attempts, last error.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 0, 1, "mailagent webhook dead list [ENTERPRISE] [--limit N] [--cursor C]")) >= 0)
    return rc;
  if (limit < 1 || limit > 1000) return cli_usage_error("--limit: 1 to 1000");
  gint64 after = 0;
  if (cursor && !(after = codec_seq_parse(cursor))) return cli_usage_error("--cursor: not a cursor this command printed");
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  g_autofree char *enterprise_id = NULL;
  if ((rc = open_scope(&common, argc == 2 ? argv[1] : NULL, &cfg, &st, &enterprise_id)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_outbox_event_free);
  /* one more than a page tells whether another page follows */
  rc = storage_outbox_dead_list(st, enterprise_id, after, limit + 1, items, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail("webhook dead list", error);
  g_autofree char *next = codec_seq_page_trim(items, (guint) limit, ma_outbox_event_seq);
  if (common.json) {
    json_t *arr = json_array();
    for (guint i = 0; i < items->len; i++) json_array_append_new(arr, codec_outbox_event_to_json(items->pdata[i], FALSE));
    cli_print_json(codec_page(arr, next), FALSE);
    return 0;
  }
  printf("%-10s  %-18s  %-20s  %8s  %s\n", "ID", "EVENT", "ENTERPRISE", "ATTEMPTS", "LAST ERROR");
  for (guint i = 0; i < items->len; i++) {
    const MaOutboxEvent *e = items->pdata[i];
    printf("%-10" G_GINT64_FORMAT "  %-18s  %-20s  %8d  %s\n", e->seq, e->event,
           e->enterprise_id ? e->enterprise_id : "-", e->attempts, e->last_error ? e->last_error : "");
  }
  if (next) printf("more: --cursor %s\n", next);
  return 0;
}

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx =
    cli_context("webhook dead show", "ID", "Show one webhook event (any state) with its payload.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent webhook dead show ID")) >= 0) return rc;
  gint64 seq = codec_seq_parse(argv[1]);
  if (!seq) return cli_usage_error("%s is not an event id", argv[1]);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaOutboxEvent *e = NULL;
  rc = storage_outbox_get(st, NULL, seq, &e, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail("webhook dead show", error);
  if (rc == 0) {
    fprintf(stderr, "mailagent: no webhook event %s\n", argv[1]);
    return 2;
  }
  json_t *doc = codec_outbox_event_to_json(e, TRUE);
  ma_outbox_event_free(e);
  if (common.json) {
    cli_print_json(doc, FALSE);
    return 0;
  }
  const char *key;
  json_t *value;
  json_object_foreach(doc, key, value) {
    if (strcmp(key, "payload") == 0) continue;
    g_autofree char *text = json_is_string(value) ? g_strdup(json_string_value(value))
                                                  : json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    printf("%-16s %s\n", key, text ? text : "");
  }
  g_autofree char *payload = json_dumps(json_object_get(doc, "payload"), JSON_ENCODE_ANY | JSON_INDENT(2));
  printf("payload\n%s\n", payload ? payload : "null");
  json_decref(doc);
  return 0;
}

/* retry and purge: one event by ID, or --all dead events (of one enterprise with --enterprise). */
static int change_dead(int argc, char **argv, gboolean retry)
{
  g_auto(CliCommon) common = {0};
  gboolean all = FALSE;
  g_autofree char *enterprise = NULL;
  GOptionEntry entries[] = {
    {"all", 0, 0, G_OPTION_ARG_NONE, &all, "Every dead event (of --enterprise when given)", NULL},
    {"enterprise", 0, 0, G_OPTION_ARG_STRING, &enterprise, "With --all: only this enterprise's events", "ENTERPRISE"},
    G_OPTION_ENTRY_NULL,
  };
  const char *name = retry ? "webhook dead retry" : "webhook dead purge";
  g_autoptr(GOptionContext) ctx = cli_context(name, "ID | --all [--enterprise ENTERPRISE]",
    retry ? "Requeue dead webhook events: attempts start again, due now."
          : "Give dead webhook events up for good (they are no longer listed or sent).", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  g_autofree char *usage = g_strdup_printf("mailagent %s ID | --all [--enterprise ENTERPRISE]", name);
  if ((rc = cli_positional(argc, argv, all ? 0 : 1, all ? 0 : 1, usage)) >= 0) return rc;
  if (enterprise && !all) return cli_usage_error("--enterprise goes with --all");
  gint64 seq = 0;
  if (!all && !(seq = codec_seq_parse(argv[1]))) return cli_usage_error("%s is not an event id", argv[1]);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  g_autofree char *enterprise_id = NULL;
  if ((rc = open_scope(&common, enterprise, &cfg, &st, &enterprise_id)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  gint64 n = 0;
  rc = retry ? storage_outbox_dead_retry(st, enterprise_id, seq, ma_now(), &n, &error)
             : storage_outbox_dead_purge(st, enterprise_id, seq, &n, &error);
  storage_close(&st);
  if (rc < 0) return cli_fail(name, error);
  if (!all && n == 0) {
    fprintf(stderr, "mailagent: no dead webhook event %s\n", argv[1]);
    return 2;
  }
  if (common.json) cli_print_json(json_pack("{s:I}", retry ? "requeued" : "purged", (json_int_t) n), FALSE);
  else printf("%s %" G_GINT64_FORMAT " event(s)\n", retry ? "requeued" : "purged", n);
  return 0;
}

static int cmd_retry(int argc, char **argv) { return change_dead(argc, argv, TRUE); }
static int cmd_purge(int argc, char **argv) { return change_dead(argc, argv, FALSE); }

static int cmd_dead(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"list", cmd_list, "list dead events, oldest first"},
    {"show", cmd_show, "show one event with its payload"},
    {"retry", cmd_retry, "requeue one dead event, or --all"},
    {"purge", cmd_purge, "give one dead event up, or --all"},
  };
  return cli_dispatch("webhook dead", subs, G_N_ELEMENTS(subs), argc, argv);
}

int cli_webhook(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"dead", cmd_dead, "webhook events parked after their last attempt: list, show, retry, purge"},
  };
  return cli_dispatch("webhook", subs, G_N_ELEMENTS(subs), argc, argv);
}
