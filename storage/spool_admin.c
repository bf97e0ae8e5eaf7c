/* spool_admin.c - the operator's view of the spool (spool.h, "the operator's view"): list entries
 * by state and enterprise, show one (optionally with its message), requeue dead or waiting entries,
 * purge dead ones; the checkpoint of a clean stop.
 *
 * These run rarely, from the CLI or an admin API request, so statements are prepared per call
 * rather than cached on the handle. Purge only ever deletes a dead entry: a live one still belongs
 * to the pipeline, and deleting it would drop acknowledged mail. Never logs message data.
 */
#include "spool_body.h"
#include "spool_internal.h"
#include "sqlite_internal.h" /* sql_blob_stream_read */

#include "agent/lib/clock.h"
#include "agent/lib/log.h"

#include <glib/gstdio.h>

#define SPOOL_LIST_DEFAULT 100

const char *ma_spool_entry_state(const MaSpoolEntry *e)
{
  if (e->dead_at > 0) return "dead";
  return e->attempts > 0 ? "retrying" : "queued";
}

/* An entry whose message is in a body file: its size is the file's (0 when it cannot be read). */
static void spool_entry_size(MaSpool *sp, MaSpoolEntry *e)
{
  if (!e->body_file || !spool_body_name_valid(e->body_file)) return;
  g_autofree char *path = g_build_filename(spool_data_dir(sp), SPOOL_BODY_DIR, e->body_file, NULL);
  GStatBuf st;
  e->size = g_stat(path, &st) == 0 ? (gint64) st.st_size : 0;
}

static int spool_prepare(MaSpool *sp, const char *sql, sqlite3_stmt **s, GError **error)
{
  int rc = sqlite3_prepare_v2(spool_sqlite(sp), sql, -1, s, NULL);
  if (rc != SQLITE_OK) return spool_fail(sp, rc, error, "prepare");
  return 0;
}

int spool_list(MaSpool *sp, MaSpoolState state, const char *enterprise_id, int limit, const char *cursor,
               GPtrArray *out, char **next_cursor, GError **error)
{
  g_assert(sp != NULL && out != NULL && next_cursor != NULL);
  *next_cursor = NULL;
  gint64 after = 0;
  if (cursor && *cursor) {
    char *end = NULL;
    after = g_ascii_strtoll(cursor, &end, 10);
    if (!end || *end || after < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "invalid cursor");
      return -1;
    }
  }
  if (limit <= 0) limit = SPOOL_LIST_DEFAULT;
  sqlite3_stmt *s = NULL;
  if (spool_prepare(sp,
                    "SELECT " SPOOL_ENTRY_COLUMNS " FROM spool WHERE seq > ?1"
                    " AND (?2 = 0 OR (?2 = 1 AND dead_at IS NULL) OR (?2 = 2 AND dead_at IS NOT NULL))"
                    " AND (?3 IS NULL OR enterprise_id = ?3) ORDER BY seq LIMIT ?4",
                    &s, error) < 0)
    return -1;
  sqlite3_bind_int64(s, 1, after);
  sqlite3_bind_int(s, 2, state == MA_SPOOL_LIVE ? 1 : state == MA_SPOOL_DEAD ? 2 : 0);
  if (enterprise_id) sqlite3_bind_text(s, 3, enterprise_id, -1, SQLITE_STATIC);
  sqlite3_bind_int(s, 4, limit + 1); /* one more tells whether another page follows */
  int rc, n = 0;
  sqlite3_int64 last = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (n == limit) {
      *next_cursor = g_strdup_printf("%" G_GINT64_FORMAT, (gint64) last);
      rc = SQLITE_DONE;
      break;
    }
    MaSpoolEntry *e = spool_entry_read(s, &last);
    spool_entry_size(sp, e);
    g_ptr_array_add(out, e);
    n++;
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) {
    g_clear_pointer(next_cursor, g_free);
    return spool_fail(sp, rc, error, "list");
  }
  return 0;
}

int spool_get(MaSpool *sp, const char *id, gboolean with_data, MaSpoolEntry **out, GError **error)
{
  g_assert(sp != NULL && id != NULL);
  *out = NULL;
  sqlite3_stmt *s = NULL;
  if (spool_prepare(sp, "SELECT " SPOOL_ENTRY_COLUMNS " FROM spool WHERE id = ?1", &s, error) < 0) return -1;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    sqlite3_int64 seq = 0;
    MaSpoolEntry *e = spool_entry_read(s, &seq);
    /* an old row's BLOB is streamed by rowid while the statement (its snapshot) is still open */
    if (with_data && !e->body_file)
      rc = sql_blob_stream_read(spool_sqlite(sp), "spool", "data", seq, (gsize) e->size, &e->data);
    else
      rc = SQLITE_OK;
    sqlite3_finalize(s);
    if (rc != SQLITE_OK) {
      ma_spool_entry_free(e);
      return spool_fail(sp, rc, error, "get");
    }
    spool_entry_size(sp, e);
    if (with_data && spool_entry_load(sp, e, error) < 0) {
      ma_spool_entry_free(e);
      return -1;
    }
    *out = e;
    return 1;
  }
  sqlite3_finalize(s);
  if (rc == SQLITE_DONE) return 0;
  return spool_fail(sp, rc, error, "get");
}

/* Runs one write statement with ?1 bound to text (may be NULL); *changes: rows it changed. */
static int spool_write(MaSpool *sp, const char *sql, const char *arg, gint64 *changes, GError **error)
{
  sqlite3_stmt *s = NULL;
  if (spool_prepare(sp, sql, &s, error) < 0) return -1;
  if (arg) sqlite3_bind_text(s, 1, arg, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return spool_fail(sp, rc, error, "update");
  if (changes) *changes = sqlite3_changes64(spool_sqlite(sp));
  return 0;
}

int spool_retry(MaSpool *sp, const char *id, GError **error)
{
  g_assert(sp != NULL && id != NULL);
  gint64 n = 0;
  if (spool_write(sp, "UPDATE spool SET dead_at = NULL, attempts = 0, next_attempt_at = 0 WHERE id = ?1", id, &n,
                  error) < 0)
    return -1;
  return n > 0 ? 1 : 0;
}

int spool_retry_dead(MaSpool *sp, const char *enterprise_id, gint64 *count, GError **error)
{
  g_assert(sp != NULL);
  return spool_write(sp,
                     "UPDATE spool SET dead_at = NULL, attempts = 0, next_attempt_at = 0"
                     " WHERE dead_at IS NOT NULL AND (?1 IS NULL OR enterprise_id = ?1)",
                     enterprise_id, count, error);
}

int spool_purge(MaSpool *sp, const char *id, GError **error)
{
  g_assert(sp != NULL && id != NULL);
  sqlite3_stmt *s = NULL;
  if (spool_prepare(sp, "DELETE FROM spool WHERE id = ?1 AND dead_at IS NOT NULL RETURNING body_file", &s, error) < 0)
    return -1;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(s);
  g_autofree char *file = NULL;
  gboolean deleted = rc == SQLITE_ROW;
  if (deleted) {
    const char *t = (const char *) sqlite3_column_text(s, 0);
    file = t ? g_strdup(t) : NULL;
    rc = sqlite3_step(s); /* the DELETE commits when the statement runs to its end */
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return spool_fail(sp, rc, error, "purge");
  if (deleted) {
    g_autoptr(GError) unlink_error = NULL;
    /* after the row is gone: a crash in between leaves an orphan for the sweep at start */
    if (file && spool_body_unlink(spool_data_dir(sp), file, &unlink_error) < 0)
      ma_warn("spool", "%s (the sweep at the next start removes it)", unlink_error->message);
    return 1;
  }
  MaSpoolEntry *e = NULL;
  rc = spool_get(sp, id, FALSE, &e, error);
  ma_spool_entry_free(e);
  if (rc == 1) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "spool entry %s is not dead; only dead entries can be purged", id);
    return -1;
  }
  return rc;
}

int spool_checkpoint(MaSpool *sp, GError **error)
{
  g_assert(sp != NULL);
  int rc = sqlite3_wal_checkpoint_v2(spool_sqlite(sp), NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  if (rc != SQLITE_OK) return spool_fail(sp, rc, error, "checkpoint");
  return 0;
}
