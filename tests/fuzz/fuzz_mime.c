/* fuzz_mime.c - libFuzzer target for the MIME normaliser: mime_parse on arbitrary bytes (the
 * pre-scan, GMime, the body walk, charset conversion, forward unwrapping), then the HTML
 * converters on the same bytes. Must never crash, leak, hang or hand out invalid UTF-8, and
 * mime_header_start_problem (the SMTP server's 554 5.6.0) must never refuse what mime_parse reads.
 * Build: clang only (tests/fuzz/CMakeLists.txt); run: ./fuzz_mime -max_len=65536 corpus/
 * Seed corpus: the .eml files of tests/fixtures/mime.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  mime_global_init();
  MaMimeLimits limits = mime_limits_default();
  limits.max_parts = 200; /* keep each run short; the logic is the same */
  MaMessage *m = NULL;
  GError *error = NULL;
  /* the SMTP server refuses what this calls unreadable: the parser must never read it */
  const char *start_problem = mime_header_start_problem(data, size);
  if (mime_parse(data, size, &limits, &m, &error) == 0) {
    if (start_problem) abort();
    if (!g_utf8_validate(m->subject, -1, NULL) || !g_utf8_validate(m->text, -1, NULL)) abort();
    for (guint i = 0; i < m->participants->len; i++) {
      MaParticipant *p = g_ptr_array_index(m->participants, i);
      if (!g_utf8_validate(p->address, -1, NULL)) abort();
    }
    if (m->html) {
      char *s = mime_html_sanitize(m->html, strlen(m->html));
      g_free(s);
    }
    ma_message_free(m);
  } else {
    g_clear_error(&error);
  }
  char *t = mime_html_to_text((const char *)data, size);
  if (!g_utf8_validate(t, -1, NULL)) abort();
  g_free(t);
  return 0;
}
