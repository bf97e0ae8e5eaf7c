/* smtp_parse.h - pure parsing for the inbound SMTP server: command lines, MAIL/RCPT paths and
 * their ESMTP parameters, the BDAT chunk size, the recipient check that refuses every open-relay
 * form, and the incremental DATA/BDAT decoder.
 *
 * No I/O, no allocation beyond what is documented, no global state: everything here is unit
 * tested table-driven and (the decoder) byte by byte. Error results carry a complete SMTP reply
 * text with an RFC 3463 enhanced code (static strings, never freed).
 *
 * Limits: a command line is at most SMTP_MAX_COMMAND octets (RFC 5321 4.5.3.1.4, 512 with CRLF), a
 * path at most SMTP_MAX_PATH (256), a local part 64, a domain 255. The decoder never buffers
 * more than 4 KiB: it streams the message into the caller's sink (the spool body file in the
 * server), never more than the size limit.
 */
#ifndef MA_SMTP_PARSE_H
#define MA_SMTP_PARSE_H

#include <glib.h>

#define SMTP_MAX_COMMAND 512
#define SMTP_MAX_TEXT_LINE 1000
#define SMTP_MAX_PATH 256
#define SMTP_MAX_LOCAL 64
#define SMTP_MAX_DOMAIN 255

typedef enum {
  SMTP_CMD_UNKNOWN = 0,
  SMTP_CMD_HELO,
  SMTP_CMD_EHLO,
  SMTP_CMD_MAIL,
  SMTP_CMD_RCPT,
  SMTP_CMD_DATA,
  SMTP_CMD_BDAT,
  SMTP_CMD_RSET,
  SMTP_CMD_NOOP,
  SMTP_CMD_QUIT,
  SMTP_CMD_HELP,
  SMTP_CMD_VRFY,
  SMTP_CMD_EXPN,
  SMTP_CMD_STARTTLS,
  SMTP_CMD_AUTH,
  SMTP_CMD_ETRN,     /* recognised only to be answered 458 and counted as junk */
  SMTP_CMD__COUNT
} SmtpCmd;

/* Splits one command line (CRLF already removed; len octets, may contain NUL) into its verb and
 * the argument after one space. *arg points into line (NUL-terminated copy is the caller's job:
 * line must be NUL-terminated at len). Returns the command, SMTP_CMD_UNKNOWN for an unknown verb.
 * A line with NUL or other control characters (except HT) gives SMTP_CMD_UNKNOWN with *bad set. */
SmtpCmd smtp_parse_command(const char *line, gsize len, const char **arg, gboolean *bad);
const char *smtp_cmd_name(SmtpCmd cmd);

typedef enum { SMTP_BODY_DEFAULT = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME } SmtpBody;

typedef struct {
  char address[SMTP_MAX_PATH + 1]; /* "local@domain" as sent (quotes kept), "" for <> */
  char local[SMTP_MAX_LOCAL * 2 + 3]; /* local part as sent, quotes kept */
  char domain[SMTP_MAX_DOMAIN + 1];   /* as sent; "" for <> */
  gboolean quoted;                    /* local part was a quoted string */
  gboolean source_route;              /* had an "@a,@b:" prefix */
  gboolean utf8;                      /* contains octets >= 0x80 */
  gint64 size;                        /* SIZE=, -1 when absent */
  SmtpBody body;                      /* BODY= */
  gboolean smtputf8;                  /* SMTPUTF8 parameter */
} SmtpPath;

/* Parses the argument of MAIL ("FROM:<path> params") into out. Returns 0, or -1 with *reply_r set
 * to the reply for the client (501 syntax, 555 unknown parameter...). */
int smtp_parse_mail(const char *arg, SmtpPath *out, const char **reply_r);
/* Parses the argument of RCPT ("TO:<path> params"); RCPT takes no parameters here (no DSN). */
int smtp_parse_rcpt(const char *arg, SmtpPath *out, const char **reply_r);

/* Decides whether a parsed RCPT path may be one of ours: domain equal to inbound_domain (ASCII
 * case-insensitive, no trailing dot), no source route, no quoted local part, a local part made
 * only of [A-Za-z0-9._+-] and nothing that some MTA would route elsewhere (%, !, @, :, [..]).
 * Returns 0 and copies the lower-cased local part into local_r, or -1 with *reply_r (550 5.7.1 for
 * relay forms, 550 5.1.1 for a well-formed address that cannot be ours). */
int smtp_rcpt_local_part(const SmtpPath *path, const char *inbound_domain, char local_r[SMTP_MAX_LOCAL + 1],
                         const char **reply_r);

/* Parses the argument of BDAT (RFC 3030: chunk-size [SP "LAST"], one space, LAST in any case,
 * at most 18 digits). 0 with *size_r and *last_r, or -1: the chunk's length is unknown. */
int smtp_parse_bdat(const char *arg, gint64 *size_r, gboolean *last_r);

/* ---- incremental DATA / BDAT decoder ---------------------------------------------------------- */

typedef enum {
  SMTP_DATA_OK = 0,
  SMTP_DATA_BARE_NEWLINE, /* a CR or LF not part of CRLF */
  SMTP_DATA_TOO_BIG,      /* content over max_size */
  SMTP_DATA_LINE_TOO_LONG,/* a line over max_line octets with CRLF */
  SMTP_DATA_HEADER_TOO_BIG, /* a header over max_header octets, or too many headers / folds */
} SmtpDataError;

typedef struct {
  gint64 max_size;        /* message octets after unstuffing */
  guint max_line;         /* octets per line including CRLF (1000) */
  guint max_header;       /* octets of one logical (unfolded) header (102400) */
  guint max_headers;      /* header fields (1000) */
} SmtpDataLimits;

typedef struct SmtpDataDecoder SmtpDataDecoder;

/* Receives decoded message octets in order (p borrowed for the call). */
typedef void (*SmtpDataSink)(void *ctx, const guint8 *p, gsize n);

/* dot_mode TRUE: DATA (dot-stuffing, ends at CRLF.CRLF). FALSE: BDAT (raw octets, the caller ends
 * the message with smtp_data_decoder_finish). sink receives the message, never more than max_size
 * octets in all, and nothing after the first error. Free with smtp_data_decoder_free. */
SmtpDataDecoder *smtp_data_decoder_new_sink(const SmtpDataLimits *limits, gboolean dot_mode, SmtpDataSink sink,
                                            void *sink_ctx);
/* The same appending to out (caller-owned): for tests and the fuzz target. */
SmtpDataDecoder *smtp_data_decoder_new(const SmtpDataLimits *limits, gboolean dot_mode, GByteArray *out);
void smtp_data_decoder_free(SmtpDataDecoder *d);

/* Feeds len octets. Returns 1 when the end of DATA (CRLF.CRLF) was reached, with *consumed the
 * octets used up to and including it (the rest belongs to the next command); 0 when all len
 * octets were consumed and more are needed. BDAT mode never returns 1. */
int smtp_data_decoder_feed(SmtpDataDecoder *d, const guint8 *buf, gsize len, gsize *consumed);
/* BDAT LAST: ends the message; a dangling CR counts as a bare CR. */
void smtp_data_decoder_finish(SmtpDataDecoder *d);
/* The first error met (sticky), SMTP_DATA_OK when none. */
SmtpDataError smtp_data_decoder_error(const SmtpDataDecoder *d);
/* Message octets seen (after unstuffing, counted even past the size cap). */
gint64 smtp_data_decoder_size(const SmtpDataDecoder *d);
/* Octets of the header section, its blank line included (all octets so far when none was seen):
 * what the forwarder policy reads back at the end of the message. */
gint64 smtp_data_decoder_header_size(const SmtpDataDecoder *d);
/* The reply for an error (static text with enhanced code). */
const char *smtp_data_error_reply(SmtpDataError e);

#endif
