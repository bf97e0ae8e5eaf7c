/* storage_timeline_row.h - what a timeline row carries beyond its key, the same on both backends:
 * a message row (kind 0) lists its message's From/To/Cc participants (people), attachments (files)
 * and record links (links) in one text column each, and this decoder turns a row's lists back into
 * the parts of the MaStoredMessage a page visits. Private to storage/.
 *
 * A list is its entries back to back, each entry a fixed number of fields (people: role, name,
 * address; files: filename, content type, content id, inline 0/1, size, sha256; links: record type,
 * record id), each field "~" for NULL or its byte length in decimal, ':' and the bytes:
 * "1:05:Alice3:a@x" is one participant (role 0, name "Alice", address "a@x"). Lengths, not separators, so
 * no byte of a name or address can end a field early. The database writes the lists (SQLite: the
 * view timeline_message_fields of migration 165 with TIMELINE_FIELD below; PostgreSQL: the
 * function timeline_field of migration 050), never C code, so each is made by one definition; the
 * decoder trusts nothing of a list (a length past the end, a missing ':', a field too many or
 * missing, a role or type out of range are errors).
 */
#ifndef MA_STORAGE_TIMELINE_ROW_H
#define MA_STORAGE_TIMELINE_ROW_H

#include "storage.h"

/* SQLite: the list field of SQL expression v (see above). */
#define TIMELINE_FIELD(v) "CASE WHEN " v " IS NULL THEN '~' ELSE length(CAST(" v " AS BLOB)) || ':' || " v " END"

/* The longest list a row may carry (a message has at most a few hundred parts). */
#define TIMELINE_LIST_MAX (1024 * 1024)

/* The parts of the message row being visited: each field copied NUL-terminated into one buffer,
 * values in one array per kind, and the message's part arrays as views of them. Everything is
 * reused from row to row: nothing is allocated per row once the buffers have grown. */
typedef struct {
  char *text;            /* the fields' copies; never longer than the lists they come from */
  gsize text_len, text_cap;
  GArray *participants;  /* MaParticipant */
  GArray *attachments;   /* MaAttachment */
  GArray *links;         /* MaRecordRef */
  GPtrArray *views[3];   /* pointers into the arrays above, no free function */
} MaTimelineRowParts;

void storage_timeline_row_parts_init(MaTimelineRowParts *rp);
void storage_timeline_row_parts_clear(MaTimelineRowParts *rp);

/* Decodes a row's three lists (each NULL or len bytes, not NUL-terminated) into rp and points m's
 * participants, attachments and links at them; what the previous call decoded is gone. The views
 * live until the next call or clear. 0, or -1 with MA_ERROR_INTERNAL when a list is malformed. */
int storage_timeline_row_parts(MaTimelineRowParts *rp, const char *people, gsize people_len, const char *files,
                               gsize files_len, const char *links, gsize links_len, MaStoredMessage *m,
                               GError **error);

#endif
