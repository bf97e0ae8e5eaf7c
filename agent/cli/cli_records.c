/* cli_records.c - `mailagent records import|show|list`: the CRM records mail is matched against.
 *
 * import streams FILE (or - for stdin) in 64 KB chunks through the shared importer
 * (agent/codec/codec_import.h: JSON Lines or CSV, the same validation as POST /v1/records:bulk).
 * Bad lines go to stderr as "line N: reason". Exit status: 0 all imported; 2 an atomic import
 * refused (nothing written); 1 --skip-invalid imported the good lines and skipped some (a partial
 * result); 75 the database was busy or the disk failed.
 */
#include "cli.h"
#include "agent/pipeline/pending.h"

#include "agent/codec/codec.h"
#include "agent/codec/codec_import.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define READ_CHUNK 65536
#define LIST_LIMIT_MAX 1000

static int type_arg(const char *s)
{
  int t = ma_record_type_parse(s);
  if (t < 0) cli_usage_error("\"%s\" is not a record type (account, contact, lead, opportunity)", s);
  return t;
}

/* ---- import --------------------------------------------------------------------------------- */

static int cmd_import(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  gboolean skip_invalid = FALSE, strict = FALSE, quiet = FALSE;
  g_autofree char *format = NULL;
  g_autofree char *delimiter_text = NULL;
  int progress_every = 0;
  GOptionEntry entries[] = {
    {"skip-invalid", 0, 0, G_OPTION_ARG_NONE, &skip_invalid, "Import the good lines and report the bad ones "
     "(default: nothing is written when any line is bad)", NULL},
    {"format", 0, 0, G_OPTION_ARG_STRING, &format, "jsonl, csv or auto (default: auto, from the first byte)", "F"},
    {"strict", 0, 0, G_OPTION_ARG_NONE, &strict, "CSV: refuse a column that is neither a field nor attr.NAME "
     "(default: it becomes an attribute, with a warning)", NULL},
    {"delimiter", 0, 0, G_OPTION_ARG_STRING, &delimiter_text, "CSV cell separator: one character, or tab "
     "(default ','; Excel in many locales writes ';')", "C"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress lines or summary on stderr", NULL},
    {"progress", 0, 0, G_OPTION_ARG_INT, &progress_every, "A progress line every N records (default: every 5 s)", "N"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("records import", "ENTERPRISE FILE|-",
    "Import CRM records from JSON Lines or CSV (header row). Upsert by (type, id); \"deleted\": true removes.",
    &common, entries);
  g_option_context_set_description(ctx,
    "JSON Lines: one object per line: {\"type\",\"id\",\"name\",\"emails\",\"domains\",\"account_id\",\n"
    "  \"contact_ids\",\"stage\",\"attributes\",\"deleted\"}.\n"
    "CSV: columns type,id,name,emails,domains,account_id,contact_ids,stage,deleted; several values in\n"
    "  one cell separated by ';' or '|'; any other column (or attr.NAME) becomes attributes.NAME.\n"
    "Exit status: 0 imported; 2 refused (bad lines, nothing written); 1 --skip-invalid skipped some lines.");
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent records import ENTERPRISE FILE|- [--skip-invalid] [--format jsonl|csv] [--strict] "
                      "[--delimiter C] [--quiet]";
  if ((rc = cli_positional(argc, argv, 2, 2, usage)) >= 0) return rc;
  char delimiter = delimiter_text ? codec_import_delimiter_parse(delimiter_text) : ',';
  if (!delimiter) return cli_usage_error("--delimiter \"%s\": one character, or tab", delimiter_text);
  if (progress_every < 0) return cli_usage_error("--progress: a positive number of records");
  CodecFormat fmt = CODEC_FORMAT_AUTO;
  if (format && !strcmp(format, "jsonl")) fmt = CODEC_FORMAT_JSONL;
  else if (format && !strcmp(format, "csv")) fmt = CODEC_FORMAT_CSV;
  else if (format && strcmp(format, "auto")) return cli_usage_error("--format \"%s\": use jsonl, csv or auto", format);
  else if (!format && g_str_has_suffix(argv[2], ".csv")) fmt = CODEC_FORMAT_CSV;
  else if (!format && (g_str_has_suffix(argv[2], ".jsonl") || g_str_has_suffix(argv[2], ".ndjson"))) fmt = CODEC_FORMAT_JSONL;

  FILE *in = stdin;
  if (strcmp(argv[2], "-") != 0) {
    in = fopen(argv[2], "rb");
    if (!in) return cli_usage_error("%s: %s", argv[2], g_strerror(errno));
  }
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  if ((rc = cli_open(&common, &cfg, &st)) != 0) {
    if (in != stdin) fclose(in);
    return rc;
  }
  MaEnterprise *ent = cli_enterprise_resolve(st, argv[1]);
  if (!ent) {
    storage_close(&st);
    if (in != stdin) fclose(in);
    return 2;
  }

  g_autoptr(GError) error = NULL;
  CodecImport *imp = codec_import_new(st, ent->id, fmt, skip_invalid);
  codec_import_set_csv(imp, delimiter, strict);
  CliProgress progress;
  cli_progress_init(&progress, "records import", "records", progress_every, quiet);
  g_autofree char *buf = g_malloc(READ_CHUNK);
  gboolean failed = FALSE;
  for (;;) {
    size_t n = fread(buf, 1, READ_CHUNK, in);
    if (n > 0 && codec_import_feed(imp, buf, n, &error) < 0) {
      failed = TRUE;
      break;
    }
    cli_progress_add(&progress, codec_import_lines(imp) - progress.done);
    if (n < READ_CHUNK) {
      if (ferror(in)) {
        g_set_error(&error, MA_ERROR, MA_ERROR_INVALID, "%s: read error: %s", argv[2], g_strerror(errno));
        failed = TRUE;
      }
      break;
    }
  }
  if (in != stdin) fclose(in);
  CodecImportResult res = {0};
  if (!failed && codec_import_finish(imp, &res, &error) < 0) failed = TRUE;
  codec_import_free(imp);
  /* late re-matching: held mail the new records match is archived now (pending.h) */
  MaRematchStats stats = {0};
  g_autoptr(GError) rematch_error = NULL;
  MaRecordChanges changes = {res.changed_emails, res.changed_domains, res.deleted_records};
  if (!failed && res.committed && pending_rematch(st, cfg, ent->id, &changes, &stats, &rematch_error) < 0)
    cli_warn("records imported, but re-matching mail failed (the next import retries): %s", rematch_error->message);
  if (res.changes_overflow)
    cli_warn("more than %d changed addresses, domains and deletions: archived mail was matched again for the first "
             "%d only (held mail was all considered)", CODEC_IMPORT_CHANGES_MAX, CODEC_IMPORT_CHANGES_MAX);
  gint64 held_archived = stats.released;
  storage_close(&st);
  ma_enterprise_free(ent);
  if (failed) {
    rc = cli_fail("records import (nothing was written)", error);
    return rc == 2 ? 1 : rc;
  }

  for (guint i = 0; i < res.problems->len; i++) {
    const CodecImportProblem *p = g_ptr_array_index(res.problems, i);
    fprintf(stderr, "mailagent: line %" G_GINT64_FORMAT ": %s\n", p->line, p->message);
  }
  g_autoptr(GPtrArray) warnings = codec_import_warnings(&res);
  for (guint i = 0; i < warnings->len; i++) cli_warn("%s", (const char *) warnings->pdata[i]);
  if (res.invalid > (gint64)res.problems->len)
    fprintf(stderr, "mailagent: ... %" G_GINT64_FORMAT " more bad lines not shown\n", res.invalid - (gint64)res.problems->len);

  if (common.json) {
    json_t *doc = json_object();
    json_object_set_new(doc, "created", json_integer(res.created));
    json_object_set_new(doc, "updated", json_integer(res.updated));
    json_object_set_new(doc, "deleted", json_integer(res.deleted));
    json_object_set_new(doc, "not_found", json_integer(res.not_found));
    json_object_set_new(doc, "invalid", json_integer(res.invalid));
    json_object_set_new(doc, "committed", json_boolean(res.committed));
    json_object_set_new(doc, "held_archived", json_integer(held_archived));
    json_object_set_new(doc, "relinked", json_integer(stats.relinked));
    json_object_set_new(doc, "unlinked", json_integer(stats.unlinked));
    json_object_set_new(doc, "returned_to_pending", json_integer(stats.returned));
    json_t *probs = json_array();
    for (guint i = 0; i < res.problems->len; i++) {
      const CodecImportProblem *p = g_ptr_array_index(res.problems, i);
      json_t *o = json_object();
      json_object_set_new(o, "line", json_integer(p->line));
      json_object_set_new(o, "message", codec_string(p->message));
      json_array_append_new(probs, o);
    }
    json_object_set_new(doc, "problems", probs);
    json_t *warns = json_array();
    for (guint i = 0; i < warnings->len; i++) json_array_append_new(warns, json_string(warnings->pdata[i]));
    json_object_set_new(doc, "warnings", warns);
    cli_print_json(doc, FALSE);
  } else {
    printf("created %" G_GINT64_FORMAT ", updated %" G_GINT64_FORMAT ", deleted %" G_GINT64_FORMAT
           ", invalid %" G_GINT64_FORMAT "\n", res.created, res.updated, res.deleted, res.invalid);
    if (res.not_found) printf("%" G_GINT64_FORMAT " deletions named records that were not there\n", res.not_found);
    if (held_archived) printf("%" G_GINT64_FORMAT " held message%s now matched and archived\n", held_archived,
                              held_archived == 1 ? "" : "s");
    if (stats.relinked) printf("%" G_GINT64_FORMAT " archived message%s linked to the new records\n", stats.relinked,
                               stats.relinked == 1 ? "" : "s");
    if (stats.unlinked) printf("%" G_GINT64_FORMAT " message link%s to deleted records removed, %" G_GINT64_FORMAT
                               " message%s linked to nothing left the archive\n", stats.unlinked,
                               stats.unlinked == 1 ? "" : "s", stats.returned, stats.returned == 1 ? "" : "s");
  }
  g_autofree char *summary = g_strdup_printf("%" G_GINT64_FORMAT " records read: %" G_GINT64_FORMAT " created, %"
                                             G_GINT64_FORMAT " updated, %" G_GINT64_FORMAT " deleted, %" G_GINT64_FORMAT
                                             " invalid%s", res.lines, res.created, res.updated, res.deleted, res.invalid,
                                             res.committed ? "" : " (nothing written)");
  cli_progress_done(&progress, summary);
  if (!res.committed) {
    fprintf(stderr, "mailagent: nothing imported: %" G_GINT64_FORMAT " bad line%s (fix them, or use --skip-invalid)\n",
            res.invalid, res.invalid == 1 ? "" : "s");
    rc = 2;
  } else {
    rc = res.invalid > 0 ? 1 : 0;
  }
  codec_import_result_clear(&res);
  return rc;
}

/* ---- show ----------------------------------------------------------------------------------- */

static void print_list(const char *label, const GPtrArray *a)
{
  if (!a || a->len == 0) return;
  printf("%-12s ", label);
  for (guint i = 0; i < a->len; i++) printf("%s%s", i ? ", " : "", (char *)g_ptr_array_index(a, i));
  printf("\n");
}

static void print_record(const MaRecord *r)
{
  printf("%-12s %s\n", "type:", ma_record_type_name(r->type));
  printf("%-12s %s\n", "id:", r->id);
  if (r->name) printf("%-12s %s\n", "name:", r->name);
  print_list("emails:", r->emails);
  print_list("domains:", r->domains);
  if (r->account_id) printf("%-12s %s\n", "account_id:", r->account_id);
  print_list("contact_ids:", r->contact_ids);
  if (r->type == MA_RECORD_OPPORTUNITY) printf("%-12s %s\n", "stage:", ma_stage_name(r->stage ? r->stage : MA_STAGE_OPEN));
  if (r->attributes_json && strcmp(r->attributes_json, "{}") != 0) printf("%-12s %s\n", "attributes:", r->attributes_json);
}

static int cmd_show(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("records show", "ENTERPRISE TYPE ID", "Show one CRM record.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 3, 3, "mailagent records show ENTERPRISE TYPE ID [--json]")) >= 0) return rc;
  int type = type_arg(argv[2]);
  if (type < 0) return 2;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  MaRecord *r = NULL;
  rc = storage_record_get(st, ent->id, (MaRecordType)type, argv[3], &r, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("records show", error);
  if (rc == 0) {
    fprintf(stderr, "mailagent: no %s \"%s\"\n", argv[2], argv[3]);
    return 2;
  }
  if (common.json) cli_print_json(codec_record_to_json(r), FALSE);
  else print_record(r);
  ma_record_free(r);
  return 0;
}

/* ---- list ----------------------------------------------------------------------------------- */

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int limit = 100;
  g_autofree char *cursor = NULL;
  GOptionEntry entries[] = {
    {"limit", 0, 0, G_OPTION_ARG_INT, &limit, "Records per page (1-1000, default 100)", "N"},
    {"cursor", 0, 0, G_OPTION_ARG_STRING, &cursor, "Continue after this page (the next_cursor printed last)", "C"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("records list", "ENTERPRISE TYPE",
    "List CRM records of one type, ordered by id.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent records list ENTERPRISE TYPE [--limit N] [--cursor C]")) >= 0)
    return rc;
  int type = type_arg(argv[2]);
  if (type < 0) return 2;
  if (limit < 1 || limit > LIST_LIMIT_MAX) return cli_usage_error("--limit must be 1 to %d", LIST_LIMIT_MAX);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_record_free);
  /* One extra row tells whether another page follows. */
  rc = storage_record_list(st, ent->id, (MaRecordType)type, cursor, limit + 1, list, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("records list", error);
  const char *next = NULL;
  if (list->len > (guint)limit) {
    g_ptr_array_set_size(list, (guint)limit);
    next = ((MaRecord *)g_ptr_array_index(list, (guint)limit - 1))->id;
  }
  if (common.json) {
    json_t *items = json_array();
    for (guint i = 0; i < list->len; i++) json_array_append_new(items, codec_record_to_json(g_ptr_array_index(list, i)));
    cli_print_json(codec_page(items, next), FALSE);
    return 0;
  }
  if (list->len == 0) printf("no %s records\n", argv[2]);
  for (guint i = 0; i < list->len; i++) {
    const MaRecord *r = g_ptr_array_index(list, i);
    const GPtrArray *more = r->type == MA_RECORD_ACCOUNT ? r->domains : r->emails;
    g_autoptr(GString) list_text = g_string_new(NULL);
    for (guint k = 0; more && k < more->len; k++)
      g_string_append_printf(list_text, "%s%s", k ? "," : "", (char *)g_ptr_array_index(more, k));
    printf("%-24s  %-32s  %s\n", r->id, r->name ? r->name : "", list_text->str);
  }
  if (next) printf("more: --cursor %s\n", next);
  return 0;
}

int cli_records(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"import", cmd_import, "import JSON Lines or CSV: import ENTERPRISE FILE|- [--skip-invalid]"},
    {"show", cmd_show, "show a record: show ENTERPRISE TYPE ID"},
    {"list", cmd_list, "list records of a type: list ENTERPRISE TYPE [--limit N] [--cursor C]"},
  };
  return cli_dispatch("records", subs, G_N_ELEMENTS(subs), argc, argv);
}
