/* test_lib_apikey.c - API key secrets (shape, uniqueness, hash = sha256 of the secret, display
 * prefix) and the self-signed certificate generator (files, modes, never overwrites). */
#include "agent/lib/apikey.h"
#include "agent/lib/error.h"
#include "agent/lib/tls_selfsigned.h"

#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <sys/stat.h>

static void test_generate(void)
{
  char *secret = NULL, *hash = NULL, *prefix = NULL;
  apikey_generate(APIKEY_PREFIX_ENTERPRISE, &secret, &hash, &prefix);
  g_assert_cmpuint(strlen(secret), ==, 4 + 64);
  g_assert_true(g_str_has_prefix(secret, "mak_"));
  g_assert_true(apikey_well_formed(secret));
  char want[65];
  ma_sha256_hex(secret, strlen(secret), want);
  g_assert_cmpstr(hash, ==, want);
  char again[65];
  apikey_hash(secret, again);
  g_assert_cmpstr(again, ==, want);
  g_assert_cmpuint(strlen(prefix), ==, 12);
  g_assert_true(g_str_has_prefix(secret, prefix));

  char *secret2 = NULL;
  apikey_generate(APIKEY_PREFIX_ADMIN, &secret2, NULL, NULL);
  g_assert_true(g_str_has_prefix(secret2, "maa_"));
  g_assert_true(apikey_well_formed(secret2));
  g_assert_cmpstr(secret + 4, !=, secret2 + 4);
  g_free(secret);
  g_free(secret2);
  g_free(hash);
  g_free(prefix);
}

static void test_well_formed(void)
{
  g_assert_false(apikey_well_formed(NULL));
  g_assert_false(apikey_well_formed(""));
  g_assert_false(apikey_well_formed("mak_"));
  g_assert_false(apikey_well_formed("mak_0123"));
  g_autofree char *upper = g_strconcat("mak_", "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", NULL);
  g_assert_false(apikey_well_formed(upper));
  g_autofree char *other = g_strconcat("xyz_", "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", NULL);
  g_assert_false(apikey_well_formed(other));
  g_autofree char *longer = g_strconcat("mak_", "abcdef0123456789abcdef0123456789abcdef0123456789abcdef01234567890", NULL);
  g_assert_false(apikey_well_formed(longer));
}

static void test_selfsigned(void)
{
  g_autofree char *dir = g_dir_make_tmp("tls-XXXXXX", NULL);
  g_autofree char *cert = g_build_filename(dir, "sub", "cert.pem", NULL);
  g_autofree char *key = g_build_filename(dir, "sub", "key.pem", NULL);
  GError *error = NULL;
  g_assert_cmpint(tls_selfsigned_create(cert, key, "mx.example.test", 30, &error), ==, 0);
  g_assert_no_error(error);

  struct stat sb;
  g_assert_cmpint(g_stat(key, &sb), ==, 0);
  g_assert_cmpint(sb.st_mode & 0777, ==, 0600);

  FILE *f = fopen(cert, "r");
  g_assert_nonnull(f);
  X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  g_assert_nonnull(x);
  char cn[256];
  g_assert_cmpint(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn), >, 0);
  g_assert_cmpstr(cn, ==, "mx.example.test");
  f = fopen(key, "r");
  EVP_PKEY *pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
  fclose(f);
  g_assert_nonnull(pk);
  g_assert_cmpint(X509_check_private_key(x, pk), ==, 1);
  g_assert_cmpint(X509_verify(x, pk), ==, 1); /* self-signed */
  EVP_PKEY_free(pk);
  X509_free(x);

  /* Never overwrites. */
  g_assert_cmpint(tls_selfsigned_create(cert, key, "other", 30, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);

  g_unlink(cert);
  g_unlink(key);
  g_autofree char *sub = g_build_filename(dir, "sub", NULL);
  g_rmdir(sub);
  g_rmdir(dir);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/lib/apikey/generate", test_generate);
  g_test_add_func("/lib/apikey/well_formed", test_well_formed);
  g_test_add_func("/lib/tls_selfsigned", test_selfsigned);
  return g_test_run();
}
