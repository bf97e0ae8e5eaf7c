/* clock.h - the one source of time for everything that waits or expires, RFC 3339 in UTC, and
 * time-ordered ids.
 *
 * Every deadline that outlives a few seconds (spool and queue backoff, expiry, daily limits,
 * re-verification, token expiry, pending windows) is stored as a Unix time compared with ma_now()
 * by a periodic scan, never armed as a long libevent timer, so that a test can move time and the
 * next scan sees the change. Short protocol time-outs (an SMTP command, a TLS handshake) stay on
 * libevent's monotonic timers: they measure a peer, not the calendar.
 *
 * Test clock: MAILAGENT_FAKE_NOW=<unix seconds> fixes the time. MAILAGENT_CLOCK_FILE=<path> names a
 * file holding "<unix seconds>" (or "<unix seconds>.<milliseconds>"); the clock reads it again at
 * most every 50 ms of real time, so a test moves a running daemon's time by rewriting the file
 * (write a new file and rename it over the old one). While the file is missing or unreadable the
 * real clock is used. Unit tests call ma_clock_set_for_test. See tests/README.md.
 *
 * Ids are strings of 20 lower-case base32 characters: 48 bits of milliseconds since the epoch then
 * 52 random bits, so they sort by creation time (cursor pagination relies on that) and never
 * reveal a counter.
 */
#ifndef MA_CLOCK_H
#define MA_CLOCK_H

#include <glib.h>

#define MA_ID_LEN 20

/* Unix seconds now (the test clock when one is set). Thread-safe; cheap (no system call on the
 * real clock, one read of the clock file at most every 50 ms). */
gint64 ma_now(void);
/* Unix milliseconds now, same source as ma_now. */
gint64 ma_now_ms(void);
/* Unit tests: fix the clock at unix_ms (> 0), or return to the environment's clock (0). */
void ma_clock_set_for_test(gint64 unix_ms);

/* A new time-ordered id. Caller frees. */
char *ma_id_new(void);

/* Formats Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" into out. */
void ma_time_format(gint64 unix_seconds, char out[32]);
/* Parses RFC 3339 ("2024-01-31", "2024-01-31T10:00:00Z", with offset or fraction).
 * Returns 0 and sets *out, or -1. */
int ma_time_parse(const char *text, gint64 *out);

#endif
