/* fuzz_collector.c - libFuzzer target for the collector's pure parsers: the input goes whole to
 * the presets parser (collector_presets_parse), to the folder-name decoder (modified UTF-7) and to
 * the server spec parser ("host:port:security"). Must never crash or leak; a decoded folder name
 * must be valid UTF-8 within its bound, a parsed server must have a host and a port in range.
 * run: ./fuzz_collector -max_len=4096 share/ (seed: share/presets.ini).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/collector/collector_folders.h"
#include "agent/collector/collector_presets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  GHashTable *by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_preset_free);
  GError *error = NULL;
  if (collector_presets_parse((const char *)data, size, by_id, &error) < 0) {
    if (!error || g_hash_table_size(by_id) != 0) abort();
    g_clear_error(&error);
  }
  g_hash_table_unref(by_id);

  char *utf8 = collector_mutf7_decode((const char *)data, size);
  if (utf8 && (!g_utf8_validate(utf8, -1, NULL) || strlen(utf8) > COLLECTOR_FOLDER_NAME_MAX)) abort();
  g_free(utf8);

  char *text = g_strndup((const char *)data, size);
  MaServer srv;
  if (collector_server_parse(text, &srv, &error) == 0) {
    if (!srv.host || srv.port < 1 || srv.port > 65535) abort();
    g_free(srv.host);
  } else {
    g_clear_error(&error);
  }
  g_free(text);
  return 0;
}
