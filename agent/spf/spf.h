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
  const char *default_explanation; /* NULL: "DEFAULT" is not used; see spf_check_host */
  gint64 now;                 /* %{t}; 0: ma_now() */
} SpfQuery;

/* check_host() of RFC 7208 section 4. Fills *out (spf_outcome_clear it afterwards) and returns
 * out->result. The default explanation (fail without a usable exp=) is
 * q->default_explanation, else "%{d} does not authorise %{i} to send mail (SPF)". */
SpfResult spf_check_host(const SpfResolver *resolver, const SpfQuery *q, SpfOutcome *out);
void spf_outcome_clear(SpfOutcome *out);

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror". */
const char *spf_result_name(SpfResult result);

#endif
