/* tls.h - the TLS contexts (OpenSSL): the server side shared by the SMTP listener (STARTTLS) and
 * any other TLS server of mailagent, and the client side of the SMTP client.
 *
 * Loads a PEM certificate chain and private key, accepts TLS 1.2 and newer only, no compression,
 * no renegotiation, server cipher preference. Reloadable (SIGHUP): ma_tls_reload builds a fresh
 * context and swaps it in; connections already running keep the context they started with
 * (each SSL holds a reference to its SSL_CTX), new ones get the new one. Loop-thread only.
 */
#ifndef MA_TLS_H
#define MA_TLS_H

#include <glib.h>
#include <openssl/ssl.h>

typedef struct MaTls MaTls;

/* Loads cert_file and key_file. Returns a new context (free with ma_tls_free), or NULL with
 * *error (MA_ERROR_INVALID naming the file and OpenSSL's reason). */
MaTls *ma_tls_server_new(const char *cert_file, const char *key_file, GError **error);
/* Replaces the context with one loaded from the (possibly new) files. On failure the old context
 * stays and -1 is returned with *error. */
int ma_tls_reload(MaTls *t, const char *cert_file, const char *key_file, GError **error);
/* A new SSL object in server mode on the current context; the caller owns it (SSL_free, or hand
 * it to a bufferevent that frees it). NULL when OpenSSL is out of memory. */
SSL *ma_tls_ssl_new(MaTls *t);
/* Accepts NULL. */
void ma_tls_free(MaTls *t);

/* Client side (the SMTP client). A context for TLS 1.2+ trusting ca_file (PEM), or the system
 * store when ca_file is NULL. Certificates are not enforced by the handshake: callers read
 * ma_tls_client_verified afterwards and decide by their TLS mode. Caller frees with SSL_CTX_free;
 * NULL with *error when the trust store cannot be read. */
SSL_CTX *ma_tls_client_ctx_new(const char *ca_file, GError **error);
/* A new client SSL (caller owns it) that sends host as SNI and checks it as the certificate's
 * name; for an IP literal no SNI is sent and the certificate's IP SAN is checked. NULL on
 * failure. */
SSL *ma_tls_client_ssl_new(SSL_CTX *ctx, const char *host);
/* After the handshake: TRUE when the peer's certificate chains to a trusted CA and names the
 * host given to ma_tls_client_ssl_new; *detail is a static reason ("verified" when TRUE). */
gboolean ma_tls_client_verified(SSL *ssl, const char **detail);

#endif
