/* domain_spf.c - the SPF part of a domain check, through dns-spf's evaluator (agent/spf): does the
 * domain's SPF authorise the addresses mailagent sends from ([relay] source_addresses)? Each
 * address is checked as RFC 7208 check_host() would be by a receiver, with postmaster@<domain> as
 * the sender; all must pass. When only [relay] spf_include is configured, the record must name
 * that include. The record itself, and a second SPF record, are reported for the doctor.
 */
#include "domains_private.h"

#include "agent/spf/spf.h"

#include <arpa/inet.h>
#include <string.h>

/* "192.0.2.25", "2001:db8::/48" -> the address (a network's first address). FALSE when invalid. */
static gboolean parse_source(const char *text, MaDnsAddr *addr)
{
  g_autofree char *copy = g_strstrip(g_strdup(text));
  char *slash = strchr(copy, '/');
  if (slash) *slash = '\0';
  memset(addr, 0, sizeof *addr);
  if (inet_pton(AF_INET, copy, &addr->addr.v4) == 1) {
    addr->family = AF_INET;
    return TRUE;
  }
  if (inet_pton(AF_INET6, copy, &addr->addr.v6) == 1) {
    addr->family = AF_INET6;
    return TRUE;
  }
  return FALSE;
}

/* Orders results from best to worst for "all must pass": the worst one is reported. */
static int badness(SpfResult r)
{
  switch (r) {
  case SPF_RESULT_PASS: return 0;
  case SPF_RESULT_NEUTRAL: return 2;
  case SPF_RESULT_NONE: return 3;
  case SPF_RESULT_SOFTFAIL: return 4;
  case SPF_RESULT_FAIL: return 5;
  case SPF_RESULT_PERMERROR: return 6;
  case SPF_RESULT_TEMPERROR: return 7; /* no conclusion beats any conclusion */
  }
  return 7;
}

void domains_spf_evaluate(MaDomainCheck *c, const MaDomainsResolver *resolver)
{
  const MaConfig *cfg = c->cfg;
  if (c->spf_result) return; /* the record look-up itself failed */
  const char *domain = c->domain->domain;
  if (cfg && cfg->relay_source_addresses && *cfg->relay_source_addresses) {
    SpfResolver spf_resolver = { resolver->lookup, resolver->ctx };
    g_autofree char *sender = g_strconcat("postmaster@", domain, NULL);
    gchar **parts = g_strsplit(cfg->relay_source_addresses, ",", -1);
    SpfResult worst = SPF_RESULT_PASS;
    gboolean any = FALSE;
    for (guint i = 0; parts[i]; i++) {
      MaDnsAddr addr;
      if (!parse_source(parts[i], &addr)) continue;
      SpfQuery q = { .ip = &addr, .domain = domain, .sender = sender,
                     .helo = cfg->hostname ? cfg->hostname : domain, .now = c->checked_at };
      SpfOutcome out = { 0 };
      SpfResult r = spf_check_host(&spf_resolver, &q, &out);
      if (r != SPF_RESULT_PASS && out.problem)
        g_ptr_array_add(c->spf_lint, g_strdup_printf("%s: %s", g_strstrip(parts[i]), out.problem));
      else if (r != SPF_RESULT_PASS)
        g_ptr_array_add(c->spf_lint, g_strdup_printf("%s is not authorised (%s)", g_strstrip(parts[i]),
                                                     spf_result_name(r)));
      spf_outcome_clear(&out);
      if (badness(r) > badness(worst)) worst = r;
      any = TRUE;
    }
    g_strfreev(parts);
    c->spf_result = g_strdup(any ? spf_result_name(worst) : "none");
    return;
  }
  if (cfg && cfg->relay_spf_include && *cfg->relay_spf_include) {
    /* No addresses to evaluate: the include must be named in the record itself. */
    g_autofree char *term = g_strconcat("include:", cfg->relay_spf_include, NULL);
    gboolean named = FALSE;
    if (c->spf_record) {
      gchar **terms = g_strsplit(c->spf_record, " ", -1);
      for (guint i = 0; terms[i] && !named; i++) {
        const char *t = terms[i];
        if (*t == '+') t++;
        named = g_ascii_strcasecmp(t, term) == 0;
      }
      g_strfreev(terms);
    }
    c->spf_result = g_strdup(!c->spf_record ? "none" : named ? "pass" : "fail");
    return;
  }
  c->spf_result = g_strdup("none");
  g_ptr_array_add(c->spf_lint, g_strdup("mailagent has neither [relay] source_addresses nor [relay] spf_include: "
                                        "nothing to authorise"));
}
