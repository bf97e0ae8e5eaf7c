/* cli_spool.c - `mailagent spool list|show|retry|purge`: the operator's view of the node-local
 * spool, where accepted mail waits until it is archived.
 *
 * Entries retrying after a temporary failure (database locked, disk full) need nothing: they go on
 * by themselves. A dead entry failed for a reason that cannot pass on its own (its enterprise is
 * gone, a bug): fix the cause, then `retry` it, or `purge` it to give it up for good. Works beside
 * a running `serve` (the workers see a requeued entry at their next poll). Purge refuses live
 * entries: they still belong to the pipeline. `show --raw` writes the message itself to stdout;
 * nothing else prints message data.
 */
#include "cli.h"

#include "agent/codec/codec.h"
#include "agent/lib/clock.h"
#include "storage/spool.h"

#include <stdio.h>
#include <string.h>

/* Loads the config, checks the data directory, resolves ENTERPRISE (may be NULL) to its id and
 * opens the spool. Returns 0 or the exit status after printing why; on failure nothing is open. */
static int open_spool(const CliCommon *common, const char *enterprise, MaConfig **cfg, char **enterprise_id,
                      MaSpool **sp)
{
  MaStorage *st = NULL;
  *enterprise_id = NULL;
  int rc = cli_open(common, cfg, &st);
  if (rc != 0) return rc;
  if (enterprise) {
    MaEnterprise *ent = cli_enterprise_resolve(st, enterprise);
    if (!ent) {
      storage_close(&st);
      g_clear_pointer(cfg, ma_config_free);
      return 2;
    }
    *enterprise_id = g_strdup(ent->id);
    ma_enterprise_free(ent);
  }
  storage_close(&st);
  g_autoptr(GError) error = NULL;
  if (spool_open((*cfg)->data_dir, sp, &error) < 0) {
    g_clear_pointer(enterprise_id, g_free);
    g_clear_pointer(cfg, ma_config_free);
    return cli_fail("spool", error);
  }
  return 0;
}

static void format_ms(gint64 unix_ms, char out[32])
{
  if (unix_ms <= 0) {
    g_strlcpy(out, "now", 32);
    return;
  }
  ma_time_format((unix_ms + 999) / 1000, out);
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  gboolean dead = FALSE, live = FALSE;
  int limit = 100;
  g_autofree char *cursor = NULL;
  GOptionEntry entries[] = {
    {"dead", 0, 0, G_OPTION_ARG_NONE, &dead, "Only dead entries", NULL},
    {"live", 0, 0, G_OPTION_ARG_NONE, &live, "Only live entries (queued or retrying)", NULL},
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "Entries per page (1-1000, default 100)", "N"},
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &cursor, "Continue after a previous page", "C"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("spool list", "[ENTERPRISE]",
    "List spool entries, oldest first: state, attempts, next attempt or time of death, last error.", &common,
    entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent spool list [ENTERPRISE] [--dead|--live] [--limit N] [--cursor C]";
  if ((rc = cli_positional(argc, argv, 0, 1, usage)) >= 0) return rc;
  if (dead && live) return cli_usage_error("--dead and --live exclude each other");
  if (limit < 1 || limit > 1000) return cli_usage_error("--limit: 1 to 1000");
  g_autoptr(MaConfig) cfg = NULL;
  g_autofree char *enterprise_id = NULL;
  MaSpool *sp = NULL;
  if ((rc = open_spool(&common, argc == 2 ? argv[1] : NULL, &cfg, &enterprise_id, &sp)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_autofree char *next = NULL;
  rc = spool_list(sp, dead ? MA_SPOOL_DEAD : live ? MA_SPOOL_LIVE : MA_SPOOL_ANY, enterprise_id, limit, cursor,
                  items, &next, &error);
  spool_close(&sp);
  if (rc < 0) return cli_fail("spool list", error);
  if (common.json) {
    json_t *arr = json_array();
    for (guint i = 0; i < items->len; i++) json_array_append_new(arr, codec_spool_entry_to_json(items->pdata[i]));
    cli_print_json(codec_page(arr, next), FALSE);
    return 0;
  }
  printf("%-20s  %-8s  %-20s  %8s  %-20s  %s\n", "ID", "STATE", "ENTERPRISE", "ATTEMPTS", "NEXT/DEAD AT", "LAST ERROR");
  for (guint i = 0; i < items->len; i++) {
    const MaSpoolEntry *e = items->pdata[i];
    char when[32];
    if (e->dead_at > 0) ma_time_format(e->dead_at, when);
    else format_ms(e->next_attempt_at, when);
    printf("%-20s  %-8s  %-20s  %8d  %-20s  %s\n", e->id, ma_spool_entry_state(e),
           e->enterprise_id ? e->enterprise_id : "-", e->attempts, when, e->last_error ? e->last_error : "");
  }
  if (next) printf("more: --cursor %s\n", next);
  return 0;
}

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  gboolean raw = FALSE;
  GOptionEntry entries[] = {
    {"raw", 0, 0, G_OPTION_ARG_NONE, &raw, "Write the message itself to stdout, nothing else", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("spool show", "ID", "Show one spool entry.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent spool show ID [--raw]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  g_autofree char *unused = NULL;
  MaSpool *sp = NULL;
  if ((rc = open_spool(&common, NULL, &cfg, &unused, &sp)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaSpoolEntry *e = NULL;
  rc = spool_get(sp, argv[1], raw, &e, &error);
  spool_close(&sp);
  if (rc < 0) return cli_fail("spool show", error);
  if (rc == 0) {
    fprintf(stderr, "mailagent: no spool entry \"%s\"\n", argv[1]);
    return 2;
  }
  rc = 0;
  if (raw) {
    gsize len = 0;
    const void *data = g_bytes_get_data(e->data, &len);
    rc = len && fwrite(data, 1, len, stdout) != len ? 1 : 0;
  } else if (common.json) {
    cli_print_json(codec_spool_entry_to_json(e), FALSE);
  } else {
    char received[32], when[32];
    ma_time_format(e->received_at, received);
    printf("id:          %s\nstate:       %s\nenterprise:  %s\nroute:       %s\nclient:      %s\n", e->id,
           ma_spool_entry_state(e), e->enterprise_id ? e->enterprise_id : "-", e->route,
           e->client ? e->client : "-");
    printf("mail from:   <%s>\n", e->mail_from ? e->mail_from : "");
    for (guint i = 0; i < e->rcpts->len; i++) printf("rcpt to:     <%s>\n", (const char *) e->rcpts->pdata[i]);
    printf("received:    %s\nsize:        %" G_GINT64_FORMAT " bytes\nattempts:    %d\n", received, e->size,
           e->attempts);
    if (e->dead_at > 0) {
      ma_time_format(e->dead_at, when);
      printf("dead since:  %s\n", when);
    } else {
      format_ms(e->next_attempt_at, when);
      printf("next:        %s\n", when);
    }
    if (e->last_error) printf("last error:  %s\n", e->last_error);
  }
  ma_spool_entry_free(e);
  return rc;
}

/* Runs op (spool_retry, spool_purge: 1 done, 0 unknown, -1 error) on each id of argv[1..], going on
 * past unknown ids and refusals, stopping at a temporary failure. Prints "<done> ID" per id, or
 * with json {"<done>": [ids]}. Returns the exit status of the worst outcome. */
static int each_id(MaSpool *sp, int argc, char **argv, int (*op)(MaSpool *, const char *, GError **),
                   const char *done_word, gboolean json)
{
  int status = 0;
  json_t *done = json ? json_array() : NULL;
  for (int i = 1; i < argc && status != 75; i++) {
    g_autoptr(GError) error = NULL;
    int rc = op(sp, argv[i], &error);
    if (rc < 0) {
      g_autofree char *what = g_strdup_printf("spool %s", argv[0]);
      status = cli_fail(what, error);
    } else if (rc == 0) {
      fprintf(stderr, "mailagent: no spool entry \"%s\"\n", argv[i]);
      status = 2;
    } else if (done) {
      json_array_append_new(done, json_string(argv[i]));
    } else {
      printf("%s %s\n", done_word, argv[i]);
    }
  }
  if (done) {
    json_t *doc = json_object();
    json_object_set_new(doc, done_word, done);
    cli_print_json(doc, FALSE);
  }
  return status;
}

static int cmd_retry(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  gboolean all_dead = FALSE;
  GOptionEntry entries[] = {
    {"all-dead", 0, 0, G_OPTION_ARG_NONE, &all_dead, "Every dead entry (of ENTERPRISE when given)", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("spool retry", "ID... | --all-dead [ENTERPRISE]",
    "Requeue entries: dead ones come back to life, waiting ones are tried at once.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent spool retry ID...|--all-dead [ENTERPRISE]";
  if ((rc = cli_positional(argc, argv, all_dead ? 0 : 1, all_dead ? 1 : G_MAXINT, usage)) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  g_autofree char *enterprise_id = NULL;
  MaSpool *sp = NULL;
  if ((rc = open_spool(&common, all_dead && argc == 2 ? argv[1] : NULL, &cfg, &enterprise_id, &sp)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  if (all_dead) {
    gint64 n = 0;
    rc = spool_retry_dead(sp, enterprise_id, &n, &error);
    spool_close(&sp);
    if (rc < 0) return cli_fail("spool retry", error);
    if (common.json) cli_print_json(json_pack("{sI}", "requeued", (json_int_t) n), FALSE);
    else printf("requeued %" G_GINT64_FORMAT " dead entr%s\n", n, n == 1 ? "y" : "ies");
    return 0;
  }
  rc = each_id(sp, argc, argv, spool_retry, "requeued", common.json);
  spool_close(&sp);
  return rc;
}

static int cmd_purge(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("spool purge", "ID...",
    "Delete dead entries and their messages for good (live entries are refused).", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, G_MAXINT, "mailagent spool purge ID...")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  g_autofree char *unused = NULL;
  MaSpool *sp = NULL;
  if ((rc = open_spool(&common, NULL, &cfg, &unused, &sp)) != 0) return rc;
  rc = each_id(sp, argc, argv, spool_purge, "purged", common.json);
  spool_close(&sp);
  return rc;
}

int cli_spool(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"list", cmd_list, "entries and their state: list [ENTERPRISE] [--dead|--live] [--limit N] [--cursor C]"},
    {"show", cmd_show, "one entry: show ID [--raw]"},
    {"retry", cmd_retry, "requeue: retry ID...|--all-dead [ENTERPRISE]"},
    {"purge", cmd_purge, "delete dead entries for good: purge ID..."},
  };
  return cli_dispatch("spool", subs, G_N_ELEMENTS(subs), argc, argv);
}
