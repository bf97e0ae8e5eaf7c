/* test_outbound_message.c - preparing outgoing messages (agent/outbound/outbound_message.c and
 * outbound_compose.c): Bcc removed but kept as a recipient, Date and Message-ID added only when
 * missing, every line end CRLF, recipients from the headers or the envelope, 8-bit bodies and
 * long lines re-encoded as quoted-printable (what cannot be: refused, or 8-bit kept), refusals with
 * their reason; structured fields composed as 7-bit MIME (quoted-printable at most 76 columns, RFC 2047
 * subject, base64 attachment) with checks against a golden layout. */
#include "agent/outbound/outbound_internal.h"

#include <string.h>

static char *raw_text(const OutboundMessage *m)
{
  return g_strndup((const char *) m->raw->data, m->raw->len);
}

static void test_from_mime(void)
{
  const char *in = "From: Sales <sales@acme.example>\nTo: a@x.example, \"B\" <b@X.Example>\n"
                   "Bcc: hidden@y.example\n  , other@y.example\nSubject: hi\n\nline\r\nbare\rcr\n";
  OutboundMessage m;
  GError *error = NULL;
  g_assert_cmpint(outbound_message_from_mime(in, strlen(in), NULL, "mx.test", 1800000000, &m, &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *raw = raw_text(&m);
  g_assert_null(strstr(raw, "Bcc"));
  g_assert_null(strstr(raw, "hidden@"));
  g_assert_nonnull(strstr(raw, "Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"));
  g_assert_true(g_str_has_suffix(raw, "\r\n\r\nline\r\nbare\r\ncr\r\n"));
  g_assert_nonnull(strstr(raw, "@mx.test>\r\n\r\n"));
  for (const char *p = raw; *p; p++)
    if (*p == '\n') g_assert_true(p > raw && p[-1] == '\r');
  g_assert_cmpuint(m.rcpts->len, ==, 4);
  g_assert_cmpstr(g_ptr_array_index(m.rcpts, 1), ==, "b@x.example");
  g_assert_cmpstr(g_ptr_array_index(m.rcpts, 3), ==, "other@y.example");
  g_assert_cmpstr(m.header_from, ==, "sales@acme.example");
  g_assert_false(m.eight_bit);
  outbound_message_clear(&m);

  /* given Date and Message-ID are kept; explicit envelope recipients win over the header */
  const char *in2 = "From: s@acme.example\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <k@acme>\r\n"
                    "To: a@x.example\r\n\r\nb\xc3\xa9\r\n";
  g_autoptr(GPtrArray) env = g_ptr_array_new();
  g_ptr_array_add(env, "z@z.example");
  g_assert_cmpint(outbound_message_from_mime(in2, strlen(in2), env, "mx.test", 1800000000, &m, &error), ==, 0);
  g_autofree char *raw2 = raw_text(&m);
  /* the 8-bit body is re-encoded (agent/mime/mime_downgrade): the header gains what MIME needs */
  g_assert_cmpstr(raw2, ==, "From: s@acme.example\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <k@acme>\r\n"
                            "To: a@x.example\r\nContent-Type: text/plain; charset=utf-8\r\nMIME-Version: 1.0\r\n"
                            "Content-Transfer-Encoding: quoted-printable\r\n\r\nb=C3=A9\r\n");
  g_assert_cmpstr(m.message_id, ==, "k@acme");
  g_assert_cmpuint(m.rcpts->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(m.rcpts, 0), ==, "z@z.example");
  g_assert_false(m.eight_bit);
  outbound_message_clear(&m);

  /* an 8-bit header field cannot be re-encoded: it stays, and the message needs 8BITMIME */
  const char *in3 = "From: s@acme.example\r\nTo: a@x.example\r\nSubject: caf\xc3\xa9\r\n\r\nplain\r\n";
  g_assert_cmpint(outbound_message_from_mime(in3, strlen(in3), NULL, "mx.test", 1800000000, &m, &error), ==, 0);
  g_assert_true(m.eight_bit);
  g_autofree char *raw3 = raw_text(&m);
  g_assert_true(g_str_has_prefix(raw3, "From: s@acme.example\r\nTo: a@x.example\r\nSubject: caf\xc3\xa9\r\nDate: "));
  g_assert_true(g_str_has_suffix(raw3, ">\r\n\r\nplain\r\n")); /* nothing else changed */
  outbound_message_clear(&m);
}

static void test_from_mime_refusals(void)
{
  static const struct {
    const char *in;
    const char *reason;
  } cases[] = {
    {"no header block at all", "no header block"},
    {"To: a@x.example\r\n\r\nbody\r\n", "no From"},
    {"From: s@acme.example\r\n\r\nbody\r\n", "no recipient"},
    {"From: s@acme.example\r\nTo: not-an-address\r\n\r\nx\r\n", "no recipient"},
    {": empty name\r\nFrom: s@acme.example\r\nTo: a@x.example\r\n\r\nx\r\n", "field name"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    OutboundMessage m;
    GError *error = NULL;
    g_assert_cmpint(outbound_message_from_mime(cases[i].in, strlen(cases[i].in), NULL, "mx", 1, &m, &error), ==, -1);
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    if (!strstr(error->message, cases[i].reason)) g_error("case %zu: %s", i, error->message);
    g_clear_error(&error);
  }
  /* a line over 998 octets in the body is re-encoded; in a header field or a base64 part it is
   * refused, as is a signed part that would change */
  GString *line = g_string_new(NULL);
  for (int i = 0; i < 999; i++) g_string_append_c(line, 'x');
  OutboundMessage m;
  GError *error = NULL;
  g_autofree char *body_long = g_strdup_printf("From: s@acme.example\r\nTo: a@x.example\r\n\r\n%s\r\n", line->str);
  g_assert_cmpint(outbound_message_from_mime(body_long, strlen(body_long), NULL, "mx", 1, &m, &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *raw = raw_text(&m);
  g_assert_nonnull(strstr(raw, "Content-Transfer-Encoding: quoted-printable\r\n"));
  gsize col = 0;
  for (const char *p = raw; *p; p++) {
    col = *p == '\n' ? 0 : col + 1;
    g_assert_cmpuint(col, <=, 998);
  }
  outbound_message_clear(&m);
  static const struct {
    const char *before, *after; /* around the long line */
  } refused[] = {
    {"From: s@acme.example\r\nTo: a@x.example\r\nX-Long: ", "\r\n\r\nbody\r\n"},
    {"From: s@acme.example\r\nTo: a@x.example\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
     "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n", "\r\n--b--\r\n"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(refused); i++) {
    g_autofree char *in = g_strconcat(refused[i].before, line->str, refused[i].after, NULL);
    g_assert_cmpint(outbound_message_from_mime(in, strlen(in), NULL, "mx", 1, &m, &error), ==, -1);
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    if (!strstr(error->message, "over 998 octets")) g_error("case %zu: %s", i, error->message);
    g_clear_error(&error);
  }
  const char *signed_8bit = "From: s@acme.example\r\nTo: a@x.example\r\n"
                            "Content-Type: multipart/signed; boundary=s\r\n\r\n--s\r\n\r\n\xc3\xa9\r\n--s--\r\n";
  g_assert_cmpint(outbound_message_from_mime(signed_8bit, strlen(signed_8bit), NULL, "mx", 1, &m, &error), ==, -1);
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "multipart/signed"));
  g_clear_error(&error);
  g_string_free(line, TRUE);
}

static void test_compose(void)
{
  g_autoptr(GPtrArray) to = g_ptr_array_new(), bcc = g_ptr_array_new(), atts = g_ptr_array_new();
  g_ptr_array_add(to, "Hänk Scorpio <hank@globex.example>");
  g_ptr_array_add(bcc, "audit@acme.example");
  GString *text = g_string_new("Grüße,\n.first dot\n");
  for (int i = 0; i < 200; i++) g_string_append_c(text, 'a');
  g_string_append(text, "  \n");
  OutboundAttachment a = {.filename = "quote 17.pdf", .content_type = "application/pdf",
                          .data = g_bytes_new_static("%PDF-1.4", 8)};
  g_ptr_array_add(atts, &a);
  OutboundRequest req = {.from = "\"Sales, Team\" <sales@acme.example>", .to = to, .bcc = bcc,
                         .subject = "Angebot für Q3", .text = text->str, .attachments = atts};
  OutboundMessage m;
  GError *error = NULL;
  g_assert_cmpint(outbound_message_compose(&req, "mx.test", 1800000000, &m, &error), ==, 0);
  g_assert_no_error(error);
  g_autofree char *raw = raw_text(&m);
  g_assert_true(g_str_has_prefix(raw, "From: \"Sales, Team\" <sales@acme.example>\r\n"
                                      "To: =?UTF-8?B?SMOkbmsgU2NvcnBpbw==?= <hank@globex.example>\r\n"
                                      "Subject: =?UTF-8?B?QW5nZWJvdCBmw7xyIFEz?=\r\n"
                                      "Date: Fri, 15 Jan 2027 08:00:00 +0000\r\n"));
  g_assert_null(strstr(raw, "audit@"));
  g_assert_nonnull(strstr(raw, "Content-Type: multipart/mixed; boundary="));
  g_assert_nonnull(strstr(raw, "Gr=C3=BC=C3=9Fe,\r\n.first dot\r\n"));
  g_assert_nonnull(strstr(raw, " =20\r\n"));  /* trailing space before the line end encoded */
  g_assert_nonnull(strstr(raw, "filename=\"quote 17.pdf\""));
  g_assert_nonnull(strstr(raw, "\r\nJVBERi0xLjQ=\r\n"));
  /* 7-bit, no line over 78 octets */
  gsize col = 0;
  for (guint i = 0; i < m.raw->len; i++) {
    g_assert_cmpuint(m.raw->data[i], <, 0x80);
    col = m.raw->data[i] == '\n' ? 0 : col + 1;
    g_assert_cmpuint(col, <=, 78);
  }
  g_assert_cmpuint(m.rcpts->len, ==, 2);
  g_assert_cmpstr(g_ptr_array_index(m.rcpts, 1), ==, "audit@acme.example");
  outbound_message_clear(&m);
  g_bytes_unref(a.data);
  g_string_free(text, TRUE);

  /* refusals */
  OutboundRequest bad1 = {.from = "sales@acme.example", .to = to, .subject = "a\r\nBcc: x@y.example", .text = "x"};
  g_assert_cmpint(outbound_message_compose(&bad1, "mx", 1, &m, &error), ==, -1);
  g_clear_error(&error);
  g_autoptr(GPtrArray) names = g_ptr_array_new(), values = g_ptr_array_new();
  g_ptr_array_add(names, "Bcc");
  g_ptr_array_add(values, "x@y.example");
  OutboundRequest bad2 = {.from = "sales@acme.example", .to = to, .text = "x", .header_names = names,
                          .header_values = values};
  g_assert_cmpint(outbound_message_compose(&bad2, "mx", 1, &m, &error), ==, -1);
  g_assert_nonnull(strstr(error->message, "headers"));
  g_clear_error(&error);
  OutboundRequest bad3 = {.from = "sales@acme.example", .text = "x"};
  g_assert_cmpint(outbound_message_compose(&bad3, "mx", 1, &m, &error), ==, -1);
  g_clear_error(&error);
}

static void test_retry_delay(void)
{
  g_assert_cmpint(outbound_retry_delay(1, 300, 3600), ==, 300);
  g_assert_cmpint(outbound_retry_delay(2, 300, 3600), ==, 600);
  g_assert_cmpint(outbound_retry_delay(4, 300, 3600), ==, 2400);
  g_assert_cmpint(outbound_retry_delay(5, 300, 3600), ==, 3600);
  g_assert_cmpint(outbound_retry_delay(60, 300, 3600), ==, 3600);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/outbound/message/from_mime", test_from_mime);
  g_test_add_func("/outbound/message/from_mime_refusals", test_from_mime_refusals);
  g_test_add_func("/outbound/message/compose", test_compose);
  g_test_add_func("/outbound/retry_delay", test_retry_delay);
  return g_test_run();
}
