/* domains_private.h - what the files of agent/domains share, and what the CLI, the API and the
 * scheduler call beyond the outbound path's two functions in domains.h: key creation, the DNS
 * check of a domain, applying its outcome, and the doctor's report.
 */
#ifndef MA_DOMAINS_PRIVATE_H
#define MA_DOMAINS_PRIVATE_H

#include "domains.h"

#include "agent/dns/dns.h"
#include "agent/lib/config.h"

#include <jansson.h>

/* How long a retired key's record must stay published: mail signed with it may still be queued
 * or in transit, and receivers may verify late. */
#define DKIM_RETIRED_GRACE (7 * 86400)

/* "rsa" or "ed25519" for a stored algorithm name. Static. */
const char *domains_key_family(const char *algorithm);
/* "<selector>._domainkey.<domain>". Newly allocated. */
char *domains_key_name(const char *selector, const char *domain);
/* Delegated mode: the name the customer's CNAME points to, under cname_domain. Newly allocated. */
char *domains_key_target(const char *selector, const char *domain, const char *cname_domain);

typedef struct {
  const char *enterprise_id;
  const char *domain;        /* A-label, an existing claim */
  const char *selector;      /* NULL: generated (date-based; "ma1"/"ma2" in delegated mode) */
  MaDkimKeyType type;        /* when generating */
  const char *import_pem;    /* non-NULL: import this private key instead of generating */
  gboolean delegated;        /* the customer CNAMEs the selector to cname_domain */
  const char *cname_domain;  /* [relay] dkim_cname_domain */
  gint64 now;
} MaDomainKeyRequest;

/* Creates a DKIM key (pending until its record verifies) for an existing claim. *key_r is the new
 * row (caller frees with ma_domain_key_free). -1 with *error: a selector rule broken (INVALID),
 * a selector taken or a key of the same type still pending (CONFLICT), a bad import (INVALID). */
int ma_domains_key_create(MaStorage *st, const guint8 master_key[32], const MaDomainKeyRequest *req,
                          MaDomainKey **key_r, GError **error);
/* "v=DKIM1; k=...; p=..." for a stored key. Newly allocated. */
char *ma_domains_key_record(const MaDomainKey *k);

/* ---- checking a domain against DNS (domain_check.c) ----------------------------------------- */

/* How checks ask DNS: lookup returns a new result (never NULL) the caller frees. Same shape as
 * the SPF evaluator's resolver, so one adapter serves both. */
typedef struct {
  MaDnsResult *(*lookup)(void *ctx, const char *name, MaDnsType type);
  void *ctx;
} MaDomainsResolver;

/* A resolver over MaDnsSync (borrowed). */
MaDomainsResolver ma_domains_resolver_dns(MaDnsSync *dns);

/* What one key's record looks like now. */
typedef struct {
  MaDomainKey *key;    /* borrowed from the check's keys */
  char *name;          /* S._domainkey.D */
  char *found;         /* the TXT found (joined), NULL when none */
  char *expected;      /* the record to publish */
  char *cname_found;   /* delegated: where the name points now (NULL: not a CNAME) */
  const char *reason;  /* NULL: it matches; else "no_record", "wrong_key", "record_syntax", "dns_timeout" */
  char *fix;           /* what to do, NULL when nothing */
} MaDomainKeyCheck;

typedef enum {
  MA_CHECK_OK,
  MA_CHECK_FAILED,     /* a definite failure (reason) */
  MA_CHECK_TEMPFAIL,   /* DNS did not answer: no conclusion */
} MaCheckOutcome;

typedef struct {
  MaDomain *domain;            /* owned copy of the row as read */
  GPtrArray *keys;             /* MaDomainKey* (owned) */
  GPtrArray *key_checks;       /* MaDomainKeyCheck* (owned), for pending and active keys */
  gboolean challenge_found;    /* _mailagent.<domain> TXT "mailagent-verification=<token>" */
  /* SPF of the return path's domain */
  gboolean spf_required;       /* return_path "from": the customer's SPF must pass */
  char *spf_record;            /* current, NULL when none */
  char *spf_result;            /* evaluation for our addresses: "pass", "fail", ..., NULL when not run */
  char *spf_proposed;          /* the record to publish, NULL when unchanged */
  GPtrArray *spf_lint;         /* char* messages */
  /* shown, not required */
  char *dmarc_record;          /* NULL when none */
  char *dmarc_policy;          /* p= */
  gboolean dkim_aligned;       /* our d= aligns with the From domain under the DMARC adkim mode */
  GPtrArray *mx;               /* char* "10 mx.example.com" */
  /* conclusion */
  MaCheckOutcome outcome;
  const char *reason;          /* on FAILED/TEMPFAIL: "no_record", "wrong_key", "record_syntax",
                                  "dns_timeout", "spf_unauthorised", "no_key" */
  char *detail;                /* one sentence */
  gint64 checked_at;
  const MaConfig *cfg;         /* borrowed for the check's duration */
} MaDomainCheck;

void ma_domain_check_free(MaDomainCheck *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaDomainCheck, ma_domain_check_free)

/* Checks one claim against DNS (synchronous: CLI or a worker thread, never the serve loop).
 * Returns the check (caller frees), or NULL with *error when the claim does not exist or storage
 * failed. Writes nothing. */
MaDomainCheck *ma_domains_check(MaStorage *st, const MaConfig *cfg, const MaDomainsResolver *resolver,
                                const char *enterprise_id, const char *domain, gint64 now, GError **error);

/* SPF of a checked domain (domain_spf.c): evaluates the record for mailagent's source addresses
 * (spf_result) and plans the record to publish (spf_proposed, spf_lint), through dns-spf's
 * evaluator. */
void domains_spf_evaluate(MaDomainCheck *c, const MaDomainsResolver *resolver);

/* ---- applying a check (domain_verify.c) ----------------------------------------------------- */

/* The next check's deadline and the status after a check, without storage: the rules of
 * verification in one pure function (unit-tested as a table). in is the row before; out gets
 * status, reason, detail, failures, dns_errors, checked_at, next_check_at, verified_at. */
void ma_domains_next_state(const MaDomain *in, MaCheckOutcome outcome, const char *reason,
                           const char *detail, gint64 now, MaDomain *out);

/* Consecutive definite failures that take a verified domain to failed. */
#define DOMAINS_FAILURES_TO_DROP 2
/* Re-check intervals, seconds. */
#define DOMAINS_RECHECK_VERIFIED (6 * 3600)
#define DOMAINS_RECHECK_UNVERIFIED 600
#define DOMAINS_RECHECK_SUSPECT 300       /* a verified domain after one definite failure */
#define DOMAINS_BACKOFF_BASE 60           /* DNS errors: 60, 120, 240... capped at the interval */

/* Key activation and rotation after a check; one message per event for the operator, appended
 * to notes (char*, may be NULL). Writes the changed keys. */
int ma_domains_apply_keys(MaStorage *st, MaDomainCheck *check, gint64 now, GPtrArray *notes, GError **error);

/* Applies a check: keys (activation, rotation), the domain's status and next deadline, and a
 * domain.status_changed outbox event when the status changed, in one transaction. *changed_r
 * says whether the status changed. Returns 0 or -1 (MA_ERROR_CONFLICT when another enterprise
 * verified the domain first). */
int ma_domains_apply(MaStorage *st, MaDomainCheck *check, gint64 now, GPtrArray *notes,
                     gboolean *changed_r, GError **error);

/* ---- reports (domain_report.c) -------------------------------------------------------------- */

/* The JSON of one key with the record to publish (type, name, value, value_split). */
json_t *ma_domains_key_json(const MaDomainKey *k);
/* The JSON of a domain (GET /v1/domains/{d}): name, unicode, status, reason, detail, times, keys. */
json_t *ma_domains_domain_json(const MaDomain *d, GPtrArray *keys);
/* The doctor's report of a check (GET /v1/domains/{d}/doctor). */
json_t *ma_domains_doctor_json(const MaDomainCheck *c, const MaConfig *cfg);
/* The same as text, for the CLI. Newly allocated. */
char *ma_domains_doctor_text(const MaDomainCheck *c, const MaConfig *cfg);

#endif
