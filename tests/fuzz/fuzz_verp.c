/* fuzz_verp.c - libFuzzer target for the VERP/unsubscribe token decoder (agent/bounce/bounce_verp.c):
 * any bytes as a local part. Must never crash or read past len; a token it accepts must encode
 * back to the same text (lower-cased), so nothing but tokens made with the key is ever accepted.
 * Seeds: tests/fixtures/verp. */
#include "agent/bounce/bounce_verp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static guint8 key[BOUNCE_TOKEN_KEY_LEN];
  static gboolean init;
  if (!init) {
    guint8 master[32];
    memset(master, 1, sizeof master); /* the seeds' key */
    bounce_token_key(master, key);
    init = TRUE;
  }
  /* a private copy of exactly size octets, so a read past the end is caught by ASan */
  char *text = size ? g_memdup2(data, size) : NULL;
  BounceTokenKind kind;
  gint64 id = 0;
  int rc = bounce_token_decode(key, text, size, &kind, &id);
  if (rc == 1) {
    char again[BOUNCE_TOKEN_LEN + 1];
    if (id <= 0) abort();
    bounce_token_encode(key, kind, id, again);
    if (g_ascii_strncasecmp(again, text, size) != 0 || size != BOUNCE_TOKEN_LEN) abort();
  } else if (rc != 0) {
    abort();
  }
  g_free(text);
  return 0;
}
