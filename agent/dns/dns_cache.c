/* dns_cache.c - see dns_cache.h. A hash table for look-ups and a queue in insertion order for
 * eviction: when full, the oldest insertion goes (an expired entry is dropped when it is next asked
 * for). Replacing a name's answer moves it to the tail. */
#include "dns_cache.h"

#include "agent/lib/clock.h"

#include <string.h>

typedef struct {
  char *key;
  MaDnsResult *result;
  gint64 expires_ms;
  GList *link; /* in order */
} Entry;

struct DnsCache {
  guint max;
  GHashTable *by_key; /* key -> Entry (owned) */
  GQueue order;       /* Entry*, oldest first */
};

static char *make_key(const char *name, MaDnsType type)
{
  g_autofree char *lower = g_ascii_strdown(name, -1);
  gsize n = strlen(lower);
  if (n > 0 && lower[n - 1] == '.') lower[n - 1] = '\0';
  return g_strdup_printf("%d/%s", (int)type, lower);
}

static void entry_free(gpointer p)
{
  Entry *e = p;
  g_free(e->key);
  ma_dns_result_free(e->result);
  g_free(e);
}

DnsCache *dns_cache_new(guint max_entries)
{
  DnsCache *c = g_new0(DnsCache, 1);
  c->max = max_entries;
  c->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, entry_free);
  g_queue_init(&c->order);
  return c;
}

void dns_cache_free(DnsCache *c)
{
  if (!c) return;
  g_queue_clear(&c->order);
  g_hash_table_destroy(c->by_key);
  g_free(c);
}

static void drop(DnsCache *c, Entry *e)
{
  g_queue_delete_link(&c->order, e->link);
  g_hash_table_remove(c->by_key, e->key); /* frees e */
}

MaDnsResult *dns_cache_get(DnsCache *c, const char *name, MaDnsType type)
{
  if (c->max == 0) return NULL;
  g_autofree char *key = make_key(name, type);
  Entry *e = g_hash_table_lookup(c->by_key, key);
  if (!e) return NULL;
  gint64 now = ma_now_ms();
  if (now >= e->expires_ms) {
    drop(c, e);
    return NULL;
  }
  MaDnsResult *r = ma_dns_result_copy(e->result);
  /* the asker's spelling of the name, the seconds left rounded up */
  g_free(r->name);
  r->name = g_strdup(name);
  gsize n = strlen(r->name);
  if (n > 0 && r->name[n - 1] == '.') r->name[n - 1] = '\0';
  r->ttl = (guint32)((e->expires_ms - now + 999) / 1000);
  return r;
}

void dns_cache_put(DnsCache *c, const MaDnsResult *result)
{
  if (c->max == 0 || result->ttl == 0) return;
  if (result->status != MA_DNS_OK && result->status != MA_DNS_NXDOMAIN && result->status != MA_DNS_NODATA)
    return;
  char *key = make_key(result->name, result->type);
  Entry *old = g_hash_table_lookup(c->by_key, key);
  if (old) drop(c, old);
  while (g_queue_get_length(&c->order) >= c->max) {
    Entry *head = g_queue_peek_head(&c->order);
    drop(c, head);
  }
  Entry *e = g_new0(Entry, 1);
  e->key = key;
  e->result = ma_dns_result_copy(result);
  e->expires_ms = ma_now_ms() + (gint64)result->ttl * 1000;
  g_queue_push_tail(&c->order, e);
  e->link = g_queue_peek_tail_link(&c->order);
  g_hash_table_insert(c->by_key, e->key, e);
}

guint dns_cache_size(DnsCache *c)
{
  return g_hash_table_size(c->by_key);
}
