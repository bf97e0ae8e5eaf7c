/* outbound_message.c - prepares a complete outgoing message as the CRM gave it: the header block is
 * read field by field (bounded), Bcc is dropped, Date and Message-ID are added when missing, every
 * line end becomes CRLF, and the envelope recipients come from the request or from To/Cc/Bcc.
 *
 * The message is otherwise left as written (no re-serialisation through a MIME library), except
 * that parts with 8-bit octets or lines over 998 octets are re-encoded as quoted-printable (only
 * those parts, and only their Content-Transfer-Encoding line changes: agent/mime/mime_downgrade.h)
 * so it needs no 8BITMIME; a DKIM signature computed later covers these octets. A header line
 * over 998 octets, or one in a part that cannot be re-encoded, is refused with a clear reason
 * rather than sent broken.
 */
#include "outbound_internal.h"

#include "agent/lib/clock.h"
#include "agent/mime/mime.h"
#include "agent/mime/mime_downgrade.h"

#include <string.h>

void outbound_message_clear(OutboundMessage *m)
{
  if (m->raw) g_byte_array_unref(m->raw);
  g_free(m->message_id);
  g_free(m->header_from);
  g_free(m->subject);
  if (m->rcpts) g_ptr_array_unref(m->rcpts);
  memset(m, 0, sizeof *m);
}

void outbound_rfc5322_date(gint64 t, char out[40])
{
  static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  GDateTime *dt = g_date_time_new_from_unix_utc(t);
  g_snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[g_date_time_get_day_of_week(dt) % 7],
             g_date_time_get_day_of_month(dt), months[g_date_time_get_month(dt) - 1], g_date_time_get_year(dt),
             g_date_time_get_hour(dt), g_date_time_get_minute(dt), g_date_time_get_second(dt));
  g_date_time_unref(dt);
}

/* Appends addr to rcpts unless present (compared case-insensitively). */
static void rcpt_add(GPtrArray *rcpts, const char *addr)
{
  for (guint i = 0; i < rcpts->len; i++)
    if (g_ascii_strcasecmp(g_ptr_array_index(rcpts, i), addr) == 0) return;
  g_ptr_array_add(rcpts, g_strdup(addr));
}

static gboolean non_ascii(const char *s)
{
  for (; *s; s++)
    if ((unsigned char) *s >= 0x80) return TRUE;
  return FALSE;
}

/* A recipient address we can put in RCPT TO: local@domain, no spaces, controls or brackets. */
static gboolean address_ok(const char *a)
{
  const char *at = strrchr(a, '@');
  if (!at || at == a || !at[1] || strlen(a) > 254 || (gsize) (at - a) > 64) return FALSE;
  for (const char *p = a; *p; p++)
    if ((unsigned char) *p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>') return FALSE;
  return strchr(at + 1, '.') != NULL || g_ascii_strcasecmp(at + 1, "localhost") == 0;
}

/* Appends src with every line end (CRLF, bare CR, bare LF) written as CRLF; with check_lines, a
 * line over 998 octets is an error (header fields, which nothing re-encodes). */
static int append_crlf(GByteArray *out, const char *src, gsize len, gboolean check_lines, GError **error)
{
  gsize run = 0;
  for (gsize i = 0; i < len;) {
    gsize j = i;
    while (j < len && src[j] != '\r' && src[j] != '\n') j++;
    run += j - i;
    if (check_lines && run > OUTBOUND_MAX_LINE) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "a header line of the message is over %d octets",
                  OUTBOUND_MAX_LINE);
      return -1;
    }
    g_byte_array_append(out, (const guint8 *) src + i, (guint) (j - i));
    if (j == len) break;
    g_byte_array_append(out, (const guint8 *) "\r\n", 2);
    run = 0;
    i = j + 1;
    if (src[j] == '\r' && i < len && src[i] == '\n') i++;
  }
  return 0;
}

/* The length of the header block (up to the empty line, excluded) and where the body starts. */
static gboolean find_body(const char *raw, gsize len, gsize *header_len, gsize *body_start)
{
  for (gsize i = 0; i < len && i < OUTBOUND_MAX_HEADER_BLOCK; i++) {
    if (raw[i] != '\n') continue;
    gsize j = i + 1;
    if (j < len && raw[j] == '\r') j++;
    if (j < len && raw[j] == '\n') {
      *header_len = i + 1;
      *body_start = j + 1;
      return TRUE;
    }
    if (j >= len) {
      /* headers only, no body */
      *header_len = *body_start = len;
      return TRUE;
    }
  }
  return FALSE;
}

/* One header field: its name and unfolded value (both newly allocated) and its raw extent. */
typedef struct {
  char *name;
  char *value;
  gsize start, end;
} Field;

/* Reads the field at *pos (advanced past it). FALSE at the end of the block or on a malformed line. */
static gboolean next_field(const char *h, gsize len, gsize *pos, Field *f, GError **error)
{
  gsize p = *pos;
  if (p >= len) return FALSE;
  gsize colon = p;
  while (colon < len && h[colon] != ':' && h[colon] != '\n') colon++;
  if (colon >= len || h[colon] != ':' || colon == p) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "header line without a field name: %.40s", h + p);
    return FALSE;
  }
  for (gsize i = p; i < colon; i++)
    if ((unsigned char) h[i] <= 0x20 || h[i] == 0x7f) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "a header field name holds a space or control character");
      return FALSE;
    }
  gsize e = colon;
  while (TRUE) {
    while (e < len && h[e] != '\n') e++;
    if (e < len) e++;
    if (e >= len || (h[e] != ' ' && h[e] != '\t')) break;
  }
  f->name = g_strndup(h + p, colon - p);
  GString *v = g_string_sized_new(e - colon);
  for (gsize i = colon + 1; i < e; i++)
    if (h[i] != '\r' && h[i] != '\n') g_string_append_c(v, h[i]);
  f->value = g_strstrip(g_string_free(v, FALSE));
  f->start = p;
  f->end = e;
  *pos = e;
  return TRUE;
}

/* Re-encodes the parts that need 8BITMIME or hold lines over 998 octets as quoted-printable
 * (agent/mime/mime_downgrade.h), before anything signs the message: so it travels 7-bit through
 * any server, and a DKIM signature made over it survives relays that would downgrade it (RFC 6376
 * section 5.3). What cannot be re-encoded stays: 8-bit header fields (eight_bit, sent with
 * BODY=8BITMIME), while a line over 998 octets there is refused with the reason, as is a signed
 * part that would change. 0, or -1 with *error. */
static int seven_bit(OutboundMessage *m, GError **error)
{
  GByteArray *converted = NULL;
  MimeDowngradeSummary sum;
  int rc = mime_downgrade_bytes((const char *) m->raw->data, m->raw->len, 0, &converted, &sum, error);
  if (rc < 0) return -1;
  if (rc == 1) {
    g_byte_array_unref(m->raw);
    m->raw = converted;
  }
  if (sum.left_long_line) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "a line of the message is over %d octets where it cannot be re-encoded (a part's header, a base64 "
                "or quoted-printable part, a preamble): encode that part",
                OUTBOUND_MAX_LINE);
    return -1;
  }
  return 0;
}

int outbound_message_from_mime(const char *raw, gsize len, GPtrArray *envelope_to, const char *hostname, gint64 now,
                               OutboundMessage *out, GError **error)
{
  memset(out, 0, sizeof *out);
  gsize header_len = 0, body_start = 0;
  if (!find_body(raw, len, &header_len, &body_start)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the message has no header block (or one over %d octets)",
                OUTBOUND_MAX_HEADER_BLOCK);
    return -1;
  }
  out->raw = g_byte_array_sized_new((guint) MIN(len + 256, G_MAXUINT));
  out->rcpts = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) header_rcpts = g_ptr_array_new_with_free_func(g_free);
  gboolean have_date = FALSE;
  gsize pos = 0;
  Field f;
  GError *field_error = NULL;
  while (next_field(raw, header_len, &pos, &f, &field_error)) {
    gboolean keep = TRUE;
    if (g_ascii_strcasecmp(f.name, "Bcc") == 0) {
      keep = FALSE;
      mime_address_list_parse(f.value, NULL, header_rcpts);
    } else if (g_ascii_strcasecmp(f.name, "To") == 0 || g_ascii_strcasecmp(f.name, "Cc") == 0) {
      mime_address_list_parse(f.value, NULL, header_rcpts);
    } else if (g_ascii_strcasecmp(f.name, "From") == 0 && !out->header_from) {
      g_autoptr(GPtrArray) from = g_ptr_array_new_with_free_func(g_free);
      if (mime_address_list_parse(f.value, NULL, from) > 0) out->header_from = g_strdup(g_ptr_array_index(from, 0));
    } else if (g_ascii_strcasecmp(f.name, "Subject") == 0 && !out->subject) {
      out->subject = g_strdup(f.value);
    } else if (g_ascii_strcasecmp(f.name, "Message-ID") == 0 && !out->message_id) {
      const char *lt = strchr(f.value, '<'), *gt = lt ? strchr(lt, '>') : NULL;
      if (lt && gt && gt > lt + 1) out->message_id = g_strndup(lt + 1, (gsize) (gt - lt - 1));
    } else if (g_ascii_strcasecmp(f.name, "Date") == 0) {
      have_date = TRUE;
    }
    int rc = keep ? append_crlf(out->raw, raw + f.start, f.end - f.start, TRUE, &field_error) : 0;
    if (keep && rc == 0 && (out->raw->len < 2 || out->raw->data[out->raw->len - 1] != '\n'))
      g_byte_array_append(out->raw, (const guint8 *) "\r\n", 2);
    g_free(f.name);
    g_free(f.value);
    if (rc < 0) break;
  }
  if (field_error) {
    g_propagate_error(error, field_error);
    goto fail;
  }
  if (!out->header_from) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the message has no From address");
    goto fail;
  }
  if (!have_date) {
    char date[40], line[60];
    outbound_rfc5322_date(now, date);
    g_snprintf(line, sizeof line, "Date: %s\r\n", date);
    g_byte_array_append(out->raw, (const guint8 *) line, (guint) strlen(line));
  }
  if (!out->message_id) {
    g_autofree char *id = ma_id_new();
    out->message_id = g_strdup_printf("%s@%s", id, hostname);
    g_autofree char *line = g_strdup_printf("Message-ID: <%s>\r\n", out->message_id);
    g_byte_array_append(out->raw, (const guint8 *) line, (guint) strlen(line));
  }
  g_byte_array_append(out->raw, (const guint8 *) "\r\n", 2);
  if (body_start < len && append_crlf(out->raw, raw + body_start, len - body_start, FALSE, error) < 0) goto fail;
  if (seven_bit(out, error) < 0) goto fail;

  GPtrArray *source = envelope_to ? envelope_to : header_rcpts;
  for (guint i = 0; i < source->len; i++) {
    const char *a = g_ptr_array_index(source, i);
    if (!address_ok(a)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "recipient \"%s\" is not an address", a);
      goto fail;
    }
    rcpt_add(out->rcpts, a);
  }
  if (out->rcpts->len == 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the message has no recipient");
    goto fail;
  }
  if (out->rcpts->len > OUTBOUND_MAX_RECIPIENTS) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "more than %d recipients", OUTBOUND_MAX_RECIPIENTS);
    goto fail;
  }
  for (guint i = 0; i < out->raw->len && !out->eight_bit; i++) out->eight_bit = out->raw->data[i] >= 0x80;
  for (guint i = 0; i < out->rcpts->len; i++) out->smtputf8 |= non_ascii(g_ptr_array_index(out->rcpts, i));
  out->smtputf8 |= non_ascii(out->header_from);
  return 0;
fail:
  outbound_message_clear(out);
  return -1;
}
