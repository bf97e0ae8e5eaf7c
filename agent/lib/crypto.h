/* crypto.h - the only OpenSSL user outside TLS: digests, HMAC, random tokens and secrets at rest.
 *
 * Secrets at rest (relay passwords, OAuth2 refresh tokens) are sealed with AES-256-GCM under a
 * 32-byte master key read from a file or from MAILAGENT_MASTER_KEY (64 hex digits). A sealed value
 * is "v1:" + base64(nonce[12] || ciphertext || tag[16]); the associated data binds it to its owner
 * (e.g. "relay:<id>") so a ciphertext cannot be moved to another row.
 */
#ifndef MA_CRYPTO_H
#define MA_CRYPTO_H

#include <glib.h>

#define MA_SHA256_HEX_LEN 64

/* Writes the lower-case hex SHA-256 of data into out (65 bytes, NUL-terminated). */
void ma_sha256_hex(const void *data, gsize len, char out[MA_SHA256_HEX_LEN + 1]);

/* Incremental SHA-256 for streams. */
typedef struct MaSha256 MaSha256;
MaSha256 *ma_sha256_new(void);
void ma_sha256_update(MaSha256 *h, const void *data, gsize len);
/* Writes the digest and frees h. */
void ma_sha256_finish(MaSha256 *h, char out[MA_SHA256_HEX_LEN + 1]);

/* Lower-case hex HMAC-SHA256 of data under key. out: 65 bytes. */
void ma_hmac_sha256_hex(const void *key, gsize key_len, const void *data, gsize len,
                        char out[MA_SHA256_HEX_LEN + 1]);

/* Constant-time comparison of two equal-length strings; FALSE when lengths differ. */
gboolean ma_crypto_equal(const char *a, const char *b);

/* Fills buf with cryptographically random bytes. Aborts if the kernel cannot supply them. */
void ma_random_bytes(void *buf, gsize len);

/* A random token of `bytes` random bytes in lower-case hex (2*bytes chars). Caller frees. */
char *ma_random_hex(gsize bytes);

/* A random string of n characters from [a-z0-9] (for inbound address suffixes). Caller frees. */
char *ma_random_alnum(gsize n);

/* Master key handling. Loads (or with create=TRUE, creates with mode 0600) the key file; the
 * environment variable MAILAGENT_MASTER_KEY wins when set. Returns 0 or -1 with *error. */
int ma_master_key_load(const char *path, gboolean create, guint8 key[32], GError **error);

/* The master key's check value: "hmac-sha256:" and the hex HMAC-SHA256 of a fixed text under the
 * key. The database keeps the first init's (storage_installation_set_once), so a node joining it
 * can tell whether its key file is the installation's without the key being stored anywhere else.
 * out: MA_MASTER_KEY_CHECK_LEN + 1 bytes. */
#define MA_MASTER_KEY_CHECK_LEN (12 + MA_SHA256_HEX_LEN)
void ma_master_key_check(const guint8 key[32], char out[MA_MASTER_KEY_CHECK_LEN + 1]);

/* Seals plaintext. Returns a newly allocated "v1:..." string. */
char *ma_secret_seal(const guint8 key[32], const char *aad, const char *plaintext);
/* Opens a sealed value. Returns the newly allocated plaintext, or NULL with *error set
 * (MA_ERROR_INVALID) when it was tampered with, moved, or sealed under another key. */
char *ma_secret_open(const guint8 key[32], const char *aad, const char *sealed, GError **error);

#endif
