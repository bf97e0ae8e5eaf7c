/* api_cache.c - a read cache of serialized JSON answers for hot GET resources (the timeline),
 * kept per enterprise and valid while that enterprise's archive is unchanged.
 *
 * Pages are keyed by enterprise id, then by request URI (path and query), so one tenant can never
 * be served another's page: the enterprise is the key's own, known after authentication. Once per
 * request (api_cache_sync, before authentication) storage_data_version says whether anything at
 * all was committed since the last request (no database wait: storage.h); only then, and only for
 * the enterprise asking, is storage_archive_version read again, by the read worker that computes
 * that request's page (never on the loop: api_cache_validate), and that enterprise's pages are
 * dropped when it moved. Until a worker has read it, the enterprise's requests are computed, and
 * its kept pages neither served nor replaced. So a commit of one tenant's mail costs the other
 * tenants a computed page or a few (the requests in flight), not their pages. When the version
 * cannot be read, nothing is served from or kept in the cache (said once in the log).
 * The API keys found by hash are cached too (unknown keys never are) and, unlike pages, emptied by
 * any commit at all, so revocation stays immediate: the next request after the revoking commit
 * looks the key up in the database again.
 * Bounded: API_CACHE_MAX_ENTRIES pages and API_CACHE_MAX_BYTES bytes over all enterprises; past
 * either every page is dropped (simple, and the hot pages refill at once). A page is kept on its
 * URI's second miss, not its first: a doorkeeper remembers the (enterprise, URI) hashes of recent
 * misses, so pages asked for once (a cursor walked through, a new since= each time) neither cost a
 * store nor push the hot pages out; a URI asked for again is kept from then on. Event-loop thread
 * only.
 */
#include "api_internal.h"
#include "agent/lib/log.h"

#include <string.h>

#define API_CACHE_MAX_ENTRIES 4096
#define API_CACHE_MAX_BYTES (64 * 1024 * 1024)
#define API_CACHE_MAX_ENTRY (1024 * 1024)

#define API_CACHE_MAX_KEYS 1024

/* The doorkeeper's slots: hashes of the most recent misses, one per slot (a collision only keeps
 * a page a request early). */
#define API_CACHE_DOORKEEPER 4096

/* One enterprise's pages and the archive version they were built at. */
typedef struct {
  GHashTable *pages;       /* char* request URI -> GBytes* body */
  gint64 archive_version;  /* storage_archive_version when pages were last known valid; -1: unknown */
  gint64 checked_at;       /* the cache's data version when archive_version was read; -1: never */
  gsize bytes;
} ApiCacheTenant;

struct ApiCache {
  GHashTable *tenants; /* char* enterprise id -> ApiCacheTenant* */
  GHashTable *keys;    /* char* secret hash -> MaApiKey* (found, unrevoked) */
  gint64 version;      /* storage_data_version at the last sync */
  gsize bytes;         /* page bytes over all tenants */
  guint entries;       /* pages over all tenants */
  gboolean version_failed; /* a version read failed once already (logged once) */
  guint64 missed[API_CACHE_DOORKEEPER]; /* hashes of recent misses (doorkeeper), 0 for none */
};

/* The doorkeeper's hash of this request's (enterprise, URI); never 0. */
static guint64 miss_hash(ApiCtx *ctx)
{
  guint64 h = ((guint64)g_str_hash(evhttp_request_get_uri(ctx->req)) << 32) | g_str_hash(ctx->enterprise_id);
  return h ? h : 1;
}

/* Records this request's miss; TRUE when the same (enterprise, URI) missed recently already, so its
 * page is worth keeping. */
static gboolean miss_seen_before(ApiCache *c, ApiCtx *ctx)
{
  guint64 h = miss_hash(ctx);
  guint64 *slot = &c->missed[h % API_CACHE_DOORKEEPER];
  if (*slot == h)
    return TRUE;
  *slot = h;
  return FALSE;
}

static void tenant_free(gpointer p)
{
  ApiCacheTenant *t = p;
  g_hash_table_unref(t->pages);
  g_free(t);
}

ApiCache *api_cache_new(void)
{
  ApiCache *c = g_new0(ApiCache, 1);
  c->tenants = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, tenant_free);
  c->keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)ma_api_key_free);
  c->version = -1;
  return c;
}

void api_cache_free(ApiCache *c)
{
  if (!c)
    return;
  g_hash_table_unref(c->tenants);
  g_hash_table_unref(c->keys);
  g_free(c);
}

static void tenant_drop_pages(ApiCache *c, ApiCacheTenant *t)
{
  c->entries -= g_hash_table_size(t->pages);
  c->bytes -= t->bytes;
  g_hash_table_remove_all(t->pages);
  t->bytes = 0;
}

void api_cache_sync(ApiCtx *ctx)
{
  ApiCache *c = ctx->srv->cache;
  gint64 v = storage_data_version(ctx->st);

  if (v != c->version) {
    g_hash_table_remove_all(c->keys); /* revocation is immediate; pages are checked per tenant */
    c->version = v;
  }
}

/* The asking enterprise's pages (created empty on its first request), NULL without an enterprise.
 * Valid at the current data version only when t->checked_at == c->version. */
static ApiCacheTenant *tenant_get(ApiCtx *ctx)
{
  ApiCache *c = ctx->srv->cache;

  if (!ctx->enterprise_id)
    return NULL;
  ApiCacheTenant *t = g_hash_table_lookup(c->tenants, ctx->enterprise_id);
  if (!t) {
    t = g_new0(ApiCacheTenant, 1);
    t->pages = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
    t->archive_version = -1;
    t->checked_at = -1;
    g_hash_table_insert(c->tenants, g_strdup(ctx->enterprise_id), t);
  }
  return t;
}

gint64 api_cache_synced(ApiCtx *ctx)
{
  return ctx->srv->cache->version;
}

void api_cache_validate(ApiCtx *ctx, gint64 synced, int rc, gint64 archive_version, const GError *error)
{
  ApiCache *c = ctx->srv->cache;
  ApiCacheTenant *t = ctx->enterprise_id ? g_hash_table_lookup(c->tenants, ctx->enterprise_id) : NULL;

  if (rc < 0) {
    /* answers are still right, only computed every time: said once, not per request */
    if (!c->version_failed)
      ma_warn("api", "page cache off for enterprise %s: cannot read its archive version: %s",
              ctx->enterprise_id ? ctx->enterprise_id : "?", error ? error->message : "?");
    c->version_failed = TRUE;
    return;
  }
  /* The worker read the version after the sync at synced and before now: when the data version
   * still reads synced, nothing was committed in between, so it is the version at synced. */
  if (!t || t->checked_at == c->version || synced != c->version || storage_data_version(ctx->st) != c->version)
    return;
  if (archive_version != t->archive_version)
    tenant_drop_pages(c, t);
  t->archive_version = archive_version;
  t->checked_at = c->version;
}

MaApiKey *api_cache_key_copy(const MaApiKey *k)
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

const MaApiKey *api_cache_key_find(ApiCtx *ctx, const char *hash)
{
  return g_hash_table_lookup(ctx->srv->cache->keys, hash);
}

void api_cache_key_store(ApiCtx *ctx, const char *hash, const MaApiKey *key)
{
  ApiCache *c = ctx->srv->cache;

  if (storage_data_version(ctx->st) != c->version)
    return;
  if (g_hash_table_size(c->keys) >= API_CACHE_MAX_KEYS)
    g_hash_table_remove_all(c->keys);
  g_hash_table_replace(c->keys, g_strdup(hash), api_cache_key_copy(key));
}

gboolean api_cache_reply(ApiCtx *ctx)
{
  ApiCacheTenant *t = tenant_get(ctx);
  GBytes *body;

  if (!t)
    return FALSE;
  /* Not known at this data version (something was committed since it was read): no database read
   * here, on the loop; the page is computed by a worker, which reads the archive version too
   * (api_cache_validate), and the pages kept are served again once it is known unchanged. */
  body = g_hash_table_lookup(t->pages, evhttp_request_get_uri(ctx->req));
  ctx->cache_unchecked = t->checked_at != ctx->srv->cache->version;
  if (ctx->cache_unchecked) {
    ctx->cache_admit = !body && miss_seen_before(ctx->srv->cache, ctx); /* a kept page stays kept */
    return FALSE;
  }
  if (!body) {
    ctx->cache_admit = miss_seen_before(ctx->srv->cache, ctx);
    return FALSE;
  }
  api_reply_gbytes(ctx, 200, "application/json", body);
  return TRUE;
}

void api_cache_store(ApiCtx *ctx, GBytes *body)
{
  ApiCache *c = ctx->srv->cache;
  ApiCacheTenant *t;
  GHashTableIter it;
  gpointer value;
  gsize len = g_bytes_get_size(body);

  /* Stored only on a URI's second miss (the doorkeeper, api_cache_reply), when nothing committed
   * since the look-up that missed (same data version), and under a version read at that data
   * version: the page is then exactly that version's. */
  if (!ctx->cache_admit || len > API_CACHE_MAX_ENTRY || !ctx->enterprise_id ||
      storage_data_version(ctx->st) != c->version)
    return;
  t = g_hash_table_lookup(c->tenants, ctx->enterprise_id);
  if (!t || t->checked_at != c->version)
    return;
  if (c->entries >= API_CACHE_MAX_ENTRIES || c->bytes + len > API_CACHE_MAX_BYTES) {
    g_hash_table_iter_init(&it, c->tenants);
    while (g_hash_table_iter_next(&it, NULL, &value))
      tenant_drop_pages(c, value);
  }
  const char *uri = evhttp_request_get_uri(ctx->req);
  GBytes *old = g_hash_table_lookup(t->pages, uri);
  if (old) {
    t->bytes -= g_bytes_get_size(old);
    c->bytes -= g_bytes_get_size(old);
    c->entries--;
  }
  g_hash_table_replace(t->pages, g_strdup(uri), g_bytes_ref(body)); /* shared with the reply: no copy */
  t->bytes += len;
  c->bytes += len;
  c->entries++;
}
