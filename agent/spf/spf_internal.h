/* spf_internal.h - what the SPF files share inside agent/spf: the macro expander's context.
 * Not for other modules (they use spf.h). */
#ifndef MA_SPF_INTERNAL_H
#define MA_SPF_INTERNAL_H

#include "spf.h"

typedef struct {
  const SpfResolver *resolver;
  MaDnsAddr ip;          /* IPv4-mapped IPv6 already turned into IPv4 */
  const char *sender;    /* full sender, "postmaster@helo" when MAIL FROM was empty */
  const char *local;     /* local-part, "postmaster" when none */
  const char *sender_domain;
  const char *domain;    /* the current domain (%{d}) */
  const char *helo;
  const char *receiver;
  gint64 now;
  char *validated;       /* %{p}, looked up once, owned */
} SpfMacroContext;

/* Expands the macro-string s (already checked by spf_macro_string_is_valid). in_exp: an
 * explanation (spaces kept, c/r/t allowed). for_domain: the result is a domain to look up, cut
 * from the left to 253 octets by whole labels (RFC 7208 7.3). Returns a new string, or NULL when
 * s is malformed. */
char *spf_macro_expand(SpfMacroContext *ctx, const char *s, gboolean in_exp, gboolean for_domain);

#endif
