/* tls_client.h - the client-side TLS context (OpenSSL) for connections mailagent opens to other
 * servers that must pass verification during the handshake (the collector's IMAP/POP3 sessions).
 * The SMTP client uses tls.h's client context instead: it completes the handshake and lets the
 * TLS mode judge the result afterwards. Distinct names on purpose: both live in ma_lib, and a
 * shared name would let the static linker pick either definition silently.
 *
 * TLS 1.2 or newer, no compression, no renegotiation. Peers are verified against the CA file given
 * (or the system's trust store when none), chain and host name: ma_tls_verifying_ssl_new sets the
 * expected name (SNI and SSL_set1_host). A caller that was explicitly told to accept an untrusted
 * certificate asks for verify=FALSE and must say so wherever it reports the connection.
 */
#ifndef MA_TLS_CLIENT_H
#define MA_TLS_CLIENT_H

#include <glib.h>
#include <openssl/ssl.h>

/* A new client context trusting ca_file (PEM, may hold several certificates), or the default
 * trust store when ca_file is NULL. The caller frees it with SSL_CTX_free. NULL with *error
 * (MA_ERROR_INVALID naming the file) when the CA file cannot be read. Thread-safe to use once made. */
SSL_CTX *ma_tls_verifying_ctx_new(const char *ca_file, GError **error);

/* A new SSL in client mode for host: SNI (unless host is an address literal), host-name check and
 * peer verification when verify is TRUE. The caller owns it (SSL_free). NULL when out of memory. */
SSL *ma_tls_verifying_ssl_new(SSL_CTX *ctx, const char *host, gboolean verify);

#endif
