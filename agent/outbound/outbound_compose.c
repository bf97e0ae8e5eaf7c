/* outbound_compose.c - writes a MIME message from the send API's structured fields: From, To, Cc
 * (Bcc only in the envelope), Subject, Date, Message-ID, MIME-Version and the caller's extra
 * headers; text and/or HTML as quoted-printable UTF-8 (multipart/alternative when both), and
 * attachments as base64 parts of multipart/mixed.
 *
 * What it writes is 7-bit with lines under 78 octets whatever the input: non-ASCII display names
 * and subjects become RFC 2047 encoded-words, bodies quoted-printable (RFC 2045 6.7), so the
 * message needs neither 8BITMIME nor re-encoding later (and a DKIM signature made over it holds).
 * Extra headers may not replace the ones written here, and may not hold a line break.
 */
#include "outbound_internal.h"

#include "agent/lib/clock.h"
#include "agent/mime/mime.h"

#include <string.h>

static gboolean is_ascii(const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s >= 0x80) return FALSE;
  return TRUE;
}

/* RFC 2047 "B" encoded-words of at most 75 octets, split on UTF-8 character boundaries. */
static void append_encoded_words(GString *out, const char *text)
{
  const char *p = text;
  gboolean first = TRUE;
  while (*p) {
    const char *q = p;
    /* 45 octets of UTF-8 become 60 of base64: with "=?UTF-8?B?" and "?=" 72 octets */
    while (*q && q - p < 45) {
      const char *n = g_utf8_next_char(q);
      if (n - p > 45) break;
      q = n;
    }
    g_autofree char *b64 = g_base64_encode((const guchar *) p, (gsize) (q - p));
    g_string_append_printf(out, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
    first = FALSE;
    p = q;
  }
}

static void append_text_value(GString *out, const char *text)
{
  if (is_ascii(text)) g_string_append(out, text);
  else append_encoded_words(out, text);
}

/* "Name <addr>" for a header, the name encoded or quoted as needed. */
static void append_mailbox(GString *out, const char *name, const char *addr)
{
  if (name && *name) {
    if (!is_ascii(name)) {
      append_encoded_words(out, name);
    } else {
      g_string_append_c(out, '"');
      for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\') g_string_append_c(out, '\\');
        g_string_append_c(out, *p);
      }
      g_string_append_c(out, '"');
    }
    g_string_append_c(out, ' ');
  }
  g_string_append_printf(out, "<%s>", addr);
}

/* Parses a list of "Name <addr>" strings into names/addrs; FALSE after setting *error. */
static gboolean parse_addresses(GPtrArray *list, const char *what, GPtrArray *names, GPtrArray *addrs, GError **error)
{
  for (guint i = 0; list && i < list->len; i++) {
    const char *s = g_ptr_array_index(list, i);
    if (strpbrk(s, "\r\n") || mime_address_list_parse(s, names, addrs) != 1) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not one address", what, s);
      return FALSE;
    }
  }
  return TRUE;
}

static void append_address_header(GString *out, const char *field, GPtrArray *names, GPtrArray *addrs)
{
  if (addrs->len == 0) return;
  g_string_append_printf(out, "%s: ", field);
  for (guint i = 0; i < addrs->len; i++) {
    if (i) g_string_append(out, ",\r\n ");
    append_mailbox(out, g_ptr_array_index(names, i), g_ptr_array_index(addrs, i));
  }
  g_string_append(out, "\r\n");
}

/* Quoted-printable (RFC 2045 6.7) of UTF-8 text; its line ends (CRLF, CR or LF) become CRLF. */
static void append_qp(GString *out, const char *s, gsize len)
{
  static const char hex[] = "0123456789ABCDEF";
  gsize col = 0;
  for (gsize i = 0; i < len; i++) {
    unsigned char c = (unsigned char) s[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < len && s[i + 1] == '\n') i++;
      g_string_append(out, "\r\n");
      col = 0;
      continue;
    }
    gboolean at_eol = i + 1 == len || s[i + 1] == '\r' || s[i + 1] == '\n';
    gboolean plain = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
    gsize need = plain ? 1 : 3;
    if (col + need > 75) {
      g_string_append(out, "=\r\n");
      col = 0;
    }
    if (plain) g_string_append_c(out, (char) c);
    else {
      g_string_append_c(out, '=');
      g_string_append_c(out, hex[c >> 4]);
      g_string_append_c(out, hex[c & 15]);
    }
    col += need;
  }
  g_string_append(out, "\r\n");
}

static void append_base64(GString *out, GBytes *data)
{
  gsize len = 0;
  const guchar *p = g_bytes_get_data(data, &len);
  g_autofree char *b64 = g_base64_encode(p, len);
  gsize n = strlen(b64);
  for (gsize i = 0; i < n; i += 76) {
    g_string_append_len(out, b64 + i, (gssize) MIN(76, n - i));
    g_string_append(out, "\r\n");
  }
}

static void append_text_part(GString *out, const char *subtype, const char *text)
{
  g_string_append_printf(out, "Content-Type: text/%s; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
                         subtype);
  append_qp(out, text, strlen(text));
}

/* A file name as an RFC 2231 parameter when it is not plain ASCII. */
static void append_filename(GString *out, const char *param, const char *name)
{
  gboolean plain = is_ascii(name) && !strpbrk(name, "\"\\\r\n");
  if (plain) {
    g_string_append_printf(out, "; %s=\"%s\"", param, name);
    return;
  }
  g_string_append_printf(out, "; %s*=UTF-8''", param);
  for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
    if (g_ascii_isalnum(*p) || strchr("!#$&+-.^_`|~", *p)) g_string_append_c(out, (char) *p);
    else g_string_append_printf(out, "%%%02X", *p);
  }
}

static gboolean header_name_ok(const char *name)
{
  static const char *const reserved[] = {"from", "to", "cc", "bcc", "subject", "date", "message-id",
                                         "mime-version", "content-type", "content-transfer-encoding",
                                         "dkim-signature", "received", "return-path", NULL};
  if (!*name || strlen(name) > 76) return FALSE;
  for (const char *p = name; *p; p++)
    if ((unsigned char) *p <= 32 || (unsigned char) *p >= 127 || *p == ':') return FALSE;
  for (int i = 0; reserved[i]; i++)
    if (g_ascii_strcasecmp(name, reserved[i]) == 0) return FALSE;
  return TRUE;
}

int outbound_message_compose(const OutboundRequest *req, const char *hostname, gint64 now, OutboundMessage *out,
                             GError **error)
{
  memset(out, 0, sizeof *out);
  g_autoptr(GPtrArray) fn = g_ptr_array_new_with_free_func(g_free), fa = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) tn = g_ptr_array_new_with_free_func(g_free), ta = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) cn = g_ptr_array_new_with_free_func(g_free), ca = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) bn = g_ptr_array_new_with_free_func(g_free), ba = g_ptr_array_new_with_free_func(g_free);
  if (!req->from || strpbrk(req->from, "\r\n") || mime_address_list_parse(req->from, fn, fa) != 1) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "from: one address is required");
    return -1;
  }
  if (!parse_addresses(req->to, "to", tn, ta, error) || !parse_addresses(req->cc, "cc", cn, ca, error) ||
      !parse_addresses(req->bcc, "bcc", bn, ba, error))
    return -1;
  if (!req->text && !req->html) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "text or html is required");
    return -1;
  }
  if (req->subject && strpbrk(req->subject, "\r\n")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "subject: no line breaks");
    return -1;
  }
  guint n_headers = req->header_names ? req->header_names->len : 0;
  for (guint i = 0; i < n_headers; i++) {
    const char *name = g_ptr_array_index(req->header_names, i), *value = g_ptr_array_index(req->header_values, i);
    if (!header_name_ok(name) || strpbrk(value, "\r\n") || !is_ascii(value) || strlen(value) > 900) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "headers: \"%s\" is not allowed (a field name of its own, an ASCII value of one line)", name);
      return -1;
    }
  }

  GString *m = g_string_sized_new(4096);
  char date[40];
  outbound_rfc5322_date(now, date);
  g_autofree char *id = ma_id_new();
  out->message_id = g_strdup_printf("%s@%s", id, hostname);
  append_address_header(m, "From", fn, fa);
  append_address_header(m, "To", tn, ta);
  append_address_header(m, "Cc", cn, ca);
  if (req->subject) {
    g_string_append(m, "Subject: ");
    append_text_value(m, req->subject);
    g_string_append(m, "\r\n");
  }
  g_string_append_printf(m, "Date: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n", date, out->message_id);
  for (guint i = 0; i < n_headers; i++)
    g_string_append_printf(m, "%s: %s\r\n", (char *) g_ptr_array_index(req->header_names, i),
                           (char *) g_ptr_array_index(req->header_values, i));

  guint n_att = req->attachments ? req->attachments->len : 0;
  g_autofree char *mixed = g_strdup_printf("=_mixed_%s", id), *alt = g_strdup_printf("=_alt_%s", id);
  if (n_att) g_string_append_printf(m, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n--%s\r\n", mixed, mixed);
  if (req->text && req->html) {
    g_string_append_printf(m, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n--%s\r\n", alt, alt);
    append_text_part(m, "plain", req->text);
    g_string_append_printf(m, "--%s\r\n", alt);
    append_text_part(m, "html", req->html);
    g_string_append_printf(m, "--%s--\r\n", alt);
  } else {
    append_text_part(m, req->text ? "plain" : "html", req->text ? req->text : req->html);
  }
  for (guint i = 0; i < n_att; i++) {
    const OutboundAttachment *a = g_ptr_array_index(req->attachments, i);
    const char *type = a->content_type ? a->content_type : "application/octet-stream";
    if (!a->filename || !*a->filename || strpbrk(type, "\r\n;\"") || !strchr(type, '/')) {
      g_string_free(m, TRUE);
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "attachments[%u]: a filename and a content_type type/subtype are required", i);
      outbound_message_clear(out);
      return -1;
    }
    g_string_append_printf(m, "--%s\r\nContent-Type: %s", mixed, type);
    append_filename(m, "name", a->filename);
    g_string_append(m, "\r\nContent-Disposition: attachment");
    append_filename(m, "filename", a->filename);
    g_string_append(m, "\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    append_base64(m, a->data);
  }
  if (n_att) g_string_append_printf(m, "--%s--\r\n", mixed);

  out->raw = g_byte_array_new_take((guint8 *) m->str, m->len);
  g_string_free(m, FALSE);
  out->header_from = g_strdup(g_ptr_array_index(fa, 0));
  out->subject = g_strdup(req->subject);
  out->rcpts = g_ptr_array_new_with_free_func(g_free);
  GPtrArray *lists[] = {ta, ca, ba};
  for (guint l = 0; l < 3; l++)
    for (guint i = 0; i < lists[l]->len; i++) {
      const char *a = g_ptr_array_index(lists[l], i);
      gboolean dup = FALSE;
      for (guint j = 0; j < out->rcpts->len && !dup; j++) dup = g_ascii_strcasecmp(g_ptr_array_index(out->rcpts, j), a) == 0;
      if (!dup) g_ptr_array_add(out->rcpts, g_strdup(a));
      if (!is_ascii(a)) out->smtputf8 = TRUE;
    }
  if (out->rcpts->len == 0 || out->rcpts->len > OUTBOUND_MAX_RECIPIENTS) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "between 1 and %d recipients (to, cc, bcc) are required",
                OUTBOUND_MAX_RECIPIENTS);
    outbound_message_clear(out);
    return -1;
  }
  out->smtputf8 |= !is_ascii(out->header_from);
  return 0;
}
