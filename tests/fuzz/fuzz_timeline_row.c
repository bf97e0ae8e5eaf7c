/* fuzz_timeline_row.c - libFuzzer target for the decoder of a timeline row's item
 * (storage_timeline_row.c): the input is split as SQLite's position and item (a position in
 * range and an item inside the input, or -1), and decoded as a message row's item and as an activity row's,
 * twice each with the same reused buffers, in a buffer of exactly its length, so a read past it
 * is caught by ASan. The answer must be 0 with every decoded string NUL-terminated and every
 * direction, role and record type in range, or -1 with MA_ERROR_INTERNAL. Must never crash or leak.
 * Seeds: tests/fixtures/timeline_rows.
 */
#include "agent/lib/error.h"
#include "storage/storage_timeline_row.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(MaTimelineRowParts *rp, const uint8_t *data, size_t size)
{
  char *item = g_memdup2(data, size); /* exact size: nothing after it to read by mistake */
  MaStoredMessage m = {.id = "m"};
  MaActivity a = {0};
  GError *error = NULL;
  if (storage_timeline_row_message(rp, item, size, &m, &error) < 0) {
    if (!g_error_matches(error, MA_ERROR, MA_ERROR_INTERNAL)) abort();
    g_clear_error(&error);
  } else {
    if (m.direction > MA_DIRECTION_OUTBOUND) abort();
    if (m.subject) (void)strlen(m.subject);
    if (m.message_id) (void)strlen(m.message_id);
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
  if (storage_timeline_row_activity(rp, item, size, &a, &error) < 0) {
    if (!g_error_matches(error, MA_ERROR, MA_ERROR_INTERNAL)) abort();
    g_clear_error(&error);
  } else {
    if (!a.id || a.created_at < 0) abort();
    (void)strlen(a.id);
    if (a.content) (void)strlen(a.content);
  }
  MaTimelinePositioned at;
  if (storage_timeline_row_position(item, size, &at) == 0) {
    if (at.kind < 0 || at.kind > 1 || at.message_id_len == 0 || at.message_id < item ||
        at.message_id + at.message_id_len > item + size || at.item < item || at.item + at.item_len != item + size)
      abort();
  }
  g_free(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  check(&rp, data, size);
  check(&rp, data, size);
  storage_timeline_row_parts_clear(&rp);
  return 0;
}
