/* pages.c - the in-process half of the API benchmark: opens the benchmark archive (read-only use
 * of storage) and computes N timeline pages of contact "big" as a read worker does (the storage
 * visitor writing the page's JSON with the codec), each with a different `since` like uncached.lua,
 * so no HTTP, threads or cache are in the count. pages.sh runs it under callgrind.
 * Usage: pages DATA_DIR ENTERPRISE_ID N   -> prints the bytes of JSON written.
 */
#include "agent/codec/codec.h"
#include "agent/codec/codec_writer.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>

static void write_item(const MaTimelineItem *item, void *user_data)
{
  codec_write_timeline_item(user_data, item);
}

int main(int argc, char **argv)
{
  GError *error = NULL;
  MaStorage *st = NULL;
  gsize total = 0;

  if (argc != 4) {
    fprintf(stderr, "usage: pages DATA_DIR ENTERPRISE_ID N\n");
    return 2;
  }
  if (storage_open(argv[1], FALSE, &st, &error) < 0) {
    fprintf(stderr, "pages: %s\n", error->message);
    return 1;
  }
  for (int i = 0; i < atoi(argv[3]); i++) {
    MaTimelineFilter f = {.has_attachment = -1, .since = 946684800 + i}; /* as uncached.lua */
    CodecWriter w;
    char *next = NULL;
    codec_writer_init(&w, g_string_sized_new(512 * 50 + 64));
    codec_write_page_begin(&w);
    if (storage_timeline_each(st, argv[2], MA_RECORD_CONTACT, "big", &f, NULL, 50, write_item, &w, &next, &error) < 0) {
      fprintf(stderr, "pages: %s\n", error->message);
      return 1;
    }
    codec_write_page_end(&w, next);
    total += w.out->len;
    g_string_free(w.out, TRUE);
    g_free(next);
  }
  printf("%zu\n", total);
  storage_close(&st);
  return 0;
}
