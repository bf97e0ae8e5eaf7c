/* forwarder_policy.c - the "who forwarded it" decision of issue 3 (see forwarder_policy.h).
 *
 * Reads only the envelope, the client's network membership (decided by the caller) and four
 * header fields (Resent-From, X-Forwarded-For, X-Forwarded-To, Delivered-To) of the header
 * section, which is scanned in place with a bound: the header section ends at the first empty
 * line, and at most 64 KiB of one field is considered. Never reads From/To/Cc.
 */
#include "forwarder_policy.h"

#include <string.h>

#define FWD_MAX_FIELD 65536

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

/* Splits an unfolded header value into address-like tokens (containing '@'). */
static void collect_addresses(const char *value, GPtrArray *out)
{
  g_auto(GStrv) parts = g_strsplit_set(value, " \t,;<>\"()", -1);
  for (guint i = 0; parts[i]; i++) {
    const char *at = strchr(parts[i], '@');
    if (!at || at == parts[i] || at[1] == '\0' || strchr(at + 1, '@')) continue;
    g_ptr_array_add(out, g_ascii_strdown(parts[i], -1));
  }
}

void forwarder_header_addresses(const guint8 *msg, gsize len, const char *name, gboolean all_fields, GPtrArray *out)
{
  gsize name_len = strlen(name), i = 0;

  while (i < len) {
    gsize eol = i;
    while (eol < len && msg[eol] != '\n') eol++;
    if (eol == i || (eol == i + 1 && msg[i] == '\r')) return; /* empty line: end of headers */
    if (eol - i > name_len && msg[i + name_len] == ':' && g_ascii_strncasecmp((const char *) msg + i, name, name_len) == 0) {
      GString *v = g_string_new(NULL);
      gsize j = i + name_len + 1;
      for (;;) {
        gsize k;
        for (k = j; k < eol && v->len < FWD_MAX_FIELD; k++)
          if (msg[k] != '\r') g_string_append_c(v, (char) msg[k]);
        i = eol + 1;
        if (i >= len || (msg[i] != ' ' && msg[i] != '\t')) break;
        eol = i; /* folded continuation */
        while (eol < len && msg[eol] != '\n') eol++;
        j = i;
        g_string_append_c(v, ' ');
      }
      collect_addresses(v->str, out);
      g_string_free(v, TRUE);
      if (!all_fields) return;
      continue;
    }
    i = eol + 1;
  }
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

/* Looks the addresses up in order; the first employee wins. 1 found, 0 none, -1 error. */
static int find_employee(const FwdInput *in, GPtrArray *addrs, const char *signal, Found *f, GError **error)
{
  for (guint i = 0; i < addrs->len; i++) {
    const char *a = g_ptr_array_index(addrs, i);
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

static int header_signal(const FwdInput *in, const guint8 *msg, gsize len, const char *field, gboolean all,
                         const char *signal, Found *f, GError **error)
{
  g_autoptr(GPtrArray) addrs = g_ptr_array_new_with_free_func(g_free);
  forwarder_header_addresses(msg, len, field, all, addrs);
  return find_employee(in, addrs, signal, f, error);
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
  if (msg && !f.employee_id) {
    if (header_signal(in, msg, len, "Resent-From", FALSE, "resent_from", &f, error) < 0) goto fail;
    if (!f.employee_id && header_signal(in, msg, len, "X-Forwarded-For", TRUE, "x_forwarded_for", &f, error) < 0)
      goto fail;
    if (!f.employee_id && f.route_signal) {
      /* mailbox headers name the employee only behind a route the enterprise owns */
      if (header_signal(in, msg, len, "X-Forwarded-To", FALSE, f.route_signal, &f, error) < 0) goto fail;
      if (!f.employee_id && header_signal(in, msg, len, "Delivered-To", FALSE, f.route_signal, &f, error) < 0)
        goto fail;
    }
  }

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
