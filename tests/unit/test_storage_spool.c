/* test_storage_spool.c - unit tests of the node-local spool: put (one transaction for many),
 * pending order and fields, done, stored backoff (no attempt cap) and dead entries, the operator's
 * list/show/retry/purge, the upgrade of a version 1 spool file, depth, injected sync failures
 * (nothing stored), crash replay (close without done, reopen: still pending), a second handle
 * on the same directory, and that the spool file is in WAL mode. Bodies: one file per entry,
 * synced before the commit, removed by done, unlinked when a put fails, orphans swept; buffered
 * bodies within 64 KiB kept in their rows (no file, the commit their only sync); a spool.db of
 * the version that kept bodies as BLOBs still drains.
 */
#include "storage/spool.h"
#include "agent/lib/clock.h"

#include <dlfcn.h>
#include "testutil.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Counting interposers: SQLite's sync calls resolve to these (the executable comes first). */
static gint sync_calls;

int fdatasync(int fd)
{
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  g_atomic_int_inc(&sync_calls);
  return real(fd);
}

int fsync(int fd)
{
  static int (*real)(int);
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  g_atomic_int_inc(&sync_calls);
  return real(fd);
}

static MaSpoolEntry *entry(const char *id, const char *body)
{
  MaSpoolEntry *e = ma_spool_entry_new();
  e->id = g_strdup(id);
  e->enterprise_id = g_strdup("e1");
  e->route = g_strdup("smtp");
  e->client = g_strdup("192.0.2.7");
  e->helo = g_strdup("mx.acme.com");
  e->mail_from = g_strdup("ann@acme.com");
  g_ptr_array_add(e->rcpts, g_strdup("acme-x1@inbound.localhost"));
  g_ptr_array_add(e->rcpts, g_strdup("acme-x2@inbound.localhost"));
  e->employee_id = g_strdup("emp1");
  e->signal = g_strdup("envelope_sender");
  e->received_at = 1700000000;
  e->data = g_bytes_new(body, strlen(body));
  return e;
}

static void put_one(MaSpool *sp, const char *id, const char *body)
{
  MaSpoolEntry *e = entry(id, body);
  GError *error = NULL;
  g_assert_cmpint(spool_put(sp, &e, 1, &error), ==, 0);
  g_assert_no_error(error);
  ma_spool_entry_free(e);
}

/* Pending entries with their bodies read (as a pipeline worker does). */
static GPtrArray *pending(MaSpool *sp)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_spool_entry_free);
  GError *error = NULL;
  g_assert_cmpint(spool_pending(sp, 0, out, &error), ==, 0);
  g_assert_no_error(error);
  for (guint i = 0; i < out->len; i++) {
    g_assert_cmpint(spool_entry_load(sp, out->pdata[i], &error), ==, 0);
    g_assert_no_error(error);
  }
  return out;
}

static int cmp_names(gconstpointer a, gconstpointer b)
{
  return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Names of the body files in dir/spool, sorted, space-separated. */
static char *body_files(const char *dir)
{
  g_autofree char *bodies = g_build_filename(dir, "spool", NULL);
  GDir *d = g_dir_open(bodies, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
  const char *n;
  while (d && (n = g_dir_read_name(d))) g_ptr_array_add(names, g_strdup(n));
  if (d) g_dir_close(d);
  g_ptr_array_sort(names, cmp_names);
  g_ptr_array_add(names, NULL);
  return g_strjoinv(" ", (char **) names->pdata);
}

/* The spool directory holds no file any more: closes the spool, removes dir and frees it. */
static void close_without_body_files(MaSpool **sp, char *dir)
{
  g_autofree char *files = body_files(dir);
  g_assert_cmpstr(files, ==, "");
  spool_close(sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

static gint64 depth(MaSpool *sp)
{
  gint64 n = -1;
  GError *error = NULL;
  g_assert_cmpint(spool_depth(sp, &n, &error), ==, 0);
  return n;
}

static void test_put_pending_done(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  g_assert_cmpint(depth(sp), ==, 0);

  /* Group: three entries in one call. */
  MaSpoolEntry *batch[3] = {entry("s1", "one"), entry("s2", "two\r\n.\r\n"), entry("s3", "")};
  g_free(batch[2]->mail_from);
  batch[2]->mail_from = g_strdup(""); /* <> */
  g_ptr_array_set_size(batch[2]->rcpts, 1);
  g_clear_pointer(&batch[2]->employee_id, g_free);
  g_assert_cmpint(spool_put(sp, batch, 3, &error), ==, 0);
  for (int i = 0; i < 3; i++) ma_spool_entry_free(batch[i]);
  g_assert_cmpint(spool_put(sp, NULL, 0, &error), ==, 0);
  g_assert_cmpint(depth(sp), ==, 3);

  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 3);
  MaSpoolEntry *e = g_ptr_array_index(p, 0);
  g_assert_cmpstr(e->id, ==, "s1");
  g_assert_cmpstr(e->enterprise_id, ==, "e1");
  g_assert_cmpstr(e->route, ==, "smtp");
  g_assert_cmpstr(e->client, ==, "192.0.2.7");
  g_assert_cmpstr(e->helo, ==, "mx.acme.com");
  g_assert_cmpstr(e->mail_from, ==, "ann@acme.com");
  g_assert_cmpuint(e->rcpts->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(e->rcpts, 1), ==, "acme-x2@inbound.localhost");
  g_assert_cmpstr(e->employee_id, ==, "emp1");
  g_assert_cmpstr(e->signal, ==, "envelope_sender");
  g_assert_null(e->mailbox);
  g_assert_cmpint(e->received_at, ==, 1700000000);
  g_assert_cmpint(e->attempts, ==, 0);
  gsize len = 0;
  const char *data = g_bytes_get_data(e->data, &len);
  g_assert_cmpmem(data, len, "one", 3);
  e = g_ptr_array_index(p, 1);
  data = g_bytes_get_data(e->data, &len);
  g_assert_cmpmem(data, len, "two\r\n.\r\n", 8);
  e = g_ptr_array_index(p, 2);
  g_assert_cmpstr(e->mail_from, ==, "");
  g_assert_cmpuint(e->rcpts->len, ==, 1);
  g_assert_null(e->employee_id);
  g_assert_cmpuint(g_bytes_get_size(e->data), ==, 0);
  g_ptr_array_unref(p);

  /* limit */
  GPtrArray *two = g_ptr_array_new_with_free_func((GDestroyNotify)ma_spool_entry_free);
  g_assert_cmpint(spool_pending(sp, 2, two, &error), ==, 0);
  g_assert_cmpuint(two->len, ==, 2);
  g_ptr_array_unref(two);

  /* A duplicate id in a batch fails the whole batch. */
  MaSpoolEntry *dup[2] = {entry("s4", "four"), entry("s1", "again")};
  g_assert_cmpint(spool_put(sp, dup, 2, &error), ==, -1);
  g_assert_nonnull(error);
  g_clear_error(&error);
  for (int i = 0; i < 2; i++) ma_spool_entry_free(dup[i]);
  g_assert_cmpint(depth(sp), ==, 3);

  g_assert_cmpint(spool_done(sp, "s2", &error), ==, 0);
  g_assert_cmpint(spool_done(sp, "s2", &error), ==, 0); /* idempotent */
  p = pending(sp);
  g_assert_cmpuint(p->len, ==, 2);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 1))->id, ==, "s3");
  g_ptr_array_unref(p);

  spool_close(&sp);
  g_assert_null(sp);
  spool_close(&sp);
  spool_close(NULL);
  testutil_rm_rf(dir);
  g_free(dir);
}

static int failed(MaSpool *sp, const char *id, gint64 next_attempt_at, const char *reason)
{
  GError *error = NULL;
  int rc = spool_attempts_failed(sp, &id, 1, next_attempt_at, reason, &error);
  g_assert_no_error(error);
  return rc;
}

/* A failed attempt defers the entry until its stored deadline on the test clock, however many
 * attempts it took (no cap: 50 failures later it is still offered when due). */
static void test_backoff(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  const gint64 t0 = 1700000000000;
  ma_clock_set_for_test(t0);
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  put_one(sp, "s1", "one");
  put_one(sp, "s2", "two");
  for (int i = 0; i < 50; i++) g_assert_cmpint(failed(sp, "s1", t0 + 60000, "database is locked"), ==, 0);
  GPtrArray *p = pending(sp); /* s1 waits for t0 + 60 s */
  g_assert_cmpuint(p->len, ==, 1);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 0))->id, ==, "s2");
  g_ptr_array_unref(p);
  g_assert_cmpint(depth(sp), ==, 2); /* still counted as waiting */
  ma_clock_set_for_test(t0 + 59999);
  p = pending(sp);
  g_assert_cmpuint(p->len, ==, 1);
  g_ptr_array_unref(p);
  ma_clock_set_for_test(t0 + 60000);
  p = pending(sp);
  g_assert_cmpuint(p->len, ==, 2);
  MaSpoolEntry *e = g_ptr_array_index(p, 0);
  g_assert_cmpstr(e->id, ==, "s1");
  g_assert_cmpint(e->attempts, ==, 50);
  g_assert_cmpint(e->next_attempt_at, ==, t0 + 60000);
  g_assert_cmpstr(e->last_error, ==, "database is locked");
  g_assert_cmpstr(ma_spool_entry_state(e), ==, "retrying");
  g_assert_cmpstr(ma_spool_entry_state(g_ptr_array_index(p, 1)), ==, "queued");
  g_ptr_array_unref(p);
  spool_close(&sp);
  ma_clock_set_for_test(0);
  testutil_rm_rf(dir);
  g_free(dir);
}

static GPtrArray *list(MaSpool *sp, MaSpoolState state, const char *ent, int limit, const char *cursor, char **next)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_spool_entry_free);
  GError *error = NULL;
  char *next_cursor = NULL;
  g_assert_cmpint(spool_list(sp, state, ent, limit, cursor, out, &next_cursor, &error), ==, 0);
  g_assert_no_error(error);
  if (next) *next = next_cursor;
  else g_free(next_cursor);
  return out;
}

/* A dead entry is kept, listed, shown, never offered; retry makes it live and due at once; purge
 * deletes only dead entries. */
static void test_dead_list_retry_purge(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  ma_clock_set_for_test(1700000000000);
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  put_one(sp, "s1", "one");
  put_one(sp, "s2", "two");
  MaSpoolEntry *other = entry("s3", "three");
  g_free(other->enterprise_id);
  other->enterprise_id = g_strdup("e2");
  g_assert_cmpint(spool_put(sp, &other, 1, &error), ==, 0);
  ma_spool_entry_free(other);
  g_assert_cmpint(spool_mark_dead(sp, "s1", "no enterprise e1", &error), ==, 0);
  g_assert_cmpint(spool_mark_dead(sp, "s3", "no enterprise e2", &error), ==, 0);

  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 1);
  g_ptr_array_unref(p);
  gint64 live = -1, dead = -1;
  g_assert_cmpint(spool_counts(sp, &live, &dead, &error), ==, 0);
  g_assert_cmpint(live, ==, 1);
  g_assert_cmpint(dead, ==, 2);

  p = list(sp, MA_SPOOL_DEAD, NULL, 0, NULL, NULL);
  g_assert_cmpuint(p->len, ==, 2);
  MaSpoolEntry *e = g_ptr_array_index(p, 0);
  g_assert_cmpstr(e->id, ==, "s1");
  g_assert_cmpstr(ma_spool_entry_state(e), ==, "dead");
  g_assert_cmpint(e->dead_at, ==, 1700000000);
  g_assert_cmpint(e->attempts, ==, 1);
  g_assert_cmpint(e->size, ==, 3);
  g_assert_null(e->data);
  g_assert_cmpstr(e->last_error, ==, "no enterprise e1");
  g_ptr_array_unref(p);
  p = list(sp, MA_SPOOL_DEAD, "e2", 0, NULL, NULL);
  g_assert_cmpuint(p->len, ==, 1);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 0))->id, ==, "s3");
  g_ptr_array_unref(p);
  p = list(sp, MA_SPOOL_LIVE, NULL, 0, NULL, NULL);
  g_assert_cmpuint(p->len, ==, 1);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 0))->id, ==, "s2");
  g_ptr_array_unref(p);
  /* pages of one */
  char *next = NULL;
  p = list(sp, MA_SPOOL_ANY, NULL, 2, NULL, &next);
  g_assert_cmpuint(p->len, ==, 2);
  g_assert_nonnull(next);
  g_ptr_array_unref(p);
  char *last = NULL;
  p = list(sp, MA_SPOOL_ANY, NULL, 2, next, &last);
  g_assert_cmpuint(p->len, ==, 1);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 0))->id, ==, "s3");
  g_assert_null(last);
  g_ptr_array_unref(p);
  g_free(next);
  GPtrArray *bad = g_ptr_array_new();
  char *nc = NULL;
  g_assert_cmpint(spool_list(sp, MA_SPOOL_ANY, NULL, 0, "x1", bad, &nc, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_ptr_array_unref(bad);

  /* show, with and without the message */
  MaSpoolEntry *got = NULL;
  g_assert_cmpint(spool_get(sp, "s1", TRUE, &got, &error), ==, 1);
  gsize n = 0;
  g_assert_cmpmem(g_bytes_get_data(got->data, &n), 3, "one", 3);
  ma_spool_entry_free(got);
  g_assert_cmpint(spool_get(sp, "nope", FALSE, &got, &error), ==, 0);
  g_assert_null(got);

  /* purge refuses a live entry, deletes a dead one, then finds nothing */
  g_assert_cmpint(spool_purge(sp, "s2", &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_CONFLICT);
  g_clear_error(&error);
  char *body3 = g_build_filename(dir, "spool", "s3.eml", NULL);
  g_assert_true(g_file_test(body3, G_FILE_TEST_EXISTS));
  g_assert_cmpint(spool_purge(sp, "s3", &error), ==, 1);
  g_assert_false(g_file_test(body3, G_FILE_TEST_EXISTS)); /* the message goes with its entry */
  g_free(body3);
  g_assert_cmpint(spool_purge(sp, "s3", &error), ==, 0);

  /* retry: live, attempts reset, due now */
  g_assert_cmpint(spool_retry(sp, "s1", &error), ==, 1);
  g_assert_cmpint(spool_retry(sp, "nope", &error), ==, 0);
  p = pending(sp);
  g_assert_cmpuint(p->len, ==, 2);
  e = g_ptr_array_index(p, 0);
  g_assert_cmpstr(e->id, ==, "s1");
  g_assert_cmpint(e->attempts, ==, 0);
  g_assert_cmpint(e->dead_at, ==, 0);
  g_ptr_array_unref(p);
  /* retry of every dead entry */
  g_assert_cmpint(spool_mark_dead(sp, "s1", "x", &error), ==, 0);
  g_assert_cmpint(spool_mark_dead(sp, "s2", "y", &error), ==, 0);
  gint64 count = 0;
  g_assert_cmpint(spool_retry_dead(sp, NULL, &count, &error), ==, 0);
  g_assert_cmpint(count, ==, 2);
  g_assert_cmpint(depth(sp), ==, 2);
  spool_close(&sp);
  ma_clock_set_for_test(0);
  testutil_rm_rf(dir);
  g_free(dir);
}

/* A spool file written by the previous version (user_version 1, no retry columns) is upgraded in
 * place at open and keeps its entries. */
static void test_upgrade_v1(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  char *path = g_build_filename(dir, "spool.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db,
                               "PRAGMA journal_mode=WAL;"
                               "CREATE TABLE spool(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
                               " enterprise_id TEXT, route TEXT NOT NULL, client TEXT, helo TEXT, mail_from TEXT NOT NULL,"
                               " rcpts TEXT NOT NULL, employee_id TEXT, signal TEXT, mailbox TEXT,"
                               " received_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL);"
                               "INSERT INTO spool(id, enterprise_id, route, mail_from, rcpts, received_at, attempts, data)"
                               " VALUES('old', 'e1', 'smtp', '', 'a@b', 1, 10, x'41');"
                               "PRAGMA user_version=1;",
                               NULL, NULL, NULL),
                  ==, SQLITE_OK);
  sqlite3_close(db);
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  g_assert_no_error(error);
  GPtrArray *p = pending(sp); /* parked by the old cap of 10 attempts: offered again */
  g_assert_cmpuint(p->len, ==, 1);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 0))->id, ==, "old");
  g_ptr_array_unref(p);
  spool_close(&sp);
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0); /* a second open changes nothing */
  g_assert_cmpint(depth(sp), ==, 1);
  spool_close(&sp);
  g_free(path);
  testutil_rm_rf(dir);
  g_free(dir);
}

static void test_sync_failure(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  spool_fault_inject_sync_failures(sp, 1);
  MaSpoolEntry *batch[2] = {entry("s1", "one"), entry("s2", "two")};
  g_assert_cmpint(spool_put(sp, batch, 2, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_TEMPFAIL);
  g_clear_error(&error);
  g_assert_cmpint(depth(sp), ==, 0);
  /* Next put works; the failed ids can be reused (the sender retries). */
  g_assert_cmpint(spool_put(sp, batch, 2, &error), ==, 0);
  g_assert_cmpint(depth(sp), ==, 2);
  for (int i = 0; i < 2; i++) ma_spool_entry_free(batch[i]);
  spool_close(&sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

static void test_crash_replay(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL, *other = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  /* A second handle (another thread) sees committed entries at once. */
  g_assert_cmpint(spool_open(dir, &other, &error), ==, 0);
  put_one(sp, "s1", "one");
  put_one(sp, "s2", "two");
  put_one(sp, "s3", "three");
  g_assert_cmpint(depth(other), ==, 3);
  g_assert_cmpint(spool_done(other, "s1", &error), ==, 0);
  g_assert_cmpint(failed(sp, "s2", 0, "busy"), ==, 0);
  /* "Crash": the handles go away without done for s2, s3. */
  spool_close(&other);
  spool_close(&sp);

  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 2);
  MaSpoolEntry *e = g_ptr_array_index(p, 0);
  g_assert_cmpstr(e->id, ==, "s2");
  g_assert_cmpint(e->attempts, ==, 1);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 1))->id, ==, "s3");
  g_ptr_array_unref(p);

  /* On disk the spool is in WAL mode. */
  char *path = g_build_filename(dir, "spool.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  sqlite3_stmt *s = NULL;
  sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
  g_assert_cmpstr((const char *)sqlite3_column_text(s, 0), ==, "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);
  g_free(path);
  spool_close(&sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

static void test_done_many_and_large(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  for (int i = 0; i < 5; i++) {
    char id[8];
    g_snprintf(id, sizeof id, "s%d", i);
    put_one(sp, id, "x");
  }
  const char *ids[] = {"s0", "s2", "nope", "s4"};
  g_assert_cmpint(spool_done_many(sp, ids, G_N_ELEMENTS(ids), &error), ==, 0);
  g_assert_no_error(error);
  g_assert_cmpint(spool_done_many(sp, ids, 0, &error), ==, 0);
  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 2);
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 0))->id, ==, "s1");
  g_assert_cmpstr(((MaSpoolEntry *)g_ptr_array_index(p, 1))->id, ==, "s3");
  g_ptr_array_unref(p);

  /* A large entry (written in chunks) next to a small one in the same put, byte for byte. */
  gsize big_len = 3 * 1024 * 1024 + 12345;
  guint8 *big = g_malloc(big_len);
  for (gsize i = 0; i < big_len; i++) big[i] = (guint8)(i * 31 + (i >> 12));
  MaSpoolEntry *batch[2] = {entry("big", ""), entry("small", "tiny")};
  g_bytes_unref(batch[0]->data);
  batch[0]->data = g_bytes_new_take(big, big_len);
  g_assert_cmpint(spool_put(sp, batch, 2, &error), ==, 0);
  /* A failed put of a large entry leaves nothing. */
  MaSpoolEntry *again = entry("big2", "");
  g_bytes_unref(again->data);
  again->data = g_bytes_ref(batch[0]->data);
  spool_fault_inject_sync_failures(sp, 1);
  g_assert_cmpint(spool_put(sp, &again, 1, &error), ==, -1);
  g_clear_error(&error);
  ma_spool_entry_free(again);
  spool_close(&sp);

  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  p = pending(sp);
  g_assert_cmpuint(p->len, ==, 4);
  MaSpoolEntry *got = g_ptr_array_index(p, 2);
  g_assert_cmpstr(got->id, ==, "big");
  g_assert_true(g_bytes_equal(got->data, batch[0]->data));
  got = g_ptr_array_index(p, 3);
  g_assert_cmpstr(got->id, ==, "small");
  g_assert_cmpuint(g_bytes_get_size(got->data), ==, 4);
  g_ptr_array_unref(p);
  for (int i = 0; i < 2; i++) ma_spool_entry_free(batch[i]);
  spool_close(&sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

/* spool_put syncs before it returns, every time (also after spool_done ran without a sync). */
static void test_put_syncs(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  for (int round = 0; round < 3; round++) {
    char id[8];
    g_snprintf(id, sizeof id, "s%d", round);
    gint before = g_atomic_int_get(&sync_calls);
    put_one(sp, id, "data");
    g_assert_cmpint(g_atomic_int_get(&sync_calls), >, before);
    before = g_atomic_int_get(&sync_calls);
    g_assert_cmpint(spool_done(sp, id, &error), ==, 0);
    g_assert_cmpint(g_atomic_int_get(&sync_calls), ==, before); /* done commits without a sync */
    g_assert_cmpint(failed(sp, "none", 0, NULL), ==, 0);
    g_assert_cmpint(g_atomic_int_get(&sync_calls), ==, before);
  }
  spool_close(&sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

/* Informational: the time of one grouped spool_put of 500 entries of 4 KB (one commit). */
static void test_group_commit_speed(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  char *body = g_strnfill(4096, 'x');
  MaSpoolEntry *batch[500];
  for (int i = 0; i < 500; i++) {
    char id[16];
    g_snprintf(id, sizeof id, "g%03d", i);
    batch[i] = entry(id, body);
  }
  gint64 t0 = g_get_monotonic_time();
  g_assert_cmpint(spool_put(sp, batch, 500, &error), ==, 0);
  gint64 grouped = g_get_monotonic_time() - t0;
  for (int i = 0; i < 500; i++) ma_spool_entry_free(batch[i]);
  g_assert_cmpint(depth(sp), ==, 500);
  g_test_message("500 entries of 4 KB in one spool_put: %" G_GINT64_FORMAT " us", grouped);
  g_free(body);
  spool_close(&sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

/* Each entry's octets are a file named after it, written and synced before the commit; done
 * removes it; a failed put (duplicate id, injected sync failure) leaves no file once the entries
 * are freed; a body handed over as a MaSpoolBody is stored as written. */
static void test_body_files(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  put_one(sp, "s1", "one");
  g_autofree char *files = body_files(dir);
  g_assert_cmpstr(files, ==, "s1.eml");
  g_autofree char *path = g_build_filename(dir, "spool", "s1.eml", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_assert_cmpstr(text, ==, "one");
  GStatBuf st;
  g_assert_cmpint(g_stat(path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0600);

  /* the row keeps only the file name, not the octets */
  {
    g_autofree char *db_path = g_build_filename(dir, "spool.db", NULL);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    g_assert_cmpint(sqlite3_open(db_path, &db), ==, SQLITE_OK);
    sqlite3_prepare_v2(db, "SELECT body_file, length(data) FROM spool WHERE id = 's1'", -1, &s, NULL);
    g_assert_cmpint(sqlite3_step(s), ==, SQLITE_ROW);
    g_assert_cmpstr((const char *) sqlite3_column_text(s, 0), ==, "s1.eml");
    g_assert_cmpint(sqlite3_column_int(s, 1), ==, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
  }

  /* a body written piecewise, as the SMTP session does */
  MaSpoolEntry *e = entry("s2", "");
  g_clear_pointer(&e->data, g_bytes_unref);
  g_assert_cmpint(spool_body_create(dir, "s2", &e->body, &error), ==, 0);
  for (int i = 0; i < 10000; i++) spool_body_write(e->body, "0123456789", 10);
  g_assert_cmpint(spool_put(sp, &e, 1, &error), ==, 0);
  ma_spool_entry_free(e); /* committed: the file stays */
  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 2);
  g_assert_cmpuint(g_bytes_get_size(((MaSpoolEntry *) p->pdata[1])->data), ==, 100000);
  g_assert_cmpstr(((MaSpoolEntry *) p->pdata[1])->body_file, ==, "s2.eml");
  g_ptr_array_unref(p);

  /* failed puts: nothing stays once the entries are freed */
  MaSpoolEntry *dup[2] = {entry("s3", "three"), entry("s1", "again")};
  g_assert_cmpint(spool_put(sp, dup, 2, &error), ==, -1);
  g_clear_error(&error);
  for (int i = 0; i < 2; i++) ma_spool_entry_free(dup[i]);
  g_clear_pointer(&text, g_free);
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL) && strcmp(text, "one") == 0); /* not clobbered */
  spool_fault_inject_sync_failures(sp, 1);
  MaSpoolEntry *failed = entry("s4", "four");
  g_assert_cmpint(spool_put(sp, &failed, 1, &error), ==, -1);
  g_clear_error(&error);
  ma_spool_entry_free(failed);
  g_free(files);
  files = body_files(dir);
  g_assert_cmpstr(files, ==, "s1.eml s2.eml");

  /* a batch syncs every body (in parallel), the directory and the database */
  {
    MaSpoolEntry *three[3] = {entry("b1", "one"), entry("b2", "two"), entry("b3", "three")};
    gint before = g_atomic_int_get(&sync_calls);
    g_assert_cmpint(spool_put(sp, three, 3, &error), ==, 0);
    g_assert_cmpint(g_atomic_int_get(&sync_calls) - before, >=, 3 + 1 + 1);
    for (int i = 0; i < 3; i++) ma_spool_entry_free(three[i]);
    const char *bs[] = {"b1", "b2", "b3"};
    g_assert_cmpint(spool_done_many(sp, bs, 3, &error), ==, 0);
  }

  /* done removes the row, then the file */
  g_assert_cmpint(spool_done(sp, "s1", &error), ==, 0);
  g_free(files);
  files = body_files(dir);
  g_assert_cmpstr(files, ==, "s2.eml");
  const char *ids[] = {"s2"};
  g_assert_cmpint(spool_done_many(sp, ids, 1, &error), ==, 0);
  close_without_body_files(&sp, dir);
}

/* A crash between writing a body and committing its row leaves an orphan: the sweep removes it
 * and nothing a row names; a file whose row is gone is reported as not found to the loader. */
/* A buffered body (the SMTP listener's) makes no file while it fits its 64 KiB buffer: spool_put
 * keeps its octets in the row, made durable by the commit's one sync (no file sync, no directory
 * sync); past the buffer it becomes a body file like any other. A failed put keeps neither. */
static void test_buffered_bodies(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);

  MaSpoolEntry *small = entry("m1", ""), *big = entry("m2", "");
  g_clear_pointer(&small->data, g_bytes_unref);
  g_clear_pointer(&big->data, g_bytes_unref);
  g_assert_cmpint(spool_body_new_buffered(dir, "m1", &small->body, &error), ==, 0);
  g_assert_cmpint(spool_body_new_buffered(dir, "m2", &big->body, &error), ==, 0);
  for (int i = 0; i < 6553; i++) spool_body_write(small->body, "0123456789", 10); /* 65530 octets */
  for (int i = 0; i < 6554; i++) spool_body_write(big->body, "0123456789", 10);   /* 65540 */
  g_assert_true(spool_body_in_memory(small->body));
  g_assert_false(spool_body_in_memory(big->body));
  g_assert_cmpint(spool_body_flush(small->body, &error), ==, 0);
  g_assert_true(spool_body_in_memory(small->body)); /* flushing keeps it in memory */
  g_autofree char *files = body_files(dir);
  g_assert_cmpstr(files, ==, "m2.eml");

  /* one that fits, alone: the commit is its only sync */
  gint before = g_atomic_int_get(&sync_calls);
  g_assert_cmpint(spool_put(sp, &small, 1, &error), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&sync_calls) - before, ==, 1);
  ma_spool_entry_free(small);
  g_free(files);
  files = body_files(dir);
  g_assert_cmpstr(files, ==, "m2.eml"); /* still none for m1 */
  g_assert_cmpint(spool_put(sp, &big, 1, &error), ==, 0);
  ma_spool_entry_free(big);

  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 2);
  MaSpoolEntry *e1 = p->pdata[0], *e2 = p->pdata[1];
  g_assert_null(e1->body_file);
  g_assert_cmpint(e1->size, ==, 65530);
  gsize len = 0;
  const char *octets = g_bytes_get_data(e1->data, &len);
  g_assert_cmpuint(len, ==, 65530);
  g_assert_true(memcmp(octets, "0123456789", 10) == 0 && memcmp(octets + 65520, "0123456789", 10) == 0);
  g_assert_cmpstr(e2->body_file, ==, "m2.eml");
  g_assert_cmpint(spool_entry_load(sp, e2, &error), ==, 0);
  g_assert_cmpuint(g_bytes_get_size(e2->data), ==, 65540);
  g_ptr_array_unref(p);

  /* a failed put of a body in memory leaves nothing: no row, no file */
  MaSpoolEntry *failed = entry("m3", "");
  g_clear_pointer(&failed->data, g_bytes_unref);
  g_assert_cmpint(spool_body_new_buffered(dir, "m3", &failed->body, &error), ==, 0);
  spool_body_write(failed->body, "three", 5);
  spool_fault_inject_sync_failures(sp, 1);
  g_assert_cmpint(spool_put(sp, &failed, 1, &error), ==, -1);
  g_clear_error(&error);
  ma_spool_entry_free(failed);
  g_assert_cmpint(depth(sp), ==, 2);

  /* done removes a row in memory as one with a file */
  const char *ids[] = {"m1", "m2"};
  g_assert_cmpint(spool_done_many(sp, ids, 2, &error), ==, 0);
  g_assert_cmpint(depth(sp), ==, 0);
  close_without_body_files(&sp, dir);
}

static void test_sweep_orphans(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  guint removed = 99;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  put_one(sp, "kept", "k");
  MaSpoolBody *orphan = NULL;
  g_assert_cmpint(spool_body_create(dir, "orphan1", &orphan, &error), ==, 0);
  spool_body_write(orphan, "half", 4);
  g_assert_cmpint(spool_body_flush(orphan, &error), ==, 0);
  spool_body_sync(orphan, &error);
  spool_body_keep(orphan); /* as if the process died here: nobody unlinks it */
  spool_body_free(orphan);
  g_autofree char *other = g_build_filename(dir, "spool", "README", NULL);
  g_assert_true(g_file_set_contents(other, "not ours", -1, NULL));
  g_autofree char *files = body_files(dir);
  g_assert_cmpstr(files, ==, "README kept.eml orphan1.eml");
  g_assert_cmpint(spool_sweep_orphans(sp, &removed, &error), ==, 0);
  g_assert_cmpuint(removed, ==, 1);
  g_free(files);
  files = body_files(dir);
  g_assert_cmpstr(files, ==, "README kept.eml"); /* only names the spool could have made */
  g_assert_cmpint(spool_sweep_orphans(sp, &removed, &error), ==, 0);
  g_assert_cmpuint(removed, ==, 0);

  /* a row whose file is gone: NOT_FOUND, so the pipeline does not retry it forever */
  g_autofree char *kept = g_build_filename(dir, "spool", "kept.eml", NULL);
  g_assert_cmpint(g_unlink(kept), ==, 0);
  GPtrArray *p = g_ptr_array_new_with_free_func((GDestroyNotify) ma_spool_entry_free);
  g_assert_cmpint(spool_pending(sp, 0, p, &error), ==, 0);
  g_assert_cmpuint(p->len, ==, 1);
  g_assert_cmpint(spool_entry_load(sp, p->pdata[0], &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_ptr_array_unref(p);
  spool_close(&sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

/* Recycling: a finished message's file is kept as "<n>.free" (the same inode) and becomes the next
 * message's file; a shorter message is cut at its own size, never showing the old octets; a
 * recycled file never replaces an existing one; the sweep and turning recycling off unlink the
 * kept files. */
static void test_recycled_files(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  MaSpool *sp = NULL;
  GError *error = NULL;
  struct stat st;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  spool_body_set_recycling(TRUE);
  put_one(sp, "long1", "a long first message, longer than the next one");
  g_autofree char *long_path = g_build_filename(dir, "spool", "long1.eml", NULL);
  g_assert_cmpint(g_stat(long_path, &st), ==, 0);
  ino_t inode = st.st_ino;
  g_assert_cmpint(spool_done(sp, "long1", &error), ==, 0);
  g_autofree char *files = body_files(dir);
  g_assert_cmpstr(files, ==, "0.free");
  g_autofree char *free_path = g_build_filename(dir, "spool", "0.free", NULL);
  g_assert_cmpint(g_stat(free_path, &st), ==, 0);
  g_assert_cmpuint(st.st_ino, ==, inode);

  put_one(sp, "short2", "short");
  g_free(files);
  files = body_files(dir);
  g_assert_cmpstr(files, ==, "short2.eml");
  g_autofree char *short_path = g_build_filename(dir, "spool", "short2.eml", NULL);
  g_assert_cmpint(g_stat(short_path, &st), ==, 0);
  g_assert_cmpuint(st.st_ino, ==, inode); /* no inode freed, none allocated */
  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 1);
  gsize len = 0;
  const char *data = g_bytes_get_data(((MaSpoolEntry *) p->pdata[0])->data, &len);
  g_assert_cmpmem(data, len, "short", 5);
  g_ptr_array_unref(p);

  /* a recycled file never takes the place of an existing one: O_EXCL's refusal stands */
  g_assert_cmpint(spool_done(sp, "short2", &error), ==, 0);
  MaSpoolBody *b = NULL;
  g_autofree char *taken = g_build_filename(dir, "spool", "taken.eml", NULL);
  g_assert_true(g_file_set_contents(taken, "someone else's", -1, NULL));
  g_assert_cmpint(spool_body_create(dir, "taken", &b, &error), ==, -1);
  g_clear_error(&error);
  g_autofree char *content = NULL;
  g_assert_true(g_file_get_contents(taken, &content, NULL, NULL));
  g_assert_cmpstr(content, ==, "someone else's");
  g_assert_cmpint(g_unlink(taken), ==, 0);

  /* kept files: the sweep at start unlinks them (no row names them), and so does turning off */
  put_one(sp, "third", "3");
  g_assert_cmpint(spool_done(sp, "third", &error), ==, 0);
  g_free(files);
  files = body_files(dir);
  g_assert_cmpstr(files, ==, "2.free");
  spool_body_set_recycling(FALSE);
  g_free(files);
  files = body_files(dir);
  g_assert_cmpstr(files, ==, "");
  g_assert_true(g_file_set_contents(free_path, "left by a crash", -1, NULL));
  guint removed = 0;
  g_assert_cmpint(spool_sweep_orphans(sp, &removed, &error), ==, 0);
  g_assert_cmpuint(removed, ==, 1);
  spool_close(&sp);
  testutil_rm_rf(dir);
  g_free(dir);
}

/* A spool.db written by the version that kept bodies in the `data` BLOB (schema of user_version
 * 1, rows small and large) is upgraded in place and drains: its entries are offered with their
 * octets, new entries go to files beside them, done removes both kinds. */
static void test_upgrade_from_blob_spool(void)
{
  char *dir = testutil_tempdir("ma-spool-XXXXXX");
  g_autofree char *db_path = g_build_filename(dir, "spool.db", NULL);
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  gsize big_len = 700 * 1024;
  guint8 *big = g_malloc(big_len);
  for (gsize i = 0; i < big_len; i++) big[i] = (guint8) (i * 7 + 3);
  g_assert_cmpint(sqlite3_open(db_path, &db), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_exec(db,
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE spool(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, enterprise_id TEXT,"
    " route TEXT NOT NULL, client TEXT, helo TEXT, mail_from TEXT NOT NULL, rcpts TEXT NOT NULL, employee_id TEXT,"
    " signal TEXT, mailbox TEXT, received_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " data BLOB NOT NULL);"
    "PRAGMA user_version=1;"
    "INSERT INTO spool(id, enterprise_id, route, mail_from, rcpts, received_at, data)"
    " VALUES('old1', 'e1', 'smtp', 'a@b.example', 'acme-x1@inbound.localhost', 1, CAST('Subject: old\r\n\r\nhi\r\n' AS BLOB));",
    NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_prepare_v2(db, "INSERT INTO spool(id, route, mail_from, rcpts, received_at, data)"
                         " VALUES('old2', 'smtp', '', 'x', 2, ?)", -1, &s, NULL);
  sqlite3_bind_blob(s, 1, big, (int) big_len, SQLITE_STATIC);
  g_assert_cmpint(sqlite3_step(s), ==, SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(db);

  MaSpool *sp = NULL;
  GError *error = NULL;
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  g_assert_no_error(error);
  put_one(sp, "new1", "fresh");
  GPtrArray *p = pending(sp);
  g_assert_cmpuint(p->len, ==, 3);
  MaSpoolEntry *e = p->pdata[0];
  g_assert_cmpstr(e->id, ==, "old1");
  g_assert_null(e->body_file);
  g_assert_cmpmem(g_bytes_get_data(e->data, NULL), g_bytes_get_size(e->data), "Subject: old\r\n\r\nhi\r\n", 20);
  e = p->pdata[1];
  g_assert_cmpstr(e->id, ==, "old2");
  g_assert_cmpmem(g_bytes_get_data(e->data, NULL), g_bytes_get_size(e->data), big, big_len);
  e = p->pdata[2];
  g_assert_cmpstr(e->body_file, ==, "new1.eml");
  g_assert_cmpmem(g_bytes_get_data(e->data, NULL), g_bytes_get_size(e->data), "fresh", 5);
  g_ptr_array_unref(p);
  const char *ids[] = {"old1", "old2", "new1"};
  g_assert_cmpint(spool_done_many(sp, ids, 3, &error), ==, 0);
  g_assert_cmpint(depth(sp), ==, 0);
  g_autofree char *files = body_files(dir);
  g_assert_cmpstr(files, ==, "");
  spool_close(&sp);
  /* opening again finds the column there */
  g_assert_cmpint(spool_open(dir, &sp, &error), ==, 0);
  spool_close(&sp);
  g_free(big);
  testutil_rm_rf(dir);
  g_free(dir);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/storage/spool/put-pending-done", test_put_pending_done);
  g_test_add_func("/storage/spool/backoff", test_backoff);
  g_test_add_func("/storage/spool/dead-list-retry-purge", test_dead_list_retry_purge);
  g_test_add_func("/storage/spool/upgrade-v1", test_upgrade_v1);
  g_test_add_func("/storage/spool/sync-failure", test_sync_failure);
  g_test_add_func("/storage/spool/crash-replay", test_crash_replay);
  g_test_add_func("/storage/spool/done-many-and-large", test_done_many_and_large);
  g_test_add_func("/storage/spool/put-syncs", test_put_syncs);
  g_test_add_func("/storage/spool/group-commit", test_group_commit_speed);
  g_test_add_func("/storage/spool/body-files", test_body_files);
  g_test_add_func("/storage/spool/buffered-bodies", test_buffered_bodies);
  g_test_add_func("/storage/spool/sweep-orphans", test_sweep_orphans);
  g_test_add_func("/storage/spool/recycled-files", test_recycled_files);
  g_test_add_func("/storage/spool/upgrade-from-blob-spool", test_upgrade_from_blob_spool);
  return g_test_run();
}
