/* spf_eval.c - check_host() of RFC 7208: record selection (4.5), evaluation of mechanisms in
 * order (5), include and redirect (5.2, 6.1), the explanation of a fail (6.2), and the
 * processing limits (4.6.4: 10 DNS-querying terms, 2 void look-ups, 10 addresses per mx, 10
 * names per ptr). DNS goes through the caller's SpfResolver; this file does no I/O of its own.
 * A recursion guard (SPF_MAX_DEPTH) stops include/redirect chains even if a resolver lies. */
#include "spf_internal.h"

#include "agent/lib/clock.h"

#include <arpa/inet.h>
#include <string.h>

#define SPF_MAX_DEPTH 12

typedef enum { MATCH_NO, MATCH_YES, MATCH_TEMPERROR, MATCH_PERMERROR } Match;

typedef struct {
  const SpfResolver *resolver;
  const SpfQuery *q;
  SpfMacroContext macro;
  guint dns_terms;
  guint void_lookups;
  int depth;
  char *problem; /* the first temperror/permerror's cause, owned */
} Eval;

const char *spf_result_name(SpfResult r)
{
  static const char *names[] = {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"};
  g_assert((guint)r < G_N_ELEMENTS(names));
  return names[r];
}

void spf_outcome_clear(SpfOutcome *out)
{
  g_free(out->explanation);
  g_free(out->mechanism);
  g_free(out->domain);
  g_free(out->problem);
  memset(out, 0, sizeof *out);
}

static void set_problem(Eval *e, char *text)
{
  if (!e->problem) e->problem = text;
  else g_free(text);
}

static MaDnsResult *lookup(Eval *e, const char *name, MaDnsType type)
{
  return e->resolver->lookup(e->resolver->ctx, name, type);
}

/* A void look-up (RFC 7208 4.6.4): NXDOMAIN or an empty answer. FALSE when over the limit. */
static gboolean count_void(Eval *e, const MaDnsResult *r)
{
  if (r->status != MA_DNS_NXDOMAIN && r->status != MA_DNS_NODATA) return TRUE;
  if (++e->void_lookups <= SPF_MAX_VOID_LOOKUPS) return TRUE;
  set_problem(e, g_strdup_printf("more than %d void DNS look-ups (the last: %s)", SPF_MAX_VOID_LOOKUPS, r->name));
  return FALSE;
}

static gboolean in_network(const MaDnsAddr *ip, const guint8 *net, int family, int bits)
{
  if (ip->family != family) return FALSE;
  const guint8 *a = family == AF_INET ? (const guint8 *)&ip->addr.v4 : ip->addr.v6.s6_addr;
  int full = bits / 8, rest = bits % 8;
  if (memcmp(a, net, (size_t)full) != 0) return FALSE;
  if (rest == 0) return TRUE;
  guint8 mask = (guint8)(0xFF << (8 - rest));
  return (a[full] & mask) == (net[full] & mask);
}

static gboolean any_address_matches(const Eval *e, const MaDnsResult *r, const SpfTerm *t)
{
  for (guint i = 0; i < r->n; i++) {
    const MaDnsAddr *a = &r->addr[i];
    const guint8 *net = a->family == AF_INET ? (const guint8 *)&a->addr.v4 : a->addr.v6.s6_addr;
    if (in_network(&e->macro.ip, net, a->family, a->family == AF_INET ? t->cidr4 : t->cidr6)) return TRUE;
  }
  return FALSE;
}

static MaDnsType address_type(const Eval *e)
{
  return e->macro.ip.family == AF_INET ? MA_DNS_A : MA_DNS_AAAA;
}

/* The target domain of a term: its domain-spec expanded, or the current domain. */
static char *target_of(Eval *e, const SpfTerm *t, const char *domain)
{
  if (!t->domain_spec) return g_strdup(domain);
  char *d = spf_macro_expand(&e->macro, t->domain_spec, FALSE, TRUE);
  if (!d) set_problem(e, g_strdup_printf("\"%s\": a malformed macro", t->text));
  return d;
}

static Match temp(Eval *e, const char *what, const MaDnsResult *r)
{
  set_problem(e, g_strdup_printf("DNS %s look-up of %s: %s%s%s", ma_dns_type_name(r->type), r->name,
                                 ma_dns_status_name(r->status), r->reason ? ", " : "", r->reason ? r->reason : ""));
  (void)what;
  return MATCH_TEMPERROR;
}

static SpfResult check_domain(Eval *e, const char *domain, SpfOutcome *out, gboolean explain);

static Match match_a(Eval *e, const SpfTerm *t, const char *target)
{
  g_autoptr(MaDnsResult) r = lookup(e, target, address_type(e));
  if (ma_dns_status_is_temporary(r->status)) return temp(e, "a", r);
  if (!count_void(e, r)) return MATCH_PERMERROR;
  return any_address_matches(e, r, t) ? MATCH_YES : MATCH_NO;
}

static Match match_mx(Eval *e, const SpfTerm *t, const char *target)
{
  g_autoptr(MaDnsResult) mx = lookup(e, target, MA_DNS_MX);
  if (ma_dns_status_is_temporary(mx->status)) return temp(e, "mx", mx);
  if (!count_void(e, mx)) return MATCH_PERMERROR;
  if (mx->n > SPF_MAX_MX_ADDRESS_LOOKUPS) {
    set_problem(e, g_strdup_printf("\"%s\": %s has more than %d MX records", t->text, target,
                                   SPF_MAX_MX_ADDRESS_LOOKUPS));
    return MATCH_PERMERROR;
  }
  for (guint i = 0; i < mx->n; i++) {
    g_autoptr(MaDnsResult) a = lookup(e, mx->mx[i].exchange, address_type(e));
    if (ma_dns_status_is_temporary(a->status)) return temp(e, "mx", a);
    if (any_address_matches(e, a, t)) return MATCH_YES;
  }
  return MATCH_NO;
}

/* RFC 7208 5.5: a validated PTR name equal to target or ending in ".target" matches; DNS
 * errors make it not match. */
static Match match_ptr(Eval *e, const char *target)
{
  g_autofree char *rev = ma_dns_reverse_name(&e->macro.ip);
  g_autoptr(MaDnsResult) ptr = lookup(e, rev, MA_DNS_PTR);
  if (ptr->status != MA_DNS_OK) return count_void(e, ptr) ? MATCH_NO : MATCH_PERMERROR;
  size_t tl = strlen(target);
  if (tl > 0 && target[tl - 1] == '.') tl--;
  for (guint i = 0; i < ptr->n && i < SPF_MAX_PTR_NAMES; i++) {
    const char *name = ptr->ptr[i];
    size_t nl = strlen(name);
    gboolean under = (nl == tl && g_ascii_strncasecmp(name, target, tl) == 0) ||
                     (nl > tl && name[nl - tl - 1] == '.' && g_ascii_strncasecmp(name + nl - tl, target, tl) == 0);
    if (!under) continue;
    g_autoptr(MaDnsResult) a = lookup(e, name, address_type(e));
    SpfTerm exact = {.cidr4 = 32, .cidr6 = 128};
    if (any_address_matches(e, a, &exact)) return MATCH_YES;
  }
  return MATCH_NO;
}

static Match match_exists(Eval *e, const char *target)
{
  g_autoptr(MaDnsResult) r = lookup(e, target, MA_DNS_A); /* always A, even for IPv6 clients */
  if (ma_dns_status_is_temporary(r->status)) return temp(e, "exists", r);
  if (!count_void(e, r)) return MATCH_PERMERROR;
  return r->n > 0 ? MATCH_YES : MATCH_NO;
}

static Match match_include(Eval *e, const SpfTerm *t, const char *target)
{
  SpfOutcome sub = {0};
  SpfResult r = check_domain(e, target, &sub, FALSE);
  spf_outcome_clear(&sub);
  switch (r) {
  case SPF_RESULT_PASS: return MATCH_YES;
  case SPF_RESULT_FAIL:
  case SPF_RESULT_SOFTFAIL:
  case SPF_RESULT_NEUTRAL: return MATCH_NO;
  case SPF_RESULT_TEMPERROR: return MATCH_TEMPERROR;
  case SPF_RESULT_NONE:
    set_problem(e, g_strdup_printf("\"%s\": %s has no SPF record", t->text, target));
    return MATCH_PERMERROR;
  case SPF_RESULT_PERMERROR: return MATCH_PERMERROR;
  }
  g_assert_not_reached();
}

static Match evaluate(Eval *e, const SpfTerm *t, const char *domain)
{
  switch (t->kind) {
  case SPF_TERM_ALL: return MATCH_YES;
  case SPF_TERM_IP4: return in_network(&e->macro.ip, t->ip, AF_INET, t->cidr4) ? MATCH_YES : MATCH_NO;
  case SPF_TERM_IP6: return in_network(&e->macro.ip, t->ip, AF_INET6, t->cidr6) ? MATCH_YES : MATCH_NO;
  default: break;
  }
  g_autofree char *target = target_of(e, t, domain);
  if (!target) return MATCH_PERMERROR;
  if (!ma_dns_name_is_valid(target)) {
    /* an expansion that is no domain name matches nothing (and asks nothing) */
    return t->kind == SPF_TERM_INCLUDE ? (set_problem(e, g_strdup_printf("\"%s\": \"%s\" is not a domain", t->text, target)),
                                          MATCH_PERMERROR)
                                       : MATCH_NO;
  }
  switch (t->kind) {
  case SPF_TERM_A: return match_a(e, t, target);
  case SPF_TERM_MX: return match_mx(e, t, target);
  case SPF_TERM_PTR: return match_ptr(e, target);
  case SPF_TERM_EXISTS: return match_exists(e, target);
  case SPF_TERM_INCLUDE: return match_include(e, t, target);
  default: g_assert_not_reached();
  }
}

static SpfResult qualifier_result(char q)
{
  switch (q) {
  case '-': return SPF_RESULT_FAIL;
  case '~': return SPF_RESULT_SOFTFAIL;
  case '?': return SPF_RESULT_NEUTRAL;
  default: return SPF_RESULT_PASS;
  }
}

/* RFC 7208 6.2: the exp= text, or NULL (the caller uses the default). */
static char *explanation(Eval *e, const SpfRecord *rec)
{
  if (!rec->exp) return NULL;
  g_autofree char *target = spf_macro_expand(&e->macro, rec->exp->domain_spec, FALSE, TRUE);
  if (!target || !ma_dns_name_is_valid(target)) return NULL;
  g_autoptr(MaDnsResult) r = lookup(e, target, MA_DNS_TXT);
  if (r->status != MA_DNS_OK || r->n != 1) return NULL;
  const char *text = r->txt[0].data;
  const char *error = NULL;
  if (strlen(text) != r->txt[0].len || !spf_macro_string_is_valid(text, TRUE, FALSE, &error)) return NULL;
  return spf_macro_expand(&e->macro, text, TRUE, FALSE);
}

static SpfResult fail_with(Eval *e, SpfOutcome *out, SpfResult r, char *problem)
{
  set_problem(e, problem);
  (void)out;
  return r;
}

/* check_host for one domain; explain: compute the explanation of a fail here (false inside an
 * include, whose fail is only "no match" to the includer). */
static SpfResult check_domain(Eval *e, const char *domain, SpfOutcome *out, gboolean explain)
{
  if (++e->depth > SPF_MAX_DEPTH) {
    e->depth--;
    return fail_with(e, out, SPF_RESULT_PERMERROR, g_strdup("include/redirect nested too deeply (a loop?)"));
  }
  const char *saved_domain = e->macro.domain;
  e->macro.domain = domain;
  SpfResult result = SPF_RESULT_NEUTRAL;
  g_autoptr(MaDnsResult) txt = lookup(e, domain, MA_DNS_TXT);
  g_autoptr(SpfRecord) rec = NULL;
  const MaDnsTxt *spf = NULL;
  guint found = 0;
  if (ma_dns_status_is_temporary(txt->status)) {
    temp(e, "txt", txt);
    result = SPF_RESULT_TEMPERROR;
    goto done;
  }
  for (guint i = 0; i < txt->n; i++)
    if (spf_record_is_spf(txt->txt[i].data, txt->txt[i].len)) found++, spf = &txt->txt[i];
  if (found == 0) {
    set_problem(e, g_strdup_printf("%s has no SPF record", domain));
    result = SPF_RESULT_NONE;
    goto done;
  }
  if (found > 1) {
    result = fail_with(e, out, SPF_RESULT_PERMERROR, g_strdup_printf("%s has %u SPF records (one is allowed)", domain, found));
    goto done;
  }
  char *syntax = NULL;
  rec = spf_record_parse(spf->data, spf->len, &syntax);
  if (!rec) {
    result = fail_with(e, out, SPF_RESULT_PERMERROR, g_strdup_printf("the SPF record of %s: %s", domain, syntax));
    g_free(syntax);
    goto done;
  }

  for (guint i = 0; i < rec->terms->len; i++) {
    const SpfTerm *t = g_ptr_array_index(rec->terms, i);
    if (t->kind >= SPF_TERM_REDIRECT) continue;
    if (spf_term_queries_dns(t) && ++e->dns_terms > SPF_MAX_DNS_TERMS) {
      result = fail_with(e, out, SPF_RESULT_PERMERROR,
                         g_strdup_printf("more than %d DNS-querying terms (at \"%s\" in %s)", SPF_MAX_DNS_TERMS, t->text, domain));
      goto done;
    }
    Match m = evaluate(e, t, domain);
    if (m == MATCH_TEMPERROR) {
      result = SPF_RESULT_TEMPERROR;
      goto done;
    }
    if (m == MATCH_PERMERROR) {
      result = SPF_RESULT_PERMERROR;
      goto done;
    }
    if (m == MATCH_YES) {
      result = qualifier_result(t->qualifier);
      out->mechanism = g_strdup(t->text);
      out->domain = g_strdup(domain);
      if (result == SPF_RESULT_FAIL && explain) out->explanation = explanation(e, rec);
      goto done;
    }
  }
  if (rec->redirect) {
    if (++e->dns_terms > SPF_MAX_DNS_TERMS) {
      result = fail_with(e, out, SPF_RESULT_PERMERROR,
                         g_strdup_printf("more than %d DNS-querying terms (at \"%s\" in %s)", SPF_MAX_DNS_TERMS, rec->redirect->text, domain));
      goto done;
    }
    g_autofree char *target = target_of(e, rec->redirect, domain);
    if (!target) {
      result = SPF_RESULT_PERMERROR;
      goto done;
    }
    if (!ma_dns_name_is_valid(target)) {
      result = fail_with(e, out, SPF_RESULT_PERMERROR, g_strdup_printf("redirect to \"%s\", not a domain", target));
      goto done;
    }
    /* the redirect target's evaluation replaces ours entirely, its exp= included */
    result = check_domain(e, target, out, explain);
    if (result == SPF_RESULT_NONE) {
      result = fail_with(e, out, SPF_RESULT_PERMERROR, g_strdup_printf("redirect to %s, which has no SPF record", target));
      g_clear_pointer(&e->problem, g_free);
      e->problem = g_strdup_printf("redirect to %s, which has no SPF record", target);
    }
    goto done;
  }
  out->mechanism = g_strdup("default");
  out->domain = g_strdup(domain);
  result = SPF_RESULT_NEUTRAL;
done:
  e->macro.domain = saved_domain;
  e->depth--;
  return result;
}

/* RFC 7208 4.3: a name we can look up at all (labels of 1-63, at most 253, at least two labels) */
static gboolean initial_domain_ok(const char *d)
{
  if (!d || !ma_dns_name_is_valid(d)) return FALSE;
  size_t n = strlen(d);
  if (n > 0 && d[n - 1] == '.') n--;
  const char *dot = memchr(d, '.', n);
  return dot != NULL;
}

SpfResult spf_check_host(const SpfResolver *resolver, const SpfQuery *q, SpfOutcome *out)
{
  memset(out, 0, sizeof *out);
  Eval e = {.resolver = resolver, .q = q};
  e.macro.resolver = resolver;
  e.macro.ip = *q->ip;
  if (q->ip->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&q->ip->addr.v6)) {
    e.macro.ip.family = AF_INET;
    memcpy(&e.macro.ip.addr.v4, q->ip->addr.v6.s6_addr + 12, 4);
  }
  const char *helo = q->helo ? q->helo : "";
  g_autofree char *sender = (q->sender && *q->sender) ? g_strdup(q->sender) : g_strdup_printf("postmaster@%s", helo);
  const char *at = strrchr(sender, '@');
  g_autofree char *local = at && at > sender ? g_strndup(sender, (gsize)(at - sender)) : g_strdup("postmaster");
  e.macro.sender = sender;
  e.macro.local = local;
  e.macro.sender_domain = at ? at + 1 : sender;
  e.macro.helo = helo;
  e.macro.receiver = q->receiver;
  e.macro.now = q->now ? q->now : ma_now();

  SpfResult r;
  if (!initial_domain_ok(q->domain)) {
    r = SPF_RESULT_NONE;
    e.problem = g_strdup_printf("\"%s\" is not a domain SPF can be looked up for", q->domain ? q->domain : "");
  } else {
    g_autofree char *domain = g_strdup(q->domain);
    size_t n = strlen(domain);
    if (domain[n - 1] == '.') domain[n - 1] = '\0';
    r = check_domain(&e, domain, out, TRUE);
  }
  out->result = r;
  out->dns_terms = e.dns_terms;
  out->void_lookups = e.void_lookups;
  if (r == SPF_RESULT_FAIL && !out->explanation) {
    if (q->default_explanation) {
      out->explanation = g_strdup(q->default_explanation);
    } else {
      char addr[INET6_ADDRSTRLEN];
      inet_ntop(e.macro.ip.family, &e.macro.ip.addr, addr, sizeof addr);
      out->explanation = g_strdup_printf("%s does not authorise %s to send mail (SPF)",
                                         out->domain ? out->domain : q->domain, addr);
    }
  }
  if (r == SPF_RESULT_NONE || r == SPF_RESULT_TEMPERROR || r == SPF_RESULT_PERMERROR) {
    g_clear_pointer(&out->mechanism, g_free);
    out->problem = g_steal_pointer(&e.problem);
  }
  g_free(e.problem);
  g_free(e.macro.validated);
  return r;
}

static MaDnsResult *lookup_sync(void *ctx, const char *name, MaDnsType type)
{
  return ma_dns_sync_lookup(ctx, name, type);
}

SpfResolver spf_resolver_dns(MaDnsSync *dns)
{
  return (SpfResolver){.lookup = lookup_sync, .ctx = dns};
}
