/* outbound_bounce.c - what a message returned to us does to the queue. A delivery status
 * notification, a non-standard bounce or an ARF complaint, classified by agent/bounce (pure), is
 * matched to the outbound message and recipient it is about - by the VERP address it was sent to
 * (the recipient row, already verified by its MAC), else by the Message-ID of the returned message
 * among the enterprise's outbound mail (bounces that reach a bound mailbox or are forwarded) - and
 * applied in one transaction:
 *   hard bounce  -> the recipient becomes bounced (also after sent), message.bounced with the
 *                   classification, the address goes on the suppression list (hard_bounce);
 *   soft bounce  -> the recipient keeps its state (deferred stays deferred), its reply records the
 *                   diagnostic, message.deferred with the classification (keyed by a digest of
 *                   the report, so each DSN is its own event), the address's soft-bounce streak grows; SOFT_BOUNCE_LIMIT in a row within SOFT_BOUNCE_WINDOW
 *                   suppress it (soft_bounces); a delivery ends the streak (outbound_delivery.c);
 *   complaint    -> message.complained, the address is suppressed (complaint), and the complaint
 *                   counts in the shared relay's complaint rate (agent/relay), which may suspend
 *                   the enterprise's use of mailagent's own delivery path.
 * Bounce hygiene: nothing here ever sends mail - a report is an event for the CRM, never a
 * notification to anyone, so a null sender is never written to and a bounce is never bounced.
 * Reports are not customer correspondence: the caller does not archive what this applied.
 * Replaying the same report (a crash before the spool forgot it) changes nothing a second time,
 * except that a soft bounce counts again.
 */
#include "outbound.h"

#include "agent/bounce/bounce.h"
#include "agent/bounce/bounce_verp.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/log.h"
#include "agent/relay/relay.h"

#include <string.h>

#define SOFT_BOUNCE_LIMIT 5
#define SOFT_BOUNCE_WINDOW (7 * 24 * 3600)

void outbound_bounce_outcome_clear(OutboundBounceOutcome *o)
{
  g_clear_pointer(&o->enterprise_id, g_free);
  g_clear_pointer(&o->outbound_id, g_free);
}

static int suppress(MaStorage *st, const char *enterprise_id, const char *address, const char *reason,
                    const char *outbound_id, const char *detail, gint64 now, GError **error)
{
  g_autofree char *key = g_ascii_strdown(address, -1);
  MaSuppression s = {.enterprise_id = (char *) enterprise_id, .address = key, .reason = (char *) reason,
                     .detail = (char *) detail, .source = (char *) outbound_id, .created_at = now};
  int rc = storage_suppression_add(st, &s, error);
  if (rc > 0) ma_info("bounce", "enterprise=%s address=<%s> suppressed reason=%s outbound=%s", enterprise_id, key,
                      reason, outbound_id ? outbound_id : "-");
  return rc < 0 ? -1 : 0;
}

int outbound_bounce_note(MaStorage *st, const char *enterprise_id, const char *address, int severity,
                         const char *outbound_id, const char *detail, gint64 now, GError **error)
{
  if (severity == BOUNCE_HARD) return suppress(st, enterprise_id, address, "hard_bounce", outbound_id, detail, now, error);
  if (severity != BOUNCE_SOFT) return 0;
  g_autofree char *key = g_ascii_strdown(address, -1);
  gint64 streak = 0;
  if (storage_soft_bounce_add(st, enterprise_id, key, now, SOFT_BOUNCE_WINDOW, &streak, error) < 0) return -1;
  if (streak < SOFT_BOUNCE_LIMIT) return 0;
  g_autofree char *why = g_strdup_printf("%" G_GINT64_FORMAT " soft bounces in a row within 7 days; last: %s", streak,
                                         detail ? detail : "");
  return suppress(st, enterprise_id, address, "soft_bounces", outbound_id, why, now, error);
}

static json_t *classification_json(const BounceReport *rep, const BounceRecipient *br)
{
  json_t *b = json_object();
  json_object_set_new(b, "kind", json_string(bounce_kind_name(rep->kind)));
  json_object_set_new(b, "recipient", json_string(br->recipient));
  json_object_set_new(b, "action", json_string(br->action));
  json_object_set_new(b, "status", json_string(br->status));
  json_object_set_new(b, "reason", json_string(br->reason));
  json_object_set_new(b, "hard", json_boolean(br->hard == BOUNCE_HARD));
  json_object_set_new(b, "diagnostic", json_string(br->diagnostic));
  json_t *extra = json_object();
  json_object_set_new(extra, rep->kind == BOUNCE_KIND_FEEDBACK ? "feedback" : "bounce", b);
  return extra;
}

/* The recipient row br is about: with a VERP row, that row (the return path names it, whatever
 * address the remote reports after its aliasing); else the row whose address is br's. */
static MaOutboundRecipient *row_for(const MaOutbound *m, const BounceRecipient *br, gint64 verp_row)
{
  for (guint i = 0; i < m->recipients->len; i++) {
    MaOutboundRecipient *r = g_ptr_array_index(m->recipients, i);
    if (verp_row > 0 ? r->id == verp_row
                     : g_ascii_strcasecmp(r->address, br->recipient) == 0 ||
                         (br->original_recipient && g_ascii_strcasecmp(r->address, br->original_recipient) == 0))
      return r;
  }
  return NULL;
}

static gboolean is_success(const char *action)
{
  return strcmp(action, "delivered") == 0 || strcmp(action, "relayed") == 0 || strcmp(action, "expanded") == 0;
}

/* One recipient's report, inside the caller's transaction. */
static int apply_one(MaStorage *st, const MaOutbound *m, MaOutboundRecipient *r, const BounceReport *rep,
                     const BounceRecipient *br, const char *digest, gint64 now, OutboundBounceOutcome *out,
                     GError **error)
{
  json_t *extra = classification_json(rep, br);
  int rc = 0;
  if (rep->kind == BOUNCE_KIND_FEEDBACK) {
    out->complaints++;
    rc = outbound_event_emit_with(st, "message.complained", m, r, extra, now, error);
    if (rc == 0) rc = suppress(st, m->enterprise_id, r->address, "complaint", m->id, br->diagnostic, now, error);
    /* the shared relay's complaint rate (agent/relay): may suspend the enterprise's use of it */
    if (rc == 0) rc = relay_reputation_complaint(st, m->enterprise_id, m->id, r->address, now, error);
  } else if (!is_success(br->action)) {
    gboolean hard = br->hard == BOUNCE_HARD;
    g_autofree char *reply = g_strdup_printf("%s bounce %s (%s): %s", hard ? "hard" : "soft",
                                             *br->status ? br->status : "-", br->reason, br->diagnostic);
    int applied = storage_outbound_bounce(st, r->id, hard ? MA_OUT_BOUNCED : MA_OUT_DEFERRED, reply, now, error);
    if (applied < 0) rc = -1;
    if (applied > 0) {
      g_free(r->last_reply);
      r->last_reply = g_strdup(reply);
      if (hard) r->state = MA_OUT_BOUNCED;
    }
    if (rc == 0 && applied > 0 && hard) rc = outbound_event_emit_with(st, "message.bounced", m, r, extra, now, error);
    /* a soft report is news for the CRM even when the recipient's state does not move */
    if (rc == 0 && !hard) rc = outbound_event_emit_report(st, "message.deferred", m, r, extra, digest, now, error);
    if (rc == 0) rc = outbound_bounce_note(st, m->enterprise_id, r->address, hard ? BOUNCE_HARD : BOUNCE_SOFT, m->id,
                                           reply, now, error);
    if (hard) out->hard++;
    else out->soft++;
    ma_info("bounce", "%s to=<%s> %s status=%s reason=%s%s", m->id, r->address, hard ? "hard" : "soft",
            *br->status ? br->status : "-", br->reason, applied > 0 ? "" : " (state unchanged)");
  }
  json_decref(extra);
  return rc;
}

int outbound_bounce_apply(MaStorage *st, const char *enterprise_id, gint64 verp_row, const void *raw, gsize len,
                          OutboundBounceOutcome *out, GError **error)
{
  memset(out, 0, sizeof *out);
  g_autoptr(BounceReport) rep = NULL;
  if (bounce_parse(raw, len, &rep) < 0) rep = NULL; /* over the parser's size limit: no report */
  gboolean report = rep && (rep->kind == BOUNCE_KIND_DSN || rep->kind == BOUNCE_KIND_TEXT ||
                            rep->kind == BOUNCE_KIND_FEEDBACK);
  MaOutbound *m = NULL;
  int rc;
  if (verp_row > 0) {
    MaOutboundRecipient *r = NULL;
    rc = storage_outbound_recipient_get(st, NULL, verp_row, &r, error);
    if (rc > 0) rc = storage_outbound_get(st, r->enterprise_id, r->outbound_id, &m, error);
    ma_outbound_recipient_free(r);
  } else {
    if (!report || !rep->original_message_id || !enterprise_id) return 0;
    g_autofree char *outbound_id = NULL;
    rc = storage_outbound_find_message(st, enterprise_id, rep->original_message_id, &outbound_id, error);
    if (rc > 0) rc = storage_outbound_get(st, enterprise_id, outbound_id, &m, error);
  }
  if (rc < 0) return -1;
  if (!m) {
    if (verp_row > 0) ma_info("bounce", "report for recipient row %" G_GINT64_FORMAT " that is gone: dropped", verp_row);
    return verp_row > 0 ? 1 : 0; /* mail to a bounce address is never correspondence */
  }
  out->enterprise_id = g_strdup(m->enterprise_id);
  out->outbound_id = g_strdup(m->id);
  if (!report) {
    ma_info("bounce", "%s: mail to its return path is no report (%s): dropped", m->id,
            rep ? bounce_kind_name(rep->kind) : "too large");
    ma_outbound_free(m);
    return 1;
  }
  gint64 now = ma_now();
  /* the report's own identity: a replay of the same bytes is the same event */
  g_autofree char *sha = g_compute_checksum_for_data(G_CHECKSUM_SHA256, raw, len);
  sha[16] = '\0';
  rc = storage_begin(st, error);
  for (guint i = 0; rc == 0 && i < rep->recipients->len; i++) {
    const BounceRecipient *br = g_ptr_array_index(rep->recipients, i);
    MaOutboundRecipient *r = row_for(m, br, verp_row);
    if (!r) continue;
    rc = apply_one(st, m, r, rep, br, sha, now, out, error);
    if (verp_row > 0) break; /* the return path names one recipient: its first report decides */
  }
  if (rc == 0) rc = storage_commit(st, error);
  else storage_rollback(st);
  ma_outbound_free(m);
  return rc < 0 ? -1 : 1;
}

/* ---- the pipeline's hook: returned mail before the archive ------------------------------------ */

struct OutboundBounceHook {
  guint8 token_key[BOUNCE_TOKEN_KEY_LEN];
  gboolean have_key;
  char *bounce_domain;
};

OutboundBounceHook *outbound_bounce_hook_new(const MaConfig *cfg, GError **error)
{
  OutboundBounceHook *h = g_new0(OutboundBounceHook, 1);
  if (cfg->relay_bounce_domain && *cfg->relay_bounce_domain) {
    guint8 master[32];
    if (ma_master_key_load(cfg->master_key_file, FALSE, master, error) < 0) {
      g_free(h);
      return NULL;
    }
    bounce_token_key(master, h->token_key);
    memset(master, 0, sizeof master);
    h->have_key = TRUE;
    h->bounce_domain = g_ascii_strdown(cfg->relay_bounce_domain, -1);
  }
  return h;
}

void outbound_bounce_hook_free(OutboundBounceHook *h)
{
  if (!h) return;
  memset(h->token_key, 0, sizeof h->token_key);
  g_free(h->bounce_domain);
  g_free(h);
}

/* Worth parsing as a report: a null sender, a report content type, a mailer daemon or postmaster
 * in the header, or a subject that says the mail came back. A cheap scan of the header section
 * (at most 64 KiB) so that ordinary correspondence is never parsed twice. */
gboolean outbound_bounce_candidate(const char *mail_from, const void *raw, gsize len)
{
  static const char *const signs[] = {"multipart/report", "mailer-daemon", "postmaster@", "undeliver",
                                      "delivery status", "returned mail", "failure notice", "delivery failure",
                                      "returned to sender", "feedback-report", NULL};
  if (mail_from && !*mail_from) return TRUE;
  gsize n = MIN(len, 64 * 1024);
  const char *p = raw, *end = memmem(p, n, "\r\n\r\n", 4);
  if (!end) end = memmem(p, n, "\n\n", 2);
  g_autofree char *head = g_ascii_strdown(p, end ? end - p : (gssize) n);
  for (guint i = 0; signs[i]; i++)
    if (strstr(head, signs[i])) return TRUE;
  return FALSE;
}

int outbound_bounce_spooled(void *ctx, MaStorage *st, const MaSpoolEntry *e, const void *raw, gsize len,
                            GError **error)
{
  OutboundBounceHook *h = ctx;
  OutboundBounceOutcome out;
  if (g_strcmp0(e->route, "bounce") != 0) {
    if (!e->enterprise_id || !outbound_bounce_candidate(e->mail_from, raw, len)) return 0;
    int rc = outbound_bounce_apply(st, e->enterprise_id, 0, raw, len, &out, error);
    if (rc > 0) ma_info("bounce", "spool=%s route=%s: report about %s (hard=%u soft=%u complaints=%u), not archived",
                        e->id, e->route ? e->route : "-", out.outbound_id, out.hard, out.soft, out.complaints);
    outbound_bounce_outcome_clear(&out);
    return rc;
  }
  if (!h->have_key) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "mail to a bounce address, but [relay] bounce_domain is unset");
    return -1;
  }
  /* the session checked each address; the check is repeated here, where it costs nothing */
  for (guint i = 0; e->rcpts && i < e->rcpts->len; i++) {
    const char *rcpt = g_ptr_array_index(e->rcpts, i), *at = strrchr(rcpt, '@');
    BounceTokenKind kind;
    gint64 row = 0;
    if (!at || g_ascii_strcasecmp(at + 1, h->bounce_domain) != 0 ||
        bounce_token_decode(h->token_key, rcpt, (gsize) (at - rcpt), &kind, &row) != 1) {
      ma_warn("bounce", "spool=%s: <%s> is no bounce address of ours: dropped", e->id, rcpt);
      continue;
    }
    int rc = kind == BOUNCE_TOKEN_UNSUBSCRIBE ? outbound_unsubscribe(st, row, "mailto", error)
                                              : outbound_bounce_apply(st, NULL, row, raw, len, &out, error);
    if (rc < 0) return -1;
    if (kind == BOUNCE_TOKEN_RETURN_PATH) {
      ma_info("bounce", "spool=%s to=<%s>: %s (hard=%u soft=%u complaints=%u)", e->id, rcpt,
              out.outbound_id ? out.outbound_id : "no such recipient", out.hard, out.soft, out.complaints);
      outbound_bounce_outcome_clear(&out);
    }
  }
  return 1;
}
