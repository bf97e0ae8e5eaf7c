/* outbound.h - the outbound delivery engine's front and back: accepting the CRM's outgoing mail
 * (POST /v1/messages:send, `mailagent send`, the submission listener) into the durable queue of
 * storage/, and the delivery thread that takes due recipients from it and hands them to
 * agent/smtp_client (smart host, or MX delivery), recording every outcome and emitting the
 * message.sent / message.deferred / message.bounced webhook events (docs/webhooks.md).
 *
 * Accepted means durably queued: outbound_submit returns only after the commit that holds the
 * message, its recipients and (with an Idempotency-Key) the answer. A queued message is also
 * archived (as outbound mail) through the spool and the archive pipeline, by the enterprise's
 * archive settings. The queue's states and
 * transitions are documented in docs/outbound.md.
 */
#ifndef MA_OUTBOUND_H
#define MA_OUTBOUND_H

#include "agent/lib/config.h"
#include "storage/spool.h"
#include "storage/storage.h"

#include <glib.h>
#include <jansson.h>

typedef struct {
  const char *filename;
  const char *content_type;  /* NULL: application/octet-stream */
  GBytes *data;
} OutboundAttachment;

/* One send request, by the API's field names. Either mime (a complete RFC 5322 message) or the
 * structured fields. Everything borrowed. */
typedef struct {
  const char *type;          /* workflow | mass | individual (default individual) */
  const char *channel;       /* auto (default) | employee_mailbox | enterprise_relay | mailagent_relay */
  const char *employee;      /* on whose behalf (id or address), or NULL */
  const char *mime;
  gsize mime_len;
  GPtrArray *envelope_to;    /* with mime: the recipients (char*); NULL: To, Cc and Bcc of the header */
  const char *envelope_from; /* NULL: the From address */
  const char *from;          /* structured: "Name <a@b.example>" or "a@b.example" */
  GPtrArray *to, *cc, *bcc;  /* char*, may be NULL */
  const char *subject, *text, *html;
  GPtrArray *attachments;    /* OutboundAttachment* */
  GPtrArray *header_names;   /* extra headers: names and values, same length */
  GPtrArray *header_values;
  const char *records_json;  /* JSON array of {"type","id"} to link, or NULL */
} OutboundRequest;

/* Validates the request (the From must be one of the enterprise's domains or an employee's
 * address; at least one recipient; every address well-formed), prepares the message (Message-ID
 * and Date added when missing, Bcc removed, line ends CRLF, structured fields composed as MIME with
 * quoted-printable text and base64 attachments), stores it and queues its recipients, durably.
 *
 * With idem_key (NULL: none), request_hash identifies the request's content: a key already used
 * in the last 24 h by this enterprise returns 0 with the first answer in *response_r when the
 * hash matches, and fails with MA_ERROR_CONFLICT when it does not. Returns 1 when queued, with
 * *response_r the answer ({"id", "message_id", "state", "recipients": [{"address","state"}]},
 * newly allocated JSON text) and *id_r (optional, newly allocated) the outbound id.
 * MA_ERROR_INVALID for a bad request, NOT_FOUND for an unknown enterprise or employee. */
int outbound_submit(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const OutboundRequest *req,
                    const char *idem_key, const char *request_hash, char **response_r, char **id_r,
                    GError **error);

/* outbound_submit without an Idempotency-Key inside the caller's transaction (storage_begin): the
 * message is queued only once the caller's storage_commit succeeds. For group commit (the
 * submission listener queues every message that arrived meanwhile with one fsync). A failure
 * undoes only this message's writes. */
int outbound_submit_in_transaction(MaStorage *st, const MaConfig *cfg, const char *enterprise_id,
                                   const OutboundRequest *req, char **response_r, char **id_r,
                                   MaSpoolEntry **archive_r, GError **error);
/* After the caller's commit: hands the archive entries of the queued messages (MaSpoolEntry*,
 * still the caller's) to the spool and the archive pipeline (one fsync for all). outbound_submit
 * does this itself. */
void outbound_archive_entries(const MaConfig *cfg, GPtrArray *entries);

/* ---- delivery (outbound_delivery.c) ---------------------------------------------------------- */

/* Starts the delivery thread (its own event loop and storage handle) and the thread that appends
 * the Sent copies of mail sent through employees' mailboxes; cfg must outlive them (the
 * employee-mailbox channel keeps the collector's environment, which points to it). 0, or -1
 * with *error (bad TLS trust file, unreadable password file, bad default_host). */
int outbound_delivery_start(const MaConfig *cfg, GError **error);
/* New recipients are due: scan now instead of at the next tick. Any thread; never blocks. */
void outbound_delivery_notify(void);
/* Stops the thread: connections are closed, recipients in flight stay "sending" and are due again
 * after their lease (nothing is lost). Accepts being called when not started. */
void outbound_delivery_stop(void);

/* ---- notices (outbound_notice.c) ------------------------------------------------------------- */

/* Queues the "relay suspended" mail to the enterprise's admin_email setting (nothing when unset),
 * from postmaster@[smtp] hostname through the default path, inside the caller's transaction.
 * Failures are logged: the suspension and its webhook event stand without the mail. */
void outbound_relay_suspended_notice(MaStorage *st, const MaConfig *cfg, const char *enterprise_id,
                                     const char *relay_id, const char *why, gint64 now);

/* ---- events (outbound_events.c) -------------------------------------------------------------- */

/* Adds the webhook event for one recipient's outcome to the outbox (inside the caller's
 * transaction when there is one): event is "message.sent", "message.deferred" or
 * "message.bounced" (the bounce issue calls this too). The idempotency key is
 * "<event>:<outbound id>:<recipient row>:<attempts>", so a replayed outcome is emitted once. */
int outbound_event_emit(MaStorage *st, const char *event, const MaOutbound *m, const MaOutboundRecipient *r,
                        gint64 now, GError **error);

/* The JSON of a queued message with every recipient's state (GET /v1/outbound/{id} and
 * `mailagent queue show --json`): id, enterprise_id, type, channel, employee, mail_from, from,
 * subject, message_id, size, created_at, route, records, sent_copy ({state, detail} or null: the Sent
 * copy of mail sent through an employee's mailbox), recipients [{address, state, attempts,
 * reply, last_attempt_at, next_attempt_at, updated_at}]. New reference. */
json_t *outbound_to_json(const MaOutbound *m);

/* The retry delay after `attempts` failed attempts: initial * 2^(attempts-1), at most max. */
gint64 outbound_retry_delay(int attempts, int initial, int max);

#endif
