/* storage_pg_timeline.c - PostgreSQL backend: activities, a record's timeline, the loop guard's
 * count and the per-enterprise archive version; the same contracts, order and cursors as
 * storage_sqlite_timeline.c (the cursor is storage_archive.h's, so a cursor means the same on
 * either backend).
 *
 * An activity is unique per (message, record) by the database: two nodes creating it at once
 * store one (ON CONFLICT DO NOTHING), and only the one that stored it writes its timeline row and
 * counts it. A page is one statement, one range of the timeline's primary key whose rows carry
 * their items (migration 050, storage_timeline_row.h), visited as views of the result.
 * The archive version is a row bumped by triggers in the committing transaction (migration 010),
 * so every node reads the same value after a commit.
 */
#include "pg_internal.h"
#include "storage_timeline_row.h"

#include <string.h>

/* ---- activities ----------------------------------------------------------------------------- */

MaActivity *pg_activity_read(const PGresult *r, int row, int first)
{
  MaActivity *a = g_new0(MaActivity, 1);
  a->id = pg_col_dup(r, row, first);
  a->enterprise_id = pg_col_dup(r, row, first + 1);
  a->message_id = pg_col_dup(r, row, first + 2);
  a->record.type = (MaRecordType)pg_col_int(r, row, first + 3);
  a->record.id = pg_col_dup(r, row, first + 4);
  a->rule_id = pg_col_dup(r, row, first + 5);
  a->rule_name = pg_col_dup(r, row, first + 6);
  a->activity_type = pg_col_dup(r, row, first + 7);
  a->title = pg_col_dup(r, row, first + 8);
  a->content = pg_col_dup(r, row, first + 9);
  a->owner = pg_col_dup(r, row, first + 10);
  a->created_at = pg_col_int(r, row, first + 11);
  a->message_date = pg_col_int(r, row, first + 12);
  return a;
}

static int activity_create_body(PgDb *d, const MaActivity *a, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, a->id);
  pg_param_text(&p, a->enterprise_id);
  pg_param_text(&p, a->message_id);
  pg_param_int(&p, a->record.type);
  pg_param_text(&p, a->record.id);
  pg_param_text(&p, a->rule_id);
  pg_param_text(&p, a->rule_name);
  pg_param_text(&p, a->activity_type);
  pg_param_text(&p, a->title);
  pg_param_text(&p, a->content);
  pg_param_text(&p, a->owner);
  pg_param_int(&p, a->created_at);
  /* The message must be this enterprise's; the activity takes its message's date; the one that
   * inserts it also writes its timeline row, which carries the activity (migration 050; the
   * activity's UNIQUE key decides, not a look-up). */
  gint64 n = pg_exec(d,
                     "WITH a AS (INSERT INTO activities(" SQL_ACTIVITY_COLS ")"
                     " SELECT $1, enterprise_id, id, $4, $5, $6, $7, $8, $9, $10, $11, $12, date"
                     " FROM messages WHERE id = $3 AND enterprise_id = $2 ON CONFLICT DO NOTHING RETURNING message_id)"
                     " INSERT INTO timeline(enterprise_id, record_type, record_id, date, message_id, kind, direction,"
                     " has_attachment, thread_id, activity_id, item)"
                     " SELECT m.enterprise_id, $4, $5, m.date, m.id, 1, m.direction, m.has_attachment, m.thread_id, $1,"
                     " timeline_activity_item($1, $6, $7, $8, $9, $10, $11, $12)"
                     " FROM a JOIN messages m ON m.id = a.message_id ON CONFLICT DO NOTHING",
                     &p, "create activity", error);
  /* nothing inserted: the activity exists already for (message, record), or there is no message */
  if (n <= 0) return n < 0 ? -1 : pg_message_missing(d, a->enterprise_id, a->message_id, error);
  pg_count_add(d, PG_COUNT_ACTIVITIES, 1);
  return 1;
}

int pg_activity_create(void *impl, const MaActivity *a, GError **error)
{
  PgDb *d = impl;
  g_assert(a && a->id && a->enterprise_id && a->message_id && a->record.id);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, activity_create_body(d, a, error), error);
}

int pg_activity_get(void *impl, const char *enterprise_id, const char *id, MaActivity **out, GError **error)
{
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(impl, "SELECT " SQL_ACTIVITY_COLS " FROM activities WHERE id = $1 AND enterprise_id = $2", &p,
                       "get activity", error);
  if (!r) return -1;
  int found = PQntuples(r) > 0;
  if (found) *out = pg_activity_read(r, 0, 0);
  PQclear(r);
  return found;
}

int pg_message_activities(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                          GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, message_id);
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(impl,
                       "SELECT " SQL_ACTIVITY_COLS " FROM activities WHERE message_id = $1 AND enterprise_id = $2"
                       " ORDER BY record_type, record_id",
                       &p, "message activities", error);
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, pg_activity_read(r, i, 0));
  PQclear(r);
  return 0;
}

int pg_loop_count(void *impl, const char *enterprise_id, const MaRecordRef *record, const char *from, gint64 since,
                  gint64 *count, GError **error)
{
  *count = 0;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, record->type);
  pg_param_text(&p, record->id);
  pg_param_text(&p, from);
  pg_param_int(&p, since);
  /* the record's timeline rows dated from a day before `since`, each message's From participant */
  PGresult *r = pg_run(impl,
                       "SELECT count(*) FROM timeline t JOIN messages m ON m.id = t.message_id"
                       " JOIN participants p ON p.message_id = t.message_id"
                       " WHERE t.enterprise_id = $1 AND t.record_type = $2 AND t.record_id = $3 AND t.date >= $5 - 86400"
                       " AND t.kind = 0 AND m.archived_at >= $5 AND p.role = 0 AND lower(p.address) = lower($4)",
                       &p, "loop count", error);
  if (!r) return -1;
  *count = pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

int pg_archive_version(void *impl, const char *enterprise_id, gint64 *out, GError **error)
{
  *out = 0;
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  PGresult *r = pg_run(impl, "SELECT n FROM archive_versions WHERE enterprise_id = $1", &p, "archive version", error);
  if (!r) return -1;
  if (PQntuples(r) > 0) *out = pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

/* ---- page ----------------------------------------------------------------------------------- */

/* The page statement's columns: the position and the item (migration 050). */
enum { COL_DATE, COL_MESSAGE_ID, COL_KIND, COL_ITEM };

/* The page statement for this combination of filters (prepared once per text): the record's range
 * of the timeline's primary key after the cursor, in page order; each row carries its whole item.
 * Parameters: $1-$3 the record, $4-$6 the cursor position, $7-$11 the filters, $12 the rows to
 * fetch; each appears in the text only when used, and unused ones are bound as NULL and ignored by
 * a typed no-op. */
static char *timeline_sql(const MaTimelineFilter *f, gboolean after)
{
  GString *q = g_string_new("SELECT t.date, t.message_id, t.kind, t.item FROM timeline t WHERE t.enterprise_id = $1 AND t.record_type = $2 AND t.record_id = $3");
  if (after)
    g_string_append(q, " AND (t.date, t.message_id, t.kind) < ($4::bigint, $5::text COLLATE \"C\", $6::int)");
  else
    g_string_append(q, " AND $4::bigint IS NULL AND $5::text IS NULL AND $6::int IS NULL");
  g_string_append(q, f && f->direction ? " AND t.direction = $7::int" : " AND $7::int IS NULL");
  g_string_append(q, f && f->since ? " AND t.date >= $8::bigint" : " AND $8::bigint IS NULL");
  g_string_append(q, f && f->until ? " AND t.date < $9::bigint" : " AND $9::bigint IS NULL");
  g_string_append(q, f && f->has_attachment >= 0 ? " AND t.has_attachment = $10::int" : " AND $10::int IS NULL");
  g_string_append(q, f && f->thread_id ? " AND t.thread_id = $11::text" : " AND $11::text IS NULL");
  g_string_append(q, " ORDER BY t.date DESC, t.message_id DESC, t.kind DESC LIMIT $12");
  return g_string_free(q, FALSE);
}

/* Column i of row as a view into r (NULL for SQL NULL). */
static char *col_view(const PGresult *r, int row, int i)
{
  return PQgetisnull(r, row, i) ? NULL : PQgetvalue(r, row, i);
}

/* Visits the rows of r (at most limit) as their items (storage_timeline_row.h). */
static int page_visit(const PGresult *r, const char *enterprise_id, MaRecordType type, const char *record_id,
                      int limit, MaTimelineKnown known, MaTimelineVisit visit, void *user_data, GError **error)
{
  MaTimelineRowParts rp;
  storage_timeline_row_parts_init(&rp);
  int ret = 0;
  for (int i = 0; ret == 0 && i < PQntuples(r) && i < limit; i++) {
    MaTimelineRow row = {enterprise_id, type, record_id, pg_col_int(r, i, COL_DATE), col_view(r, i, COL_MESSAGE_ID),
                         (int)pg_col_int(r, i, COL_KIND), col_view(r, i, COL_ITEM),
                         (gsize)PQgetlength(r, i, COL_ITEM)};
    ret = storage_timeline_row_visit(&rp, &row, known, visit, user_data, error);
  }
  storage_timeline_row_parts_clear(&rp);
  return ret;
}

/* storage_timeline_each on PostgreSQL: one statement (one snapshot), its rows visited as views of
 * the result, which is freed after the visits. */
int pg_timeline_each(void *impl, const char *enterprise_id, MaRecordType type, const char *record_id,
                     const MaTimelineFilter *filter, const char *cursor, int limit, MaTimelineKnown known,
                     MaTimelineVisit visit, void *user_data, char **next_cursor, GError **error)
{
  PgDb *d = impl;
  *next_cursor = NULL;
  const MaTimelineFilter *f = filter;
  MaTimelinePos after = {0, NULL, 0};
  if (cursor && storage_timeline_cursor_decode(cursor, &after, error) < 0) return -1;
  g_autofree char *sql = timeline_sql(f, cursor != NULL);
  PgParams p = {0};
  pg_param_text(&p, enterprise_id);
  pg_param_int(&p, type);
  pg_param_text(&p, record_id);
  if (cursor) {
    pg_param_int(&p, after.date);
    pg_param_text(&p, after.message_id);
    pg_param_int(&p, after.kind);
  } else {
    for (int i = 0; i < 3; i++) pg_param_text(&p, NULL);
  }
  if (f && f->direction)
    pg_param_int(&p, strcmp(f->direction, "outbound") == 0 ? MA_DIRECTION_OUTBOUND : MA_DIRECTION_INBOUND);
  else
    pg_param_text(&p, NULL);
  if (f && f->since) pg_param_int(&p, f->since);
  else pg_param_text(&p, NULL);
  if (f && f->until) pg_param_int(&p, f->until);
  else pg_param_text(&p, NULL);
  if (f && f->has_attachment >= 0) pg_param_int(&p, f->has_attachment ? 1 : 0);
  else pg_param_text(&p, NULL);
  pg_param_text(&p, f ? f->thread_id : NULL);
  pg_param_int(&p, limit + 1);
  PGresult *r = pg_run(d, sql, &p, "timeline", error);
  g_free(after.message_id);
  if (!r) return -1;
  int ret = page_visit(r, enterprise_id, type, record_id, limit, known, visit, user_data, error);
  int last = MIN(PQntuples(r), limit) - 1;
  if (ret == 0 && PQntuples(r) > limit)
    *next_cursor = storage_timeline_cursor_encode(pg_col_int(r, last, COL_DATE), PQgetvalue(r, last, COL_MESSAGE_ID),
                                                  (int)pg_col_int(r, last, COL_KIND));
  PQclear(r);
  return ret;
}
