/* test_smtp_reply.c - agent/smtp/smtp_reply: SMTP replies parsed whole, a byte at a time and at
 * every split point (the same replies must come out), malformed replies refused, bounds kept, and
 * EHLO keywords read. */
#include "agent/smtp/smtp_reply.h"

#include <string.h>

typedef struct {
  const char *input;
  int n_replies;          /* complete replies expected, or -1 for a protocol error */
  int code;               /* of the last reply */
  const char *enhanced;
  const char *text;
} Case;

static const Case cases[] = {
  {"220 mx.example ESMTP\r\n", 1, 220, "", "mx.example ESMTP"},
  {"250 2.1.5 Ok\r\n", 1, 250, "2.1.5", "2.1.5 Ok"},
  {"550 5.1.1 <x@y>: Recipient address rejected\r\n", 1, 550, "5.1.1",
   "5.1.1 <x@y>: Recipient address rejected"},
  {"450 4.2.0 greylisted\r\n", 1, 450, "4.2.0", "4.2.0 greylisted"},
  {"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n", 1, 250, "", "mx.example\nPIPELINING\n8BITMIME"},
  {"250\r\n", 1, 250, "", ""},
  {"250 ok\n", 1, 250, "", "ok"},                          /* bare LF ends a line */
  {"250 ok\r\n354 go\r\n", 2, 354, "", "go"},             /* two replies in one read */
  {"250 2.0 not enhanced\r\n", 1, 250, "", "2.0 not enhanced"},
  {"550 2.1.5 class mismatch\r\n", 1, 550, "", "2.1.5 class mismatch"},
  {"250 2.1.5000 too long part\r\n", 1, 250, "", "2.1.5000 too long part"},
  {"25 short\r\n", -1, 0, NULL, NULL},
  {"650 bad class\r\n", -1, 0, NULL, NULL},
  {"250x no separator\r\n", -1, 0, NULL, NULL},
  {"250-first\r\n251 changed code\r\n", -1, 0, NULL, NULL},
  {"abc\r\n", -1, 0, NULL, NULL},
};

/* Feeds input in pieces of step octets (0: whole). Returns the number of replies, -1 on error. */
static int run(const char *input, gsize step, SmtpReply *last)
{
  SmtpReplyParser p;
  smtp_reply_parser_init(&p);
  gsize len = strlen(input), off = 0;
  int n = 0;
  while (off < len) {
    gsize piece = step ? MIN(step, len - off) : len - off;
    gsize used_total = 0;
    while (used_total < piece) {
      gsize used = 0;
      const char *err = NULL;
      int rc = smtp_reply_feed(&p, input + off + used_total, piece - used_total, &used, last, &err);
      if (rc < 0) {
        g_assert_nonnull(err);
        return -1;
      }
      used_total += used;
      if (rc == 1) n++;
    }
    off += piece;
  }
  g_assert_false(smtp_reply_parser_pending(&p));
  return n;
}

static void test_table(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    const Case *c = &cases[i];
    gsize len = strlen(c->input);
    for (gsize step = 0; step <= len; step++) {
      SmtpReply r;
      memset(&r, 0, sizeof r);
      int n = run(c->input, step, &r);
      if (n != c->n_replies) g_error("case %zu step %zu: %d replies, want %d", i, step, n, c->n_replies);
      if (n < 0) continue;
      g_assert_cmpint(r.code, ==, c->code);
      g_assert_cmpstr(r.enhanced, ==, c->enhanced);
      g_assert_cmpstr(r.text, ==, c->text);
    }
  }
}

static void test_incomplete_is_pending(void)
{
  SmtpReplyParser p;
  SmtpReply r;
  gsize used;
  const char *err = NULL;
  smtp_reply_parser_init(&p);
  g_assert_cmpint(smtp_reply_feed(&p, "250-a\r\n250 b", 12, &used, &r, &err), ==, 0);
  g_assert_cmpuint(used, ==, 12);
  g_assert_true(smtp_reply_parser_pending(&p));
  g_assert_cmpint(smtp_reply_feed(&p, "\r\n", 2, &used, &r, &err), ==, 1);
  g_assert_cmpint(r.lines, ==, 2);
  g_assert_false(smtp_reply_parser_pending(&p));
}

static void test_bounds(void)
{
  /* an endless line is an error at its end, never a buffer overrun */
  GString *s = g_string_new("250 ");
  for (int i = 0; i < SMTP_REPLY_MAX_LINE * 2; i++) g_string_append_c(s, 'x');
  g_string_append(s, "\r\n");
  SmtpReply r;
  g_assert_cmpint(run(s->str, 0, &r), ==, -1);
  g_string_free(s, TRUE);

  /* too many lines */
  s = g_string_new("");
  for (int i = 0; i < SMTP_REPLY_MAX_LINES + 1; i++) g_string_append(s, "250-x\r\n");
  g_string_append(s, "250 end\r\n");
  g_assert_cmpint(run(s->str, 0, &r), ==, -1);
  g_string_free(s, TRUE);

  /* long text within the line limit is truncated and flagged */
  s = g_string_new("");
  for (int i = 0; i < 10; i++) {
    g_string_append(s, "250-");
    for (int j = 0; j < 1000; j++) g_string_append_c(s, 'y');
    g_string_append(s, "\r\n");
  }
  g_string_append(s, "250 end\r\n");
  g_assert_cmpint(run(s->str, 0, &r), ==, 1);
  g_assert_true(r.truncated);
  g_assert_cmpuint(strlen(r.text), ==, SMTP_REPLY_MAX_TEXT);
  g_string_free(s, TRUE);

  /* NUL in text */
  SmtpReplyParser p;
  gsize used;
  const char *err = NULL;
  smtp_reply_parser_init(&p);
  g_assert_cmpint(smtp_reply_feed(&p, "250 a\0b\r\n", 9, &used, &r, &err), ==, -1);
}

static void test_summary(void)
{
  SmtpReply r;
  g_assert_cmpint(run("550-5.1.1 first\r\n550 second\r\n", 0, &r), ==, 1);
  char buf[64];
  smtp_reply_summary(&r, buf, sizeof buf);
  g_assert_cmpstr(buf, ==, "550 5.1.1 first");
  smtp_reply_summary(&r, buf, 6);
  g_assert_cmpstr(buf, ==, "550 5");
}

static void test_ehlo_caps(void)
{
  SmtpReply r;
  g_assert_cmpint(run("250-mx.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
                      "250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
                      0, &r),
                  ==, 1);
  SmtpEhloCaps c;
  smtp_reply_ehlo_caps(&r, &c);
  g_assert_true(c.pipelining && c.starttls && c.eightbitmime && c.smtputf8 && c.enhancedstatuscodes);
  g_assert_true(c.auth_plain && c.auth_login);
  g_assert_false(c.auth_xoauth2 || c.chunking);
  g_assert_cmpint(c.size, ==, 10240000);

  /* the greeting line is not a keyword; partial words do not count; old AUTH= form */
  g_assert_cmpint(run("250-PIPELINING\r\n250-STARTTLSX\r\n250-AUTH=XOAUTH2\r\n250 SIZE\r\n", 0, &r), ==, 1);
  smtp_reply_ehlo_caps(&r, &c);
  g_assert_false(c.pipelining);
  g_assert_false(c.starttls);
  g_assert_true(c.auth_xoauth2);
  g_assert_cmpint(c.size, ==, 0);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp_reply/table", test_table);
  g_test_add_func("/smtp_reply/pending", test_incomplete_is_pending);
  g_test_add_func("/smtp_reply/bounds", test_bounds);
  g_test_add_func("/smtp_reply/summary", test_summary);
  g_test_add_func("/smtp_reply/ehlo_caps", test_ehlo_caps);
  return g_test_run();
}
