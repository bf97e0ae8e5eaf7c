/* tls_selfsigned.c - self-signed certificate generation with OpenSSL 3's EVP_PKEY and X509 APIs.
 * Only used by `mailagent init`; the key never leaves the file it is written to. */
#include "tls_selfsigned.h"

#include "agent/lib/error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int ossl_fail(GError **error, const char *what)
{
  char buf[256];
  unsigned long e = ERR_get_error();
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "%s: %s", what, e ? buf : "OpenSSL failure");
  return -1;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
  X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
  if (!ext) return -1;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? 0 : -1;
}

/* Writes with write_fn to a temporary file beside path (mode), fsyncs, renames into place. */
static int write_pem(const char *path, int mode, int (*write_fn)(FILE *, void *), void *obj, GError **error)
{
  g_autofree char *dir = g_path_get_dirname(path);
  if (g_mkdir_with_parents(dir, 0700) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: %s", dir, g_strerror(errno));
    return -1;
  }
  g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: %s", tmp, g_strerror(errno));
    return -1;
  }
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: %s", tmp, g_strerror(errno));
    return -1;
  }
  gboolean ok = write_fn(f, obj) == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp, path) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: cannot write: %s", path, g_strerror(errno));
    g_unlink(tmp);
    return -1;
  }
  return 0;
}

static int write_key(FILE *f, void *key) { return PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL); }
static int write_cert(FILE *f, void *cert) { return PEM_write_X509(f, cert); }

int tls_selfsigned_create(const char *cert_file, const char *key_file, const char *common_name, int days,
                          GError **error)
{
  if (g_file_test(cert_file, G_FILE_TEST_EXISTS) || g_file_test(key_file, G_FILE_TEST_EXISTS)) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "%s or %s exists already", cert_file, key_file);
    return -1;
  }
  int rc = -1;
  char *san = NULL;
  X509 *cert = NULL;
  BIGNUM *serial = NULL;
  EVP_PKEY *key = EVP_EC_gen("P-256");
  if (!key) {
    ossl_fail(error, "EC key generation");
    goto out;
  }
  cert = X509_new();
  serial = BN_new();
  if (!cert || !serial || !BN_rand(serial, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
      !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) || !X509_set_version(cert, 2) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert), (long)days * 86400L) || !X509_set_pubkey(cert, key)) {
    ossl_fail(error, "certificate fields");
    goto out;
  }
  X509_NAME *name = X509_get_subject_name(cert);
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0) ||
      !X509_set_issuer_name(cert, name)) {
    ossl_fail(error, "certificate name");
    goto out;
  }
  san = g_strconcat("DNS:", common_name, NULL);
  if (add_ext(cert, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
      add_ext(cert, NID_key_usage, "critical,digitalSignature") < 0 ||
      add_ext(cert, NID_ext_key_usage, "serverAuth") < 0 || add_ext(cert, NID_subject_alt_name, san) < 0 ||
      add_ext(cert, NID_subject_key_identifier, "hash") < 0) {
    ossl_fail(error, "certificate extensions");
    goto out;
  }
  if (!X509_sign(cert, key, EVP_sha256())) {
    ossl_fail(error, "certificate signature");
    goto out;
  }
  if (write_pem(key_file, 0600, write_key, key, error) < 0) goto out;
  if (write_pem(cert_file, 0644, write_cert, cert, error) < 0) {
    g_unlink(key_file);
    goto out;
  }
  rc = 0;
out:
  g_free(san);
  BN_free(serial);
  X509_free(cert);
  EVP_PKEY_free(key);
  return rc;
}
