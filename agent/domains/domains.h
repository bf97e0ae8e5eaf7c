/* domains.h - an enterprise's mail domains: the one list (internal domains for matching and
 * sending domains alike), name validation, DKIM keys kept per domain, verification of what is
 * published in DNS, and the domain scope the outbound path asks before it sends.
 *
 * Names are stored as lower-case A-labels (IDN converted with libidn2, UTS #46 non-transitional),
 * at most 253 octets, labels of 1..63 octets. A domain claimed but not verified by one enterprise
 * does not block another enterprise's claim; the first to verify it owns it and the other claims
 * are dropped (see domains_verify.h).
 *
 * This header is the part the outbound path needs: the scope check and the signing call. Both read
 * storage, so they run on a worker thread, never on the event loop.
 */
#ifndef MA_DOMAINS_H
#define MA_DOMAINS_H

#include "agent/dkim/dkim.h"
#include "storage/storage.h"

#include <glib.h>

#define MA_DOMAIN_MAX 253
#define MA_DOMAIN_LABEL_MAX 63

/* Validates a domain typed by a person (UTF-8 or ASCII, any case, one trailing dot allowed) and
 * returns its lower-case A-label form, newly allocated (caller frees). NULL with *error
 * (MA_ERROR_INVALID) saying which rule was broken: empty, too long (with the length), an empty or
 * too long label (named), a character not allowed (named), not convertible to IDNA (libidn2's
 * reason), a bare TLD. */
char *ma_domain_normalize(const char *input, GError **error);

/* The U-label form of a stored A-label domain: ma_domain_to_unicode of agent/lib/model.h. */

/* DKIM selectors: lowercase letters, digits and hyphens, not starting or ending with a hyphen,
 * at most MA_DKIM_SELECTOR_MAX characters. FALSE with *error (MA_ERROR_INVALID) naming the rule
 * that was broken. */
#define MA_DKIM_SELECTOR_MAX 20
gboolean ma_dkim_selector_check(const char *selector, GError **error);
/* A date-based selector for a new key: "ma" + YYYYMMDD (UTC, from now) + "r" (RSA) or "e"
 * (Ed25519), with a counter appended when that name is in taken (char*, may be NULL). At most
 * 14 characters. Newly allocated. */
char *ma_dkim_selector_generate(gint64 now, MaDkimKeyType type, GPtrArray *taken);

/* The domain scope of the outbound path: may enterprise_id send mail from domain (UTF-8 or A-label)
 * through mailagent's own delivery path? 1 yes; 0 no, with *reason_r (newly allocated, e.g. "DKIM
 * selector s1 of example.com is not verified") when reason_r is not NULL; -1 with *error when
 * storage failed. A domain is in scope while it is verified for this enterprise: its active DKIM
 * selector verifies (and its SPF, when the return path is on that domain). */
int ma_domains_may_send(MaStorage *st, const char *enterprise_id, const char *domain,
                        char **reason_r, GError **error);

/* Signs message with the enterprise's active DKIM keys for domain (both signatures when the
 * domain has an RSA and an Ed25519 key). master_key opens the sealed private keys. Returns 1 with
 * *headers_r (the DKIM-Signature fields to put in front of the message, newly allocated, caller
 * frees), 0 when the domain has no active key (*headers_r NULL: send unsigned or refuse, as the
 * channel says), -1 with *error (storage failure, or a key that cannot be opened). options may be
 * NULL: then t = ma_now() and no x=. */
int ma_domains_dkim_sign(MaStorage *st, const guint8 master_key[32], const char *enterprise_id,
                         const char *domain, const char *message, gsize len,
                         const MaDkimSignOptions *options, char **headers_r, GError **error);

#endif
