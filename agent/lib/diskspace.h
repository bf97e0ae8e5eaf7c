/* diskspace.h - free space under a directory, for the reserves that keep a full disk from
 * turning into lost or unreadable data: SMTP answers 452 below [smtp] disk_reserve, the pipeline
 * pauses below [storage] archive_reserve, `serve` refuses to start below MA_DISK_START_MIN.
 */
#ifndef MA_DISKSPACE_H
#define MA_DISKSPACE_H

#include <glib.h>

/* What `serve` needs free to open its databases at all: each WAL index (32 KiB) and the first WAL
 * frames of the archive and the spool, with room to spare. */
#define MA_DISK_START_MIN ((gint64) 1024 * 1024)

/* Bytes an unprivileged process may still write on the filesystem holding path (statvfs
 * f_bavail * f_frsize). 0, or -1 with errno set (path missing...): the caller decides what an
 * unknown answer means. One system call; never blocks on anything but the kernel. */
int ma_disk_free(const char *path, gint64 *bytes);

#endif
