/* storage_sqlite_timeline.c - SQLite backend: activities, a record's timeline, and the
 * per-enterprise version of what timeline pages read (migration 123's triggers keep it, but for
 * inserted timeline rows, which bump it here once per write unit or batch: migration 166).
 *
 * The timeline table holds one row per (record, linked message) and per (record, activity), keyed
 * (enterprise, record type, record id, date, message id, kind), and each row carries its whole
 * item in one column, after its position (migrations 165 and 171, storage_timeline_row.h): a message row's
 * is written from the view timeline_message_fields when the link is made, rewritten by the link
 * and unlink paths (storage_sqlite_messages.c, storage_sqlite_pending.c) and by the migration's
 * triggers on the outbound queue; an activity row's from the activity. A page is one statement,
 * one range of the primary key in ORDER BY date DESC,
 * message_id DESC, kind DESC (an activity, kind 1, comes just before its message, kind 0), one
 * column a row, resumed after an opaque keyset cursor: base64url of "date|message_id|kind"
 * (a since bound without other filters ends the page in C at the first older row).
 * The cursor names a position, not an offset, so rows inserted meanwhile neither repeat nor vanish
 * from later pages. Page size is capped at TIMELINE_MAX_LIMIT. Each row's item is decoded into
 * one reused buffer and handed to the caller's visitor as a view: nothing is joined, no body or
 * part table is read, nothing is allocated per item.
 */
#include "sqlite_internal.h"
#include "storage_timeline_row.h"

#include <stdlib.h>
#include <string.h>


/* ---- activities ----------------------------------------------------------------------------- */

MaActivity *sql_activity_read(sqlite3_stmt *s, int first)
{
  MaActivity *a = g_new0(MaActivity, 1);
  a->id = sql_col_dup(s, first);
  a->enterprise_id = sql_col_dup(s, first + 1);
  a->message_id = sql_col_dup(s, first + 2);
  a->record.type = (MaRecordType)sqlite3_column_int(s, first + 3);
  a->record.id = sql_col_dup(s, first + 4);
  a->rule_id = sql_col_dup(s, first + 5);
  a->rule_name = sql_col_dup(s, first + 6);
  a->activity_type = sql_col_dup(s, first + 7);
  a->title = sql_col_dup(s, first + 8);
  a->content = sql_col_dup(s, first + 9);
  a->owner = sql_col_dup(s, first + 10);
  a->created_at = sqlite3_column_int64(s, first + 11);
  a->message_date = sqlite3_column_int64(s, first + 12);
  return a;
}


/* Binds the activity's fields to those named parameters of SQL_ACTIVITY_COLS_OF(":") that statement
 * s has (the strings are borrowed: a stays alive until s is reset). */
static void activity_bind(sqlite3_stmt *s, const MaActivity *a, gint64 message_date)
{
  const struct {
    const char *name;
    const char *text;
  } texts[] = {
    {":id", a->id},
    {":enterprise_id", a->enterprise_id},
    {":message_id", a->message_id},
    {":record_id", a->record.id},
    {":rule_id", a->rule_id},
    {":rule_name", a->rule_name},
    {":activity_type", a->activity_type},
    {":title", a->title},
    {":content", a->content},
    {":owner", a->owner},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
    int at = sqlite3_bind_parameter_index(s, texts[i].name);
    if (at > 0) sql_bind_text(s, at, texts[i].text);
  }
  int at = sqlite3_bind_parameter_index(s, ":record_type");
  if (at > 0) sqlite3_bind_int(s, at, (int)a->record.type);
  at = sqlite3_bind_parameter_index(s, ":created_at");
  if (at > 0) sqlite3_bind_int64(s, at, a->created_at);
  at = sqlite3_bind_parameter_index(s, ":message_date");
  if (at > 0) sqlite3_bind_int64(s, at, message_date);
}

/* The activity and its timeline row, each with INSERT ... VALUES after one look-up of the message
 * (which must be this enterprise's; the activity takes its date, the row its direction, attachment
 * flag and thread): an INSERT ... SELECT may write several rows, so SQLite opens a statement journal
 * for each, which costs more than the look-up. 1 created, 0 the activity existed for (message,
 * record), -1 with MA_ERROR_NOT_FOUND when the message is not the enterprise's. */
static int activity_create_body(SqlDb *d, const MaActivity *a, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT date, direction, has_attachment, thread_id FROM messages"
                             " WHERE id = ?1 AND enterprise_id = ?2",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, a->message_id);
  sql_bind_text(s, 2, a->enterprise_id);
  int rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    sql_reset(s);
    if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "activity's message");
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no message %s", a->message_id);
    return -1;
  }
  gint64 date = sqlite3_column_int64(s, 0);
  int direction = sqlite3_column_int(s, 1);
  int has_attachment = sqlite3_column_int(s, 2);
  char *thread_id = sql_col_dup(s, 3); /* freed below */
  sql_reset(s);

  int ret = -1;
  s = sql_prep(d, "INSERT OR IGNORE INTO activities(" SQL_ACTIVITY_COLS ") VALUES(" SQL_ACTIVITY_COLS_OF(":") ")",
               error);
  if (!s) goto out;
  activity_bind(s, a, date);
  if (sql_step_done(d, s, error, "create activity") < 0) goto out;
  if (sqlite3_changes(d->db) == 0) { /* the activity exists already for (message, record) */
    ret = 0;
    goto out;
  }
  if (sql_counter_add(d, "activities", 1, error) < 0) goto out;
  /* its timeline row carries the activity as stored (migration 165): the item is made by the same
   * SQL expression from the bound values as from the activities row's columns */
  s = sql_prep(d,
               "INSERT OR IGNORE INTO timeline(enterprise_id, record_type, record_id, date, message_id, kind,"
               " direction, has_attachment, thread_id, activity_id, item)"
               " VALUES(:enterprise_id, :record_type, :record_id, :message_date, :message_id, 1, :direction,"
               " :has_attachment, :thread_id, :id, " TIMELINE_POSITION(":message_date", ":message_id", "1")
               " || " TIMELINE_ACTIVITY_ITEM(":") ")",
               error);
  if (!s) goto out;
  activity_bind(s, a, date);
  sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":direction"), direction);
  sqlite3_bind_int(s, sqlite3_bind_parameter_index(s, ":has_attachment"), has_attachment);
  sql_bind_text(s, sqlite3_bind_parameter_index(s, ":thread_id"), thread_id);
  if (sql_step_done(d, s, error, "activity timeline row") < 0) goto out;
  if (sqlite3_changes(d->db) > 0 && sql_archive_version_bump(d, a->enterprise_id, error) < 0) goto out;
  ret = 1;
out:
  g_free(thread_id);
  return ret;
}

int sqlite_activity_create(void *impl, const MaActivity *a, GError **error)
{
  SqlDb *d = impl;
  g_assert(a && a->id && a->enterprise_id && a->message_id && a->record.id);
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, activity_create_body(d, a, error), error);
}

int sqlite_activity_get(void *impl, const char *enterprise_id, const char *id, MaActivity **out, GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  sqlite3_stmt *s = sql_prep(d, "SELECT " SQL_ACTIVITY_COLS " FROM activities WHERE id = ? AND enterprise_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, id);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = sql_activity_read(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "get activity");
  return rc == SQLITE_ROW ? 1 : 0;
}

int sqlite_message_activities(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                              GError **error)
{
  SqlDb *d = impl;
  /* the UNIQUE(message_id, record_type, record_id) index serves this */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT " SQL_ACTIVITY_COLS " FROM activities WHERE message_id = ? AND enterprise_id = ?"
                             " ORDER BY record_type, record_id",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_activity_read(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "message activities");
  return 0;
}

int sqlite_loop_count(void *impl, const char *enterprise_id, const MaRecordRef *record, const char *from, gint64 since,
                      gint64 *count, GError **error)
{
  SqlDb *d = impl;
  *count = 0;
  /* a range of the timeline's primary key (the record's rows dated from a day before `since`),
   * then each row's message and its From participant by primary key */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT count(*) FROM timeline t JOIN messages m ON m.id = t.message_id"
                             " JOIN participants p ON p.message_id = t.message_id"
                             " WHERE t.enterprise_id = ?1 AND t.record_type = ?2 AND t.record_id = ?3 AND t.date >= ?5 - 86400"
                             " AND t.kind = 0 AND m.archived_at >= ?5 AND p.role = 0 AND lower(p.address) = lower(?4)",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, (int) record->type);
  sql_bind_text(s, 3, record->id);
  sql_bind_text(s, 4, from);
  sqlite3_bind_int64(s, 5, since);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *count = sqlite3_column_int64(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW) return sql_fail(d, rc, error, "loop count");
  return 0;
}

/* The upsert migration 123's triggers ran per row, now run once per enterprise and write unit
 * (batch: per commit) for inserted timeline rows: created at a random value, so that a version row
 * made again never restarts where a cache saw one; nothing for an enterprise that no longer
 * exists. */
static int archive_version_move(SqlDb *d, const char *enterprise_id, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO archive_versions(enterprise_id, n) SELECT ?1, abs(random() % 4503599627370496)"
                             " WHERE EXISTS (SELECT 1 FROM enterprises WHERE id = ?1)"
                             " ON CONFLICT(enterprise_id) DO UPDATE SET n = n + 1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  return sql_step_done(d, s, error, "archive version");
}

int sql_archive_version_bump(SqlDb *d, const char *enterprise_id, GError **error)
{
  if (!d->batch) return archive_version_move(d, enterprise_id, error);
  for (guint i = 0; i < d->versions_pending->len; i++) /* a batch touches one enterprise or a few */
    if (strcmp(g_ptr_array_index(d->versions_pending, i), enterprise_id) == 0) return 0;
  g_ptr_array_add(d->versions_pending, g_strdup(enterprise_id));
  return 0;
}

int sql_archive_versions_flush(SqlDb *d, GError **error)
{
  int ret = 0;
  for (guint i = 0; ret == 0 && i < d->versions_pending->len; i++)
    ret = archive_version_move(d, g_ptr_array_index(d->versions_pending, i), error);
  g_ptr_array_set_size(d->versions_pending, 0);
  return ret;
}

void sql_archive_versions_forget(SqlDb *d)
{
  g_ptr_array_set_size(d->versions_pending, 0);
}

/* Migration 123's per-tenant version, moved by triggers on what a timeline page reads and, for
 * inserted timeline rows, by sql_archive_version_bump. */
int sqlite_archive_version(void *impl, const char *enterprise_id, gint64 *out, GError **error)
{
  SqlDb *d = impl;
  *out = 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT n FROM archive_versions WHERE enterprise_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(s, 0);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "archive version");
  return 0;
}

/* ---- page ----------------------------------------------------------------------------------- */

/* The page statement's one column: the row's position and item (migration 171,
 * TIMELINE_POSITION): SQLite's column reads cost a page more than the range scan itself. */
#define PAGE_COLS "t.item"

/* Whether the page statement bounds the date from below (since) itself. Rows come newest first,
 * so without a filter SQLite tests row by row the page can stop at the first older row in C: the
 * statement's range end then compares three key fields instead of four, 3,300 instructions less a
 * page of 51 rows (scripts/bench/api/pages.sh). With such a filter the bound stays in SQL, where it
 * ends the scan even when no row older than since passes the filter. */
static gboolean since_in_sql(const MaTimelineFilter *f)
{
  return f && f->since && (f->direction || f->has_attachment >= 0 || f->thread_id);
}

/* The WHERE clause of a page: the record's index range after the cursor, and the filters (since
 * only when since_in_sql; else timeline_page checks it). Parameters: ?1-?3 the record, ?4-?6 the
 * cursor position, ?7-?11 the filters. */
static void timeline_where(GString *q, const MaTimelineFilter *f, gboolean after)
{
  g_string_append(q, " WHERE t.enterprise_id = ?1 AND t.record_type = ?2 AND t.record_id = ?3");
  if (after)
    g_string_append(q, " AND t.date <= ?4 AND (t.date < ?4 OR (t.date = ?4 AND (t.message_id < ?5"
                       " OR (t.message_id = ?5 AND t.kind < ?6))))");
  if (f && f->direction) g_string_append(q, " AND t.direction = ?7");
  if (since_in_sql(f)) g_string_append(q, " AND t.date >= ?8");
  if (f && f->until) g_string_append(q, " AND t.date < ?9");
  if (f && f->has_attachment >= 0) g_string_append(q, " AND t.has_attachment = ?10");
  if (f && f->thread_id) g_string_append(q, " AND t.thread_id = ?11");
}

/* A page's statement differs only by which filters are present and whether a cursor is: one text
 * per combination (PAGE_SHAPES of them), built once per process instead of once per request. */
#define SHAPE_DIRECTION 1
#define SHAPE_SINCE 2
#define SHAPE_UNTIL 4
#define SHAPE_ATTACHMENT 8
#define SHAPE_THREAD 16
#define SHAPE_AFTER 32
#define PAGE_SHAPES 64

static int page_shape(const MaTimelineFilter *f, gboolean after)
{
  int shape = after ? SHAPE_AFTER : 0;
  if (f && f->direction) shape |= SHAPE_DIRECTION;
  if (since_in_sql(f)) shape |= SHAPE_SINCE;
  if (f && f->until) shape |= SHAPE_UNTIL;
  if (f && f->has_attachment >= 0) shape |= SHAPE_ATTACHMENT;
  if (f && f->thread_id) shape |= SHAPE_THREAD;
  return shape;
}

/* A filter with exactly the clauses of shape (the values do not matter to the text). */
static MaTimelineFilter shape_filter(int shape)
{
  MaTimelineFilter f = {
    .direction = shape & SHAPE_DIRECTION ? "inbound" : NULL,
    .since = shape & SHAPE_SINCE ? 1 : 0,
    .until = shape & SHAPE_UNTIL ? 1 : 0,
    .has_attachment = shape & SHAPE_ATTACHMENT ? 1 : -1,
    .thread_id = shape & SHAPE_THREAD ? "t" : NULL,
  };
  return f;
}

/* The page statement for this combination of filters: the record's range of the timeline's
 * primary key after the cursor, in page order; each row carries its whole item. */
static char *timeline_sql(const MaTimelineFilter *f, gboolean after)
{
  GString *q = g_string_new("SELECT " PAGE_COLS " FROM timeline t");
  timeline_where(q, f, after);
  g_string_append(q, " ORDER BY t.date DESC, t.message_id DESC, t.kind DESC LIMIT ?12");
  return g_string_free(q, FALSE);
}

/* The text of the page statement of one shape; built on first use, then shared by every
 * connection of the process for its life. */
static const char *page_text(int shape)
{
  static const char *texts[PAGE_SHAPES];
  static gsize ready[PAGE_SHAPES];
  g_assert(shape >= 0 && shape < PAGE_SHAPES);
  if (g_once_init_enter(&ready[shape])) {
    MaTimelineFilter f = shape_filter(shape);
    texts[shape] = timeline_sql(&f, (shape & SHAPE_AFTER) != 0);
    g_once_init_leave(&ready[shape], 1);
  }
  return texts[shape];
}

/* Binds a page's parameters (see timeline_where) to s. */
static void timeline_bind(sqlite3_stmt *s, const char *enterprise_id, MaRecordType type, const char *record_id,
                          const MaTimelineFilter *f, const MaTimelinePos *after, int fetch)
{
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, (int)type);
  sql_bind_text(s, 3, record_id);
  if (after) {
    sqlite3_bind_int64(s, 4, after->date);
    sql_bind_text(s, 5, after->message_id);
    sqlite3_bind_int(s, 6, after->kind);
  }
  if (f && f->direction)
    sqlite3_bind_int(s, 7, strcmp(f->direction, "outbound") == 0 ? MA_DIRECTION_OUTBOUND : MA_DIRECTION_INBOUND);
  if (since_in_sql(f)) sqlite3_bind_int64(s, 8, f->since);
  if (f && f->until) sqlite3_bind_int64(s, 9, f->until);
  if (f && f->has_attachment >= 0) sqlite3_bind_int(s, 10, f->has_attachment ? 1 : 0);
  if (f && f->thread_id) sql_bind_text(s, 11, f->thread_id);
  sqlite3_bind_int(s, 12, fetch);
}

/* Visits up to limit items and keeps the page's last position in last_id (date and kind in *last),
 * plus whether one more row follows (*more). One statement, one column: each row is its position
 * and its item. */
static int timeline_page(SqlDb *d, const char *enterprise_id, MaRecordType type, const char *record_id,
                         const MaTimelineFilter *f, const MaTimelinePos *after, int limit, MaTimelineKnown known,
                         MaTimelineVisit visit,
                         void *user_data, MaTimelinePos *last, GString *last_id, gboolean *more, GError **error)
{
  *more = FALSE;
  sqlite3_stmt *s = sql_prep(d, page_text(page_shape(f, after != NULL)), error);
  if (!s) return -1;
  timeline_bind(s, enterprise_id, type, record_id, f, after, limit + 1);
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  char id_buf[64];         /* the row's message id, NUL-terminated for the visitor ... */
  GString *long_id = NULL; /* ... or here when it is longer (storage's own ids never are) */
  int rc, n = 0, ret = 0;
  gint64 oldest = f && f->since && !since_in_sql(f) ? f->since : G_MININT64; /* since, checked here */
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    sqlite3_value *stored = sqlite3_column_value(s, 0); /* one call for its bytes and length */
    MaTimelinePositioned at;
    if (storage_timeline_row_position(sqlite3_value_blob(stored), (gsize)sqlite3_value_bytes(stored), &at) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "timeline row of %s %s: malformed position",
                  ma_record_type_name(type), record_id);
      ret = -1;
      break;
    }
    if (at.date < oldest) /* every row after it is older still: the page ends, none follows */
      break;
    if (n++ == limit) {
      *more = TRUE;
      break;
    }
    const char *id = id_buf;
    if (at.message_id_len < sizeof id_buf) {
      memcpy(id_buf, at.message_id, at.message_id_len);
      id_buf[at.message_id_len] = '\0';
    } else {
      if (!long_id) long_id = g_string_new(NULL);
      g_string_truncate(long_id, 0);
      g_string_append_len(long_id, at.message_id, (gssize)at.message_id_len);
      id = long_id->str;
    }
    last->date = at.date;
    last->kind = at.kind;
    if (n == limit) /* the page's last row: the cursor's position if one more follows */
      g_string_assign(last_id, id);
    MaTimelineRow row = {enterprise_id, type, record_id, at.date, id, at.kind, at.item, at.item_len};
    if (storage_timeline_row_visit(&rp, &row, known, visit, user_data, error) < 0) {
      ret = -1;
      break;
    }
  }
  sql_reset(s);
  if (long_id) g_string_free(long_id, TRUE);
  storage_timeline_row_parts_clear(&rp);
  if (ret < 0) return -1;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "timeline");
  return 0;
}

int sqlite_timeline_each(void *impl, const char *enterprise_id, MaRecordType type, const char *record_id,
                         const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineKnown known,
                         MaTimelineVisit visit, void *user_data, char **next_cursor, GError **error)
{
  SqlDb *d = impl;
  *next_cursor = NULL;
  MaTimelinePos after = {0, NULL, 0}, last = {0, NULL, 0};
  if (cursor && storage_timeline_cursor_decode(cursor, &after, error) < 0) return -1;
  gboolean more = FALSE;
  GString *last_id = g_string_sized_new(32);
  /* One statement, one snapshot: the visitor's look-ups on this handle while it steps read the
   * same read transaction. */
  int ret = timeline_page(d, enterprise_id, type, record_id, filter, cursor ? &after : NULL, limit, known, visit,
                          user_data, &last, last_id, &more, error);
  if (ret == 0 && more) *next_cursor = storage_timeline_cursor_encode(last.date, last_id->str, last.kind);
  g_string_free(last_id, TRUE);
  g_free(after.message_id);
  return ret;
}
