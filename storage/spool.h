/* spool.h - the node-local spool: accepted mail waits here, durable, until the pipeline has
 * archived it. An SMTP 250 (or an IMAP checkpoint) is given only after spool_put returned 0, and
 * spool_put returns only after the data is synced to disk: the metadata in spool.db (SQLite, WAL,
 * synchronous=FULL), with the octets of a message whose body stayed in memory (within 64 KiB,
 * spool_body_new_buffered) in its row, and those of any other in its own file under
 * data_dir/spool/ (spool_body.h) that the row names.
 *
 * Many entries go in one spool_put, so one fsync serves many messages (group commit). An entry
 * stays until spool_done; after a crash, spool_pending returns everything not done, and the
 * pipeline's idempotence makes the replay harmless. Stays node-local in a multi-node deployment.
 *
 * Retry state lives with the entry: an attempt that failed for a reason that may pass (busy, disk
 * full, I/O) stores when the next attempt is due (next_attempt_at, unix ms on ma_now_ms's clock),
 * and spool_pending offers the entry again only from then on, however many attempts it took. Only
 * a failure that can never pass for that one message makes it dead (dead_at set): it stays, is no
 * longer offered, and waits for an operator (spool_admin.c: list, show, retry, purge).
 */
#ifndef MA_SPOOL_H
#define MA_SPOOL_H

#include "agent/lib/error.h"
#include "spool_body.h"

#include <glib.h>

typedef struct MaSpool MaSpool;

typedef struct {
  char *id;               /* set by the caller (ma_id_new) */
  char *enterprise_id;
  char *route;            /* "smtp", "imap", "pop3" */
  char *client;           /* peer address, NULL when none */
  char *helo;
  char *mail_from;        /* envelope sender, "" for <> */
  GPtrArray *rcpts;       /* char* envelope recipients (ours) */
  char *employee_id;      /* decided by the forwarder policy, NULL when none */
  char *signal;           /* which trusted signal named the employee */
  char *mailbox;          /* mailbox binding, NULL for SMTP */
  gint64 received_at;
  /* The raw message, in one of three forms. To spool_put: body (a file written as the message
   * arrived) or data (octets spool_put writes into a file). From spool_pending: body_file (the
   * name in data_dir/spool/; spool_entry_load reads it into data), or data for a row of an older
   * version that kept the octets in the database. */
  MaSpoolBody *body;      /* owned; unlinked on free unless spool_put committed it */
  GBytes *data;
  char *body_file;
  MaRaw *raw;             /* owned: the octets as spool_entry_open gave them, NULL before */
  int attempts;           /* pipeline attempts so far */
  gint64 size;            /* read back by the operator's view: the message's length in bytes */
  gint64 next_attempt_at; /* read back: unix ms before which the entry is not offered (0: at once) */
  char *last_error;       /* read back: why the last attempt failed, NULL when none did */
  gint64 dead_at;         /* read back: unix seconds it was parked as dead, 0 while live */
} MaSpoolEntry;

MaSpoolEntry *ma_spool_entry_new(void);
void ma_spool_entry_free(MaSpoolEntry *e);

/* Opens data_dir/spool.db (creating it). Each thread opens its own handle. */
int spool_open(const char *data_dir, MaSpool **out, GError **error);
void spool_close(MaSpool **sp);
/* Empties the write-ahead log into spool.db (wal_checkpoint(TRUNCATE)): `serve` on a clean stop.
 * MA_ERROR_TEMPFAIL when it could not finish; nothing is lost (the log is replayed at open). */
int spool_checkpoint(MaSpool *sp, GError **error);

/* Makes n entries durable together: every body file fdatasync'd (unless synced already, see
 * spool_body_sync), then the spool directory once, then one transaction and its sync; a body in
 * memory has no file, its octets go into its row. 0: all are durable (their bodies are kept); -1:
 * none is (TEMPFAIL), and freeing the entries unlinks their files. */
int spool_put(MaSpool *sp, MaSpoolEntry *const *entries, guint n, GError **error);
/* Starts the body file of a message that arrives outside an SMTP session and is written in pieces
 * (the collector streams a large message range by range): a new file under a fresh name, because
 * the entry's id may be decided only when the message is complete (a content id); the row names
 * its file, so the two need not match. spool_body_create's contract otherwise: put the body in an
 * entry's `body` for spool_put, or free it to unlink the file. */
int spool_body_start(MaSpool *sp, MaSpoolBody **out, GError **error);
/* Live entries whose next attempt is due (next_attempt_at <= ma_now_ms()), oldest first, with
 * their data; limit <= 0 means all. out: MaSpoolEntry*. */
int spool_pending(MaSpool *sp, int limit, GPtrArray *out, GError **error);
/* Reads a pending entry's body file into e->data (nothing to do when data is set). -1 with
 * MA_ERROR_NOT_FOUND when the file is gone (only after a power cut lost a spool_done whose unlink
 * survived: the entry was archived), MA_ERROR_TEMPFAIL for an I/O error. */
int spool_entry_load(MaSpool *sp, MaSpoolEntry *e, GError **error);
/* The pipeline's read: e->raw set to the entry's octets (nothing to do when set): data when the
 * row holds them, else the body file, mapped when large (spool_body_open), never read whole.
 * spool_entry_load's errors. The mapping must be gone before the entry's spool_done (a done body
 * file may be recycled and overwritten): free it with spool_entry_close first. */
int spool_entry_open(MaSpool *sp, MaSpoolEntry *e, GError **error);
void spool_entry_close(MaSpoolEntry *e);
/* Removes the entry, then its body file: the pipeline has archived (or deliberately skipped) it.
 * Removing an id that is not there is not an error. Commits without an fsync: after a power cut a
 * removed entry may come back once (the pipeline's idempotence makes the replay harmless). */
int spool_done(MaSpool *sp, const char *id, GError **error);
/* spool_done for n ids in one transaction (one lock, no fsync): for a pipeline batch. */
int spool_done_many(MaSpool *sp, const char *const *ids, guint n, GError **error);
/* Counts a failed attempt of each of n live entries and defers them until next_attempt_at (unix ms);
 * reason (may be NULL) is kept as last_error. One transaction, no fsync: a lost update only
 * brings an attempt forward. */
int spool_attempts_failed(MaSpool *sp, const char *const *ids, guint n, gint64 next_attempt_at, const char *reason,
                          GError **error);
/* Parks the entry as dead (counts the attempt, dead_at = ma_now(), last_error = reason): a failure
 * that can never pass for this message. It is kept until spool_retry or spool_purge. */
int spool_mark_dead(MaSpool *sp, const char *id, const char *reason, GError **error);
/* Live entries (waiting or in backoff) and dead ones; either pointer may be NULL. */
int spool_counts(MaSpool *sp, gint64 *live, gint64 *dead, GError **error);
/* Live entries only. */
int spool_depth(MaSpool *sp, gint64 *count, GError **error);

/* ---- the operator's view (spool_admin.c) ---------------------------------------------------- */

typedef enum { MA_SPOOL_ANY, MA_SPOOL_LIVE, MA_SPOOL_DEAD } MaSpoolState;

/* Up to limit entries (<= 0: 100) in spool order after the cursor (NULL or "" for the first page),
 * without their data, filtered by state and enterprise (NULL: every enterprise). *next_cursor is
 * a new string when more follow, else NULL (caller frees). out: MaSpoolEntry*. An unreadable
 * cursor is MA_ERROR_INVALID. */
int spool_list(MaSpool *sp, MaSpoolState state, const char *enterprise_id, int limit, const char *cursor,
               GPtrArray *out, char **next_cursor, GError **error);
/* One entry by id, with its data when with_data. 1 found (*out owned by the caller), 0 not there. */
int spool_get(MaSpool *sp, const char *id, gboolean with_data, MaSpoolEntry **out, GError **error);
/* Requeues one entry, dead or waiting out a backoff: live again, attempts back to 0, due now
 * (last_error is kept until the next attempt). 1 done, 0 no such entry. */
int spool_retry(MaSpool *sp, const char *id, GError **error);
/* spool_retry for every dead entry (of one enterprise when enterprise_id is set); *count: how many. */
int spool_retry_dead(MaSpool *sp, const char *enterprise_id, gint64 *count, GError **error);
/* Deletes a dead entry and its message for good. 1 done, 0 no such entry; a live entry is refused
 * (MA_ERROR_CONFLICT): the pipeline still owns it. */
int spool_purge(MaSpool *sp, const char *id, GError **error);
/* Stable lower-case state names: "queued" (never failed), "retrying" (failed, waiting for
 * next_attempt_at), "dead". */
const char *ma_spool_entry_state(const MaSpoolEntry *e);

/* Unlinks every body file in data_dir/spool/ that no row names (what a crash between writing a
 * message and committing its row left) and every recycled "<n>.free" file (spool_body.h). Only
 * while nothing writes bodies (at start, before the SMTP listener and recycling). *removed: files
 * unlinked. */
int spool_sweep_orphans(MaSpool *sp, guint *removed, GError **error);

/* Test hook: the next n syncs fail as if fsync failed. */
void spool_fault_inject_sync_failures(MaSpool *sp, int n);

#endif
