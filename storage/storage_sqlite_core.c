/* storage_sqlite_core.c - the SQLite backend's connection: open (WAL, synchronous=FULL, foreign
 * keys, 8 KB pages for new databases, a short-sleep busy handler, no mmap (see below),
 * migrations), the prepared-statement cache, transactions (a savepoint per write, or none in a
 * batch, whose search documents, archive versions and row counts are written once at its commit)
 * with commit and disk-full fault injection, the data version for caches, and the mapping of
 * SQLite result codes to MA_ERROR codes.
 *
 * Limits: one connection per handle, used by one thread at a time. A busy or failing database is
 * MA_ERROR_TEMPFAIL (the caller retries or answers 4xx), never a silently lost write. Never logs
 * SQL parameters (they can hold message bodies).
 */
#include "sqlite_internal.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

/* ---- errors --------------------------------------------------------------------------------- */

int sql_error_code(int rc)
{
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
  case SQLITE_FULL:
  case SQLITE_IOERR:
  case SQLITE_CANTOPEN:
  case SQLITE_NOMEM:
  case SQLITE_READONLY:
  case SQLITE_PROTOCOL:
  case SQLITE_INTERRUPT:
    return MA_ERROR_TEMPFAIL;
  case SQLITE_CONSTRAINT:
    /* a trigger's RAISE is a refusal of the row, not a key another writer took first: callers
     * retry a conflict (the pipeline, as another node's message), never a refusal */
    return rc == SQLITE_CONSTRAINT_TRIGGER ? MA_ERROR_INTERNAL : MA_ERROR_CONFLICT;
  default:
    return MA_ERROR_INTERNAL;
  }
}

int sql_fail(SqlDb *d, int rc, GError **error, const char *what)
{
  const char *msg = (d && d->db) ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc);
  g_set_error(error, MA_ERROR, sql_error_code(rc), "storage: %s: %s", what ? what : "query", msg);
  return -1;
}

/* ---- statements ----------------------------------------------------------------------------- */

/* Hash of an SQL text for the statement cache: its length, its first 16 and its last 32 bytes.
 * g_str_hash read all of each ~200-byte text on every sql_prep (about 2% of ingest); texts that
 * collide only share a bucket, g_str_equal still compares them whole. The bytes are mixed eight
 * at a time (one multiply per word, not a multiply-add per byte: ~400 instructions a call before). */
static guint sql_text_hash(gconstpointer key)
{
  const char *s = key;
  gsize n = strlen(s);
  const guint64 k = 0x9E3779B97F4A7C15u;
  guint64 h = (guint64)n * k;
  if (n >= 48) {
    static const gsize at[6] = {0, 8, 32, 24, 16, 8}; /* the first two words, then from the end */
    for (int i = 0; i < 6; i++) {
      guint64 w;
      memcpy(&w, i < 2 ? s + at[i] : s + n - at[i], sizeof w);
      h = (h ^ w) * k;
    }
  } else {
    for (gsize i = 0; i < n; i++) h = (h ^ (guchar)s[i]) * k;
  }
  return (guint)(h ^ (h >> 29));
}

sqlite3_stmt *sql_prep(SqlDb *d, const char *sql, GError **error)
{
  sqlite3_stmt *s = g_hash_table_lookup(d->stmts, sql);
  if (s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
  }
  int rc = sqlite3_prepare_v3(d->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
  if (rc != SQLITE_OK) {
    sql_fail(d, rc, error, "prepare");
    return NULL;
  }
  g_hash_table_insert(d->stmts, g_strdup(sql), s);
  return s;
}

void sqlite_debug_statements(void *impl, GPtrArray *out)
{
  SqlDb *d = impl;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, d->stmts);
  while (g_hash_table_iter_next(&it, &key, NULL)) g_ptr_array_add(out, g_strdup(key));
}

int sqlite_debug_query(void *impl, const char *sql, GPtrArray *rows, GError **error)
{
  SqlDb *d = impl;
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(d->db, sql, -1, &s, NULL); /* not in d->stmts: not a statement the code runs */
  if (rc != SQLITE_OK) return sql_fail(d, rc, error, "debug query");
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    GString *row = g_string_new(NULL);
    for (int i = 0; i < sqlite3_column_count(s); i++) {
      const unsigned char *text = sqlite3_column_text(s, i);
      g_string_append_printf(row, "%s%s", i ? "|" : "", text ? (const char *)text : "");
    }
    g_ptr_array_add(rows, g_string_free(row, FALSE));
  }
  if (rc != SQLITE_DONE) sql_fail(d, rc, error, "debug query");
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? 0 : -1;
}

void sql_reset(sqlite3_stmt *s)
{
  if (!s) return;
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
}

int sql_exec(SqlDb *d, const char *sql, GError **error)
{
  char *msg = NULL;
  int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    g_set_error(error, MA_ERROR, sql_error_code(rc), "storage: %s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

int sql_step_done(SqlDb *d, sqlite3_stmt *s, GError **error, const char *what)
{
  int rc = sqlite3_step(s);
  int ret = 0;
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) ret = sql_fail(d, rc, error, what);
  /* reset, its bindings left for sql_prep to clear before the statement's next use (nothing steps
   * it before that): clearing them here too was a second pass over them per write statement */
  sqlite3_reset(s);
  return ret;
}

int sql_step_enterprise_row(SqlDb *d, sqlite3_stmt *s, const char *enterprise_id, GError **error, const char *what)
{
  int rc = sqlite3_step(s);
  sql_reset(s);
  if (rc == SQLITE_DONE) return 0;
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", enterprise_id);
    return -1;
  }
  return sql_fail(d, rc, error, what);
}

static int counter_write(SqlDb *d, const char *name, gint64 delta, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, "UPDATE counters SET n = n + ? WHERE name = ?", error);
  if (!s) return -1;
  sqlite3_bind_int64(s, 1, delta);
  sql_bind_text(s, 2, name);
  return sql_step_done(d, s, error, "count rows");
}

int sql_counter_add(SqlDb *d, const char *name, int delta, GError **error)
{
  if (!d->batch) return counter_write(d, name, delta, error);
  for (guint i = 0; i < G_N_ELEMENTS(d->counts_pending); i++) {
    if (!d->counts_pending[i].name) d->counts_pending[i].name = name;
    if (strcmp(d->counts_pending[i].name, name) == 0) {
      d->counts_pending[i].delta += delta;
      return 0;
    }
  }
  return counter_write(d, name, delta, error); /* more names than slots: written now */
}

int sql_counts_flush(SqlDb *d, GError **error)
{
  int ret = 0;
  for (guint i = 0; ret == 0 && i < G_N_ELEMENTS(d->counts_pending) && d->counts_pending[i].name; i++)
    if (d->counts_pending[i].delta != 0)
      ret = counter_write(d, d->counts_pending[i].name, d->counts_pending[i].delta, error);
  sql_counts_forget(d);
  return ret;
}

void sql_counts_forget(SqlDb *d)
{
  memset(d->counts_pending, 0, sizeof d->counts_pending);
}

void sql_bind_text(sqlite3_stmt *s, int i, const char *text)
{
  if (text)
    sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

char *sql_col_dup(sqlite3_stmt *s, int i)
{
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? g_strdup((const char *)t) : NULL;
}

/* ---- transactions --------------------------------------------------------------------------- */

/* Runs one cached control statement (BEGIN, COMMIT...). */
static int sql_control(SqlDb *d, const char *sql, GError **error)
{
  sqlite3_stmt *s = sql_prep(d, sql, error);
  if (!s) return -1;
  return sql_step_done(d, s, error, sql);
}

static void sql_rollback_quiet(SqlDb *d)
{
  if (!sqlite3_get_autocommit(d->db)) sql_control(d, "ROLLBACK", NULL);
}

int sql_commit_now(SqlDb *d, GError **error)
{
  if (d->fail_commits > 0) {
    d->fail_commits--;
    sql_rollback_quiet(d);
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: commit failed (injected fault)");
    return -1;
  }
  if (sqlite3_get_autocommit(d->db)) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: the transaction was rolled back by the database");
    return -1;
  }
  if (sql_control(d, "COMMIT", error) < 0) {
    sql_rollback_quiet(d);
    return -1;
  }
  d->local_commits++;
  return 0;
}

static int sql_spoiled(GError **error)
{
  g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: an earlier write of this batch failed; roll back");
  return -1;
}

int sql_write_begin(SqlDb *d, GError **error)
{
  if (d->in_txn) {
    if (sqlite3_get_autocommit(d->db)) {
      g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: the transaction was rolled back by the database");
      return -1;
    }
    if (d->batch) return d->spoiled ? sql_spoiled(error) : 0;
    return sql_control(d, "SAVEPOINT w", error);
  }
  return sql_control(d, "BEGIN IMMEDIATE", error);
}

int sql_write_end(SqlDb *d, int rc, GError **error)
{
  if (d->in_txn) {
    if (sqlite3_get_autocommit(d->db)) {
      if (rc >= 0)
        g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: the transaction was rolled back by the database");
      return -1;
    }
    if (d->batch) {
      if (rc < 0) d->spoiled = TRUE;
      return rc;
    }
    if (rc < 0) {
      sql_control(d, "ROLLBACK TO w", NULL);
      sql_control(d, "RELEASE w", NULL);
      return -1;
    }
    if (sql_control(d, "RELEASE w", error) < 0) return -1;
    return rc;
  }
  if (rc < 0) {
    sql_rollback_quiet(d);
    return -1;
  }
  if (sql_commit_now(d, error) < 0) return -1;
  return rc;
}

int sqlite_begin(void *impl, GError **error)
{
  SqlDb *d = impl;
  if (d->in_txn) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "storage: nested transaction");
    return -1;
  }
  if (sql_control(d, "BEGIN IMMEDIATE", error) < 0) return -1;
  d->in_txn = TRUE;
  d->batch = FALSE;
  d->spoiled = FALSE;
  g_clear_pointer(&d->search_tenant_id, g_free); /* read under an earlier transaction's lock */
  return 0;
}

int sqlite_begin_batch(void *impl, GError **error)
{
  SqlDb *d = impl;
  if (sqlite_begin(d, error) < 0) return -1;
  d->batch = TRUE;
  return 0;
}

int sqlite_commit(void *impl, GError **error)
{
  SqlDb *d = impl;
  if (!d->in_txn) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "storage: commit without begin");
    return -1;
  }
  if (!d->spoiled && (sql_search_flush(d, error) < 0 || sql_archive_versions_flush(d, error) < 0 ||
                      sql_counts_flush(d, error) < 0)) {
    sqlite_rollback(d);
    return -1;
  }
  d->in_txn = FALSE;
  d->batch = FALSE;
  if (d->spoiled) {
    d->spoiled = FALSE;
    g_array_set_size(d->search_pending, 0);
    sql_archive_versions_forget(d);
    sql_counts_forget(d);
    sql_rollback_quiet(d);
    return sql_spoiled(error);
  }
  return sql_commit_now(d, error);
}

void sqlite_rollback(void *impl)
{
  SqlDb *d = impl;
  d->in_txn = FALSE;
  d->batch = FALSE;
  d->spoiled = FALSE;
  g_array_set_size(d->search_pending, 0);
  sql_archive_versions_forget(d);
  sql_counts_forget(d);
  sql_rollback_quiet(d);
}

void sqlite_fault_inject_commit_failures(void *impl, int n)
{
  SqlDb *d = impl;
  d->fail_commits = n > 0 ? n : 0;
}

void sqlite_fault_inject_disk_full(void *impl, gboolean full)
{
  SqlDb *d = impl;
  /* max_page_count cannot go below the current size, so "full" pins it at the current size. */
  sql_exec(d, full ? "PRAGMA max_page_count=1" : "PRAGMA max_page_count=4294967294", NULL);
}

/* The WAL-index header (sqlite.org/walformat.html, "the WAL-index header"): 48 bytes at the start
 * of the shared-memory region every connection to the database maps, written twice by each commit
 * (the second copy, a memory barrier, then the first) before the commit is visible to any reader.
 * A reader takes the first copy, a barrier, the second: equal copies are a consistent header. Its
 * change counter, last frame and salts move with every commit by any connection of any process
 * (and with a WAL restart, which only drops caches for nothing). Read through the VFS's xShmMap
 * of region 0, already mapped: a mutex, no system call, no read transaction (PRAGMA data_version
 * takes one: WAL read locks, fcntl, on every call). FALSE when the VFS has no shared memory (an
 * exclusive locking mode), it is not mapped or initialised yet, or the copies kept differing. */
#define SQL_WAL_HDR_BYTES 48
#define SQL_WAL_HDR_REGION 32768 /* WALINDEX_PGSZ: the size SQLite maps each region with */
static gboolean wal_index_header(SqlDb *d, guint8 out[SQL_WAL_HDR_BYTES])
{
  sqlite3_file *f = NULL;
  void volatile *region = NULL;

  if (sqlite3_file_control(d->db, "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || !f || !f->pMethods ||
      f->pMethods->iVersion < 2 || !f->pMethods->xShmMap)
    return FALSE;
  if (f->pMethods->xShmMap(f, 0, SQL_WAL_HDR_REGION, 0, &region) != SQLITE_OK || !region)
    return FALSE;
  const volatile guint8 *hdr = region;
  for (int attempt = 0; attempt < 8; attempt++) {
    guint8 second[SQL_WAL_HDR_BYTES];
    for (int i = 0; i < SQL_WAL_HDR_BYTES; i++) out[i] = hdr[i];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (int i = 0; i < SQL_WAL_HDR_BYTES; i++) second[i] = hdr[SQL_WAL_HDR_BYTES + i];
    /* isInit (byte 12) is 0 until a connection has built the index: nothing to compare yet */
    if (memcmp(out, second, SQL_WAL_HDR_BYTES) == 0) return out[12] != 0;
  }
  return FALSE; /* a writer kept rewriting it: the caller asks SQLite instead */
}

/* Staleness: none, for any writer. Every commit, by this process or another, rewrites the
 * WAL-index header before it becomes visible, so a call made after a commit returned sees it
 * moved. When the header cannot be read (see wal_index_header), PRAGMA data_version answers, as
 * exact and dearer. */
gint64 sqlite_data_version(void *impl)
{
  SqlDb *d = impl;
  guint8 hdr[SQL_WAL_HDR_BYTES];

  if (wal_index_header(d, hdr)) {
    if (memcmp(hdr, d->seen_wal_hdr, sizeof hdr) != 0) {
      memcpy(d->seen_wal_hdr, hdr, sizeof hdr);
      d->other_changes++; /* our own commits move it too: counted twice, a change either way */
    }
    return d->other_changes + d->local_commits;
  }
  memset(d->seen_wal_hdr, 0, sizeof d->seen_wal_hdr); /* the next header read counts as a change */
  /* PRAGMA data_version changes when another connection commits, never for our own commits. It
   * also opens the connection's shared memory, so the next call can read the header. */
  sqlite3_stmt *s = sql_prep(d, "PRAGMA data_version", NULL);
  gint64 v = -1;
  if (s && sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sql_reset(s);
  if (v < 0 || v != d->seen_version) {
    d->seen_version = v; /* an unreadable version counts as a change: caches are dropped */
    d->other_changes++;
  }
  return d->other_changes + d->local_commits;
}

int sql_blob_stream_write(sqlite3 *db, const char *table, const char *column, sqlite3_int64 rowid, const void *data,
                          gsize len)
{
  sqlite3_blob *blob = NULL;
  int rc = sqlite3_blob_open(db, "main", table, column, rowid, 1, &blob);
  for (gsize off = 0; rc == SQLITE_OK && off < len; off += SQL_STREAM_CHUNK) {
    gsize n = MIN(SQL_STREAM_CHUNK, len - off);
    rc = sqlite3_blob_write(blob, (const char *)data + off, (int)n, (int)off);
  }
  int crc = sqlite3_blob_close(blob);
  return rc == SQLITE_OK ? crc : rc;
}

int sql_blob_stream_read(sqlite3 *db, const char *table, const char *column, sqlite3_int64 rowid, gsize len,
                         GBytes **out)
{
  *out = NULL;
  sqlite3_blob *blob = NULL;
  int rc = sqlite3_blob_open(db, "main", table, column, rowid, 0, &blob);
  if (rc == SQLITE_OK && (gsize)sqlite3_blob_bytes(blob) != len) rc = SQLITE_CORRUPT;
  guint8 *buf = rc == SQLITE_OK ? g_try_malloc(len ? len : 1) : NULL;
  if (rc == SQLITE_OK && !buf) rc = SQLITE_NOMEM;
  for (gsize off = 0; rc == SQLITE_OK && off < len; off += SQL_STREAM_CHUNK) {
    gsize n = MIN(SQL_STREAM_CHUNK, len - off);
    rc = sqlite3_blob_read(blob, buf + off, (int)n, (int)off);
  }
  int crc = sqlite3_blob_close(blob);
  if (rc == SQLITE_OK) rc = crc;
  if (rc != SQLITE_OK) {
    g_free(buf);
    return rc;
  }
  *out = g_bytes_new_take(buf, len);
  return SQLITE_OK;
}

static gint busy_timeout_ms = SQL_BUSY_TIMEOUT_MS;

void storage_set_busy_timeout(int ms) { g_atomic_int_set(&busy_timeout_ms, ms > 0 ? ms : SQL_BUSY_TIMEOUT_MS); }

int sql_busy_handler(void *unused, int count)
{
  /* count-th retry: sleep 100 us * (count + 1), at most 2 ms. The bound is the time really waited
   * since this lock's first retry (count 0; a thread waits for one lock at a time), on the
   * monotonic clock: reckoned from the sleeps asked for, a 10 s busy_timeout waited 11-14 s on
   * loaded cores (a 2 ms sleep lasts longer), and long enough in CI for cli_records' lock to end. */
  static __thread gint64 waiting_since_us;
  gint64 now_us = g_get_monotonic_time();
  if (count == 0) waiting_since_us = now_us;
  if ((now_us - waiting_since_us) / 1000 >= g_atomic_int_get(&busy_timeout_ms)) return 0;
  g_usleep((gulong) MIN(100 * (gint64)(count + 1), 2000));
  return 1;
}

/* ---- open / close --------------------------------------------------------------------------- */

static int sql_configure(SqlDb *d, GError **error)
{
  sqlite3_busy_handler(d->db, sql_busy_handler, NULL);
  sqlite3_extended_result_codes(d->db, 1);
  /* Page size: only a new, empty database takes it (before WAL mode writes the header); an
   * existing one keeps its own (VACUUM outside WAL mode changes it). 8 KB pages hold a typical
   * message row and its raw blob without overflow pages and halve the WAL frames written per
   * commit compared with SQLite's default 4 KB (ingest benchmark: about 10% less CPU). */
  if (sql_exec(d, "PRAGMA page_size=8192", error) < 0) return -1;
  /* journal_mode returns a row; sqlite3_exec ignores it. WAL persists in the file. */
  if (sql_exec(d, "PRAGMA journal_mode=WAL", error) < 0) return -1;
  /* No memory-mapped I/O (mmap_size=0): a disk error on a mapped page is SIGBUS, not an error code
   * this daemon can answer a peer with; and resident memory stays flat as the archive grows (the
   * 16 MB page cache per connection is the bound) instead of counting every page ever read. The
   * ingest benchmark pays about 7% CPU for it; timeline reads showed no difference. */
  /* wal_autocheckpoint=4000 pages (32 MB of 8 KB pages): the WAL on disk peaks at that plus the
   * frames of the transaction that crosses it (the ingest benchmark, batch 500: 50 MB; it is not
   * truncated, so that is its size until close or storage_checkpoint). Measured against it (10,000
   * x 4 KB messages, task-clock pinned to one core, means of six alternating rounds, each +-10%):
   * 10000 pages, ratio 0.99 at a 102 MB WAL (no gain worth the space); 1000 pages, 1.04; a PASSIVE
   * checkpoint after every batch, 1.06 at 23 MB. Callgrind sees none of it (same instructions). */
  /* secure_delete: deleted rows and freed pages are overwritten with zeros, so a message erased
   * (retention, erasure by address, a deleted enterprise) leaves no bytes in the file, its free
   * pages included (storage_search.h). */
  if (sql_exec(d,
               "PRAGMA synchronous=FULL;"
               "PRAGMA foreign_keys=ON;"
               "PRAGMA temp_store=MEMORY;"
               "PRAGMA cache_size=-" G_STRINGIFY(SQL_CACHE_KIB) ";"
               "PRAGMA mmap_size=0;"
               "PRAGMA secure_delete=ON;"
               "PRAGMA wal_autocheckpoint=4000;",
               error) < 0)
    return -1;
  if (sql_body_register(d, error) < 0) return -1;
  return sql_search_register(d, error);
}

static void stmt_finalize(gpointer p) { sqlite3_finalize(p); }

static gpointer sql_global_init_once(gpointer unused)
{
  /* Nothing reads sqlite3_memory_used() or sqlite3_status(); without the statistics every
   * sqlite3_malloc/free skips a global mutex (several hundred per archived message). Only
   * possible before SQLite initialises: when something else opened a database first this fails
   * with SQLITE_MISUSE and the statistics simply stay on. */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  return NULL;
}

void sql_global_init(void)
{
  static GOnce once = G_ONCE_INIT;
  g_once(&once, sql_global_init_once, NULL);
}

int sqlite_open(const char *data_dir, gboolean create, void **impl_out, GError **error)
{
  *impl_out = NULL;
  if (create && g_mkdir_with_parents(data_dir, 0700) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: cannot create %s: %s", data_dir, g_strerror(errno));
    return -1;
  }
  char *path = g_build_filename(data_dir, SQL_DB_FILE, NULL);
  if (!create && !g_file_test(path, G_FILE_TEST_EXISTS)) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "storage: no database at %s (run `mailagent init`)", path);
    g_free(path);
    return -1;
  }
  sql_global_init();
  SqlDb *d = g_new0(SqlDb, 1);
  d->path = path;
  d->stmts = g_hash_table_new_full(sql_text_hash, g_str_equal, g_free, stmt_finalize);
  d->search_pending = g_array_new(FALSE, FALSE, sizeof(gint64));
  d->versions_pending = g_ptr_array_new_with_free_func(g_free);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path, &d->db, flags, NULL);
  if (rc != SQLITE_OK) {
    sql_fail(d, rc, error, "open");
    sqlite_close(d);
    return -1;
  }
  if (sql_configure(d, error) < 0 || sql_migrate(d, error) < 0) {
    sqlite_close(d);
    return -1;
  }
  *impl_out = d;
  return 0;
}

void sqlite_close(void *impl)
{
  SqlDb *d = impl;
  if (!d) return;
  if (d->db && !sqlite3_get_autocommit(d->db)) sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
  g_hash_table_destroy(d->stmts); /* finalizes every cached statement */
  g_array_free(d->search_pending, TRUE);
  g_ptr_array_free(d->versions_pending, TRUE);
  g_free(d->search_tenant_id);
  if (d->db) sqlite3_close_v2(d->db);
  g_free(d->path);
  g_free(d);
}

int sqlite_checkpoint(void *impl, GError **error)
{
  SqlDb *d = impl;
  g_assert(!d->in_txn);
  int log_frames = -1, done_frames = -1;
  int rc = sqlite3_wal_checkpoint_v2(d->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log_frames, &done_frames);
  if (rc != SQLITE_OK) return sql_fail(d, rc, error, "checkpoint");
  return 0;
}

int sqlite_schema_version(void *impl)
{
  SqlDb *d = impl;
  return d->schema_version;
}

char *sqlite_library_version(void)
{
  return g_strdup_printf("SQLite %s", sqlite3_libversion());
}
