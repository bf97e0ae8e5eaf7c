/* spool.h - the node-local spool: accepted mail waits here, durable, until the pipeline has
 * archived it. An SMTP 250 (or an IMAP checkpoint) is given only after spool_put returned 0, and
 * spool_put returns only after the data is synced to disk: each message's octets in its own file
 * under data_dir/spool/ (spool_body.h), the metadata and the file name in spool.db (SQLite, WAL,
 * synchronous=FULL).
 *
 * Many entries go in one spool_put, so one fsync serves many messages (group commit). An entry
 * stays until spool_done; after a crash, spool_pending returns everything not done, and the
 * pipeline's idempotence makes the replay harmless. Stays node-local in a multi-node deployment.
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
  int attempts;           /* pipeline attempts so far */
} MaSpoolEntry;

MaSpoolEntry *ma_spool_entry_new(void);
void ma_spool_entry_free(MaSpoolEntry *e);

/* Opens data_dir/spool.db (creating it). Each thread opens its own handle. */
int spool_open(const char *data_dir, MaSpool **out, GError **error);
void spool_close(MaSpool **sp);

/* Sets the attempt cap spool_pending honours (<= 0 restores the default). */
void spool_set_max_attempts(MaSpool *sp, int max_attempts);

/* Makes n entries durable together: every body file fdatasync'd, the spool directory fsync'd
 * once, then one transaction and its sync. 0: all are durable (their bodies are kept); -1: none
 * is (TEMPFAIL), and freeing the entries unlinks their files. */
int spool_put(MaSpool *sp, MaSpoolEntry *const *entries, guint n, GError **error);
/* Entries not done, oldest first, with attempts < max_attempts (spool_set_max_attempts, default
 * 10: an entry that failed that often stays in the spool, counted by spool_depth, but is no longer
 * offered). out: MaSpoolEntry*. */
int spool_pending(MaSpool *sp, int limit, GPtrArray *out, GError **error);
/* Reads a pending entry's body file into e->data (nothing to do when data is set). -1 with
 * MA_ERROR_NOT_FOUND when the file is gone (only after a power cut lost a spool_done whose unlink
 * survived: the entry was archived), MA_ERROR_TEMPFAIL for an I/O error. */
int spool_entry_load(MaSpool *sp, MaSpoolEntry *e, GError **error);
/* Removes the entry, then its body file: the pipeline has archived (or deliberately skipped) it.
 * Removing an id that is not there is not an error. Commits without an fsync: after a power cut a
 * removed entry may come back once (the pipeline's idempotence makes the replay harmless). */
int spool_done(MaSpool *sp, const char *id, GError **error);
/* spool_done for n ids in one transaction (one lock, no fsync): for a pipeline batch. */
int spool_done_many(MaSpool *sp, const char *const *ids, guint n, GError **error);
/* Counts a failed attempt; the entry is retried later. */
int spool_attempt_failed(MaSpool *sp, const char *id, GError **error);
int spool_depth(MaSpool *sp, gint64 *count, GError **error);

/* Unlinks every body file in data_dir/spool/ that no row names: what a crash between writing a
 * message and committing its row left. Only while nothing writes bodies (at start, before the
 * SMTP listener). *removed: files unlinked. */
int spool_sweep_orphans(MaSpool *sp, guint *removed, GError **error);

/* Test hook: the next n syncs fail as if fsync failed. */
void spool_fault_inject_sync_failures(MaSpool *sp, int n);

#endif
