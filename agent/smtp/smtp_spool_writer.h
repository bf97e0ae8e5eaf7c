/* smtp_spool_writer.h - the group-commit spool writer: one thread that takes every finished
 * message the SMTP sessions hand over (its octets in memory within 64 KiB, else already in its
 * spool file), makes all that are queued durable with ONE spool_put (the small ones' octets in
 * their rows; each file fdatasync'd early and in parallel, then one fsync of the spool directory
 * when the batch has files; one sync of the database for the whole batch), and reports each
 * message's fate back on the event-loop thread. The syncs never run on the loop.
 *
 * Sessions are told "durable" only after spool_put returned 0; when the sync fails, every message
 * of that batch is reported failed (the session answers 451 4.3.0). A batch is capped at
 * SMTP_SPOOL_BATCH_MAX messages and SMTP_SPOOL_BATCH_BYTES octets. The writer thread wakes the
 * loop through a pipe, so the event base needs no thread support.
 */
#ifndef MA_SMTP_SPOOL_WRITER_H
#define MA_SMTP_SPOOL_WRITER_H

#include "storage/spool.h"

#include <event2/event.h>
#include <glib.h>

#define SMTP_SPOOL_BATCH_MAX 512
#define SMTP_SPOOL_BATCH_BYTES (64 * 1024 * 1024)
#define SMTP_SPOOL_SYNC_THREADS 16 /* body files synced at once, ahead of their batch */

typedef struct SmtpSpoolWriter SmtpSpoolWriter;
typedef struct SmtpSpoolTicket SmtpSpoolTicket;

/* Called on the loop thread: ok TRUE when the message is durable in the spool; when not, no_space
 * TRUE when the disk had less room left after the failed commit than the batch needed (the commit
 * failed for a full disk, which SMTP answers 452 4.3.1 rather than 451 4.3.0). */
typedef void (*SmtpSpoolDoneFn)(void *arg, gboolean ok, gboolean no_space, const char *spool_id);
/* Called on the loop thread after a successful commit of n messages. */
typedef void (*SmtpSpoolCommittedFn)(void *arg, guint n);

/* Opens the spool under data_dir, removes orphan body files (spool_sweep_orphans: the writer is the
 * only producer of bodies, and no session exists yet), and starts the thread. NULL with *error on
 * failure. */
SmtpSpoolWriter *smtp_spool_writer_new(struct event_base *base, const char *data_dir, GError **error);
void smtp_spool_writer_set_committed(SmtpSpoolWriter *w, SmtpSpoolCommittedFn fn, void *arg);

/* Queues e (ownership moves to the writer). done(arg, ...) runs later on the loop thread unless
 * the ticket is cancelled first. The ticket belongs to the writer: valid until done runs or
 * until cancelled. */
SmtpSpoolTicket *smtp_spool_writer_submit(SmtpSpoolWriter *w, MaSpoolEntry *e, SmtpSpoolDoneFn done, void *arg);
/* The submitter is going away: done will not be called (the message may still become durable). */
void smtp_spool_writer_cancel(SmtpSpoolTicket *t);
/* Messages queued or being written. */
guint smtp_spool_writer_pending(SmtpSpoolWriter *w);

/* Test hook: the next n batches fail as if fsync failed. */
void smtp_spool_writer_inject_failures(SmtpSpoolWriter *w, int n);

/* Writes what is queued, stops the thread, reports the last results (done callbacks run), closes
 * the spool. Accepts NULL. */
void smtp_spool_writer_free(SmtpSpoolWriter *w);

#endif
