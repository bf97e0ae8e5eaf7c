/* bounce_private.h - tables shared inside agent/bounce: the generated reason patterns
 * (bounce_reasons.c, from Sisimai) read by the classifier (bounce_reason.c). */
#ifndef MAILAGENT_BOUNCE_PRIVATE_H
#define MAILAGENT_BOUNCE_PRIVATE_H

#include <stddef.h>

typedef struct {
  const char *reason;
  const char *const *index; /* NULL-terminated substrings of the lower-cased text */
  const char *const *isnot; /* NULL-terminated substrings that exclude the reason */
  const char *pattern;      /* PCRE2 pattern (extended syntax) or NULL */
} BounceReasonPatterns;

typedef struct {
  const char *status;
  const char *reason;
} BounceStatusReason;

extern const BounceReasonPatterns bounce_reason_patterns[];
extern const BounceStatusReason bounce_status_reasons[];
/* {fragment, reason}: what particular servers write (the status field holds the fragment). */
extern const BounceStatusReason bounce_server_messages[];

#endif
