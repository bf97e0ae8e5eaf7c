/* storage_pg_blobs.c - PostgreSQL backend: the content-addressed blob store, as rows of chunks of
 * at most PG_BLOB_CHUNK bytes (migration 004), each sent and read as one binary parameter or
 * column: a large attachment never sits whole in one PostgreSQL value. The same contracts as the
 * SQLite backend's blob_put, blob_put_stream (the chunks pulled from the caller one at a time)
 * and blob_get (storage.h); the chunk table is the place an object store
 * could later take over.
 *
 * A put that finds its blob stored and an erasure on another node that finds the blob referenced
 * by nothing must not both go on (the reference the put's transaction inserts would dangle): the
 * put locks the row it found until its transaction ends, and an erasure first locks the rows it
 * may delete (pg_blobs_lock_doomed), waiting for such puts, then checks the references in a new
 * statement, which sees what they committed.
 */
#include "pg_internal.h"
#include "storage_backend.h"

#include "agent/lib/crypto.h"

#include <string.h>

#define PG_BLOB_CHUNK (1024 * 1024)

/* Inserts one chunk: $1 digest (text), $2 sequence number (text), $3 the bytes (binary). */
static int chunk_put(PgDb *d, const char *sha256, int seq, const guint8 *data, gsize len, GError **error)
{
  static const char sql[] = "INSERT INTO blob_chunks(sha256, seq, data) VALUES($1, $2, $3) ON CONFLICT DO NOTHING";
  /* Binary parameters need PQexecParams' formats; the statement is small and runs once per MB. */
  char seq_text[16];
  g_snprintf(seq_text, sizeof seq_text, "%d", seq);
  const char *values[3] = {sha256, seq_text, (const char *)(len ? data : (const guint8 *)"")};
  int lengths[3] = {0, 0, (int)len};
  int formats[3] = {0, 0, 1};
  PGresult *r = PQexecParams(d->conn, sql, 3, NULL, values, lengths, formats, 0);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) {
    g_autofree char *why = g_strstrip(g_strdup(PQresultErrorMessage(r)));
    g_set_error(error, MA_ERROR, pg_error_code(r, d->conn), "storage: store blob: %s", why);
  }
  PQclear(r);
  return ok ? 0 : -1;
}

/* 1 when a blob with that digest is stored, 0 when not, -1 on error. A stored blob's row stays
 * locked (FOR KEY SHARE, as a foreign key check locks its parent) until the transaction ends, so
 * that an erasure on another connection waits for the reference this transaction is about to
 * insert (pg_blobs_lock_doomed); a row an erasure deleted meanwhile is not found, and the blob is
 * stored anew. */
static int blob_present(PgDb *d, const char *sha256, GError **error)
{
  PgParams p = {0};
  pg_param_text(&p, sha256);
  PGresult *r = pg_run(d, "SELECT 1 FROM blobs WHERE sha256 = $1 FOR KEY SHARE", &p, "store blob", error);
  if (!r) return -1;
  int present = PQntuples(r) > 0;
  PQclear(r);
  return present;
}

static int blob_put_body(PgDb *d, const guint8 *data, gsize len, const char *sha256, GError **error)
{
  int present = blob_present(d, sha256, error);
  if (present != 0) return present < 0 ? -1 : 0;
  PgParams p = {0};
  pg_param_text(&p, sha256);
  int chunks = 0;
  for (gsize off = 0; off < len || (len == 0 && chunks == 0); off += PG_BLOB_CHUNK, chunks++)
    if (chunk_put(d, sha256, chunks, data + off, MIN((gsize)PG_BLOB_CHUNK, len - off), error) < 0) return -1;
  pg_param_int(&p, (gint64)len);
  pg_param_int(&p, chunks);
  return pg_exec(d, "INSERT INTO blobs(sha256, size, chunks) VALUES($1, $2, $3) ON CONFLICT DO NOTHING", &p, "store blob",
                 error) < 0 ? -1 : 0;
}

int pg_blob_put(void *impl, const void *data, gsize len, char sha256_out[65], GError **error)
{
  PgDb *d = impl;
  ma_sha256_hex(data, len, sha256_out);
  if (pg_write_begin(d, error) < 0) return -1;
  return pg_write_end(d, blob_put_body(d, data, len, sha256_out, error), error);
}

/* The same chunk rows as blob_put_body, each pulled from the reader just before it is sent: the
 * client holds one chunk at a time. */
static int blob_put_stream_body(PgDb *d, const char *sha256, gsize size, MaBlobPull *pull, GError **error)
{
  int present = blob_present(d, sha256, error);
  if (present != 0) return present < 0 ? -1 : 0;
  PgParams p = {0};
  pg_param_text(&p, sha256);
  guint8 *buf = g_malloc(MIN((gsize)PG_BLOB_CHUNK, MAX(size, (gsize)1)));
  int chunks = 0, rc = 0;
  gssize n = 0;
  while (rc == 0 && (n = storage_blob_pull_next(pull, buf, PG_BLOB_CHUNK, error)) > 0)
    rc = chunk_put(d, sha256, chunks++, buf, (gsize)n, error);
  if (rc == 0 && n == 0 && chunks == 0) rc = chunk_put(d, sha256, chunks++, buf, 0, error); /* the empty blob */
  g_free(buf);
  if (rc < 0 || n < 0 || storage_blob_pull_finish(pull, sha256, error) < 0) return -1;
  pg_param_int(&p, (gint64)size);
  pg_param_int(&p, chunks);
  return pg_exec(d, "INSERT INTO blobs(sha256, size, chunks) VALUES($1, $2, $3) ON CONFLICT DO NOTHING", &p, "store blob",
                 error) < 0 ? -1 : 0;
}

int pg_blob_put_stream(void *impl, const char *sha256, gsize size, MaBlobReader read, void *ctx, GError **error)
{
  PgDb *d = impl;
  if (pg_write_begin(d, error) < 0) return -1;
  MaBlobPull pull;
  storage_blob_pull_init(&pull, read, ctx, size);
  int rc = blob_put_stream_body(d, sha256, size, &pull, error);
  storage_blob_pull_clear(&pull);
  return pg_write_end(d, rc, error);
}

int pg_blob_get(void *impl, const char *sha256, GBytes **out, GError **error)
{
  PgDb *d = impl;
  *out = NULL;
  PgParams p = {0};
  pg_param_text(&p, sha256);
  PGresult *r = pg_run(d, "SELECT size, chunks FROM blobs WHERE sha256 = $1", &p, "get blob", error);
  if (!r) return -1;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return 0;
  }
  gint64 size = pg_col_int(r, 0, 0), chunks = pg_col_int(r, 0, 1);
  PQclear(r);
  GByteArray *buf = g_byte_array_sized_new((guint)MIN(size, (gint64)G_MAXUINT));
  /* One chunk per statement: the client holds one chunk besides the result it is building. */
  for (gint64 seq = 0; seq < chunks; seq++) {
    char seq_text[24];
    g_snprintf(seq_text, sizeof seq_text, "%" G_GINT64_FORMAT, seq);
    const char *values[2] = {sha256, seq_text};
    PGresult *c = PQexecParams(d->conn, "SELECT data FROM blob_chunks WHERE sha256 = $1 AND seq = $2", 2, NULL, values,
                               NULL, NULL, 1);
    if (PQresultStatus(c) != PGRES_TUPLES_OK || PQntuples(c) != 1) {
      g_autofree char *why = g_strstrip(g_strdup(PQntuples(c) != 1 ? "a chunk is missing" : PQresultErrorMessage(c)));
      g_set_error(error, MA_ERROR, PQntuples(c) != 1 && PQresultStatus(c) == PGRES_TUPLES_OK ? MA_ERROR_INTERNAL
                                                                                                : pg_error_code(c, d->conn),
                  "storage: read blob: %s", why);
      PQclear(c);
      g_byte_array_unref(buf);
      return -1;
    }
    g_byte_array_append(buf, (const guint8 *)PQgetvalue(c, 0, 0), (guint)PQgetlength(c, 0, 0));
    PQclear(c);
  }
  if ((gint64)buf->len != size) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "storage: read blob: %u bytes, the row says %" G_GINT64_FORMAT,
                buf->len, size);
    g_byte_array_unref(buf);
    return -1;
  }
  *out = g_byte_array_free_to_bytes(buf);
  return 1;
}

int pg_blobs_lock_doomed(PgDb *d, const char *digests_sql, const PgParams *p, GError **error)
{
  g_autofree char *sql =
    g_strconcat("SELECT sha256 FROM blobs WHERE sha256 IN (", digests_sql, ") ORDER BY sha256 FOR UPDATE", NULL);
  PGresult *r = pg_run(d, sql, p, "lock blobs to delete", error);
  if (!r) return -1;
  PQclear(r);
  return 0;
}
