/* dkim_key.c - DKIM key pairs on OpenSSL 3: generation, PEM import and export, and the public
 * record to publish. Ed25519's p= is the raw 32-byte public key (RFC 8463 section 4.2), RSA's the
 * DER SubjectPublicKeyInfo (RFC 6376 3.6.1). Private key text is wiped before it is freed.
 */
#include "dkim_private.h"

#include "agent/lib/error.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

struct MaDkimKey {
  EVP_PKEY *pkey;
  MaDkimKeyType type;
};

static const char *const type_names[] = { "rsa-2048", "rsa-1024", "ed25519" };

const char *ma_dkim_key_type_name(MaDkimKeyType type) { return type_names[type]; }

int ma_dkim_key_type_parse(const char *name, MaDkimKeyType *out, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS(type_names); i++)
    if (g_strcmp0(name, type_names[i]) == 0) {
      *out = (MaDkimKeyType) i;
      return 0;
    }
  g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
              "unknown key algorithm '%s' (use rsa-2048, rsa-1024 or ed25519)", name ? name : "");
  return -1;
}

MaDkimKey *ma_dkim_key_generate(MaDkimKeyType type, GError **error)
{
  EVP_PKEY *pkey = NULL;
  if (type == MA_DKIM_KEY_ED25519)
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  else
    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) (type == MA_DKIM_KEY_RSA_1024 ? 1024 : 2048));
  if (!pkey) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "OpenSSL could not generate a %s key",
                type_names[type]);
    return NULL;
  }
  MaDkimKey *key = g_new0(MaDkimKey, 1);
  key->pkey = pkey;
  key->type = type;
  return key;
}

MaDkimKey *ma_dkim_key_from_pem(const char *pem, gsize len, GError **error)
{
  BIO *bio = BIO_new_mem_buf(pem, (int) MIN(len, (gsize) G_MAXINT));
  EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  if (!pkey) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "not a PEM private key (expected -----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY, unencrypted)");
    return NULL;
  }
  MaDkimKeyType type;
  if (EVP_PKEY_is_a(pkey, "ED25519")) {
    type = MA_DKIM_KEY_ED25519;
  } else if (EVP_PKEY_is_a(pkey, "RSA")) {
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < 1024) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "RSA key of %d bits: DKIM verifiers refuse keys below 1024 bits (RFC 8301)", bits);
      EVP_PKEY_free(pkey);
      return NULL;
    }
    type = bits == 1024 ? MA_DKIM_KEY_RSA_1024 : MA_DKIM_KEY_RSA_2048;
  } else {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "a %s key: DKIM keys are RSA or Ed25519",
                EVP_PKEY_get0_type_name(pkey));
    EVP_PKEY_free(pkey);
    return NULL;
  }
  MaDkimKey *key = g_new0(MaDkimKey, 1);
  key->pkey = pkey;
  key->type = type;
  return key;
}

void ma_dkim_key_free(MaDkimKey *key)
{
  if (!key) return;
  EVP_PKEY_free(key->pkey);
  g_free(key);
}

MaDkimKeyType ma_dkim_key_type(const MaDkimKey *key) { return key->type; }

const char *ma_dkim_key_k_tag(const MaDkimKey *key)
{
  return key->type == MA_DKIM_KEY_ED25519 ? "ed25519" : "rsa";
}

EVP_PKEY *dkim_key_pkey(const MaDkimKey *key) { return key->pkey; }

char *ma_dkim_key_private_pem(const MaDkimKey *key)
{
  BIO *bio = BIO_new(BIO_s_secmem());
  if (!bio) bio = BIO_new(BIO_s_mem());
  if (!bio || !PEM_write_bio_PKCS8PrivateKey(bio, key->pkey, NULL, NULL, 0, NULL, NULL))
    g_error("PEM_write_bio_PKCS8PrivateKey failed");
  char *data = NULL;
  long n = BIO_get_mem_data(bio, &data);
  char *out = g_strndup(data, (gsize) n);
  BIO_free(bio); /* BIO_s_secmem clears its buffer */
  return out;
}

void ma_dkim_secret_free(char *secret)
{
  if (!secret) return;
  OPENSSL_cleanse(secret, strlen(secret));
  g_free(secret);
}

char *ma_dkim_key_public_b64(const MaDkimKey *key)
{
  if (key->type == MA_DKIM_KEY_ED25519) {
    guchar raw[32];
    size_t raw_len = sizeof raw;
    if (!EVP_PKEY_get_raw_public_key(key->pkey, raw, &raw_len) || raw_len != 32)
      g_error("EVP_PKEY_get_raw_public_key failed");
    return g_base64_encode(raw, raw_len);
  }
  unsigned char *der = NULL;
  int n = i2d_PUBKEY(key->pkey, &der);
  if (n <= 0) g_error("i2d_PUBKEY failed");
  char *out = g_base64_encode(der, (gsize) n);
  OPENSSL_free(der);
  return out;
}

char *ma_dkim_key_record(const MaDkimKey *key)
{
  g_autofree char *p = ma_dkim_key_public_b64(key);
  return g_strdup_printf("v=DKIM1; k=%s; p=%s", ma_dkim_key_k_tag(key), p);
}

char *ma_dkim_record_split(const char *record)
{
  GString *out = g_string_new(NULL);
  gsize len = strlen(record);
  for (gsize i = 0; i < len || i == 0; i += 255) {
    if (i) g_string_append_c(out, ' ');
    g_string_append_c(out, '"');
    for (gsize j = i; j < len && j < i + 255; j++) {
      if (record[j] == '"' || record[j] == '\\') g_string_append_c(out, '\\');
      g_string_append_c(out, record[j]);
    }
    g_string_append_c(out, '"');
    if (len == 0) break;
  }
  return g_string_free(out, FALSE);
}
