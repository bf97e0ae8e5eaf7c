/* smtp_input.h - framing of what an SMTP client sends, taken from the session's input buffer:
 * one command line within SMTP_MAX_TEXT_LINE octets (a longer line is dropped as it arrives and
 * reported once, at its end), and message octets fed to the DATA/BDAT decoder (smtp_parse.h).
 * Each call drains exactly what it used. No socket, no clock, no allocation.
 */
#ifndef MA_SMTP_INPUT_H
#define MA_SMTP_INPUT_H

#include "smtp_parse.h"

#include <event2/buffer.h>
#include <glib.h>

typedef enum {
  SMTP_INPUT_NONE,     /* no whole line buffered yet */
  SMTP_INPUT_LINE,     /* line holds one, without its CRLF (or bare LF), NUL-terminated, *len octets */
  SMTP_INPUT_DROPPED,  /* octets of an over-long line were dropped; its end is still to come */
  SMTP_INPUT_TOO_LONG, /* an over-long line ended: the caller answers 500 5.5.2 */
} SmtpInputLine;

/* Takes one command line from in. *discarding is the caller's across calls (inside an over-long
 * line), FALSE at first. */
SmtpInputLine smtp_input_line(struct evbuffer *in, char line[SMTP_MAX_TEXT_LINE + 1], gsize *len,
                              gboolean *discarding);

/* Feeds up to max octets of in to dec (NULL: drops them, a refused BDAT chunk) and drains them.
 * Returns the octets taken; *done is set when dec saw the end of DATA (the octets after it stay
 * in in). */
gsize smtp_input_feed(struct evbuffer *in, SmtpDataDecoder *dec, gsize max, gboolean *done);

#endif
