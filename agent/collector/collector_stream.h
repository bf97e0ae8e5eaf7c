/* collector_stream.h - the collector's transport under libetpan: a libetpan `mailstream_low`
 * driver of our own over a TCP socket, with TLS done by OpenSSL (Debian's libetpan uses GnuTLS and
 * verifies no certificate, so its TLS is never used).
 *
 * Limits: every read and write waits at most timeout_ms (SO_RCVTIMEO/SO_SNDTIMEO on the socket,
 * so a silent server cannot hold a worker); a byte budget (collector_stream_set_budget) bounds how
 * much one response may bring, since libetpan buffers whole responses: past it the stream fails.
 * STARTTLS: collector_stream_start_tls refuses to start when any byte is already buffered after
 * the server's go-ahead (in libetpan's buffer or the socket), the response-injection attack.
 * Reads return OpenSSL's buffered bytes (SSL_pending) before touching the socket.
 *
 * Blocking calls: runs on collector worker threads only, never on the event loop.
 */
#ifndef MA_COLLECTOR_STREAM_H
#define MA_COLLECTOR_STREAM_H

#include <glib.h>
#include <libetpan/libetpan.h>
#include <openssl/ssl.h>

/* Resolves host, connects (IPv4 or IPv6, first address that answers) within timeout_ms, and returns
 * a new libetpan stream on our driver (*out; mailstream_close frees it). -1 with *error naming the
 * step ("dns" or "connect") and the system's reason (MA_ERROR_TEMPFAIL). */
int collector_stream_connect(const char *host, int port, int timeout_ms, mailstream **out, GError **error);

/* Runs the TLS handshake on the stream's socket (implicit TLS right after connect, or after a
 * STARTTLS go-ahead). verify: check chain and host name against ctx's trust anchors. Fails
 * (MA_ERROR_INVALID) when bytes are buffered already, or when the certificate is refused (the
 * message names the reason), or (MA_ERROR_TEMPFAIL) when the handshake breaks. */
int collector_stream_start_tls(mailstream *s, SSL_CTX *ctx, const char *host, gboolean verify, GError **error);

/* TRUE once TLS runs on the stream. */
gboolean collector_stream_is_tls(mailstream *s);

/* Waits up to timeout_ms for something to read (IMAP IDLE): 1 when bytes are already buffered
 * (libetpan's buffer, then OpenSSL's decrypted bytes, SSL_pending, before the socket is polled, so
 * a record read earlier is never left waiting) or the socket turns readable, 0 on time-out, -1 on
 * an error. */
int collector_stream_wait_readable(mailstream *s, int timeout_ms);

/* Allows max_bytes more to be read (0: unlimited); the count restarts. */
void collector_stream_set_budget(mailstream *s, gsize max_bytes);
/* TRUE when a read failed because the budget was spent. */
gboolean collector_stream_over_budget(mailstream *s);
/* Bytes read since the stream was made (for counters). */
guint64 collector_stream_bytes_read(mailstream *s);

#endif
