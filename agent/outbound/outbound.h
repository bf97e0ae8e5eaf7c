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
  int list_unsubscribe;      /* 1: carry List-Unsubscribe, 0: not, -1 (or 0-initialised with
                              * list_unsubscribe_set FALSE): by type, mass mail only */
  gboolean list_unsubscribe_set;
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

/* ---- return paths (outbound_return_path.c) ---------------------------------------------------- */

/* The envelope sender of a message from header_from on a path whose return-path choice is choice:
 * "bounce", "from" or an address (which must be in one of the enterprise's domains, else
 * MA_ERROR_INVALID); NULL: the enterprise's `return_path` setting (the default path). The relay
 * module calls this with a relay's own choice. envelope_from: what the request set (NULL: nothing;
 * "" the null sender and any address other than header_from are kept as they are). Sets
 * *mail_from_r (newly allocated; with VERP the From address, shown in the queue) and *verp_r
 * (TRUE: each recipient leaves with its own outbound_verp_address; only when [relay] bounce_domain
 * is set). 0, or -1 with *error. */
int outbound_return_path(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *choice,
                         const char *header_from, const char *envelope_from, char **mail_from_r, gboolean *verp_r,
                         GError **error);
/* The VERP return path of recipient row row_id on bounce_domain, under the token key
 * (bounce_token_key of the master key). Caller frees. */
char *outbound_verp_address(const guint8 token_key[32], const char *bounce_domain, gint64 row_id);

/* ---- bounces (outbound_bounce.c; the classification is agent/bounce's) ------------------------ */

typedef struct {
  char *enterprise_id;   /* whose outbound message the report was about; NULL when none */
  char *outbound_id;
  guint hard, soft, complaints;
} OutboundBounceOutcome;

void outbound_bounce_outcome_clear(OutboundBounceOutcome *o);

/* Applies raw, a message returned to us (see outbound_bounce.c for the effects). verp_row > 0: it
 * came to the VERP return path of that recipient row (its MAC already verified); otherwise it
 * arrived for enterprise_id (a bound mailbox, a forward) and is matched by the Message-ID of the
 * returned message. 1: it was mail to a return path, or a report about one of the enterprise's
 * outbound messages, and was applied: it is not customer correspondence, do not archive it;
 * 0: not ours, archive it as usual; -1 with *error (storage; nothing was applied). out is filled
 * (clear it with outbound_bounce_outcome_clear). */
int outbound_bounce_apply(MaStorage *st, const char *enterprise_id, gint64 verp_row, const void *raw, gsize len,
                          OutboundBounceOutcome *out, GError **error);

/* The suppression side of one recipient's permanent or temporary failure, inside the caller's
 * transaction: severity hard (BounceSeverity of agent/bounce) suppresses address (hard_bounce); soft
 * extends its streak and suppresses it at the fifth in a row within 7 days; anything else does
 * nothing. Delivery calls it for 5xx replies too. 0, or -1 with *error. */
int outbound_bounce_note(MaStorage *st, const char *enterprise_id, const char *address, int severity,
                         const char *outbound_id, const char *detail, gint64 now, GError **error);

/* The pipeline's bounce hook (PipelineBounceHook, pipeline.h): the token key and bounce domain it
 * needs, read once from cfg (the master key only when [relay] bounce_domain is set). NULL with
 * *error when the key cannot be read. Free with outbound_bounce_hook_free (accepts NULL). */
typedef struct OutboundBounceHook OutboundBounceHook;
OutboundBounceHook *outbound_bounce_hook_new(const MaConfig *cfg, GError **error);
void outbound_bounce_hook_free(OutboundBounceHook *h);
/* The hook itself (ctx: an OutboundBounceHook): route "bounce" entries go to outbound_bounce_apply
 * by their VERP row (or to outbound_unsubscribe for an unsubscribe address) and are always
 * consumed; other entries that look like returned mail (outbound_bounce_candidate) are matched by
 * Message-ID within their enterprise. */
int outbound_bounce_spooled(void *ctx, MaStorage *st, const MaSpoolEntry *e, const void *raw, gsize len,
                            GError **error);
/* A cheap look at the header section: TRUE when the message may be returned mail. */
gboolean outbound_bounce_candidate(const char *mail_from, const void *raw, gsize len);

/* ---- the suppression list, operators' side (outbound_suppression.c) ---------------------------- */

/* {"address", "reason", "detail", "source", "created_at"}: the CLI's and the API's shape. New ref. */
json_t *outbound_suppression_json(const MaSuppression *s);
/* text as a suppression-list address (trimmed, lower-case), newly allocated, or NULL with
 * MA_ERROR_INVALID. */
char *outbound_suppression_address(const char *text, GError **error);
/* Adds address with reason (NULL: "manual"; else one of manual, hard_bounce, complaint,
 * unsubscribe, soft_bounces) and an optional note. 1 added, 0 already there, -1 with *error. */
int outbound_suppression_add(MaStorage *st, const char *enterprise_id, const char *address, const char *reason,
                             const char *detail, GError **error);
/* Imports a list: one address per line (or a CSV whose first column is the address, an
 * "address" header allowed), blank lines and # comments skipped. All or nothing: a bad line is
 * MA_ERROR_INVALID naming it. *added / *present: new entries / addresses already listed. */
int outbound_suppression_import(MaStorage *st, const char *enterprise_id, const char *text, gsize len, guint *added,
                                guint *present, GError **error);

/* ---- unsubscribes (outbound_unsubscribe.c) ---------------------------------------------------- */

/* The recipient of row row_id unsubscribes (via: "one-click" or "mailto"): its address goes on its
 * enterprise's suppression list (unsubscribe) and recipient.unsubscribed is emitted, once. 1 done,
 * 0 no such row (deleted since), -1 with *error. */
int outbound_unsubscribe(MaStorage *st, gint64 row_id, const char *via, GError **error);

/* The copy of raw for recipient row row_id with List-Unsubscribe (the one-click URL under
 * public_url when set, and a mailto on bounce_domain, both with the row's unsubscribe token) and,
 * with public_url, List-Unsubscribe-Post: List-Unsubscribe=One-Click, preceded by a DKIM signature
 * of the enterprise's active keys for the From domain that covers them (none without an active
 * key). raw itself (a new reference) when it carries List-Unsubscribe already. New reference, or
 * NULL with *error (a key that cannot be opened). */
GBytes *outbound_list_unsubscribe_copy(MaStorage *st, const guint8 master_key[32], const guint8 token_key[32],
                                       const char *bounce_domain, const char *public_url, const char *enterprise_id,
                                       GBytes *raw, gint64 row_id, GError **error);

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
/* The same with extra's members added to the event's data (extra borrowed, may be NULL): the bounce
 * issue's classification ({"bounce": {...}}) on message.bounced, message.complained. */
int outbound_event_emit_with(MaStorage *st, const char *event, const MaOutbound *m, const MaOutboundRecipient *r,
                             json_t *extra, gint64 now, GError **error);
/* The same for an event caused by a returned report (a soft DSN's message.deferred): report (a
 * digest of the report's bytes, NULL: none) ends the idempotency key, so two reports about the same
 * attempt are two events while a replay of one report is one. */
int outbound_event_emit_report(MaStorage *st, const char *event, const MaOutbound *m, const MaOutboundRecipient *r,
                               json_t *extra, const char *report, gint64 now, GError **error);

/* The JSON of a queued message with every recipient's state (GET /v1/outbound/{id} and
 * `mailagent queue show --json`): id, enterprise_id, type, channel, employee, mail_from, from,
 * subject, message_id, size, created_at, route, records, return_path ("bounce": VERP, else null),
 * list_unsubscribe, sent_copy ({state, detail} or null: the Sent copy of mail sent through an
 * employee's mailbox), recipients [{address, state, attempts,
 * reply, last_attempt_at, next_attempt_at, updated_at}]. New reference. */
json_t *outbound_to_json(const MaOutbound *m);

/* The retry delay after `attempts` failed attempts: initial * 2^(attempts-1), at most max. */
gint64 outbound_retry_delay(int attempts, int initial, int max);

#endif
