/* spool.h - the node-local spool: accepted mail waits here, durable, until the pipeline has
 * archived it. An SMTP 250 (or an IMAP checkpoint) is given only after spool_put returned 0, and
 * spool_put returns only after the data is synced to disk (SQLite, WAL, synchronous=FULL).
 *
 * Many entries go in one spool_put, so one fsync serves many messages (group commit). An entry
 * stays until spool_done; after a crash, spool_pending returns everything not done, and the
 * pipeline's idempotence makes the replay harmless. Stays node-local in a multi-node deployment.
 */
#ifndef MA_SPOOL_H
#define MA_SPOOL_H

#include "agent/lib/error.h"

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
  GBytes *data;           /* the raw message */
  int attempts;           /* pipeline attempts so far */
} MaSpoolEntry;

MaSpoolEntry *ma_spool_entry_new(void);
void ma_spool_entry_free(MaSpoolEntry *e);

/* Opens data_dir/spool.db (creating it). Each thread opens its own handle. */
int spool_open(const char *data_dir, MaSpool **out, GError **error);
void spool_close(MaSpool **sp);

/* Sets the attempt cap spool_pending honours (<= 0 restores the default). */
void spool_set_max_attempts(MaSpool *sp, int max_attempts);

/* Writes n entries in one transaction and syncs. 0: all are durable; -1: none is (TEMPFAIL). */
int spool_put(MaSpool *sp, MaSpoolEntry *const *entries, guint n, GError **error);
/* Entries not done, oldest first, with attempts < max_attempts (spool_set_max_attempts, default
 * 10: an entry that failed that often stays in the spool, counted by spool_depth, but is no longer
 * offered). out: MaSpoolEntry*. */
int spool_pending(MaSpool *sp, int limit, GPtrArray *out, GError **error);
/* Removes the entry: the pipeline has archived (or deliberately skipped) it. Removing an id that is
 * not there is not an error. Commits without an fsync: after a power cut a removed entry may come
 * back once (the pipeline's idempotence makes the replay harmless). */
int spool_done(MaSpool *sp, const char *id, GError **error);
/* spool_done for n ids in one transaction (one lock, no fsync): for a pipeline batch. */
int spool_done_many(MaSpool *sp, const char *const *ids, guint n, GError **error);
/* Counts a failed attempt; the entry is retried later. */
int spool_attempt_failed(MaSpool *sp, const char *id, GError **error);
int spool_depth(MaSpool *sp, gint64 *count, GError **error);

/* Test hook: the next n syncs fail as if fsync failed. */
void spool_fault_inject_sync_failures(MaSpool *sp, int n);

#endif
