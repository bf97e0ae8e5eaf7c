/* apikey_store.h - creating and rotating API keys in storage: the one implementation behind
 * `mailagent init`, `mailagent apikey create|rotate` and the HTTP API's /v1/apikeys. Only the hash
 * of a secret is stored; the secret is returned to the caller once and must never be logged.
 */
#ifndef MA_APIKEY_STORE_H
#define MA_APIKEY_STORE_H

#include "agent/lib/apikey.h"
#include "storage/storage.h"

/* Creates and stores a key: enterprise_id NULL makes an admin key. label may be NULL ("default").
 * *key_out (may be NULL) and *secret_out (the only copy of the secret) are newly allocated.
 * Runs in the caller's transaction if there is one. 0 or -1. */
int apikey_create(MaStorage *st, const char *enterprise_id, const char *label, MaApiKey **key_out,
                  char **secret_out, GError **error);

/* Replaces key_id by a new key of the same scope and label and revokes the old one, in one
 * transaction of its own (do not call inside one). MA_ERROR_NOT_FOUND when there is no such key,
 * MA_ERROR_CONFLICT when it is revoked already. 0 or -1. */
int apikey_rotate(MaStorage *st, const char *key_id, MaApiKey **key_out, char **secret_out, GError **error);

#endif
