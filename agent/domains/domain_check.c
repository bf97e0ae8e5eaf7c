/* domain_check.c - one look at what a domain publishes: each pending or active DKIM key's TXT
 * record against the stored public key (through the customer's CNAME in delegated mode), the
 * ownership challenge, the SPF record of the return path's domain, DMARC and MX. The conclusion
 * is ok / a definite failure with its reason / no conclusion (DNS did not answer). Synchronous
 * and read-only: applying the conclusion is domain_verify.c's job.
 */
#include "domains_private.h"

#include "agent/lib/error.h"

#include <string.h>

static MaDnsResult *sync_lookup(void *ctx, const char *name, MaDnsType type)
{
  return ma_dns_sync_lookup(ctx, name, type);
}

MaDomainsResolver ma_domains_resolver_dns(MaDnsSync *dns)
{
  return (MaDomainsResolver) { sync_lookup, dns };
}

static void key_check_free(MaDomainKeyCheck *kc)
{
  if (!kc) return;
  g_free(kc->name);
  g_free(kc->found);
  g_free(kc->expected);
  g_free(kc->cname_found);
  g_free(kc->fix);
  g_free(kc);
}

void ma_domain_check_free(MaDomainCheck *c)
{
  if (!c) return;
  ma_domain_free(c->domain);
  if (c->key_checks) g_ptr_array_unref(c->key_checks);
  if (c->keys) g_ptr_array_unref(c->keys);
  g_free(c->spf_record);
  g_free(c->spf_result);
  g_free(c->spf_proposed);
  if (c->spf_lint) g_ptr_array_unref(c->spf_lint);
  g_free(c->dmarc_record);
  g_free(c->dmarc_policy);
  if (c->mx) g_ptr_array_unref(c->mx);
  g_free(c->detail);
  g_free(c);
}

/* TXT records of name into out (char*); returns the look-up status. */
static MaDnsStatus txt_records(const MaDomainsResolver *r, const char *name, GPtrArray *out, char **canonical_r)
{
  MaDnsResult *res = r->lookup(r->ctx, name, MA_DNS_TXT);
  MaDnsStatus status = res->status;
  for (guint i = 0; status == MA_DNS_OK && i < res->n; i++)
    if (memchr(res->txt[i].data, '\0', res->txt[i].len) == NULL) g_ptr_array_add(out, g_strdup(res->txt[i].data));
  if (canonical_r) *canonical_r = g_strdup(res->canonical);
  ma_dns_result_free(res);
  return status;
}

static void check_key(MaDomainCheck *c, MaDomainKey *k, const MaDomainsResolver *r)
{
  MaDomainKeyCheck *kc = g_new0(MaDomainKeyCheck, 1);
  kc->key = k;
  kc->name = domains_key_name(k->selector, k->domain);
  kc->expected = ma_domains_key_record(k);
  g_autoptr(GPtrArray) txts = g_ptr_array_new_with_free_func(g_free);
  g_autofree char *canonical = NULL;
  MaDnsStatus status = txt_records(r, kc->name, txts, &canonical);
  if (k->target && canonical && g_ascii_strcasecmp(canonical, kc->name) != 0) kc->cname_found = g_strdup(canonical);
  if (ma_dns_status_is_temporary(status)) {
    kc->reason = "dns_timeout";
    kc->fix = g_strdup_printf("DNS did not answer for %s (%s); mailagent will ask again", kc->name,
                              ma_dns_status_name(status));
  } else {
    /* Among the TXT records at the name, the one with our key wins; else the first DKIM-looking. */
    const char *why = NULL;
    for (guint i = 0; i < txts->len; i++) {
      const char *t = txts->pdata[i];
      g_autofree char *kt = NULL, *p = NULL;
      const char *err = NULL;
      if (ma_dkim_record_parse(t, strlen(t), &kt, &p, &err) < 0) {
        if (!kc->found && (strstr(t, "p=") || g_str_has_prefix(t, "v=DKIM1"))) {
          kc->found = g_strdup(t);
          why = err;
        }
        continue;
      }
      g_free(kc->found);
      kc->found = g_strdup(t);
      why = NULL;
      if (strcmp(p, k->public_b64) == 0 && strcmp(kt, domains_key_family(k->algorithm)) == 0) {
        kc->reason = NULL;
        why = "match";
        break;
      }
      kc->reason = "wrong_key";
    }
    if (why && strcmp(why, "match") == 0) {
      kc->reason = NULL;
    } else if (!kc->found) {
      kc->reason = "no_record";
    } else if (why) {
      kc->reason = "record_syntax";
      kc->fix = g_strdup_printf("the record at %s does not parse (%s); replace it with the record below", kc->name, why);
    } else {
      kc->reason = "wrong_key";
    }
    if (kc->reason && !kc->fix) {
      if (k->target)
        kc->fix = g_strdup_printf("publish %s CNAME %s (and mailagent's operator the TXT record at %s)", kc->name,
                                  k->target, k->target);
      else if (strcmp(kc->reason, "no_record") == 0)
        kc->fix = g_strdup_printf("publish a TXT record at %s with the value below", kc->name);
      else
        kc->fix = g_strdup_printf("the TXT record at %s holds another key; replace its value with the one below",
                                  kc->name);
    }
  }
  g_ptr_array_add(c->key_checks, kc);
}

static void check_challenge(MaDomainCheck *c, const MaDomainsResolver *r)
{
  g_autofree char *name = g_strconcat("_mailagent.", c->domain->domain, NULL);
  g_autofree char *want = g_strconcat("mailagent-verification=", c->domain->challenge, NULL);
  g_autoptr(GPtrArray) txts = g_ptr_array_new_with_free_func(g_free);
  txt_records(r, name, txts, NULL);
  for (guint i = 0; i < txts->len; i++)
    if (strcmp(txts->pdata[i], want) == 0) c->challenge_found = TRUE;
}

/* The value of tag in a DMARC record ("p=reject; adkim=s"), newly allocated, or NULL. */
static char *dmarc_tag(const char *record, const char *tag)
{
  gchar **parts = g_strsplit(record, ";", -1);
  char *out = NULL;
  for (guint i = 0; parts[i] && !out; i++) {
    char *eq = strchr(parts[i], '=');
    if (!eq) continue;
    *eq = '\0';
    if (g_ascii_strcasecmp(g_strstrip(parts[i]), tag) == 0) out = g_strdup(g_strstrip(eq + 1));
  }
  g_strfreev(parts);
  return out;
}

/* DMARC of the domain, else of its parent (a simple organizational-domain fallback: the last two
 * labels; the public suffix list is not consulted). */
static void check_dmarc(MaDomainCheck *c, const MaDomainsResolver *r)
{
  const char *d = c->domain->domain;
  const char *candidates[2] = { d, NULL };
  const char *last_dot = strrchr(d, '.');
  const char *org = d;
  for (const char *p = d; p < last_dot; p++)
    if (*p == '.') org = p + 1;
  if (org != d) candidates[1] = org;
  for (guint i = 0; i < 2 && candidates[i] && !c->dmarc_record; i++) {
    g_autofree char *name = g_strconcat("_dmarc.", candidates[i], NULL);
    g_autoptr(GPtrArray) txts = g_ptr_array_new_with_free_func(g_free);
    txt_records(r, name, txts, NULL);
    for (guint j = 0; j < txts->len && !c->dmarc_record; j++)
      if (g_ascii_strncasecmp(txts->pdata[j], "v=DMARC1", 8) == 0) c->dmarc_record = g_strdup(txts->pdata[j]);
    if (c->dmarc_record) {
      c->dmarc_policy = dmarc_tag(c->dmarc_record, "p");
      g_autofree char *adkim = dmarc_tag(c->dmarc_record, "adkim");
      /* We sign with d= the From domain itself: aligned in both modes. */
      c->dkim_aligned = TRUE;
      (void) adkim;
    }
  }
}

static void check_mx(MaDomainCheck *c, const MaDomainsResolver *r)
{
  MaDnsResult *res = r->lookup(r->ctx, c->domain->domain, MA_DNS_MX);
  if (res->status == MA_DNS_OK && res->null_mx) g_ptr_array_add(c->mx, g_strdup("0 . (null MX: accepts no mail)"));
  for (guint i = 0; res->status == MA_DNS_OK && i < res->n; i++)
    g_ptr_array_add(c->mx, g_strdup_printf("%u %s", res->mx[i].preference, res->mx[i].exchange));
  ma_dns_result_free(res);
}

static void check_spf(MaDomainCheck *c, const MaDomainsResolver *r)
{
  g_autoptr(GPtrArray) txts = g_ptr_array_new_with_free_func(g_free);
  MaDnsStatus status = txt_records(r, c->domain->domain, txts, NULL);
  guint n = 0;
  for (guint i = 0; i < txts->len; i++)
    if (g_ascii_strncasecmp(txts->pdata[i], "v=spf1", 6) == 0 &&
        (((char *) txts->pdata[i])[6] == ' ' || ((char *) txts->pdata[i])[6] == '\0')) {
      if (!c->spf_record) c->spf_record = g_strdup(txts->pdata[i]);
      n++;
    }
  if (n > 1) g_ptr_array_add(c->spf_lint, g_strdup("more than one SPF record: receivers give permerror; merge them into one"));
  if (ma_dns_status_is_temporary(status)) c->spf_result = g_strdup("temperror");
  domains_spf_evaluate(c, r);
}

/* Worst-first order of the reasons a key check can give, for the domain's one reason. */
static int reason_rank(const char *reason)
{
  static const char *const order[] = { "wrong_key", "record_syntax", "no_record", "dns_timeout" };
  for (guint i = 0; i < G_N_ELEMENTS(order); i++)
    if (g_strcmp0(reason, order[i]) == 0) return (int) i;
  return 99;
}

static void conclude(MaDomainCheck *c)
{
  gboolean dkim_ok = FALSE, temp = FALSE;
  const char *worst = NULL;
  const MaDomainKeyCheck *worst_kc = NULL;
  for (guint i = 0; i < c->key_checks->len; i++) {
    const MaDomainKeyCheck *kc = c->key_checks->pdata[i];
    if (!kc->reason) dkim_ok = TRUE;
    else if (strcmp(kc->reason, "dns_timeout") == 0) temp = TRUE;
    else if (!worst || reason_rank(kc->reason) < reason_rank(worst)) {
      worst = kc->reason;
      worst_kc = kc;
    }
  }
  if (!dkim_ok && !c->challenge_found) {
    if (temp) {
      c->outcome = MA_CHECK_TEMPFAIL;
      c->reason = "dns_timeout";
      c->detail = g_strdup("DNS did not answer for the DKIM record; no conclusion");
    } else if (worst) {
      c->outcome = MA_CHECK_FAILED;
      c->reason = worst;
      c->detail = g_strdup_printf("%s: %s", worst_kc->name,
                                  strcmp(worst, "no_record") == 0 ? "no DKIM record published"
                                  : strcmp(worst, "wrong_key") == 0 ? "the published key is not mailagent's"
                                                                    : "the record does not parse");
    } else {
      c->outcome = MA_CHECK_FAILED;
      c->reason = "no_key";
      c->detail = g_strdup("no DKIM key yet (mailagent domain dkim), and no ownership challenge published");
    }
    return;
  }
  if (c->spf_required) {
    if (g_strcmp0(c->spf_result, "temperror") == 0 || !c->spf_result) {
      c->outcome = MA_CHECK_TEMPFAIL;
      c->reason = "dns_timeout";
      c->detail = g_strdup("DNS did not answer for the SPF evaluation; no conclusion");
      return;
    }
    if (strcmp(c->spf_result, "pass") != 0) {
      c->outcome = MA_CHECK_FAILED;
      c->reason = "spf_unauthorised";
      c->detail = g_strdup_printf("the return path is on %s and its SPF gives %s for mailagent's addresses",
                                  c->domain->domain, c->spf_result);
      return;
    }
  }
  c->outcome = MA_CHECK_OK;
  c->reason = NULL;
  c->detail = g_strdup(dkim_ok ? "DKIM record matches" : "ownership challenge found (no DKIM key verifies yet)");
}

MaDomainCheck *ma_domains_check(MaStorage *st, const MaConfig *cfg, const MaDomainsResolver *resolver,
                                const char *enterprise_id, const char *domain, gint64 now, GError **error)
{
  MaDomain *d = NULL;
  int rc = storage_domain_get(st, enterprise_id, domain, &d, error);
  if (rc < 0) return NULL;
  if (rc == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "%s is not a domain of this enterprise", domain);
    return NULL;
  }
  MaDomainCheck *c = g_new0(MaDomainCheck, 1);
  c->domain = d;
  c->checked_at = now;
  c->keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
  c->key_checks = g_ptr_array_new_with_free_func((GDestroyNotify) key_check_free);
  c->spf_lint = g_ptr_array_new_with_free_func(g_free);
  c->mx = g_ptr_array_new_with_free_func(g_free);
  c->spf_required = g_strcmp0(d->return_path, "from") == 0;
  c->cfg = cfg;
  if (storage_domain_key_list(st, enterprise_id, domain, c->keys, error) < 0) {
    ma_domain_check_free(c);
    return NULL;
  }
  for (guint i = 0; i < c->keys->len; i++) {
    MaDomainKey *k = c->keys->pdata[i];
    if (strcmp(k->state, "retired") != 0) check_key(c, k, resolver);
  }
  check_challenge(c, resolver);
  check_spf(c, resolver);
  check_dmarc(c, resolver);
  check_mx(c, resolver);
  conclude(c);
  return c;
}
