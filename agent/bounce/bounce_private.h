/* bounce_private.h - what agent/bounce shares inside itself: the generated reason patterns
 * (bounce_reasons.c, from Sisimai) read by the classifier (bounce_reason.c), the facts one reason
 * decision reads, and the remote-host rules (bounce_rhost.c) the parser (bounce.c) applies. */
#ifndef MAILAGENT_BOUNCE_PRIVATE_H
#define MAILAGENT_BOUNCE_PRIVATE_H

#include <stddef.h>

#include <glib.h>

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
/* What a reporting MTA writes for a reason (Sisimai's Lhost modules): mta is the module's name,
 * text a lower-case fragment of the diagnostic. */
typedef struct {
  const char *mta;
  const char *text;
  const char *reason;
} BounceMtaText;

extern const BounceMtaText bounce_mta_texts[];

/* A remote host's text for a reason (Sisimai::Rhost::*): host is the module's name; reply (0: any)
 * and status ("" any; with lo < hi, the status prefix whose last number lies in [lo, hi]) are what
 * the text must come with; text is lower-case. */
typedef struct {
  const char *host;
  int reply;
  const char *status;
  int lo, hi;
  const char *text;
  const char *reason;
} BounceRhostText;

/* A remote host's own error code (Orange's "LPN007_416" -> 416, GoDaddy's "IB607"...) and its reason. */
typedef struct {
  const char *host;
  const char *code;
  const char *reason;
} BounceRhostCode;

extern const BounceRhostText bounce_rhost_texts[];
extern const BounceRhostCode bounce_rhost_codes[];

/* One recipient's facts for a reason decision. Every string may be NULL (read as ""). */
typedef struct {
  const char *status;          /* enhanced status code, "5.1.1" */
  const char *action;          /* DSN Action: "failed", "delayed", ... */
  const char *command;         /* SMTP command the server refused: "RCPT", "DATA", ... */
  const char *diagnostic;      /* the server's text */
  const char *diagnostic_type; /* type of the DSN Diagnostic-Code ("smtp", "X-Unix"), "" when none */
  const char *host_reason;     /* the reason the remote host's own codes give (bounce_rhost_reason) */
  const char *mta_reason;      /* the reason the reporting MTA's format gives (bounce_lhost_reason) */
} BounceFacts;

/* bounce_reason with every fact: the reason as Sisimai::Data and Sisimai::Reason decide it. Static. */
const char *bounce_reason_decide(const BounceFacts *facts);

/* The reporting MTA whose format the bounce has, by its headers (an index for bounce_lhost_reason),
 * or -1 when it is none of those with a vocabulary of their own. */
struct _GMimeObject;
int bounce_lhost_identify(struct _GMimeObject *top);
/* The reason that MTA's codes, texts or (PowerMTA) bounce category give for one recipient, or "". */
const char *bounce_lhost_reason(int lhost, const char *status, const char *diagnostic, const char *category);
/* The SMTP command that MTA's format implies for a diagnostic ("RCPT"), or "". */
const char *bounce_lhost_command(int lhost, const char *diagnostic);
/* The reason the error line of a local delivery agent (mail.local, procmail, maildrop, vpopmail,
 * vmailmgr, Dovecot LDA) in a bounce's text gives, or "". */
const char *bounce_mda_reason(const char *text, gsize len);

/* Sendmail's session transcript: for recipient's "NNN <recipient>... text" line, the command and
 * the reply quoted before it (">>> MAIL From:<...>", "<<< 550 ..."; a multi-line reply joined), since
 * the previous recipient's line or "While talking to HOST:". TRUE when the line is there: *command
 * is static ("" when none was quoted), *diagnostic the reply and the line's text (caller frees).
 * With recipient NULL: the first exchange's command and reply, for a DSN of one recipient. */
gboolean bounce_sendmail_transcript(const char *text, gsize len, const char *recipient, const char **command,
                                    char **diagnostic);

/* ---- free text (bounce_text.c); every returned string is new (caller frees) unless const ---- */

/* Blank-line separated groups of unfolded "Name: value" fields; each group a GPtrArray of
 * alternating name, value strings. */
GPtrArray *bounce_field_groups(const char *text);
/* The value of field name in a group (case-insensitive), or NULL. */
const char *bounce_group_get(GPtrArray *group, const char *name);
/* The first address in [s, end), lower-case; *at and *after delimit it in s. NULL when none. */
char *bounce_next_address(const char *s, const char *end, const char **at, const char **after);
/* "rfc822; user@example.org" -> "user@example.org" (lower-case), or NULL. */
char *bounce_typed_address(const char *value);
/* The first enhanced status code in text ("550 5.1.1", "#5.1.1"), or "". */
char *bounce_find_status(const char *text);
/* Whitespace runs folded into one space, at most max bytes of valid UTF-8. */
char *bounce_squeeze_to(const char *s, gsize len, gsize max);
/* bounce_squeeze_to at BOUNCE_DIAGNOSTIC_MAX. */
char *bounce_squeeze(const char *s, gsize len);
/* The SMTP command a server refused as MTAs word it around the reply, the last named: "RCPT", ... or "". */
char *bounce_smtp_command(const char *text, gsize len);
/* The server a diagnostic quotes ("host mx.example.org[192.0.2.1] said:"), lower-case, or NULL. */
char *bounce_host_said(const char *diagnostic);
/* Where the returned message begins in the text of a single-part bounce, or the end of text. */
const char *bounce_returned_message_start(const char *text);
/* In place: a multi-line reply quoted on one line loses its continuation prefixes ("550-5.7.1"). */
void bounce_join_reply(char *diagnostic);
/* Without an enhanced code: does the text give a 4xx reply or say the message will be retried? */
gboolean bounce_temporary_text(const char *text);

/* The SMTP reply code of a diagnostic ("550 5.1.1 ..." -> 550) as Sisimai::SMTP::Reply finds it, or 0. */
int bounce_reply_code(const char *text);

/* The reason a remote host's documented codes and texts give (Sisimai::Rhost: Google, Microsoft,
 * GoDaddy, Orange/La Poste, KDDI, NTT docomo, ...), chosen by the name of the host that answered
 * (rhost, may be NULL) or else by the recipient's domain; "" when the host is none of those or its
 * text names nothing. reply is the SMTP reply code (0 when none). Static string. */
const char *bounce_rhost_reason(const char *rhost, const char *recipient, const char *status, int reply,
                                const char *command, const char *diagnostic);

#endif
