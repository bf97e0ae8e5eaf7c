/* tls.c - OpenSSL server contexts (see tls.h). The only place outside crypto.c and
 * tls_selfsigned.c that configures OpenSSL. Never logs key material. */
#include "tls.h"

#include "error.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

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

/* ---- client side (agent/smtp_client) ---------------------------------------------------------- */

SSL_CTX *ma_tls_client_ctx_new(const char *ca_file, GError **error)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "TLS: cannot create a client context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  /* the handshake never fails on the certificate: the TLS mode decides afterwards from the result */
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
  if (ok != 1) {
    g_autofree char *why = ssl_error_text();
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "TLS trust %s: %s", ca_file ? ca_file : "(system store)", why);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

SSL *ma_tls_client_ssl_new(SSL_CTX *ctx, const char *host)
{
  SSL *ssl = SSL_new(ctx);
  if (!ssl || !host || !*host) return ssl;
  X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host) == 1) return ssl; /* an IP literal: no SNI, IP SAN checked */
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set_tlsext_host_name(ssl, host) != 1 || SSL_set1_host(ssl, host) != 1) {
    SSL_free(ssl);
    return NULL;
  }
  return ssl;
}

gboolean ma_tls_client_verified(SSL *ssl, const char **detail)
{
  X509 *peer = SSL_get1_peer_certificate(ssl);
  if (!peer) {
    *detail = "no certificate";
    return FALSE;
  }
  X509_free(peer);
  long rc = SSL_get_verify_result(ssl);
  *detail = rc == X509_V_OK ? "verified" : X509_verify_cert_error_string(rc);
  return rc == X509_V_OK;
}
