/* version.c - the version of mailagent and of the libraries it runs with (version.h). */
#include "version.h"

#include "agent/mime/mime.h"
#include "agent/webhook/webhook.h"
#include "rules/rules.h"
#include "storage/storage.h"

#include <event2/event.h>
#include <glib.h>
#include <libetpan/libetpan_version.h>
#include <openssl/crypto.h>
#include <string.h>

#ifndef MAILAGENT_VERSION
#error "MAILAGENT_VERSION comes from CMakeLists.txt (project VERSION)"
#endif

const char *ma_version(void)
{
  return MAILAGENT_VERSION;
}

json_t *ma_version_libraries(void)
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
