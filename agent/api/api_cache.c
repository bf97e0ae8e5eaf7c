/* api_cache.c - a read cache of serialized JSON answers for hot GET resources (the timeline),
 * valid only while the database is unchanged.
 *
 * Entries are keyed by enterprise id + request URI (path and query), so one tenant can never be
 * served another's page: the key is built after authentication from the key's own enterprise.
 * The API keys found by hash are cached the same way (unknown keys never are). Once per request
 * (api_cache_sync, before authentication) storage_data_version is compared with the version the
 * entries were built at; any commit by any process (the pipeline, the CLI revoking a key, another
 * API request) changes it and empties both tables, so revocation stays immediate: the next
 * request after the revoking commit looks the key up in the database again.
 * Bounded: API_CACHE_MAX_ENTRIES entries and API_CACHE_MAX_BYTES bytes; past either it is emptied
 * (simple, and the hot pages refill at once). Event-loop thread only.
 */
#include "api_internal.h"

#include <string.h>

#define API_CACHE_MAX_ENTRIES 4096
#define API_CACHE_MAX_BYTES (64 * 1024 * 1024)
#define API_CACHE_MAX_ENTRY (1024 * 1024)

#define API_CACHE_MAX_KEYS 1024

struct ApiCache {
  GHashTable *entries; /* char* key -> GBytes* body */
  GHashTable *keys;    /* char* secret hash -> MaApiKey* (found, unrevoked) */
  gint64 version;
  gsize bytes;
};

ApiCache *api_cache_new(void)
{
  ApiCache *c = g_new0(ApiCache, 1);
  c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  c->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)ma_api_key_free);
  c->version = -1;
  return c;
}

void api_cache_free(ApiCache *c)
{
  if (!c)
    return;
  g_hash_table_unref(c->entries);
  g_hash_table_unref(c->keys);
  g_free(c);
}

static void cache_clear(ApiCache *c)
{
  g_hash_table_remove_all(c->entries);
  g_hash_table_remove_all(c->keys);
  c->bytes = 0;
}

void api_cache_sync(ApiCtx *ctx)
{
  ApiCache *c = ctx->srv->cache;
  gint64 v = storage_data_version(ctx->st);

  if (v != c->version) {
    cache_clear(c);
    c->version = v;
  }
}

static MaApiKey *key_copy(const MaApiKey *k)
{
  MaApiKey *n = g_new0(MaApiKey, 1);
  n->id = g_strdup(k->id);
  n->enterprise_id = g_strdup(k->enterprise_id);
  n->label = g_strdup(k->label);
  n->prefix = g_strdup(k->prefix);
  n->created_at = k->created_at;
  n->revoked_at = k->revoked_at;
  return n;
}

MaApiKey *api_cache_key_find(ApiCtx *ctx, const char *hash)
{
  const MaApiKey *k = g_hash_table_lookup(ctx->srv->cache->keys, hash);
  return k ? key_copy(k) : NULL;
}

void api_cache_key_store(ApiCtx *ctx, const char *hash, const MaApiKey *key)
{
  ApiCache *c = ctx->srv->cache;

  if (storage_data_version(ctx->st) != c->version)
    return;
  if (g_hash_table_size(c->keys) >= API_CACHE_MAX_KEYS)
    g_hash_table_remove_all(c->keys);
  g_hash_table_replace(c->keys, g_strdup(hash), key_copy(key));
}

static char *cache_key(ApiCtx *ctx)
{
  return g_strconcat(ctx->enterprise_id ? ctx->enterprise_id : "-", "\n", evhttp_request_get_uri(ctx->req), NULL);
}

gboolean api_cache_reply(ApiCtx *ctx)
{
  ApiCache *c = ctx->srv->cache;
  g_autofree char *key = NULL;
  GBytes *body;

  key = cache_key(ctx);
  body = g_hash_table_lookup(c->entries, key);
  if (!body)
    return FALSE;
  api_reply_gbytes(ctx, 200, "application/json", body);
  return TRUE;
}

void api_cache_store(ApiCtx *ctx, const char *json, gsize len)
{
  ApiCache *c = ctx->srv->cache;

  /* Stored only when nothing committed since the look-up that missed (same version). */
  if (len > API_CACHE_MAX_ENTRY || storage_data_version(ctx->st) != c->version)
    return;
  if (g_hash_table_size(c->entries) >= API_CACHE_MAX_ENTRIES || c->bytes + len > API_CACHE_MAX_BYTES)
    cache_clear(c);
  g_hash_table_replace(c->entries, cache_key(ctx), g_bytes_new(json, len));
  c->bytes += len;
}
