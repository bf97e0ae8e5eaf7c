/* smtp_limits.h - the limits of one inbound SMTP session (sizes, counts, timeouts, the data
 * rate) and their documented defaults; the server fills them from [smtp] and copies them into each
 * session (smtp_session.h). Plain data: no I/O, no allocation.
 */
#ifndef MA_SMTP_LIMITS_H
#define MA_SMTP_LIMITS_H

#include "smtp_parse.h"
#include "smtp_rate.h"

#include <glib.h>

#define SMTP_DATA_PROGRESS 1024     /* octets that extend the DATA/BDAT deadline */

typedef struct {
  char *hostname;           /* greeting and EHLO name */
  char *inbound_domain;
  char *bounce_domain;      /* [relay] bounce_domain: RCPT there goes to the bounce_lookup hook; NULL: none */
  gint64 max_message_size;  /* SIZE, advertised */
  guint max_recipients;
  guint error_budget;
  guint junk_command_limit; /* NOOP/VRFY/RSET/HELP/ETRN since the last accepted message; 0: off */
  guint command_timeout_ms;
  guint data_timeout_ms;    /* DATA/BDAT without SMTP_DATA_PROGRESS octets of progress */
  guint tls_timeout_ms;     /* TLS handshake */
  guint min_data_rate;      /* octets/s over the last rate_window_ms of DATA/BDAT; 0: off */
  guint rate_grace_ms;      /* no rate check before this much of the transfer */
  guint rate_window_ms;     /* 1000 .. SMTP_RATE_WINDOW_MAX_S * 1000 */
  SmtpDataLimits data;
  gboolean tls_available;   /* advertise STARTTLS */
  gboolean submission;      /* the submission listener: AUTH required, any recipient, no policy */
  gboolean auth_plaintext;  /* submission: AUTH allowed before TLS (a loopback client, by config) */
  gboolean implicit_tls;    /* the connection is TLS from its first octet (RFC 8314 submissions):
                             * the session starts as after STARTTLS, which it does not offer */
} SmtpLimits;

/* Fills lim with the documented defaults (hostname/domain NULL). */
void smtp_limits_defaults(SmtpLimits *lim);

#endif
