/* fuzz_forward.c - libFuzzer target for agent/mime/forward*.c: the input is fed to the text and
 * HTML front-ends, and every block found has its addresses and date read. Must never crash, leak
 * or hang (the recogniser is linear). Seeds: tests/fixtures/forward. */
#include "agent/lib/model.h"
#include "agent/mime/forward.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_block(MaForwardBlock *b)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  forward_parse_addresses(b->from, MA_ROLE_FROM, out);
  forward_parse_addresses(b->to, MA_ROLE_TO, out);
  forward_parse_addresses(b->cc, MA_ROLE_CC, out);
  (void)forward_parse_date(b->date);
  g_ptr_array_free(out, TRUE);
  ma_forward_block_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = g_strndup((const char *)data, size);
  MaForwardBlock *b = NULL;
  if (forward_find_in_text(text, &b)) read_block(b);
  b = NULL;
  if (forward_find_in_html((const char *)data, size, &b)) read_block(b);
  (void)forward_parse_date(text);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  forward_parse_addresses(text, MA_ROLE_TO, out);
  g_ptr_array_free(out, TRUE);
  g_free(text);
  return 0;
}
