/* fuzz_timeline_row.c - libFuzzer target for the decoder of a timeline row's parts lists
 * (storage_timeline_row.c): the input is decoded as each of the three lists alone, then split in
 * three (at offsets taken from its first two bytes) as one row's people, files and links. Each
 * list is handed over in a buffer of exactly its length, so a read past it is caught by ASan. The
 * answer must be 0 with every decoded string NUL-terminated inside the decoder's buffer and every
 * role and record type in range, or -1 with MA_ERROR_INTERNAL. Must never crash or leak.
 * Seeds: tests/fixtures/timeline_rows.
 */
#include "agent/lib/error.h"
#include "storage/storage_timeline_row.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(MaTimelineRowParts *rp, const uint8_t *people, size_t np, const uint8_t *files, size_t nf,
                  const uint8_t *links, size_t nl)
{
  /* exact-size copies: nothing after them to read by mistake */
  char *p = np ? g_memdup2(people, np) : NULL, *f = nf ? g_memdup2(files, nf) : NULL;
  char *l = nl ? g_memdup2(links, nl) : NULL;
  MaStoredMessage m = {.id = "m"};
  GError *error = NULL;
  int rc = storage_timeline_row_parts(rp, p, np, f, nf, l, nl, &m, &error);
  if (rc < 0) {
    if (!g_error_matches(error, MA_ERROR, MA_ERROR_INTERNAL)) abort();
    g_clear_error(&error);
  } else {
    for (guint i = 0; i < m.participants->len; i++) {
      MaParticipant *x = m.participants->pdata[i];
      if (x->role > MA_ROLE_REPLY_TO || !x->address) abort();
      (void)strlen(x->address);
      if (x->name) (void)strlen(x->name);
    }
    for (guint i = 0; i < m.attachments->len; i++) {
      MaAttachment *x = m.attachments->pdata[i];
      if (strlen(x->sha256) >= sizeof x->sha256) abort();
      if (x->filename) (void)strlen(x->filename);
    }
    for (guint i = 0; i < m.links->len; i++) {
      MaRecordRef *x = m.links->pdata[i];
      if (x->type > MA_RECORD_OPPORTUNITY || !x->id) abort();
      (void)strlen(x->id);
    }
  }
  g_free(p);
  g_free(f);
  g_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  check(&rp, data, size, NULL, 0, NULL, 0);
  check(&rp, NULL, 0, data, size, NULL, 0);
  check(&rp, NULL, 0, NULL, 0, data, size);
  if (size >= 2) {
    size_t a = data[0] % (size - 1), b = data[1] % (size - 1);
    size_t lo = MIN(a, b), hi = MAX(a, b);
    const uint8_t *rest = data + 2;
    check(&rp, rest, lo, rest + lo, hi - lo, rest + hi, size - 2 - hi);
  }
  storage_timeline_row_parts_clear(&rp);
  return 0;
}
