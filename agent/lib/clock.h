/* clock.h - time and identifier helpers: RFC 3339 in UTC, and time-ordered ids.
 *
 * Ids are strings of 20 lower-case base32 characters: 48 bits of milliseconds since the epoch then
 * 52 random bits, so they sort by creation time (cursor pagination relies on that) and never
 * reveal a counter.
 */
#ifndef MA_CLOCK_H
#define MA_CLOCK_H

#include <glib.h>

#define MA_ID_LEN 20

/* Unix seconds now. MAILAGENT_FAKE_NOW (Unix seconds) overrides it for tests. */
gint64 ma_now(void);

/* A new time-ordered id. Caller frees. */
char *ma_id_new(void);

/* Formats Unix seconds as "YYYY-MM-DDTHH:MM:SSZ" into out. */
void ma_time_format(gint64 unix_seconds, char out[32]);
/* Parses RFC 3339 ("2024-01-31", "2024-01-31T10:00:00Z", with offset or fraction).
 * Returns 0 and sets *out, or -1. */
int ma_time_parse(const char *text, gint64 *out);

#endif
