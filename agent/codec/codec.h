/* codec.h - JSON (jansson) for the shared data types, so the CLI's --json output and the HTTP API
 * use the same field names (see ../shared/DESIGN.md, "User-visible contract"): ids are strings,
 * times RFC 3339 UTC, an address is {"name","address"}, record types singular.
 *
 * Builders return a new reference (json_decref it). The message, activity and timeline shapes are
 * defined once, as writers into text (codec_writer.h); their json_t builders parse that text. Parsers are strict: an unknown top-level key, a
 * wrong type or a missing required field is MA_ERROR_INVALID naming the field; they never keep a
 * reference to their input.
 */
#ifndef MA_CODEC_H
#define MA_CODEC_H

#include "agent/codec/codec_writer.h"
#include "agent/lib/model.h"
#include "storage/spool.h"
#include "storage/storage.h"

#include <jansson.h>

/* {"type","id","name","emails","domains","account_id","contact_ids","stage","attributes"}.
 * "deleted": true is accepted and reported through *deleted (may be NULL when not allowed). */
int codec_record_parse(const json_t *obj, MaRecord **out, gboolean *deleted, GError **error);
json_t *codec_record_to_json(const MaRecord *r);

/* The timeline's filters as both the CLI (--direction, --since, --until, --has-attachment,
 * --thread) and the API (?direction=&since=&until=&has_attachment=&thread=) take them, with the
 * same words: direction in|out|inbound|outbound; since/until a date (2024-01-31) or an RFC 3339
 * time, a bare until date including that day; has_attachment true|false (yes|no too). NULL
 * arguments are absent filters. f->direction and f->thread_id point into the arguments (or static
 * strings). 0, or -1 with *error naming the filter (MA_ERROR_INVALID). */
int codec_timeline_filter_parse(const char *direction, const char *since, const char *until, const char *has_attachment,
                                const char *thread, MaTimelineFilter *f, GError **error);

json_t *codec_address_to_json(const char *name, const char *address);
json_t *codec_record_ref_to_json(const MaRecordRef *ref); /* {"type","id"} */
json_t *codec_enterprise_to_json(const MaEnterprise *e, const char *inbound_domain);
json_t *codec_employee_to_json(const MaEmployee *e);
json_t *codec_api_key_to_json(const MaApiKey *k);
/* A webhook event as the operator sees it: id (its seq, as a string), event, enterprise_id, state,
 * attempts, created_at, next_attempt_at (pending only), last_error; with_payload adds the payload
 * (the JSON the CRM receives: ids and metadata, never a message body). */
json_t *codec_outbox_event_to_json(const MaOutboxEvent *e, gboolean with_payload);
/* {"id", "enterprise_id", "actor", "action", "target", "details": {...} or null, "at"}. */
json_t *codec_audit_entry_to_json(const MaAuditEntry *e);
json_t *codec_attachment_to_json(const MaAttachment *a);
/* A spool entry without its message (codec_spool.c lists the fields). */
json_t *codec_spool_entry_to_json(const MaSpoolEntry *e);

/* A message as the timeline shows it: id, thread_id, date, direction, from, to, cc, subject,
 * snippet, attachments (names, types, sizes, sha256), records (links). With full=TRUE also text,
 * message_id, participants (all roles), size; html is added by the caller after sanitising. */
json_t *codec_message_to_json(const MaStoredMessage *m, gboolean full);
json_t *codec_activity_to_json(const MaActivity *a);
/* {"kind":"message",...} or {"kind":"activity",...}. */
json_t *codec_timeline_item_to_json(const MaTimelineItem *item);

/* The same shapes written as text (codec_writer.h); the json_t builders above are these, parsed.
 * A page of items is written this way without building a jansson tree. */
/* codec_message_to_json / codec_activity_to_json as compact JSON text (caller g_free's), e.g. an
 * event payload. */
char *codec_message_json_text(const MaStoredMessage *m, gboolean full);
char *codec_activity_json_text(const MaActivity *a);
void codec_write_address(CodecWriter *w, const char *name, const char *address);
void codec_write_record_ref(CodecWriter *w, const MaRecordRef *ref);
/* "delivery": [{address, state, reply, attempts, last_attempt_at, updated_at}] of an outbound
 * message's recipients (MaOutboundRecipient*), the field names of GET /v1/outbound/{id}. */
void codec_write_delivery(CodecWriter *w, const GPtrArray *recipients);
json_t *codec_delivery_to_json(const GPtrArray *recipients); /* the array alone; the caller's */
void codec_write_timeline_item(CodecWriter *w, const MaTimelineItem *item);
/* codec_page's shape as text: page_begin, the items (each one written whole), page_end. */
void codec_write_page_begin(CodecWriter *w);
void codec_write_page_end(CodecWriter *w, const char *next_cursor);

/* ---- additions (owner: cli) ----------------------------------------------------------------- */

/* codec_record_parse over JSON text (one JSON Lines line; duplicate keys refused). */
int codec_record_parse_text(const char *text, gsize len, MaRecord **out, gboolean *deleted, GError **error);
/* Shape checks shared by the record parser and the CLI: "local@domain" / a DNS name. */
gboolean codec_address_valid(const char *address);
gboolean codec_domain_valid(const char *domain);

/* A JSON string, null for NULL; invalid UTF-8 is repaired (U+FFFD) rather than dropped. */
json_t *codec_string(const char *s);
/* RFC 3339 UTC string, null for 0. */
json_t *codec_time(gint64 unix_seconds);
/* Array of the char* in a (NULL: empty array). */
json_t *codec_string_array(const GPtrArray *a);
/* The virtual inbound address "<local>@<inbound_domain>" (caller frees). */
char *codec_inbound_address(const char *local, const char *inbound_domain);
/* A page: {"items": items, "next_cursor": cursor or null}; takes items. */
json_t *codec_page(json_t *items, const char *next_cursor);

/* Pages numbered by a storage sequence (webhook events, audit entries), CLI and API alike: a seq,
 * an id or cursor, is a positive decimal number (codec_seq_parse: 0 for anything else). The caller
 * fetches limit + 1 items; codec_seq_page_trim drops the extra one and returns the next cursor (the
 * last kept item's seq, newly allocated), or NULL when this was the last page. */
gint64 codec_seq_parse(const char *text);
char *codec_seq_page_trim(GPtrArray *items, guint limit, gint64 (*seq_of)(gconstpointer item));

/* A mailbox binding with its status (codec_mailbox.c): never its secret. quarantine: char*
 * "folder key: reason" lines or NULL. */
json_t *codec_mailbox_to_json(const MaMailbox *m, GPtrArray *quarantine);

#endif
