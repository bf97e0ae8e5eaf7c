/* outbound_internal.h - what the files of agent/outbound share: the prepared message. Not for other
 * modules. */
#ifndef MA_OUTBOUND_INTERNAL_H
#define MA_OUTBOUND_INTERNAL_H

#include "outbound.h"

#include "storage/spool.h"

/* A message ready to queue: the octets that will leave and what the queue row needs. */
typedef struct {
  GByteArray *raw;           /* CRLF line ends, no Bcc header */
  char *message_id;          /* without <> */
  char *header_from;         /* the From address */
  char *subject;             /* as in the header (unfolded, not decoded) */
  GPtrArray *rcpts;          /* char*: envelope recipients, unique (case-insensitive) */
  gboolean eight_bit;        /* octets >= 0x80 anywhere */
  gboolean smtputf8;         /* a non-ASCII envelope address */
} OutboundMessage;

void outbound_message_clear(OutboundMessage *m);

/* Limits of what a request may hold. */
#define OUTBOUND_MAX_RECIPIENTS 1000
#define OUTBOUND_MAX_HEADER_BLOCK (1024 * 1024)
#define OUTBOUND_MAX_LINE 998
#define OUTBOUND_MAX_RECORDS 100    /* records a request may name */
#define OUTBOUND_MAX_RECORD_ID 256  /* octets of a named record's id */

/* From a complete message: header fields kept as written except Bcc (removed), Date and
 * Message-ID added when missing (Message-ID <id@hostname>); recipients from envelope_to, or else
 * To, Cc and Bcc. MA_ERROR_INVALID for no header block, no From, a line over 998 octets. */
int outbound_message_from_mime(const char *raw, gsize len, GPtrArray *envelope_to, const char *hostname, gint64 now,
                               OutboundMessage *out, GError **error);
/* From structured fields (req->mime NULL). */
int outbound_message_compose(const OutboundRequest *req, const char *hostname, gint64 now, OutboundMessage *out,
                             GError **error);

/* outbound_archive.c: the spool entry that archives a queued message (route "outbound"; the caller
 * owns it), and the hand-over of such entries to the spool and the pipeline (entries stay the
 * caller's). */
MaSpoolEntry *outbound_archive_entry(const MaOutbound *m, const OutboundMessage *msg);
void outbound_archive(const MaConfig *cfg, GPtrArray *entries);

/* "Wed, 02 Dec 2026 07:42:06 +0000" into out. */
void outbound_rfc5322_date(gint64 t, char out[40]);

#endif
