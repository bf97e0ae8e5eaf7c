/* api_item_cache.h - a bounded cache of rendered timeline-item JSON shared by the read workers, so a
 * page the page cache (api_cache.c) cannot answer (a new filter, a new cursor) is mostly copied from
 * items rendered before instead of decoded and written again.
 *
 * An entry is keyed by the row it was rendered from: its enterprise, kind, message id and date,
 * plus the record for an activity (whose JSON names it), AND the row's stored item bytes (copied
 * into the entry and compared whole on every look-up). Every field of an item's JSON comes from
 * that key and those bytes, so a row that changed in any way misses and is rendered again: the
 * cache is never stale and needs no invalidation for correctness. Items whose content changes
 * without their row changing (an outbound message the queue holds: its delivery states) are never
 * cached: api_item_cache_put refuses them, and a look-up matches only the item bytes of an entry,
 * so a row whose item names a delivery key always misses (storage offers every row and relies on
 * this: MaTimelineKnown).
 *
 * Erasure: an erased message's rows are gone from the database, so their entries are never looked
 * up again (a look-up starts from a row storage has just read) and no page can show them; their
 * JSON lingers in this process's memory until evicted. The API's erasure and enterprise deletion
 * empty the whole cache at once (api_item_cache_clear), so after those nothing erased stays in
 * memory here; an erasure made by another process (the CLI) only makes them unreachable.
 *
 * Bounded by bytes (entries, their keys, item bytes and JSON, and a per-entry overhead), least
 * recently used first out within each of API_ITEM_CACHE_SHARDS shards (each holds a sixteenth of
 * the bound). Thread-safe: a shard's mutex is held for a look-up and the copy of its JSON.
 */
#ifndef MA_API_ITEM_CACHE_H
#define MA_API_ITEM_CACHE_H

#include "agent/codec/codec_writer.h"
#include "storage/storage.h"

#include <glib.h>

/* The serve process's bound: about 8,000 items of a typical page. */
#define API_ITEM_CACHE_MAX_BYTES (8 * 1024 * 1024)
/* Shards, each with its own lock and its share of the bound. */
#define API_ITEM_CACHE_SHARDS 16

typedef struct ApiItemCache ApiItemCache;

typedef struct {
  guint64 hits, misses; /* api_item_cache_write's answers */
  guint64 evictions;    /* entries dropped to stay under the bound */
  guint entries;
  gsize bytes;          /* accounted bytes, never above the bound */
} ApiItemCacheStats;

/* A new empty cache holding at most max_bytes (caller frees with api_item_cache_free). */
ApiItemCache *api_item_cache_new(gsize max_bytes);
/* Frees c and every entry; NULL is accepted. No other thread may use c then. */
void api_item_cache_free(ApiItemCache *c);

/* When c holds JSON rendered from a row with row's key and exactly row's item bytes: writes it as
 * the next value of w (an element of the page's items array) and returns TRUE. Else FALSE and w is
 * untouched. Any thread. */
gboolean api_item_cache_write(ApiItemCache *c, const MaTimelineRow *row, CodecWriter *w);

/* Keeps a copy of json (len bytes: one item's JSON object, as codec_write_timeline_item wrote it
 * for item) under item->row's key and item bytes, replacing an older entry of that key. Nothing is
 * kept for an item without a row (not from storage_timeline_each), for an outbound message with a
 * delivery key or delivery states, or for an entry larger than half a shard (a thirty-second of
 * the bound). Any thread. */
void api_item_cache_put(ApiItemCache *c, const MaTimelineItem *item, const char *json, gsize len);

/* Writes item as the next value of w (codec_write_timeline_item) and keeps its JSON as
 * api_item_cache_put does; with c NULL, only writes it. What a page's visitor calls for each item
 * storage decoded (api_timeline.c). Any thread. */
void api_item_cache_render(ApiItemCache *c, CodecWriter *w, const MaTimelineItem *item);

/* Drops every entry (erasure, enterprise deletion). Any thread. */
void api_item_cache_clear(ApiItemCache *c);

void api_item_cache_stats(ApiItemCache *c, ApiItemCacheStats *out);

#endif
