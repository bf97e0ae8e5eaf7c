/* cli_rules.c - `mailagent rules list|add|update|move|enable|disable|delete|replay|test ENTERPRISE ...`:
 * the enterprise's ordered auto-create rules.
 *
 * Every change is one read-modify-write of the whole stored array inside one transaction, through
 * the same rules_edit_* functions as /v1/rules, so validation messages and numbering match the API.
 * A rule is given as JSON text on the command line, as a file name, or "-" for standard input
 * (bounded to RULE_INPUT_MAX bytes). `replay` applies the rules to mail archived since a date,
 * idempotently, in batches of ACTIVITIES_REPLAY_BATCH messages per transaction (activities_replay).
 * `test` (a dry run of a draft set) lives in cli_rules_test.c.
 */
#include "cli.h"

#include "agent/lib/clock.h"
#include "agent/tenant/settings.h"
#include "agent/pipeline/activities.h"
#include "rules/rules_edit.h"

#include <stdio.h>
#include <string.h>

#define RULE_INPUT_MAX (1024 * 1024)

/* Reads a rule argument: JSON text, "-" (stdin) or a file. Newly allocated or NULL (printed). */
char *cli_rules_read_arg(const char *arg)
{
  const char *p = arg;
  while (g_ascii_isspace(*p)) p++;
  if (*p == '{' || *p == '[') return g_strdup(arg);
  GString *s = g_string_new(NULL);
  if (strcmp(arg, "-") == 0) {
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
      g_string_append_len(s, buf, (gssize) n);
      if (s->len > RULE_INPUT_MAX) break;
    }
  } else {
    g_autoptr(GError) error = NULL;
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(arg, &data, &len, &error)) {
      fprintf(stderr, "mailagent: rules: %s\n", error->message);
      g_string_free(s, TRUE);
      return NULL;
    }
    g_string_append_len(s, data, (gssize) len);
    g_free(data);
  }
  if (s->len > RULE_INPUT_MAX) {
    fprintf(stderr, "mailagent: rules: input is larger than %d bytes\n", RULE_INPUT_MAX);
    g_string_free(s, TRUE);
    return NULL;
  }
  return g_string_free(s, FALSE);
}

/* An edit: computes the new array from the current one. Returns newly allocated text or NULL. */
typedef char *(*EditFn)(const char *current, gpointer arg, GError **error);

typedef struct {
  const char *rule_id;
  const char *rule_json;
  guint position;
  gboolean enabled;
  char *new_id;
  const char *action; /* the audit log's name for the edit, set by the do_* function */
} EditArgs;

static char *do_add(const char *cur, gpointer p, GError **e)
{
  EditArgs *a = p;
  a->action = "rules.add";
  return rules_edit_add(cur, a->rule_json, a->position, &a->new_id, e);
}
static char *do_update(const char *cur, gpointer p, GError **e)
{
  EditArgs *a = p;
  a->action = "rules.update";
  return rules_edit_update(cur, a->rule_id, a->rule_json, e);
}
static char *do_move(const char *cur, gpointer p, GError **e)
{
  EditArgs *a = p;
  a->action = "rules.move";
  return rules_edit_move(cur, a->rule_id, a->position, e);
}
static char *do_enable(const char *cur, gpointer p, GError **e)
{
  EditArgs *a = p;
  a->action = a->enabled ? "rules.enable" : "rules.disable";
  return rules_edit_set_enabled(cur, a->rule_id, a->enabled, e);
}
static char *do_delete(const char *cur, gpointer p, GError **e)
{
  EditArgs *a = p;
  a->action = "rules.delete";
  return rules_edit_delete(cur, a->rule_id, e);
}

/* Prints the rules, as a table or {"items": [...]}. */
static void print_rules(const char *array, gboolean json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RulesSet) set = rules_edit_load(array, &error);
  if (!set) {
    fprintf(stderr, "mailagent: rules: %s\n", error->message);
    return;
  }
  if (json) {
    json_t *doc = json_object();
    json_object_set_new(doc, "items", rules_set_to_json(set));
    cli_print_json(doc, FALSE);
    return;
  }
  if (rules_set_count(set) == 0) {
    printf("no rules\n");
    return;
  }
  json_t *arr = rules_set_to_json(set);
  printf("%-3s %-20s %-8s %-28s %-5s %-12s %s\n", "#", "ID", "ENABLED", "OBJECT TYPES", "CONDS", "ACTIVITY", "NAME");
  for (guint i = 0; i < rules_set_count(set); i++) {
    const RulesRule *r = rules_set_nth(set, i);
    json_t *o = json_array_get(arr, i);
    GString *types = g_string_new(NULL);
    size_t k;
    json_t *t;
    json_array_foreach(json_object_get(o, "object_types"), k, t)
      g_string_append_printf(types, "%s%s", k ? "," : "", json_string_value(t));
    printf("%-3u %-20s %-8s %-28s %-5zu %-12s %s\n", rules_rule_position(r), rules_rule_id(r),
           rules_rule_enabled(r) ? "yes" : "no", types->str, json_array_size(json_object_get(o, "conditions")),
           rules_rule_activity_type(r), rules_rule_name(r));
    g_string_free(types, TRUE);
  }
  json_decref(arr);
}

/* Opens storage, resolves the enterprise, applies fn in one transaction. Prints the result. */
static int run_edit(const CliCommon *common, const char *enterprise, EditFn fn, EditArgs *args, const char *done)
{
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  int rc = cli_open(common, &cfg, &st);
  if (rc != 0) return rc;
  MaEnterprise *ent = cli_enterprise_resolve(st, enterprise);
  if (!ent) {
    storage_close(&st);
    return 2;
  }
  g_autoptr(GError) error = NULL;
  g_autofree char *cur = NULL, *next = NULL;
  gboolean ok = storage_begin(st, &error) == 0;
  if (ok && (storage_rules_get(st, ent->id, &cur, &error) < 0 || !(next = fn(cur, args, &error)) ||
             storage_rules_put(st, ent->id, next, &error) < 0 ||
             cli_audit(st, ent->id, args->action, args->new_id ? args->new_id : args->rule_id,
                       args->position ? json_pack("{s:i}", "position", (int) args->position) : NULL, &error) < 0 ||
             storage_commit(st, &error) < 0)) {
    storage_rollback(st);
    ok = FALSE;
  }
  storage_close(&st);
  ma_enterprise_free(ent);
  if (!ok) return cli_fail("rules", error);
  if (!common->json) {
    if (args->new_id) printf("rule %s added\n", args->new_id);
    else if (done) printf("%s\n", done);
  }
  print_rules(next, common->json);
  return 0;
}

static int cmd_list(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx =
    cli_context("rules list", "ENTERPRISE", "List the enterprise's rules in evaluation order.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent rules list ENTERPRISE [--json]")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  g_autofree char *cur = NULL;
  rc = storage_rules_get(st, ent->id, &cur, &error);
  storage_close(&st);
  ma_enterprise_free(ent);
  if (rc < 0) return cli_fail("rules", error);
  print_rules(cur, common.json);
  return 0;
}

static const char *rule_help =
  "RULE is JSON text, a file name, or - for standard input. A rule:\n"
  "  {\"name\": \"Quotes\", \"enabled\": true, \"object_types\": [\"contact\", \"opportunity\"],\n"
  "   \"match\": \"all\", \"conditions\": [{\"field\": \"subject\", \"op\": \"contains\", \"value\": \"quote\"}],\n"
  "   \"action\": {\"activity_type\": \"email\", \"title\": \"{{subject}}\", \"content\": \"{{snippet}}\"}}\n"
  "Fields: subject body snippet from from_domain to cc participants direction has_attachment is_auto is_bulk\n"
  "  attachment_name mailbox employee size record.name record.stage record.<attribute>\n"
  "Operators: equals not_equals contains not_contains starts_with ends_with matches in is_empty gt lt\n"
  "Placeholders: {{subject}} {{from}} {{snippet}} {{direction}} {{record.name}} {{record.type}}\n"
  "  {{record.stage}} {{record.<attribute>}}\n"
  "At most 10 rules per enterprise (disabled ones count).\n";

static int cmd_add(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int position = 0;
  GOptionEntry extra[] = {
    {"position", 'p', 0, G_OPTION_ARG_INT, &position, "Insert at this position (1 = first; default: last)", "N"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("rules add", "ENTERPRISE RULE", "Add a rule.", &common, extra);
  g_option_context_set_description(ctx, rule_help);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent rules add ENTERPRISE RULE [--position N]")) >= 0) return rc;
  if (position < 0) return cli_usage_error("--position must be 1 or more");
  g_autofree char *json = cli_rules_read_arg(argv[2]);
  if (!json) return 2;
  EditArgs a = {.rule_json = json, .position = (guint) position};
  rc = run_edit(&common, argv[1], do_add, &a, NULL);
  g_free(a.new_id);
  return rc;
}

static int cmd_update(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx =
    cli_context("rules update", "ENTERPRISE RULE_ID RULE", "Replace a rule, keeping its position.", &common, NULL);
  g_option_context_set_description(ctx, rule_help);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 3, 3, "mailagent rules update ENTERPRISE RULE_ID RULE")) >= 0) return rc;
  g_autofree char *json = cli_rules_read_arg(argv[3]);
  if (!json) return 2;
  EditArgs a = {.rule_id = argv[2], .rule_json = json};
  g_autofree char *done = g_strdup_printf("rule %s updated", argv[2]);
  return run_edit(&common, argv[1], do_update, &a, done);
}

static int cmd_move(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  int to = 0;
  GOptionEntry extra[] = {
    {"to", 0, 0, G_OPTION_ARG_INT, &to, "New position (1 = evaluated first)", "POSITION"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx =
    cli_context("rules move", "ENTERPRISE RULE_ID --to POSITION", "Move a rule to another position.", &common, extra);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent rules move ENTERPRISE RULE_ID --to POSITION")) >= 0)
    return rc;
  if (to < 1) return cli_usage_error("rules move: --to POSITION is required (1 = first)");
  EditArgs a = {.rule_id = argv[2], .position = (guint) to};
  g_autofree char *done = g_strdup_printf("rule %s moved to position %d", argv[2], to);
  return run_edit(&common, argv[1], do_move, &a, done);
}

static int cmd_simple(int argc, char **argv, const char *name, const char *summary, EditFn fn, gboolean enabled)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *prg = g_strdup_printf("rules %s", name);
  g_autoptr(GOptionContext) ctx = cli_context(prg, "ENTERPRISE RULE_ID", summary, &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  g_autofree char *usage = g_strdup_printf("mailagent rules %s ENTERPRISE RULE_ID", name);
  if ((rc = cli_positional(argc, argv, 2, 2, usage)) >= 0) return rc;
  EditArgs a = {.rule_id = argv[2], .enabled = enabled};
  g_autofree char *done = g_strdup_printf("rule %s %s", argv[2],
                                          fn == do_delete ? "deleted" : enabled ? "enabled" : "disabled");
  return run_edit(&common, argv[1], fn, &a, done);
}

static int cmd_enable(int argc, char **argv)
{
  return cmd_simple(argc, argv, "enable", "Enable a rule.", do_enable, TRUE);
}
static int cmd_disable(int argc, char **argv)
{
  return cmd_simple(argc, argv, "disable", "Disable a rule (it keeps its place and still counts toward 10).",
                    do_enable, FALSE);
}
static int cmd_delete(int argc, char **argv)
{
  return cmd_simple(argc, argv, "delete", "Delete a rule.", do_delete, FALSE);
}

static void replay_progress(gint64 messages, gint64 created, gpointer user_data)
{
  cli_progress_add(user_data, messages - ((CliProgress *) user_data)->done);
}

static int cmd_replay(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *since_text = NULL;
  gboolean quiet = FALSE;
  GOptionEntry extra[] = {
    {"since", 0, 0, G_OPTION_ARG_STRING, &since_text, "Mail archived at or after this time (RFC 3339 or YYYY-MM-DD)",
     "DATE"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress lines or summary on stderr", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context(
    "rules replay", "ENTERPRISE --since DATE",
    "Apply the rules to mail archived since DATE. Idempotent: a (message, record) that has an activity gets no "
    "second one.",
    &common, extra);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent rules replay ENTERPRISE --since DATE")) >= 0) return rc;
  gint64 since = 0;
  if (!since_text || ma_time_parse(since_text, &since) < 0)
    return cli_usage_error("rules replay: --since DATE is required (e.g. 2024-01-31 or 2024-01-31T10:00:00Z)");

  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *ent = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &ent)) != 0) return rc;
  g_autoptr(GError) error = NULL;
  gboolean on = TRUE;
  gint64 messages = 0, created = 0;
  rc = settings_get_bool(st, ent->id, "activities", &on, &error);
  if (rc == 0 && !on)
    cli_warn("activities are off for %s: nothing will be created (mailagent settings %s activities=on)", ent->slug,
             ent->slug);
  CliProgress progress;
  cli_progress_init(&progress, "rules replay", "messages", 0, quiet);
  if (rc == 0) rc = activities_replay(st, ent->id, since, replay_progress, &progress, &messages, &created, &error);
  if (rc == 0) {
    g_autofree char *summary = g_strdup_printf("%" G_GINT64_FORMAT " messages, %" G_GINT64_FORMAT " activities created",
                                               messages, created);
    cli_progress_done(&progress, summary);
    cli_audit(st, ent->id, "rules.replay", NULL,
              json_pack("{s:s, s:I, s:I}", "since", since_text, "messages", (json_int_t) messages, "activities_created",
                        (json_int_t) created), NULL);
  }
  storage_close(&st);
  if (rc < 0) {
    ma_enterprise_free(ent);
    return cli_fail("rules replay", error);
  }
  if (common.json) {
    json_t *doc = json_pack("{s:I, s:I}", "messages", (json_int_t) messages, "activities_created", (json_int_t) created);
    cli_print_json(doc, FALSE);
  } else {
    printf("%" G_GINT64_FORMAT " message%s replayed, %" G_GINT64_FORMAT " activit%s created\n", messages,
           messages == 1 ? "" : "s", created, created == 1 ? "y" : "ies");
  }
  ma_enterprise_free(ent);
  return 0;
}

int cli_rules(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"list", cmd_list, "list the rules in evaluation order"},
    {"add", cmd_add, "add a rule (JSON, a file, or - for stdin)"},
    {"update", cmd_update, "replace a rule, keeping its position"},
    {"move", cmd_move, "move a rule to another position (--to N)"},
    {"enable", cmd_enable, "enable a rule"},
    {"disable", cmd_disable, "disable a rule"},
    {"delete", cmd_delete, "delete a rule"},
    {"replay", cmd_replay, "apply the rules to mail archived since a date"},
    {"test", cli_rules_test, "evaluate a draft rule set on a message or the last N, creating nothing"},
  };
  return cli_dispatch("rules", subs, G_N_ELEMENTS(subs), argc, argv);
}
