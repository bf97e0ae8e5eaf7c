/* api_head.h - the pure parser of an HTTP/1.x request head (request line and header fields), as
 * far as the API's front reader needs it to decide before any body is read: the method, the
 * request target and the first Authorization value, and to find where the next request starts:
 * Content-Length, or whether a Transfer-Encoding makes that unknowable here. Nothing else of the head is interpreted here;
 * evhttp parses the same octets again once the front lets them through.
 *
 * Bounds: the head is at most API_HEAD_MAX octets (the caller never hands more); method at most
 * 15 octets; a NUL or a bare CR inside the head makes it malformed.
 */
#ifndef MA_API_HEAD_H
#define MA_API_HEAD_H

#include <glib.h>

#define API_HEAD_MAX (64 * 1024)

typedef struct {
  char method[16];      /* "GET", "POST", ... as sent */
  char *target;         /* request target as sent (path and query), newly allocated */
  char *authorization;  /* value of the first Authorization field, without surrounding blanks;
                           NULL when there is none; newly allocated */
  gint64 content_length; /* -1 when there is no Content-Length */
  gboolean chunked;      /* a Transfer-Encoding field is present: the body's end is not counted */
} ApiHead;

/* Length of the head at the start of buf (through the empty line that ends it, CRLF or LF), or 0
 * when buf does not yet hold a complete head. resume (may be NULL) makes the search incremental:
 * start it at 0; the call leaves there the start of the line still unfinished, so the next call
 * with more octets (the same prefix, longer) scans only what is new. */
gsize api_head_length(const char *buf, gsize len, gsize *resume);

/* Parses the complete head buf[0..len) (as measured by api_head_length). 0 and *out filled (clear
 * it with api_head_clear), or -1 when the request line or a field is malformed (Content-Length
 * not decimal, over 18 digits, or given twice with different values, included). */
int api_head_parse(const char *buf, gsize len, ApiHead *out);

void api_head_clear(ApiHead *h);

#endif
