/* cli_explain.c - `mailagent explain ENTERPRISE MESSAGE`: why an archived message landed where it
 * did (explain_message in agent/pipeline/trace.h): its participants as matching classifies them,
 * never_log exclusions, machine-mail flags, each link with its reason, the current rules evaluated
 * in order for each link with the condition that failed or matched, and the activities made.
 * --json prints the document GET /v1/messages/{id}/explain answers. Reads only.
 */
#include "cli.h"

#include "agent/pipeline/trace.h"

#include <stdio.h>

static const char *str(json_t *obj, const char *key)
{
  const char *s = json_string_value(json_object_get(obj, key));
  return s ? s : "-";
}

static void print_trace(json_t *records)
{
  size_t i;
  json_t *item;
  json_array_foreach(records, i, item) {
    json_t *rec = json_object_get(item, "record");
    printf("  %s %s:\n", json_string_value(json_object_get(rec, "type")), json_string_value(json_object_get(rec, "id")));
    if (json_is_true(json_object_get(item, "record_deleted"))) {
      printf("    record deleted since: rules not evaluated\n");
      continue;
    }
    size_t k;
    json_t *line;
    json_array_foreach(json_object_get(item, "rules"), k, line) {
      json_t *cond = json_object_get(line, "condition");
      g_autofree char *ctext = NULL;
      if (json_is_object(cond)) {
        char *v = json_dumps(json_object_get(cond, "value"), JSON_ENCODE_ANY | JSON_COMPACT);
        ctext = g_strdup_printf(" (%s %s %s)", json_string_value(json_object_get(cond, "field")),
                                json_string_value(json_object_get(cond, "op")), v ? v : "");
        free(v);
      }
      printf("    %lld. %s: %s%s\n", (long long) json_integer_value(json_object_get(line, "position")), str(line, "name"),
             str(line, "result"), ctext ? ctext : "");
    }
    json_t *act = json_object_get(item, "activity");
    if (json_is_object(act))
      printf("    -> activity %s \"%s\" (rule %s)\n", str(act, "activity_type"), str(act, "title"), str(act, "rule_id"));
    else
      printf("    -> no activity\n");
  }
}

/* The explanation as text (the same facts as --json). Shared with `rules test`. */
void cli_print_trace(json_t *records) { print_trace(records); }

static void print_explain(json_t *doc)
{
  json_t *m = json_object_get(doc, "message");
  printf("message %s  %s  %s  \"%s\"\n", json_string_value(json_object_get(m, "id")),
         json_string_value(json_object_get(m, "date")), json_string_value(json_object_get(m, "direction")),
         json_string_value(json_object_get(m, "subject")));
  if (json_string_value(json_object_get(m, "machine_reason")))
    printf("machine mail: %s%s(%s)\n", json_is_true(json_object_get(m, "is_auto")) ? "is_auto " : "",
           json_is_true(json_object_get(m, "is_bulk")) ? "is_bulk " : "", json_string_value(json_object_get(m, "machine_reason")));
  printf("participants:\n");
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(doc, "participants"), i, v)
    printf("  %-8s %-40s %s\n", json_string_value(json_object_get(v, "role")), json_string_value(json_object_get(v, "address")),
           json_string_value(json_object_get(v, "class")));
  json_array_foreach(json_object_get(doc, "exclusions"), i, v)
    printf("excluded: %s (never_log %s)\n", json_string_value(json_object_get(v, "address")),
           json_string_value(json_object_get(v, "never_log")));
  printf("links:\n");
  if (json_array_size(json_object_get(doc, "links")) == 0) printf("  none\n");
  json_array_foreach(json_object_get(doc, "links"), i, v) {
    const char *reason = json_string_value(json_object_get(v, "reason"));
    printf("  %s %s: %s\n", json_string_value(json_object_get(v, "type")), json_string_value(json_object_get(v, "id")),
           reason ? reason : "(linked before reasons were kept)");
  }
  printf("rules%s:\n", json_is_true(json_object_get(doc, "activities_on")) ? " (current set, in order)" : " (activities off or no rule)");
  json_t *changed = json_object_get(doc, "rules_changed_at");
  if (json_is_string(changed))
    printf("  note: the rules changed after this message was archived (%s); the activities below were made by the\n"
           "  rules of that time\n", json_string_value(changed));
  print_trace(json_object_get(doc, "rules"));
  printf("activities made:\n");
  if (json_array_size(json_object_get(doc, "activities")) == 0) printf("  none\n");
  json_array_foreach(json_object_get(doc, "activities"), i, v) {
    json_t *rec = json_object_get(v, "record");
    printf("  %s on %s %s: %s \"%s\" (rule %s)\n", str(v, "id"), str(rec, "type"), str(rec, "id"), str(v, "activity_type"),
           str(v, "title"), str(v, "rule_id"));
  }
}

int cli_explain(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("explain", "ENTERPRISE MESSAGE",
    "Explain an archived message: participants (internal, external, excluded by never_log), machine-mail\n"
    "flags, each link with its reason, the current rules evaluated in order for each linked record with\n"
    "the condition that failed or matched, and the activities made. MESSAGE is our message id (as the\n"
    "timeline and the API show it). Skipped mail is explained by `mailagent ingest --explain`.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent explain ENTERPRISE MESSAGE [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  json_t *doc = NULL;
  rc = explain_message(st, cfg, ent->id, argv[2], &doc, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("explain", error);
  if (rc == 0) {
    fprintf(stderr, "mailagent: no message \"%s\"\n", argv[2]);
    return 2;
  }
  if (common.json) {
    cli_print_json(doc, FALSE);
  } else {
    print_explain(doc);
    json_decref(doc);
  }
  return 0;
}
