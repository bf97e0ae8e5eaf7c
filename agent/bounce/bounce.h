/* bounce.h - the bounce parser: bytes of one received message in, its classification out. Pure: no
 * storage, no network, no global state besides GMime's one-time initialisation (mime_global_init).
 *
 * It recognises RFC 3464 delivery status notifications (multipart/report with
 * message/delivery-status, one group of fields per recipient), the plain-text bounces of MTAs that
 * do not send DSNs (Postfix, Exim, Sendmail, qmail, Exchange, Gmail, Yahoo, QQ/Exmail, ...: the
 * failed address is found in the error paragraph before the returned message), ARF feedback
 * reports (RFC 5965, a complaint) and RFC 3834 auto-replies (not a bounce). Each recipient gets a
 * reason in Sisimai's vocabulary (userunknown, hostunknown, mailboxfull, filtered, blocked,
 * spamdetected, expired, toomanyconn, policyviolation, ...) and hard/soft as Sisimai defines them.
 */
#ifndef MAILAGENT_BOUNCE_H
#define MAILAGENT_BOUNCE_H

#include <glib.h>

/* What the message is. */
typedef enum {
  BOUNCE_KIND_NONE = 0, /* not a bounce, complaint or auto-reply: recipients is empty */
  BOUNCE_KIND_DSN,      /* RFC 3464 message/delivery-status */
  BOUNCE_KIND_TEXT,     /* a non-standard bounce recognised from its text */
  BOUNCE_KIND_FEEDBACK, /* RFC 5965 ARF report: reason "feedback" */
  BOUNCE_KIND_AUTOREPLY /* RFC 3834 auto-reply: reason "vacation" */
} BounceKind;

/* Hard/soft as Sisimai's softbounce: HARD must not be retried, SOFT may succeed later, NEITHER for
 * a complaint, an auto-reply or a delivery report. */
typedef enum { BOUNCE_SOFT = 0, BOUNCE_HARD = 1, BOUNCE_NEITHER = -1 } BounceSeverity;

typedef struct {
  char *recipient;          /* lower-case address the failure is about (Final-Recipient) */
  char *original_recipient; /* Original-Recipient, or NULL */
  char *action;             /* "failed", "delayed", "delivered", ... ("" if not given) */
  char *status;             /* enhanced status code "5.1.1" ("" if none found) */
  char *command;            /* SMTP command the server refused: "RCPT", "DATA", ... or "" */
  char *diagnostic;         /* the server's text, unfolded, at most BOUNCE_DIAGNOSTIC_MAX bytes */
  BounceSeverity hard;
  const char *reason; /* static string in Sisimai's vocabulary; "undefined" when none applies */
} BounceRecipient;

typedef struct {
  BounceKind kind;
  GPtrArray *recipients;     /* of BounceRecipient*, owned */
  char *original_message_id; /* Message-ID of the returned message without <>, or NULL */
  char *original_headers;    /* header block of the returned message (bounded), or NULL */
} BounceReport;

#define BOUNCE_INPUT_MAX (16u * 1024 * 1024) /* larger input is refused (-1) */
#define BOUNCE_DIAGNOSTIC_MAX 1024u
#define BOUNCE_RECIPIENTS_MAX 256u

/* Parses raw (len bytes, any content). Returns 0 and a new report in *out (caller frees with
 * bounce_report_free) — kind NONE when the message is none of the above — or -1 when the input is
 * larger than BOUNCE_INPUT_MAX. */
int bounce_parse(const void *raw, gsize len, BounceReport **out);
void bounce_report_free(BounceReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BounceReport, bounce_report_free)

/* The reason for one recipient from its status code, action, the SMTP command the remote server
 * refused ("RCPT", "DATA", ... or "") and diagnostic text, by Sisimai's
 * documented rules (status code table, then the message fragments of each reason in its order).
 * Returns a static string. */
const char *bounce_reason(const char *status, const char *action, const char *command, const char *diagnostic);
/* Hard/soft of a reason (Sisimai::SMTP::Error soft_or_hard): notaccept follows the status class. */
BounceSeverity bounce_severity(const char *reason, const char *status);
const char *bounce_kind_name(BounceKind kind);

#endif
