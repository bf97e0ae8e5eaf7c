/* fuzz_address.c - libFuzzer target for the address normalisers mail feeds to storage: the
 * header path (mime_address_normalise: domain lower-cased, IDN A-labels decoded), the hand-forward
 * path (forward_parse_addresses) and the matching key (ma_address_key, which must equal the address
 * whenever ma_address_key_is_folded says it would), plus Message-ID
 * normalisation. Every string they return must be valid UTF-8 (storage keeps only valid UTF-8;
 * g_hostname_to_unicode once returned invalid UTF-8 for a crafted "xn--" label, see
 * tests/fuzz/regressions/address/). Must never crash or leak. Seeds: tests/fixtures/addresses.
 */
#include "agent/lib/model.h"
#include "agent/mime/forward.h"
#include "agent/mime/mime_private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *what, const char *s)
{
  if (s && !g_utf8_validate(s, -1, NULL)) {
    fprintf(stderr, "%s returned invalid UTF-8\n", what);
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = g_strndup((const char *) data, size);
  char *norm = mime_address_normalise(text);
  check("mime_address_normalise", norm);
  if (norm) {
    for (int strip_plus = 0; strip_plus <= 1; strip_plus++) {
      char *key = ma_address_key(norm, strip_plus);
      check("ma_address_key", key);
      /* the look-ups skip the fold when this says the address is its own key */
      if (ma_address_key_is_folded(norm, strip_plus) && g_strcmp0(key, norm) != 0) {
        fprintf(stderr, "ma_address_key_is_folded said TRUE but the key differs\n");
        abort();
      }
      g_free(key);
    }
  }
  g_free(norm);
  char *id = mime_msgid_normalise(text);
  check("mime_msgid_normalise", id);
  g_free(id);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) ma_participant_free);
  forward_parse_addresses(text, MA_ROLE_TO, out);
  for (guint i = 0; i < out->len; i++) {
    const MaParticipant *p = out->pdata[i];
    check("forward_parse_addresses", p->address);
    check("forward_parse_addresses (name)", p->name);
  }
  g_ptr_array_free(out, TRUE);
  g_free(text);
  return 0;
}
