/* smtp_rate.c - the sliding-window transfer-rate meter (see smtp_rate.h).
 *
 * Slot i counts the octets of the second s with s % SMTP_RATE_WINDOW_MAX_S == i; a slot whose
 * stamp is not the current second is reset before counting, so stale seconds never add up. The
 * window covers the current (partial) second and the window_s - 1 before it.
 */
#include "smtp_rate.h"

#include <string.h>

void smtp_rate_start(SmtpRateMeter *m, gint64 now_ms)
{
  memset(m, 0, sizeof *m);
  m->start_ms = now_ms;
  for (int i = 0; i < SMTP_RATE_WINDOW_MAX_S; i++) m->slot_sec[i] = -1;
}

void smtp_rate_count(SmtpRateMeter *m, gsize n, gint64 now_ms)
{
  gint64 sec = now_ms / 1000;
  int slot = (int) (sec % SMTP_RATE_WINDOW_MAX_S);
  if (m->slot_sec[slot] != sec) {
    m->slot_sec[slot] = sec;
    m->slot_octets[slot] = 0;
  }
  m->slot_octets[slot] += (gint64) n;
  m->total += (gint64) n;
}

gint64 smtp_rate_recent(const SmtpRateMeter *m, gint64 now_ms, gint64 window_ms, gint64 *span_ms)
{
  gint64 window_s = CLAMP(window_ms / 1000, 1, SMTP_RATE_WINDOW_MAX_S);
  gint64 sec = now_ms / 1000, span = (window_s - 1) * 1000 + now_ms % 1000, octets = 0;
  if (now_ms - m->start_ms <= span) {
    *span_ms = now_ms - m->start_ms;
    return m->total;
  }
  for (int i = 0; i < SMTP_RATE_WINDOW_MAX_S; i++)
    if (m->slot_sec[i] > sec - window_s && m->slot_sec[i] <= sec) octets += m->slot_octets[i];
  *span_ms = span;
  return octets;
}

gboolean smtp_rate_below(const SmtpRateMeter *m, gint64 now_ms, gint64 window_ms, guint min_rate)
{
  gint64 span = 0, octets = smtp_rate_recent(m, now_ms, window_ms, &span);
  return octets * 1000 < (gint64) min_rate * span;
}
