/* fuzz_cursor.c - libFuzzer target for the timeline's page cursor, the one opaque string an API
 * client hands back to storage (GET .../timeline?cursor=): the input, as a C string, is passed to
 * storage_timeline of a real temporary database. The answer must be a page (0) or MA_ERROR_INVALID
 * ("invalid cursor", a 400 for the client); any other error means the cursor reached SQL in a shape
 * the decoder should have refused. Must never crash or leak. Seeds: tests/fixtures/cursors.
 */
#include "agent/lib/clock.h"
#include "agent/lib/error.h"
#include "fuzz_storage.h"
#include "storage/storage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static MaStorage *st;
static char *enterprise;

static void setup(void)
{
  st = fuzz_storage_open("fuzz-cursor-XXXXXX");
  MaEnterprise e = {0};
  e.id = ma_id_new();
  e.slug = "fuzz";
  e.name = "Fuzz";
  e.inbound_local = "fuzz-12345678";
  e.domains = g_ptr_array_new();
  e.created_at = ma_now();
  if (storage_enterprise_create(st, &e, NULL) < 0) abort();
  g_ptr_array_unref(e.domains);
  enterprise = e.id;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!st) setup();
  char *cursor = g_strndup((const char *) data, size);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) ma_timeline_item_free);
  MaTimelineFilter filter = {.has_attachment = -1};
  char *next = NULL;
  GError *error = NULL;
  int rc = storage_timeline(st, enterprise, MA_RECORD_CONTACT, "con-1", &filter, cursor, 50, out, &next, &error);
  if (rc < 0 && !g_error_matches(error, MA_ERROR, MA_ERROR_INVALID)) {
    fprintf(stderr, "cursor answered with %s\n", error ? error->message : "no error");
    abort();
  }
  g_clear_error(&error);
  g_free(next);
  g_ptr_array_unref(out);
  g_free(cursor);
  return 0;
}
