/* forwarder_policy.h - decides whether a message arriving by SMTP at an enterprise's virtual
 * address was forwarded by that enterprise (issue 3, "Who forwarded it"), and which employee's
 * mail it was.
 *
 * Trusted signals, in order:
 *   1. "forwarder_network": the client address lies in the enterprise's forwarder_networks;
 *   2. "envelope_sender":   MAIL FROM is a registered employee;
 *   3. "srs":               MAIL FROM is an SRS0/SRS1 address whose own domain is the enterprise's;
 *   4. "resent_from" / "x_forwarded_for": the first Resent-From, or Gmail's X-Forwarded-For, names
 *      an employee (judged at the end of DATA).
 * Delivered-To and X-Forwarded-To only say whose mailbox it was: they name the employee when the
 * route is already trusted (signals 1 or 3), never on their own. Participants (From/To/Cc) are
 * never read: anyone can write an employee into To:.
 *
 * Policies: "employee" - some signal names a registered employee (1 and 3 count once a mailbox
 * header names one); "domain" - some signal names one of the enterprise's domains (1 always does);
 * "any" - always satisfied (the best signal is still recorded); "strict" - only the envelope
 * counts: the client is in forwarder_networks, MAIL FROM is a registered employee, or it is an SRS
 * address of the enterprise's domain (signals 1-3); headers may then name the employee but never
 * satisfy the policy, so its verdict is final at RCPT ("unknown forwarder": 550 before DATA).
 *
 * The header fields are read by agent/mime's mime_forward_signals_read, in one pass, the reading
 * the parser's MaMessage.signals come from too.
 *
 * Pure: no storage, no sockets; employees are looked up through the caller's callback.
 */
#ifndef MA_FORWARDER_POLICY_H
#define MA_FORWARDER_POLICY_H

#include <glib.h>

typedef enum { FWD_POLICY_EMPLOYEE, FWD_POLICY_DOMAIN, FWD_POLICY_ANY, FWD_POLICY_STRICT } FwdPolicy;

/* "employee", "domain", "any", "strict" -> 0 and *out; -1 for anything else. */
int forwarder_policy_parse(const char *name, FwdPolicy *out);
const char *forwarder_policy_name(FwdPolicy p);

/* Returns 1 when address (lower-cased) is a registered employee of the enterprise, with
 * *employee_id_r newly allocated; 0 when not; -1 with *error on failure. */
typedef int (*FwdEmployeeLookup)(void *ctx, const char *address, char **employee_id_r, GError **error);

typedef struct {
  FwdPolicy policy;
  gboolean client_in_networks;       /* the caller checked forwarder_networks */
  const char *const *domains;        /* the enterprise's domains, lower-case, NULL-terminated */
  FwdEmployeeLookup lookup;
  void *lookup_ctx;
} FwdInput;

typedef struct {
  gboolean satisfied;
  char *employee_id;     /* NULL when no employee was named */
  const char *signal;    /* static: one of the names above, NULL when none */
  char *reason;          /* why not satisfied (for the 550 5.7.1 text), NULL when satisfied */
  gboolean final;        /* judged on the envelope alone and no header can change it: refuse at RCPT */
} FwdDecision;

void forwarder_decision_clear(FwdDecision *d);

/* Judges the signals. msg (len octets, the raw message) may be NULL at RCPT time: only the
 * envelope signals are judged then, and a FALSE result there is final only when out->final says
 * so (the strict policy). mail_from is the
 * envelope sender ("" for <>). Fills out (clear it with forwarder_decision_clear). 0, or -1 with
 * *error when a look-up failed (answer 451 4.3.0). */
int forwarder_policy_decide(const FwdInput *in, const char *mail_from, const guint8 *msg, gsize len, FwdDecision *out,
                            GError **error);

/* TRUE when local@domain is an SRS0/SRS1 address; *srs_domain_r points to its domain. */
gboolean forwarder_is_srs(const char *address, const char **srs_domain_r);

#endif
