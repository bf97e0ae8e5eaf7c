/* raw.c - one message's octets in memory or in a mapped file (raw.h): opening, the bounded read
 * of a small file, the read-only mapping of a large one, releasing pages behind linear passes,
 * hashing and the blob-store cursor.
 */
#include "raw.h"

#include "crypto.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAW_PIECE (1024 * 1024) /* octets hashed or handed out between two releases */

struct MaRaw {
  const char *data;
  gsize len;
  GBytes *bytes; /* owned, when the octets are in memory and counted */
  void *map;     /* owned mapping of map_len octets, or NULL */
  gsize map_len;
  int fd;        /* owned, with the mapping; -1 otherwise */
};

MaRaw *ma_raw_new_static(const void *data, gsize len)
{
  MaRaw *r = g_new0(MaRaw, 1);
  r->data = data ? data : "";
  r->len = len;
  r->fd = -1;
  return r;
}

MaRaw *ma_raw_new_bytes(GBytes *bytes)
{
  gsize len = 0;
  const void *data = g_bytes_get_data(bytes, &len);
  MaRaw *r = ma_raw_new_static(data, len);
  r->bytes = g_bytes_ref(bytes);
  return r;
}

static int open_error(const char *path, int err, GError **error)
{
  g_set_error(error, MA_ERROR, err == ENOENT ? MA_ERROR_NOT_FOUND : MA_ERROR_TEMPFAIL, "%s: %s", path,
              g_strerror(err));
  return -1;
}

/* Reads exactly len octets of fd into a new buffer (a short read means the file changed). */
static GBytes *read_small(int fd, gsize len, const char *path, GError **error)
{
  char *buf = g_malloc(len + 1);
  gsize got = 0;
  while (got < len) {
    ssize_t n = pread(fd, buf + got, len - got, (off_t) got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0) open_error(path, errno, error);
      else g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "%s: the file shrank while it was read", path);
      g_free(buf);
      return NULL;
    }
    got += (gsize) n;
  }
  buf[len] = '\0';
  return g_bytes_new_take(buf, len);
}

/* fd's file, mapped when it holds at least map_min octets (and any), else read; takes fd. */
static int raw_from_fd(int fd, const char *path, gsize max, gsize map_min, MaRaw **out, GError **error)
{
  *out = NULL;
  struct stat sb;
  if (fstat(fd, &sb) < 0) {
    int err = errno;
    close(fd);
    return open_error(path, err, error);
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: not a regular file", path);
    return -1;
  }
  gsize len = (gsize) sb.st_size;
  if (len > max) {
    close(fd);
    g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "%s: %" G_GSIZE_FORMAT " octets, more than %" G_GSIZE_FORMAT, path,
                len, max);
    return -1;
  }
  if (len < map_min || len == 0) {
    GBytes *b = read_small(fd, len, path, error);
    close(fd);
    if (!b) return -1;
    *out = ma_raw_new_bytes(b);
    g_bytes_unref(b);
    return 0;
  }
  void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) {
    int err = errno;
    close(fd);
    return open_error(path, err, error);
  }
  (void) madvise(map, len, MADV_SEQUENTIAL); /* a hint for the read-ahead; failing it changes nothing */
  MaRaw *r = ma_raw_new_static(map, len);
  r->map = map;
  r->map_len = len;
  r->fd = fd;
  *out = r;
  return 0;
}

int ma_raw_from_fd(int fd, const char *path, gsize max, MaRaw **out, GError **error)
{
  return raw_from_fd(fd, path, max, MA_RAW_MAP_MIN, out, error);
}

static int open_with(const char *path, gsize max, gsize map_min, MaRaw **out, GError **error)
{
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return open_error(path, errno, error);
  return raw_from_fd(fd, path, max, map_min, out, error);
}

int ma_raw_open(const char *path, gsize max, MaRaw **out, GError **error)
{
  return open_with(path, max, MA_RAW_MAP_MIN, out, error);
}

int ma_raw_open_mapped(const char *path, gsize max, MaRaw **out, GError **error)
{
  return open_with(path, max, 1, out, error);
}

void ma_raw_free(MaRaw *r)
{
  if (!r) return;
  if (r->map) munmap(r->map, r->map_len);
  if (r->fd >= 0) close(r->fd);
  if (r->bytes) g_bytes_unref(r->bytes);
  g_free(r);
}

const char *ma_raw_data(const MaRaw *r) { return r->data; }
gsize ma_raw_len(const MaRaw *r) { return r->len; }
int ma_raw_fd(const MaRaw *r) { return r->map ? r->fd : -1; }

void ma_raw_release(const MaRaw *r, gsize offset, gsize len)
{
  if (!r->map || offset >= r->map_len) return;
  if (len > r->map_len - offset) len = r->map_len - offset;
  gsize page = (gsize) sysconf(_SC_PAGESIZE);
  /* the page the range starts in goes too (the piece before it ended there), the one it ends in
   * stays for the next piece; dropping a page someone still reads costs only a refault */
  gsize start = offset / page * page;
  gsize end = (offset + len) / page * page;
  if (offset + len == r->map_len) end = r->map_len;
  if (end <= start) return;
  /* a private read-only mapping never holds changes of ours: dropping its pages loses nothing */
  (void) madvise((char *) r->map + start, end - start, MADV_DONTNEED);
}

void ma_raw_sha256_hex(const MaRaw *r, char out[65])
{
  if (!r->map) {
    ma_sha256_hex(r->data, r->len, out);
    return;
  }
  MaSha256 *h = ma_sha256_new();
  for (gsize pos = 0; pos < r->len; pos += RAW_PIECE) {
    gsize n = MIN((gsize) RAW_PIECE, r->len - pos);
    ma_sha256_update(h, r->data + pos, n);
    ma_raw_release(r, pos, n);
  }
  ma_sha256_finish(h, out);
}

gssize ma_raw_cursor_read(void *cursor, guint8 *buf, gsize cap, GError **error)
{
  (void) error;
  MaRawCursor *c = cursor;
  gsize n = MIN(cap, c->raw->len - c->pos);
  memcpy(buf, c->raw->data + c->pos, n);
  ma_raw_release(c->raw, c->pos, n);
  c->pos += n;
  return (gssize) n;
}
