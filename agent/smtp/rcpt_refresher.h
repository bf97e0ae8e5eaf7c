/* rcpt_refresher.h - keeps the SMTP server's RCPT snapshot (rcpt_snapshot.h) current without ever
 * touching the database on the event loop.
 *
 * A thread with its own storage handle polls every RCPT_REFRESH_INTERVAL_MS: when
 * storage_data_version says another connection committed, it reads storage_tenant_version, and
 * when that moved (or the default policy changed) it loads a new snapshot and publishes it. The
 * loop takes the published snapshot with rcpt_refresher_current (a pointer swap under a mutex
 * that is never held across I/O). While the database is locked the thread waits in SQLite's busy
 * handler and the loop keeps answering from the last snapshot; a failed load is logged once and
 * retried at the next tick. A change is therefore visible to SMTP within about one interval.
 */
#ifndef MA_RCPT_REFRESHER_H
#define MA_RCPT_REFRESHER_H

#include "rcpt_snapshot.h"

#include <glib.h>

#define RCPT_REFRESH_INTERVAL_MS 20

typedef struct RcptRefresher RcptRefresher;

/* Opens storage under data_dir, loads the first snapshot (synchronously: `serve` does not answer
 * RCPT from nothing) and starts the thread. Returns the refresher (stop with
 * rcpt_refresher_stop), or NULL with *error. */
RcptRefresher *rcpt_refresher_start(const char *data_dir, const char *default_policy, GError **error);

/* The newest snapshot, with a new reference the caller drops (rcpt_snapshot_unref). Never NULL.
 * Cheap and non-blocking: call it per look-up. */
RcptSnapshot *rcpt_refresher_current(RcptRefresher *r);

/* The config's default policy changed (SIGHUP): the next tick loads a new snapshot with it. */
void rcpt_refresher_set_default_policy(RcptRefresher *r, const char *default_policy);

/* Stops and joins the thread (waits for a load in progress), closes storage. Accepts NULL. */
void rcpt_refresher_stop(RcptRefresher *r);

#endif
