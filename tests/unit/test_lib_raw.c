/* test_lib_raw.c - agent/lib/raw.h: a small file is read into memory and a large one mapped (and
 * ma_raw_open_mapped maps any), the size limit and the errors, and that giving pages back never
 * changes what is read: the same octets, digest and cursor stream before and after
 * ma_raw_release, in memory and mapped, and RSS drops when a mapped file's pages are released.
 */
#include "agent/lib/crypto.h"
#include "agent/lib/error.h"
#include "agent/lib/raw.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static char *write_temp(gsize len, guint seed, char **contents)
{
  char *path = NULL;
  int fd = g_file_open_tmp("test_lib_raw-XXXXXX", &path, NULL);
  g_assert_cmpint(fd, >=, 0);
  close(fd);
  char *data = g_malloc(len ? len : 1);
  for (gsize i = 0; i < len; i++) data[i] = (char) ("abcdefgh\r\n"[(i * 7 + seed) % 10]);
  g_assert_true(g_file_set_contents(path, data, (gssize) len, NULL));
  *contents = data;
  return path;
}

/* Every read the pipeline makes of raw gives the file's octets: all of them, the digest, the
 * cursor in odd pieces. */
static void assert_reads(const MaRaw *raw, const char *want, gsize len)
{
  g_assert_cmpuint(ma_raw_len(raw), ==, len);
  g_assert_true(memcmp(ma_raw_data(raw), want, len) == 0);
  char got[65], expected[65];
  ma_sha256_hex(want, len, expected);
  ma_raw_sha256_hex(raw, got);
  g_assert_cmpstr(got, ==, expected);
  MaRawCursor c = {.raw = raw};
  GString *all = g_string_new(NULL);
  guint8 piece[4099];
  gssize n;
  while ((n = ma_raw_cursor_read(&c, piece, sizeof piece, NULL)) > 0) g_string_append_len(all, (char *) piece, n);
  g_assert_cmpuint(all->len, ==, len);
  g_assert_true(memcmp(all->str, want, len) == 0);
  g_string_free(all, TRUE);
}

static gsize rss_kb(void)
{
  g_autofree char *status = NULL;
  g_assert_true(g_file_get_contents("/proc/self/status", &status, NULL, NULL));
  const char *p = strstr(status, "RssFile:");
  g_assert_nonnull(p);
  return (gsize) g_ascii_strtoull(p + 8, NULL, 10);
}

static void test_small_in_memory(void)
{
  char *want = NULL;
  g_autofree char *path = write_temp(5000, 1, &want);
  g_autoptr(MaRaw) raw = NULL;
  g_assert_cmpint(ma_raw_open(path, 1 << 20, &raw, NULL), ==, 0);
  g_assert_cmpint(ma_raw_fd(raw), ==, -1); /* under MA_RAW_MAP_MIN: read */
  assert_reads(raw, want, 5000);
  ma_raw_release(raw, 0, 5000); /* nothing to give back: the octets stay */
  assert_reads(raw, want, 5000);
  g_clear_pointer(&raw, ma_raw_free);
  g_assert_cmpint(ma_raw_open_mapped(path, 1 << 20, &raw, NULL), ==, 0);
  g_assert_cmpint(ma_raw_fd(raw), >=, 0); /* mapped whatever its size */
  assert_reads(raw, want, 5000);
  g_unlink(path);
  g_free(want);
}

static void test_large_mapped(void)
{
  gsize len = 3 * MA_RAW_MAP_MIN + 12345;
  char *want = NULL;
  g_autofree char *path = write_temp(len, 3, &want);
  g_autoptr(MaRaw) raw = NULL;
  g_assert_cmpint(ma_raw_open(path, len, &raw, NULL), ==, 0);
  g_assert_cmpint(ma_raw_fd(raw), >=, 0);
  volatile guint sum = 0;
  for (gsize i = 0; i < len; i += 4096) sum += (guchar) ma_raw_data(raw)[i]; /* every page resident */
  gsize touched = rss_kb();
  ma_raw_release(raw, 0, len);
  g_assert_cmpuint(rss_kb() + len / 1024 / 2, <, touched); /* most of it left the resident set */
  assert_reads(raw, want, len); /* ... and reads the same */
  ma_raw_release(raw, 777, 5 * 4096 + 3); /* a range inside: its pages go, the octets stay */
  ma_raw_release(raw, len - 10, 100);     /* past the end: cut there */
  assert_reads(raw, want, len);
  g_unlink(path);
  g_free(want);
}

static void test_errors(void)
{
  char *want = NULL;
  g_autofree char *path = write_temp(100, 0, &want);
  g_autoptr(GError) error = NULL;
  MaRaw *raw = NULL;
  g_assert_cmpint(ma_raw_open(path, 99, &raw, &error), ==, -1); /* one octet over: refused unread */
  g_assert_null(raw);
  g_assert_error(error, MA_ERROR, MA_ERROR_LIMIT);
  g_clear_error(&error);
  g_assert_cmpint(ma_raw_open(path, 100, &raw, &error), ==, 0); /* exactly the limit passes */
  ma_raw_free(raw);
  g_unlink(path);
  g_assert_cmpint(ma_raw_open(path, 100, &raw, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_cmpint(ma_raw_open(g_get_tmp_dir(), 100, &raw, &error), ==, -1); /* a directory */
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_free(want);
  /* an empty file: in memory, never mapped */
  g_autofree char *empty = write_temp(0, 0, &want);
  g_assert_cmpint(ma_raw_open_mapped(empty, 100, &raw, NULL), ==, 0);
  g_assert_cmpint(ma_raw_fd(raw), ==, -1);
  assert_reads(raw, "", 0);
  ma_raw_free(raw);
  g_unlink(empty);
  g_free(want);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/lib/raw/small_in_memory", test_small_in_memory);
  g_test_add_func("/lib/raw/large_mapped", test_large_mapped);
  g_test_add_func("/lib/raw/errors", test_errors);
  return g_test_run();
}
