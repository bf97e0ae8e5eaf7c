/* outbound_submission.h - what the SMTP submission listener hands its messages to: a queue worker
 * that runs outbound_submit off the event loop and answers each session (see the .c file). */
#ifndef MA_OUTBOUND_SUBMISSION_H
#define MA_OUTBOUND_SUBMISSION_H

#include "outbound.h"

#include "agent/smtp/smtp_server.h"

#include <event2/event.h>

typedef struct OutboundSubmission OutboundSubmission;

/* Starts the worker; answers are delivered on base's thread. cfg is borrowed and must outlive the
 * sink. NULL with *error. Free with outbound_submission_free (after the listener is gone). */
OutboundSubmission *outbound_submission_new(struct event_base *base, MaConfig *cfg, GError **error);
/* The operations for smtp_server_new_submission (sink: the OutboundSubmission). */
const SmtpSinkOps *outbound_submission_ops(void);
/* Finishes what is queued, stops the worker. Accepts NULL. */
void outbound_submission_free(OutboundSubmission *sub);

#endif
