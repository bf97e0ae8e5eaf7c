/* private_files.c - modes of the data directory and its files (see private_files.h). Reads only
 * names and modes (lstat), changes only modes (chmod on what lstat saw as a regular file or a
 * directory), and only to narrow them.
 */
#include "private_files.h"

#include "agent/lib/error.h"
#include "agent/lib/log.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

void ma_private_umask(void) { umask(077); }

/* Narrows path to `mode` when it has any bit beyond it. Returns 0 or -1. */
static int narrow(const char *path, mode_t mode, gboolean want_dir, GPtrArray *changed, GError **error)
{
  struct stat sb;
  if (lstat(path, &sb) < 0) {
    if (errno == ENOENT) return 0;
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "%s: %s", path, g_strerror(errno));
    return -1;
  }
  if (want_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode)) return 0; /* links and the like: left alone */
  if ((sb.st_mode & 07777 & ~mode) == 0) return 0;
  if (chmod(path, sb.st_mode & mode) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "%s: cannot make it private (mode %04o): %s", path,
                (unsigned) (sb.st_mode & 07777), g_strerror(errno));
    return -1;
  }
  if (changed) g_ptr_array_add(changed, g_strdup(path));
  return 0;
}

static gboolean is_database_file(const char *name)
{
  static const char *const suffixes[] = {".db", ".db-wal", ".db-shm", ".db-journal"};
  for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++)
    if (g_str_has_suffix(name, suffixes[i])) return TRUE;
  return FALSE;
}

/* TRUE when path lies inside dir (both as configured, compared after canonicalising). */
static gboolean inside(const char *dir, const char *path)
{
  g_autofree char *d = g_canonicalize_filename(dir, NULL);
  g_autofree char *p = g_canonicalize_filename(path, NULL);
  gsize n = strlen(d);
  return strncmp(p, d, n) == 0 && p[n] == G_DIR_SEPARATOR;
}

/* A key file: narrowed inside the data directory, only reported outside it. */
static int key_file(const MaConfig *cfg, const char *path, GPtrArray *changed, GError **error)
{
  if (!path) return 0;
  if (inside(cfg->data_dir, path)) {
    g_autofree char *parent = g_path_get_dirname(path);
    if (inside(cfg->data_dir, parent) && narrow(parent, 0700, TRUE, changed, error) < 0)
      return -1;
    return narrow(path, 0600, FALSE, changed, error);
  }
  struct stat sb;
  if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (sb.st_mode & 0007))
    ma_warn("files", "%s is readable by every local user (mode %04o); it is outside the data directory, so "
            "mailagent leaves it as it is", path, (unsigned) (sb.st_mode & 07777));
  return 0;
}

int ma_private_data_dir(const MaConfig *cfg, GPtrArray *changed, GError **error)
{
  if (narrow(cfg->data_dir, 0700, TRUE, changed, error) < 0) return -1;
  GDir *dir = g_dir_open(cfg->data_dir, 0, error);
  if (!dir) return -1;
  const char *name;
  int rc = 0;
  while (rc == 0 && (name = g_dir_read_name(dir)) != NULL) {
    if (!is_database_file(name)) continue;
    g_autofree char *path = g_build_filename(cfg->data_dir, name, NULL);
    rc = narrow(path, 0600, FALSE, changed, error);
  }
  g_dir_close(dir);
  if (rc < 0) return -1;
  const char *const keys[] = {cfg->master_key_file, cfg->tls_key_file, cfg->api_tls_key_file};
  for (gsize i = 0; i < G_N_ELEMENTS(keys); i++)
    if (key_file(cfg, keys[i], changed, error) < 0) return -1;
  return 0;
}
