/* spf_merge.c - the SPF record mailagent asks a customer to publish, and the lint of it.
 *
 * The merge adds mailagent's mechanism (include:[relay] spf_include, or ip4:/ip6: of [relay]
 * source_addresses) to the domain's record once, before the "all" term, and not at all when the
 * record already authorises it, directly or through its include/redirect chain. The lint walks
 * the proposed record and everything it includes, as a receiver would in the worst case (no
 * mechanism matching), and counts DNS-querying terms and void look-ups against RFC 7208's limits
 * (10 and 2); it flags several SPF records, +all, ptr, syntax errors, includes of names without
 * SPF, and a missing all term, each with what to do. Synchronous: runs off the event loop.
 */
#include "spf_internal.h"

#include "agent/lib/error.h"

#include <arpa/inet.h>
#include <string.h>

#define WALK_MAX_DEPTH 10

static void lint_add(GPtrArray *lint, SpfLintLevel level, const char *code, char *message)
{
  SpfLintItem *it = g_new0(SpfLintItem, 1);
  it->level = level;
  it->code = g_strdup(code);
  it->message = message;
  g_ptr_array_add(lint, it);
}

static void lint_item_free(gpointer p)
{
  SpfLintItem *it = p;
  g_free(it->code);
  g_free(it->message);
  g_free(it);
}

/* Our terms as text ("include:x", "ip4:a/n"...), parsed through the record parser so a bad
 * address in the configuration is refused here. NULL with *error_r on a bad entry. */
static SpfRecord *ours_record(const SpfOurs *ours, char **error_r)
{
  GString *text = g_string_new("v=spf1");
  if (ours->include && *ours->include) {
    g_string_append_printf(text, " include:%s", ours->include);
  } else {
    for (const char *const *a = ours->addresses; a && *a; a++)
      g_string_append_printf(text, " %s:%s", strchr(*a, ':') ? "ip6" : "ip4", *a);
  }
  if (text->len == 6) {
    g_string_free(text, TRUE);
    *error_r = g_strdup("no mechanism to add: set [relay] spf_include or [relay] source_addresses");
    return NULL;
  }
  char *error = NULL;
  SpfRecord *r = spf_record_parse(text->str, text->len, &error);
  g_string_free(text, TRUE);
  if (!r) {
    *error_r = g_strdup_printf("[relay] spf_include / source_addresses: %s", error);
    g_free(error);
  }
  return r;
}

static gboolean net_covers(const SpfTerm *wide, const SpfTerm *narrow)
{
  if (wide->kind != narrow->kind) return FALSE;
  int bits = wide->kind == SPF_TERM_IP4 ? wide->cidr4 : wide->cidr6;
  int nbits = narrow->kind == SPF_TERM_IP4 ? narrow->cidr4 : narrow->cidr6;
  if (bits > nbits) return FALSE;
  int full = bits / 8, rest = bits % 8;
  if (memcmp(wide->ip, narrow->ip, (size_t)full) != 0) return FALSE;
  if (rest == 0) return TRUE;
  guint8 mask = (guint8)(0xFF << (8 - rest));
  return (wide->ip[full] & mask) == (narrow->ip[full] & mask);
}

/* TRUE when record has a term equal to (or, for networks, covering) ours. Only pass-qualified
 * terms count: "-include:ours" does not authorise us. */
static gboolean has_term(const SpfRecord *record, const SpfTerm *ours)
{
  for (guint i = 0; i < record->terms->len; i++) {
    const SpfTerm *t = g_ptr_array_index(record->terms, i);
    if (t->kind != ours->kind || t->qualifier != '+') continue;
    if (t->kind == SPF_TERM_INCLUDE) {
      size_t a = strlen(t->domain_spec), b = strlen(ours->domain_spec);
      if (a && t->domain_spec[a - 1] == '.') a--;
      if (b && ours->domain_spec[b - 1] == '.') b--;
      if (a == b && g_ascii_strncasecmp(t->domain_spec, ours->domain_spec, a) == 0) return TRUE;
    } else if (net_covers(t, ours)) {
      return TRUE;
    }
  }
  return FALSE;
}

char *spf_merge_text(const char *record, const SpfOurs *ours, char **error_r)
{
  g_autoptr(SpfRecord) mine = ours_record(ours, error_r);
  if (!mine) return NULL;
  if (!record) {
    GString *fresh = g_string_new("v=spf1");
    for (guint i = 0; i < mine->terms->len; i++)
      g_string_append_printf(fresh, " %s", ((SpfTerm *)g_ptr_array_index(mine->terms, i))->text);
    g_string_append(fresh, " ~all");
    return g_string_free(fresh, FALSE);
  }
  char *error = NULL;
  g_autoptr(SpfRecord) rec = spf_record_parse(record, strlen(record), &error);
  if (!rec) {
    *error_r = error;
    return NULL;
  }
  /* where ours go: before "all", else after the last mechanism */
  guint at = 0;
  for (guint i = 0; i < rec->terms->len; i++) {
    const SpfTerm *t = g_ptr_array_index(rec->terms, i);
    if (t->kind == SPF_TERM_ALL) {
      at = i;
      break;
    }
    if (t->kind < SPF_TERM_REDIRECT) at = i + 1;
  }
  GString *out = g_string_new(NULL);
  g_string_append_len(out, record, 6); /* the version as published */
  for (guint i = 0; i <= rec->terms->len; i++) {
    if (i == at)
      for (guint k = 0; k < mine->terms->len; k++) {
        const SpfTerm *o = g_ptr_array_index(mine->terms, k);
        if (!has_term(rec, o)) g_string_append_printf(out, " %s", o->text);
      }
    if (i < rec->terms->len) g_string_append_printf(out, " %s", ((SpfTerm *)g_ptr_array_index(rec->terms, i))->text);
  }
  return g_string_free(out, FALSE);
}

/* ---- the walk: counting and linting the proposed record and what it includes ---- */

typedef struct {
  const SpfResolver *resolver;
  GHashTable *path;      /* lower-case domains on the include/redirect path to here: a loop
                            is a domain met again on its own path; the same domain reached
                            twice by different paths (two services including a third) is
                            walked, and counted, twice, as a receiver would */
  guint dns_terms;
  guint void_lookups;
  GPtrArray *lint;
} Walk;

/* The SPF record text of domain: 1 found (*text set, g_free; the first of several, which is
 * linted), 0 none, -1 DNS error (linted below the top; at the top *error is set). */
static int fetch_record(Walk *w, const char *domain, char **text, gboolean top, GError **error)
{
  g_autoptr(MaDnsResult) r = w->resolver->lookup(w->resolver->ctx, domain, MA_DNS_TXT);
  if (ma_dns_status_is_temporary(r->status)) {
    if (top) {
      g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "DNS TXT look-up of %s: %s", domain, ma_dns_status_name(r->status));
      return -1;
    }
    lint_add(w->lint, SPF_LINT_WARNING, "dns_error",
             g_strdup_printf("The TXT look-up of %s failed (%s); the counts below may be too low. Check again later.",
                             domain, ma_dns_status_name(r->status)));
    return -1;
  }
  guint found = 0;
  for (guint i = 0; i < r->n; i++)
    if (spf_record_is_spf(r->txt[i].data, r->txt[i].len)) {
      if (!found) *text = g_strndup(r->txt[i].data, r->txt[i].len);
      found++;
    }
  if (found > 1) {
    lint_add(w->lint, SPF_LINT_ERROR, "multiple_records",
             g_strdup_printf("%s publishes %u SPF records; receivers then fail every SPF check (permerror). "
                             "Keep one TXT record starting with v=spf1: merge the mechanisms of the others into "
                             "it and delete them.", domain, found));
  }
  return found ? 1 : 0;
}

static void walk_record(Walk *w, const char *domain, const SpfRecord *rec, int depth, gboolean top);
static void walk_domain_record(Walk *w, const char *domain, int depth, const SpfTerm *via);

static void walk_domain(Walk *w, const char *domain, int depth, const SpfTerm *via)
{
  if (w->dns_terms > 2 * SPF_MAX_DNS_TERMS) return; /* far over the limit already: stop asking */
  g_autofree char *key = g_ascii_strdown(domain, -1);
  if (depth > WALK_MAX_DEPTH || g_hash_table_contains(w->path, key)) {
    lint_add(w->lint, SPF_LINT_ERROR, "include_loop",
             g_strdup_printf("\"%s\" leads back to %s (an include or redirect loop, or nesting deeper than %d); "
                             "receivers give permerror. Remove the loop.", via->text, domain, WALK_MAX_DEPTH));
    return;
  }
  g_hash_table_add(w->path, g_strdup(key));
  walk_domain_record(w, domain, depth, via);
  g_hash_table_remove(w->path, key);
}

static void walk_domain_record(Walk *w, const char *domain, int depth, const SpfTerm *via)
{
  g_autofree char *text = NULL;
  int found = fetch_record(w, domain, &text, FALSE, NULL);
  if (found == 0) {
    lint_add(w->lint, SPF_LINT_ERROR, "include_without_record",
             g_strdup_printf("\"%s\": %s has no SPF record; receivers give permerror. Remove the term or fix "
                             "the name.", via->text, domain));
    return;
  }
  if (found < 0) return;
  char *error = NULL;
  g_autoptr(SpfRecord) rec = spf_record_parse(text, strlen(text), &error);
  if (!rec) {
    lint_add(w->lint, SPF_LINT_ERROR, "syntax",
             g_strdup_printf("The SPF record of %s (reached through \"%s\") is invalid: %s. Receivers give "
                             "permerror; ask its owner to fix it or remove the term.", domain, via->text, error));
    g_free(error);
    return;
  }
  walk_record(w, domain, rec, depth, FALSE);
}

/* Counts a/mx look-ups that find nothing (void) without evaluating. */
static void probe_void(Walk *w, const SpfTerm *t, const char *domain)
{
  if (t->domain_spec && strchr(t->domain_spec, '%')) return; /* depends on the sender */
  const char *target = t->domain_spec ? t->domain_spec : domain;
  MaDnsType type = t->kind == SPF_TERM_MX ? MA_DNS_MX : MA_DNS_A; /* exists always asks A */
  g_autoptr(MaDnsResult) r = w->resolver->lookup(w->resolver->ctx, target, type);
  if (t->kind == SPF_TERM_A && r->status == MA_DNS_NODATA) {
    /* an IPv6-only host is not void for IPv6 senders */
    g_autoptr(MaDnsResult) r6 = w->resolver->lookup(w->resolver->ctx, target, MA_DNS_AAAA);
    if (r6->status == MA_DNS_OK) return;
  }
  if (r->status == MA_DNS_NXDOMAIN || r->status == MA_DNS_NODATA) w->void_lookups++;
  if (t->kind == SPF_TERM_MX && r->n > SPF_MAX_MX_ADDRESS_LOOKUPS)
    lint_add(w->lint, SPF_LINT_ERROR, "too_many_mx",
             g_strdup_printf("\"%s\": %s has %u MX records, more than the %d an mx term may look up; receivers "
                             "give permerror. Use ip4:/ip6: for these hosts instead.", t->text, target, r->n,
                             SPF_MAX_MX_ADDRESS_LOOKUPS));
}

static void walk_record(Walk *w, const char *domain, const SpfRecord *rec, int depth, gboolean top)
{
  gboolean has_all = FALSE;
  for (guint i = 0; i < rec->terms->len; i++)
    has_all |= ((const SpfTerm *)g_ptr_array_index(rec->terms, i))->kind == SPF_TERM_ALL;
  for (guint i = 0; i < rec->terms->len; i++) {
    const SpfTerm *t = g_ptr_array_index(rec->terms, i);
    if (t->kind == SPF_TERM_EXP || t->kind == SPF_TERM_UNKNOWN_MODIFIER) continue;
    if (t->kind == SPF_TERM_REDIRECT && has_all) continue; /* never reached: all always matches */
    if (spf_term_queries_dns(t)) w->dns_terms++;
    if (top && t->kind == SPF_TERM_ALL && t->qualifier == '+')
      lint_add(w->lint, SPF_LINT_ERROR, "plus_all",
               g_strdup_printf("\"%s\" authorises every host on the Internet to send as %s. Replace it with ~all "
                               "(or -all once every sender is listed).", t->text, domain));
    if (t->kind == SPF_TERM_PTR)
      lint_add(w->lint, SPF_LINT_WARNING, "ptr",
               g_strdup_printf("\"%s\"%s%s: ptr is slow, unreliable and deprecated (RFC 7208 5.5); many receivers "
                               "ignore it. Replace it with ip4:/ip6: of the hosts it was meant to cover.",
                               t->text, top ? "" : " in the record of ", top ? "" : domain));
    switch (t->kind) {
    case SPF_TERM_INCLUDE:
    case SPF_TERM_REDIRECT:
      if (strchr(t->domain_spec, '%')) break; /* depends on the sender: cannot follow statically */
      walk_domain(w, t->domain_spec, depth + 1, t);
      break;
    case SPF_TERM_A:
    case SPF_TERM_MX:
    case SPF_TERM_EXISTS: probe_void(w, t, domain); break;
    default: break;
    }
  }
}

/* TRUE when our term o appears as a pass term in domain's record or the records it includes or
 * redirects to. */
static gboolean tree_has(const SpfResolver *resolver, const char *domain, const SpfTerm *o, GHashTable *seen, int depth)
{
  g_autofree char *key = g_ascii_strdown(domain, -1);
  if (depth > WALK_MAX_DEPTH || g_hash_table_contains(seen, key)) return FALSE;
  g_hash_table_add(seen, g_steal_pointer(&key));
  g_autoptr(MaDnsResult) r = resolver->lookup(resolver->ctx, domain, MA_DNS_TXT);
  const MaDnsTxt *spf = NULL;
  guint found = 0;
  for (guint i = 0; i < r->n; i++)
    if (spf_record_is_spf(r->txt[i].data, r->txt[i].len)) spf = &r->txt[i], found++;
  if (found != 1) return FALSE;
  char *error = NULL;
  g_autoptr(SpfRecord) rec = spf_record_parse(spf->data, spf->len, &error);
  g_free(error);
  if (!rec) return FALSE;
  if (has_term(rec, o)) return TRUE;
  for (guint i = 0; i < rec->terms->len; i++) {
    const SpfTerm *t = g_ptr_array_index(rec->terms, i);
    gboolean follow = (t->kind == SPF_TERM_INCLUDE && t->qualifier == '+') || t->kind == SPF_TERM_REDIRECT;
    if (follow && !strchr(t->domain_spec, '%') && tree_has(resolver, t->domain_spec, o, seen, depth + 1)) return TRUE;
  }
  return FALSE;
}

/* TRUE when the first address of our ip4:/ip6: term passes check_host for domain. */
static gboolean address_passes(const SpfResolver *resolver, const char *domain, const SpfTerm *o)
{
  MaDnsAddr a = {.family = o->kind == SPF_TERM_IP4 ? AF_INET : AF_INET6};
  memcpy(o->kind == SPF_TERM_IP4 ? (void *)&a.addr.v4 : (void *)&a.addr.v6, o->ip, o->kind == SPF_TERM_IP4 ? 4 : 16);
  g_autofree char *sender = g_strconcat("postmaster@", domain, NULL);
  SpfQuery q = {.ip = &a, .domain = domain, .sender = sender, .helo = domain};
  SpfOutcome out;
  SpfResult r = spf_check_host(resolver, &q, &out);
  spf_outcome_clear(&out);
  return r == SPF_RESULT_PASS;
}

void spf_plan_clear(SpfPlan *plan)
{
  g_free(plan->current);
  g_free(plan->proposed);
  if (plan->lint) g_ptr_array_unref(plan->lint);
  memset(plan, 0, sizeof *plan);
}

int spf_plan(const SpfResolver *resolver, const char *domain, const SpfOurs *ours, SpfPlan *plan, GError **error)
{
  memset(plan, 0, sizeof *plan);
  plan->lint = g_ptr_array_new_with_free_func(lint_item_free);
  char *problem = NULL;
  g_autoptr(SpfRecord) mine = ours_record(ours, &problem);
  if (!mine) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s", problem);
    g_free(problem);
    spf_plan_clear(plan);
    return -1;
  }
  Walk w = {.resolver = resolver, .lint = plan->lint,
            .path = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL)};
  int found = fetch_record(&w, domain, &plan->current, TRUE, error);
  if (found < 0) { /* the domain's own look-up failed: *error is set */
    g_hash_table_destroy(w.path);
    spf_plan_clear(plan);
    return -1;
  }

  /* already authorised? An include must be named somewhere in the include chain; addresses
   * must pass check_host as a receiver would see them (a:, mx:, includes all count) */
  gboolean all_there = plan->current != NULL;
  for (guint k = 0; all_there && k < mine->terms->len; k++) {
    const SpfTerm *o = g_ptr_array_index(mine->terms, k);
    if (o->kind == SPF_TERM_INCLUDE) {
      GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
      all_there = tree_has(resolver, domain, o, seen, 0);
      g_hash_table_destroy(seen);
    } else {
      all_there = address_passes(resolver, domain, o);
    }
  }
  plan->already_authorised = all_there;

  if (all_there) {
    plan->proposed = g_strdup(plan->current);
  } else {
    plan->proposed = spf_merge_text(plan->current, ours, &problem);
    if (!plan->proposed) {
      lint_add(plan->lint, SPF_LINT_ERROR, "syntax",
               g_strdup_printf("The SPF record of %s is invalid: %s. Receivers give permerror for all of its mail. "
                               "Fix the term, then add ours.", domain, problem));
      g_free(problem);
    }
  }
  if (!plan->current)
    lint_add(plan->lint, SPF_LINT_WARNING, "no_record",
             g_strdup_printf("%s has no SPF record. Publish the record below, after adding the other services "
                             "that send as %s (your mail provider's include) before ~all.", domain, domain));
  plan->changed = plan->proposed && g_strcmp0(plan->proposed, plan->current) != 0;

  if (plan->proposed) {
    g_autoptr(SpfRecord) rec = spf_record_parse(plan->proposed, strlen(plan->proposed), &problem);
    g_assert(rec); /* proposed is current (parsed) or our merge of it */
    g_hash_table_add(w.path, g_ascii_strdown(domain, -1));
    gboolean has_all = FALSE;
    for (guint i = 0; i < rec->terms->len; i++)
      has_all |= ((SpfTerm *)g_ptr_array_index(rec->terms, i))->kind == SPF_TERM_ALL;
    walk_record(&w, domain, rec, 0, TRUE);
    if (!has_all && !rec->redirect)
      lint_add(plan->lint, SPF_LINT_WARNING, "no_all",
               g_strdup_printf("The record of %s has no all term, so mail from unlisted hosts is \"neutral\". End it "
                               "with ~all (or -all once every sender is listed).", domain));
    plan->dns_terms_after = w.dns_terms;
    plan->void_lookups_after = w.void_lookups;
    if (w.dns_terms > SPF_MAX_DNS_TERMS)
      lint_add(plan->lint, SPF_LINT_ERROR, "too_many_lookups",
               g_strdup_printf("The record %s %u DNS-querying terms (include, a, mx, ptr, exists, redirect, counted "
                               "through includes); receivers stop at %d and give permerror. Remove includes of "
                               "services no longer used, or replace a:/mx: terms with ip4:/ip6:.",
                               plan->changed ? "with ours added needs" : "needs", w.dns_terms, SPF_MAX_DNS_TERMS));
    if (w.void_lookups > SPF_MAX_VOID_LOOKUPS)
      lint_add(plan->lint, SPF_LINT_ERROR, "too_many_void_lookups",
               g_strdup_printf("%u terms of the record name hosts or domains that do not exist (void look-ups); "
                               "receivers give permerror after %d. Remove the terms for names that are gone.",
                               w.void_lookups, SPF_MAX_VOID_LOOKUPS));
  }
  g_hash_table_destroy(w.path);
  return 0;
}
