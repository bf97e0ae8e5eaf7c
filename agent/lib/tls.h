/* tls.h - the server-side TLS context (OpenSSL) shared by the SMTP listener (STARTTLS) and any
 * other TLS server of mailagent.
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

#endif
