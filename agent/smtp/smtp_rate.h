/* smtp_rate.h - the transfer-rate meter of one DATA/BDAT transfer: octets counted per second in
 * a ring of SMTP_RATE_WINDOW_MAX_S slots, so the rate can be judged over a sliding window (the
 * last few seconds) rather than since the transfer began: a client that sent fast and then drips
 * is caught once the window holds only the drip (issue 9).
 *
 * Pure: no clock of its own (the caller passes monotonic milliseconds), no allocation; the whole
 * meter lives inside the session (about 1 KiB).
 */
#ifndef MA_SMTP_RATE_H
#define MA_SMTP_RATE_H

#include <glib.h>

#define SMTP_RATE_WINDOW_MAX_S 60 /* the longest window, in seconds */

typedef struct {
  gint64 start_ms;                             /* the transfer began */
  gint64 total;                                /* octets since then */
  gint64 slot_sec[SMTP_RATE_WINDOW_MAX_S];     /* the second each slot counts */
  gint64 slot_octets[SMTP_RATE_WINDOW_MAX_S];  /* octets received in that second */
} SmtpRateMeter;

/* A new transfer begins at now_ms: everything counted before is forgotten. */
void smtp_rate_start(SmtpRateMeter *m, gint64 now_ms);
/* n octets arrived at now_ms (now_ms never goes back). */
void smtp_rate_count(SmtpRateMeter *m, gsize n, gint64 now_ms);
/* Octets received over the window_ms ending at now_ms (whole seconds, the current one partly;
 * window_ms clamped to 1 .. SMTP_RATE_WINDOW_MAX_S seconds), or since the transfer began while
 * that is shorter; *span_ms is the length that was measured. */
gint64 smtp_rate_recent(const SmtpRateMeter *m, gint64 now_ms, gint64 window_ms, gint64 *span_ms);
/* TRUE when the rate over that span is below min_rate octets per second. */
gboolean smtp_rate_below(const SmtpRateMeter *m, gint64 now_ms, gint64 window_ms, guint min_rate);

#endif
