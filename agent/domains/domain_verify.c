/* domain_verify.c - what a check changes: keys activate when their record is seen (a new key of a
 * type retires the older active one, which is when the operator learns its record may go), the
 * domain's status moves by the rules of ma_domains_next_state, and a status change becomes a
 * domain.status_changed event in the webhook outbox, all in one transaction.
 *
 * The rules: a check that could not conclude (DNS time-out, SERVFAIL) never changes the status;
 * it only backs off. A verified domain becomes failed only after DOMAINS_FAILURES_TO_DROP definite
 * failures in a row. A domain never verified stays pending while nothing is published yet.
 */
#include "domains_private.h"

#include "agent/lib/clock.h"
#include "agent/lib/error.h"

#include <stdlib.h>
#include <string.h>

void ma_domains_next_state(const MaDomain *in, MaCheckOutcome outcome, const char *reason,
                           const char *detail, gint64 now, MaDomain *out)
{
  const char *was = in->status;
  gboolean was_verified = g_strcmp0(was, "verified") == 0;
  out->checked_at = now;
  out->verified_at = in->verified_at;
  out->failures = in->failures;
  out->dns_errors = in->dns_errors;
  g_free(out->status);
  g_free(out->reason);
  g_free(out->detail);
  out->detail = g_strdup(detail);
  switch (outcome) {
  case MA_CHECK_OK:
    out->status = g_strdup("verified");
    out->reason = NULL;
    out->failures = 0;
    out->dns_errors = 0;
    if (!was_verified) out->verified_at = now;
    out->next_check_at = now + DOMAINS_RECHECK_VERIFIED;
    break;
  case MA_CHECK_TEMPFAIL: {
    out->status = g_strdup(was);
    out->reason = g_strdup(reason);
    out->dns_errors = in->dns_errors + 1;
    gint64 cap = was_verified ? DOMAINS_RECHECK_VERIFIED : DOMAINS_RECHECK_UNVERIFIED;
    gint64 delay = DOMAINS_BACKOFF_BASE;
    for (int i = 1; i < out->dns_errors && delay < cap; i++) delay *= 2;
    out->next_check_at = now + MIN(delay, cap);
    break;
  }
  case MA_CHECK_FAILED:
    out->dns_errors = 0;
    out->failures = in->failures + 1;
    out->reason = g_strdup(reason);
    if (was_verified && out->failures < DOMAINS_FAILURES_TO_DROP) {
      out->status = g_strdup("verified"); /* one bad answer is not proof: look again soon */
      out->next_check_at = now + DOMAINS_RECHECK_SUSPECT;
    } else if (!was_verified && g_strcmp0(was, "failed") != 0 &&
               (g_strcmp0(reason, "no_record") == 0 || g_strcmp0(reason, "no_key") == 0)) {
      out->status = g_strdup("pending"); /* nothing published yet */
      out->next_check_at = now + DOMAINS_RECHECK_UNVERIFIED;
    } else {
      out->status = g_strdup("failed");
      out->next_check_at = now + DOMAINS_RECHECK_UNVERIFIED;
    }
    break;
  }
}

static void note(GPtrArray *notes, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void note(GPtrArray *notes, const char *fmt, ...)
{
  if (!notes) return;
  va_list ap;
  va_start(ap, fmt);
  g_ptr_array_add(notes, g_strdup_vprintf(fmt, ap));
  va_end(ap);
}

int ma_domains_apply_keys(MaStorage *st, MaDomainCheck *check, gint64 now, GPtrArray *notes, GError **error)
{
  for (guint i = 0; i < check->key_checks->len; i++) {
    MaDomainKeyCheck *kc = check->key_checks->pdata[i];
    MaDomainKey *k = kc->key;
    if (g_strcmp0(kc->reason, "dns_timeout") == 0) continue; /* no news */
    gboolean published = kc->reason == NULL;
    gboolean activate = published && strcmp(k->state, "pending") == 0;
    if (published == k->published && !activate) continue;
    k->published = published;
    if (activate) {
      g_free(k->state);
      k->state = g_strdup("active");
      k->activated_at = now;
      note(notes, "DKIM selector %s of %s verified: mail is now signed with it", k->selector, k->domain);
    }
    if (storage_domain_key_update(st, k, error) < 0) return -1;
    if (!activate) continue;
    /* Rotation: the older active key of the same type stops signing; its record stays a while. */
    for (guint j = 0; j < check->keys->len; j++) {
      MaDomainKey *old = check->keys->pdata[j];
      if (old == k || strcmp(old->state, "active") != 0 ||
          strcmp(domains_key_family(old->algorithm), domains_key_family(k->algorithm)) != 0)
        continue;
      g_free(old->state);
      old->state = g_strdup("retired");
      old->retired_at = now;
      if (storage_domain_key_update(st, old, error) < 0) return -1;
      char when[32];
      ma_time_format(now + DKIM_RETIRED_GRACE, when);
      note(notes, "DKIM selector %s of %s retired (replaced by %s): its DNS record may be removed after %s",
           old->selector, old->domain, k->selector, when);
    }
  }
  return 0;
}

/* The payload of domain.status_changed (JSON text, newly allocated). */
static char *status_event(const MaDomain *before, const MaDomain *after)
{
  char checked[32];
  ma_time_format(after->checked_at, checked);
  json_t *o = json_object();
  json_object_set_new(o, "domain", json_string(after->domain));
  json_object_set_new(o, "status", json_string(after->status));
  json_object_set_new(o, "previous_status", json_string(before->status));
  json_object_set_new(o, "reason", after->reason ? json_string(after->reason) : json_null());
  json_object_set_new(o, "detail", after->detail ? json_string(after->detail) : json_null());
  json_object_set_new(o, "checked_at", json_string(checked));
  char *text = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  char *out = g_strdup(text);
  free(text);
  return out;
}

static int apply_body(MaStorage *st, MaDomainCheck *check, gint64 now, GPtrArray *notes, gboolean *changed_r,
                      GError **error)
{
  MaDomain *before = check->domain;
  MaDomain after = *before;
  after.status = after.reason = after.detail = NULL;
  ma_domains_next_state(before, check->outcome, check->reason, check->detail, now, &after);
  int rc = ma_domains_apply_keys(st, check, now, notes, error);
  if (rc == 0) rc = storage_domain_update(st, &after, error);
  if (rc == 0 && g_strcmp0(before->status, after.status) != 0) {
    *changed_r = TRUE;
    g_autofree char *payload = status_event(before, &after);
    g_autofree char *id = ma_id_new(); /* each change is its own event */
    g_autofree char *key = g_strconcat("domain.status_changed:", id, NULL);
    if (storage_outbox_add(st, before->enterprise_id, "domain.status_changed", key, payload, now, error) < 0) rc = -1;
    else note(notes, "%s: %s -> %s", before->domain, before->status, after.status);
  }
  if (rc == 0) {
    /* The check's copy follows the row, for the report printed afterwards. */
    g_free(before->status);
    g_free(before->reason);
    g_free(before->detail);
    *before = after;
  } else {
    g_free(after.status);
    g_free(after.reason);
    g_free(after.detail);
  }
  return rc;
}

int ma_domains_apply(MaStorage *st, MaDomainCheck *check, gint64 now, GPtrArray *notes, gboolean *changed_r,
                     GError **error)
{
  *changed_r = FALSE;
  if (storage_begin(st, error) < 0) return -1;
  int rc = apply_body(st, check, now, notes, changed_r, error);
  if (rc == 0) return storage_commit(st, error);
  storage_rollback(st);
  if (!g_error_matches(*error, MA_ERROR, MA_ERROR_CONFLICT)) return -1;
  /* Another enterprise verified it first: this claim fails (and is checked again later, in case
   * the domain moves). */
  g_clear_error(error);
  *changed_r = FALSE;
  g_free(check->detail);
  check->detail = g_strdup("the domain is verified by another enterprise");
  check->outcome = MA_CHECK_FAILED;
  check->reason = "owned_elsewhere";
  if (storage_begin(st, error) < 0) return -1;
  rc = apply_body(st, check, now, notes, changed_r, error);
  if (rc == 0) return storage_commit(st, error);
  storage_rollback(st);
  return -1;
}
