/* storage_sqlite_timeline.c - SQLite backend: activities, a record's timeline, and the
 * per-enterprise version of what timeline pages read (migration 123's triggers keep it).
 *
 * The timeline table holds one row per (record, linked message) and per (record, activity), keyed
 * (enterprise, record type, record id, date, message id, kind). A page is one index range scan in
 * ORDER BY date DESC, message_id DESC, kind DESC (an activity, kind 1, comes just before its
 * message, kind 0), resumed after an opaque keyset cursor: base64url of "date|message_id|kind". The
 * cursor names a position, not an offset, so rows inserted meanwhile neither repeat nor vanish
 * from later pages. Page size is capped at TIMELINE_MAX_LIMIT. A page is two statements whatever
 * its size, both driven by the same index range: the range joined to its messages and
 * activities, then the range joined to the messages' parts (no id list is built or parsed).
 */
#include "sqlite_internal.h"

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

static int activity_create_body(SqlDb *d, const MaActivity *a, GError **error)
{
  /* The message must be this enterprise's; the activity takes its message's date. */
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO activities(" SQL_ACTIVITY_COLS ")"
                             " SELECT ?1, enterprise_id, id, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, date"
                             " FROM messages WHERE id = ?3 AND enterprise_id = ?2",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, a->id);
  sql_bind_text(s, 2, a->enterprise_id);
  sql_bind_text(s, 3, a->message_id);
  sqlite3_bind_int(s, 4, (int)a->record.type);
  sql_bind_text(s, 5, a->record.id);
  sql_bind_text(s, 6, a->rule_id);
  sql_bind_text(s, 7, a->rule_name);
  sql_bind_text(s, 8, a->activity_type);
  sql_bind_text(s, 9, a->title);
  sql_bind_text(s, 10, a->content);
  sql_bind_text(s, 11, a->owner);
  sqlite3_bind_int64(s, 12, a->created_at);
  if (sql_step_done(d, s, error, "create activity") < 0) return -1;
  if (sqlite3_changes(d->db) == 0) {
    int owned = sql_message_owned(d, a->enterprise_id, a->message_id, error);
    if (owned < 0) return -1;
    if (owned == 1) return 0; /* the activity exists already for (message, record) */
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no message %s", a->message_id);
    return -1;
  }
  if (sql_counter_add(d, "activities", 1, error) < 0) return -1;
  s = sql_prep(d,
               "INSERT OR IGNORE INTO timeline(enterprise_id, record_type, record_id, date, message_id, kind,"
               " direction, has_attachment, thread_id, activity_id)"
               " SELECT enterprise_id, ?3, ?4, date, id, 1, direction, has_attachment, thread_id, ?5"
               " FROM messages WHERE id = ?1 AND enterprise_id = ?2",
               error);
  if (!s) return -1;
  sql_bind_text(s, 1, a->message_id);
  sql_bind_text(s, 2, a->enterprise_id);
  sqlite3_bind_int(s, 3, (int)a->record.type);
  sql_bind_text(s, 4, a->record.id);
  sql_bind_text(s, 5, a->id);
  if (sql_step_done(d, s, error, "activity timeline row") < 0) return -1;
  return 1;
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

/* Migration 123's per-tenant version, moved by triggers on what a timeline page reads. */
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

/* Where the page statement's columns start: the position, then the message's, then the activity's. */
#define PAGE_MESSAGE_COL 3
#define PAGE_ACTIVITY_COL (PAGE_MESSAGE_COL + SQL_MESSAGE_NCOLS)

/* The WHERE clause of a page: the record's index range after the cursor, and the filters.
 * Parameters: ?1-?3 the record, ?4-?6 the cursor position, ?7-?11 the filters. */
static void timeline_where(GString *q, const MaTimelineFilter *f, gboolean after)
{
  g_string_append(q, " WHERE t.enterprise_id = ?1 AND t.record_type = ?2 AND t.record_id = ?3");
  if (after)
    g_string_append(q, " AND t.date <= ?4 AND (t.date < ?4 OR (t.date = ?4 AND (t.message_id < ?5"
                       " OR (t.message_id = ?5 AND t.kind < ?6))))");
  if (f && f->direction) g_string_append(q, " AND t.direction = ?7");
  if (f && f->since) g_string_append(q, " AND t.date >= ?8");
  if (f && f->until) g_string_append(q, " AND t.date < ?9");
  if (f && f->has_attachment >= 0) g_string_append(q, " AND t.has_attachment = ?10");
  if (f && f->thread_id) g_string_append(q, " AND t.thread_id = ?11");
}

#define PAGE_ORDER " ORDER BY t.date DESC, t.message_id DESC, t.kind DESC LIMIT ?12"

/* The page statement for this combination of filters (cached by its text): the timeline's index
 * range in page order, as a subquery with its own ORDER BY and LIMIT, each row then joined to its
 * message (kind 0) or activity (kind 1); a row whose message or activity is gone joins NULLs.
 * The range is a subquery because with the joins and several filters the planner may otherwise
 * prefer to sort the whole filtered range before the LIMIT; LEFT JOIN keeps the subquery as the
 * outer loop, so its order is the page's and nothing is sorted. */
static char *timeline_sql(const MaTimelineFilter *f, gboolean after)
{
  GString *q = g_string_new("SELECT pg.date, pg.message_id, pg.kind, " SQL_MESSAGE_COLS_OF("m.") ", "
                            SQL_ACTIVITY_COLS_OF("a.") " FROM (SELECT t.date, t.message_id, t.kind, t.activity_id,"
                            " t.enterprise_id FROM timeline t");
  timeline_where(q, f, after);
  g_string_append(q, PAGE_ORDER ") pg"
                     " LEFT JOIN messages m ON pg.kind = 0 AND m.id = pg.message_id AND m.enterprise_id = pg.enterprise_id"
                     " LEFT JOIN activities a ON pg.kind = 1 AND a.id = pg.activity_id AND a.enterprise_id = pg.enterprise_id");
  return g_string_free(q, FALSE);
}

/* The parts statement of the same page (same parameters): the page's range again (one index range
 * of limit+1 entries, cheaper than passing the ids back in), each message row's participants (0),
 * attachments (1) and links (2) as (message id, part, six values). CROSS JOIN keeps the page as
 * the outer loop, so each message's parts come in their primary-key order: participants and
 * attachments by position, links by record. */
static char *timeline_parts_sql(const MaTimelineFilter *f, gboolean after)
{
  GString *q = g_string_new("WITH pg AS (SELECT t.message_id AS mid, t.kind AS kind FROM timeline t");
  timeline_where(q, f, after);
  g_string_append(q, PAGE_ORDER ")"
                     " SELECT p.message_id, 0, p.role, p.name, p.address, NULL, NULL, NULL"
                     " FROM pg CROSS JOIN participants p ON p.message_id = pg.mid WHERE pg.kind = 0"
                     " UNION ALL SELECT x.message_id, 1, x.filename, x.content_type, x.content_id, x.is_inline, x.size,"
                     " x.sha256 FROM pg CROSS JOIN attachments x ON x.message_id = pg.mid WHERE pg.kind = 0"
                     " UNION ALL SELECT l.message_id, 2, l.record_type, l.record_id, NULL, NULL, NULL, NULL"
                     " FROM pg CROSS JOIN message_links l ON l.message_id = pg.mid WHERE pg.kind = 0");
  return g_string_free(q, FALSE);
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
  if (f && f->since) sqlite3_bind_int64(s, 8, f->since);
  if (f && f->until) sqlite3_bind_int64(s, 9, f->until);
  if (f && f->has_attachment >= 0) sqlite3_bind_int(s, 10, f->has_attachment ? 1 : 0);
  if (f && f->thread_id) sql_bind_text(s, 11, f->thread_id);
  sqlite3_bind_int(s, 12, fetch);
}

/* Appends the parts the parts statement finds to the messages of by_id (id -> MaStoredMessage*). */
static int timeline_parts(SqlDb *d, const char *enterprise_id, MaRecordType type, const char *record_id,
                          const MaTimelineFilter *f, const MaTimelinePos *after, int fetch, GHashTable *by_id,
                          GError **error)
{
  char *sql = timeline_parts_sql(f, after != NULL);
  sqlite3_stmt *s = sql_prep(d, sql, error);
  g_free(sql);
  if (!s) return -1;
  timeline_bind(s, enterprise_id, type, record_id, f, after, fetch);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaStoredMessage *m = g_hash_table_lookup(by_id, sqlite3_column_text(s, 0));
    if (!m) continue;
    int part = sqlite3_column_int(s, 1);
    if (part == 0) {
      g_ptr_array_add(m->participants, ma_participant_new((MaRole)sqlite3_column_int(s, 2),
                                                          (const char *)sqlite3_column_text(s, 3),
                                                          (const char *)sqlite3_column_text(s, 4)));
    } else if (part == 1) {
      MaAttachment *a = ma_attachment_new();
      a->filename = sql_col_dup(s, 2);
      a->content_type = sql_col_dup(s, 3);
      a->content_id = sql_col_dup(s, 4);
      a->is_inline = sqlite3_column_int(s, 5) != 0;
      a->size = (gsize)sqlite3_column_int64(s, 6);
      const char *sha = (const char *)sqlite3_column_text(s, 7);
      g_strlcpy(a->sha256, sha ? sha : "", sizeof a->sha256);
      g_ptr_array_add(m->attachments, a);
    } else {
      g_ptr_array_add(m->links, ma_record_ref_new((MaRecordType)sqlite3_column_int(s, 2),
                                                  (const char *)sqlite3_column_text(s, 3)));
    }
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "timeline parts");
  return 0;
}

/* Reads up to limit items into out (MaTimelineItem*) and the page's last position, plus whether
 * one more row follows (*more). Rows whose message or activity is gone are skipped (their
 * position still counts for the cursor). */
static int timeline_page(SqlDb *d, const char *enterprise_id, MaRecordType type, const char *record_id,
                         const MaTimelineFilter *f, const MaTimelinePos *after, int limit, GPtrArray *out,
                         MaTimelinePos *last, gboolean *more, GError **error)
{
  *more = FALSE;
  if (f && f->direction && strcmp(f->direction, "inbound") != 0 && strcmp(f->direction, "outbound") != 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "direction must be inbound or outbound");
    return -1;
  }
  char *sql = timeline_sql(f, after != NULL);
  sqlite3_stmt *s = sql_prep(d, sql, error);
  g_free(sql);
  if (!s) return -1;
  timeline_bind(s, enterprise_id, type, record_id, f, after, limit + 1);
  GHashTable *by_id = g_hash_table_new(g_str_hash, g_str_equal); /* borrowed messages of out */
  int rc, n = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (n++ == limit) {
      *more = TRUE;
      break;
    }
    last->date = sqlite3_column_int64(s, 0);
    g_free(last->message_id);
    last->message_id = sql_col_dup(s, 1);
    last->kind = sqlite3_column_int(s, 2);
    MaTimelineItem *item = NULL;
    if (last->kind == 1 && sqlite3_column_type(s, PAGE_ACTIVITY_COL) != SQLITE_NULL) {
      item = g_new0(MaTimelineItem, 1);
      item->is_activity = TRUE;
      item->activity = sql_activity_read(s, PAGE_ACTIVITY_COL);
    } else if (last->kind == 0 && sqlite3_column_type(s, PAGE_MESSAGE_COL) != SQLITE_NULL) {
      item = g_new0(MaTimelineItem, 1);
      item->message = sql_message_read(s, PAGE_MESSAGE_COL);
      g_hash_table_replace(by_id, item->message->id, item->message);
    }
    if (item) g_ptr_array_add(out, item);
  }
  sql_reset(s);
  int ret = 0;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) ret = sql_fail(d, rc, error, "timeline");
  if (ret == 0 && g_hash_table_size(by_id) > 0)
    ret = timeline_parts(d, enterprise_id, type, record_id, f, after, limit + 1, by_id, error);
  g_hash_table_unref(by_id);
  return ret;
}

/* Runs a statement without parameters from the statement cache (sql_exec parses its text every
 * time, which a page's BEGIN and COMMIT would pay on every request). 0 or -1. */
static int step_cached(SqlDb *d, const char *sql)
{
  sqlite3_stmt *s = sql_prep(d, sql, NULL);
  if (!s) return -1;
  int rc = sqlite3_step(s);
  sql_reset(s);
  return rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_timeline(void *impl, const char *enterprise_id, MaRecordType type, const char *record_id,
                    const MaTimelineFilter *filter, const char *cursor, int limit, GPtrArray *out, char **next_cursor,
                    GError **error)
{
  SqlDb *d = impl;
  *next_cursor = NULL;
  if (limit <= 0) limit = TIMELINE_DEFAULT_LIMIT;
  if (limit > TIMELINE_MAX_LIMIT) limit = TIMELINE_MAX_LIMIT;
  MaTimelinePos after = {0, NULL, 0}, last = {0, NULL, 0};
  if (cursor && storage_timeline_cursor_decode(cursor, &after, error) < 0) return -1;
  gboolean more = FALSE;
  guint had = out->len;
  /* The two statements are read in one read transaction so the page is one consistent snapshot. */
  gboolean txn = sqlite3_get_autocommit(d->db) && step_cached(d, "BEGIN") == 0;
  int ret = timeline_page(d, enterprise_id, type, record_id, filter, cursor ? &after : NULL, limit, out, &last, &more,
                          error);
  if (txn) step_cached(d, "COMMIT");
  if (ret == 0 && more) *next_cursor = storage_timeline_cursor_encode(last.date, last.message_id, last.kind);
  if (ret < 0) g_ptr_array_remove_range(out, had, out->len - had);
  g_free(last.message_id);
  g_free(after.message_id);
  return ret;
}
