/* mime_start.c - the cheap check of a message's first bytes that lets the SMTP server refuse,
 * before its 250, mail the parser could never read (554 5.6.0, RFC 3463 "other or undefined
 * media error"), instead of acknowledging it and archiving it unparsed later.
 *
 * It reads only the first line and says "unreadable" only where mime_parse is sure to refuse too
 * (fuzz_mime checks that it never says so of a message mime_parse reads): an empty message, a
 * blank first line (no header section), a first line that starts with white space (a continuation
 * of no field), or a first line that is no "Name: value" field (no colon, an empty name, or white
 * space inside the name). An mbox "From " separator line is left to the parser, which skips it,
 * and so is a first line of only blanks before a colon (GMime reads a field with a blank name).
 * Anything it lets pass that still cannot be parsed is archived unparsed by the pipeline. Pure.
 */
#include "mime.h"

#include <string.h>

static gboolean is_blank(char c) { return c == ' ' || c == '\t' || c == '\0'; }

const char *mime_header_start_problem(const void *data, gsize len)
{
  const char *p = data;
  if (len == 0) return "the message is empty";
  if (p[0] == '\n' || (p[0] == '\r' && len > 1 && p[1] == '\n'))
    return "the message starts with a blank line, so it has no header section";
  gsize line = 0; /* the first line ends at CR or LF: the pre-scan turns bare CRs into line ends */
  while (line < len && p[line] != '\n' && p[line] != '\r') line++;
  const char *colon = memchr(p, ':', line);
  gsize name = colon ? (gsize) (colon - p) : 0;
  gsize lead = 0;
  while (lead < name && is_blank(p[lead])) lead++;
  if (colon && name > 0 && lead == name) return NULL; /* " : x": GMime reads a field with a blank name */
  if (p[0] == ' ' || p[0] == '\t') return "the first line starts with white space (a continuation of no header field)";
  if (len >= 5 && memcmp(p, "From", 4) == 0 && is_blank(p[4])) return NULL; /* mbox separator: the parser skips it */
  if (!colon || name == 0) return "the first line is not a header field (\"Name: value\")";
  /* NUL counts as white space: the pre-scan turns NULs of the header block into spaces */
  while (name > 0 && is_blank(p[name - 1])) name--; /* "Subject : x" is read */
  for (gsize i = 0; i < name; i++)
    if (is_blank(p[i])) return "the first line is not a header field (\"Name: value\")";
  return NULL;
}
