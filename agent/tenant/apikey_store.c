/* apikey_store.c - creating and rotating API keys in storage: the one implementation behind
 * `mailagent init`, `mailagent apikey create|rotate` and POST /v1/apikeys. Stores only the hash;
 * returns the secret once to the caller. */
#include "apikey_store.h"

#include "agent/lib/clock.h"
#include "agent/lib/error.h"

#include <string.h>

int apikey_create(MaStorage *st, const char *enterprise_id, const char *label, MaApiKey **key_out,
                  char **secret_out, GError **error)
{
  g_autofree char *secret = NULL, *hash = NULL, *prefix = NULL;
  apikey_generate(enterprise_id ? APIKEY_PREFIX_ENTERPRISE : APIKEY_PREFIX_ADMIN, &secret, &hash, &prefix);
  MaApiKey *k = g_new0(MaApiKey, 1);
  k->id = ma_id_new();
  k->enterprise_id = g_strdup(enterprise_id);
  k->label = g_strdup(label && *label ? label : "default");
  k->prefix = g_steal_pointer(&prefix);
  k->created_at = ma_now();
  if (storage_apikey_add(st, k, hash, error) < 0) {
    ma_api_key_free(k);
    memset(secret, 0, strlen(secret));
    return -1;
  }
  if (key_out) *key_out = k;
  else ma_api_key_free(k);
  if (secret_out) *secret_out = g_steal_pointer(&secret);
  return 0;
}

int apikey_rotate(MaStorage *st, const char *key_id, MaApiKey **key_out, char **secret_out, GError **error)
{
  MaApiKey *old = NULL;
  int rc = storage_apikey_get(st, key_id, &old, error);
  if (rc < 0) return -1;
  if (rc == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no API key \"%s\"", key_id);
    return -1;
  }
  if (old->revoked_at) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "API key %s is revoked already", key_id);
    ma_api_key_free(old);
    return -1;
  }
  if (storage_begin(st, error) < 0) {
    ma_api_key_free(old);
    return -1;
  }
  MaApiKey *fresh = NULL;
  char *secret = NULL;
  if (apikey_create(st, old->enterprise_id, old->label, &fresh, &secret, error) < 0 ||
      storage_apikey_revoke(st, old->id, ma_now(), error) < 0 || storage_commit(st, error) < 0) {
    storage_rollback(st);
    ma_api_key_free(old);
    ma_api_key_free(fresh);
    if (secret) memset(secret, 0, strlen(secret));
    g_free(secret);
    return -1;
  }
  ma_api_key_free(old);
  if (key_out) *key_out = fresh;
  else ma_api_key_free(fresh);
  if (secret_out) *secret_out = secret;
  else g_free(secret);
  return 0;
}
