/* mime_body.c - walks a parsed MIME tree: inline text/plain parts become the text body (one
 * that carries a file name is an attachment as well; an invalid Content-Type is text/plain), the
 * first inline text/html the HTML body (one of each per multipart/alternative), everything else
 * an MaAttachment (name, type, content-id, inline flag, decoded size, sha256, and its content: a
 * reference into the caller's buffer or mapped file, in_raw, when it lies there, else the decoded data). Attached
 * messages (message/rfc822) are recorded with their raw bytes, sliced from the parse buffer, and
 * never re-serialised. The text and the HTML body are each cut at limits->max_text before their
 * charset conversion, so a huge text part costs the cap, not its size. Content in identity encodings is read straight from the parse buffer;
 * base64/quoted-printable is decoded once. Recursion is bounded by limits->max_depth (+2 slack;
 * the pre-scan already cut deeper input).
 */
#include "mime_gmime.h"

#include <string.h>

#include "agent/lib/crypto.h"

typedef struct {
  gboolean text_done;
  gboolean html_done;
} AltState;

typedef struct {
  MimeSource *src;
  MimeBody *b;
  GMimeObject *root;
} Walk;

void mime_body_init(MimeBody *b)
{
  memset(b, 0, sizeof *b);
  b->text = g_string_new(NULL);
  b->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)ma_attachment_free);
}

void mime_body_clear(MimeBody *b)
{
  if (b->text) g_string_free(b->text, TRUE);
  g_free(b->html);
  if (b->attachments) g_ptr_array_unref(b->attachments);
  memset(b, 0, sizeof *b);
}

/* The slice of the parse buffer a GMime stream covers, when it is one of ours: a substream of the
 * memory view, or of the mapped file GMime read through its descriptor. */
static gboolean stream_slice(MimeSource *src, GMimeStream *st, const char **data, gsize *len)
{
  if (!st) return FALSE;
  if (src->fd >= 0) {
    if (!GMIME_IS_STREAM_FS(st) || GMIME_STREAM_FS(st)->fd != src->fd) return FALSE;
  } else if (!GMIME_IS_STREAM_MEM(st) || g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(st)) != src->array) {
    return FALSE;
  }
  gint64 start = st->bound_start, end = st->bound_end;
  if (end < 0 || (guint64)end > src->len) end = (gint64)src->len;
  if (start < 0 || start > end) return FALSE;
  *data = src->buf + start;
  *len = (gsize)(end - start);
  return TRUE;
}

#define BASE64_PIECE (1024 * 1024)

/* data, a slice of src->buf, counts base64 characters in a number that is no multiple of 4. A
 * slice of a mapped input is given back behind the count (raw.h). */
static gboolean base64_truncated(const MimeSource *src, const char *data, gsize len)
{
  gsize n = 0;
  for (gsize from = 0; from < len; from += BASE64_PIECE) {
    gsize upto = MIN(len, from + BASE64_PIECE);
    for (gsize i = from; i < upto; i++) {
      char c = data[i];
      if (g_ascii_isalnum(c) || c == '+' || c == '/' || c == '=') n++;
    }
    if (src->input) ma_raw_release(src->input, (gsize)(data - src->buf) + from, upto - from);
  }
  return n % 4 != 0;
}

/* Decoded content of a leaf. *borrowed is TRUE when the bytes point into the parse buffer (valid
 * only during the parse). */
static GBytes *part_content(Walk *w, GMimePart *part, gboolean *borrowed)
{
  *borrowed = FALSE;
  GMimeDataWrapper *dw = g_mime_part_get_content(part);
  if (!dw) return g_bytes_new(NULL, 0);
  GMimeStream *st = g_mime_data_wrapper_get_stream(dw);
  GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(dw);
  const char *data;
  gsize len;
  gboolean sliced = stream_slice(w->src, st, &data, &len);
  if (sliced && (enc == GMIME_CONTENT_ENCODING_DEFAULT || enc == GMIME_CONTENT_ENCODING_7BIT ||
                 enc == GMIME_CONTENT_ENCODING_8BIT || enc == GMIME_CONTENT_ENCODING_BINARY)) {
    *borrowed = TRUE;
    return g_bytes_new_static(data, len);
  }
  if (sliced && enc == GMIME_CONTENT_ENCODING_BASE64 && base64_truncated(w->src, data, len))
    mime_warn(w->src->warnings, "truncated base64 content: decoded what was there");
  GMimeStream *out = g_mime_stream_mem_new();
  g_mime_data_wrapper_write_to_stream(dw, out);
  GByteArray *arr = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
  g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(out), FALSE);
  g_object_unref(out);
  return g_byte_array_free_to_bytes(arr);
}

/* In place: CRLF and lone CR become LF (text bodies are handed out with LF line ends). */
static void text_lf(char *s)
{
  char *cr = strchr(s, '\r');
  if (!cr) return; /* LF already: nothing to move */
  cr[ma_text_lf(cr, strlen(cr), cr)] = '\0';
}

/* Before a non-empty text part is appended to b->text: the text stays one verbatim slice of the
 * input (offset, len: its undecoded bytes) only while that slice is all it holds. */
static void text_note_part(MimeBody *b, gboolean verbatim, gsize offset, gsize len)
{
  gboolean first = b->text->len == 0 && b->text_raw_length == 0;
  if (first && verbatim && len > 0) {
    b->text_raw_offset = offset;
    b->text_raw_length = len;
  } else {
    b->text_raw_offset = b->text_raw_length = 0;
  }
}

/* RFC 3676 format=flowed (LF line ends): a line ending in a space continues on the next one
 * (with delsp=yes that space goes), a leading space-stuffing space is removed, and the
 * signature separator "-- " stays a line of its own. In place: the result is never longer. */
static void text_unflow(char *s, gboolean delsp)
{
  char *o = s;
  const char *p = s;
  while (*p) {
    const char *nl = strchr(p, '\n');
    gsize len = nl ? (gsize)(nl - p) : strlen(p);
    const char *line = p;
    if (len > 0 && line[0] == ' ') { /* space-stuffed */
      line++;
      len--;
    }
    gboolean sig = len == 3 && memcmp(line, "-- ", 3) == 0;
    gboolean soft = nl && !sig && len > 0 && line[len - 1] == ' ' && line[0] != '>';
    gsize keep = soft && delsp ? len - 1 : len;
    memmove(o, line, keep);
    o += keep;
    if (nl && !soft) *o++ = '\n';
    if (!nl) break;
    p = nl + 1;
  }
  *o = '\0';
}

/* The longest prefix of s[0..len) of at most max bytes that does not end inside a UTF-8 sequence
 * (input in another charset may lose one character at the cut, as a U+FFFD). */
static gsize utf8_cut(const char *s, gsize len, gsize max)
{
  if (len <= max) return len;
  gsize n = max;
  while (n > 0 && n > max - 4 && ((guchar)s[n] & 0xc0) == 0x80) n--;
  return n;
}

static void warn_cut(Walk *w)
{
  mime_warn(w->src->warnings, "a text or HTML body over the size limit: cut there (the raw message keeps all of it)");
}

/* The room left for a text part under limits->max_text, warning (once) when want does not fit. */
static gsize text_room(Walk *w, gsize used, gsize want)
{
  gsize cap = w->src->limits->max_text;
  gsize room = used < cap ? cap - used : 0;
  if (want > room) warn_cut(w);
  return room;
}

/* RFC 2045 section 5.2: a Content-Type that is present but not "type/subtype" ("text", garbage)
 * means text/plain. GMime reads it as application/octet-stream, which would make the text an
 * attachment. */
static gboolean invalid_type_is_text(GMimeObject *obj)
{
  const char *value = g_mime_object_get_header(obj, "Content-Type");
  return value && !mime_content_type_valid(value);
}

static char *lower_type(GMimeObject *obj)
{
  if (invalid_type_is_text(obj)) return g_strdup("text/plain");
  GMimeContentType *ct = g_mime_object_get_content_type(obj);
  const char *t = ct ? g_mime_content_type_get_media_type(ct) : NULL;
  const char *s = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
  char *full = g_strdup_printf("%s/%s", t && *t ? t : "application", s && *s ? s : "octet-stream");
  char *lower = g_ascii_strdown(full, -1);
  g_free(full);
  return lower;
}

static char *clean_filename(const char *name)
{
  if (!name || !*name) return NULL;
  char *v = g_utf8_validate(name, -1, NULL) ? g_strdup(name) : g_utf8_make_valid(name, -1);
  for (char *p = v; *p; p++)
    if ((guchar)*p < 0x20) *p = ' ';
  g_strstrip(v);
  if (!*v) {
    g_free(v);
    return NULL;
  }
  return v;
}

static MaAttachment *attachment_new(GMimeObject *obj, gboolean in_related)
{
  MaAttachment *a = ma_attachment_new();
  a->content_type = lower_type(obj);
  const char *cid = g_mime_object_get_content_id(obj);
  a->content_id = cid && *cid ? g_strdup(cid) : NULL;
  const char *disp = g_mime_object_get_disposition(obj);
  a->is_inline = (disp && g_ascii_strcasecmp(disp, "inline") == 0) || (in_related && a->content_id);
  return a;
}

/* borrowed: bytes point into the parse buffer and must be copied to outlive the parse. */
static void attachment_set_data(MaAttachment *a, GBytes *bytes, gboolean borrowed)
{
  gsize len;
  const void *data = g_bytes_get_data(bytes, &len);
  a->size = len;
  ma_sha256_hex(data ? data : "", len, a->sha256);
  a->data = borrowed ? g_bytes_new(data, len) : g_bytes_ref(bytes);
}

/* Content that lies in the caller's buffer as is, base64 or quoted-printable: the attachment
 * refers to it (in_raw) and is hashed and measured by decoding it in pieces, never held whole.
 * FALSE when it must be decoded into memory (a repaired copy, a re-parse, another encoding). */
static gboolean attachment_refer(Walk *w, MaAttachment *a, const char *data, gsize len, GMimeContentEncoding enc)
{
  if (!w->src->input || data < w->src->buf || data + len > w->src->buf + w->src->len) return FALSE;
  if (enc != GMIME_CONTENT_ENCODING_DEFAULT && enc != GMIME_CONTENT_ENCODING_7BIT && enc != GMIME_CONTENT_ENCODING_8BIT &&
      enc != GMIME_CONTENT_ENCODING_BINARY && enc != GMIME_CONTENT_ENCODING_BASE64 &&
      enc != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE)
    return FALSE;
  a->in_raw = TRUE;
  a->raw_offset = (gsize)(data - w->src->buf);
  a->raw_length = len;
  a->raw_encoding = (int) enc;
  MimeContentReader *r = mime_content_reader_new(w->src->input, a);
  MaSha256 *h = ma_sha256_new();
  guint8 buf[16 * 1024];
  gssize n;
  a->size = 0;
  while ((n = mime_content_reader_read(r, buf, sizeof buf, NULL)) > 0) {
    ma_sha256_update(h, buf, (gsize) n);
    a->size += (gsize) n;
  }
  ma_sha256_finish(h, a->sha256);
  mime_content_reader_free(r);
  return TRUE;
}

/* The raw bytes of an attached message: from its first header to the parent's next boundary. */
static void message_part_raw(Walk *w, GMimeObject *parent, GMimeMessage *inner, const char **data, gsize *len)
{
  *data = NULL;
  *len = 0;
  if (!inner) return;
  GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(inner));
  if (!hl || g_mime_header_list_get_count(hl) == 0) return;
  gint64 start = g_mime_header_get_offset(g_mime_header_list_get_header_at(hl, 0));
  if (start < 0 || (guint64)start >= w->src->len) return;
  gsize end = w->src->len;
  const char *boundary = parent && GMIME_IS_MULTIPART(parent)
                             ? g_mime_object_get_content_type_parameter(parent, "boundary") : NULL;
  if (boundary && *boundary) {
    char *needle = g_strconcat("\n--", boundary, NULL);
    const char *hit = g_strstr_len(w->src->buf + start, (gssize)(w->src->len - (gsize)start), needle);
    if (hit) {
      end = (gsize)(hit - w->src->buf) + 1; /* keep the last line's line end */
    }
    g_free(needle);
  }
  *data = w->src->buf + start;
  *len = end - (gsize)start;
}

static void add_message_part(Walk *w, GMimeObject *obj, GMimeObject *parent, guint depth, gboolean in_related)
{
  GMimeMessagePart *mp = GMIME_MESSAGE_PART(obj);
  GMimeMessage *inner = g_mime_message_part_get_message(mp);
  MaAttachment *a = attachment_new(obj, in_related);
  const char *fn = g_mime_object_get_content_disposition_parameter(obj, "filename");
  if (!fn) fn = g_mime_object_get_content_type_parameter(obj, "name");
  a->filename = clean_filename(fn);
  if (!a->filename && inner) {
    const char *subj = g_mime_message_get_subject(inner);
    char *s = clean_filename(subj);
    a->filename = g_strconcat(s ? s : "message", ".eml", NULL);
    g_free(s);
  }
  const char *data;
  gsize len;
  message_part_raw(w, parent, inner, &data, &len);
  if (!data || !attachment_refer(w, a, data, len, GMIME_CONTENT_ENCODING_BINARY)) {
    GBytes *bytes = g_bytes_new_static(data ? data : "", len);
    attachment_set_data(a, bytes, TRUE);
    g_bytes_unref(bytes);
  }
  g_ptr_array_add(w->b->attachments, a);
  if (!w->src->reparsed && depth <= 1 && (parent == NULL || parent == w->root)) {
    w->b->rfc822_count++;
    w->b->rfc822 = mp;
  }
}

static void add_leaf(Walk *w, GMimeObject *obj, AltState *alt, gboolean in_related)
{
  GMimePart *part = GMIME_PART(obj);
  GMimeContentType *ct = g_mime_object_get_content_type(obj);
  const char *disp = g_mime_object_get_disposition(obj);
  gboolean attached = disp && g_ascii_strcasecmp(disp, "attachment") == 0;
  const char *fn = g_mime_part_get_filename(part);
  gboolean named = fn && *fn;
  gboolean is_text = (ct && g_mime_content_type_is_type(ct, "text", "plain")) || invalid_type_is_text(obj);
  gboolean is_html = !is_text && ct && g_mime_content_type_is_type(ct, "text", "html");
  /* inline text/plain with a file name (gateways' "deliveryproblems.txt"): body text as well as
   * an attachment */
  gboolean text_too = is_text && !attached && named && !(alt && alt->text_done);
  if (((is_text || is_html) && !attached && !named) || text_too) {
    if (is_text && alt && alt->text_done) return;
    if (is_html && (w->b->html || (alt && alt->html_done))) {
      if (alt) return; /* another alternative of the same content */
      goto attachment;
    }
    if (is_text && (w->b->text_cut || w->b->text->len >= w->src->limits->max_text)) {
      warn_cut(w); /* the body is full: this part is not read */
      if (text_too) goto attachment;
      return;
    }
    gboolean borrowed;
    GBytes *bytes = part_content(w, part, &borrowed);
    gsize len;
    const char *data = g_bytes_get_data(bytes, &len);
    /* only what can fit is converted: a part over the cap costs the cap, not its size */
    gsize room = text_room(w, is_text ? w->b->text->len : 0, len);
    if (is_text && len > room) w->b->text_cut = TRUE;
    gsize convert = utf8_cut(data, len, room);
    char *utf8 = mime_charset_to_utf8(data, convert, g_mime_object_get_content_type_parameter(obj, "charset"));
    gsize ulen = strlen(utf8);
    if (ulen > room) { /* a charset that grew in UTF-8 */
      utf8[utf8_cut(utf8, ulen, room)] = '\0';
      if (is_text) w->b->text_cut = TRUE;
      warn_cut(w);
    }
    /* the conversion gave the input's bytes back unchanged: only the line ends will differ */
    gboolean verbatim = borrowed && w->src->input && convert == len && ulen == len && memcmp(utf8, data, len) == 0;
    gsize offset = borrowed ? (gsize)(data - w->src->buf) : 0;
    g_bytes_unref(bytes);
    if (is_text) {
      text_lf(utf8);
      const char *format = g_mime_object_get_content_type_parameter(obj, "format");
      if (format && g_ascii_strcasecmp(format, "flowed") == 0) {
        const char *delsp = g_mime_object_get_content_type_parameter(obj, "delsp");
        text_unflow(utf8, delsp && g_ascii_strcasecmp(delsp, "yes") == 0);
        verbatim = FALSE;
      }
      if (utf8[0]) text_note_part(w->b, verbatim, offset, len);
      if (w->b->text->len > 0 && utf8[0]) g_string_append_c(w->b->text, '\n');
      g_string_append(w->b->text, utf8);
      if (w->b->text->len > w->src->limits->max_text) { /* the separator: keep the cap exact */
        g_string_truncate(w->b->text, utf8_cut(w->b->text->str, w->b->text->len, w->src->limits->max_text));
        w->b->text_cut = TRUE;
        warn_cut(w);
      }
      g_free(utf8);
      w->b->have_plain = TRUE;
      if (alt) alt->text_done = TRUE;
      if (text_too) goto attachment;
    } else {
      w->b->html = utf8;
      if (alt) alt->html_done = TRUE;
    }
    return;
  }
attachment:;
  MaAttachment *a = attachment_new(obj, in_related);
  a->filename = clean_filename(fn);
  GMimeDataWrapper *dw = g_mime_part_get_content(part);
  const char *data;
  gsize len;
  GMimeContentEncoding enc = dw ? g_mime_data_wrapper_get_encoding(dw) : GMIME_CONTENT_ENCODING_DEFAULT;
  if (dw && stream_slice(w->src, g_mime_data_wrapper_get_stream(dw), &data, &len) &&
      attachment_refer(w, a, data, len, enc)) {
    if (enc == GMIME_CONTENT_ENCODING_BASE64 && base64_truncated(w->src, data, len))
      mime_warn(w->src->warnings, "truncated base64 content: decoded what was there");
  } else {
    gboolean borrowed;
    GBytes *bytes = part_content(w, part, &borrowed);
    attachment_set_data(a, bytes, borrowed);
    g_bytes_unref(bytes);
  }
  g_ptr_array_add(w->b->attachments, a);
}

static void walk_object(Walk *w, GMimeObject *obj, GMimeObject *parent, guint depth, AltState *alt,
                        gboolean in_related);

/* The boundary of the first "--token" line of a multipart's unparsed content, or NULL. */
static char *guess_boundary(const char *content)
{
  const char *p = content;
  for (int lines = 0; *p && lines < 200; lines++) {
    const char *nl = strchr(p, '\n');
    gsize len = nl ? (gsize)(nl - p) : strlen(p);
    while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    if (len >= 3 && len <= 72 && p[0] == '-' && p[1] == '-') {
      gboolean ok = TRUE;
      for (gsize i = 2; i < len && ok; i++)
        if ((guchar)p[i] <= 0x20 || (guchar)p[i] >= 0x7f || p[i] == '"' || p[i] == '\\') ok = FALSE;
      if (ok) return g_strndup(p + 2, len - 2);
    }
    if (!nl) break;
    p = nl + 1;
  }
  return NULL;
}

/* A multipart whose boundary parameter is missing: GMime found no parts and kept everything as
 * the preamble. Re-parse that content once with the boundary its first delimiter line shows,
 * after the same pre-scan under the depth that is left. TRUE when parts were found and walked. */
static gboolean reparse_guessed(Walk *w, GMimeObject *obj, const char *content, guint depth, AltState *alt,
                                gboolean in_related)
{
  if (w->src->reparsed || depth >= w->src->limits->max_depth) return FALSE;
  if (g_mime_object_get_content_type_parameter(obj, "boundary")) return FALSE;
  char *boundary = guess_boundary(content);
  if (!boundary) return FALSE;
  GMimeContentType *ct = g_mime_object_get_content_type(obj);
  const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
  char *buf = g_strdup_printf("Content-Type: multipart/%s; boundary=\"%s\"\n\n%s", sub && *sub ? sub : "mixed",
                              boundary, content);
  g_free(boundary);
  MaMimeLimits lim = *w->src->limits;
  lim.max_depth -= depth;
  MimePrescan ps;
  gboolean walked = FALSE;
  if (mime_prescan(buf, strlen(buf), &lim, &ps, w->src->warnings, NULL) == 0) {
    GByteArray view = {(guint8 *)ps.data, (guint)ps.len};
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array(&view);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(stream), FALSE);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_persist_stream(parser, TRUE);
    GMimeObject *part = g_mime_parser_construct_part(parser, w->src->options);
    if (part && GMIME_IS_MULTIPART(part) && g_mime_multipart_get_count(GMIME_MULTIPART(part)) > 0) {
      MimeSource src = *w->src;
      src.buf = ps.data;
      src.len = ps.len;
      src.array = &view;
      src.reparsed = TRUE;
      src.fd = -1;
      src.input = NULL; /* the re-parse reads a copy */
      Walk w2 = {&src, w->b, w->root};
      walk_object(&w2, part, NULL, depth, alt, in_related);
      mime_warn(w->src->warnings, "multipart without boundary: parts read with the boundary of its first delimiter line");
      walked = TRUE;
    }
    if (part) g_object_unref(part);
    g_object_unref(parser);
    g_object_unref(stream);
    mime_prescan_clear(&ps);
  }
  g_free(buf);
  return walked;
}

static void walk_object(Walk *w, GMimeObject *obj, GMimeObject *parent, guint depth, AltState *alt,
                        gboolean in_related)
{
  if (depth > w->src->limits->max_depth + 2) {
    mime_warn(w->src->warnings, "nesting limit reached: parts nested deeper than the limit are not read");
    return;
  }
  if (GMIME_IS_MULTIPART(obj)) {
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    const char *sub = ct ? g_mime_content_type_get_media_subtype(ct) : NULL;
    AltState own = {FALSE, FALSE};
    AltState *child_alt = alt;
    gboolean related = in_related;
    if (sub && g_ascii_strcasecmp(sub, "alternative") == 0) child_alt = &own;
    if (sub && g_ascii_strcasecmp(sub, "related") == 0) related = TRUE;
    if (sub && g_ascii_strcasecmp(sub, "report") == 0) w->b->report = TRUE;
    int n = g_mime_multipart_get_count(GMIME_MULTIPART(obj));
    if (n == 0) {
      /* No parts found (e.g. no boundary parameter): keep what GMime saw as the preamble. */
      const char *pro = g_mime_multipart_get_prologue(GMIME_MULTIPART(obj));
      if (pro && *pro && reparse_guessed(w, obj, pro, depth, alt, in_related)) return;
      if (pro && *pro) {
        char *utf8 = mime_charset_to_utf8(pro, strlen(pro), NULL);
        text_lf(utf8);
        if (utf8[0]) text_note_part(w->b, FALSE, 0, 0);
        if (w->b->text->len > 0) g_string_append_c(w->b->text, '\n');
        g_string_append(w->b->text, utf8);
        g_free(utf8);
        w->b->have_plain = TRUE;
        mime_warn(w->src->warnings, "multipart without parts: its raw content kept as text");
      }
    }
    for (int i = 0; i < n; i++) {
      GMimeObject *child = g_mime_multipart_get_part(GMIME_MULTIPART(obj), i);
      if (child) walk_object(w, child, obj, depth + 1, child_alt, related);
    }
  } else if (GMIME_IS_MESSAGE_PART(obj)) {
    add_message_part(w, obj, parent, depth, in_related);
  } else if (GMIME_IS_PART(obj)) {
    add_leaf(w, obj, alt, in_related);
  }
}

void mime_body_walk(MimeSource *src, GMimeObject *root, MimeBody *b)
{
  Walk w = {src, b, root};
  walk_object(&w, root, NULL, 0, NULL, FALSE);
}

void mime_fill_body(MaMessage *m, MimeBody *b)
{
  g_free(m->text);
  gsize n = b->text->len;
  while (n > 0 && g_ascii_isspace(b->text->str[n - 1])) n--;
  if (b->have_plain && (n > 0 || !b->html)) {
    /* the buffer itself, shrunk to the text (a GString grows by doubling; a batch holds hundreds
     * of parsed messages): up to max_text, not copied */
    m->text_raw_offset = b->text_raw_offset;
    m->text_raw_length = b->text_cut ? 0 : b->text_raw_length;
    m->text = g_realloc(g_string_free(b->text, FALSE), n + 1);
    m->text[n] = '\0';
    b->text = g_string_new(NULL);
  } else if (b->html) { /* no text/plain, or an empty one next to the HTML */
    m->text = mime_html_to_text(b->html, strlen(b->html));
  } else {
    m->text = g_strdup("");
  }
  g_free(m->html);
  m->html = g_steal_pointer(&b->html);
  for (guint i = 0; i < b->attachments->len; i++)
    g_ptr_array_add(m->attachments, g_steal_pointer(&g_ptr_array_index(b->attachments, i)));
  g_ptr_array_set_size(b->attachments, 0);
}
