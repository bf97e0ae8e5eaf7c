/* raw.h - the octets of one message as the pipeline reads them: a buffer in memory, or a file (a
 * spool body, a file given to `mailagent ingest`) that is never read into memory whole.
 *
 * A file of at least MA_RAW_MAP_MIN octets is mapped read-only. The mapping lets the parser read
 * any slice of the message (a text part, an attached message's bytes) as if it were a buffer, and
 * lets attachments refer to their place in it; the linear passes over the whole message (the
 * pre-scan, hashing, decoding an attachment, copying the message into the blob store) give the
 * pages behind them back as they go (ma_raw_release), and GMime's own scan reads the file through
 * its descriptor (ma_raw_fd), so what a large message costs in resident memory is the slices read
 * at random, not its size. A smaller file is read into memory (one read beats mapping it).
 *
 * Why a mapping and not only pread: the mime module finds parts, boundaries and attached messages
 * by pointer (mime_body.c); a read-only private mapping gives it the same pointers for a file, and
 * releasing a page of it never loses data (the next read faults it back from the page cache). The
 * file must not shrink while mapped (reading past its new end is SIGBUS): spool bodies are written
 * once and never change (a done body may be recycled: spool.h has the mapping freed first), and
 * `mailagent ingest` documents that its input files must stay as they are while it runs. The price
 * of the mapping: a disk error while a page of it is read is SIGBUS too, not an error code (why
 * storage/ runs SQLite with mmap_size=0); only files of MA_RAW_MAP_MIN or more are mapped, and a
 * spool body is read soon after it was written and synced, from the page cache as a rule. A mapped
 * file holds its descriptor until ma_raw_free (GMime reads through it).
 */
#ifndef MA_RAW_H
#define MA_RAW_H

#include <glib.h>

/* Files at least this large are mapped; smaller ones are read into memory. */
#define MA_RAW_MAP_MIN (1024 * 1024)

typedef struct MaRaw MaRaw;

/* A view of data (borrowed: it must outlive the MaRaw). Free with ma_raw_free. */
MaRaw *ma_raw_new_static(const void *data, gsize len);
/* Takes a reference on bytes for the life of the MaRaw. */
MaRaw *ma_raw_new_bytes(GBytes *bytes);
/* Opens path: mapped when it has at least MA_RAW_MAP_MIN octets, else read into memory. 0 with
 * *out (free with ma_raw_free), or -1 with *error: MA_ERROR_LIMIT when the file holds more than max
 * octets (nothing is read), MA_ERROR_NOT_FOUND when it does not exist, MA_ERROR_INVALID when it is
 * no regular file, MA_ERROR_TEMPFAIL for any other I/O error. */
int ma_raw_open(const char *path, gsize max, MaRaw **out, GError **error);
/* ma_raw_open that maps any file that is not empty, whatever its size (tests run every fixture
 * through the mapped path with it). */
int ma_raw_open_mapped(const char *path, gsize max, MaRaw **out, GError **error);
/* ma_raw_open of a descriptor open for reading, which it takes (closed on error, or by ma_raw_free);
 * path only names the file in errors. */
int ma_raw_from_fd(int fd, const char *path, gsize max, MaRaw **out, GError **error);
void ma_raw_free(MaRaw *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaRaw, ma_raw_free)

/* All the octets (the mapping for a mapped file); never NULL, even for an empty message. Valid
 * until ma_raw_free. */
const char *ma_raw_data(const MaRaw *r);
gsize ma_raw_len(const MaRaw *r);
/* The mapped file's descriptor (owned by r), or -1 when the octets are in memory. */
int ma_raw_fd(const MaRaw *r);
/* The caller is done with [offset, offset + len) for now: a mapped file's pages there (the one the
 * range starts in too, not the one it ends in unless that is the last) leave the process's resident set (they stay in the page cache; reading them again is correct, only
 * slower). Nothing for octets in memory. */
void ma_raw_release(const MaRaw *r, gsize offset, gsize len);

/* The SHA-256 of all the octets (hex), read in pieces and released behind. */
void ma_raw_sha256_hex(const MaRaw *r, char out[65]);

/* Reads the octets from the start, a piece at a time, releasing them behind: has MaBlobReader's
 * signature (storage.h), for storage_blob_put_stream. Zero-initialise it with raw set. */
typedef struct {
  const MaRaw *raw;
  gsize pos;
} MaRawCursor;
gssize ma_raw_cursor_read(void *cursor, guint8 *buf, gsize cap, GError **error);

#endif
