/* cli_rules_test.c - `mailagent rules test ENTERPRISE RULES.json [FILE.eml | --last N]`: evaluates
 * a draft rule set (a JSON array of rules, or one rule object; a file, JSON text or "-") against
 * one message file, parsed and matched as `mailagent ingest` would, or the enterprise's N most
 * recently archived messages, and prints per message and linked record each rule's outcome in
 * order and the activity that would be created (agent/pipeline/dry_run.h). Creates nothing: the
 * draft is not stored, no message, link or activity is written. --json prints the answer of
 * POST /v1/rules:test.
 */
#include "cli.h"

#include "agent/pipeline/dry_run.h"

#include <stdio.h>

/* The draft: an array of rules, or one rule object. NULL after printing why. */
static RulesSet *draft_set(const char *arg)
{
  g_autofree char *text = cli_rules_read_arg(arg);
  if (!text) return NULL;
  json_error_t jerr;
  json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (!doc) {
    fprintf(stderr, "mailagent: rules test: %s: not JSON (%s, line %d)\n", arg, jerr.text, jerr.line);
    return NULL;
  }
  if (json_is_object(doc)) {
    json_t *arr = json_array();
    json_array_append_new(arr, doc);
    doc = arr;
  }
  g_autoptr(GError) error = NULL;
  RulesSet *set = rules_set_from_json(doc, 0, &error);
  json_decref(doc);
  if (!set) fprintf(stderr, "mailagent: rules test: %s\n", error->message);
  return set;
}

int cli_rules_test(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int last = 0;
  GOptionEntry extra[] = {
    {"last", 0, 0, G_OPTION_ARG_INT, &last, "The N most recently archived messages (1-200) instead of a file", "N"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context(
    "rules test", "ENTERPRISE RULES.json [FILE.eml | --last N]",
    "Evaluate a draft rule set without creating anything: on FILE.eml (parsed and matched as ingest would)\n"
    "or on the last N archived messages. Prints, per message and linked record, each rule's outcome in\n"
    "order (matched, failed and the condition that decided, disabled, other_record_type, not_reached) and\n"
    "the activity that would be created. RULES.json: an array of rules or one rule (a file, JSON text, or -).",
    &common, extra);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  const char *usage = "mailagent rules test ENTERPRISE RULES.json [FILE.eml | --last N] [--json]";
  if ((rc = cli_positional(argc, argv, 2, 3, usage)) >= 0) return rc;
  if ((argc == 4) == (last > 0)) return cli_usage_error("rules test: give FILE.eml or --last N (one of them)");
  g_autoptr(RulesSet) set = draft_set(argv[2]);
  if (!set) return 2;

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  json_t *doc = NULL;
  if (argc == 4) {
    char *raw = NULL;
    gsize len = 0;
    if (!g_file_get_contents(argv[3], &raw, &len, &error)) {
      rc = -1;
    } else if (cfg->max_message_size > 0 && len > (gsize) cfg->max_message_size) {
      g_set_error(&error, MA_ERROR, MA_ERROR_LIMIT, "%s is larger than [smtp] max_message_size", argv[3]);
      rc = -1;
    } else {
      rc = dry_run_raw(st, cfg, ent->id, set, raw, len, &doc, &error);
    }
    g_free(raw);
  } else {
    rc = dry_run_last(st, ent->id, set, last, &doc, &error);
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("rules test", error);
  if (common.json) {
    cli_print_json(doc, FALSE);
    return 0;
  }
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(doc, "messages"), i, item) {
    json_t *m = json_object_get(item, "message");
    const char *id = json_string_value(json_object_get(m, "id"));
    const char *skip = json_string_value(json_object_get(m, "skip_reason"));
    printf("message %s \"%s\"%s%s%s\n", id ? id : "(file)", json_string_value(json_object_get(m, "subject")),
           skip ? ": would be skipped (" : "", skip ? skip : "", skip ? ")" : "");
    if (!skip && json_array_size(json_object_get(item, "records")) == 0) printf("  no linked record\n");
    cli_print_trace(json_object_get(item, "records"));
  }
  long long n = (long long) json_integer_value(json_object_get(doc, "would_create"));
  printf("%lld activit%s would be created (nothing was written)\n", n, n == 1 ? "y" : "ies");
  json_decref(doc);
  return 0;
}
