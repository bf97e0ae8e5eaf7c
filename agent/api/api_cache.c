/* api_cache.c - a read cache of serialized JSON answers for hot GET resources (the timeline),
 * valid only while the database is unchanged.
 *
 * Entries are keyed by enterprise id + request URI (path and query), so one tenant can never be
 * served another's page: the key is built after authentication from the key's own enterprise.
 * Every look-up first compares storage_data_version with the version the entries were built at;
 * any commit by any process (the pipeline, the CLI, another API request) changes it and empties
 * the cache. Authentication still runs on every request, so revocation stays immediate.
 * Bounded: API_CACHE_MAX_ENTRIES entries and API_CACHE_MAX_BYTES bytes; past either it is emptied
 * (simple, and the hot pages refill at once). Event-loop thread only.
 */
#include "api_internal.h"

#include <string.h>

#define API_CACHE_MAX_ENTRIES 4096
#define API_CACHE_MAX_BYTES (64 * 1024 * 1024)
#define API_CACHE_MAX_ENTRY (1024 * 1024)

struct ApiCache {
  GHashTable *entries; /* char* key -> GBytes* body */
  gint64 version;
  gsize bytes;
};

ApiCache *api_cache_new(void)
{
  ApiCache *c = g_new0(ApiCache, 1);
  c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
  c->version = -1;
  return c;
}

void api_cache_free(ApiCache *c)
{
  if (!c)
    return;
  g_hash_table_unref(c->entries);
  g_free(c);
}

static void cache_clear(ApiCache *c)
{
  g_hash_table_remove_all(c->entries);
  c->bytes = 0;
}

static char *cache_key(ApiCtx *ctx)
{
  return g_strconcat(ctx->enterprise_id ? ctx->enterprise_id : "-", "\n", evhttp_request_get_uri(ctx->req), NULL);
}

gboolean api_cache_reply(ApiCtx *ctx)
{
  ApiCache *c = ctx->srv->cache;
  gint64 v = storage_data_version(ctx->st);
  g_autofree char *key = NULL;
  GBytes *body;
  gsize len = 0;
  gconstpointer data;

  if (v != c->version) {
    cache_clear(c);
    c->version = v;
    return FALSE;
  }
  key = cache_key(ctx);
  body = g_hash_table_lookup(c->entries, key);
  if (!body)
    return FALSE;
  data = g_bytes_get_data(body, &len);
  api_reply_bytes(ctx, 200, "application/json", data, len);
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
