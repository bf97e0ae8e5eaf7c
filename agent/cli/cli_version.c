/* cli_version.c - `mailagent version` and `mailagent --version`: the program's version and the
 * version of every library it links, as loaded at run time (agent/version), so that a bug report or
 * an upgrade check names what is really running. */
#include "cli.h"

#include "agent/version/version.h"

#include <stdio.h>

int cli_version(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_summary(ctx, "Print mailagent's version and the versions of the libraries it runs with.");
  cli_common_add_options(ctx, &common);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if (argc > 1) {
    fprintf(stderr, "usage: mailagent version [--json]\n");
    return 2;
  }
  json_t *libs = ma_version_libraries();
  if (common.json) {
    cli_print_json(json_pack("{s:s, s:o}", "version", ma_version(), "libraries", libs), FALSE);
    return 0;
  }
  printf("mailagent %s\n", ma_version());
  gsize i;
  json_t *lib;
  json_array_foreach(libs, i, lib)
    printf("  %-9s %s\n", json_string_value(json_object_get(lib, "name")),
           json_string_value(json_object_get(lib, "version")));
  json_decref(libs);
  return 0;
}
