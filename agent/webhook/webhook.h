/* webhook.h - delivery of the outbox (storage_outbox_*) to the CRM's webhook URL.
 *
 * One sender thread with its own storage handle POSTs each undelivered event as JSON:
 *   {"id": <idempotency key>, "event": <event>, "enterprise_id": ..., "data": <stored payload>}
 * with headers Content-Type: application/json, Idempotency-Key, X-Mailagent-Event and
 * X-Mailagent-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>"> keyed by the contents
 * of [webhook] secret_file (trailing blanks and newlines removed). A 2xx answer marks the event
 * delivered; anything else (other status, refused connection, timeout after [webhook] timeout
 * seconds) is retried with exponential backoff and jitter, capped at [webhook] max_backoff seconds,
 * and the event is parked as dead after [webhook] max_attempts attempts. Events of one enterprise
 * are delivered in order: a failing event holds back the later events of its enterprise (not of
 * the others). All state is in the outbox, so delivery resumes where it stopped after a restart.
 * Never logs payloads or the secret. The only libcurl user (with the future relay).
 */
#ifndef MA_WEBHOOK_H
#define MA_WEBHOOK_H

#include "agent/lib/config.h"
#include "storage/storage.h"

#include <glib.h>

/* Starts the sender thread. Returns 0 (also when [webhook] url is unset: events then stay in the
 * outbox), or -1 with *error: url set without a readable, non-empty secret_file, a url that is not
 * http(s), or storage that cannot be opened. cfg is copied as needed. One sender per process. */
int webhook_start(const MaConfig *cfg, GError **error);
/* Wakes the sender: new events were committed. Any thread; never blocks. */
void webhook_notify(void);
/* Stops and joins the sender (an attempt in flight finishes or times out first). Accepts being
 * called when not started. */
void webhook_stop(void);
/* Events delivered (2xx) since the process started. */
guint64 webhook_delivered_count(void);
/* "libcurl X.Y.Z (TLS backend)" of the library linked at run time. Caller frees. */
char *webhook_library_version(void);

/* ---- pieces, exposed for tests and docs/webhooks.md ------------------------------------------ */

/* The POST body of an event (newly allocated). The stored payload is embedded as is when it is
 * valid JSON, else as a string. */
char *webhook_body(const MaOutboxEvent *e);
/* "t=<t>,v1=<hex>" (newly allocated). */
char *webhook_signature(const void *secret, gsize secret_len, gint64 t, const char *body, gsize body_len);
/* Delay in seconds before attempt number attempts+1, after `attempts` failed ones (>= 1):
 * min(max_backoff, 2^(attempts-1)) with "equal jitter" (between half and all of it), at least 1. */
gint64 webhook_backoff(int attempts, int max_backoff);
/* Reads a secret file (bounded to 4096 bytes, trailing blanks removed). Newly allocated, or NULL
 * with *error when unreadable or empty. */
char *webhook_read_secret(const char *path, GError **error);

#endif
