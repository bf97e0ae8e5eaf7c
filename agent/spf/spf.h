/* spf.h - SPF (RFC 7208) for mailagent: evaluation of check_host(), the merge that adds
 * mailagent's mechanism to a customer's record, and the lint that says what is wrong with a
 * record and what to do about it.
 *
 * The evaluator knows no DNS library: it asks through an SpfResolver (spf_resolver_dns() wraps
 * an MaDnsSync; tests feed zones from memory). It is synchronous: run it off the event loop (a
 * CLI command, a worker thread), never on the serve loop. Limits of RFC 7208 4.6.4 are enforced:
 * at most 10 DNS-querying terms (include, a, mx, ptr, exists, redirect) per check, at most 2
 * void look-ups (NXDOMAIN or no records), at most 10 address look-ups per mx, at most 10 names
 * per ptr; a recursion depth guard stops include/redirect loops even without the counter.
 */
#ifndef MA_SPF_H
#define MA_SPF_H

#include "agent/dns/dns.h"
#include "spf_record.h"

#include <glib.h>

typedef enum {
  SPF_RESULT_NONE,
  SPF_RESULT_NEUTRAL,
  SPF_RESULT_PASS,
  SPF_RESULT_FAIL,
  SPF_RESULT_SOFTFAIL,
  SPF_RESULT_TEMPERROR,
  SPF_RESULT_PERMERROR,
} SpfResult;

/* RFC 7208 4.6.4 */
#define SPF_MAX_DNS_TERMS 10
#define SPF_MAX_VOID_LOOKUPS 2
#define SPF_MAX_MX_ADDRESS_LOOKUPS 10
#define SPF_MAX_PTR_NAMES 10

/* How the evaluator asks DNS. lookup returns a NEW result the evaluator frees
 * (ma_dns_result_free); never NULL. ctx is the implementation's. */
typedef struct {
  MaDnsResult *(*lookup)(void *ctx, const char *name, MaDnsType type);
  void *ctx;
} SpfResolver;

/* An SpfResolver over a synchronous resolver (borrowed; must outlive the SpfResolver's use). */
SpfResolver spf_resolver_dns(MaDnsSync *dns);

/* What a check found. Strings are owned (spf_outcome_clear frees them). */
typedef struct {
  SpfResult result;
  char *explanation; /* fail only: the exp= text, macro-expanded, or the default explanation */
  char *mechanism;   /* the term that decided (as written), "default" when none matched, NULL
                        for none/temperror/permerror */
  char *domain;      /* the domain whose record decided (after includes/redirects) */
  char *problem;     /* temperror/permerror/none: what went wrong, in English, for people */
  guint dns_terms;   /* DNS-querying terms evaluated */
  guint void_lookups;
} SpfOutcome;

typedef struct {
  const MaDnsAddr *ip;        /* the SMTP client's address */
  const char *domain;         /* the domain to check (of MAIL FROM, else of HELO) */
  const char *sender;         /* MAIL FROM address ("" or NULL: postmaster@helo) */
  const char *helo;           /* HELO/EHLO name */
  const char *receiver;       /* %{r}; NULL: "unknown" */
  const char *default_explanation; /* the explanation of a fail without a usable exp=; NULL:
                                      "<domain> does not authorise <ip> to send mail (SPF)" */
  gint64 now;                 /* %{t}; 0: ma_now() */
} SpfQuery;

/* check_host() of RFC 7208 section 4. Fills *out (the caller clears it with spf_outcome_clear,
 * whatever the result) and returns out->result. A domain that cannot be looked up (a single
 * label, an empty label, over 253 octets) gives none, as RFC 7208 4.3 says. */
SpfResult spf_check_host(const SpfResolver *resolver, const SpfQuery *q, SpfOutcome *out);
void spf_outcome_clear(SpfOutcome *out);

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror". */
const char *spf_result_name(SpfResult result);

/* ---- merge and lint (spf_merge.c) ---- */

/* mailagent's mechanism, from [relay] spf_include (an include: domain) or [relay]
 * source_addresses (addresses or networks, each added as ip4:/ip6:). */
typedef struct {
  const char *include;           /* e.g. "_spf.mailagent.example"; NULL when addresses are used */
  const char *const *addresses;  /* NULL-terminated "192.0.2.1", "2001:db8::/48"...; used when
                                    include is NULL */
} SpfOurs;

typedef enum {
  SPF_LINT_ERROR,   /* receivers will give permerror or the record does not do its job */
  SPF_LINT_WARNING, /* works, but risky or wasteful */
} SpfLintLevel;

typedef struct {
  SpfLintLevel level;
  char *code;    /* stable: "multiple_records", "syntax", "too_many_lookups",
                    "too_many_void_lookups", "too_many_mx", "plus_all", "ptr", "include_loop",
                    "include_without_record", "no_all", "no_record", "dns_error" */
  char *message; /* what is wrong and what to do, for an administrator */
} SpfLintItem;

typedef struct {
  char *current;      /* the published SPF record, NULL when none (the first of several: lint
                         says "multiple_records") */
  char *proposed;     /* the record to publish: current with our mechanism added once before the
                         all term (or a fresh record); equal to current when nothing is missing;
                         NULL when current does not parse (lint says "syntax") */
  gboolean changed;   /* proposed differs from current */
  gboolean already_authorised; /* our mechanism is there already, directly or through includes */
  guint dns_terms_after;   /* DNS-querying terms of proposed, counted through includes */
  guint void_lookups_after;
  GPtrArray *lint;    /* SpfLintItem* (owned), in the order found */
} SpfPlan;

/* Reads domain's SPF record through resolver and plans the record to publish with ours in it,
 * with the lint of the result. Returns 0 with *plan filled (spf_plan_clear), or -1 with *error
 * (MA_ERROR_TEMPFAIL when DNS failed for the domain's own record: nothing can be planned). */
int spf_plan(const SpfResolver *resolver, const char *domain, const SpfOurs *ours, SpfPlan *plan,
             GError **error);
void spf_plan_clear(SpfPlan *plan);

/* The pure part of the merge: record text (NULL: none) -> the text with each of our terms that
 * is not already a term of the record inserted once, before the "all" term (any qualifier), or
 * after the last mechanism when there is no "all" (so before redirect= and exp=); a fresh
 * "v=spf1 <ours> ~all" when record is NULL. Other terms keep their text and order; terms are
 * joined by one space. Returns a new string (g_free), or NULL with *error_r (newly allocated)
 * when record does not parse or ours is empty or malformed. */
char *spf_merge_text(const char *record, const SpfOurs *ours, char **error_r);

#endif
