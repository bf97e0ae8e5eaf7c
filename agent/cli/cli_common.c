/* cli_common.c - option parsing, config and storage opening, error reporting and JSON output
 * shared by every subcommand. */
#include "cli.h"

#include "agent/lib/crypto.h"
#include "agent/lib/log.h"
#include "agent/tenant/audit.h"
#include "agent/lib/privilege.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void cli_common_clear(CliCommon *common)
{
  if (!common) return;
  g_clear_pointer(&common->config_file, g_free);
}

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

static gboolean keep_bind_cap;

void cli_keep_bind_capability(void)
{
  keep_bind_cap = TRUE;
}

MaConfig *cli_load_config(const CliCommon *common)
{
  g_autoptr(GError) error = NULL;
  const char *file = common->config_file ? common->config_file : g_getenv("MAILAGENT_CONFIG");
  MaConfig *cfg = ma_config_load(file, &error);
  if (!cfg) {
    fprintf(stderr, "mailagent: config: %s\n", error->message);
    return NULL;
  }
  storage_set_busy_timeout(cfg->busy_timeout); /* before any subcommand opens a database */
  if (storage_select_backend(cfg->storage_backend, cfg->storage_postgresql, &error) < 0) {
    fprintf(stderr, "mailagent: config: %s\n", error->message);
    ma_config_free(cfg);
    return NULL;
  }
  if (ma_log_configure(cfg->log_level, cfg->log_target, &error) < 0) {
    fprintf(stderr, "mailagent: config: %s\n", error->message);
    ma_config_free(cfg);
    return NULL;
  }
  /* Before any data file is opened: see privilege.h. */
  if (ma_privilege_become(cfg->process_user, cfg->data_dir, keep_bind_cap, &error) < 0) {
    fprintf(stderr, "mailagent: %s\n", error->message);
    ma_config_free(cfg);
    return NULL;
  }
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
  gboolean temp = error && error->domain == MA_ERROR && error->code == MA_ERROR_TEMPFAIL;
  fprintf(stderr, "mailagent: %s%s%s%s\n", what ? what : "", what ? ": " : "", error ? error->message : "failed",
          temp ? " (temporary failure; try again)" : "");
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

int cli_dispatch(const char *group, const CliSub *subs, gsize n, int argc, char **argv)
{
  /* The subcommand is the first word that is not an option: `mailagent enterprise -c F add` works
   * like `mailagent enterprise add -c F` (options before it are handed to the subcommand). */
  int pos = 1;
  while (pos < argc && argv[pos][0] == '-' && argv[pos][1] != '\0' && strcmp(argv[pos], "--help") &&
         strcmp(argv[pos], "-h")) {
    if (!strcmp(argv[pos], "-c") || !strcmp(argv[pos], "--config")) pos++;
    pos++;
  }
  gboolean help = pos >= argc || !strcmp(argv[pos], "--help") || !strcmp(argv[pos], "-h") || !strcmp(argv[pos], "help");
  if (help && pos >= argc) help = FALSE; /* no subcommand at all: usage to stderr, status 2 */
  if (pos < argc && !help) {
    for (gsize i = 0; i < n; i++) {
      if (strcmp(argv[pos], subs[i].name) != 0) continue;
      g_autofree char **sub_argv = g_new0(char *, (gsize)argc + 1);
      int k = 0;
      sub_argv[k++] = argv[pos];
      for (int j = 1; j < argc; j++)
        if (j != pos) sub_argv[k++] = argv[j];
      return subs[i].run(k, sub_argv);
    }
    fprintf(stderr, "mailagent: %s: unknown subcommand \"%s\"\n", group, argv[pos]);
  }
  FILE *out = help ? stdout : stderr;
  fprintf(out, "usage: mailagent %s <subcommand> [options]\n\nsubcommands:\n", group);
  for (gsize i = 0; i < n; i++) fprintf(out, "  %-15s %s\n", subs[i].name, subs[i].summary);
  fprintf(out, "\nRun `mailagent %s <subcommand> --help` for its options.\n", group);
  return help ? 0 : 2;
}

GOptionContext *cli_context(const char *prgname, const char *params, const char *description, CliCommon *common,
                            const GOptionEntry *extra)
{
  g_autofree char *full = g_strconcat("mailagent ", prgname, NULL);
  g_set_prgname(full);
  GOptionContext *ctx = g_option_context_new(params);
  if (description) g_option_context_set_summary(ctx, description);
  cli_common_add_options(ctx, common);
  if (extra) g_option_context_add_main_entries(ctx, extra, NULL);
  return ctx;
}

int cli_positional(int argc, char **argv, int want_min, int want_max, const char *usage)
{
  int have = argc - 1;
  if (have >= want_min && have <= want_max) return -1;
  for (int i = 1; i < argc; i++)
    if (argv[i][0] == '-' && argv[i][1] != '\0') {
      fprintf(stderr, "mailagent: unknown option \"%s\"\nusage: %s\n", argv[i], usage);
      return 2;
    }
  fprintf(stderr, "mailagent: %s\nusage: %s\n", have < want_min ? "missing arguments" : "too many arguments",
          usage);
  return 2;
}

int cli_open(const CliCommon *common, MaConfig **cfg, MaStorage **st)
{
  *cfg = cli_load_config(common);
  if (!*cfg) return 2;
  if (!g_file_test((*cfg)->data_dir, G_FILE_TEST_IS_DIR)) {
    fprintf(stderr, "mailagent: no data directory %s (run `mailagent init` first)\n", (*cfg)->data_dir);
    ma_config_free(*cfg);
    *cfg = NULL;
    return 1;
  }
  g_autoptr(GError) error = NULL;
  if (storage_open((*cfg)->data_dir, FALSE, st, &error) < 0) {
    int rc = cli_fail("storage", error);
    ma_config_free(*cfg);
    *cfg = NULL;
    return rc == 2 ? 1 : rc;
  }
  return 0;
}

int cli_open_enterprise(const CliCommon *common, const char *id_or_slug, MaConfig **cfg, MaStorage **st,
                        MaEnterprise **ent)
{
  int rc = cli_open(common, cfg, st);
  if (rc != 0) return rc;
  *ent = cli_enterprise_resolve(*st, id_or_slug);
  if (!*ent) {
    storage_close(st);
    return 2;
  }
  return 0;
}

void cli_warn(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, "mailagent: warning: %s\n", msg);
}

int cli_usage_error(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, "mailagent: %s\n", msg);
  return 2;
}

int cli_audit(MaStorage *st, const char *enterprise_id, const char *action, const char *target, json_t *details,
              GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *actor = audit_actor_cli();
  if (audit_log(st, actor, enterprise_id, action, target, details, error ? error : &local) < 0) {
    if (!error)
      fprintf(stderr, "mailagent: warning: %s %s was made but not recorded in the audit log: %s\n", action,
              target ? target : "", local->message);
    return -1;
  }
  return 0;
}

void cli_progress_init(CliProgress *p, const char *what, const char *unit, gint64 every, gboolean quiet)
{
  *p = (CliProgress){.what = what, .unit = unit, .every = every, .quiet = quiet};
  p->started_us = p->printed_us = g_get_monotonic_time();
}

void cli_progress_add(CliProgress *p, gint64 n)
{
  p->done += n;
  if (p->quiet) return;
  gint64 now = g_get_monotonic_time();
  gboolean due = p->every > 0 ? p->done - p->printed_done >= p->every
                              : now - p->printed_us >= CLI_PROGRESS_SECONDS * G_USEC_PER_SEC;
  if (!due) return;
  double secs = (double) (now - p->started_us) / G_USEC_PER_SEC;
  fprintf(stderr, "mailagent: %s: %" G_GINT64_FORMAT " %s, %.0f/s\n", p->what, p->done, p->unit,
          secs > 0 ? (double) p->done / secs : 0.0);
  p->printed_us = now;
  p->printed_done = p->done;
}

void cli_progress_done(CliProgress *p, const char *summary)
{
  if (!p->quiet) fprintf(stderr, "mailagent: %s: %s\n", p->what, summary);
}

gboolean cli_master_key_is_installations(const guint8 key[32], const char *recorded, const char *source,
                                         GError **error)
{
  char check[MA_MASTER_KEY_CHECK_LEN + 1];
  ma_master_key_check(key, check);
  if (ma_crypto_equal(recorded, check)) return TRUE;
  g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT,
              "%s is not this installation's master key: the database was initialised with another one (copy the"
              " key file of the installation's first node, or point [security] master_key_file at it)",
              source);
  return FALSE;
}
