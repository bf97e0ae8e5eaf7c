/* floor.c - the ingest benchmark's storage floor: what any archive on mailagent's storage would pay
 * per message before it matches, threads or links anything. For each file named on stdin (one per
 * line): read it, parse it with GMime and decode its text parts to UTF-8 (as bare_gmime.c does), then
 * store the raw octets in SQLite under their SHA-256 (hex, the key mailagent's blobs use) with
 * mailagent's settings (8 KB pages, WAL, synchronous=FULL, a 16 MB cache, secure_delete, a commit
 * every 500 messages); with --fts also put the decoded text into an FTS5 table (unicode61, SQLite's
 * stock tokenizer). No participants, records, threads, timeline or outbox. run.sh divides bare
 * GMime's CPU-seconds by this program's: the highest share of parsing an archive on this storage
 * could show. Not part of the build; scripts/bench/ingest/run.sh compiles it.
 *
 * Usage: floor DATABASE [--fts] < FILE-LIST   (DATABASE is created; an existing one is an error)
 */
#include <gmime/gmime.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include <stdio.h>
#include <string.h>

#define BATCH 500

static void collect_text(GMimeObject *parent, GMimeObject *part, gpointer text_out)
{
  (void)parent;
  if (!GMIME_IS_TEXT_PART(part)) return; /* containers, attachments, attached messages */
  char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
  if (text) g_string_append(text_out, text);
  g_free(text);
}

static int check(sqlite3 *db, int rc, const char *what)
{
  if (rc == SQLITE_OK || rc == SQLITE_DONE) return 0;
  fprintf(stderr, "floor: %s: %s\n", what, sqlite3_errmsg(db));
  return -1;
}

int main(int argc, char **argv)
{
  if (argc < 2 || (argc == 3 && strcmp(argv[2], "--fts") != 0) || argc > 3) {
    fprintf(stderr, "usage: floor DATABASE [--fts] < FILE-LIST\n");
    return 2;
  }
  gboolean fts = argc == 3;
  if (g_file_test(argv[1], G_FILE_TEST_EXISTS)) {
    fprintf(stderr, "floor: %s exists\n", argv[1]);
    return 2;
  }
  sqlite3 *db = NULL;
  if (sqlite3_open(argv[1], &db) != SQLITE_OK) {
    fprintf(stderr, "floor: cannot open %s: %s\n", argv[1], db ? sqlite3_errmsg(db) : "out of memory");
    return 1;
  }
  sqlite3_stmt *put = NULL, *index = NULL;
  if (check(db,
            sqlite3_exec(db,
                         "PRAGMA page_size=8192; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "PRAGMA cache_size=-16000; PRAGMA secure_delete=ON; PRAGMA wal_autocheckpoint=4000;"
                         "CREATE TABLE blobs(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL);"
                         "CREATE VIRTUAL TABLE texts USING fts5(body, tokenize='unicode61');",
                         NULL, NULL, NULL),
            "schema") < 0 ||
      check(db, sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO blobs VALUES(?, ?, ?)", -1, &put, NULL), "prepare") < 0 ||
      check(db, sqlite3_prepare_v2(db, "INSERT INTO texts(body) VALUES(?)", -1, &index, NULL), "prepare") < 0 ||
      check(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin") < 0)
    return 1;

  g_mime_init();
  GString *text = g_string_new(NULL);
  char line[4096];
  int n = 0, failed = 0;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    if (!*line) continue;
    gchar *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(line, &data, &len, NULL)) {
      fprintf(stderr, "floor: cannot read %s\n", line);
      failed++;
      continue;
    }
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(data, len); /* copies data */
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
    g_string_truncate(text, 0);
    if (m) {
      g_mime_message_foreach(m, collect_text, text);
      g_object_unref(m);
    }
    g_object_unref(parser);
    g_object_unref(stream);

    unsigned char digest[32];
    char hex[65];
    EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) g_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    sqlite3_bind_text(put, 1, hex, 64, SQLITE_STATIC);
    sqlite3_bind_int64(put, 2, (sqlite3_int64)len);
    sqlite3_bind_blob(put, 3, data, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step(put);
    sqlite3_reset(put);
    if (check(db, rc, "insert") < 0) return 1;
    if (fts) {
      sqlite3_bind_text(index, 1, text->str, (int)text->len, SQLITE_STATIC);
      rc = sqlite3_step(index);
      sqlite3_reset(index);
      if (check(db, rc, "index") < 0) return 1;
    }
    g_free(data);
    if (++n % BATCH == 0 && check(db, sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL), "commit") < 0) return 1;
  }
  if (check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit") < 0) return 1;
  sqlite3_finalize(put);
  sqlite3_finalize(index);
  sqlite3_close(db);
  g_string_free(text, TRUE);
  g_mime_shutdown();
  printf("stored %d messages (%d unreadable)%s\n", n, failed, fts ? ", text indexed" : "");
  return failed ? 1 : 0;
}
