/* error.h - the one error convention of mailagent.
 *
 * Functions that can fail return int: 0 on success, -1 on failure with *error set (GError, domain
 * MA_ERROR). Look-ups return 1 found, 0 not found, -1 failure. The code says who is at fault, so the
 * place that answers a peer can pick the reply: INVALID and NOT_FOUND and CONFLICT and LIMIT are the
 * caller's (SMTP 5xx, HTTP 4xx, CLI exit 2); TEMPFAIL is the environment's and may pass (SMTP 4xx,
 * HTTP 503, exit 75); INTERNAL is our bug (logged loudly, HTTP 500). Errors are logged once, where
 * they are answered, never where they are raised.
 */
#ifndef MA_ERROR_H
#define MA_ERROR_H

#include <glib.h>

#define MA_ERROR (ma_error_quark())
GQuark ma_error_quark(void);

typedef enum {
  MA_ERROR_INVALID,   /* the input is malformed or violates a rule */
  MA_ERROR_NOT_FOUND, /* the named thing does not exist (in this tenant) */
  MA_ERROR_CONFLICT,  /* it exists already, or the state forbids the change */
  MA_ERROR_LIMIT,     /* a configured limit was reached */
  MA_ERROR_TEMPFAIL,  /* disk full, database busy, peer down: try again later */
  MA_ERROR_INTERNAL,  /* a bug or an impossible state */
} MaErrorCode;

/* Stable lower-case names for API error codes ("invalid", "not_found", ...). */
const char *ma_error_code_name(int code);

#endif
