/* crypto.c - OpenSSL 3 EVP glue for digests, HMAC, randomness and AES-256-GCM sealing. */
#include "crypto.h"
#include "error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct MaSha256 {
  EVP_MD_CTX *ctx;
};

static void hex_encode(const unsigned char *in, gsize len, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (gsize i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = '\0';
}

/* SHA-256, fetched from OpenSSL's provider once for the process (never freed). EVP_sha256() is
 * a legacy handle that OpenSSL 3 fetches again on every EVP_DigestInit_ex or EVP_Digest: about
 * 3,500 instructions and a lock per digest, and ingest makes three or four per message. */
static gpointer sha256_fetch(gpointer unused)
{
  (void) unused;
  EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (!md) g_error("EVP_MD_fetch(SHA256) failed");
  return md;
}

static const EVP_MD *sha256_md(void)
{
  static GOnce once = G_ONCE_INIT;
  return g_once(&once, sha256_fetch, NULL);
}

void ma_sha256_hex(const void *data, gsize len, char out[MA_SHA256_HEX_LEN + 1])
{
  unsigned char md[32];
  unsigned int md_len = 0;
  if (!EVP_Digest(data, len, md, &md_len, sha256_md(), NULL)) g_error("EVP_Digest failed");
  hex_encode(md, 32, out);
}

MaSha256 *ma_sha256_new(void)
{
  MaSha256 *h = g_new0(MaSha256, 1);
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx || !EVP_DigestInit_ex(h->ctx, sha256_md(), NULL)) g_error("EVP_DigestInit failed");
  return h;
}

void ma_sha256_update(MaSha256 *h, const void *data, gsize len)
{
  if (len && !EVP_DigestUpdate(h->ctx, data, len)) g_error("EVP_DigestUpdate failed");
}

void ma_sha256_finish(MaSha256 *h, char out[MA_SHA256_HEX_LEN + 1])
{
  unsigned char md[32];
  unsigned int md_len = 0;
  if (!EVP_DigestFinal_ex(h->ctx, md, &md_len)) g_error("EVP_DigestFinal failed");
  hex_encode(md, 32, out);
  EVP_MD_CTX_free(h->ctx);
  g_free(h);
}

void ma_hmac_sha256_hex(const void *key, gsize key_len, const void *data, gsize len,
                        char out[MA_SHA256_HEX_LEN + 1])
{
  unsigned char md[32];
  unsigned int md_len = 0;
  if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, md, &md_len)) g_error("HMAC failed");
  hex_encode(md, 32, out);
}

void ma_master_key_check(const guint8 key[32], char out[MA_MASTER_KEY_CHECK_LEN + 1])
{
  static const char what[] = "mailagent master key check v1";
  char hex[MA_SHA256_HEX_LEN + 1];
  ma_hmac_sha256_hex(key, 32, what, sizeof what - 1, hex);
  g_snprintf(out, MA_MASTER_KEY_CHECK_LEN + 1, "hmac-sha256:%s", hex);
}

gboolean ma_crypto_equal(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  if (la != lb) return FALSE;
  return CRYPTO_memcmp(a, b, la) == 0;
}

void ma_random_bytes(void *buf, gsize len)
{
  if (RAND_bytes(buf, (int)len) != 1) g_error("RAND_bytes failed: no entropy");
}

char *ma_random_hex(gsize bytes)
{
  g_autofree unsigned char *raw = g_malloc(bytes);
  ma_random_bytes(raw, bytes);
  char *out = g_malloc(2 * bytes + 1);
  hex_encode(raw, bytes, out);
  return out;
}

char *ma_random_alnum(gsize n)
{
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  char *out = g_malloc(n + 1);
  for (gsize i = 0; i < n;) {
    unsigned char b;
    ma_random_bytes(&b, 1);
    if (b >= 252) continue; /* 252 = 36 * 7: reject to keep the choice uniform */
    out[i++] = alphabet[b % 36];
  }
  out[n] = '\0';
  return out;
}

static int parse_hex_key(const char *text, guint8 key[32])
{
  g_autofree char *t = g_strstrip(g_strdup(text));
  if (strlen(t) != 64) return -1;
  for (int i = 0; i < 32; i++) {
    int hi = g_ascii_xdigit_value(t[2 * i]), lo = g_ascii_xdigit_value(t[2 * i + 1]);
    if (hi < 0 || lo < 0) return -1;
    key[i] = (guint8)(hi << 4 | lo);
  }
  return 0;
}

int ma_master_key_load(const char *path, gboolean create, guint8 key[32], GError **error)
{
  const char *env = g_getenv("MAILAGENT_MASTER_KEY");
  if (env) {
    if (parse_hex_key(env, key) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "MAILAGENT_MASTER_KEY must be 64 hex digits");
      return -1;
    }
    return 0;
  }
  g_autofree char *text = NULL;
  if (g_file_get_contents(path, &text, NULL, NULL)) {
    if (parse_hex_key(text, key) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: master key must be 64 hex digits", path);
      return -1;
    }
    return 0;
  }
  if (!create) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "%s: no master key (run mailagent init)", path);
    return -1;
  }
  g_autofree char *hex = ma_random_hex(32);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: %s", path, g_strerror(errno));
    return -1;
  }
  gboolean ok = write(fd, hex, 64) == 64 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
  close(fd);
  if (!ok) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: cannot write the master key", path);
    return -1;
  }
  return parse_hex_key(hex, key);
}

char *ma_secret_seal(const guint8 key[32], const char *aad, const char *plaintext)
{
  gsize len = strlen(plaintext);
  g_autofree unsigned char *buf = g_malloc(12 + len + 16);
  ma_random_bytes(buf, 12);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, f = 0;
  if (!ctx || !EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) ||
      !EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) ||
      !EVP_EncryptUpdate(ctx, buf + 12, &n, (const unsigned char *)plaintext, (int)len) ||
      !EVP_EncryptFinal_ex(ctx, buf + 12 + n, &f) ||
      !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, buf + 12 + len))
    g_error("AES-256-GCM seal failed");
  EVP_CIPHER_CTX_free(ctx);
  g_autofree char *b64 = g_base64_encode(buf, 12 + len + 16);
  return g_strconcat("v1:", b64, NULL);
}

char *ma_secret_open(const guint8 key[32], const char *aad, const char *sealed, GError **error)
{
  if (!g_str_has_prefix(sealed, "v1:")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "sealed secret has an unknown format");
    return NULL;
  }
  gsize blen = 0;
  g_autofree unsigned char *buf = g_base64_decode(sealed + 3, &blen);
  if (blen < 28) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "sealed secret is truncated");
    return NULL;
  }
  gsize len = blen - 28;
  char *plain = g_malloc(len + 1);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, f = 0;
  gboolean ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, buf) &&
                EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) &&
                EVP_DecryptUpdate(ctx, (unsigned char *)plain, &n, buf + 12, (int)len) &&
                EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, buf + 12 + len) &&
                EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + n, &f) > 0;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    g_free(plain);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "sealed secret failed authentication");
    return NULL;
  }
  plain[len] = '\0';
  return plain;
}
