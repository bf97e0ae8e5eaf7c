/* loop_guard.c - see loop_guard.h. One indexed count per linked record (storage_loop_count: the
 * record's recent timeline rows), only for inbound mail from an outside sender with a limit set.
 */
#include "loop_guard.h"

#include "agent/lib/clock.h"
#include "agent/lib/log.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The outside sender of inbound mail (borrowed), or NULL. */
static const char *outside_sender(const MaMatchContext *ctx, const MaMatch *match)
{
  if (match->direction != MA_DIRECTION_INBOUND) return NULL;
  for (guint i = 0; i < match->participants->len; i++) {
    const MaParticipant *p = match->participants->pdata[i];
    if (p->role == MA_ROLE_FROM) return match_is_internal(ctx, p->address) ? NULL : p->address;
  }
  return NULL;
}

static int report(MaStorage *st, const MaMatchContext *ctx, const MaRecordRef *ref, const char *sender, gint64 since,
                  GError **error)
{
  const MaSettings *s = ctx->settings;
  ma_warn("loop", "enterprise=%s record=%s:%s: more than %d messages from one sender in %d minutes: the rest are not "
          "archived until the window passes", ctx->enterprise_id, ma_record_type_name(ref->type), ref->id, s->loop_limit,
          s->loop_window_minutes);
  json_t *doc = json_pack("{s:{s:s, s:s}, s:s, s:i, s:i}", "record", "type",
                          ma_record_type_name(ref->type), "id", ref->id, "sender", sender, "limit", s->loop_limit,
                          "window_minutes", s->loop_window_minutes);
  char *payload = json_dumps(doc, JSON_COMPACT); /* malloc'd by jansson: free() */
  json_decref(doc);
  /* one event per (record, sender, window): the window's start makes the key */
  g_autofree char *key = g_strdup_printf("loop.throttled:%s:%s:%s:%" G_GINT64_FORMAT, ma_record_type_name(ref->type),
                                         ref->id, sender, since);
  int rc = payload ? storage_outbox_add(st, ctx->enterprise_id, "loop.throttled", key, payload, ma_now(), error) : 0;
  free(payload);
  return rc < 0 ? -1 : 0;
}

int loop_guard(MaStorage *st, const MaMatchContext *ctx, const MaMatch *match, MaIngestResult *r, GError **error)
{
  const MaSettings *s = ctx->settings;
  const char *sender = s->loop_limit > 0 ? outside_sender(ctx, match) : NULL;
  if (!sender || match->links->len == 0) return 0;
  gint64 window = (gint64) MAX(s->loop_window_minutes, 1) * 60;
  gint64 now = ma_now();
  gint64 since = now - window;
  for (guint i = 0; i < match->links->len; i++) {
    const MaRecordRef *ref = match->links->pdata[i];
    gint64 count = 0;
    if (storage_loop_count(st, ctx->enterprise_id, ref, sender, since, &count, error) < 0) return -1;
    if (count < s->loop_limit) continue;
    r->outcome = MA_INGEST_SKIPPED;
    r->skip_reason = "loop_throttled";
    /* reported once: by the first message over the limit (later ones find the same count) */
    if (count == s->loop_limit && report(st, ctx, ref, sender, now / window * window, error) < 0) return -1;
    return 1;
  }
  return 0;
}
