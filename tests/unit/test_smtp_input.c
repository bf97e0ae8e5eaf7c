/* test_smtp_input.c - agent/smtp/smtp_input and smtp_envelope: command lines taken from the input
 * buffer within their bound (whole, split at every octet, over-long ones dropped and reported once
 * at their end), message octets fed to the decoder up to a cap and up to the end of DATA; the
 * envelope's recipients counted and kept once, and the spool entry it makes. */
#include "agent/smtp/smtp_envelope.h"
#include "agent/smtp/smtp_input.h"

#include <event2/buffer.h>
#include <glib/gstdio.h>
#include <string.h>

static void test_lines(void)
{
  struct evbuffer *in = evbuffer_new();
  char line[SMTP_MAX_TEXT_LINE + 1];
  gsize n = 0;
  gboolean discarding = FALSE;
  const char *two = "MAIL FROM:<a@b>\r\nNOOP\n";
  /* byte by byte: nothing until each LF, then exactly that line */
  int got = 0;
  for (gsize i = 0; i < strlen(two); i++) {
    evbuffer_add(in, two + i, 1);
    SmtpInputLine r = smtp_input_line(in, line, &n, &discarding);
    if (two[i] != '\n') {
      g_assert_cmpint(r, ==, SMTP_INPUT_NONE);
      continue;
    }
    g_assert_cmpint(r, ==, SMTP_INPUT_LINE);
    g_assert_cmpstr(line, ==, got++ == 0 ? "MAIL FROM:<a@b>" : "NOOP"); /* CRLF and bare LF removed */
    g_assert_cmpuint(n, ==, strlen(line));
  }
  g_assert_cmpint(got, ==, 2);
  g_assert_cmpuint(evbuffer_get_length(in), ==, 0);
  /* a line of exactly SMTP_MAX_TEXT_LINE octets with its CRLF is read; one more is too long */
  for (int extra = 0; extra < 2; extra++) {
    g_autofree char *big = g_strnfill(SMTP_MAX_TEXT_LINE - 2 + extra, 'x');
    evbuffer_add_printf(in, "%s\r\n", big);
    SmtpInputLine r = smtp_input_line(in, line, &n, &discarding);
    g_assert_cmpint(r, ==, extra ? SMTP_INPUT_TOO_LONG : SMTP_INPUT_LINE);
    g_assert_cmpuint(evbuffer_get_length(in), ==, 0);
  }
  /* 3,000 octets without a LF: dropped as they come (bounded), reported once at the LF, and the
   * next line is read normally */
  g_autofree char *flood = g_strnfill(3000, 'y');
  evbuffer_add(in, flood, 3000);
  int dropped = 0;
  SmtpInputLine r;
  while ((r = smtp_input_line(in, line, &n, &discarding)) == SMTP_INPUT_DROPPED) dropped++;
  g_assert_cmpint(r, ==, SMTP_INPUT_NONE);
  g_assert_cmpint(dropped, ==, 2);
  g_assert_true(discarding);
  evbuffer_add_printf(in, "tail\r\nQUIT\r\n");
  while ((r = smtp_input_line(in, line, &n, &discarding)) == SMTP_INPUT_DROPPED) dropped++;
  g_assert_cmpint(dropped, ==, 3);
  g_assert_cmpint(r, ==, SMTP_INPUT_TOO_LONG);
  g_assert_false(discarding);
  g_assert_cmpint(smtp_input_line(in, line, &n, &discarding), ==, SMTP_INPUT_LINE);
  g_assert_cmpstr(line, ==, "QUIT");
  evbuffer_free(in);
}

static void test_feed(void)
{
  SmtpDataLimits lim = {1 << 20, SMTP_MAX_TEXT_LINE, 102400, 1000};
  g_autoptr(GByteArray) out = g_byte_array_new();
  SmtpDataDecoder *dec = smtp_data_decoder_new(&lim, TRUE, out);
  struct evbuffer *in = evbuffer_new();
  gboolean done = TRUE;
  /* DATA: stops right after CRLF.CRLF, the next command stays */
  evbuffer_add_printf(in, "Subject: x\r\n\r\n..body\r\n.\r\nQUIT\r\n");
  gsize used = smtp_input_feed(in, dec, G_MAXSIZE, &done);
  g_assert_true(done);
  g_assert_cmpuint(used, ==, strlen("Subject: x\r\n\r\n..body\r\n.\r\n"));
  g_assert_cmpmem(out->data, out->len, "Subject: x\r\n\r\n.body\r\n", 21);
  g_assert_cmpuint(evbuffer_get_length(in), ==, 6);
  smtp_data_decoder_free(dec);
  /* a BDAT chunk: never more than max; NULL drops */
  evbuffer_drain(in, evbuffer_get_length(in));
  evbuffer_add_printf(in, "abcdefBDAT 1\r\n");
  g_byte_array_set_size(out, 0);
  dec = smtp_data_decoder_new(&lim, FALSE, out);
  used = smtp_input_feed(in, dec, 4, &done);
  g_assert_false(done);
  g_assert_cmpuint(used, ==, 4);
  g_assert_cmpmem(out->data, out->len, "abcd", 4);
  used = smtp_input_feed(in, NULL, 2, &done);
  g_assert_cmpuint(used, ==, 2);
  g_assert_cmpuint(out->len, ==, 4);
  g_assert_cmpuint(evbuffer_get_length(in), ==, strlen("BDAT 1\r\n"));
  g_assert_cmpuint(smtp_input_feed(in, dec, 0, &done), ==, 0);
  smtp_data_decoder_free(dec);
  evbuffer_free(in);
}

static void test_envelope(void)
{
  SmtpEnvelope env;
  smtp_envelope_init(&env);
  g_strlcpy(env.mail.address, "alice@acme.example", sizeof env.mail.address);
  smtp_envelope_add_rcpt(&env, g_strdup("x@inbound.test"));
  g_assert_true(smtp_envelope_has_rcpt(&env, "x@inbound.test", FALSE));
  g_assert_false(smtp_envelope_has_rcpt(&env, "X@inbound.test", FALSE));
  g_assert_true(smtp_envelope_has_rcpt(&env, "X@INBOUND.test", TRUE));
  smtp_envelope_add_rcpt(&env, NULL); /* a repeat: counted, not kept */
  smtp_envelope_add_rcpt(&env, g_strdup("y@inbound.test"));
  g_assert_cmpuint(env.rcpt_accepted, ==, 3);
  g_assert_cmpuint(env.rcpts->len, ==, 2);
  env.enterprise_id = g_strdup("ent-1");
  FwdDecision d = {TRUE, g_strdup("emp-1"), "from", NULL, FALSE};
  smtp_envelope_set_decision(&env, &d);
  g_assert_null(d.employee_id);
  g_autoptr(GString) g = g_string_new(NULL);
  smtp_envelope_describe(&env, "192.0.2.1", g);
  g_assert_cmpstr(g->str, ==, "client=192.0.2.1 from=<alice@acme.example> rcpts=x@inbound.test,y@inbound.test");

  g_autofree char *dir = g_dir_make_tmp("test-envelope-XXXXXX", NULL);
  g_autofree char *spool = g_build_filename(dir, SPOOL_BODY_DIR, NULL);
  g_assert_cmpint(g_mkdir(spool, 0700), ==, 0);
  MaSpoolBody *body = NULL;
  g_assert_cmpint(spool_body_create(dir, "msg-1", &body, NULL), ==, 0);
  MaSpoolEntry *e = smtp_envelope_spool_entry(&env, "smtp", "192.0.2.1", "mx.acme.example", body);
  g_assert_cmpstr(e->id, ==, "msg-1");
  g_assert_cmpstr(e->enterprise_id, ==, "ent-1");
  g_assert_cmpstr(e->mail_from, ==, "alice@acme.example");
  g_assert_cmpuint(e->rcpts->len, ==, 2);
  g_assert_cmpstr(e->employee_id, ==, "emp-1");
  g_assert_cmpstr(e->signal, ==, "from");
  g_assert_true(e->body == body);
  smtp_envelope_reset(&env); /* the entry keeps its own copies */
  g_assert_cmpuint(env.rcpts->len, ==, 0);
  g_assert_cmpuint(env.rcpt_accepted, ==, 0);
  g_assert_cmpstr(g_ptr_array_index(e->rcpts, 1), ==, "y@inbound.test");
  ma_spool_entry_free(e); /* unlinks the body file: never committed */
  g_assert_cmpint(g_rmdir(spool), ==, 0);
  g_assert_cmpint(g_rmdir(dir), ==, 0);
  smtp_envelope_clear(&env);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp/input/lines", test_lines);
  g_test_add_func("/smtp/input/feed", test_feed);
  g_test_add_func("/smtp/envelope", test_envelope);
  return g_test_run();
}
