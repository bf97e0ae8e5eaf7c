/* tls_client.c - OpenSSL client contexts (see tls_client.h). Verification is on by default; the
 * only way around it is the explicit verify=FALSE of ma_tls_verifying_ssl_new.
 */
#include "tls_client.h"

#include "error.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

SSL_CTX *ma_tls_verifying_ctx_new(const char *ca_file, GError **error)
{
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "TLS: cannot create a client context");
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  int ok = ca_file && *ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
  if (ok != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "TLS CA file %s: %s", ca_file ? ca_file : "(system)", buf);
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

SSL *ma_tls_verifying_ssl_new(SSL_CTX *ctx, const char *host, gboolean verify)
{
  SSL *ssl = SSL_new(ctx);
  if (!ssl) return NULL;
  if (!g_hostname_is_ip_address(host)) SSL_set_tlsext_host_name(ssl, host);
  if (verify) {
    SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, host) != 1) {
      SSL_free(ssl);
      return NULL;
    }
  } else {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
  }
  return ssl;
}
