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
int cli_settings(int argc, char **argv);
int cli_apikey(int argc, char **argv);
int cli_rules(int argc, char **argv);

/* ---- shared helpers (cli_common.c) ---------------------------------------------------------- */

/* Options every subcommand has. */
typedef struct {
  char *config_file;  /* -c FILE */
  gboolean json;      /* --json */
} CliCommon;

/* Adds -c/--config and --json to ctx's main group, storing into common. */
void cli_common_add_options(GOptionContext *ctx, CliCommon *common);

/* Parses argv with ctx (after cli_common_add_options). On --help or a parse error, prints and
 * returns the exit status to return (0 or 2); returns -1 when the caller should go on. */
int cli_parse(GOptionContext *ctx, int *argc, char ***argv);

/* Loads the config named by common (defaults when none). NULL and a printed error on failure. */
MaConfig *cli_load_config(const CliCommon *common);
/* Opens storage under cfg->data_dir (not creating it). NULL and a printed error on failure. */
MaStorage *cli_open_storage(const MaConfig *cfg);
/* Resolves ENTERPRISE (id or slug). NULL and a printed error when it does not exist. */
MaEnterprise *cli_enterprise_resolve(MaStorage *st, const char *id_or_slug);

/* Prints "mailagent: <message>" to stderr and returns the exit status for the error's code. */
int cli_fail(const char *what, const GError *error);
/* Exit status for a GError (2, 75 or 1). */
int cli_exit_code(const GError *error);
/* Prints one JSON document (pretty, one line per document with JSON_COMPACT when lines is TRUE)
 * to stdout and takes ownership of doc. */
void cli_print_json(json_t *doc, gboolean lines);

#endif
