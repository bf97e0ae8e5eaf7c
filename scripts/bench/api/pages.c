/* pages.c - the in-process half of the API benchmark: opens the benchmark archive (read-only use
 * of storage) and computes N timeline pages of contact "big" as a read worker does (the storage
 * visitor writing the page's JSON with the codec), each with a different `since` like uncached.lua,
 * so no HTTP, threads or page cache are in the count. pages.sh runs it under callgrind.
 * Mode "cold" decodes and writes every item (no item cache, as a page of items never seen); mode
 * "cached" goes through the API's item cache (api_item_cache.c) as api_timeline.c does, after one
 * page that fills it, so the N pages copy their items' JSON. Both modes compute that first page,
 * so subtracting a run of N = 0 leaves the N pages' cost alone.
 * Usage: pages DATA_DIR ENTERPRISE_ID N cold|cached   -> prints the bytes of JSON written.
 */
#include "agent/api/api_item_cache.h"
#include "agent/codec/codec.h"
#include "agent/codec/codec_writer.h"
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  CodecWriter w;
  ApiItemCache *cache; /* NULL in mode cold */
} Page;

/* as api_timeline.c's known_item and write_item */
static gboolean known_item(const MaTimelineRow *row, void *user_data)
{
  Page *p = user_data;
  return api_item_cache_write(p->cache, row, &p->w);
}

static void write_item(const MaTimelineItem *item, void *user_data)
{
  Page *p = user_data;
  api_item_cache_render(p->cache, &p->w, item);
}

/* One page with since = 946684800 + i (as uncached.lua); its JSON length, or -1. */
static gssize page(MaStorage *st, const char *enterprise_id, int i, ApiItemCache *cache, GError **error)
{
  MaTimelineFilter f = {.has_attachment = -1, .since = 946684800 + i};
  Page p = {.cache = cache};
  char *next = NULL;
  codec_writer_init(&p.w, g_string_sized_new(512 * 50 + 64));
  codec_write_page_begin(&p.w);
  if (storage_timeline_each_known(st, enterprise_id, MA_RECORD_CONTACT, "big", &f, NULL, 50,
                                  cache ? known_item : NULL, write_item, &p, &next, error) < 0) {
    g_string_free(p.w.out, TRUE);
    return -1;
  }
  codec_write_page_end(&p.w, next);
  gssize len = (gssize)p.w.out->len;
  g_string_free(p.w.out, TRUE);
  g_free(next);
  return len;
}

int main(int argc, char **argv)
{
  GError *error = NULL;
  MaStorage *st = NULL;
  gsize total = 0;

  if (argc != 5 || (strcmp(argv[4], "cold") != 0 && strcmp(argv[4], "cached") != 0)) {
    fprintf(stderr, "usage: pages DATA_DIR ENTERPRISE_ID N cold|cached\n");
    return 2;
  }
  ApiItemCache *cache = strcmp(argv[4], "cached") == 0 ? api_item_cache_new(API_ITEM_CACHE_MAX_BYTES) : NULL;
  if (storage_open(argv[1], FALSE, &st, &error) < 0) {
    fprintf(stderr, "pages: %s\n", error->message);
    return 1;
  }
  for (int i = -1; i < atoi(argv[3]); i++) { /* page -1: the one both modes compute first */
    gssize len = page(st, argv[2], i + 1, cache, &error);
    if (len < 0) {
      fprintf(stderr, "pages: %s\n", error->message);
      return 1;
    }
    total += (gsize)len;
  }
  printf("%zu\n", total);
  if (cache) {
    ApiItemCacheStats s;
    api_item_cache_stats(cache, &s);
    fprintf(stderr, "item cache: %" G_GUINT64_FORMAT " hits, %" G_GUINT64_FORMAT " misses, %u entries\n", s.hits,
            s.misses, s.entries);
  }
  api_item_cache_free(cache);
  storage_close(&st);
  return 0;
}
