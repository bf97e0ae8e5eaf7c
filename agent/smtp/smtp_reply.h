/* smtp_reply.h - pure, incremental parser of SMTP replies (RFC 5321 4.2, enhanced status codes of
 * RFC 3463) and of the EHLO keyword list; shared by both sides of mailagent's SMTP: the client
 * (agent/smtp_client) reads every server reply through it, and the server's tests read the
 * server's replies through it, so the two ends agree on one grammar.
 *
 * No I/O, no allocation: the parser is a caller-owned struct fed with whatever octets arrived
 * (whole replies, a byte at a time, several replies at once) and yields one complete reply at a
 * time. Bounds fixed up front, whatever the peer sends: a reply line is at most
 * SMTP_REPLY_MAX_LINE octets with CRLF, a reply at most SMTP_REPLY_MAX_LINES lines, the kept text
 * at most SMTP_REPLY_MAX_TEXT octets (longer text is truncated and flagged, never an error).
 * A line that is not "DDD[ -]text" or a continuation whose code differs is a protocol error;
 * a bare LF ends a line (lenient like Postfix's smtp_get), a bare CR is kept as text-free junk.
 */
#ifndef MA_SMTP_REPLY_H
#define MA_SMTP_REPLY_H

#include <glib.h>

#define SMTP_REPLY_MAX_LINE 2048
#define SMTP_REPLY_MAX_LINES 128
#define SMTP_REPLY_MAX_TEXT 4096

typedef struct {
  int code;                               /* 200..599 (first digit 2-5) */
  char enhanced[16];                      /* "2.1.5" when the first line carries one, else "" */
  char text[SMTP_REPLY_MAX_TEXT + 1];     /* the lines' texts (after "DDD-"), joined by '\n' */
  guint lines;
  gboolean truncated;                     /* text was cut at SMTP_REPLY_MAX_TEXT */
} SmtpReply;

typedef struct {
  char line[SMTP_REPLY_MAX_LINE + 1];     /* the line being read */
  gsize line_len;
  gboolean overlong;                      /* the current line passed the cap: error at its end */
  SmtpReply cur;                          /* the reply being assembled */
} SmtpReplyParser;

void smtp_reply_parser_init(SmtpReplyParser *p);

/* Feeds len octets. Returns 1 when a reply completed: it is copied to *out and *consumed says how
 * many octets were used (feed the rest again); 0 when all len octets were used and the reply is
 * not complete; -1 on a protocol error with *error_r a static description (the connection should
 * be dropped: nothing after it can be trusted). */
int smtp_reply_feed(SmtpReplyParser *p, const char *buf, gsize len, gsize *consumed, SmtpReply *out,
                    const char **error_r);

/* TRUE while part of a reply has been read (a line or earlier lines of a multi-line reply). */
gboolean smtp_reply_parser_pending(const SmtpReplyParser *p);

/* "250 2.1.5 text" style one-line summary of a reply for logs, storage and webhooks: code,
 * enhanced code when present, first line of text; at most size-1 octets, control characters
 * replaced by '?'. */
void smtp_reply_summary(const SmtpReply *r, char *out, gsize size);

/* What an EHLO reply offers (RFC 5321 4.1.1.1 keywords, case-insensitive). */
typedef struct {
  gboolean pipelining, starttls, eightbitmime, smtputf8, enhancedstatuscodes, chunking;
  gboolean auth_plain, auth_login, auth_xoauth2, auth_oauthbearer;
  gint64 size;                            /* SIZE n; 0 when absent or "SIZE" without a limit */
} SmtpEhloCaps;

/* Reads the keywords of a 250 EHLO reply (its first line is the greeting and is skipped). */
void smtp_reply_ehlo_caps(const SmtpReply *r, SmtpEhloCaps *caps);

#endif
