/* cli_version.c - `mailagent version` and `mailagent --version`: the program's version and the
 * version of every library it links, as loaded at run time (not as compiled against), so that a
 * bug report or an upgrade check names what is really running. Each module reports the library
 * only it uses; the ones every module shares (GLib, OpenSSL, libevent, jansson) are read here. */
#include "cli.h"

#include "agent/mime/mime.h"
#include "agent/webhook/webhook.h"
#include "rules/rules.h"

#include <event2/event.h>
#include <libetpan/libetpan_version.h>
#include <openssl/crypto.h>
#include <stdio.h>

#ifndef MAILAGENT_VERSION
#error "MAILAGENT_VERSION comes from CMakeLists.txt (project VERSION)"
#endif

/* The libraries as {"name", "version"} pairs in a fixed order. Caller frees (json_decref). */
static json_t *library_versions(void)
{
  json_t *libs = json_array();
  char *owned[] = {
    mime_library_version(),
    storage_library_version(),
    g_strdup_printf("OpenSSL %s", OpenSSL_version(OPENSSL_VERSION_STRING)),
    g_strdup_printf("libevent %s", event_get_version()),
    g_strdup_printf("libetpan %d.%d", libetpan_get_version_major(), libetpan_get_version_minor()),
    rules_library_version(),
    webhook_library_version(),
    g_strdup_printf("GLib %u.%u.%u", glib_major_version, glib_minor_version, glib_micro_version),
    g_strdup_printf("jansson %s", jansson_version_str()),
  };
  for (gsize i = 0; i < G_N_ELEMENTS(owned); i++) {
    /* "Name version..." -> {"name": "Name", "version": "version..."} */
    const char *space = strchr(owned[i], ' ');
    json_array_append_new(libs, json_pack("{s:s%, s:s}", "name", owned[i], (size_t) (space - owned[i]), "version",
                                          space + 1));
    g_free(owned[i]);
  }
  return libs;
}

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
  json_t *libs = library_versions();
  if (common.json) {
    cli_print_json(json_pack("{s:s, s:o}", "version", MAILAGENT_VERSION, "libraries", libs), FALSE);
    return 0;
  }
  printf("mailagent %s\n", MAILAGENT_VERSION);
  gsize i;
  json_t *lib;
  json_array_foreach(libs, i, lib)
    printf("  %-9s %s\n", json_string_value(json_object_get(lib, "name")),
           json_string_value(json_object_get(lib, "version")));
  json_decref(libs);
  return 0;
}
