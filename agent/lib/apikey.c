/* apikey.c - generation, hashing and shape checks of API key secrets (no storage here; see
 * apikey_store.c). Secrets come from the kernel's random source through ma_random_hex. */
#include "apikey.h"

#include <string.h>

void apikey_generate(const char *prefix_kind, char **secret_out, char **hash_out, char **display_prefix_out)
{
  g_autofree char *hex = ma_random_hex(APIKEY_RANDOM_BYTES);
  char *secret = g_strconcat(prefix_kind ? prefix_kind : APIKEY_PREFIX_ENTERPRISE, hex, NULL);
  if (hash_out) {
    char digest[MA_SHA256_HEX_LEN + 1];
    apikey_hash(secret, digest);
    *hash_out = g_strdup(digest);
  }
  if (display_prefix_out) *display_prefix_out = g_strndup(secret, strlen(secret) - strlen(hex) + APIKEY_DISPLAY_HEX);
  if (secret_out) *secret_out = secret;
  else {
    memset(secret, 0, strlen(secret));
    g_free(secret);
  }
  memset(hex, 0, strlen(hex));
}

void apikey_hash(const char *secret, char out[MA_SHA256_HEX_LEN + 1])
{
  ma_sha256_hex(secret, strlen(secret), out);
}

gboolean apikey_well_formed(const char *secret)
{
  if (!secret) return FALSE;
  const char *hex = NULL;
  if (g_str_has_prefix(secret, APIKEY_PREFIX_ENTERPRISE)) hex = secret + strlen(APIKEY_PREFIX_ENTERPRISE);
  else if (g_str_has_prefix(secret, APIKEY_PREFIX_ADMIN)) hex = secret + strlen(APIKEY_PREFIX_ADMIN);
  else return FALSE;
  if (strlen(hex) != 2 * APIKEY_RANDOM_BYTES) return FALSE;
  for (const char *p = hex; *p; p++)
    if (!g_ascii_isxdigit(*p) || g_ascii_isupper(*p)) return FALSE;
  return TRUE;
}
