/* api_auth.c - bearer API keys for every request that needs one.
 *
 * "Authorization: Bearer <secret>" is hashed (hex SHA-256, the same hash `mailagent apikey`
 * stores) and looked up with storage_apikey_find, or in api_cache.c's table, which is emptied by
 * any commit to the database, so a revoked key stops working on the next request. An enterprise key carries its enterprise id into the handler; the admin key
 * (enterprise id NULL) reaches only the admin resources (enterprises, API keys), and an enterprise
 * key is refused there with 403. The secret is never logged or echoed; a key longer than
 * API_MAX_KEY_LEN is refused before hashing. api_key_check is the same check on a bare header
 * value: the front reader (api_front.c) runs it on the request head before any body is read.
 */
#include "api_internal.h"
#include "agent/lib/apikey.h"

#include <string.h>

#define API_MAX_KEY_LEN 256

static void reply_unauthorized(ApiCtx *ctx, const char *message)
{
  evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "WWW-Authenticate", "Bearer realm=\"mailagent\"");
  api_reply_error(ctx, 401, "unauthorized", "%s", message);
}

int api_key_check(ApiCtx *ctx, const char *authorization, MaApiKey **key_r, const char **why_r, GError **error)
{
  const char *secret;
  char hash[65];
  MaApiKey *key = NULL;
  int rc;

  if (key_r)
    *key_r = NULL;
  if (!authorization) {
    *why_r = "missing API key (Authorization: Bearer <key>)";
    return 0;
  }
  if (g_ascii_strncasecmp(authorization, "Bearer ", 7) != 0) {
    *why_r = "the Authorization header must be 'Bearer <key>'";
    return 0;
  }
  secret = authorization + 7;
  while (*secret == ' ')
    secret++;
  if (*secret == '\0' || strlen(secret) > API_MAX_KEY_LEN || !apikey_well_formed(secret)) {
    *why_r = "invalid API key";
    return 0;
  }
  apikey_hash(secret, hash);
  /* A key the cache holds was found unrevoked at the current data version (the cache is emptied by
   * any commit): valid, and not stored again (a store reads the data version, whose lock the read
   * workers' SQLite connections take too). Copied only for a caller that keeps it. */
  const MaApiKey *cached = api_cache_key_find(ctx, hash);
  if (cached) {
    if (key_r)
      *key_r = api_cache_key_copy(cached);
    return 1;
  }
  rc = storage_apikey_find(ctx->st, hash, &key, error);
  if (rc < 0)
    return -1;
  if (rc == 0 || key->revoked_at != 0) {
    ma_api_key_free(key);
    *why_r = "invalid or revoked API key";
    return 0;
  }
  api_cache_key_store(ctx, hash, key);
  if (key_r)
    *key_r = key;
  else
    ma_api_key_free(key);
  return 1;
}

gboolean api_authenticate(ApiCtx *ctx, ApiAuth need)
{
  g_autoptr(GError) error = NULL;
  const char *why = NULL;
  MaApiKey *key = NULL;
  int rc;

  if (need == API_AUTH_NONE)
    return TRUE;
  rc = api_key_check(ctx, evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Authorization"), &key,
                     &why, &error);
  if (rc < 0) {
    api_reply_gerror(ctx, error);
    return FALSE;
  }
  if (rc == 0) {
    reply_unauthorized(ctx, why);
    return FALSE;
  }
  ctx->key = key;
  ctx->enterprise_id = key->enterprise_id;
  if (need == API_AUTH_ADMIN && key->enterprise_id != NULL) {
    api_reply_error(ctx, 403, "forbidden", "this resource needs the admin key");
    return FALSE;
  }
  if (need == API_AUTH_ENTERPRISE && key->enterprise_id == NULL) {
    api_reply_error(ctx, 403, "forbidden", "this resource needs an enterprise key, not the admin key");
    return FALSE;
  }
  return TRUE;
}
