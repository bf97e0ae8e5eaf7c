/* storage_sqlite_messages.c - SQLite backend: the blob store and archived messages with their
 * participants, attachment rows, record links (and their timeline rows) and provenance.
 *
 * Blobs are content-addressed (sha256 hex) and live inside the database, so one WAL commit makes
 * a whole batch of them durable: that is how durability avoids one fsync per file. A large blob
 * is written by incremental blob I/O into a zeroblob, from the caller's memory (blob_put) or
 * pulled from the caller in pieces (blob_put_stream), so SQLite never builds it as one value. A message is
 * unique per enterprise by its normalised Message-ID and by its dedup key. A text that is a slice of
 * the message's raw blob (the writer checked it) is kept as that slice's place, not a second time
 * (migration 173; ma_text_slice gives it back). Every read checks that
 * the message belongs to the enterprise asked about; blobs are shared by digest, so callers check
 * storage_attachment_visible before serving one to a tenant. Whole messages are read back in
 * storage_sqlite_load.c. Never logs bodies.
 */
#include "sqlite_internal.h"
#include "storage_backend.h"
#include "storage_timeline_row.h"

#include "agent/lib/crypto.h"
#include "agent/lib/model.h"

#include <string.h>


/* ---- blobs ---------------------------------------------------------------------------------- */

int sqlite_blob_put(void *impl, const void *data, gsize len, char sha256_out[65], GError **error)
{
  SqlDb *d = impl;
  ma_sha256_hex(data, len, sha256_out);
  if (sql_write_begin(d, error) < 0) return -1;
  int ret = -1;
  sqlite3_stmt *s = sql_prep(d, "INSERT OR IGNORE INTO blobs(sha256, size, data) VALUES(?, ?, ?)", error);
  if (s) {
    gboolean stream = len >= SQL_STREAM_MIN;
    sql_bind_text(s, 1, sha256_out);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)len);
    if (stream)
      sqlite3_bind_zeroblob64(s, 3, len); /* the last column: the zeros are not materialised */
    else
      sqlite3_bind_blob64(s, 3, len ? data : "", len, SQLITE_STATIC);
    ret = sql_step_done(d, s, error, "store blob");
    if (ret == 0 && stream && sqlite3_changes(d->db) > 0) {
      int rc = sql_blob_stream_write(d->db, "blobs", "data", sqlite3_last_insert_rowid(d->db), data, len);
      if (rc != SQLITE_OK) ret = sql_fail(d, rc, error, "store blob");
    }
  }
  return sql_write_end(d, ret, error);
}

int sqlite_blob_get(void *impl, const char *sha256, GBytes **out, GError **error)
{
  SqlDb *d = impl;
  *out = NULL;
  /* Small blobs come with the row; large ones (data NULL here) are streamed by rowid. */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT rowid, length(data), CASE WHEN length(data) < ?2 THEN data END FROM blobs"
                             " WHERE sha256 = ?1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, sha256);
  sqlite3_bind_int(s, 2, SQL_STREAM_MIN);
  int rc = sqlite3_step(s);
  sqlite3_int64 rowid = 0;
  gsize len = 0;
  if (rc == SQLITE_ROW) {
    rowid = sqlite3_column_int64(s, 0);
    len = (gsize)sqlite3_column_int64(s, 1);
    if (len < SQL_STREAM_MIN) *out = g_bytes_new(sqlite3_column_blob(s, 2), len);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "get blob");
  if (rc == SQLITE_DONE) return 0;
  if (!*out) {
    /* No transaction: a blob is never changed once written, and deleting one is not possible. */
    int brc = sql_blob_stream_read(d->db, "blobs", "data", rowid, len, out);
    if (brc != SQLITE_OK) return sql_fail(d, brc, error, "read blob");
  }
  return 1;
}

/* The row goes in with a zeroblob of the promised size (nothing materialised), then the bytes
 * are pulled SQL_STREAM_CHUNK at a time into it with incremental blob I/O. */
static int blob_put_stream_body(SqlDb *d, const char *sha256, gsize size, MaBlobPull *pull, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "INSERT OR IGNORE INTO blobs(sha256, size, data) VALUES(?, ?, zeroblob(?))", error);
  if (!s) return -1;
  sql_bind_text(s, 1, sha256);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)size);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)size);
  if (sql_step_done(d, s, error, "store blob") < 0) return -1;
  if (sqlite3_changes(d->db) == 0) return 0; /* stored already: nothing to read */
  sqlite3_blob *blob = NULL;
  int rc = sqlite3_blob_open(d->db, "main", "blobs", "data", sqlite3_last_insert_rowid(d->db), 1, &blob);
  if (rc != SQLITE_OK) return sql_fail(d, rc, error, "store blob");
  guint8 *buf = g_malloc(MIN((gsize)SQL_STREAM_CHUNK, MAX(size, (gsize)1)));
  gsize off = 0;
  gssize n;
  while (rc == SQLITE_OK && (n = storage_blob_pull_next(pull, buf, SQL_STREAM_CHUNK, error)) > 0) {
    rc = sqlite3_blob_write(blob, buf, (int)n, (int)off);
    off += (gsize)n;
  }
  g_free(buf);
  int crc = sqlite3_blob_close(blob);
  if (rc == SQLITE_OK) rc = crc;
  if (rc != SQLITE_OK) return sql_fail(d, rc, error, "store blob");
  if (n < 0) return -1;
  return storage_blob_pull_finish(pull, sha256, error);
}

int sqlite_blob_put_stream(void *impl, const char *sha256, gsize size, MaBlobReader read, void *ctx,
                           GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  MaBlobPull pull;
  storage_blob_pull_init(&pull, read, ctx, size);
  /* a blob larger than the page cache goes through a small one (sqlite_internal.h), from its
   * zeroblob's insert to its last piece */
  gboolean small_cache = size > (gsize) SQL_STREAM_CACHE_KIB * 1024 * 2;
  int rc = small_cache ? sql_exec(d, "PRAGMA cache_size=-" G_STRINGIFY(SQL_STREAM_CACHE_KIB), error) : 0;
  if (rc == 0) rc = blob_put_stream_body(d, sha256, size, &pull, error);
  if (small_cache && sql_exec(d, "PRAGMA cache_size=-" G_STRINGIFY(SQL_CACHE_KIB), rc == 0 ? error : NULL) < 0) rc = -1;
  storage_blob_pull_clear(&pull);
  return sql_write_end(d, rc, error);
}

/* ---- helpers -------------------------------------------------------------------------------- */

int sql_message_owned(SqlDb *d, const char *enterprise_id, const char *id, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "SELECT 1 FROM messages WHERE id = ? AND enterprise_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, id);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "message look-up");
  return rc == SQLITE_ROW ? 1 : 0;
}

static gboolean has_real_attachment(GPtrArray *attachments)
{
  for (guint i = 0; attachments && i < attachments->len; i++)
    if (!((MaAttachment *)g_ptr_array_index(attachments, i))->is_inline) return TRUE;
  return FALSE;
}

/* ---- links ---------------------------------------------------------------------------------- */

/* The timeline row of the message's link to ref, its item as the view timeline_message_fields
 * makes it (migration 165), read after the link is written; a row that exists is left as it is. */
static int timeline_row_add(SqlDb *d, const char *enterprise_id, const char *message_id, const MaRecordRef *ref,
                            GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO timeline(enterprise_id, record_type, record_id, date, message_id,"
                             " kind, direction, has_attachment, thread_id, item)"
                             " SELECT v.enterprise_id, ?3, ?4, v.date, v.id, 0, v.direction, v.has_attachment, v.thread_id, "
                             TIMELINE_POSITION("v.date", "v.id", "0") " || v.item"
                             " FROM timeline_message_fields v WHERE v.id = ?1 AND v.enterprise_id = ?2",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  sqlite3_bind_int(s, 3, (int)ref->type);
  sql_bind_text(s, 4, ref->id);
  if (sql_step_done(d, s, error, "add timeline row") < 0) return -1;
  return sqlite3_changes(d->db) > 0 ? sql_archive_version_bump(d, enterprise_id, error) : 0;
}

/* Rewrites the items of the message's timeline rows (one per link; found by their full key, the
 * timeline having no index by message) from timeline_message_fields: after a link came or went,
 * every row lists the message's links again. */
int sql_timeline_rows_refresh(SqlDb *d, const char *enterprise_id, const char *message_id, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "UPDATE timeline SET item = (SELECT " TIMELINE_POSITION("date", "id", "0") " || item"
                             " FROM timeline_message_fields WHERE id = ?1)"
                             " WHERE (enterprise_id, record_type, record_id, date, message_id, kind) IN"
                             " (SELECT m.enterprise_id, l.record_type, l.record_id, m.date, m.id, 0 FROM message_links l"
                             " JOIN messages m ON m.id = l.message_id WHERE l.message_id = ?1 AND m.enterprise_id = ?2)",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  return sql_step_done(d, s, error, "rewrite timeline rows");
}

/* Adds the link and its timeline row: 1 added, 0 existed. The message must be this enterprise's. */
static int link_add_body(SqlDb *d, const char *enterprise_id, const char *message_id, const MaRecordRef *ref,
                         GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO message_links(message_id, record_type, record_id, enterprise_id, reason)"
                             " SELECT id, ?3, ?4, enterprise_id, ?5 FROM messages WHERE id = ?1 AND enterprise_id = ?2",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  sqlite3_bind_int(s, 3, (int)ref->type);
  sql_bind_text(s, 4, ref->id);
  sql_bind_text(s, 5, ref->reason);
  if (sql_step_done(d, s, error, "add link") < 0) return -1;
  if (sqlite3_changes(d->db) == 0) {
    int owned = sql_message_owned(d, enterprise_id, message_id, error);
    if (owned < 0) return -1;
    if (owned == 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no message %s", message_id);
      return -1;
    }
    return 0;
  }
  /* the rows of the message's other links list the new one too, and it gets its own row */
  if (sql_timeline_rows_refresh(d, enterprise_id, message_id, error) < 0 ||
      timeline_row_add(d, enterprise_id, message_id, ref, error) < 0)
    return -1;
  return 1;
}

int sqlite_link_add(void *impl, const char *enterprise_id, const char *message_id, const MaRecordRef *ref,
                    GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, link_add_body(d, enterprise_id, message_id, ref, error), error);
}

static int links_load(SqlDb *d, const char *sql, const char *enterprise_id, const char *message_id, GPtrArray *out,
                      GError **error)
{
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaRecordRef *ref = ma_record_ref_new((MaRecordType)sqlite3_column_int(s, 0), (const char *)sqlite3_column_text(s, 1));
    ref->reason = sql_col_dup(s, 2);
    g_ptr_array_add(out, ref);
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "message links");
  return 0;
}

int sqlite_message_links(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                         GError **error)
{
  return links_load(impl,
                    "SELECT record_type, record_id, reason FROM message_links WHERE message_id = ? AND enterprise_id = ?"
                    " ORDER BY record_type, record_id",
                    enterprise_id, message_id, out, error);
}

int sqlite_links_without_activity(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                                  GError **error)
{
  return links_load(impl,
                    "SELECT l.record_type, l.record_id, l.reason FROM message_links l"
                    " WHERE l.message_id = ?1 AND l.enterprise_id = ?2 AND NOT EXISTS(SELECT 1 FROM activities a"
                    " WHERE a.message_id = l.message_id AND a.record_type = l.record_type AND a.record_id = l.record_id)"
                    " ORDER BY l.record_type, l.record_id",
                    enterprise_id, message_id, out, error);
}

/* ---- insert --------------------------------------------------------------------------------- */

/* One link of the message being inserted (no ownership check is needed: the row was written by
 * this same write unit); message_insert_parts adds the timeline rows once all links are in. */
static int link_insert_new(SqlDb *d, const MaStoredMessage *m, const MaRecordRef *ref, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT OR IGNORE INTO message_links(message_id, record_type, record_id, enterprise_id, reason)"
                             " VALUES(?, ?, ?, ?, ?)",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, m->id);
  sqlite3_bind_int(s, 2, (int)ref->type);
  sql_bind_text(s, 3, ref->id);
  sql_bind_text(s, 4, m->enterprise_id);
  sql_bind_text(s, 5, ref->reason);
  return sql_step_done(d, s, error, "add link"); /* a link listed twice is stored once */
}

/* Whether the outbound queue holds a message with m's Message-ID, which the view names in an
 * outbound message's item as its delivery key: 1 yes, 0 no, -1 on error. */
static int delivery_key_queued(SqlDb *d, const MaStoredMessage *m, GError **error)
{
  if (m->direction != MA_DIRECTION_OUTBOUND || !m->message_id) return 0;
  sqlite3_stmt *s = sql_prep(d, "SELECT 1 FROM outbound_messages WHERE enterprise_id = ? AND message_id = ?", error);
  if (!s) return -1;
  sql_bind_text(s, 1, m->enterprise_id);
  sql_bind_text(s, 2, m->message_id);
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "timeline delivery key");
  return rc == SQLITE_ROW ? 1 : 0;
}

/* The timeline rows of the message being inserted, once all its links are in: its item encoded
 * from the values just bound (storage_timeline_row_message_stored, the same bytes as the view
 * timeline_message_fields: reading them back through it cost more than the message row's own
 * insert), then one row per link with the values at hand (INSERT ... VALUES: an INSERT ... SELECT
 * into a table with triggers goes through a temporary table every time). snippet is the one the
 * message row holds. */
static int timeline_rows_insert_new(SqlDb *d, const MaStoredMessage *m, const char *snippet, GError **error)
{
  int queued = delivery_key_queued(d, m, error);
  if (queued < 0) return -1;
  char *item = storage_timeline_row_message_stored(m, snippet, queued == 1); /* what each row stores */
  sqlite3_stmt *s;
  int ret = 0, added = 0;
  for (guint i = 0; ret == 0 && i < m->links->len; i++) {
    const MaRecordRef *ref = g_ptr_array_index(m->links, i);
    s = sql_prep(d,
                 "INSERT OR IGNORE INTO timeline(enterprise_id, record_type, record_id, date, message_id, kind, direction,"
                 " has_attachment, thread_id, item) VALUES(?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
                 error);
    if (!s) {
      ret = -1;
      break;
    }
    sql_bind_text(s, 1, m->enterprise_id);
    sqlite3_bind_int(s, 2, (int)ref->type);
    sql_bind_text(s, 3, ref->id);
    sqlite3_bind_int64(s, 4, m->date);
    sql_bind_text(s, 5, m->id);
    sqlite3_bind_int(s, 6, (int)m->direction);
    sqlite3_bind_int(s, 7, has_real_attachment(m->attachments) ? 1 : 0);
    sql_bind_text(s, 8, m->thread_id);
    sql_bind_text(s, 9, item);
    ret = sql_step_done(d, s, error, "add timeline row");
    if (ret == 0) added += sqlite3_changes(d->db);
  }
  g_free(item);
  if (ret == 0 && added > 0) ret = sql_archive_version_bump(d, m->enterprise_id, error);
  return ret;
}

static int message_insert_parts(SqlDb *d, const MaStoredMessage *m, const char *snippet, GError **error)
{
  for (guint i = 0; m->participants && i < m->participants->len; i++) {
    const MaParticipant *p = g_ptr_array_index(m->participants, i);
    sqlite3_stmt *s =
      sql_prep(d, "INSERT INTO participants(message_id, pos, role, name, address) VALUES(?, ?, ?, ?, ?)", error);
    if (!s) return -1;
    sql_bind_text(s, 1, m->id);
    sqlite3_bind_int(s, 2, (int)i);
    sqlite3_bind_int(s, 3, (int)p->role);
    sql_bind_text(s, 4, p->name);
    sql_bind_text(s, 5, p->address ? p->address : "");
    if (sql_step_done(d, s, error, "add participant") < 0) return -1;
  }
  for (guint i = 0; m->attachments && i < m->attachments->len; i++) {
    const MaAttachment *a = g_ptr_array_index(m->attachments, i);
    sqlite3_stmt *s = sql_prep(d,
                               "INSERT INTO attachments(message_id, pos, filename, content_type, content_id,"
                               " is_inline, size, sha256) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
                               error);
    if (!s) return -1;
    sql_bind_text(s, 1, m->id);
    sqlite3_bind_int(s, 2, (int)i);
    sql_bind_text(s, 3, a->filename);
    sql_bind_text(s, 4, a->content_type);
    sql_bind_text(s, 5, a->content_id);
    sqlite3_bind_int(s, 6, a->is_inline ? 1 : 0);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)a->size);
    sql_bind_text(s, 8, a->sha256);
    if (sql_step_done(d, s, error, "add attachment") < 0) return -1;
  }
  for (guint i = 0; m->links && i < m->links->len; i++)
    if (link_insert_new(d, m, g_ptr_array_index(m->links, i), error) < 0) return -1;
  if (m->links && m->links->len > 0 && timeline_rows_insert_new(d, m, snippet, error) < 0) return -1;
  return 0;
}

static void text_slice_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return; /* NULL */
  const char *data = sqlite3_value_blob(argv[0]);
  sqlite3_int64 size = sqlite3_value_bytes(argv[0]);
  sqlite3_int64 at = sqlite3_value_int64(argv[1]), len = sqlite3_value_int64(argv[2]);
  if (at < 0 || len < 0 || at > size || len > size - at) {
    sqlite3_result_error(ctx, "ma_text_slice: the slice lies outside its blob", -1);
    return;
  }
  char *out = sqlite3_malloc64((sqlite3_uint64) len + 1);
  if (!out) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  gsize n = ma_text_lf(data + at, (gsize) len, out);
  out[n] = '\0';
  sqlite3_result_text64(ctx, out, (sqlite3_uint64) n, sqlite3_free, SQLITE_UTF8);
}

int sql_body_register(SqlDb *d, GError **error)
{
  int rc = sqlite3_create_function(d->db, "ma_text_slice", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                   text_slice_fn, NULL, NULL);
  if (rc != SQLITE_OK) return sql_fail(d, rc, error, "register ma_text_slice");
  return 0;
}

/* Whether m's text is kept as its slice of the raw blob (migration 173): the writer found it
 * there, and the blob is small enough to be read whole by the readers (SQL_BODY_TEXT). */
static gboolean text_in_raw(const MaStoredMessage *m)
{
  return m->text_raw_len > 0 && m->text_raw_at >= 0 && m->raw_sha256 && m->size < SQL_STREAM_MIN &&
         m->text_raw_at + m->text_raw_len <= m->size;
}

/* The message's text and html in message_bodies (none when both are empty, or when the text is
 * in the raw blob and there is no html). A text of SQL_STREAM_MIN bytes or more is written with
 * incremental blob I/O into a zeroblob, the last column, so SQLite never builds a record as large
 * as the body in memory. */
static int message_body_insert(SqlDb *d, const MaStoredMessage *m, GError **error)
{
  gsize len = m->text && !text_in_raw(m) ? strlen(m->text) : 0;
  if (len == 0 && !m->html) return 0;
  sqlite3_stmt *s = sql_prep(d, "INSERT INTO message_bodies(message_id, html, text) VALUES(?, ?, ?)", error);
  if (!s) return -1;
  gboolean stream = len >= SQL_STREAM_MIN;
  sql_bind_text(s, 1, m->id);
  sql_bind_text(s, 2, m->html);
  if (stream)
    sqlite3_bind_zeroblob64(s, 3, len);
  else
    sqlite3_bind_text64(s, 3, m->text ? m->text : "", len, SQLITE_STATIC, SQLITE_UTF8);
  if (sql_step_done(d, s, error, "insert message body") < 0) return -1;
  if (stream) {
    int rc = sql_blob_stream_write(d->db, "message_bodies", "text", sqlite3_last_insert_rowid(d->db), m->text, len);
    if (rc != SQLITE_OK) return sql_fail(d, rc, error, "insert message body");
  }
  return 0;
}

static int message_insert_body(SqlDb *d, const MaStoredMessage *m, GError **error)
{
  sqlite3_stmt *s = sql_prep(d,
                             "INSERT INTO messages(id, enterprise_id, thread_id, message_id, dedup_key, subject,"
                             " direction, date, archived_at, size, raw_sha256, snippet, has_attachment, parse_error,"
                             " machine, machine_reason, text_raw_at, text_raw_len)"
                             " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             error);
  if (!s) return -1;
  char *snippet = m->snippet ? NULL : storage_snippet_make(m->text);
  sql_bind_text(s, 1, m->id);
  sql_bind_text(s, 2, m->enterprise_id);
  sql_bind_text(s, 3, m->thread_id);
  sql_bind_text(s, 4, m->message_id);
  sql_bind_text(s, 5, m->dedup_key ? m->dedup_key : m->id);
  sql_bind_text(s, 6, m->subject ? m->subject : "");
  sqlite3_bind_int(s, 7, (int)m->direction);
  sqlite3_bind_int64(s, 8, m->date);
  sqlite3_bind_int64(s, 9, m->archived_at);
  sqlite3_bind_int64(s, 10, m->size);
  sql_bind_text(s, 11, m->raw_sha256);
  sql_bind_text(s, 12, m->snippet ? m->snippet : snippet);
  sqlite3_bind_int(s, 13, has_real_attachment(m->attachments) ? 1 : 0);
  sql_bind_text(s, 14, m->parse_error);
  sqlite3_bind_int(s, 15, (int) m->machine);
  sql_bind_text(s, 16, m->machine_reason);
  if (text_in_raw(m)) {
    sqlite3_bind_int64(s, 17, m->text_raw_at);
    sqlite3_bind_int64(s, 18, m->text_raw_len);
  } else {
    sqlite3_bind_null(s, 17);
    sqlite3_bind_null(s, 18);
  }
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc != SQLITE_DONE) {
    g_free(snippet);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", m->enterprise_id);
    else if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "message %s is archived already (same id, Message-ID or dedup key)",
                  m->id);
    else
      sql_fail(d, rc, error, "insert message");
    return -1;
  }
  int ret = sql_counter_add(d, "messages", 1, error) < 0 || message_body_insert(d, m, error) < 0 ||
                    message_insert_parts(d, m, m->snippet ? m->snippet : snippet, error) < 0
                ? -1
                : 0;
  g_free(snippet);
  return ret;
}

int sqlite_message_insert(void *impl, const MaStoredMessage *m, GError **error)
{
  SqlDb *d = impl;
  g_assert(m && m->id && m->enterprise_id);
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, message_insert_body(d, m, error), error);
}

/* Defined with provenance below. */
static int provenance_add_body(SqlDb *d, const char *enterprise_id, const char *message_id, const MaProvenance *p,
                               gboolean owned, GError **error);

int sqlite_message_archive(void *impl, const MaStoredMessage *m, const MaProvenance *p, GError **error)
{
  SqlDb *d = impl;
  g_assert(m && m->id && m->enterprise_id);
  if (sql_write_begin(d, error) < 0) return -1;
  int rc = message_insert_body(d, m, error);
  if (rc == 0) rc = sql_search_index_body(d, m, TRUE, error);
  if (rc == 0 && p) rc = provenance_add_body(d, m->enterprise_id, m->id, p, TRUE, error) < 0 ? -1 : 0;
  return sql_write_end(d, rc, error);
}

/* ---- reads ---------------------------------------------------------------------------------- */

int sqlite_message_find_duplicate(void *impl, const char *enterprise_id, const char *message_id,
                                  const char *dedup_key, char **id_out, GError **error)
{
  SqlDb *d = impl;
  *id_out = NULL;
  if (!message_id && !dedup_key) return 0;
  /* One statement for both keys (one step instead of two for every new message): the Message-ID's
   * row first, as UNION ALL runs its arms in order and LIMIT 1 stops at the first row; a NULL key
   * matches nothing. */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT id FROM messages WHERE enterprise_id = ?1 AND message_id = ?2"
                             " UNION ALL SELECT id FROM messages WHERE enterprise_id = ?1 AND dedup_key = ?3 LIMIT 1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sql_bind_text(s, 2, message_id);
  sql_bind_text(s, 3, dedup_key);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *id_out = sql_col_dup(s, 0);
  sql_reset(s);
  if (rc == SQLITE_ROW) return 1;
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "find duplicate");
  return 0;
}

int sqlite_message_get(void *impl, const char *enterprise_id, const char *id, MaStoredMessage **out, GError **error)
{
  return sql_message_load(impl, enterprise_id, id, TRUE, out, error);
}

int sqlite_message_ids_archived_since(void *impl, const char *enterprise_id, gint64 since, const char *after_id,
                                      int limit, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             after_id
                                 ? "SELECT id FROM messages WHERE enterprise_id = ?1 AND archived_at >= ?2"
                                   " AND (archived_at, id) > (SELECT archived_at, id FROM messages"
                                   "  WHERE id = ?3 AND enterprise_id = ?1)"
                                   " ORDER BY archived_at, id LIMIT ?4"
                                 : "SELECT id FROM messages WHERE enterprise_id = ?1 AND archived_at >= ?2"
                                   " ORDER BY archived_at, id LIMIT ?4",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int64(s, 2, since);
  if (after_id) sql_bind_text(s, 3, after_id);
  sqlite3_bind_int(s, 4, limit > 0 ? limit : -1);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "messages archived since");
  return 0;
}

int sqlite_message_ids_latest(void *impl, const char *enterprise_id, int limit, GPtrArray *out, GError **error)
{
  SqlDb *d = impl;
  /* messages_by_archived (enterprise_id, archived_at, id), read backwards */
  sqlite3_stmt *s = sql_prep(d, "SELECT id FROM messages WHERE enterprise_id = ? ORDER BY archived_at DESC, id DESC LIMIT ?",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, enterprise_id);
  sqlite3_bind_int(s, 2, limit);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) g_ptr_array_add(out, sql_col_dup(s, 0));
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "latest messages");
  return 0;
}

int sqlite_attachment_visible(void *impl, const char *enterprise_id, const char *sha256, char **filename,
                              char **content_type, GError **error)
{
  SqlDb *d = impl;
  /* attachments_by_sha finds the rows; the latest message's name wins */
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT a.filename, a.content_type FROM attachments a JOIN messages m ON m.id = a.message_id"
                             " WHERE a.sha256 = ? AND m.enterprise_id = ? ORDER BY m.id DESC LIMIT 1",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, sha256);
  sql_bind_text(s, 2, enterprise_id);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    if (filename) *filename = sql_col_dup(s, 0);
    if (content_type) *content_type = sql_col_dup(s, 1);
  }
  sql_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sql_fail(d, rc, error, "attachment visibility");
  return rc == SQLITE_ROW ? 1 : 0;
}

/* ---- provenance ----------------------------------------------------------------------------- */

/* One provenance row (see storage_provenance_add) inside the caller's write; owned: the caller
 * knows the message is the enterprise's (it just inserted it), so it is not looked up. */
static int provenance_add_body(SqlDb *d, const char *enterprise_id, const char *message_id, const MaProvenance *p,
                               gboolean owned, GError **error)
{
  int ret = owned ? 1 : sql_message_owned(d, enterprise_id, message_id, error);
  if (ret == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no message %s", message_id);
    ret = -1;
  }
  if (ret == 1) {
    ret = -1;
    sqlite3_stmt *s = sql_prep(d,
                               "INSERT OR IGNORE INTO provenance(message_id, enterprise_id, route, employee_id, signal,"
                               " mailbox, client, envelope_from, spool_id, received_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
                               error);
    if (s) {
      sql_bind_text(s, 1, message_id);
      sql_bind_text(s, 2, enterprise_id);
      sql_bind_text(s, 3, p->route ? p->route : "");
      sql_bind_text(s, 4, p->employee_id);
      sql_bind_text(s, 5, p->signal);
      sql_bind_text(s, 6, p->mailbox);
      sql_bind_text(s, 7, p->client);
      sql_bind_text(s, 8, p->envelope_from);
      sql_bind_text(s, 9, p->spool_id);
      sqlite3_bind_int64(s, 10, p->received_at);
      if (sql_step_done(d, s, error, "add provenance") == 0) ret = sqlite3_changes(d->db) > 0 ? 1 : 0;
    }
  }
  if (ret == 1 && p->mailbox) {
    sqlite3_stmt *s = sql_prep(d, "UPDATE mailboxes SET archived = archived + 1 WHERE id = ? AND enterprise_id = ?", error);
    if (!s) {
      ret = -1;
    } else {
      sql_bind_text(s, 1, p->mailbox);
      sql_bind_text(s, 2, enterprise_id);
      if (sql_step_done(d, s, error, "count archived mail of the mailbox") < 0) ret = -1;
    }
  }
  return ret;
}

int sqlite_provenance_add(void *impl, const char *enterprise_id, const char *message_id, const MaProvenance *p,
                          GError **error)
{
  SqlDb *d = impl;
  if (sql_write_begin(d, error) < 0) return -1;
  return sql_write_end(d, provenance_add_body(d, enterprise_id, message_id, p, FALSE, error), error);
}

int sqlite_provenance_list(void *impl, const char *enterprise_id, const char *message_id, GPtrArray *out,
                           GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = sql_prep(d,
                             "SELECT route, employee_id, signal, mailbox, client, envelope_from, spool_id, received_at"
                             " FROM provenance WHERE message_id = ? AND enterprise_id = ? ORDER BY received_at, rowid",
                             error);
  if (!s) return -1;
  sql_bind_text(s, 1, message_id);
  sql_bind_text(s, 2, enterprise_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MaProvenance *p = ma_provenance_new((const char *)sqlite3_column_text(s, 0));
    p->employee_id = sql_col_dup(s, 1);
    p->signal = sql_col_dup(s, 2);
    p->mailbox = sql_col_dup(s, 3);
    p->client = sql_col_dup(s, 4);
    p->envelope_from = sql_col_dup(s, 5);
    p->spool_id = sql_col_dup(s, 6);
    p->received_at = sqlite3_column_int64(s, 7);
    g_ptr_array_add(out, p);
  }
  sql_reset(s);
  if (rc != SQLITE_DONE) return sql_fail(d, rc, error, "list provenance");
  return 0;
}
