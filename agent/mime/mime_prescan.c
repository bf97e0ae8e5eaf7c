/* mime_prescan.c - the cheap linear pass over raw message bytes that runs before GMime.
 *
 * GMime has no limits and cannot be interrupted, so this pass enforces ours (mime.h): it walks the
 * lines once, following the MIME structure the way a parser would (Content-Type of each header
 * block, a stack of open boundaries, message/rfc822 bodies), counting entities and nesting depth.
 * Where a limit is crossed it cuts the input at the start of the offending entity, so GMime reads
 * everything before it. It also decides which repairs need a copy: bare-CR line ends turned into
 * LF, over-long or over-budget top-level header fields dropped, NUL bytes in the top-level header
 * block turned into spaces. Never recurses; the boundary stack is bounded by max_depth; each line
 * is compared with at most max_depth boundaries. Over a mapped file (raw.h) it reads line by line
 * and gives the pages behind it back every PRESCAN_RELEASE octets, so scanning a 50 MB message
 * leaves none of it resident.
 */
#include "mime_private.h"

#include <string.h>

#include "agent/lib/error.h"
#include "agent/lib/raw.h"

#define PRESCAN_RELEASE (4 * 1024 * 1024)

typedef enum { ENT_LEAF, ENT_MULTIPART, ENT_MESSAGE } EntityKind;

typedef struct {
  const char *b; /* boundary (points into the buffer) */
  gsize blen;
  guint child_depth;
} Boundary;

typedef struct {
  gsize start, end;
} Range;

typedef struct {
  const char *data;
  gsize len;
  const MaRaw *source; /* what data lies in, when it is the input itself (pages released behind) */
  const MaMimeLimits *lim;
  GPtrArray *warnings;
  /* structure */
  Boundary *stack;
  guint nb, stack_cap;
  guint depth;       /* depth of the entity whose headers or body we are in */
  gboolean in_headers;
  gboolean top;      /* in the top-level header block */
  EntityKind kind;   /* of the current entity, from its Content-Type */
  const char *boundary;
  gsize boundary_len;
  guint parts, deepest;
  gsize cut;         /* where GMime must stop reading */
  gboolean stopped;
  /* top-level header repairs */
  GArray *dropped;   /* Range, offsets into data */
  gsize kept_bytes, essential_overflow;
  gboolean header_nul;
  gsize header_end;  /* end of the top-level header block */
} Scan;

static const char *const essential_fields[] = {
  "from", "sender", "to", "cc", "bcc", "reply-to", "subject", "date", "message-id",
  "in-reply-to", "references", "content-type", "content-transfer-encoding", "content-disposition",
  "mime-version", "resent-from", "x-forwarded-for", "x-forwarded-to", "delivered-to",
};

static int prescan(const char *raw, gsize len, const MaRaw *source, const MaMimeLimits *limits, MimePrescan *out,
                   GPtrArray *warnings, GError **error);

static gboolean field_is(const char *field, gsize flen, const char *name)
{
  gsize n = strlen(name);
  if (flen <= n || g_ascii_strncasecmp(field, name, n) != 0) return FALSE;
  gsize i = n;
  while (i < flen && (field[i] == ' ' || field[i] == '\t')) i++;
  return i < flen && field[i] == ':';
}

static gboolean field_is_essential(const char *field, gsize flen)
{
  for (gsize i = 0; i < G_N_ELEMENTS(essential_fields); i++)
    if (field_is(field, flen, essential_fields[i])) return TRUE;
  return FALSE;
}

static const char *find_ci(const char *hay, gsize hlen, const char *needle)
{
  gsize n = strlen(needle);
  for (gsize i = 0; i + n <= hlen; i++)
    if (g_ascii_strncasecmp(hay + i, needle, n) == 0) return hay + i;
  return NULL;
}

/* Reads the Content-Type field [field, field+flen) into s->kind / s->boundary. */
static void read_content_type(Scan *s, const char *field, gsize flen)
{
  const char *colon = memchr(field, ':', flen);
  if (!colon) return;
  const char *v = colon + 1, *end = field + flen;
  while (v < end && g_ascii_isspace(*v)) v++;
  gsize vlen = (gsize)(end - v);
  s->kind = ENT_LEAF;
  s->boundary = NULL;
  if (vlen >= 10 && g_ascii_strncasecmp(v, "multipart/", 10) == 0) {
    const char *p = find_ci(v, vlen, "boundary");
    while (p) {
      const char *q = p + 8;
      while (q < end && (*q == ' ' || *q == '\t')) q++;
      if (q < end && *q == '=') {
        q++;
        while (q < end && g_ascii_isspace(*q)) q++;
        const char *b = q, *be;
        if (q < end && *q == '"') {
          b = ++q;
          while (q < end && *q != '"') q++;
          be = q;
        } else {
          while (q < end && *q != ';' && !g_ascii_isspace(*q)) q++;
          be = q;
        }
        if (be > b && (gsize)(be - b) <= 200) {
          s->kind = ENT_MULTIPART;
          s->boundary = b;
          s->boundary_len = (gsize)(be - b);
        }
        return;
      }
      p = find_ci(p + 8, (gsize)(end - (p + 8)), "boundary");
    }
  } else if ((vlen >= 14 && g_ascii_strncasecmp(v, "message/rfc822", 14) == 0) ||
             (vlen >= 14 && g_ascii_strncasecmp(v, "message/global", 14) == 0)) {
    s->kind = ENT_MESSAGE;
  }
}

/* A new entity begins (its header block starts at `start`); `cut` is where to stop if it is one
 * too many. Returns FALSE when a limit stopped the scan. */
static gboolean start_entity(Scan *s, guint depth, gsize cut)
{
  s->parts++;
  if (s->parts > s->lim->max_parts) {
    char *w = g_strdup_printf("part limit reached: more than %u MIME parts, the rest is not read",
                              s->lim->max_parts);
    mime_warn(s->warnings, w);
    g_free(w);
    s->parts--;
    s->cut = cut;
    s->stopped = TRUE;
    return FALSE;
  }
  if (depth > s->lim->max_depth) {
    char *w = g_strdup_printf("nesting limit reached: parts nested deeper than %u are not read",
                              s->lim->max_depth);
    mime_warn(s->warnings, w);
    g_free(w);
    s->parts--;
    s->cut = cut;
    s->stopped = TRUE;
    return FALSE;
  }
  if (depth > s->deepest) s->deepest = depth;
  s->depth = depth;
  s->in_headers = TRUE;
  s->kind = ENT_LEAF;
  s->boundary = NULL;
  return TRUE;
}

static void end_field(Scan *s, gsize start, gsize end)
{
  const char *f = s->data + start;
  gsize flen = end - start;
  if (!s->top) {
    if (flen <= s->lim->max_header_field && field_is(f, flen, "content-type"))
      read_content_type(s, f, flen);
    return;
  }
  gboolean keep;
  if (flen > s->lim->max_header_field) {
    keep = FALSE;
    mime_warn(s->warnings, "header field over the size limit dropped");
  } else if (s->kept_bytes + flen <= s->lim->max_header_block) {
    keep = TRUE;
  } else if (field_is_essential(f, flen) && s->essential_overflow + flen <= s->lim->max_header_block) {
    keep = TRUE;
    s->essential_overflow += flen;
  } else {
    keep = FALSE;
    mime_warn(s->warnings, "header block over the size limit: some header fields dropped");
  }
  if (!keep) {
    Range r = {start, end};
    g_array_append_val(s->dropped, r);
    return;
  }
  s->kept_bytes += flen;
  if (field_is(f, flen, "content-type")) read_content_type(s, f, flen);
}

static void end_headers(Scan *s, gsize body_start)
{
  if (s->top) {
    s->top = FALSE;
    s->header_end = body_start;
  }
  s->in_headers = FALSE;
  if (s->kind == ENT_MULTIPART) {
    if (s->nb < s->stack_cap) {
      Boundary b = {s->boundary, s->boundary_len, s->depth + 1};
      s->stack[s->nb++] = b;
    }
  } else if (s->kind == ENT_MESSAGE) {
    start_entity(s, s->depth + 1, body_start);
  }
}

/* Checks whether line [l, l+clen) is a boundary line of an open multipart; acts on it. */
static gboolean try_boundary(Scan *s, const char *l, gsize clen, gsize line_start)
{
  if (clen < 3 || l[0] != '-' || l[1] != '-' || s->nb == 0) return FALSE;
  for (guint i = s->nb; i-- > 0;) {
    const Boundary *b = &s->stack[i];
    if (clen < 2 + b->blen || memcmp(l + 2, b->b, b->blen) != 0) continue;
    const char *rest = l + 2 + b->blen, *end = l + clen;
    gboolean closing = FALSE;
    if (end - rest >= 2 && rest[0] == '-' && rest[1] == '-') {
      closing = TRUE;
      rest += 2;
    }
    while (rest < end && g_ascii_isspace(*rest)) rest++;
    if (rest != end) continue;
    if (closing) {
      s->nb = i;
      s->in_headers = FALSE;
      s->kind = ENT_LEAF;
    } else {
      guint child_depth = b->child_depth;
      s->nb = i + 1;
      start_entity(s, child_depth, line_start);
    }
    return TRUE;
  }
  return FALSE;
}

static void scan_structure(Scan *s)
{
  gsize pos = 0, len = s->len;
  gssize field_start = -1;
  s->in_headers = TRUE;
  s->top = TRUE;
  s->parts = 1;
  s->header_end = len;
  gsize released = 0;
  while (pos < len && !s->stopped) {
    if (s->source && pos - released >= PRESCAN_RELEASE) {
      ma_raw_release(s->source, released, pos - released);
      released = pos;
    }
    const char *line = s->data + pos;
    const char *eol = memchr(line, '\n', len - pos);
    gsize line_end = eol ? (gsize)(eol - s->data) : len;
    gsize next = eol ? line_end + 1 : len;
    gsize clen = line_end - pos;
    if (clen > 0 && line[clen - 1] == '\r') clen--;
    if (s->in_headers) {
      if (field_start >= 0 && clen > 0 && (line[0] == ' ' || line[0] == '\t')) {
        pos = next;
        continue;
      }
      if (field_start >= 0) {
        end_field(s, (gsize)field_start, pos);
        field_start = -1;
      }
      if (clen == 0) {
        end_headers(s, next);
      } else if (!s->top && try_boundary(s, line, clen, pos)) {
        /* a part whose headers end at the next boundary */
      } else {
        field_start = (gssize)pos;
      }
    } else {
      try_boundary(s, line, clen, pos);
    }
    pos = next;
  }
  if (field_start >= 0 && !s->stopped) end_field(s, (gsize)field_start, len);
  if (s->top) s->header_end = len;
}

/* Counts line feeds and bare CRs (not followed by LF) of raw, a piece at a time. */
static void count_line_ends(const char *raw, gsize len, const MaRaw *source, gsize *lf, gsize *bare_cr)
{
  *lf = *bare_cr = 0;
  for (gsize from = 0; from < len; from += PRESCAN_RELEASE) {
    const char *end = raw + MIN(len, from + PRESCAN_RELEASE);
    for (const char *p = raw + from; p < end;) {
      const char *n = memchr(p, '\n', (gsize)(end - p));
      if (!n) break;
      (*lf)++;
      p = n + 1;
    }
    for (const char *p = raw + from; p < end;) {
      const char *r = memchr(p, '\r', (gsize)(end - p));
      if (!r) break;
      if (r + 1 >= raw + len || r[1] != '\n') (*bare_cr)++;
      p = r + 1;
    }
    if (source) ma_raw_release(source, from, (gsize)(end - (raw + from)));
  }
}

int mime_prescan(const char *raw, gsize len, const MaMimeLimits *limits, MimePrescan *out,
                 GPtrArray *warnings, GError **error)
{
  return prescan(raw, len, NULL, limits, out, warnings, error);
}

int mime_prescan_raw(const MaRaw *raw, const MaMimeLimits *limits, MimePrescan *out, GPtrArray *warnings,
                     GError **error)
{
  int rc = prescan(ma_raw_data(raw), ma_raw_len(raw), raw, limits, out, warnings, error);
  ma_raw_release(raw, 0, ma_raw_len(raw));
  return rc;
}

static int prescan(const char *raw, gsize len, const MaRaw *source, const MaMimeLimits *limits, MimePrescan *out,
                   GPtrArray *warnings, GError **error)
{
  g_assert(raw || len == 0);
  memset(out, 0, sizeof *out);
  if (len > limits->max_message_size) {
    g_set_error(error, MA_ERROR, MA_ERROR_LIMIT, "message of %" G_GSIZE_FORMAT
                " bytes exceeds the limit of %" G_GSIZE_FORMAT, len, limits->max_message_size);
    return -1;
  }

  /* Line ends: bare CR (not followed by LF) outnumbering LF means a CR-delimited message. */
  gsize lf, bare_cr;
  count_line_ends(raw, len, source, &lf, &bare_cr);
  const char *data = raw;
  char *copy = NULL;
  if (bare_cr > lf) {
    copy = g_malloc(len + 1);
    for (gsize i = 0; i < len; i++)
      copy[i] = (raw[i] == '\r' && (i + 1 >= len || raw[i + 1] != '\n')) ? '\n' : raw[i];
    copy[len] = '\0';
    data = copy;
    mime_warn(warnings, "bare CR line ends read as line breaks");
  }

  Scan s = {0};
  s.data = data;
  s.len = len;
  s.source = data == raw ? source : NULL;
  s.lim = limits;
  s.warnings = warnings;
  s.stack_cap = limits->max_depth + 1;
  s.stack = g_new(Boundary, s.stack_cap);
  s.dropped = g_array_new(FALSE, FALSE, sizeof(Range));
  s.cut = len;
  scan_structure(&s);
  s.header_nul = s.header_end > 0 && memchr(data, '\0', s.header_end) != NULL; /* data may be NULL when len is 0 */

  if (s.dropped->len > 0 || s.header_nul) {
    /* Rebuild: top-level header block without the dropped fields, NULs there become spaces. */
    char *fixed = g_malloc(s.cut + 1);
    gsize o = 0, from = 0, removed = 0;
    for (guint i = 0; i <= s.dropped->len; i++) {
      gsize upto = i < s.dropped->len ? g_array_index(s.dropped, Range, i).start : s.cut;
      if (upto > s.cut) upto = s.cut;
      if (upto > from) {
        memcpy(fixed + o, data + from, upto - from);
        o += upto - from;
      }
      if (i < s.dropped->len) {
        Range r = g_array_index(s.dropped, Range, i);
        removed += r.end - r.start;
        from = r.end;
      }
    }
    gsize hdr_end = s.header_end > removed ? s.header_end - removed : 0;
    for (gsize i = 0; i < hdr_end && i < o; i++)
      if (fixed[i] == '\0') fixed[i] = ' ';
    fixed[o] = '\0';
    g_free(copy);
    copy = fixed;
    data = fixed;
    s.cut = o;
    s.header_end = MIN(hdr_end, o);
  }
  out->data = data;
  out->len = s.cut;
  out->header_len = MIN(s.header_end, s.cut);
  out->copy = copy;
  out->parts = s.parts;
  out->max_depth = s.deepest;
  g_free(s.stack);
  g_array_unref(s.dropped);
  return 0;
}

void mime_prescan_clear(MimePrescan *p)
{
  if (!p) return;
  g_free(p->copy);
  memset(p, 0, sizeof *p);
}
