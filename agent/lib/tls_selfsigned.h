/* tls_selfsigned.h - makes a self-signed certificate and private key for a fresh install, so
 * STARTTLS and the API's TLS work before an operator installs a real certificate.
 *
 * ECDSA P-256 key, X.509 v3, SHA-256 signature, subject and issuer CN=<common_name>, a DNS
 * subjectAltName with the same name, serverAuth usage, random 128-bit serial. Files are written
 * PEM to a temporary name and renamed (the key with mode 0600; missing parent directories are made
 * with 0700). Never overwrites: an existing file is MA_ERROR_CONFLICT.
 */
#ifndef MA_TLS_SELFSIGNED_H
#define MA_TLS_SELFSIGNED_H

#include <glib.h>

/* Creates cert_file and key_file valid for `days` days from now. 0, or -1 with *error. */
int tls_selfsigned_create(const char *cert_file, const char *key_file, const char *common_name, int days,
                          GError **error);

#endif
