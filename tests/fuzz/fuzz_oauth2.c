/* fuzz_oauth2.c - libFuzzer target for the token-endpoint response parser
 * (oauth2_token_response_parse): hostile JSON from a provider. Must never crash or leak; a success
 * carries either an error code or a bounded printable access token.
 * run: ./fuzz_oauth2 -max_len=70000 corpus/ (seed: {"access_token":"a","expires_in":3600}).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/oauth2/oauth2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  MaOAuth2TokenResponse r;
  GError *error = NULL;
  if (oauth2_token_response_parse((const char *)data, size, &r, &error) == 0) {
    if (!r.error && !r.access_token) abort();
    if (r.access_token && (strlen(r.access_token) == 0 || strlen(r.access_token) > 8192)) abort();
    if (r.expires_in < 0) abort();
    ma_oauth2_token_response_clear(&r);
  } else {
    if (!error) abort();
    g_clear_error(&error);
  }
  return 0;
}
