/* mime_downgrade.c - the 7-bit re-encoder of mime_downgrade.h: one explicit walk of the MIME
 * structure, line by line, used twice (scan, then write) over the same input.
 *
 * Lines are assembled in a fixed head buffer; a line longer than the head is never a boundary
 * (delimiter lines are at most 2 + 70 + 2 octets plus padding) and streams through in pieces. The
 * entity stack holds, innermost last, every open entity: its kind, its boundary when a multipart,
 * whether it is inside multipart/signed or /encrypted (sealed: never changed), and whether it
 * keeps octets nothing can re-encode (dirty: no 7bit label for it or its ancestors). A delimiter
 * line of any open multipart closes every entity above that multipart, as RFC 2046 readers do.
 * Entities are numbered in walk order, identical in both passes, so the scan's answers are bits.
 * Must never: allocate by a size from the input (the header block is capped), re-encode a
 * parameter list, change a byte of a part it does not re-encode.
 */
#include "mime_downgrade.h"

#include <string.h>

#define LINE_HEAD 1024               /* a line's head, enough to recognise any delimiter line */
#define OUT_BUF (64 * 1024)          /* output gathered before the callback */
#define BITS_LEN ((MIME_DOWNGRADE_MAX_ENTITIES + 7) / 8)
#define QP_MAX_COL 75                /* encoded octets per line before "=" (76 with it) */

typedef enum { KIND_UNKNOWN, KIND_LEAF, KIND_MULTIPART, KIND_MESSAGE } EntityKind;
typedef enum { CTE_NONE, CTE_7BIT, CTE_8BIT, CTE_BINARY, CTE_QP, CTE_BASE64, CTE_OTHER } Cte;
typedef enum { ST_HEADER, ST_BODY } State; /* ST_BODY: a leaf's body, or a multipart's preamble/epilogue */

typedef struct {
  EntityKind kind;
  guint ordinal;
  char boundary[71];
  gsize blen;
  gboolean closed;   /* multipart: its close delimiter came (the rest is epilogue) */
  gboolean digest;   /* multipart/digest: a child without Content-Type is message/rfc822 */
  gboolean sealed;   /* multipart/signed or /encrypted, or inside one */
  gboolean opaque;   /* a leaf never re-encoded (base64, quoted-printable, unknown encodings...) */
  gboolean dirty;    /* keeps 8-bit octets or long lines (its own or a child's) */
  gboolean encoding; /* write pass: this leaf's body is being written as quoted-printable */
  Cte cte;
  gboolean has_type;
} Entity;

struct MimeDowngrade {
  gboolean writing;
  MimeDowngradeOutput output;
  gpointer user;
  GString *out;
  GError *error; /* sticky */
  State state;
  Entity stack[MIME_DOWNGRADE_MAX_DEPTH];
  guint depth;
  guint next_ordinal;
  guint8 needs[BITS_LEN];    /* leaf re-encoded */
  guint8 relabel[BITS_LEN];  /* multipart/message relabelled 7bit */
  guint8 bad_utf8[BITS_LEN]; /* leaf body not valid UTF-8 (the charset of an added Content-Type) */
  GString *header;           /* the current entity's header block, without its blank line */
  char line[LINE_HEAD + 1];
  gsize line_len;
  gboolean line_long;        /* streaming the rest of a line longer than LINE_HEAD */
  gboolean pending_cr;       /* a CR ended the last piece of a long line: LF may follow */
  gsize body_line_len;
  gboolean body_line_8bit;
  guint utf8_need;           /* continuation octets still expected */
  gboolean utf8_bad;
  guint qp_col;
  char qp_ws;                /* a space or tab held back: encoded if the line ends after it */
  MimeDowngradeSummary sum;
};

static gboolean bit_get(const guint8 *bits, guint n) { return (bits[n / 8] >> (n % 8)) & 1; }
static void bit_set(guint8 *bits, guint n) { bits[n / 8] |= (guint8) (1u << (n % 8)); }

static int fail(MimeDowngrade *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int fail(MimeDowngrade *d, const char *fmt, ...)
{
  if (!d->error) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    d->error = g_error_new_literal(MA_ERROR, MA_ERROR_INVALID, msg);
    g_free(msg);
  }
  return -1;
}

/* ---- output ------------------------------------------------------------------------------------ */

static void out_flush(MimeDowngrade *d)
{
  if (d->out->len && d->output) d->output(d->out->str, d->out->len, d->user);
  g_string_truncate(d->out, 0);
}

static void out(MimeDowngrade *d, const char *data, gsize len)
{
  if (!d->writing || len == 0) return;
  g_string_append_len(d->out, data, (gssize) len);
  if (d->out->len >= OUT_BUF) out_flush(d);
}

/* ---- quoted-printable (RFC 2045 6.7) --------------------------------------------------------- */

static void qp_put(MimeDowngrade *d, const char *token, gsize n)
{
  if (d->qp_col + n > QP_MAX_COL) {
    out(d, "=\r\n", 3);
    d->qp_col = 0;
  }
  out(d, token, n);
  d->qp_col += (guint) n;
}

static void qp_hex(MimeDowngrade *d, guint8 b)
{
  static const char hex[] = "0123456789ABCDEF";
  char t[3] = {'=', hex[b >> 4], hex[b & 15]};
  qp_put(d, t, 3);
}

/* The held space or tab: literal when more follows on the line, encoded when it would end it. */
static void qp_flush_ws(MimeDowngrade *d, gboolean line_ends)
{
  if (!d->qp_ws) return;
  char c = d->qp_ws;
  d->qp_ws = 0;
  if (line_ends) qp_hex(d, (guint8) c);
  else qp_put(d, &c, 1);
}

static gboolean qp_literal(guint8 b)
{
  return b >= 33 && b <= 126 && b != '=';
}

static void qp_bytes(MimeDowngrade *d, const char *data, gsize len)
{
  gsize i = 0;
  while (i < len) {
    guint8 b = (guint8) data[i];
    qp_flush_ws(d, FALSE);
    if (!qp_literal(b)) {
      if (b == ' ' || b == '\t') d->qp_ws = (char) b;
      else qp_hex(d, b);
      i++;
      continue;
    }
    /* a run of literal octets is written in pieces up to the soft line breaks (as qp_put would) */
    gsize j = i;
    while (j < len && qp_literal((guint8) data[j])) j++;
    while (i < j) {
      if (d->qp_col >= QP_MAX_COL) {
        out(d, "=\r\n", 3);
        d->qp_col = 0;
      }
      gsize n = MIN(j - i, (gsize) (QP_MAX_COL - d->qp_col));
      out(d, data + i, n);
      d->qp_col += (guint) n;
      i += n;
    }
  }
}

static void qp_line_end(MimeDowngrade *d, gboolean crlf)
{
  qp_flush_ws(d, TRUE);
  if (crlf) out(d, "\r\n", 2);
  d->qp_col = 0;
}

/* ---- header fields ----------------------------------------------------------------------------- */

/* Calls fn for each field of the header block (name without trailing blanks, the whole field with
 * its continuation lines and line ends); a line without a colon is a field with an empty name. */
typedef gboolean (*FieldFn)(MimeDowngrade *d, const char *name, gsize name_len, const char *field, gsize len,
                            gpointer user);

static void fields_each(MimeDowngrade *d, const GString *h, FieldFn fn, gpointer user)
{
  gsize p = 0;
  while (p < h->len) {
    gsize e = p;
    do { /* a field ends before a line that does not start with a blank */
      const char *nl = memchr(h->str + e, '\n', h->len - e);
      e = nl ? (gsize) (nl - h->str) + 1 : h->len;
    } while (e < h->len && (h->str[e] == ' ' || h->str[e] == '\t'));
    const char *colon = memchr(h->str + p, ':', e - p);
    gsize nlen = colon ? (gsize) (colon - (h->str + p)) : 0;
    while (nlen > 0 && (h->str[p + nlen - 1] == ' ' || h->str[p + nlen - 1] == '\t')) nlen--;
    if (!fn(d, h->str + p, nlen, h->str + p, e - p, user)) return;
    p = e;
  }
}

static gboolean name_is(const char *name, gsize len, const char *want)
{
  return len == strlen(want) && g_ascii_strncasecmp(name, want, len) == 0;
}

/* The value of a field (after the colon) unfolded into a new string. */
static char *field_value(const char *field, gsize len)
{
  const char *colon = memchr(field, ':', len);
  GString *v = g_string_sized_new(len);
  for (gsize i = colon ? (gsize) (colon - field) + 1 : len; i < len; i++)
    if (field[i] != '\r' && field[i] != '\n') g_string_append_c(v, field[i]);
  return g_string_free(v, FALSE);
}

typedef struct {
  char *content_type;  /* first Content-Type value */
  char *cte;           /* first Content-Transfer-Encoding value */
  gboolean mime_version;
} HeaderInfo;

static gboolean read_field(MimeDowngrade *d, const char *name, gsize nlen, const char *field, gsize len, gpointer user)
{
  HeaderInfo *hi = user;
  (void) d;
  if (!hi->content_type && name_is(name, nlen, "Content-Type")) hi->content_type = field_value(field, len);
  else if (!hi->cte && name_is(name, nlen, "Content-Transfer-Encoding")) hi->cte = field_value(field, len);
  else if (name_is(name, nlen, "MIME-Version")) hi->mime_version = TRUE;
  return TRUE;
}

/* Skips blanks and (nested) comments. */
static const char *skip_cfws(const char *p)
{
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (*p != '(') return p;
    int depth = 0;
    for (; *p; p++) {
      if (*p == '\\' && p[1]) p++;
      else if (*p == '(') depth++;
      else if (*p == ')' && --depth == 0) {
        p++;
        break;
      }
    }
  }
}

static gboolean tspecial(char c)
{
  return strchr("()<>@,;:\\\"/[]?=", c) != NULL || (guchar) c <= 0x20 || c == 0x7f;
}

/* A token at p, lower-cased into out (at most cap-1 octets kept); returns past it. */
static const char *token(const char *p, char *outp, gsize cap)
{
  gsize n = 0;
  p = skip_cfws(p);
  for (; *p && !tspecial(*p); p++)
    if (n + 1 < cap) outp[n++] = g_ascii_tolower(*p);
  outp[n] = '\0';
  return skip_cfws(p);
}

/* type/subtype lower-cased; the boundary parameter (raw, unquoted) into boundary (empty when none
 * or longer than 70 octets). */
static void content_type_parse(const char *v, char type[32], char subtype[64], char boundary[71])
{
  type[0] = subtype[0] = boundary[0] = '\0';
  if (!v) return;
  const char *p = token(v, type, 32);
  if (*p != '/') {
    type[0] = '\0';
    return;
  }
  p = token(p + 1, subtype, 64);
  while (*p == ';') {
    char name[32];
    p = token(p + 1, name, sizeof name);
    if (*p != '=') continue;
    p = skip_cfws(p + 1);
    GString *val = g_string_new(NULL);
    if (*p == '"') {
      for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) p++;
        g_string_append_c(val, *p);
      }
      if (*p == '"') p++;
    } else {
      for (; *p && !tspecial(*p); p++) g_string_append_c(val, *p);
    }
    if (strcmp(name, "boundary") == 0 && !boundary[0] && val->len >= 1 && val->len <= 70)
      memcpy(boundary, val->str, val->len + 1);
    g_string_free(val, TRUE);
    p = skip_cfws(p);
    while (*p && *p != ';') p++; /* whatever follows a malformed value */
  }
}

static Cte cte_parse(const char *v)
{
  if (!v) return CTE_NONE;
  char t[32];
  token(v, t, sizeof t);
  if (strcmp(t, "7bit") == 0) return CTE_7BIT;
  if (strcmp(t, "8bit") == 0) return CTE_8BIT;
  if (strcmp(t, "binary") == 0) return CTE_BINARY;
  if (strcmp(t, "quoted-printable") == 0) return CTE_QP;
  if (strcmp(t, "base64") == 0) return CTE_BASE64;
  return CTE_OTHER;
}

/* Writes every field but Content-Transfer-Encoding. */
static gboolean copy_field(MimeDowngrade *d, const char *name, gsize nlen, const char *field, gsize len, gpointer user)
{
  (void) user;
  if (!name_is(name, nlen, "Content-Transfer-Encoding")) out(d, field, len);
  return TRUE;
}

/* ---- entities ---------------------------------------------------------------------------------- */

static Entity *top(MimeDowngrade *d)
{
  g_assert(d->depth > 0);
  return &d->stack[d->depth - 1];
}

static int entity_push(MimeDowngrade *d)
{
  if (d->depth == MIME_DOWNGRADE_MAX_DEPTH)
    return fail(d, "MIME parts nested over %d deep", MIME_DOWNGRADE_MAX_DEPTH);
  if (d->next_ordinal == MIME_DOWNGRADE_MAX_ENTITIES)
    return fail(d, "more than %d MIME parts", MIME_DOWNGRADE_MAX_ENTITIES);
  Entity *parent = d->depth ? top(d) : NULL;
  Entity *e = &d->stack[d->depth++];
  memset(e, 0, sizeof *e);
  e->ordinal = d->next_ordinal++;
  e->sealed = parent && parent->sealed;
  d->state = ST_HEADER;
  g_string_truncate(d->header, 0);
  return 0;
}

static gboolean composite_8bit(const Entity *e)
{
  return (e->kind == KIND_MULTIPART || e->kind == KIND_MESSAGE) && (e->cte == CTE_8BIT || e->cte == CTE_BINARY);
}

/* The entity on top of the stack ends. */
static void entity_pop(MimeDowngrade *d)
{
  Entity *e = top(d);
  if (!d->writing) {
    if (e->kind == KIND_LEAF && (d->utf8_bad || d->utf8_need)) bit_set(d->bad_utf8, e->ordinal);
    if (composite_8bit(e) && !e->dirty && !e->sealed) {
      bit_set(d->relabel, e->ordinal);
      d->sum.relabelled++;
    }
  }
  d->depth--;
  if (e->dirty && d->depth) top(d)->dirty = TRUE;
}

/* A delimiter line of an open multipart: its stack index and whether it closes, or -1. */
static int boundary_match(MimeDowngrade *d, const char *s, gsize len, gboolean *close)
{
  if (len < 3 || s[0] != '-' || s[1] != '-') return -1;
  for (int i = (int) d->depth - 1; i >= 0; i--) {
    const Entity *e = &d->stack[i];
    if (e->kind != KIND_MULTIPART || e->closed || len < 2 + e->blen || memcmp(s + 2, e->boundary, e->blen) != 0)
      continue;
    gsize p = 2 + e->blen;
    *close = p + 2 <= len && s[p] == '-' && s[p + 1] == '-';
    if (*close) p += 2;
    while (p < len && (s[p] == ' ' || s[p] == '\t')) p++;
    if (p == len) return i;
  }
  return -1;
}

/* The header block is complete (blank is its blank line with its line end, NULL when there was
 * none: the entity ends here). Decides what the entity is and writes its header. */
static int header_end(MimeDowngrade *d, const char *blank, gsize blank_len)
{
  Entity *e = top(d);
  Entity *parent = d->depth > 1 ? &d->stack[d->depth - 2] : NULL;
  HeaderInfo hi = {0};
  fields_each(d, d->header, read_field, &hi);
  char type[32], subtype[64], boundary[71];
  content_type_parse(hi.content_type, type, subtype, boundary);
  e->has_type = hi.content_type != NULL;
  e->cte = cte_parse(hi.cte);
  if (!e->has_type && parent && parent->digest) {
    strcpy(type, "message");
    strcpy(subtype, "rfc822");
  }
  g_free(hi.content_type);
  g_free(hi.cte);

  e->kind = KIND_LEAF;
  if (!blank) {
    e->opaque = TRUE; /* no body */
  } else if (strcmp(type, "multipart") == 0) {
    if (boundary[0]) {
      e->kind = KIND_MULTIPART;
      e->blen = strlen(boundary);
      memcpy(e->boundary, boundary, e->blen + 1);
      e->digest = strcmp(subtype, "digest") == 0;
      e->sealed |= strcmp(subtype, "signed") == 0 || strcmp(subtype, "encrypted") == 0;
    } else {
      e->opaque = TRUE; /* a multipart without a usable boundary: never touched */
    }
  } else if (strcmp(type, "message") == 0) {
    /* message/rfc822 may only be 7bit, 8bit or binary (RFC 2046 5.2.1): walked into; anything
     * else (message/global, partial, external-body, a wrongly encoded rfc822) stays as it is */
    if (strcmp(subtype, "rfc822") == 0 && e->cte != CTE_QP && e->cte != CTE_BASE64 && e->cte != CTE_OTHER)
      e->kind = KIND_MESSAGE;
    else
      e->opaque = TRUE;
  } else if (e->cte == CTE_QP || e->cte == CTE_BASE64 || e->cte == CTE_OTHER) {
    e->opaque = TRUE;
  }

  /* octets in the header block itself stay (8-bit field values need SMTPUTF8) */
  if (!d->writing) {
    gsize run = 0;
    for (gsize i = 0; i < d->header->len; i++) {
      guchar c = (guchar) d->header->str[i];
      if (c == '\n') {
        run = 0;
        continue;
      }
      if (c != '\r' && ++run > MIME_DOWNGRADE_MAX_LINE) {
        d->sum.left_long_line = TRUE;
        e->dirty = TRUE;
      }
      if (c >= 0x80) {
        d->sum.left_8bit = TRUE;
        e->dirty = TRUE;
      }
    }
  }

  if (d->writing) {
    gboolean encode = e->kind == KIND_LEAF && bit_get(d->needs, e->ordinal);
    gboolean relabel = composite_8bit(e) && bit_get(d->relabel, e->ordinal);
    if (encode || relabel) {
      fields_each(d, d->header, copy_field, NULL);
      if (encode && !e->has_type) {
        const char *cs = bit_get(d->bad_utf8, e->ordinal) ? "unknown-8bit" : "utf-8";
        out(d, "Content-Type: text/plain; charset=", 34);
        out(d, cs, strlen(cs));
        out(d, "\r\n", 2);
      }
      if (encode && e->ordinal == 0 && !hi.mime_version) out(d, "MIME-Version: 1.0\r\n", 19);
      const char *line = encode ? "Content-Transfer-Encoding: quoted-printable\r\n" : "Content-Transfer-Encoding: 7bit\r\n";
      out(d, line, strlen(line));
      e->encoding = encode;
      if (encode) d->sum.to_encode++;
      else d->sum.relabelled++;
    } else {
      out(d, d->header->str, d->header->len);
    }
    if (blank) out(d, blank, blank_len);
  }
  g_string_truncate(d->header, 0);
  d->state = ST_BODY;
  d->body_line_len = 0;
  d->body_line_8bit = FALSE;
  d->utf8_need = 0;
  d->utf8_bad = FALSE;
  d->qp_col = 0;
  d->qp_ws = 0;
  if (e->kind == KIND_MESSAGE) return entity_push(d); /* the embedded message's header follows */
  return 0;
}

static int header_append(MimeDowngrade *d, const char *data, gsize len)
{
  if (d->header->len + len > MIME_DOWNGRADE_MAX_HEADER)
    return fail(d, "a MIME header block is over %d octets", MIME_DOWNGRADE_MAX_HEADER);
  g_string_append_len(d->header, data, (gssize) len);
  return 0;
}

/* ---- body lines -------------------------------------------------------------------------------- */

static void utf8_check(MimeDowngrade *d, guint8 b)
{
  if (d->utf8_need) {
    if ((b & 0xC0) == 0x80) {
      d->utf8_need--;
      return;
    }
    d->utf8_bad = TRUE;
    d->utf8_need = 0;
  }
  if (b < 0x80) return;
  if (b >= 0xC2 && b <= 0xDF) d->utf8_need = 1;
  else if (b >= 0xE0 && b <= 0xEF) d->utf8_need = 2;
  else if (b >= 0xF0 && b <= 0xF4) d->utf8_need = 3;
  else d->utf8_bad = TRUE;
}

static void body_bytes(MimeDowngrade *d, const char *data, gsize len)
{
  Entity *e = top(d);
  if (d->writing) {
    if (e->encoding) qp_bytes(d, data, len);
    else out(d, data, len);
    return;
  }
  d->body_line_len += len;
  for (gsize i = 0; i < len; i++) {
    guint8 b = (guint8) data[i];
    if (b < 0x80 && !d->utf8_need) continue; /* the common case: ASCII, no sequence open */
    if (b >= 0x80) d->body_line_8bit = TRUE;
    if (e->kind == KIND_LEAF) utf8_check(d, b);
  }
}

/* The current body line ends with eol (empty at the end of the input). */
static int body_line_end(MimeDowngrade *d, const char *eol, gsize eol_len)
{
  Entity *e = top(d);
  if (d->writing) {
    if (e->encoding) qp_line_end(d, eol_len > 0);
    else out(d, eol, eol_len);
    return 0;
  }
  if (e->kind == KIND_LEAF && d->utf8_need) { /* a sequence cut by the line end */
    d->utf8_bad = TRUE;
    d->utf8_need = 0;
  }
  gboolean is_long = d->body_line_len > MIME_DOWNGRADE_MAX_LINE;
  if ((d->body_line_8bit || is_long) && e->kind == KIND_LEAF && !e->opaque) {
    if (e->sealed)
      return fail(d, "a part inside multipart/signed or multipart/encrypted holds %s; re-encoding it would break "
                     "its signature (sign 7-bit content: RFC 1847 section 2.1)",
                  is_long ? "a line over 998 octets" : "8-bit octets");
    if (!bit_get(d->needs, e->ordinal)) {
      bit_set(d->needs, e->ordinal);
      d->sum.to_encode++;
    }
  } else if (d->body_line_8bit || is_long) {
    e->dirty = TRUE;
    d->sum.left_8bit |= d->body_line_8bit;
    d->sum.left_long_line |= is_long;
  }
  d->body_line_len = 0;
  d->body_line_8bit = FALSE;
  return 0;
}

/* A delimiter line of the multipart at stack index k: every entity above it ends. */
static int boundary_line(MimeDowngrade *d, int k, gboolean close, const char *s, gsize len, const char *eol,
                         gsize eol_len)
{
  while ((int) d->depth > k + 1) entity_pop(d);
  out(d, s, len);
  out(d, eol, eol_len);
  if (close) {
    d->stack[k].closed = TRUE;
    d->state = ST_BODY; /* the epilogue */
    d->body_line_len = 0;
    d->body_line_8bit = FALSE;
    return 0;
  }
  return entity_push(d);
}

/* ---- lines ------------------------------------------------------------------------------------- */

/* A whole line of at most LINE_HEAD octets (without its line end). */
static int line_whole(MimeDowngrade *d, const char *s, gsize len, const char *eol, gsize eol_len)
{
  gboolean close = FALSE;
  int k = boundary_match(d, s, len, &close);
  if (d->state == ST_HEADER) {
    if (k >= 0) { /* a part that ends before its blank line: a header and no body */
      if (header_end(d, NULL, 0) < 0) return -1;
      return boundary_line(d, k, close, s, len, eol, eol_len);
    }
    if (len == 0 && eol_len > 0) return header_end(d, eol, eol_len);
    if (header_append(d, s, len) < 0) return -1;
    return header_append(d, eol, eol_len);
  }
  if (k >= 0) return boundary_line(d, k, close, s, len, eol, eol_len);
  body_bytes(d, s, len);
  return body_line_end(d, eol, eol_len);
}

/* A piece of a line longer than LINE_HEAD (never a delimiter line). */
static int line_piece(MimeDowngrade *d, const char *s, gsize len)
{
  if (d->state == ST_HEADER) return header_append(d, s, len);
  body_bytes(d, s, len);
  return 0;
}

static int line_long_end(MimeDowngrade *d, const char *eol, gsize eol_len)
{
  d->line_long = FALSE;
  if (d->state == ST_HEADER) return header_append(d, eol, eol_len);
  return body_line_end(d, eol, eol_len);
}

int mime_downgrade_feed(MimeDowngrade *d, const char *data, gsize len, GError **error)
{
  g_assert(d != NULL);
  while (len > 0 && !d->error) {
    if (!d->line_long) {
      gsize room = LINE_HEAD - d->line_len;
      const char *nl = memchr(data, '\n', MIN(len, room));
      gsize take = nl ? (gsize) (nl - data) + 1 : MIN(len, room);
      memcpy(d->line + d->line_len, data, take);
      d->line_len += take;
      data += take;
      len -= take;
      if (nl) {
        gsize n = d->line_len - 1;
        gboolean cr = n > 0 && d->line[n - 1] == '\r';
        d->line_len = 0;
        line_whole(d, d->line, cr ? n - 1 : n, cr ? "\r\n" : "\n", cr ? 2 : 1);
      } else if (d->line_len == LINE_HEAD) {
        gsize give = LINE_HEAD;
        if (d->line[give - 1] == '\r') {
          give--;
          d->pending_cr = TRUE;
        }
        d->line_len = 0;
        d->line_long = TRUE;
        line_piece(d, d->line, give);
      }
      continue;
    }
    if (d->pending_cr) {
      d->pending_cr = FALSE;
      if (data[0] == '\n') {
        line_long_end(d, "\r\n", 2);
        data++;
        len--;
        continue;
      }
      line_piece(d, "\r", 1);
    }
    const char *nl = memchr(data, '\n', len);
    if (nl) {
      gsize n = (gsize) (nl - data);
      gboolean cr = n > 0 && data[n - 1] == '\r';
      line_piece(d, data, cr ? n - 1 : n);
      line_long_end(d, cr ? "\r\n" : "\n", cr ? 2 : 1);
      len -= n + 1;
      data = nl + 1;
    } else {
      gsize give = len;
      if (data[len - 1] == '\r') {
        give--;
        d->pending_cr = TRUE;
      }
      line_piece(d, data, give);
      len = 0;
    }
  }
  if (d->error) {
    if (error) *error = g_error_copy(d->error);
    return -1;
  }
  return 0;
}

int mime_downgrade_end(MimeDowngrade *d, MimeDowngradeSummary *sum, GError **error)
{
  g_assert(d != NULL);
  if (!d->error) {
    if (d->line_long) {
      if (d->pending_cr) line_piece(d, "\r", 1);
      d->pending_cr = FALSE;
      line_long_end(d, "", 0);
    } else if (d->line_len > 0) {
      gsize n = d->line_len;
      d->line_len = 0;
      line_whole(d, d->line, n, "", 0);
    }
  }
  if (!d->error && d->state == ST_HEADER && d->depth > 0) header_end(d, NULL, 0);
  while (!d->error && d->depth > 0) entity_pop(d);
  if (d->error) {
    if (error) *error = g_error_copy(d->error);
    return -1;
  }
  out_flush(d);
  d->sum.entities = d->next_ordinal;
  if (sum) *sum = d->sum;
  return 0;
}

static void pass_reset(MimeDowngrade *d)
{
  d->state = ST_HEADER;
  d->depth = 0;
  d->next_ordinal = 0;
  d->line_len = 0;
  d->line_long = d->pending_cr = FALSE;
  g_string_truncate(d->header, 0);
  g_string_truncate(d->out, 0);
  memset(&d->sum, 0, sizeof d->sum);
  entity_push(d); /* the message itself: never over a limit */
}

MimeDowngrade *mime_downgrade_new(void)
{
  MimeDowngrade *d = g_new0(MimeDowngrade, 1);
  d->header = g_string_new(NULL);
  d->out = g_string_new(NULL);
  pass_reset(d);
  return d;
}

void mime_downgrade_start_write(MimeDowngrade *d, MimeDowngradeOutput output, gpointer user)
{
  g_assert(d != NULL && !d->error && !d->writing);
  MimeDowngradeSummary scan = d->sum;
  pass_reset(d);
  d->writing = TRUE;
  d->output = output;
  d->user = user;
  /* what stays is known from the scan; the write pass counts what it does */
  d->sum.left_8bit = scan.left_8bit;
  d->sum.left_long_line = scan.left_long_line;
}

void mime_downgrade_free(MimeDowngrade *d)
{
  if (!d) return;
  g_string_free(d->header, TRUE);
  g_string_free(d->out, TRUE);
  g_clear_error(&d->error);
  g_free(d);
}

static void to_array(const char *data, gsize len, gpointer user)
{
  g_byte_array_append(user, (const guint8 *) data, (guint) len);
}

static int feed_all(MimeDowngrade *d, const char *data, gsize len, gsize chunk, GError **error)
{
  for (gsize off = 0; off < len; off += chunk)
    if (mime_downgrade_feed(d, data + off, MIN(chunk, len - off), error) < 0) return -1;
  return 0;
}

int mime_downgrade_bytes(const char *data, gsize len, gsize chunk, GByteArray **out_r, MimeDowngradeSummary *summary,
                         GError **error)
{
  *out_r = NULL;
  if (chunk == 0) chunk = 64 * 1024;
  MimeDowngrade *d = mime_downgrade_new();
  MimeDowngradeSummary sum;
  int rc = feed_all(d, data, len, chunk, error) == 0 && mime_downgrade_end(d, &sum, error) == 0 ? 0 : -1;
  if (rc == 0 && sum.to_encode > 0) {
    GByteArray *conv = g_byte_array_sized_new((guint) MIN(len + len / 4 + 1024, G_MAXUINT));
    mime_downgrade_start_write(d, to_array, conv);
    if (feed_all(d, data, len, chunk, error) == 0 && mime_downgrade_end(d, &sum, error) == 0) {
      *out_r = conv;
      rc = 1;
    } else {
      g_byte_array_unref(conv);
      rc = -1;
    }
  }
  if (rc >= 0 && summary) *summary = sum;
  mime_downgrade_free(d);
  return rc;
}
