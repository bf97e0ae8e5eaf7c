/* tls.c - OpenSSL server contexts (see tls.h). The only place outside crypto.c and
 * tls_selfsigned.c that configures OpenSSL. Never logs key material. */
#include "tls.h"

#include "error.h"

#include <openssl/err.h>

struct MaTls {
  SSL_CTX *ctx;
};

/* The most recent OpenSSL error as text (static buffer per call site is avoided: copied out). */
static char *ssl_error_text(void)
{
  char buf[256];
  unsigned long e = ERR_get_error();
  if (!e) return g_strdup("unknown error");
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return g_strdup(buf);
}

static SSL_CTX *load_ctx(const char *cert_file, const char *key_file, GError **error)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  g_autofree char *why = NULL;

  if (!ctx) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "TLS: cannot create a context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_cipher_list(ctx, "HIGH:!aNULL:!MD5:!RC4:!3DES:!CAMELLIA:!ARIA") != 1) goto fail_generic;
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
    why = ssl_error_text();
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "TLS certificate %s: %s", cert_file, why);
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    why = ssl_error_text();
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "TLS key %s: %s", key_file, why);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;

fail_generic:
  why = ssl_error_text();
  g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "TLS: %s", why);
  SSL_CTX_free(ctx);
  return NULL;
}

MaTls *ma_tls_server_new(const char *cert_file, const char *key_file, GError **error)
{
  SSL_CTX *ctx = load_ctx(cert_file, key_file, error);
  MaTls *t;
  if (!ctx) return NULL;
  t = g_new0(MaTls, 1);
  t->ctx = ctx;
  return t;
}

int ma_tls_reload(MaTls *t, const char *cert_file, const char *key_file, GError **error)
{
  SSL_CTX *ctx = load_ctx(cert_file, key_file, error);
  if (!ctx) return -1;
  SSL_CTX_free(t->ctx); /* live SSL objects hold their own reference */
  t->ctx = ctx;
  return 0;
}

SSL *ma_tls_ssl_new(MaTls *t)
{
  return SSL_new(t->ctx);
}

void ma_tls_free(MaTls *t)
{
  if (!t) return;
  SSL_CTX_free(t->ctx);
  g_free(t);
}
