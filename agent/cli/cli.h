/* cli.h - the subcommands of the mailagent binary and the helpers they share.
 *
 * Each subcommand group lives in its own cli_<group>.c and has the signature
 * `int cli_<group>(int argc, char **argv)`, where argv[0] is the group name. It returns the process
 * exit status: 0 success, 1 failure of the environment or a partial result, 2 usage or bad input
 * (MA_ERROR_INVALID/NOT_FOUND/CONFLICT/LIMIT), 75 temporary failure (EX_TEMPFAIL).
 * Every group accepts -c FILE and, where it prints data, --json with the HTTP API's field names.
 */
#ifndef MA_CLI_H
#define MA_CLI_H

#include "agent/lib/config.h"
#include "storage/storage.h"

#include <glib.h>
#include <jansson.h>

int cli_init(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_enterprise(int argc, char **argv);
int cli_employee(int argc, char **argv);
int cli_records(int argc, char **argv);
int cli_ingest(int argc, char **argv);
int cli_timeline(int argc, char **argv);
int cli_search(int argc, char **argv); /* cli_search.c */
int cli_erase(int argc, char **argv);  /* cli_search.c */
int cli_settings(int argc, char **argv);
int cli_apikey(int argc, char **argv);
int cli_rules(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_submission(int argc, char **argv);
int cli_domain(int argc, char **argv);
int cli_dkim(int argc, char **argv);
int cli_doctor(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_webhook(int argc, char **argv);
int cli_audit_log(int argc, char **argv);
int cli_spool(int argc, char **argv);
int cli_mailbox(int argc, char **argv);
int cli_bounce(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_pending(int argc, char **argv);
/* `mailagent rules test` (cli_rules_test.c). */
int cli_rules_test(int argc, char **argv);
/* A rules argument: JSON text, "-" (stdin) or a file, bounded. Newly allocated, or NULL (printed). */
char *cli_rules_read_arg(const char *arg);
/* Prints a rules trace (trace.h) as text: each record, its rules in order, the activity. */
void cli_print_trace(json_t *records);
int cli_relay(int argc, char **argv);
int cli_route(int argc, char **argv);
int cli_channel(int argc, char **argv);
int cli_suppression(int argc, char **argv);

/* ---- shared helpers (cli_common.c) ---------------------------------------------------------- */

/* Options every subcommand has. */
typedef struct {
  char *config_file;  /* -c FILE */
  gboolean json;      /* --json */
} CliCommon;

/* Frees what option parsing stored in common (config_file). `g_auto(CliCommon) common = {0};`
 * calls it at the end of the scope. */
void cli_common_clear(CliCommon *common);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CliCommon, cli_common_clear)

/* Adds -c/--config and --json to ctx's main group, storing into common. */
void cli_common_add_options(GOptionContext *ctx, CliCommon *common);

/* Parses argv with ctx (after cli_common_add_options). On --help or a parse error, prints and
 * returns the exit status to return (0 or 2); returns -1 when the caller should go on. */
int cli_parse(GOptionContext *ctx, int *argc, char ***argv);

/* Loads the config named by common (defaults when none); when run by root, then becomes [process]
 * user or the data directory's owner (privilege.h). NULL and a printed error on failure. */
MaConfig *cli_load_config(const CliCommon *common);
/* serve: the next cli_load_config keeps the capability to bind ports below 1024. */
void cli_keep_bind_capability(void);
/* Opens storage under cfg->data_dir (not creating it). NULL and a printed error on failure. */
MaStorage *cli_open_storage(const MaConfig *cfg);
/* Resolves ENTERPRISE (id or slug). NULL and a printed error when it does not exist. */
MaEnterprise *cli_enterprise_resolve(MaStorage *st, const char *id_or_slug);

/* Nodes share their secrets (issue 18): the database keeps the master key's check value under this
 * name from the first `mailagent init` (storage_installation_set_once). */
#define CLI_MASTER_KEY_CHECK "master_key_check"
/* TRUE when key's check value is `recorded` (the installation's); else FALSE with
 * MA_ERROR_CONFLICT saying that the key named `source` (a path or $MAILAGENT_MASTER_KEY) belongs
 * to another installation. */
gboolean cli_master_key_is_installations(const guint8 key[32], const char *recorded, const char *source,
                                         GError **error);

/* Prints "mailagent: <message>" to stderr and returns the exit status for the error's code. */
int cli_fail(const char *what, const GError *error);
/* Exit status for a GError (2, 75 or 1). */
int cli_exit_code(const GError *error);
/* Prints one JSON document (pretty, one line per document with JSON_COMPACT when lines is TRUE)
 * to stdout and takes ownership of doc. */
void cli_print_json(json_t *doc, gboolean lines);

/* ---- more shared helpers (cli_common.c, owner: cli) ------------------------------------------ */

/* A subcommand of a group ("enterprise add"). run gets argv[0] = the subcommand's name. */
typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} CliSub;

/* Runs the subcommand named by argv[1] of group; prints the group's usage for --help/-h/help (0),
 * for a missing or unknown subcommand (2). */
int cli_dispatch(const char *group, const CliSub *subs, gsize n, int argc, char **argv);

/* A context for one (sub)command: "Usage: mailagent <prgname> [OPTION...] <params>", with
 * -c/--json from cli_common_add_options and the extra entries (may be NULL) in the main group.
 * Free with g_option_context_free. */
GOptionContext *cli_context(const char *prgname, const char *params, const char *description, CliCommon *common,
                            const GOptionEntry *extra);

/* After cli_parse: checks that exactly `want` positional arguments remain (argv[0] is the command
 * name), else prints "usage: ..." and returns 2; -1 when all is well. */
int cli_positional(int argc, char **argv, int want_min, int want_max, const char *usage);

/* Loads the config and opens storage (not creating it): both or neither. Returns 0, or the exit
 * status after printing the error. */
int cli_open(const CliCommon *common, MaConfig **cfg, MaStorage **st);
/* cli_open, then the enterprise named by id_or_slug into *ent (the caller frees it with
 * ma_enterprise_free and closes *st). Returns 0, or the exit code after printing why; on failure
 * nothing is left open. */
int cli_open_enterprise(const CliCommon *common, const char *id_or_slug, MaConfig **cfg, MaStorage **st,
                        MaEnterprise **ent);

/* Records an administrative change in the audit log as the CLI's Unix user (audit.h); details is
 * taken over. Inside the caller's transaction when one is open: pass error, and roll back on -1.
 * With error NULL (the change is committed already) a failure is printed as a warning: the change
 * stands, unrecorded. Returns 0 or -1. */
int cli_audit(MaStorage *st, const char *enterprise_id, const char *action, const char *target, json_t *details,
              GError **error);

/* Progress of a long command on stderr ("mailagent: records import: 120000 lines, 41000/s"), every
 * `every` items when every > 0, else every CLI_PROGRESS_SECONDS of real time; nothing when quiet.
 * Stack-allocated by the caller; nothing to free. */
#define CLI_PROGRESS_SECONDS 5
typedef struct {
  const char *what;   /* "records import" */
  const char *unit;   /* "lines", "messages" */
  gint64 every;       /* items between lines; 0: by time */
  gboolean quiet;
  gint64 done;
  gint64 started_us;  /* monotonic */
  gint64 printed_us;
  gint64 printed_done;
} CliProgress;
void cli_progress_init(CliProgress *p, const char *what, const char *unit, gint64 every, gboolean quiet);
/* Counts n more items and prints a line when one is due. */
void cli_progress_add(CliProgress *p, gint64 n);
/* The final summary line ("mailagent: <what>: <summary>"), unless quiet. */
void cli_progress_done(CliProgress *p, const char *summary);

/* Prints "mailagent: warning: ..." to stderr. */
void cli_warn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Prints "mailagent: ..." to stderr and returns 2 (bad input). */
int cli_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* The options of an OAuth2 sign-in's two halves, the same for a mailbox and a relay: where the
 * provider sends the code (authorize), and what came back (callback). Each names the variables
 * (g_autofree char *) the parse fills. */
#define CLI_OAUTH2_REDIRECT_ENTRY(redirect)                                                                     \
  {"redirect-uri", 0, 0, G_OPTION_ARG_STRING, &(redirect),                                                      \
   "Where the provider sends the code (the CRM's page; default: mailagent's own callback under [api] public_url)", \
   "URI"}
#define CLI_OAUTH2_CALLBACK_ENTRIES(state, code, redirect)                                                      \
  {"state", 0, 0, G_OPTION_ARG_STRING, &(state), "The state the provider sent back", "S"},                      \
  {"code", 0, 0, G_OPTION_ARG_STRING, &(code), "The authorization code", "C"},                                   \
  {"redirect-uri", 0, 0, G_OPTION_ARG_STRING, &(redirect), "The redirect URI given to authorize", "URI"}

#endif
