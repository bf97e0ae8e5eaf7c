/* storage_pg_core.c - the PostgreSQL backend's connection: open (libpq conninfo, synchronous_commit
 * on, the numbered migrations of storage/pg/ applied under an advisory lock so that nodes starting
 * together migrate once), statements prepared once per connection, transactions with the same
 * semantics as the SQLite backend (storage_sqlite_core.c) and the row counts written once per
 * transaction at its commit, SQLSTATEs mapped to MA_ERROR codes, and what the backend-neutral hooks
 * mean here (data version: the server's log position; checkpoint: the server's own; a full disk:
 * injected at the write bracket).
 *
 * The password never comes from the conninfo here: libpq reads it from its password file
 * (PGPASSFILE or ~/.pgpass) or from PGPASSWORD, so it is never in mailagent's config file.
 */
#include "pg_internal.h"
#include "agent/lib/periodic.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Every node takes this advisory lock before it looks at the schema (any 64-bit key of ours). */
#define PG_MIGRATION_LOCK "4d41494c4147454e" /* "MAILAGEN" */

/* ---- parameters and results ---------------------------------------------------------------------- */

void pg_param_text(PgParams *p, const char *text)
{
  g_assert(p->n < PG_MAX_PARAMS);
  p->values[p->n++] = text;
}

void pg_param_int(PgParams *p, gint64 v)
{
  g_assert(p->n < PG_MAX_PARAMS);
  g_snprintf(p->numbers[p->n], sizeof p->numbers[p->n], "%" G_GINT64_FORMAT, v);
  p->values[p->n] = p->numbers[p->n];
  p->n++;
}

char *pg_col_dup(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? NULL : g_strdup(PQgetvalue(r, row, col));
}

gint64 pg_col_int(const PGresult *r, int row, int col)
{
  return PQgetisnull(r, row, col) ? 0 : g_ascii_strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pg_ids_collect(PGresult *r, GPtrArray *out)
{
  if (!r) return -1;
  for (int i = 0; i < PQntuples(r); i++) g_ptr_array_add(out, pg_col_dup(r, i, 0));
  PQclear(r);
  return 0;
}

char *pg_array_literal(const char *const *items, guint n)
{
  GString *a = g_string_new("{");
  for (guint i = 0; i < n; i++) {
    if (i) g_string_append_c(a, ',');
    if (!items[i]) {
      g_string_append(a, "NULL");
      continue;
    }
    g_string_append_c(a, '"');
    for (const char *c = items[i]; *c; c++) {
      if (*c == '"' || *c == '\\') g_string_append_c(a, '\\');
      g_string_append_c(a, *c);
    }
    g_string_append_c(a, '"');
  }
  g_string_append_c(a, '}');
  return g_string_free(a, FALSE);
}

int pg_table_exists(PgDb *d, const char *table, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, table);
  PGresult *r = pg_run(d, "SELECT to_regclass($1) IS NOT NULL", &p, "table look-up", error);
  if (!r) return -1;
  int exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
  PQclear(r);
  return exists;
}

/* ---- errors ----------------------------------------------------------------------------------- */

gboolean pg_sqlstate_is(const PGresult *r, const char *sqlstate)
{
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  return state && strcmp(state, sqlstate) == 0;
}

int pg_error_code(const PGresult *r, PGconn *conn)
{
  if (PQstatus(conn) != CONNECTION_OK) return MA_ERROR_TEMPFAIL; /* the connection is gone */
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (!state) return MA_ERROR_TEMPFAIL; /* no answer from the server at all */
  if (strcmp(state, "23505") == 0) return MA_ERROR_CONFLICT;  /* unique_violation */
  if (strcmp(state, "23503") == 0) return MA_ERROR_NOT_FOUND; /* foreign_key_violation */
  if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) return MA_ERROR_TEMPFAIL; /* retry */
  if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
      strcmp(state, "58030") == 0)
    return MA_ERROR_TEMPFAIL; /* connection, resources (disk full), shutdown, I/O */
  return MA_ERROR_INTERNAL;
}

static int fail_with(PgDb *d, const PGresult *r, GError **error, const char *what)
{
  const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!msg) msg = PQerrorMessage(d->conn);
  g_autofree char *one_line = g_strstrip(g_strdup(msg ? msg : "no answer"));
  g_set_error(error, MA_ERROR, pg_error_code(r, d->conn), "storage: %s: %s", what ? what : "query", one_line);
  return -1;
}

/* ---- statements --------------------------------------------------------------------------------- */

static const char *prepared_name(PgDb *d, const char *sql, GError **error)
{
  const char *name = g_hash_table_lookup(d->stmts, sql);
  if (name) return name;
  char *fresh = g_strdup_printf("s%u", ++d->next_stmt);
  PGresult *r = PQprepare(d->conn, fresh, sql, 0, NULL);
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    fail_with(d, r, error, "prepare");
    PQclear(r);
    g_free(fresh);
    return NULL;
  }
  PQclear(r);
  g_hash_table_insert(d->stmts, g_strdup(sql), fresh);
  return fresh;
}

PGresult *pg_run(PgDb *d, const char *sql, const PgParams *p, const char *what, GError **error)
{
  const char *name = prepared_name(d, sql, error);
  if (!name) return NULL;
  PGresult *r = PQexecPrepared(d->conn, name, p ? p->n : 0, p ? p->values : NULL, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  fail_with(d, r, error, what);
  PQclear(r);
  return NULL;
}

gint64 pg_exec(PgDb *d, const char *sql, const PgParams *p, const char *what, GError **error)
{
  PGresult *r = pg_run(d, sql, p, what, error);
  if (!r) return -1;
  gint64 n = *PQcmdTuples(r) ? g_ascii_strtoll(PQcmdTuples(r), NULL, 10) : 0;
  PQclear(r);
  return n;
}

gint64 pg_exec_enterprise_row(PgDb *d, const char *sql, const PgParams *p, const char *enterprise_id, const char *what,
                              GError **error)
{
  GError *local = NULL;
  gint64 n = pg_exec(d, sql, p, what, &local);
  if (n >= 0) return n;
  if (local->code == MA_ERROR_NOT_FOUND) {
    g_clear_error(&local);
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no enterprise %s", enterprise_id ? enterprise_id : "(none)");
  } else {
    g_propagate_error(error, local);
  }
  return -1;
}

int pg_control(PgDb *d, const char *sql, GError **error)
{
  PGresult *r = PQexec(d->conn, sql);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : fail_with(d, r, error, sql);
  PQclear(r);
  return rc;
}

/* ---- migrations ------------------------------------------------------------------------------------ */

static int applied_version(PgDb *d, int *version, GError **error)
{
  if (pg_control(d, "CREATE TABLE IF NOT EXISTS schema_migrations(version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())", error) < 0)
    return -1;
  PGresult *r = pg_run(d, "SELECT coalesce(max(version), 0) FROM schema_migrations", NULL, "schema version", error);
  if (!r) return -1;
  *version = (int)pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

/* Applies every migration above the database's version, each in its own transaction, holding the
 * advisory lock throughout: a second node starting at the same moment waits, then finds them
 * applied. A database newer than this binary is refused. */
static int migrate(PgDb *d, gboolean create, GError **error)
{
  if (pg_control(d, "SELECT pg_advisory_lock(x'" PG_MIGRATION_LOCK "'::bigint)", error) < 0) return -1;
  int version = 0, rc = applied_version(d, &version, error);
  int newest = ma_pg_migrations[ma_pg_migrations_count - 1].version;
  if (rc == 0 && version > newest) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "storage: the database's schema (version %d) is newer than this mailagent knows (%d)", version, newest);
    rc = -1;
  }
  if (rc == 0 && version < newest && !create && version == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "storage: the database is not initialised (run mailagent init)");
    rc = -1;
  }
  for (int i = 0; rc == 0 && i < ma_pg_migrations_count; i++) {
    const PgMigration *m = &ma_pg_migrations[i];
    if (m->version <= version) continue;
    PgParams p = {0};
    pg_param_int(&p, m->version);
    pg_param_text(&p, m->name);
    if (pg_control(d, "BEGIN", error) < 0 || pg_control(d, m->sql, error) < 0 ||
        pg_exec(d, "INSERT INTO schema_migrations(version, name) VALUES($1, $2)", &p, "record migration", error) < 0 ||
        pg_control(d, "COMMIT", error) < 0) {
      pg_control(d, "ROLLBACK", NULL);
      g_prefix_error(error, "migration %s: ", m->name);
      rc = -1;
    }
    version = m->version;
  }
  pg_control(d, "SELECT pg_advisory_unlock(x'" PG_MIGRATION_LOCK "'::bigint)", NULL);
  if (rc == 0) d->schema_version = version;
  return rc;
}

/* ---- lifecycle ------------------------------------------------------------------------------------- */

static void watcher_stop(struct PgWatcher *w);

int pg_open(const char *conninfo, gboolean create, void **impl_out, GError **error)
{
  *impl_out = NULL;
  char *parse_error = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", &parse_error);
  if (!opts) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "storage: [storage] postgresql: %s",
                parse_error ? g_strstrip(parse_error) : "cannot be read");
    PQfreemem(parse_error);
    return -1;
  }
  gboolean has_password = FALSE;
  for (PQconninfoOption *o = opts; o->keyword; o++)
    if (strcmp(o->keyword, "password") == 0 && o->val && *o->val) has_password = TRUE;
  PQconninfoFree(opts);
  if (has_password) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "storage: [storage] postgresql must not hold the password: put it in a password file (PGPASSFILE) or"
                " PGPASSWORD");
    return -1;
  }
  PgDb *d = g_new0(PgDb, 1);
  d->conninfo = g_strdup(conninfo);
  d->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  d->conn = PQconnectdb(conninfo);
  if (PQstatus(d->conn) != CONNECTION_OK) {
    g_autofree char *why = g_strstrip(g_strdup(PQerrorMessage(d->conn)));
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: cannot connect to PostgreSQL: %s", why);
    pg_close(d);
    return -1;
  }
  /* Durability as SQLite's synchronous=FULL: a commit returns once the server's WAL is flushed. */
  if (pg_control(d, "SET synchronous_commit = on", error) < 0 || pg_control(d, "SET client_min_messages = warning", error) < 0 ||
      migrate(d, create, error) < 0) {
    pg_close(d);
    return -1;
  }
  *impl_out = d;
  return 0;
}

void pg_close(void *impl)
{
  PgDb *d = impl;
  if (!d) return;
  watcher_stop(d->watcher);
  if (d->conn) PQfinish(d->conn);
  g_hash_table_unref(d->stmts);
  g_free(d->conninfo);
  g_free(d);
}

int pg_schema_version(void *impl)
{
  return ((PgDb *)impl)->schema_version;
}

char *pg_library_version(void)
{
  int v = PQlibVersion();
  return g_strdup_printf("libpq %d.%d", v / 10000, v % 10000);
}

/* ---- transactions ----------------------------------------------------------------------------------- */

static int spoiled(GError **error)
{
  g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: an earlier write of this batch failed; the batch is void");
  return -1;
}

void pg_count_add(PgDb *d, PgCount what, gint64 delta)
{
  d->unit_counts[what] += delta;
}

/* The write unit ended: its counts join the transaction's (kept) or are forgotten. */
static void counts_unit_end(PgDb *d, gboolean kept)
{
  for (int i = 0; i < 2; i++) {
    if (kept) d->txn_counts[i] += d->unit_counts[i];
    d->unit_counts[i] = 0;
  }
}

static void counts_forget(PgDb *d)
{
  memset(d->unit_counts, 0, sizeof d->unit_counts);
  memset(d->txn_counts, 0, sizeof d->txn_counts);
}

/* The transaction's counts, in one statement just before COMMIT. */
static int counts_flush(PgDb *d, GError **error)
{
  if (d->txn_counts[PG_COUNT_MESSAGES] == 0 && d->txn_counts[PG_COUNT_ACTIVITIES] == 0) return 0;
  PgParams p = {0};
  pg_param_int(&p, d->txn_counts[PG_COUNT_MESSAGES]);
  pg_param_int(&p, d->txn_counts[PG_COUNT_ACTIVITIES]);
  counts_forget(d);
  return pg_exec(d,
                 "UPDATE counters SET n = n + CASE name WHEN 'messages' THEN $1::bigint ELSE $2::bigint END"
                 " WHERE name IN ('messages', 'activities')",
                 &p, "count rows", error) < 0 ? -1 : 0;
}

/* Commits made through every PgDb of this process (commit_now), for pg_data_version. */
static _Atomic gint64 process_commits;

/* COMMIT, or, while fault injection asks for it, ROLLBACK reported as a failed commit. */
static int commit_now(PgDb *d, GError **error)
{
  if (counts_flush(d, error) < 0) {
    pg_control(d, "ROLLBACK", NULL);
    return -1;
  }
  if (d->fail_commits > 0) {
    d->fail_commits--;
    pg_control(d, "ROLLBACK", NULL);
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: commit failed (injected)");
    return -1;
  }
  int rc = pg_control(d, "COMMIT", error);
  /* after COMMIT returned, before any caller can tell anyone: see pg_data_version. Bumped when the
   * COMMIT failed too (it may have committed before the connection broke): a cache dropped for
   * nothing at worst. */
  atomic_fetch_add(&process_commits, 1);
  return rc;
}

int pg_write_begin(PgDb *d, GError **error)
{
  if (d->disk_full) {
    /* what the server answers when it cannot extend a file (SQLSTATE 53100) */
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: could not extend file: No space left on device (injected)");
    if (d->in_txn && d->batch) d->spoiled = TRUE;
    return -1;
  }
  if (d->in_txn) {
    if (PQtransactionStatus(d->conn) == PQTRANS_IDLE) {
      g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "storage: the transaction was rolled back by the database");
      return -1;
    }
    if (d->batch) return d->spoiled ? spoiled(error) : 0;
    return pg_control(d, "SAVEPOINT w", error);
  }
  return pg_control(d, "BEGIN", error);
}

int pg_write_end(PgDb *d, int rc, GError **error)
{
  counts_unit_end(d, rc >= 0);
  if (d->in_txn) {
    if (d->batch) {
      if (rc < 0) d->spoiled = TRUE; /* PostgreSQL aborted the transaction anyway: the batch is void */
      return rc;
    }
    if (rc < 0) {
      pg_control(d, "ROLLBACK TO SAVEPOINT w", NULL);
      pg_control(d, "RELEASE SAVEPOINT w", NULL);
      return -1;
    }
    if (pg_control(d, "RELEASE SAVEPOINT w", error) < 0) {
      d->spoiled = TRUE; /* the transaction is aborted: so are its counts, at the commit */
      return -1;
    }
    return rc;
  }
  if (rc < 0) {
    counts_forget(d);
    pg_control(d, "ROLLBACK", NULL);
    return -1;
  }
  return commit_now(d, error) < 0 ? -1 : rc;
}

int pg_write_changed(PgDb *d, const char *sql, const PgParams *p, const char *what, GError **error)
{
  if (pg_write_begin(d, error) < 0) return -1;
  gint64 n = pg_exec(d, sql, p, what, error);
  return pg_write_end(d, n < 0 ? -1 : n > 0 ? 1 : 0, error);
}

int pg_write_rows(PgDb *d, const char *sql, const PgParams *p, const char *what,
                  gpointer (*read_row)(const PGresult *r, int row), GDestroyNotify free_row, GPtrArray *out,
                  GError **error)
{
  if (pg_write_begin(d, error) < 0) return -1;
  PGresult *r = pg_run(d, sql, p, what, error);
  g_autoptr(GPtrArray) got = g_ptr_array_new_with_free_func(free_row);
  for (int i = 0; r && i < PQntuples(r); i++) g_ptr_array_add(got, read_row(r, i));
  int ret = r ? 0 : -1;
  if (r) PQclear(r);
  if (pg_write_end(d, ret, error) < 0) return -1;
  for (guint i = 0; i < got->len; i++) g_ptr_array_add(out, g_ptr_array_index(got, i));
  g_ptr_array_set_free_func(got, NULL); /* the rows now belong to out */
  return 0;
}

int pg_read_begin(PgDb *d, gboolean *own, GError **error)
{
  *own = !d->in_txn;
  return *own ? pg_control(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", error) : 0;
}

int pg_read_end(PgDb *d, gboolean own, int rc)
{
  if (own) pg_control(d, rc < 0 ? "ROLLBACK" : "COMMIT", NULL);
  return rc;
}

int pg_begin(void *impl, GError **error)
{
  PgDb *d = impl;
  if (d->in_txn) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "storage: nested transaction");
    return -1;
  }
  if (pg_control(d, "BEGIN", error) < 0) return -1;
  d->in_txn = TRUE;
  d->batch = FALSE;
  d->spoiled = FALSE;
  return 0;
}

int pg_begin_batch(void *impl, GError **error)
{
  PgDb *d = impl;
  if (pg_begin(d, error) < 0) return -1;
  d->batch = TRUE;
  return 0;
}

int pg_commit(void *impl, GError **error)
{
  PgDb *d = impl;
  if (!d->in_txn) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "storage: commit without begin");
    return -1;
  }
  d->in_txn = FALSE;
  d->batch = FALSE;
  if (d->spoiled) {
    d->spoiled = FALSE;
    counts_forget(d);
    pg_control(d, "ROLLBACK", NULL);
    return spoiled(error);
  }
  return commit_now(d, error);
}

void pg_rollback(void *impl)
{
  PgDb *d = impl;
  d->in_txn = FALSE;
  d->batch = FALSE;
  d->spoiled = FALSE;
  counts_forget(d);
  pg_control(d, "ROLLBACK", NULL);
}

void pg_fault_inject_commit_failures(void *impl, int n)
{
  ((PgDb *)impl)->fail_commits = n > 0 ? n : 0;
}

/* ---- test hooks and maintenance --------------------------------------------------------------- */

/* Every write fails as the server fails on a full disk (53100, MA_ERROR_TEMPFAIL) until lifted: a
 * full disk cannot be made on demand on a shared server, so the write bracket answers for it. */
void pg_fault_inject_disk_full(void *impl, gboolean full)
{
  ((PgDb *)impl)->disk_full = full;
}

void pg_debug_statements(void *impl, GPtrArray *out)
{
  PgDb *d = impl;
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init(&it, d->stmts);
  while (g_hash_table_iter_next(&it, &key, NULL)) g_ptr_array_add(out, g_strdup(key));
}

int pg_debug_query(void *impl, const char *sql, GPtrArray *rows, GError **error)
{
  PgDb *d = impl;
  PGresult *r = PQexec(d->conn, sql); /* not prepared: not a statement the code runs */
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
    int rc = fail_with(d, r, error, "debug query");
    PQclear(r);
    return rc;
  }
  for (int i = 0; i < PQntuples(r); i++) {
    GString *row = g_string_new(NULL);
    for (int k = 0; k < PQnfields(r); k++)
      g_string_append_printf(row, "%s%s", k ? "|" : "", PQgetisnull(r, i, k) ? "" : PQgetvalue(r, i, k));
    g_ptr_array_add(rows, g_string_free(row, FALSE));
  }
  PQclear(r);
  return 0;
}

/* ---- data version: the commit watcher ----------------------------------------------------------- */

/* How often the watcher reads the server's write-ahead log position: the most a commit by another
 * process or node stays unseen by pg_data_version (plus one round trip). */
#define PG_WATCH_INTERVAL_MS 10

/* A thread (agent/lib/periodic) with a connection of its own that reads the server's write-ahead
 * log position every PG_WATCH_INTERVAL_MS and counts the times it moved, so that pg_data_version,
 * called on an event loop, never waits for the server. Owned by the PgDb that started it (pg_close
 * stops it); conn and seen are the thread's only. */
struct PgWatcher {
  MaPeriodic *thread;
  char *conninfo;
  PGconn *conn;
  gint64 seen;
  _Atomic gint64 changes; /* times the position moved or could not be read */
};

static gboolean watcher_poll(gpointer data)
{
  struct PgWatcher *w = data;
  gint64 v = -1;

  if (!w->conn || PQstatus(w->conn) != CONNECTION_OK) {
    if (w->conn) PQfinish(w->conn);
    w->conn = PQconnectdb(w->conninfo);
  }
  if (PQstatus(w->conn) == CONNECTION_OK) {
    PGresult *r = PQexec(w->conn, "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) v = g_ascii_strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
  }
  /* an unreadable position counts as a change every time: caches are dropped, never kept wrongly */
  if (v < 0 || v != w->seen) atomic_fetch_add(&w->changes, 1);
  w->seen = v;
  return FALSE;
}

static struct PgWatcher *watcher_start(const char *conninfo)
{
  struct PgWatcher *w = g_new0(struct PgWatcher, 1);
  w->conninfo = g_strdup(conninfo);
  w->seen = -1;
  atomic_init(&w->changes, 1); /* the first call already differs from any value read before the watcher ran */
  w->thread = ma_periodic_start("pg-commit-watch", PG_WATCH_INTERVAL_MS, watcher_poll, w); /* connects there */
  return w;
}

static void watcher_stop(struct PgWatcher *w)
{
  if (!w) return;
  ma_periodic_stop(&w->thread);
  if (w->conn) PQfinish(w->conn);
  g_free(w->conninfo);
  g_free(w);
}

/* Two counters, read without a round trip, so an event loop may call it: commits made through any
 * handle of this process (commit_now bumps process_commits after COMMIT returns, before its caller
 * can answer anyone), plus the times the watcher saw the server's write-ahead log position move
 * (every commit, by any process or node, moves it before it becomes visible; so do rolled-back
 * writes and the server's own maintenance: a cache dropped for nothing, never one kept wrongly).
 * Staleness: none for this process's own commits (API writes, pipeline workers, any thread); a
 * commit by ANOTHER process or node (the CLI, another serve) is seen up to PG_WATCH_INTERVAL_MS
 * plus one round trip after it returned. The first call starts the watcher. Never decreases. */
gint64 pg_data_version(void *impl)
{
  PgDb *d = impl;
  if (!d->watcher) d->watcher = watcher_start(d->conninfo);
  d->data_version = atomic_load(&process_commits) + atomic_load(&d->watcher->changes);
  return d->data_version;
}

/* The server checkpoints its own log (and a CHECKPOINT needs a privileged role): nothing to do. */
int pg_checkpoint(void *impl, GError **error)
{
  (void)impl;
  (void)error;
  return 0;
}
