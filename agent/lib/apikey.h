/* apikey.h - API key secrets: generation, hashing and shape checks. Pure: the operations that
 * store keys are in agent/tenant/apikey_store.h.
 *
 * A secret is a kind prefix plus 64 lower-case hex digits (32 random bytes), e.g.
 * "mak_3f9c...". Only its hex SHA-256 is stored (storage_apikey_add); listings show the display
 * prefix (the kind prefix and the first 8 hex digits). Secrets are returned to the caller exactly
 * once and must never be logged.
 */
#ifndef MA_APIKEY_H
#define MA_APIKEY_H

#include "agent/lib/crypto.h"

#include <glib.h>

#define APIKEY_PREFIX_ENTERPRISE "mak_"
#define APIKEY_PREFIX_ADMIN "maa_"
#define APIKEY_RANDOM_BYTES 32
#define APIKEY_DISPLAY_HEX 8

/* Makes a new secret "<prefix_kind><64 hex>". Each out-parameter may be NULL; the strings are
 * newly allocated (g_free): the secret, its hex SHA-256, the display prefix. Never fails. */
void apikey_generate(const char *prefix_kind, char **secret_out, char **hash_out, char **display_prefix_out);

/* Hex SHA-256 of the secret as sent by a client (bearer token), for storage_apikey_find. */
void apikey_hash(const char *secret, char out[MA_SHA256_HEX_LEN + 1]);

/* TRUE when secret has the shape of one of our keys (cheap check before any look-up). */
gboolean apikey_well_formed(const char *secret);

#endif
