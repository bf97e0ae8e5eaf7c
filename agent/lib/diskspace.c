/* diskspace.c - free space under a directory (diskspace.h). */
#include "diskspace.h"

#include <sys/statvfs.h>

int ma_disk_free(const char *path, gint64 *bytes)
{
  struct statvfs v;
  if (statvfs(path, &v) < 0) return -1;
  *bytes = (gint64) v.f_bavail * (gint64) v.f_frsize;
  return 0;
}
