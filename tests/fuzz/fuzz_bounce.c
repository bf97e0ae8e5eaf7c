/* fuzz_bounce.c - libFuzzer target for agent/bounce: any bytes go through bounce_parse; every
 * recipient it reports must have the fields the CLI prints, a bounded diagnostic and a reason.
 * Must never crash, leak or hang. Seeds: tests/fixtures/bounce (sisimai's corpus). */
#include "agent/bounce/bounce.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  BounceReport *rep = NULL;
  if (bounce_parse(data, size, &rep) != 0) return 0;
  if (rep->recipients->len > BOUNCE_RECIPIENTS_MAX) abort();
  for (guint i = 0; i < rep->recipients->len; i++) {
    BounceRecipient *r = g_ptr_array_index(rep->recipients, i);
    if (!r->recipient || !r->action || !r->status || !r->diagnostic || !r->reason || !r->command) abort();
    if (strlen(r->diagnostic) > BOUNCE_DIAGNOSTIC_MAX) abort();
    if (!g_utf8_validate(r->diagnostic, -1, NULL)) abort();
  }
  bounce_report_free(rep);
  return 0;
}
