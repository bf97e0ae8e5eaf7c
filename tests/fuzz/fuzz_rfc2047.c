/* fuzz_rfc2047.c - libFuzzer target for the header-value helpers of issue 16's parser fidelity:
 * mime_rfc2047_decode (joined encoded words, lenient base64) and mime_content_type_valid. The
 * decoder must return valid UTF-8 (it goes to storage and JSON), never crash, never leak, and stay
 * linear (a hang is a finding). Seeds: tests/fixtures/rfc2047.
 */
#include "agent/mime/mime.h"
#include "agent/mime/mime_private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mime_global_init(); /* charset conversion goes through GMime's iconv cache */
  char *text = g_strndup((const char *) data, size);
  char *decoded = mime_rfc2047_decode(text);
  if (!g_utf8_validate(decoded, -1, NULL)) {
    fprintf(stderr, "mime_rfc2047_decode returned invalid UTF-8\n");
    abort();
  }
  (void) mime_content_type_valid(text);
  g_free(decoded);
  g_free(text);
  return 0;
}
