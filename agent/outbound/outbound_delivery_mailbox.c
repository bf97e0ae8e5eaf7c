/* outbound_delivery_mailbox.c - the delivery thread's part for the employee-mailbox channel
 * (issue 13): a job's recipients reserved against the mailbox's daily limit before its connection
 * starts, those beyond it sent to the default path or deferred to the next day; the binding read
 * again for each routing (its SMTP server, its password); the OAuth2 token provider glue (also for
 * enterprise relays that sign in with XOAUTH2). Runs on
 * the delivery thread (outbound_delivery.c), whose types it shares.
 */
#include "outbound_delivery_internal.h"

/* Recipient k of j leaves the mailbox's route: to the default path when the From domain may use it,
 * else deferred until the day after (the limit is per day). Its row goes to the group commit or is
 * rerouted now; j keeps a NULL in its place. */
static void mailbox_overflow(Engine *e, Job *j, guint k, const char *why_limit, gint64 next_day)
{
  MaOutboundRecipient *r = g_ptr_array_index(j->rcpts, k);
  g_ptr_array_index(j->rcpts, k) = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  const char *at = j->msg->header_from ? strrchr(j->msg->header_from, '@') : NULL;
  int may = at ? ma_domains_may_send(e->st, j->msg->enterprise_id, at + 1, &reason, &error) : 0;
  if (may > 0) {
    g_autofree char *why = g_strdup_printf("%s: the default path", why_limit);
    g_autofree char *route = outbound_fallback_route(j->dest->mailbox->id, why);
    if (storage_outbound_recipient_reroute(e->st, r->id, route, ma_now(), ma_now(), &error) < 0)
      ma_error("outbound", "%s to=<%s>: cannot reroute: %s (retried after its lease)", j->msg->id, r->address,
               error->message);
    else
      ma_info("outbound", "%s to=<%s> %s", j->msg->id, r->address, why);
    ma_outbound_recipient_free(r);
    outbound_delivery_notify();
    return;
  }
  Outcome *o = g_new0(Outcome, 1);
  o->msg = delivery_job_msg_copy(j->msg);
  o->r = r;
  o->outcome = SMTP_OUTCOME_TEMP;
  o->not_before = next_day;
  g_snprintf(o->reply, sizeof o->reply, "%s; the default path is not open to %s (%s): waiting for the next day",
             why_limit, at ? at + 1 : "this sender", may < 0 ? "storage error" : reason ? reason : "not in the domain scope");
  g_ptr_array_add(e->outcomes, o);
  event_active(e->flush_ev, EV_TIMEOUT, 1);
}

/* Reserves j's recipients against its mailbox's daily limit; those over it leave (mailbox_overflow).
 * FALSE when none is left (j freed). */
gboolean delivery_mailbox_admit(Engine *e, Job *j)
{
  const MaMailbox *m = j->dest->mailbox;
  j->mailbox_id = g_strdup(m->id);
  j->sent_copy = m->sent_copy && g_str_equal(m->protocol, "imap");
  gint64 next_day = 0;
  outbound_mailbox_day(e->st, m->enterprise_id, ma_now(), j->day, &next_day);
  int granted = 0;
  gint64 count = 0;
  g_autoptr(GError) error = NULL;
  if (storage_mailbox_send_reserve(e->st, m->id, j->day, m->daily_limit, (int) j->rcpts->len, &granted, &count,
                                   &error) < 0) {
    delivery_fail_job(e, j, SMTP_OUTCOME_TEMP, "cannot count the mailbox's daily limit (storage)");
    return FALSE;
  }
  j->reserved = granted;
  if ((guint) granted == j->rcpts->len) return TRUE;
  g_autofree char *why = g_strdup_printf("daily limit %d of mailbox %s reached for %s", m->daily_limit, m->email, j->day);
  for (guint k = (guint) granted; k < j->rcpts->len; k++) mailbox_overflow(e, j, k, why, next_day);
  g_ptr_array_set_size(j->rcpts, granted); /* the tail is NULL now */
  if (granted == 0) {
    delivery_job_free(j);
    return FALSE;
  }
  return TRUE;
}

/* On oauth2_async's worker: a grant is revoked; a mailbox's binding turns needs_reauth, an
 * enterprise relay needs sign-in (the session's AUTH failure counts against the relay as any). */
void delivery_grant_revoked(MaStorage *st, const char *owner, const char *why, void *data)
{
  if (g_str_has_prefix(owner, "mailbox:")) {
    collector_grant_revoked(st, owner + strlen("mailbox:"), why);
  } else if (g_str_has_prefix(owner, "relay:")) {
    g_autoptr(GError) error = NULL;
    if (relay_oauth2_revoked(st, owner + strlen("relay:"), why, &error) < 0)
      ma_error("outbound", "%s: cannot mark it as needing sign-in: %s", owner, error->message);
    else
      ma_info("outbound", "%s: the provider refused its OAuth2 grant: needs sign-in", owner);
  }
}

/* Token provider glue: SmtpTokenProvider over oauth2_async. */
guint delivery_token_get(void *ctx, const char *owner, gboolean force, SmtpTokenReady ready, void *arg)
{
  return oauth2_async_get(ctx, owner, force, (Oauth2AsyncReady) ready, arg);
}

/* Reads the binding of a "mailbox:<id>" destination again: its server, its password. 0, or -1
 * with d->failure set. */
int delivery_mailbox_load(Engine *e, Dest *d)
{
  const char *id = d->key + strlen("mailbox:");
  g_autoptr(GError) error = NULL;
  ma_mailbox_free(d->mailbox);
  d->mailbox = NULL;
  if (d->secret) memset(d->secret, 0, strlen(d->secret));
  g_clear_pointer(&d->secret, g_free);
  MaMailbox *m = NULL;
  int rc = storage_mailbox_get(e->st, NULL, id, &m, &error);
  if (rc <= 0) d->failure = g_strdup_printf("the employee's mailbox %s is %s", id, rc < 0 ? "unreadable" : "no longer bound");
  else if (!m->smtp_host) d->failure = g_strdup_printf("mailbox %s is not used to send", m->email);
  else if (g_strcmp0(m->state, "active") != 0) d->failure = g_strdup_printf("mailbox %s is %s", m->email, m->state);
  else if (!e->coll_ok) d->failure = g_strdup("no master key: cannot open the mailbox's credentials");
  else if (g_str_equal(m->auth, "password")) {
    g_autofree char *aad = collector_secret_aad(m->id);
    d->secret = m->secret_sealed ? ma_secret_open(e->coll.master_key, aad, m->secret_sealed, NULL) : NULL;
    if (!d->secret) d->failure = g_strdup_printf("mailbox %s: its password cannot be opened", m->email);
  }
  if (d->failure) {
    ma_mailbox_free(m);
    return -1;
  }
  d->mailbox = m;
  return 0;
}
