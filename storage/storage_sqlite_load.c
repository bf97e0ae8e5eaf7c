/* storage_sqlite_load.c - SQLite backend: reading archived messages and activities back, one at a
 * time or a whole page at once.
 *
 * A page load is a fixed number of queries whatever the page size (messages, then their
 * participants, attachments and links together in one UNION ALL, then activities, each with
 * `id IN (...)`), instead of four per item; the ids are
 * bound as one JSON array read by json_each, so each statement text stays the same (and cached)
 * whatever the page size. Messages are read only within the enterprise asked about; their parts
 * are then read by message id.
 */
#include "sqlite_internal.h"

#include <string.h>

#define LOAD_CHUNK 512

#define MESSAGE_COLS SQL_MESSAGE_COLS_OF("")
/* A message's text and html (migrations 124, 173), joined to `messages m`: "" and NULL without a body. */
#define BODY_COLS "coalesce(" SQL_BODY_TEXT("m.", "b.") ", ''), b.html"
#define BODY_TEXT_COLS "coalesce(" SQL_BODY_TEXT("m.", "b.") ", ''), NULL"
#define BODY_JOIN "LEFT JOIN message_bodies b ON b.message_id = m.id"

MaStoredMessage *sql_message_read(sqlite3_stmt *s, int first)
{
  MaStoredMessage *m = ma_stored_message_new();
  m->id = sql_col_dup(s, first);
  m->enterprise_id = sql_col_dup(s, first + 1);
  m->thread_id = sql_col_dup(s, first + 2);
  m->message_id = sql_col_dup(s, first + 3);
  m->dedup_key = sql_col_dup(s, first + 4);
  m->subject = sql_col_dup(s, first + 5);
  m->direction = (MaDirection)sqlite3_column_int(s, first + 6);
  m->date = sqlite3_column_int64(s, first + 7);
  m->archived_at = sqlite3_column_int64(s, first + 8);
  m->size = sqlite3_column_int64(s, first + 9);
  m->raw_sha256 = sql_col_dup(s, first + 10);
  m->snippet = sql_col_dup(s, first + 11);
  m->parse_error = sql_col_dup(s, first + 12);
  m->machine = (guint) sqlite3_column_int(s, first + 13);
  m->machine_reason = sql_col_dup(s, first + 14);
  return m;
}


/* Reads MESSAGE_COLS (then text, html when with_bodies) from the current row of s. */
static MaStoredMessage *message_row(sqlite3_stmt *s, gboolean with_bodies)
{
  MaStoredMessage *m = sql_message_read(s, 0);
  if (with_bodies) {
    m->text = sql_col_dup(s, SQL_MESSAGE_NCOLS);
    m->html = sql_col_dup(s, SQL_MESSAGE_NCOLS + 1);
  }
  return m;
}

static MaParticipant *participant_row(sqlite3_stmt *s, int first)
{
  return ma_participant_new((MaRole)sqlite3_column_int(s, first), (const char *)sqlite3_column_text(s, first + 1),
                            (const char *)sqlite3_column_text(s, first + 2));
}

static MaAttachment *attachment_row(sqlite3_stmt *s, int first)
{
  MaAttachment *a = ma_attachment_new();
  a->filename = sql_col_dup(s, first);
  a->content_type = sql_col_dup(s, first + 1);
  a->content_id = sql_col_dup(s, first + 2);
  a->is_inline = sqlite3_column_int(s, first + 3) != 0;
  a->size = (gsize)sqlite3_column_int64(s, first + 4);
  const char *sha = (const char *)sqlite3_column_text(s, first + 5);
  g_strlcpy(a->sha256, sha ? sha : "", sizeof a->sha256);
  return a;
}

static MaRecordRef *ref_row(sqlite3_stmt *s, int first)
{
  return ma_record_ref_new((MaRecordType)sqlite3_column_int(s, first), (const char *)sqlite3_column_text(s, first + 1));
}

/* ---- one message ---------------------------------------------------------------------------- */

static int message_parts_one(SqlDb *d, MaStoredMessage *m, GError **error)
{
  static const char *const sqls[3] = {
    "SELECT role, name, address FROM participants WHERE message_id = ? ORDER BY pos",
    ("SELECT filename, content_type, content_id, is_inline, size, sha256 FROM attachments WHERE message_id = ?"
     " ORDER BY pos"),
    "SELECT record_type, record_id FROM message_links WHERE message_id = ? ORDER BY record_type, record_id",
  };
  for (int k = 0; k < 3; k++) {
    sqlite3_stmt *s = sql_prep(d, sqls[k], error);
    if (!s) return -1;
    sql_bind_text(s, 1, m->id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      if (k == 0) g_ptr_array_add(m->participants, participant_row(s, 0));
      else if (k == 1) g_ptr_array_add(m->attachments, attachment_row(s, 0));
      else g_ptr_array_add(m->links, ref_row(s, 0));
    }
    sql_reset(s);
    if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "message parts");
  }
  return 0;
}

int sql_message_load(SqlDb *d, const char *enterprise_id, const char *id, gboolean with_bodies,
                     MaStoredMessage **out, GError **error)
{
  *out = NULL;
  sqlite3_stmt *s =
    sql_prep(d, "SELECT " SQL_MESSAGE_COLS_OF("m.") ", " BODY_COLS " FROM messages m " BODY_JOIN
                " WHERE m.id = ? AND m.enterprise_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, id);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  MaStoredMessage *m = rc == SQLITE_ROW ? message_row(s, with_bodies) : NULL;
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "get message");
  if (!m) return 0;
  if (message_parts_one(d, m, error) < 0) {
    ma_stored_message_free(m);
    return -1;
  }
  *out = m;
  return 1;
}

/* ---- many at once --------------------------------------------------------------------------- */

#define IDS_IN "IN (SELECT value FROM json_each(?2))"

/* Appends ids[from..from+n) to q as a JSON array of strings. */
static void ids_json(GString *q, GPtrArray *ids, guint from, guint n)
{
  g_string_append_c(q, '[');
  for (guint i = 0; i < n; i++) {
    if (i) g_string_append_c(q, ',');
    g_string_append_c(q, '"');
    for (const guchar *p = g_ptr_array_index(ids, from + i); *p; p++) {
      if (*p == '"' || *p == '\\') {
        g_string_append_c(q, '\\');
        g_string_append_c(q, (char)*p);
      } else if (*p < 0x20) {
        g_string_append_printf(q, "\\u%04x", *p);
      } else {
        g_string_append_c(q, (char)*p);
      }
    }
    g_string_append_c(q, '"');
  }
  g_string_append_c(q, ']');
}

/* Prepares sql (whose id list is IDS_IN) and binds ?1 (may be NULL) and ?2, the JSON array of
 * ids[from..from+n). One statement text whatever the number of ids, so it stays cached; the array
 * is bound as a transient copy, so nothing outlives the call. */
static sqlite3_stmt *ids_prep(SqlDb *d, const char *sql, const char *first, GPtrArray *ids, guint from, guint n,
                              GError **error)
{
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return NULL;
  GString *list = g_string_sized_new(32 * n + 2);
  ids_json(list, ids, from, n);
  if (first) sql_bind_text(s, 1, first);
  sqlite3_bind_text(s, 2, list->str, (int)list->len, SQLITE_TRANSIENT);
  g_string_free(list, TRUE);
  return s;
}

/* One statement for the three kinds of parts: (message id, part, two sort keys, six values),
 * participants (0) and attachments (1) by position, links (2) by record. */
#define PARTS_SQL                                                                                          \
  "SELECT message_id, 0, pos, NULL, role, name, address, NULL, NULL, NULL FROM participants"              \
  " WHERE message_id " IDS_IN                                                                             \
  " UNION ALL SELECT message_id, 1, pos, NULL, filename, content_type, content_id, is_inline, size, sha256" \
  " FROM attachments WHERE message_id " IDS_IN                                                            \
  " UNION ALL SELECT message_id, 2, record_type, record_id, record_type, record_id, NULL, NULL, NULL, NULL" \
  " FROM message_links WHERE message_id " IDS_IN " ORDER BY 1, 2, 3, 4"

int sql_message_parts_many(SqlDb *d, GPtrArray *ids, GHashTable *by_id, GError **error)
{
  for (guint from = 0; from < ids->len; from += LOAD_CHUNK) {
    guint n = MIN(LOAD_CHUNK, ids->len - from);
    sqlite3_stmt *s = ids_prep(d, PARTS_SQL, NULL, ids, from, n, error);
    if (!s) return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      MaStoredMessage *m = g_hash_table_lookup(by_id, sqlite3_column_text(s, 0));
      if (!m) continue;
      int part = sqlite3_column_int(s, 1);
      if (part == 0) g_ptr_array_add(m->participants, participant_row(s, 4));
      else if (part == 1) g_ptr_array_add(m->attachments, attachment_row(s, 4));
      else g_ptr_array_add(m->links, ref_row(s, 4));
    }
    sql_reset(s);
    if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "message parts");
  }
  return 0;
}

int sql_messages_load_many(SqlDb *d, const char *enterprise_id, GPtrArray *ids, MaBodies bodies,
                           GHashTable *by_id, GError **error)
{
  gboolean with_bodies = bodies != MA_BODIES_NONE;
  for (guint from = 0; from < ids->len; from += LOAD_CHUNK) {
    guint n = MIN(LOAD_CHUNK, ids->len - from);
    sqlite3_stmt *s = ids_prep(d,
                               bodies == MA_BODIES_ALL    ? "SELECT " SQL_MESSAGE_COLS_OF("m.") ", " BODY_COLS " FROM messages m "
                                                            BODY_JOIN " WHERE +m.enterprise_id = ?1 AND m.id " IDS_IN
                               : bodies == MA_BODIES_TEXT ? "SELECT " SQL_MESSAGE_COLS_OF("m.") ", " BODY_TEXT_COLS " FROM messages m "
                                                            BODY_JOIN " WHERE +m.enterprise_id = ?1 AND m.id " IDS_IN
                                                          : "SELECT " MESSAGE_COLS " FROM messages"
                                                            " WHERE +enterprise_id = ?1 AND id " IDS_IN,
                               enterprise_id, ids, from, n, error);
    if (!s) return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      MaStoredMessage *m = message_row(s, with_bodies);
      g_hash_table_replace(by_id, m->id, m);
    }
    sql_reset(s);
    if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "get messages");
  }
  return sql_message_parts_many(d, ids, by_id, error);
}

int sql_activities_load_many(SqlDb *d, const char *enterprise_id, GPtrArray *ids, GHashTable *by_id,
                             GError **error)
{
  for (guint from = 0; from < ids->len; from += LOAD_CHUNK) {
    guint n = MIN(LOAD_CHUNK, ids->len - from);
    sqlite3_stmt *s = ids_prep(d, "SELECT " SQL_ACTIVITY_COLS " FROM activities WHERE +enterprise_id = ?1 AND id " IDS_IN,
                               enterprise_id, ids, from, n, error);
    if (!s) return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      MaActivity *a = sql_activity_read(s, 0);
      g_hash_table_replace(by_id, a->id, a);
    }
    sql_reset(s);
    if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "get activities");
  }
  return 0;
}
