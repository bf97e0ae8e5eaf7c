/* storage_sqlite_timeline.c - SQLite backend: activities and a record's timeline.
 *
 * The timeline table holds one row per (record, linked message) and per (record, activity), keyed
 * (enterprise, record type, record id, date, message id, kind). A page is one index range scan in
 * ORDER BY date DESC, message_id DESC, kind DESC (an activity, kind 1, comes just before its
 * message, kind 0), resumed after an opaque keyset cursor: base64url of "date|message_id|kind". The
 * cursor names a position, not an offset, so rows inserted meanwhile neither repeat nor vanish
 * from later pages. Page size is capped at TIMELINE_MAX_LIMIT.
 */
#include "sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

#define TIMELINE_MAX_LIMIT 500
#define TIMELINE_DEFAULT_LIMIT 50
#define CURSOR_MAX_LEN 200

/* ---- activities ----------------------------------------------------------------------------- */

MaActivity *sql_activity_read(sqlite3_stmt *s)
{
  MaActivity *a = g_new0(MaActivity, 1);
  a->id = sql_col_dup(s, 0);
  a->enterprise_id = sql_col_dup(s, 1);
  a->message_id = sql_col_dup(s, 2);
  a->record.type = (MaRecordType)sqlite3_column_int(s, 3);
  a->record.id = sql_col_dup(s, 4);
  a->rule_id = sql_col_dup(s, 5);
  a->rule_name = sql_col_dup(s, 6);
  a->activity_type = sql_col_dup(s, 7);
  a->title = sql_col_dup(s, 8);
  a->content = sql_col_dup(s, 9);
  a->owner = sql_col_dup(s, 10);
  a->created_at = sqlite3_column_int64(s, 11);
  a->message_date = sqlite3_column_int64(s, 12);
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
  if (rc == SQLITE_ROW) *out = sql_activity_read(s);
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
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_activity_read(s));
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

/* ---- cursor --------------------------------------------------------------------------------- */

typedef struct {
  gint64 date;
  char *message_id;
  int kind;
} TimelinePos;

static char *cursor_encode(gint64 date, const char *message_id, int kind)
{
  char *plain = g_strdup_printf("%" G_GINT64_FORMAT "|%s|%d", date, message_id, kind);
  char *b64 = g_base64_encode((const guchar *)plain, strlen(plain));
  g_free(plain);
  for (char *p = b64; *p; p++) {
    if (*p == '+') *p = '-';
    else if (*p == '/') *p = '_';
    else if (*p == '=') {
      *p = '\0';
      break;
    }
  }
  return b64;
}

/* 0 and *pos filled, or -1 with MA_ERROR_INVALID. */
static int cursor_decode(const char *cursor, TimelinePos *pos, GError **error)
{
  size_t n = strlen(cursor);
  gboolean ok = n > 0 && n <= CURSOR_MAX_LEN;
  for (size_t i = 0; ok && i < n; i++)
    ok = g_ascii_isalnum(cursor[i]) || cursor[i] == '-' || cursor[i] == '_';
  char *plain = NULL;
  char **parts = NULL;
  if (ok) {
    GString *b64 = g_string_new(cursor);
    for (gsize i = 0; i < b64->len; i++) {
      if (b64->str[i] == '-') b64->str[i] = '+';
      else if (b64->str[i] == '_') b64->str[i] = '/';
    }
    while (b64->len % 4) g_string_append_c(b64, '=');
    gsize len = 0;
    guchar *raw = g_base64_decode(b64->str, &len);
    g_string_free(b64, TRUE);
    plain = g_strndup((const char *)raw, len);
    ok = strlen(plain) == len; /* no NUL inside */
    g_free(raw);
  }
  if (ok) {
    parts = g_strsplit(plain, "|", -1);
    ok = g_strv_length(parts) == 3 && *parts[0] && *parts[1] && *parts[2];
  }
  if (ok) {
    char *end = NULL;
    pos->date = g_ascii_strtoll(parts[0], &end, 10);
    ok = end && *end == '\0';
    for (const char *p = parts[1]; ok && *p; p++) ok = g_ascii_isalnum(*p) || *p == '-' || *p == '_';
    ok = ok && (strcmp(parts[2], "0") == 0 || strcmp(parts[2], "1") == 0);
  }
  if (ok) {
    pos->message_id = g_strdup(parts[1]);
    pos->kind = parts[2][0] - '0';
  }
  g_strfreev(parts);
  g_free(plain);
  if (!ok) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "invalid cursor");
    return -1;
  }
  return 0;
}

/* ---- page ----------------------------------------------------------------------------------- */

typedef struct {
  gint64 date;
  char *message_id;
  int kind;
  char *activity_id;
} TimelineRow;

static void timeline_row_clear(gpointer p)
{
  TimelineRow *r = p;
  g_free(r->message_id);
  g_free(r->activity_id);
}

/* The page query for this combination of filters (statement cached by its text). */
static char *timeline_sql(const MaTimelineFilter *f, gboolean after)
{
  GString *q = g_string_new("SELECT date, message_id, kind, activity_id FROM timeline"
                            " WHERE enterprise_id = ?1 AND record_type = ?2 AND record_id = ?3");
  if (after)
    g_string_append(q, " AND date <= ?4 AND (date < ?4 OR (date = ?4 AND (message_id < ?5"
                       " OR (message_id = ?5 AND kind < ?6))))");
  if (f && f->direction) g_string_append(q, " AND direction = ?7");
  if (f && f->since) g_string_append(q, " AND date >= ?8");
  if (f && f->until) g_string_append(q, " AND date < ?9");
  if (f && f->has_attachment >= 0) g_string_append(q, " AND has_attachment = ?10");
  if (f && f->thread_id) g_string_append(q, " AND thread_id = ?11");
  g_string_append(q, " ORDER BY date DESC, message_id DESC, kind DESC LIMIT ?12");
  return g_string_free(q, FALSE);
}

static int timeline_rows(SqlDb *d, const char *enterprise_id, MaRecordType type, const char *record_id,
                         const MaTimelineFilter *f, const TimelinePos *after, int fetch, GArray *rows, GError **error)
{
  if (f && f->direction && strcmp(f->direction, "inbound") != 0 && strcmp(f->direction, "outbound") != 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "direction must be inbound or outbound");
    return -1;
  }
  char *sql = timeline_sql(f, after != NULL);
  sqlite3_stmt *s = sql_prep(d, sql, error);
  g_free(sql);
  if (!s) return -1;
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
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    TimelineRow r = {sqlite3_column_int64(s, 0), sql_col_dup(s, 1), sqlite3_column_int(s, 2), sql_col_dup(s, 3)};
    g_array_append_val(rows, r);
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "timeline");
  return 0;
}

/* Loads the items of rows[0..n) in a fixed number of queries; rows whose message or activity is
 * gone are skipped. */
static int timeline_items(SqlDb *d, const char *enterprise_id, GArray *rows, guint n, GPtrArray *out, GError **error)
{
  GPtrArray *mids = g_ptr_array_new(), *aids = g_ptr_array_new();
  for (guint i = 0; i < n; i++) {
    const TimelineRow *r = &g_array_index(rows, TimelineRow, i);
    if (r->kind == 1 && r->activity_id) g_ptr_array_add(aids, r->activity_id);
    else if (r->kind == 0) g_ptr_array_add(mids, r->message_id);
  }
  GHashTable *msgs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_stored_message_free);
  GHashTable *acts = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_activity_free);
  int ret = 0;
  if (sql_messages_load_many(d, enterprise_id, mids, FALSE, msgs, error) < 0 ||
      sql_activities_load_many(d, enterprise_id, aids, acts, error) < 0)
    ret = -1;
  for (guint i = 0; ret == 0 && i < n; i++) {
    const TimelineRow *r = &g_array_index(rows, TimelineRow, i);
    gpointer value = NULL;
    if (r->kind == 1) {
      if (!r->activity_id || !g_hash_table_steal_extended(acts, r->activity_id, NULL, &value)) continue;
      MaTimelineItem *item = g_new0(MaTimelineItem, 1);
      item->is_activity = TRUE;
      item->activity = value;
      g_ptr_array_add(out, item);
    } else {
      if (!g_hash_table_steal_extended(msgs, r->message_id, NULL, &value)) continue;
      MaTimelineItem *item = g_new0(MaTimelineItem, 1);
      item->message = value;
      g_ptr_array_add(out, item);
    }
  }
  g_hash_table_unref(msgs);
  g_hash_table_unref(acts);
  g_ptr_array_unref(mids);
  g_ptr_array_unref(aids);
  return ret;
}

int sqlite_timeline(void *impl, const char *enterprise_id, MaRecordType type, const char *record_id,
                    const MaTimelineFilter *filter, const char *cursor, int limit, GPtrArray *out, char **next_cursor,
                    GError **error)
{
  SqlDb *d = impl;
  *next_cursor = NULL;
  if (limit <= 0) limit = TIMELINE_DEFAULT_LIMIT;
  if (limit > TIMELINE_MAX_LIMIT) limit = TIMELINE_MAX_LIMIT;
  TimelinePos after = {0, NULL, 0};
  if (cursor && cursor_decode(cursor, &after, error) < 0) return -1;
  GArray *rows = g_array_new(FALSE, TRUE, sizeof(TimelineRow));
  g_array_set_clear_func(rows, timeline_row_clear);
  /* Rows and items are read in one read transaction so the page is one consistent snapshot. */
  gboolean txn = sqlite3_get_autocommit(d->db) && sql_exec(d, "BEGIN", NULL) == 0;
  int ret = timeline_rows(d, enterprise_id, type, record_id, filter, cursor ? &after : NULL, limit + 1, rows, error);
  if (ret == 0) ret = timeline_items(d, enterprise_id, rows, MIN(rows->len, (guint)limit), out, error);
  if (txn) sql_exec(d, "COMMIT", NULL);
  if (ret == 0 && rows->len > (guint)limit) {
    const TimelineRow *last = &g_array_index(rows, TimelineRow, limit - 1);
    *next_cursor = cursor_encode(last->date, last->message_id, last->kind);
  }
  g_array_unref(rows);
  g_free(after.message_id);
  return ret;
}
