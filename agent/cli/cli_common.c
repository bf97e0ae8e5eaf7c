/* cli_common.c - option parsing, config and storage opening, error reporting and JSON output
 * shared by every subcommand. */
#include "cli.h"

#include <stdio.h>

void cli_common_add_options(GOptionContext *ctx, CliCommon *common)
{
  GOptionEntry entries[] = {
    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &common->config_file, "Configuration file", "FILE"},
    {"json", 0, 0, G_OPTION_ARG_NONE, &common->json, "Print JSON (the HTTP API's field names)", NULL},
    G_OPTION_ENTRY_NULL,
  };
  g_option_context_add_main_entries(ctx, entries, NULL);
}

int cli_parse(GOptionContext *ctx, int *argc, char ***argv)
{
  g_autoptr(GError) error = NULL;
  g_option_context_set_help_enabled(ctx, TRUE);
  if (!g_option_context_parse(ctx, argc, argv, &error)) {
    fprintf(stderr, "mailagent: %s\n", error->message);
    return 2;
  }
  return -1;
}

MaConfig *cli_load_config(const CliCommon *common)
{
  g_autoptr(GError) error = NULL;
  const char *file = common->config_file ? common->config_file : g_getenv("MAILAGENT_CONFIG");
  MaConfig *cfg = ma_config_load(file, &error);
  if (!cfg) fprintf(stderr, "mailagent: config: %s\n", error->message);
  return cfg;
}

MaStorage *cli_open_storage(const MaConfig *cfg)
{
  g_autoptr(GError) error = NULL;
  MaStorage *st = NULL;
  if (storage_open(cfg->data_dir, FALSE, &st, &error) < 0) {
    fprintf(stderr, "mailagent: storage: %s\n", error->message);
    return NULL;
  }
  return st;
}

MaEnterprise *cli_enterprise_resolve(MaStorage *st, const char *id_or_slug)
{
  g_autoptr(GError) error = NULL;
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(st, id_or_slug, &e, &error);
  if (rc < 0) fprintf(stderr, "mailagent: %s\n", error->message);
  else if (rc == 0) fprintf(stderr, "mailagent: no enterprise \"%s\"\n", id_or_slug);
  return e;
}

int cli_exit_code(const GError *error)
{
  if (!error || error->domain != MA_ERROR) return 1;
  switch (error->code) {
  case MA_ERROR_INVALID:
  case MA_ERROR_NOT_FOUND:
  case MA_ERROR_CONFLICT:
  case MA_ERROR_LIMIT: return 2;
  case MA_ERROR_TEMPFAIL: return 75;
  default: return 1;
  }
}

int cli_fail(const char *what, const GError *error)
{
  fprintf(stderr, "mailagent: %s%s%s\n", what ? what : "", what ? ": " : "",
          error ? error->message : "failed");
  return cli_exit_code(error);
}

void cli_print_json(json_t *doc, gboolean lines)
{
  char *text = json_dumps(doc, lines ? JSON_COMPACT : JSON_INDENT(2));
  if (text) {
    fputs(text, stdout);
    fputc('\n', stdout);
    free(text);
  }
  json_decref(doc);
}
