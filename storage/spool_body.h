/* spool_body.h - message bodies of the spool, one file per message in data_dir/spool/ (issue 9:
 * an SMTP session's memory is bounded by a small buffer, not by the message it receives).
 *
 * Life of a body: spool_body_create makes <id>.eml (O_EXCL, 0600) at once, spool_body_new_buffered
 * (the SMTP listener's, when DATA/BDAT begins) only once the message outgrows 64 KiB: a smaller
 * message never has a file, its octets go into its spool row. The
 * receiving session appends the decoded octets as they arrive (spool_body_write: a 64 KiB buffer,
 * page-cache writes, never a sync, so it may run on the event loop); spool_body_sync makes its
 * octets durable (fdatasync) and spool_body_sync_dir its name (one fsync of the directory for a
 * whole batch of new files) before the database row that names it commits (spool_put, spool.h),
 * which then marks it kept. A body freed without being kept is
 * unlinked, so a refused, aborted or failed message leaves nothing; a crash leaves at worst an
 * orphan file, which spool_sweep_orphans (spool.h) removes at the next start.
 *
 * Errors while writing (disk full, I/O) are sticky: later writes do nothing and spool_body_status
 * reports the first one once, at the end of the message. Never logs message data.
 */
#ifndef MA_SPOOL_BODY_H
#define MA_SPOOL_BODY_H

#include "agent/lib/raw.h"

#include <glib.h>

#define SPOOL_BODY_DIR "spool"
#define SPOOL_BODY_SUFFIX ".eml"

typedef struct MaSpoolBody MaSpoolBody;

/* Creates data_dir/spool/<id>.eml for writing (the directory must exist: spool_open makes it).
 * id must be a spool id (letters, digits, '-', '_'). 0 and *out (free with spool_body_free), or -1
 * with *error (MA_ERROR_TEMPFAIL). */
int spool_body_create(const char *data_dir, const char *id, MaSpoolBody **out, GError **error);

/* A body for data_dir/spool/<id>.eml that makes its file only when its octets outgrow its 64 KiB
 * buffer (the first spool_body_write that does not fit; a failure there is the sticky error).
 * Until then it is in memory: spool_body_flush and spool_body_sync do nothing, and spool_put keeps
 * the octets in the spool row, made durable by the row's own commit (no file, no file sync: an
 * SMTP message of a few KB costs no file system operation). 0 and *out (the caller's: free with
 * spool_body_free, or hand it to spool_put in an entry), or -1 with *error only for an id that is
 * no spool id. */
int spool_body_new_buffered(const char *data_dir, const char *id, MaSpoolBody **out, GError **error);
/* TRUE while a buffered body has no file; its octets are then spool_body_memory's. */
gboolean spool_body_in_memory(const MaSpoolBody *b);
/* The octets of a body in memory (owned by b; valid until the next write or free). */
const guint8 *spool_body_memory(const MaSpoolBody *b, gsize *len);

/* Appends n octets (buffered). After an error nothing more is written (see spool_body_status). */
void spool_body_write(MaSpoolBody *b, const void *p, gsize n);
/* Writes out the buffer (nothing for a body in memory). 0, or -1 with *error for the first write
 * error met (sticky). */
int spool_body_flush(MaSpoolBody *b, GError **error);
/* 0 when every write so far succeeded, else -1 with *error (a copy of the sticky error). */
int spool_body_status(const MaSpoolBody *b, GError **error);
/* TRUE when the sticky error is a full disk or quota (the SMTP answer is 452 4.3.1, not 451). */
gboolean spool_body_no_space(const MaSpoolBody *b);

/* Octets appended so far. */
gint64 spool_body_size(const MaSpoolBody *b);
/* The spool id it was created for, owned by b. */
const char *spool_body_id(const MaSpoolBody *b);
/* The file name inside the spool directory ("<id>.eml"), owned by b. */
const char *spool_body_name(const MaSpoolBody *b);
/* The full path, owned by b. */
const char *spool_body_path(const MaSpoolBody *b);

/* Reads the first min(len, size) octets back: the header section the forwarder policy judges at
 * the end of DATA. From the buffer while nothing was written out yet, else flushing and reading
 * the file. *out is newly allocated (g_bytes_unref). 0 or -1 with *error (the sticky one too). */
int spool_body_read_head(MaSpoolBody *b, gsize len, GBytes **out, GError **error);

/* Flushes, fdatasyncs and closes the file (the spool writer's threads, never the loop). Its name
 * is durable only after a later spool_body_sync_dir. Once synced, a second call only reports the
 * status. 0 or -1 with *error. */
int spool_body_sync(MaSpoolBody *b, GError **error);
/* fsyncs data_dir/spool/: every body file created there before the call keeps its name across a
 * crash. One call serves a whole batch. 0 or -1 with *error (MA_ERROR_TEMPFAIL). */
int spool_body_sync_dir(const char *data_dir, GError **error);
/* A spool_body_sync_dir that began after b was created returned 0: spool_put need not sync the
 * directory for b (the spool writer syncs it while the batch's files sync). */
void spool_body_name_synced(MaSpoolBody *b);
gboolean spool_body_name_is_synced(const MaSpoolBody *b);
/* The row naming this file committed: spool_body_free keeps the file from now on. */
void spool_body_keep(MaSpoolBody *b);
/* Closes; unlinks the file unless spool_body_keep was called. Accepts NULL. */
void spool_body_free(MaSpoolBody *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaSpoolBody, spool_body_free)

/* ---- the spool directory (used by spool.c) ------------------------------------------------ */

/* TRUE when name is one the spool could have made: "<id>.eml" with a spool id. A name read from
 * the database is checked with it before it becomes a path. */
gboolean spool_body_name_valid(const char *name);
/* Reads data_dir/spool/name whole into *out. -1 with MA_ERROR_NOT_FOUND when the file is missing,
 * MA_ERROR_TEMPFAIL for an I/O error, MA_ERROR_LIMIT when it is over max_size octets. */
int spool_body_load(const char *data_dir, const char *name, gint64 max_size, GBytes **out, GError **error);
/* spool_body_load as a MaRaw (raw.h): a body of MA_RAW_MAP_MIN octets or more is mapped, not read.
 * The file must stay as it is while *out lives: free it before the entry's spool_done (a done body
 * may be recycled for the next message and overwritten). */
int spool_body_open(const char *data_dir, const char *name, gint64 max_size, MaRaw **out, GError **error);
/* Unlinks data_dir/spool/name (a body or a recycled file); a missing file is not an error. */
int spool_body_unlink(const char *data_dir, const char *name, GError **error);
/* The message in data_dir/spool/name is finished with: its file is kept for recycling when that
 * is on (renamed "<n>.free"), else unlinked. 0, or -1 with *error. */
int spool_body_release(const char *data_dir, const char *name, GError **error);

/* Recycling of finished body files (`serve` turns it on, after the orphan sweep and before any
 * session): on ext4 without a journal every new file's inode allocation scans the inodes freed in
 * the last ~30 s (recently_deleted), so creating a file per message right after unlinking one per
 * message made file creation most of the SMTP loop's CPU (perf). spool_body_release renames a
 * finished file to "<n>.free" (at most 1024 are kept, process-wide), and spool_body_create takes
 * one (renamed to "<id>.eml", never over an existing file) before it creates anything: no inode
 * is freed or allocated, and a message no longer than the last one reuses its blocks in place.
 * Turning it off unlinks what is kept; the orphan sweep unlinks "*.free" files a crash left. */
void spool_body_set_recycling(gboolean on);
/* TRUE for a recycled file's name ("<digits>.free"). */
gboolean spool_body_name_recycled(const char *name);

#endif
