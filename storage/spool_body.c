/* spool_body.c - one file per spooled message (see spool_body.h).
 *
 * A body owns an O_RDWR|O_EXCL descriptor and a 64 KiB buffer allocated at the first write, so a
 * session costs that much whatever the message size. A buffered body (spool_body_new_buffered)
 * makes its file only when its octets outgrow the buffer; until then it is in memory, flushing and
 * syncing it do nothing, and spool_put stores its octets in the row. Short writes are retried,
 * EINTR too; the first error is kept (errno and text) and every later write is dropped. Reading back for the forwarder
 * policy copies from the buffer while the whole message is still there (most messages: no system
 * call), else uses pread, so the write position never moves. A body's sync is its file's
 * fdatasync only; the directory entries of a whole batch are made durable by one
 * spool_body_sync_dir (spool_put), not one directory fsync per message.
 *
 * Recycling (spool_body_set_recycling, see spool_body.h) keeps finished files as "<n>.free" in a
 * process-wide list instead of unlinking them, and spool_body_create renames one to the new id
 * (renameat2 RENAME_NOREPLACE, so never over an existing file) before it creates a file.
 *
 * Must never: sync on the event loop (only spool_body_sync does, on the spool writer's thread);
 * build a path from a name that spool_body_name_valid refuses; unlink a body that was kept.
 */
#include "spool_body.h"

#include "agent/lib/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* renameat2 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BODY_BUFFER (64 * 1024)
#define BODY_NAME_MAX 64
#define FREE_SUFFIX ".free"
#define FREE_MAX 1024 /* recycled files kept at most (a few MB of inodes and blocks) */

/* Recycled body files (spool_body_set_recycling): full paths of "<n>.free" files in spool
 * directories, waiting to become the next message's file. Process-wide: the pipeline's threads
 * put files here, the SMTP loop takes them. */
static struct {
  GMutex lock;
  gboolean on;
  GPtrArray *paths;  /* char*, the newest last */
  guint64 next;      /* names the next one */
} recycled;

struct MaSpoolBody {
  int fd;                 /* -1 once synced and closed, or while in memory */
  gboolean in_memory;     /* spool_body_new_buffered: no file yet, every octet in buf */
  char *path;
  char *id;
  char *name;
  guint8 *buf;            /* BODY_BUFFER octets, allocated at the first write */
  gsize nbuf;
  gint64 size;            /* octets appended */
  gboolean reused;        /* a recycled file: may hold an older message's octets past size */
  gboolean name_synced;   /* a directory sync that began after the file was named has completed */
  int err;                /* first errno met, 0 when none */
  char *err_what;
  gboolean kept;
};

static gboolean id_char(char c) { return g_ascii_isalnum(c) || c == '-' || c == '_'; }
static gboolean digit_char(char c) { return g_ascii_isdigit(c); }

/* TRUE when name is one or more characters that ok accepts, then suffix, BODY_NAME_MAX at most. */
static gboolean name_of_form(const char *name, const char *suffix, gboolean (*ok)(char c))
{
  gsize n = name ? strlen(name) : 0, sfx = strlen(suffix);
  if (n <= sfx || n > BODY_NAME_MAX || !g_str_has_suffix(name, suffix)) return FALSE;
  for (gsize i = 0; i < n - sfx; i++)
    if (!ok(name[i])) return FALSE;
  return TRUE;
}

gboolean spool_body_name_valid(const char *name)
{
  return name_of_form(name, SPOOL_BODY_SUFFIX, id_char);
}

static char *body_path(const char *data_dir, const char *name)
{
  return g_build_filename(data_dir, SPOOL_BODY_DIR, name, NULL);
}

static int fail_errno(GError **error, int err, const char *what, const char *path)
{
  g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "spool: %s %s: %s", what, path, g_strerror(err));
  return -1;
}

/* ---- recycled files ----------------------------------------------------------------------- */

void spool_body_set_recycling(gboolean on)
{
  g_mutex_lock(&recycled.lock);
  recycled.on = on;
  if (!recycled.paths) recycled.paths = g_ptr_array_new_with_free_func(g_free);
  if (!on) {
    for (guint i = 0; i < recycled.paths->len; i++) unlink(recycled.paths->pdata[i]);
    g_ptr_array_set_size(recycled.paths, 0);
  }
  g_mutex_unlock(&recycled.lock);
}

/* Renames a recycled file of path's directory to path (never over an existing file) and opens it
 * at offset 0, its old octets still there (overwritten as the message arrives, cut at its size by
 * spool_body_sync). The descriptor, or -1 when there is none to take. */
static int take_recycled(const char *path)
{
  g_autofree char *dir = g_path_get_dirname(path);
  char *from = NULL;
  g_mutex_lock(&recycled.lock);
  for (guint i = recycled.paths ? recycled.paths->len : 0; i > 0 && !from; i--) {
    const char *p = recycled.paths->pdata[i - 1];
    if (strncmp(p, dir, strlen(dir)) == 0 && p[strlen(dir)] == '/' && !strchr(p + strlen(dir) + 1, '/'))
      from = g_ptr_array_steal_index(recycled.paths, i - 1);
  }
  g_mutex_unlock(&recycled.lock);
  if (!from) return -1;
  int fd = -1;
  if (renameat2(AT_FDCWD, from, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
    fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) unlink(path);
  } else {
    unlink(from); /* an id that exists already (O_EXCL's case): the caller's create reports it */
  }
  g_free(from);
  return fd;
}

/* Keeps data_dir/spool/name for a later message instead of unlinking it (recycling on and fewer
 * than FREE_MAX kept): no inode to free now and none to allocate then. 0 when kept. */
static int keep_recycled(const char *data_dir, const char *name)
{
  g_mutex_lock(&recycled.lock);
  gboolean room = recycled.on && recycled.paths->len < FREE_MAX;
  guint64 n = room ? recycled.next++ : 0;
  g_mutex_unlock(&recycled.lock);
  if (!room) return -1;
  g_autofree char *path = body_path(data_dir, name);
  char free_name[32];
  g_snprintf(free_name, sizeof free_name, "%" G_GUINT64_FORMAT FREE_SUFFIX, n);
  char *to = body_path(data_dir, free_name);
  if (rename(path, to) < 0) {
    g_free(to);
    return -1;
  }
  g_mutex_lock(&recycled.lock);
  gboolean still_on = recycled.on;
  if (still_on) g_ptr_array_add(recycled.paths, to);
  g_mutex_unlock(&recycled.lock);
  if (!still_on) { /* turned off meanwhile */
    unlink(to);
    g_free(to);
  }
  return 0;
}

gboolean spool_body_name_recycled(const char *name)
{
  return name_of_form(name, FREE_SUFFIX, digit_char);
}

/* ---- one body ------------------------------------------------------------------------------ */

/* A body with no file yet (fd -1, in_memory), or NULL with *error when id is no spool id. */
static MaSpoolBody *body_new(const char *data_dir, const char *id, GError **error)
{
  g_autofree char *name = g_strconcat(id ? id : "", SPOOL_BODY_SUFFIX, NULL);
  if (!spool_body_name_valid(name)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "spool: not a spool id: \"%s\"", id ? id : "");
    return NULL;
  }
  MaSpoolBody *b = g_new0(MaSpoolBody, 1);
  b->fd = -1;
  b->in_memory = TRUE;
  b->path = body_path(data_dir, name);
  b->id = g_strdup(id);
  b->name = g_steal_pointer(&name);
  return b;
}

/* Makes the body's file (a recycled one renamed to its name, else a new one, never over an
 * existing file). errno on failure. */
static int body_open_file(MaSpoolBody *b)
{
  int fd = take_recycled(b->path);
  b->reused = fd >= 0;
  if (fd < 0) fd = open(b->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return errno;
  b->fd = fd;
  b->in_memory = FALSE;
  return 0;
}

int spool_body_create(const char *data_dir, const char *id, MaSpoolBody **out, GError **error)
{
  *out = NULL;
  MaSpoolBody *b = body_new(data_dir, id, error);
  if (!b) return -1;
  int err = body_open_file(b);
  if (err) {
    fail_errno(error, err, "cannot create", b->path);
    spool_body_free(b);
    return -1;
  }
  *out = b;
  return 0;
}

int spool_body_new_buffered(const char *data_dir, const char *id, MaSpoolBody **out, GError **error)
{
  *out = body_new(data_dir, id, error);
  return *out ? 0 : -1;
}

gboolean spool_body_in_memory(const MaSpoolBody *b) { return b->in_memory; }

const guint8 *spool_body_memory(const MaSpoolBody *b, gsize *len)
{
  g_assert(b->in_memory);
  *len = b->nbuf;
  return b->buf ? b->buf : (const guint8 *) "";
}

static void set_err(MaSpoolBody *b, int err, const char *what)
{
  if (b->err) return;
  b->err = err ? err : EIO;
  b->err_what = g_strdup(what);
}

/* Writes n octets at the current position, retrying short writes. */
static void write_all(MaSpoolBody *b, const guint8 *p, gsize n)
{
  while (n > 0 && !b->err) {
    ssize_t w = write(b->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      set_err(b, w < 0 ? errno : EIO, "cannot write");
      return;
    }
    p += w;
    n -= (gsize) w;
  }
}

static void flush_buffer(MaSpoolBody *b)
{
  if (b->in_memory) return; /* the buffer is the body */
  if (b->nbuf && b->fd >= 0) write_all(b, b->buf, b->nbuf);
  b->nbuf = 0;
}

void spool_body_write(MaSpoolBody *b, const void *p, gsize n)
{
  g_assert(b != NULL);
  if (b->err || n == 0) return;
  if (b->fd < 0 && !b->in_memory) {
    set_err(b, EBADF, "write after sync to");
    return;
  }
  b->size += (gint64) n;
  if (!b->buf) b->buf = g_malloc(BODY_BUFFER);
  if (b->nbuf + n > BODY_BUFFER && b->in_memory) { /* outgrew the buffer: from now on a file */
    int err = body_open_file(b);
    if (err) {
      set_err(b, err, "cannot create");
      return;
    }
  }
  if (b->nbuf + n > BODY_BUFFER) flush_buffer(b);
  if (n >= BODY_BUFFER) {
    write_all(b, p, n); /* a large run goes straight to the file */
    return;
  }
  memcpy(b->buf + b->nbuf, p, n);
  b->nbuf += n;
}

int spool_body_status(const MaSpoolBody *b, GError **error)
{
  g_assert(b != NULL);
  if (!b->err) return 0;
  return fail_errno(error, b->err, b->err_what, b->path);
}

int spool_body_flush(MaSpoolBody *b, GError **error)
{
  g_assert(b != NULL);
  flush_buffer(b);
  return spool_body_status(b, error);
}

gboolean spool_body_no_space(const MaSpoolBody *b)
{
  return b && (b->err == ENOSPC || b->err == EDQUOT);
}

gint64 spool_body_size(const MaSpoolBody *b) { return b->size; }
const char *spool_body_id(const MaSpoolBody *b) { return b->id; }
void spool_body_name_synced(MaSpoolBody *b) { b->name_synced = TRUE; }
gboolean spool_body_name_is_synced(const MaSpoolBody *b) { return b->name_synced; }
const char *spool_body_name(const MaSpoolBody *b) { return b->name; }
const char *spool_body_path(const MaSpoolBody *b) { return b->path; }

int spool_body_read_head(MaSpoolBody *b, gsize len, GBytes **out, GError **error)
{
  *out = NULL;
  if (spool_body_status(b, error) < 0) return -1;
  len = MIN(len, (gsize) b->size);
  if (b->nbuf == (gsize) b->size) { /* the whole file is still in the buffer: no write, no read */
    *out = g_bytes_new(b->buf, len);
    return 0;
  }
  if (spool_body_flush(b, error) < 0) return -1;
  if (b->fd < 0) return fail_errno(error, EBADF, "read back after sync from", b->path);
  guint8 *data = g_malloc(len + 1);
  gsize got = 0;
  while (got < len) {
    ssize_t r = pread(b->fd, data + got, len - got, (off_t) got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      g_free(data);
      return fail_errno(error, e, "cannot read back", b->path);
    }
    got += (gsize) r;
  }
  *out = g_bytes_new_take(data, len);
  return 0;
}

int spool_body_sync(MaSpoolBody *b, GError **error)
{
  g_assert(b != NULL);
  if (b->fd < 0) return spool_body_status(b, error); /* synced already, or in memory (the row holds it) */
  flush_buffer(b);
  g_clear_pointer(&b->buf, g_free);
  /* a recycled file: cut what an older, longer message left behind */
  if (!b->err && b->reused && ftruncate(b->fd, (off_t) b->size) < 0) set_err(b, errno, "cannot truncate");
  if (!b->err && fdatasync(b->fd) < 0) set_err(b, errno, "cannot sync");
  if (close(b->fd) < 0 && !b->err && errno != EINTR) set_err(b, errno, "cannot close");
  b->fd = -1;
  return spool_body_status(b, error);
}

int spool_body_sync_dir(const char *data_dir, GError **error)
{
  g_autofree char *dir = g_build_filename(data_dir, SPOOL_BODY_DIR, NULL);
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail_errno(error, errno, "cannot open the directory", dir);
  int err = fsync(fd) < 0 ? errno : 0;
  close(fd);
  if (err) return fail_errno(error, err, "cannot sync the directory", dir);
  return 0;
}

void spool_body_keep(MaSpoolBody *b)
{
  g_assert(b != NULL && b->fd < 0 && !b->err);
  b->kept = TRUE;
}

void spool_body_free(MaSpoolBody *b)
{
  if (!b) return;
  if (b->fd >= 0) close(b->fd);
  if (!b->kept && !b->in_memory) unlink(b->path);
  g_free(b->buf);
  g_free(b->path);
  g_free(b->id);
  g_free(b->name);
  g_free(b->err_what);
  g_free(b);
}

/* ---- the spool directory ------------------------------------------------------------------- */

/* Opens data_dir/spool/name for reading and checks it is a regular file of at most max_size octets
 * (0: any). The descriptor with *path_out and *len set (the caller closes and frees them), or -1
 * with spool_body_load's errors. */
static int open_body(const char *data_dir, const char *name, gint64 max_size, char **path_out, gsize *len,
                     GError **error)
{
  if (!spool_body_name_valid(name)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "spool: invalid body file name in the spool database");
    return -1;
  }
  g_autofree char *path = body_path(data_dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "spool: body file %s is missing", path);
    return -1;
  }
  if (fd < 0) return fail_errno(error, errno, "cannot open", path);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    return fail_errno(error, e, "cannot stat", path);
  }
  if (!S_ISREG(st.st_mode) || (max_size > 0 && st.st_size > max_size)) {
    close(fd);
    g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "spool: body file %s is not a regular file under %" G_GINT64_FORMAT
                " octets", path, max_size);
    return -1;
  }
  *len = (gsize) st.st_size;
  *path_out = g_steal_pointer(&path);
  return fd;
}

int spool_body_load(const char *data_dir, const char *name, gint64 max_size, GBytes **out, GError **error)
{
  *out = NULL;
  g_autofree char *path = NULL;
  gsize len = 0, got = 0;
  int fd = open_body(data_dir, name, max_size, &path, &len, error);
  if (fd < 0) return -1;
  guint8 *data = g_malloc(len + 1);
  while (got < len) {
    ssize_t r = read(fd, data + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      close(fd);
      g_free(data);
      return fail_errno(error, e, r < 0 ? "cannot read" : "file shrank:", path);
    }
    got += (gsize) r;
  }
  close(fd);
  *out = g_bytes_new_take(data, len);
  return 0;
}

int spool_body_open(const char *data_dir, const char *name, gint64 max_size, MaRaw **out, GError **error)
{
  *out = NULL;
  g_autofree char *path = NULL;
  gsize len = 0;
  int fd = open_body(data_dir, name, max_size, &path, &len, error);
  if (fd < 0) return -1;
  if (ma_raw_from_fd(fd, path, G_MAXSIZE, out, error) == 0) return 0;
  if (error && *error) (*error)->code = MA_ERROR_TEMPFAIL; /* the file checked a moment ago: I/O */
  return -1;
}

int spool_body_release(const char *data_dir, const char *name, GError **error)
{
  if (!spool_body_name_valid(name)) return 0;
  if (keep_recycled(data_dir, name) == 0) return 0;
  return spool_body_unlink(data_dir, name, error);
}

int spool_body_unlink(const char *data_dir, const char *name, GError **error)
{
  if (!spool_body_name_valid(name) && !spool_body_name_recycled(name))
    return 0; /* never a path from a name we could not have made */
  g_autofree char *path = body_path(data_dir, name);
  if (unlink(path) < 0 && errno != ENOENT) return fail_errno(error, errno, "cannot remove", path);
  return 0;
}
