/* fuzz_downgrade.c - libFuzzer target for the 7-bit re-encoder (agent/mime/mime_downgrade): any
 * octets, fed whole and in pieces of a size the input chooses, give the same answer and the same
 * output; a converted message needs nothing more (its re-encoded parts are 7-bit with short lines,
 * so a second run finds nothing to do) and never fails where the first run succeeded. Limits must
 * hold (a hang or an allocation out of proportion is a finding). Seeds: tests/fixtures/downgrade.
 */
#include "agent/mime/mime_downgrade.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  gsize chunk = size ? (gsize) data[0] % 64 + 1 : 1;
  GByteArray *whole = NULL, *pieces = NULL;
  GError *e1 = NULL, *e2 = NULL;
  MimeDowngradeSummary s1, s2;
  int rc1 = mime_downgrade_bytes((const char *) data, size, 0, &whole, &s1, &e1);
  int rc2 = mime_downgrade_bytes((const char *) data, size, chunk, &pieces, &s2, &e2);
  if (rc1 != rc2 || (rc1 < 0) != (e1 != NULL) || (rc2 < 0) != (e2 != NULL)) {
    fprintf(stderr, "whole and in pieces of %zu disagree: %d / %d\n", (size_t) chunk, rc1, rc2);
    abort();
  }
  if (rc1 == 1) {
    if (whole->len != pieces->len || memcmp(whole->data, pieces->data, whole->len) != 0) {
      fprintf(stderr, "whole and in pieces of %zu wrote different octets\n", (size_t) chunk);
      abort();
    }
    if (s1.to_encode == 0) abort();
    GByteArray *again = NULL;
    GError *e3 = NULL;
    MimeDowngradeSummary s3;
    int rc3 = mime_downgrade_bytes((const char *) whole->data, whole->len, 0, &again, &s3, &e3);
    if (rc3 != 0) {
      fprintf(stderr, "the converted message: %d (%s)\n", rc3, e3 ? e3->message : "needs re-encoding again");
      abort();
    }
  }
  if (whole) g_byte_array_unref(whole);
  if (pieces) g_byte_array_unref(pieces);
  g_clear_error(&e1);
  g_clear_error(&e2);
  return 0;
}
