/* storage_timeline_row.h - what a timeline row carries beyond its key, the same on both backends:
 * its whole item in one text column (item), which this decoder turns back into the MaStoredMessage
 * or MaActivity a page visits. Private to storage/.
 *
 * A field is "~" for NULL or its byte length in decimal, ':' and the bytes ("5:Alice"); lengths,
 * not separators, so no byte of a name or subject can end a field early. A list is its entries
 * back to back, each a fixed number of fields, ended by '.' (which no field starts with). A
 * message row's item (kind 0) is the fields thread id, direction, subject, snippet, parse error,
 * machine flags and delivery key (its Message-ID while the outbound queue holds a message with it,
 * else NULL), then three lists: its From/To/Cc participants (role, name, address), attachments
 * (filename, content type, content id, inline 0/1, size, sha256) and record links (type, id). An
 * activity row's item (kind 1) is the fields activity id, rule id, rule name, activity type, title,
 * content, owner and creation time. "1:03:abc5:Hello~~1:0~1:05:Alice3:a@x..1:12:c1." is an inbound
 * message of thread "abc" from Alice with one link. The database writes items (SQLite: the view
 * timeline_message_fields of migration 165 with TIMELINE_FIELD and TIMELINE_ACTIVITY_ITEM below;
 * PostgreSQL: migration 050's view and functions), so each shape has one definition per backend,
 * with one exception: SQLite's insert of a new message encodes that message's item in C
 * (storage_timeline_row_message_stored) from the values the insert has just bound, where reading
 * them back through the view cost about 52,000 instructions per archived message, more than the
 * message row's own insert (scripts/bench/ingest/cost.sh). test_storage_archive's
 * /storage/timeline/insert-item checks the two agree, field by field and list by list. The
 * decoder trusts nothing in an item (a length past the end, a missing ':' or '.', a field missing
 * or left over, a number or a role out of range are errors).
 */
#ifndef MA_STORAGE_TIMELINE_ROW_H
#define MA_STORAGE_TIMELINE_ROW_H

#include "storage.h"

/* SQLite: the field of SQL expression v (a column or a cheap expression: it is written three times). */
#define TIMELINE_FIELD(v) "CASE WHEN " v " IS NULL THEN '~' ELSE length(CAST(" v " AS BLOB)) || ':' || " v " END"
/* SQLite: an activity row's item from the activities row whose columns are prefixed p ("a."). */
#define TIMELINE_ACTIVITY_ITEM(p)                                                                        \
  TIMELINE_FIELD(p "id") " || " TIMELINE_FIELD(p "rule_id") " || " TIMELINE_FIELD(p "rule_name") " || "   \
  TIMELINE_FIELD(p "activity_type") " || " TIMELINE_FIELD(p "title") " || " TIMELINE_FIELD(p "content")  \
  " || " TIMELINE_FIELD(p "owner") " || " TIMELINE_FIELD(p "created_at")

/* SQLite: what a row's item column holds is its position, then its item (migration 171): the
 * fields date, message id and kind, written as the item's fields are ("10:170000000026:01H...1:0"),
 * then the item itself. A page then reads one column a row instead of four (SQLite's column reads
 * and their API calls were about a seventh of a computed page: scripts/bench/api/pages.sh). Every writer
 * writes the position from the values it writes the row's key from, so the two agree
 * (/storage/timeline/exact checks it after every path that writes rows). PostgreSQL's item
 * column holds the item alone. date, id and kind are SQL expressions (each written three times). */
#define TIMELINE_POSITION(date, id, kind) TIMELINE_FIELD(date) " || " TIMELINE_FIELD(id) " || " TIMELINE_FIELD(kind)

/* The longest item a row may carry (a message has at most a few hundred parts). */
#define TIMELINE_ITEM_MAX (4 * 1024 * 1024)

/* The item of the row being visited: each field copied NUL-terminated into one buffer, the parts
 * in one array per kind, and the message's part arrays as views of them. Everything is reused
 * from row to row: nothing is allocated per row once the buffers have grown, and nothing at all
 * until the first decode. */
typedef struct {
  char *text;            /* the fields' copies; never longer than the item they come from */
  gsize text_len, text_cap;
  GArray *participants;  /* MaParticipant */
  GArray *attachments;   /* MaAttachment */
  GArray *links;         /* MaRecordRef */
  GPtrArray *views[3];   /* pointers into the arrays above, no free function */
} MaTimelineRowParts;

void storage_timeline_row_parts_init(MaTimelineRowParts *rp);
void storage_timeline_row_parts_clear(MaTimelineRowParts *rp);

/* Decodes a message row's item (len bytes, not NUL-terminated; NULL is malformed) into m: its
 * thread id, direction, subject, snippet, parse error, machine flags, message_id (the delivery key:
 * set only while the queue holds the message) and its participants, attachments and links, all
 * views into rp valid until the next decode or clear; m's other fields are left as they are.
 * 0, or -1 with MA_ERROR_INTERNAL when the item is malformed. */
int storage_timeline_row_message(MaTimelineRowParts *rp, const char *item, gsize len, MaStoredMessage *m,
                                 GError **error);
/* The same for an activity row's item into a: id, rule id and name, type, title, content, owner,
 * creation time. */
int storage_timeline_row_activity(MaTimelineRowParts *rp, const char *item, gsize len, MaActivity *a,
                                  GError **error);

/* What a kind-0 row of a message being inserted stores (SQLite's insert path only): its position
 * (m's date and id, kind 0; TIMELINE_POSITION), then its item exactly as the view
 * timeline_message_fields makes it from the rows that insert writes: m's thread id, direction,
 * subject ("" for NULL), snippet (the one stored: the caller's), parse error and machine flags; its
 * Message-ID as the delivery key when delivery_key (the caller found it in the outbound queue),
 * else NULL; its From/To/Cc participants in order; its attachments in order; its links ordered by
 * type then id, each once. Returns a string the caller frees with g_free. */
char *storage_timeline_row_message_stored(const MaStoredMessage *m, const char *snippet, gboolean delivery_key);

/* A row's position and item as SQLite stores them (TIMELINE_POSITION): views into stored. */
typedef struct {
  gint64 date;
  const char *message_id; /* message_id_len bytes, not NUL-terminated */
  gsize message_id_len;
  int kind;
  const char *item; /* item_len bytes */
  gsize item_len;
} MaTimelinePositioned;

/* Splits what SQLite stores for a row (len bytes) into its position and item. 0, or -1 when it is
 * missing (NULL) or malformed (a date that is no integer, an empty message id, a kind other than 0
 * or 1); the item is not checked here (decoding it does that). */
int storage_timeline_row_position(const char *stored, gsize len, MaTimelinePositioned *out);

/* What SQLite stores for a row: its position (date, message_id, kind) then item, as
 * TIMELINE_POSITION writes it. Returns a string the caller frees with g_free. */
char *storage_timeline_row_positioned(gint64 date, const char *message_id, int kind, const char *item);

/* Whether a message row's item names a delivery key (its seventh field is not NULL): such a row's
 * item is visited with delivery states read apart, so a MaTimelineKnown must never answer it
 * (storage_timeline_row_visit asserts this in debug builds). Reads the first seven fields' lengths
 * only. TRUE too for a malformed item (decoding it then
 * reports the error); FALSE for an activity row. */
gboolean storage_timeline_row_has_delivery_key(const MaTimelineRow *row);

/* Visits row (MaTimelineRow, storage.h) as its item (a message or an activity, views into rp and
 * the row, valid during the visit), unless known (when not NULL) says the caller has it already
 * (storage_timeline_each_known; every row is asked about, and known refuses those with a delivery
 * key). 0, or -1 with
 * MA_ERROR_INTERNAL when its item is malformed (nothing visited). */
int storage_timeline_row_visit(MaTimelineRowParts *rp, const MaTimelineRow *row, MaTimelineKnown known,
                               MaTimelineVisit visit, void *user_data, GError **error);

#endif
