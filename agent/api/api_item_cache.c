/* api_item_cache.c - the cache of rendered timeline items (api_item_cache.h): a hash set of entries
 * on their row keys (chained through the entries themselves: a look-up is one bucket walk with the
 * comparisons inline, where GHashTable's calls through its hash and equality functions were a
 * fifth of a cached item's cost in pages.sh), an intrusive least-recently-used list, and a byte
 * count kept under the bound,
 * in API_ITEM_CACHE_SHARDS shards chosen by the key's hash, each with its own mutex, list and a
 * sixteenth of the bound: two read workers each take a lock 50 times a page, and with one mutex
 * they met often enough that sleeping and waking on it cost more than the look-ups (perf on serve
 * under uncached.lua). Each entry is one allocation holding its key strings, the row's item bytes
 * and the JSON, so an entry costs one malloc to make and one free to drop. Nothing here reads
 * storage or logs.
 */
#include "api_item_cache.h"
#include "agent/codec/codec.h"

#include <string.h>

/* What an entry costs beyond its own allocation: its bucket slot, counted as GHashTable's was (key,
 * value, hash), so the bound holds the same number of entries. */
#define ENTRY_OVERHEAD (3 * sizeof(gpointer))
/* A shard's first bucket count; the table doubles when it holds more entries than buckets. */
#define FIRST_BUCKETS 64

typedef struct Entry Entry;
struct Entry {
  Entry *newer, *older; /* the LRU list: c->newest ... c->oldest */
  Entry *chain;         /* the next entry of its bucket */
  guint hash;
  int kind;
  MaRecordType record_type;
  gint64 date;
  const char *enterprise_id, *message_id, *record_id; /* into data; record_id NULL for a message */
  gsize message_len;                                  /* strlen(message_id) */
  const char *item;                                   /* into data, item_len bytes */
  gsize item_len;
  const char *json;                                   /* into data, json_len bytes */
  gsize json_len;
  gsize size;                                         /* what it counts against the bound */
  char data[];
};

/* One shard: its entries, their LRU order and counts, under its lock. */
typedef struct {
  GMutex lock;
  Entry **buckets;     /* nbuckets (a power of two) chains of entries, by the hash's low bits */
  guint nbuckets;
  Entry *newest, *oldest;
  gsize max_bytes;
  ApiItemCacheStats stats;
} Shard;

struct ApiItemCache {
  Shard shards[API_ITEM_CACHE_SHARDS];
  gsize max_entry; /* larger entries are not kept: half a shard */
};

/* The shard of a key's hash (the bits above those the hash table's buckets use most). */
static Shard *shard_of(ApiItemCache *c, guint hash)
{
  return &c->shards[(hash >> 24) % API_ITEM_CACHE_SHARDS];
}

/* A message's JSON does not name the record whose timeline shows it (one entry serves every
 * record it is linked to); an activity's does. */
static const char *key_record(const MaTimelineRow *row)
{
  return row->kind == 1 ? row->record_id : NULL;
}

/* Mixes the len bytes of s into h eight bytes at a time (g_str_hash's byte loop was a fifth of a
 * cached item's cost). The last few bytes of a string of eight or more are read as the last eight
 * shifted (a memcpy of a variable length is a call, a byte loop cost as much as the rest). */
static guint64 mix_string(guint64 h, const char *s, gsize len)
{
  const guint64 k = 0x9e3779b97f4a7c15ULL;
  gsize i = 0;
  guint64 v;
  for (; i + 8 <= len; i += 8) {
    memcpy(&v, s + i, 8);
    h = (h ^ v) * k;
    h ^= h >> 29;
  }
  v = 0;
  if (i < len && len >= 8) {
    memcpy(&v, s + len - 8, 8);
    v >>= 8 * (8 - (len - i)); /* the bytes before s + i were the low ones (little-endian; elsewhere
                                 * the same key still hashes the same) */
  } else {
    for (int shift = 0; i < len; i++, shift += 8) v |= (guint64)(guchar)s[i] << shift;
  }
  h = (h ^ v ^ ((guint64)len << 56)) * k;
  return h ^ (h >> 32);
}

/* The key's hash. The enterprise is left out (message ids are unique over enterprises; key_match
 * still compares it). */
static guint key_hash(int kind, const char *message_id, gsize message_len, gint64 date, int record_type,
                      const char *record_id)
{
  guint64 h = mix_string((guint64)date * 2 + (guint64)kind, message_id, message_len);
  if (record_id) h = mix_string(h + (guint64)record_type, record_id, strlen(record_id));
  return (guint)h;
}

/* Whether entry e has probe's key (every field, the hash first). */
static inline gboolean key_match(const Entry *e, const Entry *probe)
{
  return e->hash == probe->hash && e->kind == probe->kind && e->date == probe->date &&
         e->message_len == probe->message_len && memcmp(e->message_id, probe->message_id, e->message_len) == 0 &&
         strcmp(e->enterprise_id, probe->enterprise_id) == 0 &&
         (e->record_id ? probe->record_id && e->record_type == probe->record_type &&
                             strcmp(e->record_id, probe->record_id) == 0
                       : !probe->record_id);
}

/* Fills the key fields of e (those key_match reads, nothing else: zeroing and returning a whole
 * Entry cost as much as hashing) as a look-up key for row (its strings borrowed from the row). */
static void probe_fill(Entry *e, const MaTimelineRow *row)
{
  e->kind = row->kind;
  e->date = row->date;
  e->enterprise_id = row->enterprise_id;
  e->message_id = row->message_id;
  e->message_len = strlen(row->message_id);
  e->record_id = key_record(row);
  e->record_type = row->record_type;
  e->hash = key_hash(e->kind, e->message_id, e->message_len, e->date, e->record_type, e->record_id);
}

/* ---- the shard's hash set (lock held) ---- */

static Entry **bucket_of(Shard *c, guint hash)
{
  return &c->buckets[hash & (c->nbuckets - 1)];
}

/* The entry with probe's key, or NULL. */
static Entry *set_find(Shard *c, const Entry *probe)
{
  for (Entry *e = *bucket_of(c, probe->hash); e; e = e->chain)
    if (key_match(e, probe)) return e;
  return NULL;
}

/* Adds e (no entry has its key); doubles the buckets when they are fewer than the entries. */
static void set_add(Shard *c, Entry *e)
{
  Entry **b = bucket_of(c, e->hash);
  e->chain = *b;
  *b = e;
  if (c->stats.entries + 1 <= c->nbuckets) return; /* stats.entries counts e only after this */
  guint old_n = c->nbuckets;
  Entry **old = c->buckets;
  c->nbuckets = old_n * 2;
  c->buckets = g_new0(Entry *, c->nbuckets);
  for (guint i = 0; i < old_n; i++) {
    for (Entry *x = old[i], *next; x; x = next) {
      next = x->chain;
      Entry **nb = bucket_of(c, x->hash);
      x->chain = *nb;
      *nb = x;
    }
  }
  g_free(old);
}

/* Takes e out of its bucket. */
static void set_remove(Shard *c, Entry *e)
{
  for (Entry **at = bucket_of(c, e->hash); *at; at = &(*at)->chain) {
    if (*at == e) {
      *at = e->chain;
      e->chain = NULL;
      return;
    }
  }
  g_assert_not_reached();
}

static void list_unlink(Shard *c, Entry *e)
{
  if (e->newer) e->newer->older = e->older;
  else c->newest = e->older;
  if (e->older) e->older->newer = e->newer;
  else c->oldest = e->newer;
  e->newer = e->older = NULL;
}

static void list_push_newest(Shard *c, Entry *e)
{
  e->older = c->newest;
  e->newer = NULL;
  if (c->newest) c->newest->newer = e;
  c->newest = e;
  if (!c->oldest) c->oldest = e;
}

/* Unlinks e everywhere and frees it (lock held). */
static void entry_drop(Shard *c, Entry *e)
{
  set_remove(c, e);
  list_unlink(c, e);
  c->stats.entries--;
  c->stats.bytes -= e->size;
  g_free(e);
}

ApiItemCache *api_item_cache_new(gsize max_bytes)
{
  ApiItemCache *c = g_new0(ApiItemCache, 1);
  for (int i = 0; i < API_ITEM_CACHE_SHARDS; i++) {
    Shard *sh = &c->shards[i];
    g_mutex_init(&sh->lock);
    sh->nbuckets = FIRST_BUCKETS;
    sh->buckets = g_new0(Entry *, sh->nbuckets);
    sh->max_bytes = max_bytes / API_ITEM_CACHE_SHARDS;
  }
  c->max_entry = max_bytes / API_ITEM_CACHE_SHARDS / 2;
  return c;
}

void api_item_cache_clear(ApiItemCache *c)
{
  for (int i = 0; i < API_ITEM_CACHE_SHARDS; i++) {
    Shard *sh = &c->shards[i];
    g_mutex_lock(&sh->lock);
    while (sh->oldest) entry_drop(sh, sh->oldest);
    g_mutex_unlock(&sh->lock);
  }
}

void api_item_cache_free(ApiItemCache *c)
{
  if (!c) return;
  api_item_cache_clear(c);
  for (int i = 0; i < API_ITEM_CACHE_SHARDS; i++) {
    g_free(c->shards[i].buckets);
    g_mutex_clear(&c->shards[i].lock);
  }
  g_free(c);
}

gboolean api_item_cache_write(ApiItemCache *cache, const MaTimelineRow *row, CodecWriter *w)
{
  Entry probe;
  probe_fill(&probe, row);
  Shard *c = shard_of(cache, probe.hash);
  gboolean hit = FALSE;

  g_mutex_lock(&c->lock);
  Entry *e = set_find(c, &probe);
  /* the key matched; the row's stored item must too, byte for byte, or the row changed */
  if (e && e->item_len == row->item_len && memcmp(e->item, row->item, row->item_len) == 0) {
    list_unlink(c, e);
    list_push_newest(c, e);
    codec_writer_raw(w, e->json, e->json_len); /* copied under the lock: e may be evicted after */
    hit = TRUE;
    c->stats.hits++;
  } else {
    c->stats.misses++;
  }
  g_mutex_unlock(&c->lock);
  return hit;
}

/* Copies n bytes of s to *at and advances it; returns where they went. */
static const char *place(char **at, const char *s, gsize n)
{
  char *dst = *at;
  memcpy(dst, s, n);
  *at += n;
  return dst;
}

void api_item_cache_put(ApiItemCache *cache, const MaTimelineItem *item, const char *json, gsize len)
{
  const MaTimelineRow *row = item->row;

  if (!row || !row->item || !row->enterprise_id || !row->message_id)
    return;
  /* delivery states change without the row changing: never cached (so a row with a delivery key,
   * which storage offers too, never matches an entry's item bytes: MaTimelineKnown) */
  if (item->delivery || (!item->is_activity && item->message && item->message->message_id))
    return;
  const char *record_id = key_record(row);
  if (row->kind == 1 && !record_id)
    return;
  gsize ent_len = strlen(row->enterprise_id) + 1, msg_len = strlen(row->message_id) + 1;
  gsize rec_len = record_id ? strlen(record_id) + 1 : 0;
  gsize data_len = ent_len + msg_len + rec_len + row->item_len + len;
  gsize size = sizeof(Entry) + data_len + ENTRY_OVERHEAD;
  if (size > cache->max_entry)
    return;

  /* built outside the lock: only the swap into the table is under it */
  Entry *e = g_malloc(sizeof(Entry) + data_len);
  char *at = e->data;
  e->newer = e->older = NULL;
  e->kind = row->kind;
  e->date = row->date;
  e->record_type = row->record_type;
  e->enterprise_id = place(&at, row->enterprise_id, ent_len);
  e->message_id = place(&at, row->message_id, msg_len);
  e->message_len = msg_len - 1;
  e->record_id = record_id ? place(&at, record_id, rec_len) : NULL;
  e->item = place(&at, row->item, row->item_len);
  e->item_len = row->item_len;
  e->json = place(&at, json, len);
  e->json_len = len;
  e->size = size;
  e->chain = NULL;
  e->hash = key_hash(e->kind, e->message_id, e->message_len, e->date, e->record_type, e->record_id);

  Shard *c = shard_of(cache, e->hash);
  g_mutex_lock(&c->lock);
  Entry *old = set_find(c, e);
  if (old) entry_drop(c, old);
  while (c->oldest && c->stats.bytes + size > c->max_bytes) {
    entry_drop(c, c->oldest);
    c->stats.evictions++;
  }
  set_add(c, e);
  list_push_newest(c, e);
  c->stats.entries++;
  c->stats.bytes += size;
  g_mutex_unlock(&c->lock);
}

void api_item_cache_render(ApiItemCache *c, CodecWriter *w, const MaTimelineItem *item)
{
  gsize start = w->out->len;

  codec_write_timeline_item(w, item);
  if (!c)
    return;
  if (w->out->str[start] == ',') /* the writer's separator, not the item's */
    start++;
  api_item_cache_put(c, item, w->out->str + start, w->out->len - start);
}

void api_item_cache_stats(ApiItemCache *c, ApiItemCacheStats *out)
{
  memset(out, 0, sizeof *out);
  for (int i = 0; i < API_ITEM_CACHE_SHARDS; i++) {
    Shard *sh = &c->shards[i];
    g_mutex_lock(&sh->lock);
    out->hits += sh->stats.hits;
    out->misses += sh->stats.misses;
    out->evictions += sh->stats.evictions;
    out->entries += sh->stats.entries;
    out->bytes += sh->stats.bytes;
    g_mutex_unlock(&sh->lock);
  }
}
