/* fuzz_dkim.c - libFuzzer target for agent/dkim's parsers: the input is read as a tag list (a
 * DKIM-Signature value or a key record) and as a whole message whose DKIM-Signature fields are
 * verified against a key record taken from the input's first line. Must never crash, leak, read
 * out of bounds or take time beyond linear in the input.
 * Build: clang only (tests/fuzz/CMakeLists.txt); run: ./fuzz_dkim -max_len=16384 corpus/
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dkim/dkim.h"
#include "agent/dkim/dkim_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int first_line_lookup(const char *name, char **txt_r, void *user_data)
{
  const char *text = user_data;
  const char *nl = strchr(text, '\n');
  *txt_r = g_strndup(text, nl ? (gsize) (nl - text) : strlen(text));
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  DkimTags tags;
  const char *why = NULL;
  if (dkim_tags_parse((const char *) data, size, &tags, &why) == 0) {
    for (guint i = 0; i < tags.n; i++) {
      if (tags.tags[i].name_len == 0 || tags.tags[i].value + tags.tags[i].value_len > (const char *) data + size)
        abort();
    }
    g_free(dkim_tag_dup(&tags, "p", TRUE));
  }
  char *text = g_strndup((const char *) data, size); /* NUL-free prefix for the look-up */
  GPtrArray *results = g_ptr_array_new_with_free_func((GDestroyNotify) ma_dkim_result_free);
  ma_dkim_verify((const char *) data, size, 0, first_line_lookup, text, results);
  if (results->len > 64) abort();
  g_ptr_array_unref(results);
  g_free(text);
  return 0;
}
