/* smtp_auth.h - pure decoding of SMTP AUTH (RFC 4954) for the submission listener: the mechanism
 * named by the AUTH command, PLAIN's "authzid NUL authcid NUL password" (RFC 4616) and LOGIN's
 * base64 lines, and the exchange they make up (which challenge comes next, when the credentials are
 * complete). No I/O, no allocation; results are bounded by SMTP_AUTH_MAX (longer is refused).
 * Error texts are complete SMTP replies (static). Never logs what it decodes.
 */
#ifndef MA_SMTP_AUTH_H
#define MA_SMTP_AUTH_H

#include <glib.h>

#define SMTP_AUTH_MAX 255

typedef enum { SMTP_SASL_UNKNOWN, SMTP_SASL_PLAIN, SMTP_SASL_LOGIN } SmtpSaslMech;

/* "PLAIN", "plain dGVzdA==", "LOGIN": the mechanism and *initial (points into arg, "" when
 * none; "=" is an empty initial response). */
SmtpSaslMech smtp_auth_mechanism(const char *arg, const char **initial);

/* Decodes one base64 client response into out (NUL-terminated, at most SMTP_AUTH_MAX octets, no
 * NUL inside). 0, or -1 with *reply_r. */
int smtp_auth_decode_line(const char *b64, char out[SMTP_AUTH_MAX + 1], const char **reply_r);

/* Decodes a PLAIN response into user (the authcid) and password; an authzid, when given, must equal
 * the authcid. 0, or -1 with *reply_r. */
int smtp_auth_decode_plain(const char *b64, char user[SMTP_AUTH_MAX + 1], char password[SMTP_AUTH_MAX + 1],
                           const char **reply_r);

/* One AUTH exchange (RFC 4954) as the server sees it: what the client has sent so far. */
typedef struct {
  SmtpSaslMech mech;
  gboolean have_user;                 /* LOGIN: the user name came */
  char user[SMTP_AUTH_MAX + 1];
  char password[SMTP_AUTH_MAX + 1];   /* the caller wipes it once checked */
} SmtpAuthExchange;

typedef enum {
  SMTP_AUTH_CONTINUE,    /* *text is the 334 challenge to send; the next line goes to smtp_auth_next */
  SMTP_AUTH_CREDENTIALS, /* user and password are complete: check them */
  SMTP_AUTH_FAILED,      /* *text is the refusal (malformed, or "*": cancelled) */
} SmtpAuthStep;

/* Starts an exchange from the AUTH command's argument (a known mechanism, with or without an
 * initial response). */
SmtpAuthStep smtp_auth_start(SmtpAuthExchange *x, const char *arg, const char **text);
/* The client's next response line. */
SmtpAuthStep smtp_auth_next(SmtpAuthExchange *x, const char *line, const char **text);

#endif
