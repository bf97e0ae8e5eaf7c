/* forwarder_policy.c - the "who forwarded it" decision of issue 3 (see forwarder_policy.h).
 *
 * Reads only the envelope, the client's network membership (decided by the caller) and four
 * header fields (Resent-From, X-Forwarded-For, X-Forwarded-To, Delivered-To) of the header
 * section, read once by mime_forward_signals_read (agent/mime: the parser reads them with it too;
 * the header section ends at the first empty line, at most 64 KiB of one field is considered).
 * Never reads From/To/Cc.
 */
#include "forwarder_policy.h"

#include "agent/mime/mime.h"

#include <string.h>

int forwarder_policy_parse(const char *name, FwdPolicy *out)
{
  if (!name) return -1;
  if (g_ascii_strcasecmp(name, "employee") == 0) *out = FWD_POLICY_EMPLOYEE;
  else if (g_ascii_strcasecmp(name, "domain") == 0) *out = FWD_POLICY_DOMAIN;
  else if (g_ascii_strcasecmp(name, "any") == 0) *out = FWD_POLICY_ANY;
  else if (g_ascii_strcasecmp(name, "strict") == 0) *out = FWD_POLICY_STRICT;
  else return -1;
  return 0;
}

const char *forwarder_policy_name(FwdPolicy p)
{
  switch (p) {
  case FWD_POLICY_EMPLOYEE: return "employee";
  case FWD_POLICY_DOMAIN: return "domain";
  case FWD_POLICY_ANY: return "any";
  case FWD_POLICY_STRICT: return "strict";
  }
  return "employee";
}

void forwarder_decision_clear(FwdDecision *d)
{
  g_clear_pointer(&d->employee_id, g_free);
  g_clear_pointer(&d->reason, g_free);
  d->signal = NULL;
  d->satisfied = FALSE;
  d->final = FALSE;
}

gboolean forwarder_is_srs(const char *address, const char **srs_domain_r)
{
  const char *at = strrchr(address, '@');
  if (!at || at[1] == '\0') return FALSE;
  if (g_ascii_strncasecmp(address, "SRS0=", 5) != 0 && g_ascii_strncasecmp(address, "SRS1=", 5) != 0 &&
      g_ascii_strncasecmp(address, "SRS0+", 5) != 0 && g_ascii_strncasecmp(address, "SRS0-", 5) != 0 &&
      g_ascii_strncasecmp(address, "SRS1+", 5) != 0 && g_ascii_strncasecmp(address, "SRS1-", 5) != 0)
    return FALSE;
  *srs_domain_r = at + 1;
  return TRUE;
}

static gboolean domain_is_ours(const FwdInput *in, const char *address)
{
  const char *at = address ? strrchr(address, '@') : NULL;
  if (!at || !in->domains) return FALSE;
  for (guint i = 0; in->domains[i]; i++)
    if (g_ascii_strcasecmp(at + 1, in->domains[i]) == 0) return TRUE;
  return FALSE;
}

typedef struct {
  char *employee_id;
  const char *employee_signal;
  const char *domain_signal;
  const char *route_signal; /* forwarder_network or srs: a route the enterprise owns */
} Found;

/* Looks the addresses up in order (lower-cased); the first employee wins. 1 found, 0 none, -1 error. */
static int find_employee(const FwdInput *in, const GPtrArray *addrs, const char *signal, Found *f, GError **error)
{
  for (guint i = 0; addrs && i < addrs->len; i++) {
    g_autofree char *a = g_ascii_strdown(g_ptr_array_index(addrs, i), -1);
    if (!f->domain_signal && domain_is_ours(in, a)) f->domain_signal = signal;
    if (!f->employee_id) {
      int rc = in->lookup(in->lookup_ctx, a, &f->employee_id, error);
      if (rc < 0) return -1;
      if (rc > 0) {
        f->employee_signal = signal;
        return 1;
      }
    }
  }
  return 0;
}

/* The header signals in order: Resent-From, X-Forwarded-For, then (behind a route the enterprise
 * owns) the mailbox headers. The header block is read once (mime_forward_signals_read), as the
 * parser reads it. 0, or -1 with *error. */
static int header_signals(const FwdInput *in, const guint8 *msg, gsize len, Found *f, GError **error)
{
  MimeForwardFields sig;
  mime_forward_signals_read(msg, len, &sig);
  int rc = find_employee(in, sig.resent_from, "resent_from", f, error);
  if (rc == 0) rc = find_employee(in, sig.x_forwarded_for, "x_forwarded_for", f, error);
  if (rc == 0 && f->route_signal) {
    /* mailbox headers name the employee only behind a route the enterprise owns */
    rc = find_employee(in, sig.x_forwarded_to, f->route_signal, f, error);
    if (rc == 0) rc = find_employee(in, sig.delivered_to, f->route_signal, f, error);
  }
  mime_forward_signals_clear(&sig);
  return rc < 0 ? -1 : 0;
}

int forwarder_policy_decide(const FwdInput *in, const char *mail_from, const guint8 *msg, gsize len, FwdDecision *out,
                            GError **error)
{
  Found f = {0};
  const char *srs_domain = NULL;
  gboolean envelope_trusted;
  g_autofree char *sender = g_ascii_strdown(mail_from ? mail_from : "", -1);

  memset(out, 0, sizeof *out);
  if (in->client_in_networks) {
    f.route_signal = "forwarder_network";
    f.domain_signal = "forwarder_network";
  }
  if (sender[0]) {
    g_autoptr(GPtrArray) one = g_ptr_array_new();
    if (forwarder_is_srs(sender, &srs_domain)) {
      g_autofree char *probe = g_strconcat("x@", srs_domain, NULL);
      if (domain_is_ours(in, probe)) {
        if (!f.route_signal) f.route_signal = "srs";
        if (!f.domain_signal) f.domain_signal = "srs";
      }
    }
    g_ptr_array_add(one, sender);
    if (find_employee(in, one, "envelope_sender", &f, error) < 0) goto fail;
  }
  envelope_trusted = f.route_signal != NULL || f.employee_id != NULL; /* forwarder network, SRS, employee */
  if (msg && !f.employee_id && header_signals(in, msg, len, &f, error) < 0) goto fail;

  out->employee_id = f.employee_id;
  switch (in->policy) {
  case FWD_POLICY_ANY:
    out->satisfied = TRUE;
    break;
  case FWD_POLICY_DOMAIN:
    out->satisfied = f.employee_id != NULL || f.domain_signal != NULL;
    break;
  case FWD_POLICY_EMPLOYEE:
    out->satisfied = f.employee_id != NULL;
    break;
  case FWD_POLICY_STRICT:
    out->satisfied = envelope_trusted;
    out->final = msg == NULL;
    break;
  }
  out->signal = f.employee_id ? f.employee_signal : f.domain_signal ? f.domain_signal : f.route_signal;
  if (!out->satisfied) {
    if (in->policy == FWD_POLICY_STRICT)
      out->reason = g_strdup("the sender is not a known forwarder of the recipient's enterprise (its mail servers, a "
                             "registered employee as envelope sender, or SRS from its domain)");
    else if (in->policy == FWD_POLICY_EMPLOYEE)
      out->reason = g_strdup(f.route_signal ? "forwarded by the enterprise, but no trusted signal names a registered employee"
                                            : "no trusted signal names a registered employee of the recipient's enterprise "
                                              "(envelope sender, SRS, Resent-From, X-Forwarded-For; To/Cc do not count)");
    else
      out->reason = g_strdup("no trusted signal names one of the recipient enterprise's domains");
  }
  return 0;

fail:
  g_free(f.employee_id);
  return -1;
}
