/* fuzz_codec.c - libFuzzer target for the record codec: the input as one JSON Lines line
 * (codec_record_parse_text) and as one CSV row (codec_csv_split). Must never crash or leak; an
 * accepted record must serialise (codec_record_to_json) and parse back to the same JSON.
 * Run: scripts/fuzz.sh codec SECONDS (seeds: tests/fixtures/records).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/codec/codec.h"
#include "agent/codec/codec_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  MaRecord *r = NULL;
  gboolean deleted = FALSE;
  GError *error = NULL;
  if (codec_record_parse_text((const char *)data, size, &r, &deleted, &error) == 0) {
    json_t *j = codec_record_to_json(r);
    MaRecord *again = NULL;
    if (codec_record_parse(j, &again, NULL, NULL) < 0) abort();
    json_t *j2 = codec_record_to_json(again);
    if (!json_equal(j, j2)) abort();
    json_decref(j);
    json_decref(j2);
    ma_record_free(again);
    ma_record_free(r);
  }
  g_clear_error(&error);
  char **cells = codec_csv_split((const char *)data, size, size > 0 && data[0] == ';' ? ';' : ',', &error);
  g_strfreev(cells);
  g_clear_error(&error);
  return 0;
}
