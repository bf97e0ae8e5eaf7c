/* periodic.h - a thread that runs one function over and over, sleeping a fixed interval of real
 * time between runs, and stops promptly on request: the shape of `serve`'s scheduled work
 * (domain re-verification, retention). The function reads ma_now() itself when deadlines are
 * stored, so the test clock drives what it does; the interval only sets how often it looks.
 */
#ifndef MA_PERIODIC_H
#define MA_PERIODIC_H

#include <glib.h>

typedef struct MaPeriodic MaPeriodic;

/* Called on the thread; returns TRUE when more work is waiting (run again at once), FALSE to
 * sleep interval_ms first. */
typedef gboolean (*MaPeriodicFn)(gpointer data);

/* Starts the thread named name (static string) that calls fn(data) at once, then as above. The
 * caller owns the result and stops it with ma_periodic_stop. */
MaPeriodic *ma_periodic_start(const char *name, guint interval_ms, MaPeriodicFn fn, gpointer data);
/* Wakes the thread, waits for the call in progress to return and the thread to end, frees it and
 * sets *p to NULL. Accepts NULL and *p == NULL. */
void ma_periodic_stop(MaPeriodic **p);

#endif
