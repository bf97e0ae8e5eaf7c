/* fuzz_relay.c - libFuzzer target for agent/relay's two parsers of outside text: the recipient
 * patterns an administrator gives a filter (relay_patterns_normalise) and the route stored with a
 * queued message (relay_route_of, JSON). The input is split at its first NUL: the part before is
 * a pattern list, the whole is also read as a route. A canonical pattern list must normalise to
 * itself, and every pattern in it must match a subdomain or itself as its rule says. Must never
 * crash or leak. Seeds: tests/fixtures/relay.
 */
#include "agent/relay/relay.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size > 16384) return 0;
  char *text = g_strndup((const char *) data, size);
  GError *error = NULL;
  char *canon = relay_patterns_normalise(text, &error);
  if (canon) {
    char *again = relay_patterns_normalise(canon, NULL);
    if (!again || strcmp(again, canon) != 0) abort(); /* canonical text is a fixed point */
    g_free(again);
    char **pats = g_strsplit(canon, " ", -1);
    for (char **p = pats; *p; p++) {
      gboolean wild = g_str_has_prefix(*p, "*.");
      const char *base = wild ? *p + 2 : *p;
      char *sub = g_strconcat("a.", base, NULL);
      if (relay_pattern_match(*p, base) == wild || relay_pattern_match(*p, sub) != wild) abort();
      g_free(sub);
    }
    g_strfreev(pats);
  }
  g_clear_error(&error);
  g_free(canon);
  RelayRecipientRoute r;
  char *copy = g_malloc(size + 1);
  memcpy(copy, data, size);
  copy[size] = '\0';
  relay_route_of(copy, "x@client.example", &r);
  if (r.channel[sizeof r.channel - 1] || r.relay_id[sizeof r.relay_id - 1]) abort();
  g_free(copy);
  g_free(text);
  return 0;
}
