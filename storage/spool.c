/* spool.c - the node-local spool (spool.h): accepted mail waits until the pipeline archived it;
 * the metadata in data_dir/spool.db, its own SQLite file (WAL, synchronous=FULL), each message's
 * octets in a file of data_dir/spool/ (spool_body.h) that the row names in `body_file`.
 *
 * spool_put makes n entries durable together: each body file fdatasync'd (by a pool of threads,
 * so the syncs overlap and share journal commits), then one fsync of the spool directory for all
 * their names, then one transaction, one commit, one fsync of the WAL, however many entries. A body
 * still in memory (spool_body_new_buffered, a message within 64 KiB) has no file: its octets go
 * into the row's `data` BLOB, so that one commit and its one sync make a whole batch of small
 * messages durable (no file created, synced, renamed or unlinked for them); a torn append to the
 * write-ahead log fails its frame checksums and is ignored at the next open, so a commit whose
 * sync did not return is simply absent. It returns 0 only after the commit, so an
 * acknowledgement given after it survives a crash or power loss. A failed sync or commit (or an
 * injected sync failure) stores none of the n entries, and their files are unlinked when the
 * entries are freed; the caller answers 4xx. A crash between the file syncs and the commit
 * leaves files no row names: spool_sweep_orphans removes them at start.
 *
 * Upgrade: rows written by versions before the body files keep their octets in the `data` BLOB
 * (body_file NULL), as do new rows of bodies that stayed in memory; spool_pending reads those
 * (large ones with sqlite3_blob_read in chunks). Rows with a body file carry an empty BLOB.
 *
 * Retry state (spool.h): next_attempt_at, last_error and dead_at live in the row; spool_pending
 * offers only live entries that are due on ma_now_ms()'s clock.
 *
 * spool_done releases the body files of the rows it removed (spool_body_release: kept for reuse
 * when recycling is on, else unlinked), after the commit.
 *
 * spool_done, spool_attempts_failed and spool_mark_dead commit without an fsync (synchronous=NORMAL for that one
 * commit): a delete lost to a power cut only replays an entry the pipeline handles idempotently,
 * and the next spool_put's FULL commit syncs the WAL, those frames included. Never logs message data.
 */
#include "spool.h"
#include "spool_body.h"
#include "spool_internal.h"
#include "sqlite_internal.h" /* sql_busy_handler, sql_global_init */

#include "agent/lib/clock.h"
#include "agent/lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#define SPOOL_DB_FILE "spool.db"
#define SPOOL_SYNC_THREADS 16
#define SPOOL_BODY_LOAD_MAX ((gint64) 1 << 30) /* far above any max_message_size: a sanity bound */

enum {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_INSERT,
  Q_PENDING,
  Q_DONE,
  Q_ATTEMPT,
  Q_DEAD,
  Q_DEPTH,
  Q_BODY_FILES,
  Q_COUNT,
};

static const char *const spool_sql[Q_COUNT] = {
  [Q_BEGIN] = "BEGIN IMMEDIATE",
  [Q_COMMIT] = "COMMIT",
  [Q_ROLLBACK] = "ROLLBACK",
  [Q_INSERT] = "INSERT INTO spool(id, enterprise_id, route, client, helo, mail_from, rcpts, employee_id, signal,"
               " mailbox, received_at, attempts, data, body_file) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  [Q_PENDING] = "SELECT " SPOOL_ENTRY_COLUMNS ", CASE WHEN body_file IS NULL AND length(data) < ?3 THEN data END"
                " FROM spool WHERE dead_at IS NULL AND next_attempt_at <= ?1 ORDER BY seq LIMIT ?2",
  [Q_DONE] = "DELETE FROM spool WHERE id = ?1 RETURNING body_file",
  [Q_ATTEMPT] = "UPDATE spool SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3"
                " WHERE id = ?1 AND dead_at IS NULL",
  [Q_DEAD] = "UPDATE spool SET attempts = attempts + 1, dead_at = ?2, last_error = ?3 WHERE id = ?1",
  [Q_DEPTH] = "SELECT count(*) FILTER (WHERE dead_at IS NULL), count(*) FILTER (WHERE dead_at IS NOT NULL) FROM spool",
  [Q_BODY_FILES] = "SELECT body_file FROM spool WHERE body_file IS NOT NULL",
};

static const char spool_schema[] =
  "CREATE TABLE IF NOT EXISTS spool("
  "  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, enterprise_id TEXT, route TEXT NOT NULL,"
  "  client TEXT, helo TEXT, mail_from TEXT NOT NULL, rcpts TEXT NOT NULL, employee_id TEXT, signal TEXT,"
  "  mailbox TEXT, received_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL);"
  "PRAGMA user_version=1;";

/* Columns added after the first version, each with the statement that adds it; spool_upgrade adds
 * the missing ones to new and old files alike (checked by name, not by a version number). */
static const struct {
  const char *column;
  const char *add;
} spool_columns[] = {
  {"body_file", "ALTER TABLE spool ADD COLUMN body_file TEXT"},
  /* retry state kept with the entry (a stored deadline, not a timer in memory), and dead entries */
  {"next_attempt_at", "ALTER TABLE spool ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0"},
  {"last_error", "ALTER TABLE spool ADD COLUMN last_error TEXT"},
  {"dead_at", "ALTER TABLE spool ADD COLUMN dead_at INTEGER"},
};

struct MaSpool {
  char *data_dir;
  sqlite3 *db;
  sqlite3_stmt *q[Q_COUNT];
  /* body files of a batch are fdatasync'd in parallel: concurrent syncs share the file system's
   * journal commits (50 files: about 30 ms against 200 ms one after the other on ext4) */
  GThreadPool *syncers;     /* created at the first batch of several bodies */
  GMutex sync_lock;
  GCond sync_done;
  guint syncs_left;         /* under sync_lock */
  int fail_syncs;
  gboolean not_full; /* synchronous could not be set back to FULL: spool_put must not commit */
};

MaSpoolEntry *ma_spool_entry_new(void)
{
  MaSpoolEntry *e = g_new0(MaSpoolEntry, 1);
  e->rcpts = g_ptr_array_new_with_free_func(g_free);
  return e;
}

void ma_spool_entry_free(MaSpoolEntry *e)
{
  if (!e) return;
  g_free(e->id);
  g_free(e->enterprise_id);
  g_free(e->route);
  g_free(e->client);
  g_free(e->helo);
  g_free(e->mail_from);
  if (e->rcpts) g_ptr_array_unref(e->rcpts);
  g_free(e->employee_id);
  g_free(e->signal);
  g_free(e->mailbox);
  g_free(e->last_error);
  if (e->data) g_bytes_unref(e->data);
  ma_raw_free(e->raw);
  spool_body_free(e->body); /* unlinks the file unless spool_put committed the entry */
  g_free(e->body_file);
  g_free(e);
}

int spool_fail(MaSpool *sp, int rc, GError **error, const char *what)
{
  int code;
  switch (rc & 0xff) {
  case SQLITE_CONSTRAINT: code = MA_ERROR_CONFLICT; break;
  case SQLITE_CORRUPT:
  case SQLITE_MISUSE:
  case SQLITE_ERROR: code = MA_ERROR_INTERNAL; break;
  default: code = MA_ERROR_TEMPFAIL; break; /* busy, full, I/O error...: try again later */
  }
  g_set_error(error, MA_ERROR, code, "spool: %s: %s", what, sp && sp->db ? sqlite3_errmsg(sp->db) : sqlite3_errstr(rc));
  return -1;
}

/* Steps a statement to its end, then resets it. rows (char*, may be NULL): the non-NULL text of
 * the first column of each row it returned. */
static int spool_run_rows(MaSpool *sp, int q, GPtrArray *rows, GError **error)
{
  sqlite3_stmt *s = sp->q[q];
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *t = (const char *) sqlite3_column_text(s, 0);
    if (rows && t) g_ptr_array_add(rows, g_strdup(t));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_DONE) return spool_fail(sp, rc, error, spool_sql[q]);
  return 0;
}

/* Steps a statement expecting no row, then resets it. */
static int spool_run(MaSpool *sp, int q, GError **error)
{
  return spool_run_rows(sp, q, NULL, error);
}

static gboolean spool_has_column(MaSpool *sp, const char *column)
{
  sqlite3_stmt *s = NULL;
  gboolean found = FALSE;
  if (sqlite3_prepare_v2(sp->db, "SELECT 1 FROM pragma_table_info('spool') WHERE name = ?", -1, &s, NULL) != SQLITE_OK)
    return FALSE;
  sqlite3_bind_text(s, 1, column, -1, SQLITE_STATIC);
  found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  return found;
}

/* Adds the columns of spool_columns a file lacks, in one transaction (threads opening the spool
 * at once: the second finds them added). */
static int spool_upgrade(MaSpool *sp)
{
  int rc = sqlite3_exec(sp->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  for (gsize i = 0; rc == SQLITE_OK && i < G_N_ELEMENTS(spool_columns); i++)
    if (!spool_has_column(sp, spool_columns[i].column))
      rc = sqlite3_exec(sp->db, spool_columns[i].add, NULL, NULL, NULL);
  if (rc == SQLITE_OK) return sqlite3_exec(sp->db, "COMMIT", NULL, NULL, NULL);
  sqlite3_exec(sp->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int spool_open(const char *data_dir, MaSpool **out, GError **error)
{
  *out = NULL;
  if (g_mkdir_with_parents(data_dir, 0700) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "spool: cannot create %s: %s", data_dir, g_strerror(errno));
    return -1;
  }
  g_autofree char *body_dir = g_build_filename(data_dir, SPOOL_BODY_DIR, NULL);
  if (g_mkdir_with_parents(body_dir, 0700) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "spool: cannot create %s: %s", body_dir, g_strerror(errno));
    return -1;
  }
  MaSpool *sp = g_new0(MaSpool, 1);
  g_mutex_init(&sp->sync_lock);
  g_cond_init(&sp->sync_done);
  sp->data_dir = g_strdup(data_dir);
  char *path = g_build_filename(data_dir, SPOOL_DB_FILE, NULL);
  sql_global_init();
  int rc = sqlite3_open_v2(path, &sp->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  g_free(path);
  if (rc != SQLITE_OK) goto fail;
  sqlite3_busy_handler(sp->db, sql_busy_handler, NULL);
  sqlite3_extended_result_codes(sp->db, 1);
  rc = sqlite3_exec(sp->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(sp->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_exec(sp->db, spool_schema, NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = spool_upgrade(sp);
  for (int i = 0; rc == SQLITE_OK && i < Q_COUNT; i++)
    rc = sqlite3_prepare_v3(sp->db, spool_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &sp->q[i], NULL);
  if (rc != SQLITE_OK) goto fail;
  *out = sp;
  return 0;
fail:
  spool_fail(sp, rc, error, "open");
  spool_close(&sp);
  return -1;
}

void spool_close(MaSpool **sp)
{
  if (!sp || !*sp) return;
  MaSpool *s = *sp;
  if (s->syncers) g_thread_pool_free(s->syncers, FALSE, TRUE);
  g_mutex_clear(&s->sync_lock);
  g_cond_clear(&s->sync_done);
  for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(s->q[i]);
  if (s->db) sqlite3_close_v2(s->db);
  g_free(s->data_dir);
  g_free(s);
  *sp = NULL;
}

sqlite3 *spool_sqlite(MaSpool *sp)
{
  g_assert(sp != NULL);
  return sp->db;
}

const char *spool_data_dir(MaSpool *sp)
{
  g_assert(sp != NULL);
  return sp->data_dir;
}

int spool_body_start(MaSpool *sp, MaSpoolBody **out, GError **error)
{
  g_autofree char *id = ma_id_new();
  g_autofree char *file_id = g_strconcat("part-", id, NULL);
  return spool_body_create(sp->data_dir, file_id, out, error);
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
  if (t)
    sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

/* Sets the connection's synchronous level. Never a cached statement: SQLite applies a PRAGMA
 * assignment when it is prepared, so re-stepping a prepared one would change nothing. */
static int spool_sync_level(MaSpool *sp, gboolean full, GError **error)
{
  int rc = sqlite3_exec(sp->db, full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
  if (rc != SQLITE_OK) return spool_fail(sp, rc, error, "synchronous");
  return 0;
}

static int spool_insert(MaSpool *sp, const MaSpoolEntry *e, GError **error)
{
  g_assert(e->id && e->route && e->body);
  GString *rcpts = g_string_new(NULL);
  for (guint i = 0; e->rcpts && i < e->rcpts->len; i++) {
    if (i) g_string_append(rcpts, SPOOL_RCPT_SEP);
    g_string_append(rcpts, g_ptr_array_index(e->rcpts, i));
  }
  sqlite3_stmt *s = sp->q[Q_INSERT];
  bind_text(s, 1, e->id);
  bind_text(s, 2, e->enterprise_id);
  bind_text(s, 3, e->route);
  bind_text(s, 4, e->client);
  bind_text(s, 5, e->helo);
  bind_text(s, 6, e->mail_from ? e->mail_from : "");
  bind_text(s, 7, rcpts->str);
  bind_text(s, 8, e->employee_id);
  bind_text(s, 9, e->signal);
  bind_text(s, 10, e->mailbox);
  sqlite3_bind_int64(s, 11, e->received_at);
  sqlite3_bind_int(s, 12, e->attempts);
  if (spool_body_in_memory(e->body)) { /* its octets are the row's: this commit makes them durable */
    gsize len = 0;
    const guint8 *octets = spool_body_memory(e->body, &len);
    sqlite3_bind_blob64(s, 13, octets, len, SQLITE_STATIC);
    sqlite3_bind_null(s, 14);
  } else {
    sqlite3_bind_blob64(s, 13, "", 0, SQLITE_STATIC);
    bind_text(s, 14, spool_body_name(e->body));
  }
  int rc = spool_run(sp, Q_INSERT, error);
  g_string_free(rcpts, TRUE);
  return rc;
}

/* A syncer thread: one body (its error stays in the body, read by spool_sync_bodies). */
static void spool_sync_one(gpointer body, gpointer spool)
{
  MaSpool *sp = spool;
  spool_body_sync(body, NULL);
  g_mutex_lock(&sp->sync_lock);
  if (--sp->syncs_left == 0) g_cond_signal(&sp->sync_done);
  g_mutex_unlock(&sp->sync_lock);
}

/* A body file for an entry handed over as octets. Spool ids may repeat (the collector derives them
 * from the content, so a crash and a new sync hand over the same message again): when the file
 * exists and a row names it, the entry is there already (MA_ERROR_CONFLICT, as the row's insert
 * would say); a file no row names is stale (an entry finished before its file was removed, or a
 * crash before its row committed) and is replaced. */
static int spool_body_create_for(MaSpool *sp, MaSpoolEntry *e, GError **error)
{
  GError *local = NULL;
  if (spool_body_create(sp->data_dir, e->id, &e->body, &local) == 0) return 0;
  g_autofree char *name = g_strconcat(e->id, SPOOL_BODY_SUFFIX, NULL);
  g_autofree char *path = g_build_filename(sp->data_dir, SPOOL_BODY_DIR, name, NULL);
  if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
    g_propagate_error(error, local);
    return -1;
  }
  g_clear_error(&local);
  MaSpoolEntry *there = NULL;
  int named = spool_get(sp, e->id, FALSE, &there, error);
  ma_spool_entry_free(there);
  if (named < 0) return -1;
  if (named > 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "spool: entry %s is there already", e->id);
    return -1;
  }
  if (spool_body_unlink(sp->data_dir, name, error) < 0) return -1;
  return spool_body_create(sp->data_dir, e->id, &e->body, error);
}

/* Gives every entry a body file (writing e->data into one when the caller handed octets) and
 * makes the files durable: each fdatasync'd (in parallel when there are several; a body synced
 * already only reports its status), then the directory once for all of them. */
static int spool_sync_bodies(MaSpool *sp, MaSpoolEntry *const *entries, guint n, GError **error)
{
  if (n > 1 && !sp->syncers) sp->syncers = g_thread_pool_new(spool_sync_one, sp, SPOOL_SYNC_THREADS, FALSE, NULL);
  for (guint i = 0; i < n; i++) {
    MaSpoolEntry *e = entries[i];
    if (!e->id || !e->route || (!e->body && !e->data)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "spool: entry without id, route or data");
      return -1;
    }
    if (!e->body) {
      gsize len = 0;
      const void *data = g_bytes_get_data(e->data, &len);
      if (spool_body_create_for(sp, e, error) < 0) return -1;
      spool_body_write(e->body, data, len);
    }
  }
  guint files = 0; /* bodies with a file that is not synced yet (a body in memory has none) */
  for (guint i = 0; i < n; i++)
    if (!spool_body_in_memory(entries[i]->body)) files++;
  if (files <= 1) {
    for (guint i = 0; i < n; i++) spool_body_sync(entries[i]->body, NULL); /* in memory: nothing to do */
  } else {
    g_mutex_lock(&sp->sync_lock);
    sp->syncs_left = files;
    g_mutex_unlock(&sp->sync_lock);
    for (guint i = 0; i < n; i++)
      if (!spool_body_in_memory(entries[i]->body)) g_thread_pool_push(sp->syncers, entries[i]->body, NULL);
    g_mutex_lock(&sp->sync_lock);
    while (sp->syncs_left > 0) g_cond_wait(&sp->sync_done, &sp->sync_lock);
    g_mutex_unlock(&sp->sync_lock);
  }
  gboolean names_synced = TRUE;
  for (guint i = 0; i < n; i++) {
    if (spool_body_status(entries[i]->body, error) < 0) return -1;
    names_synced &= spool_body_in_memory(entries[i]->body) || spool_body_name_is_synced(entries[i]->body);
  }
  /* every file of the batch exists by now: one directory fsync makes all their names durable
   * (unless one that began after they were all named has completed already) */
  return names_synced ? 0 : spool_body_sync_dir(sp->data_dir, error);
}

int spool_put(MaSpool *sp, MaSpoolEntry *const *entries, guint n, GError **error)
{
  g_assert(sp != NULL);
  if (n == 0) return 0;
  if (sp->not_full) {
    if (spool_sync_level(sp, TRUE, error) < 0) return -1;
    sp->not_full = FALSE;
  }
  if (spool_sync_bodies(sp, entries, n, error) < 0) return -1;
  if (spool_run(sp, Q_BEGIN, error) < 0) return -1;
  for (guint i = 0; i < n; i++) {
    if (spool_insert(sp, entries[i], error) < 0) goto fail;
  }
  if (sp->fail_syncs > 0) {
    sp->fail_syncs--;
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "spool: sync failed (injected fault)");
    goto fail;
  }
  if (spool_run(sp, Q_COMMIT, error) < 0) goto fail;
  for (guint i = 0; i < n; i++) spool_body_keep(entries[i]->body);
  return 0;
fail:
  if (!sqlite3_get_autocommit(sp->db)) spool_run(sp, Q_ROLLBACK, NULL);
  return -1;
}

MaSpoolEntry *spool_entry_read(sqlite3_stmt *s, sqlite3_int64 *seq)
{
  MaSpoolEntry *e = ma_spool_entry_new();
  const char *t;
#define DUP(i) ((t = (const char *)sqlite3_column_text(s, (i))) ? g_strdup(t) : NULL)
  e->id = DUP(0);
  e->enterprise_id = DUP(1);
  e->route = DUP(2);
  e->client = DUP(3);
  e->helo = DUP(4);
  e->mail_from = DUP(5);
  t = (const char *)sqlite3_column_text(s, 6);
  if (t && *t) {
    char **parts = g_strsplit(t, SPOOL_RCPT_SEP, -1);
    for (char **p = parts; *p; p++) g_ptr_array_add(e->rcpts, *p);
    g_free(parts);
  }
  e->employee_id = DUP(7);
  e->signal = DUP(8);
  e->mailbox = DUP(9);
  e->received_at = sqlite3_column_int64(s, 10);
  e->attempts = sqlite3_column_int(s, 11);
  *seq = sqlite3_column_int64(s, 12);
  e->size = sqlite3_column_int64(s, 13); /* the BLOB's: 0 for an entry with a body file */
  e->next_attempt_at = sqlite3_column_int64(s, 14);
  e->last_error = DUP(15);
  e->dead_at = sqlite3_column_int64(s, 16); /* NULL reads as 0: live */
  e->body_file = DUP(17);
#undef DUP
  return e;
}

int spool_pending(MaSpool *sp, int limit, GPtrArray *out, GError **error)
{
  g_assert(sp != NULL);
  sqlite3_stmt *s = sp->q[Q_PENDING];
  sqlite3_bind_int64(s, 1, ma_now_ms());
  sqlite3_bind_int(s, 2, limit > 0 ? limit : -1);
  sqlite3_bind_int(s, 3, SQL_STREAM_MIN);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    sqlite3_int64 seq = 0;
    MaSpoolEntry *e = spool_entry_read(s, &seq);
    gsize len = (gsize) e->size;
    if (!e->body_file && len < SQL_STREAM_MIN) e->data = g_bytes_new(sqlite3_column_blob(s, SPOOL_ENTRY_NCOLUMNS), len);
    /* Large BLOB data is read by rowid while the statement (and its snapshot) is still open. */
    if (!e->data && !e->body_file) rc = sql_blob_stream_read(sp->db, "spool", "data", seq, len, &e->data);
    if (!e->data && !e->body_file) {
      ma_spool_entry_free(e);
      break;
    }
    g_ptr_array_add(out, e);
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_DONE) return spool_fail(sp, rc, error, "pending");
  return 0;
}

/* Runs statement q for each id (?1) in one transaction committed without an fsync (see the top);
 * Q_ATTEMPT and Q_DEAD also take when (?2) and reason (?3). For Q_DONE, the body files of the
 * removed rows are unlinked after the commit: a crash in between leaves orphans for the sweep,
 * never a row without its file. */
static int spool_by_ids(MaSpool *sp, int q, const char *const *ids, guint n, gint64 when, const char *reason,
                        GError **error)
{
  g_assert(sp != NULL);
  if (n == 0) return 0;
  if (spool_sync_level(sp, FALSE, error) < 0) return -1;
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
  int rc = spool_run(sp, Q_BEGIN, error);
  for (guint i = 0; rc == 0 && i < n; i++) {
    g_assert(ids[i] != NULL);
    bind_text(sp->q[q], 1, ids[i]);
    if (q != Q_DONE) {
      sqlite3_bind_int64(sp->q[q], 2, when);
      bind_text(sp->q[q], 3, reason);
    }
    rc = spool_run_rows(sp, q, files, error);
  }
  if (rc == 0) rc = spool_run(sp, Q_COMMIT, error);
  if (rc < 0 && !sqlite3_get_autocommit(sp->db)) spool_run(sp, Q_ROLLBACK, NULL);
  /* Back to FULL before anything else commits; if even that fails, spool_put refuses to run. */
  if (spool_sync_level(sp, TRUE, rc < 0 ? NULL : error) < 0) {
    sp->not_full = TRUE;
    rc = -1;
  }
  if (rc == 0) {
    for (guint i = 0; i < files->len; i++) {
      g_autoptr(GError) unlink_error = NULL;
      if (spool_body_release(sp->data_dir, files->pdata[i], &unlink_error) < 0)
        ma_warn("spool", "%s (the sweep at the next start removes it)", unlink_error->message);
    }
  }
  return rc;
}

int spool_done(MaSpool *sp, const char *id, GError **error)
{
  return spool_by_ids(sp, Q_DONE, &id, 1, 0, NULL, error);
}

int spool_done_many(MaSpool *sp, const char *const *ids, guint n, GError **error)
{
  return spool_by_ids(sp, Q_DONE, ids, n, 0, NULL, error);
}

int spool_attempts_failed(MaSpool *sp, const char *const *ids, guint n, gint64 next_attempt_at, const char *reason,
                          GError **error)
{
  return spool_by_ids(sp, Q_ATTEMPT, ids, n, next_attempt_at, reason, error);
}

int spool_mark_dead(MaSpool *sp, const char *id, const char *reason, GError **error)
{
  g_assert(reason != NULL);
  return spool_by_ids(sp, Q_DEAD, &id, 1, ma_now(), reason, error);
}

int spool_entry_load(MaSpool *sp, MaSpoolEntry *e, GError **error)
{
  g_assert(sp != NULL && e != NULL);
  if (e->data) return 0;
  if (!e->body_file) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "spool: entry %s has neither data nor a body file", e->id);
    return -1;
  }
  return spool_body_load(sp->data_dir, e->body_file, SPOOL_BODY_LOAD_MAX, &e->data, error);
}

int spool_entry_open(MaSpool *sp, MaSpoolEntry *e, GError **error)
{
  g_assert(sp != NULL && e != NULL);
  if (e->raw) return 0;
  if (e->data) {
    e->raw = ma_raw_new_bytes(e->data);
    return 0;
  }
  if (!e->body_file) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "spool: entry %s has neither data nor a body file", e->id);
    return -1;
  }
  return spool_body_open(sp->data_dir, e->body_file, SPOOL_BODY_LOAD_MAX, &e->raw, error);
}

void spool_entry_close(MaSpoolEntry *e) { g_clear_pointer(&e->raw, ma_raw_free); }

int spool_sweep_orphans(MaSpool *sp, guint *removed, GError **error)
{
  g_assert(sp != NULL);
  *removed = 0;
  g_autoptr(GPtrArray) named = g_ptr_array_new_with_free_func(g_free);
  if (spool_run_rows(sp, Q_BODY_FILES, named, error) < 0) return -1;
  g_autoptr(GHashTable) keep = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < named->len; i++) g_hash_table_add(keep, named->pdata[i]);
  g_autofree char *dir = g_build_filename(sp->data_dir, SPOOL_BODY_DIR, NULL);
  DIR *d = opendir(dir);
  if (!d) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "spool: cannot list %s: %s", dir, g_strerror(errno));
    return -1;
  }
  struct dirent *de;
  int rc = 0;
  while (rc == 0 && (de = readdir(d)) != NULL) {
    if (!spool_body_name_recycled(de->d_name) &&
        (!spool_body_name_valid(de->d_name) || g_hash_table_contains(keep, de->d_name)))
      continue;
    rc = spool_body_unlink(sp->data_dir, de->d_name, error);
    if (rc == 0) (*removed)++;
  }
  closedir(d);
  return rc;
}

int spool_counts(MaSpool *sp, gint64 *live, gint64 *dead, GError **error)
{
  g_assert(sp != NULL);
  sqlite3_stmt *s = sp->q[Q_DEPTH];
  int rc = sqlite3_step(s);
  gint64 l = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0, d = rc == SQLITE_ROW ? sqlite3_column_int64(s, 1) : 0;
  sqlite3_reset(s);
  if (live) *live = l;
  if (dead) *dead = d;
  if (rc != SQLITE_ROW) return spool_fail(sp, rc, error, "depth");
  return 0;
}

int spool_depth(MaSpool *sp, gint64 *count, GError **error) { return spool_counts(sp, count, NULL, error); }

void spool_fault_inject_sync_failures(MaSpool *sp, int n)
{
  g_assert(sp != NULL);
  sp->fail_syncs = n > 0 ? n : 0;
}
