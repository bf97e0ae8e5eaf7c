/* smtp_envelope.h - the envelope of one inbound SMTP transaction: the reverse path, the
 * recipients (each delivered once, every accepted RCPT counted against the limit), the
 * enterprise they belong to and the forwarder policy's decision; and what becomes of it: the
 * log line's description and the spool entry. Plain data: no I/O, no clock, no look-ups (the
 * session decides, the envelope only records).
 */
#ifndef MA_SMTP_ENVELOPE_H
#define MA_SMTP_ENVELOPE_H

#include "forwarder_policy.h"
#include "smtp_parse.h"
#include "storage/spool.h"

#include <glib.h>

typedef struct {
  SmtpPath mail;            /* MAIL's reverse path */
  GPtrArray *rcpts;         /* char* addresses as accepted, each once */
  guint rcpt_accepted;      /* RCPT commands accepted, repeats included (the recipient limit) */
  char *enterprise_id;      /* the recipients' enterprise, NULL before the first RCPT */
  gboolean bounce;          /* the recipients are return-path/unsubscribe addresses on bounce_domain */
  FwdDecision decision;     /* the forwarder policy's, at RCPT, then at the end of the message */
} SmtpEnvelope;

void smtp_envelope_init(SmtpEnvelope *env);
/* Forgets the transaction (RSET, a new EHLO, the end of a message). */
void smtp_envelope_reset(SmtpEnvelope *env);
/* reset, and frees the recipient array. */
void smtp_envelope_clear(SmtpEnvelope *env);

/* TRUE when addr is among the recipients (caseless: ASCII case-insensitive, else exact). */
gboolean smtp_envelope_has_rcpt(const SmtpEnvelope *env, const char *addr, gboolean caseless);
/* Counts one accepted RCPT; addr (owned by env from now on, NULL for a repeat) is added. */
void smtp_envelope_add_rcpt(SmtpEnvelope *env, char *addr);
/* Replaces the decision (its strings move into env; *d is zeroed). */
void smtp_envelope_set_decision(SmtpEnvelope *env, FwdDecision *d);

/* Appends "client=.. from=<..> rcpts=a,b" to g, for the log. */
void smtp_envelope_describe(const SmtpEnvelope *env, const char *client, GString *g);
/* A new spool entry for the accepted message: the envelope and the decision copied, body (owned
 * by the entry from now on) and its spool id. */
MaSpoolEntry *smtp_envelope_spool_entry(const SmtpEnvelope *env, const char *route, const char *client,
                                        const char *helo, MaSpoolBody *body);

#endif
