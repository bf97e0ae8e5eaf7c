/* fuzz_api_head.c - libFuzzer target for the API front reader's request-head parser
 * (agent/api/api_head.c): the end is found the same whole and incrementally, and a parsed head
 * yields bounded, NUL-free strings. */
#include "agent/api/api_head.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *buf = (const char *)data;
  gsize whole, resume = 0, step = 0;
  ApiHead h;

  if (size > API_HEAD_MAX)
    return 0;
  whole = api_head_length(buf, size, NULL);
  /* incremental, over growing prefixes: the first end is the same */
  for (gsize k = 1; k <= size && step == 0; k += 1 + k / 7)
    step = api_head_length(buf, k, &resume);
  if (step == 0)
    step = api_head_length(buf, size, &resume);
  if (step != whole)
    __builtin_trap();
  if (whole && api_head_parse(buf, whole, &h) == 0) {
    if (!h.target || strlen(h.target) >= whole || (h.authorization && strlen(h.authorization) >= whole))
      __builtin_trap();
    api_head_clear(&h);
  }
  return 0;
}
