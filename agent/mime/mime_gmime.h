/* mime_gmime.h - the GMime side of the mime module, shared by mime.c, mime_body.c and
 * mime_unwrap.c. Not for other modules. Every function here only READS parsed GMime objects:
 * no setter, no serialisation (GMime 3.2.13 can loop in g_mime_param_list_encode).
 */
#ifndef MA_MIME_GMIME_H
#define MA_MIME_GMIME_H

#include <gmime/gmime.h>

#include "mime_private.h"

/* The bytes GMime parsed and what the walk reports into. */
typedef struct {
  const char *buf;          /* the parse buffer (caller's, a mapped file, or the pre-scan copy) */
  gsize len;
  GByteArray *array;        /* the non-owning array the memory stream reads (unused when fd >= 0) */
  int fd;                   /* the mapped file GMime reads through its descriptor, else -1 */
  const MaRaw *input;       /* buf is the caller's input itself: attachments may refer to it
                               (in_raw); NULL for a copy (a repair, a re-parse) */
  const MaMimeLimits *limits;
  GPtrArray *warnings;      /* char*, owned */
  GMimeParserOptions *options;
  gboolean reparsed;        /* a re-parse with a guessed boundary: no further guessing, and no
                               unwrapping from objects that do not outlive the walk */
} MimeSource;

/* What a walk over one message's body found. */
typedef struct {
  GString *text;            /* concatenated inline text/plain parts */
  gboolean have_plain;
  gboolean text_cut;        /* the text reached limits->max_text: later parts are not read */
  gsize text_raw_offset;    /* text is one part's undecoded bytes buf[offset, offset + length) */
  gsize text_raw_length;    /* with LF line ends; 0 when it is not (MaMessage.text_raw_length) */
  char *html;               /* first inline text/html, UTF-8 */
  GPtrArray *attachments;   /* MaAttachment*, owned */
  GMimeMessagePart *rfc822; /* the direct-child message/rfc822 part, when exactly one */
  guint rfc822_count;
  gboolean report;          /* a multipart/report was walked: never a hand forward */
} MimeBody;

void mime_body_init(MimeBody *b);
void mime_body_clear(MimeBody *b);
/* Walks root (the message's top-level MIME part) into b. Bounded by limits->max_depth. */
void mime_body_walk(MimeSource *src, GMimeObject *root, MimeBody *b);

/* Fills the header fields of m from msg (ids, subject, date, participants). */
void mime_fill_headers(MaMessage *m, GMimeMessage *msg, GMimeParserOptions *options);
/* Fills m->signals from the header block head[0..head_len) (mime_forward_signals_read, as the
 * forwarder policy reads it) and m->machine from msg's headers. */
void mime_fill_signals(MaMessage *m, GMimeMessage *msg, const char *head, gsize head_len);
/* Moves b's text/html/attachments into m (text from HTML when there is no text/plain). */
void mime_fill_body(MaMessage *m, MimeBody *b);

/* Applies the unwrap rules of mime.h. *m may be replaced by the original's MaMessage. */
void mime_unwrap(MimeSource *src, MaMessage **m, GMimeMessage *msg, MimeBody *b);

#endif
