/* api_head.c - HTTP request head parsing for the API's front reader (see api_head.h).
 *
 * Lines end in LF with an optional CR before it (as evhttp accepts them). The request line is
 * "METHOD SP target SP HTTP/d.d"; field lines are "name: value" where name is a token; an obsolete
 * folded line (leading blank) continues the previous field and is ignored here. Never allocates
 * more than the target and one field value, both bounded by the head.
 */
#include "api_head.h"

#include <string.h>

gsize api_head_length(const char *buf, gsize len, gsize *resume)
{
  gsize line_start = resume ? MIN(*resume, len) : 0;
  const char *lf;

  while ((lf = memchr(buf + line_start, '\n', len - line_start)) != NULL) {
    gsize i = (gsize)(lf - buf);
    if (line_start > 0 && (i == line_start || (i == line_start + 1 && buf[line_start] == '\r')))
      return i + 1;
    line_start = i + 1; /* a leading empty line is not the end: evhttp skips it */
  }
  if (resume)
    *resume = line_start;
  return 0;
}

static gboolean is_tchar(char c)
{
  return g_ascii_isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Next line of buf[*pos..len): sets *line and *n (without CR LF); FALSE at the end. */
static gboolean next_line(const char *buf, gsize len, gsize *pos, const char **line, gsize *n)
{
  const char *lf;

  if (*pos >= len)
    return FALSE;
  lf = memchr(buf + *pos, '\n', len - *pos);
  if (!lf)
    return FALSE;
  *line = buf + *pos;
  *n = (gsize)(lf - *line);
  if (*n > 0 && (*line)[*n - 1] == '\r')
    (*n)--;
  *pos = (gsize)(lf - buf) + 1;
  return TRUE;
}

static int parse_request_line(const char *line, gsize n, ApiHead *out)
{
  const char *sp1 = memchr(line, ' ', n), *sp2;
  gsize mlen;

  if (!sp1)
    return -1;
  mlen = (gsize)(sp1 - line);
  if (mlen == 0 || mlen >= sizeof out->method)
    return -1;
  for (gsize i = 0; i < mlen; i++)
    if (!is_tchar(line[i]))
      return -1;
  sp2 = memchr(sp1 + 1, ' ', n - mlen - 1);
  if (!sp2 || sp2 == sp1 + 1)
    return -1;
  if ((gsize)(line + n - (sp2 + 1)) != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || !g_ascii_isdigit(sp2[8]))
    return -1;
  memcpy(out->method, line, mlen);
  out->method[mlen] = '\0';
  out->target = g_strndup(sp1 + 1, (gsize)(sp2 - sp1 - 1));
  return 0;
}

/* The field value between colon and the end of line, without surrounding blanks. */
static void field_value(const char *colon, const char *end, const char **v_r, gsize *n_r)
{
  const char *v = colon + 1;

  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  *v_r = v;
  *n_r = (gsize)(end - v);
}

static gboolean name_is(const char *line, const char *colon, const char *name)
{
  gsize n = strlen(name);
  return (gsize)(colon - line) == n && g_ascii_strncasecmp(line, name, n) == 0;
}

/* Content-Length: 1..18 decimal digits; a repeat must agree. FALSE when malformed. */
static gboolean take_length(const char *v, gsize n, gint64 *len)
{
  gint64 x = 0;

  if (n == 0 || n > 18)
    return FALSE;
  for (gsize i = 0; i < n; i++) {
    if (!g_ascii_isdigit(v[i]))
      return FALSE;
    x = x * 10 + (v[i] - '0');
  }
  if (*len >= 0 && *len != x)
    return FALSE;
  *len = x;
  return TRUE;
}

int api_head_parse(const char *buf, gsize len, ApiHead *out)
{
  gsize pos = 0, n;
  const char *line;

  memset(out, 0, sizeof *out);
  out->content_length = -1;
  if (len > API_HEAD_MAX || memchr(buf, '\0', len))
    goto bad;
  if (!next_line(buf, len, &pos, &line, &n) || parse_request_line(line, n, out) < 0)
    goto bad;
  while (next_line(buf, len, &pos, &line, &n) && n > 0) {
    const char *colon, *v;
    gsize vn;
    if (memchr(line, '\r', n))
      goto bad;
    if (line[0] == ' ' || line[0] == '\t')
      continue; /* obs-fold: part of the previous field */
    colon = memchr(line, ':', n);
    if (!colon || colon == line)
      goto bad;
    for (const char *c = line; c < colon; c++)
      if (!is_tchar(*c))
        goto bad;
    field_value(colon, line + n, &v, &vn);
    if (name_is(line, colon, "Content-Length")) {
      if (!take_length(v, vn, &out->content_length))
        goto bad;
    } else if (name_is(line, colon, "Transfer-Encoding")) {
      out->chunked = TRUE;
    } else if (name_is(line, colon, "Authorization") && !out->authorization) {
      out->authorization = g_strndup(v, vn);
    }
  }
  return 0;

bad:
  api_head_clear(out);
  return -1;
}

void api_head_clear(ApiHead *h)
{
  g_clear_pointer(&h->target, g_free);
  g_clear_pointer(&h->authorization, g_free);
  h->method[0] = '\0';
}
