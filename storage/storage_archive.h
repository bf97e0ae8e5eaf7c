/* storage_archive.h - what both backends' archive code shares, so a message row, an activity row,
 * a snippet and a timeline cursor are the same whichever database is underneath: the column lists
 * rows are read from, the snippet made from a body, and the timeline's opaque keyset cursor.
 * Private to storage/.
 */
#ifndef MA_STORAGE_ARCHIVE_H
#define MA_STORAGE_ARCHIVE_H

#include "storage.h"

/* The columns a message row is read from (without text and html), each name after prefix ("" or
 * a table alias and a dot). */
#define SQL_MESSAGE_COLS_OF(p)                                                                          \
  p "id, " p "enterprise_id, " p "thread_id, " p "message_id, " p "dedup_key, " p "subject, " p "direction, " \
  p "date, " p "archived_at, " p "size, " p "raw_sha256, " p "snippet, " p "parse_error, " p "machine, "    \
  p "machine_reason"
#define SQL_MESSAGE_NCOLS 15

/* An activity's columns, each name after prefix, as above. */
#define SQL_ACTIVITY_COLS_OF(p)                                                                         \
  p "id, " p "enterprise_id, " p "message_id, " p "record_type, " p "record_id, " p "rule_id, " p "rule_name, " \
  p "activity_type, " p "title, " p "content, " p "owner, " p "created_at, " p "message_date"
#define SQL_ACTIVITY_COLS SQL_ACTIVITY_COLS_OF("")

/* Timeline pages: limit <= 0 is the default, and no page is larger than the maximum. */
#define TIMELINE_MAX_LIMIT 500
#define TIMELINE_DEFAULT_LIMIT 50

/* The first 200 characters of text with runs of whitespace folded to one space (caller frees). */
char *storage_snippet_make(const char *text);

/* A position in a record's timeline: the row (date, message id, kind) a page ended on. */
typedef struct {
  gint64 date;
  char *message_id;
  int kind;
} MaTimelinePos;

/* The opaque cursor of a position: base64url of "date|message_id|kind" (caller frees). */
char *storage_timeline_cursor_encode(gint64 date, const char *message_id, int kind);
/* 0 and *pos filled (pos->message_id is the caller's to free), or -1 with MA_ERROR_INVALID for
 * anything that is not such a cursor. */
int storage_timeline_cursor_decode(const char *cursor, MaTimelinePos *pos, GError **error);

#endif
