/* test_bounce.c - agent/bounce: an RFC 3464 DSN with two recipient groups, a Postfix-style and a
 * qmail-style text bounce, an ARF complaint, an RFC 3834 auto-reply, a message that is none of
 * them, the reason rules on their own (status code, text, SMTP command, delayed), hard/soft, the
 * generated pattern table (every pattern compiles), the input bound, and every prefix of a DSN
 * parsed without harm (byte by byte); the formats of particular MTAs and remote hosts
 * (tests/fixtures/bounce/formats, whole and byte by byte) and Sisimai's rules as it applies them. The
 * corpus agreement is tests/integration/bounce_oracle.sh.
 */
#include <string.h>

#include "agent/bounce/bounce.h"
#include "agent/bounce/bounce_private.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static const char dsn[] =
  "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
  "To: sender@example.com\r\n"
  "Subject: Undelivered Mail Returned to Sender\r\n"
  "MIME-Version: 1.0\r\n"
  "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n"
  "\r\n"
  "--B\r\n"
  "Content-Type: text/plain\r\n"
  "\r\n"
  "I'm sorry to have to inform you that your message could not be delivered.\r\n"
  "\r\n"
  "--B\r\n"
  "Content-Type: message/delivery-status\r\n"
  "\r\n"
  "Reporting-MTA: dns; mx.example.net\r\n"
  "Arrival-Date: Wed, 2 Dec 2026 08:00:00 +0000\r\n"
  "\r\n"
  "Final-Recipient: rfc822; Nobody@Example.ORG\r\n"
  "Original-Recipient: rfc822;nobody@example.org\r\n"
  "Action: failed\r\n"
  "Status: 5.1.1\r\n"
  "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected:\r\n"
  "    User unknown in local recipient table\r\n"
  "\r\n"
  "Final-Recipient: rfc822; full@example.org\r\n"
  "Action: delayed\r\n"
  "Status: 4.2.2\r\n"
  "Diagnostic-Code: smtp; 452 4.2.2 Mailbox full\r\n"
  "\r\n"
  "--B\r\n"
  "Content-Type: message/rfc822\r\n"
  "\r\n"
  "From: sender@example.com\r\n"
  "To: nobody@example.org, full@example.org\r\n"
  "Message-ID: <abc.123@example.com>\r\n"
  "Subject: hello\r\n"
  "\r\n"
  "body\r\n"
  "--B--\r\n";

static BounceReport *parse(const char *text)
{
  BounceReport *rep = NULL;
  g_assert_cmpint(bounce_parse(text, strlen(text), &rep), ==, 0);
  g_assert_nonnull(rep);
  return rep;
}

static BounceRecipient *rcpt(BounceReport *rep, guint i)
{
  g_assert_cmpuint(i, <, rep->recipients->len);
  return g_ptr_array_index(rep->recipients, i);
}

static void test_dsn(void)
{
  g_autoptr(BounceReport) rep = parse(dsn);
  g_assert_cmpint(rep->kind, ==, BOUNCE_KIND_DSN);
  g_assert_cmpuint(rep->recipients->len, ==, 2);
  BounceRecipient *a = rcpt(rep, 0), *b = rcpt(rep, 1);
  g_assert_cmpstr(a->recipient, ==, "nobody@example.org");
  g_assert_cmpstr(a->original_recipient, ==, "nobody@example.org");
  g_assert_cmpstr(a->action, ==, "failed");
  g_assert_cmpstr(a->status, ==, "5.1.1");
  g_assert_cmpstr(a->diagnostic, ==,
                  "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table");
  g_assert_cmpstr(a->reason, ==, "userunknown");
  g_assert_cmpint(a->hard, ==, BOUNCE_HARD);
  g_assert_cmpstr(b->recipient, ==, "full@example.org");
  g_assert_cmpstr(b->action, ==, "delayed");
  g_assert_cmpstr(b->status, ==, "4.2.2");
  g_assert_cmpstr(b->reason, ==, "mailboxfull");
  g_assert_cmpint(b->hard, ==, BOUNCE_SOFT);
  g_assert_cmpstr(rep->original_message_id, ==, "abc.123@example.com");
  g_assert_nonnull(strstr(rep->original_headers, "Subject: hello"));
}

static void test_postfix_text(void)
{
  g_autoptr(BounceReport) rep = parse(
    "From: MAILER-DAEMON@mx.example.net\n"
    "To: sender@example.com\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "\n"
    "This is the mail system at host mx.example.net.\n"
    "\n"
    "<gone@example.org>: host mx.example.org[192.0.2.1] said: 550 5.2.1 This\n"
    "    mailbox is disabled (in reply to RCPT TO command)\n"
    "\n"
    "<busy@example.org>: connect to mx.example.org[192.0.2.1]:25: Connection timed out\n"
    "\n"
    "------ This is a copy of the message, including all the headers. ------\n"
    "\n"
    "Return-Path: <sender@example.com>\n"
    "To: gone@example.org\n"
    "Message-Id: <m1@example.com>\n"
    "\n"
    "hello\n");
  g_assert_cmpint(rep->kind, ==, BOUNCE_KIND_TEXT);
  g_assert_cmpuint(rep->recipients->len, ==, 2);
  BounceRecipient *a = rcpt(rep, 0), *b = rcpt(rep, 1);
  g_assert_cmpstr(a->recipient, ==, "gone@example.org");
  g_assert_cmpstr(a->status, ==, "5.2.1");
  g_assert_cmpstr(a->command, ==, "RCPT");
  g_assert_cmpstr(a->reason, ==, "suspend");
  g_assert_cmpint(a->hard, ==, BOUNCE_SOFT);
  g_assert_cmpstr(b->recipient, ==, "busy@example.org");
  g_assert_cmpstr(b->reason, ==, "expired");
  g_assert_cmpstr(rep->original_message_id, ==, "m1@example.com");
}

static void test_qmail_text(void)
{
  g_autoptr(BounceReport) rep = parse(
    "From: MAILER-DAEMON@example.net\n"
    "Subject: failure notice\n"
    "\n"
    "Hi. This is the qmail-send program at example.net.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
    "\n"
    "<who@example.org>:\n"
    "192.0.2.2 does not like recipient.\n"
    "Remote host said: 550 5.1.1 <who@example.org>... User Unknown\n"
    "Giving up on 192.0.2.2.\n"
    "\n"
    "--- Below this line is a copy of the message.\n"
    "\n"
    "To: who@example.org\n");
  g_assert_cmpuint(rep->recipients->len, ==, 1);
  g_assert_cmpstr(rcpt(rep, 0)->recipient, ==, "who@example.org");
  g_assert_cmpstr(rcpt(rep, 0)->status, ==, "5.1.1");
  g_assert_cmpstr(rcpt(rep, 0)->reason, ==, "userunknown");
  g_assert_cmpint(rcpt(rep, 0)->hard, ==, BOUNCE_HARD);
}

static void test_arf(void)
{
  g_autoptr(BounceReport) rep = parse(
    "From: feedback@isp.example\n"
    "Subject: FW: hello\n"
    "Content-Type: multipart/report; report-type=feedback-report; boundary=\"F\"\n"
    "\n"
    "--F\n"
    "Content-Type: text/plain\n"
    "\n"
    "This is an email abuse report.\n"
    "--F\n"
    "Content-Type: message/feedback-report\n"
    "\n"
    "Feedback-Type: abuse\n"
    "User-Agent: SomeGenerator/1.0\n"
    "Version: 1\n"
    "Original-Rcpt-To: <Complainer@isp.example>\n"
    "\n"
    "--F\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: sender@example.com\n"
    "To: complainer@isp.example\n"
    "Message-ID: <c1@example.com>\n"
    "\n"
    "spam?\n"
    "--F--\n");
  g_assert_cmpint(rep->kind, ==, BOUNCE_KIND_FEEDBACK);
  g_assert_cmpuint(rep->recipients->len, ==, 1);
  g_assert_cmpstr(rcpt(rep, 0)->recipient, ==, "complainer@isp.example");
  g_assert_cmpstr(rcpt(rep, 0)->reason, ==, "feedback");
  g_assert_cmpint(rcpt(rep, 0)->hard, ==, BOUNCE_NEITHER);
  g_assert_cmpstr(rep->original_message_id, ==, "c1@example.com");
}

static void test_autoreply_and_none(void)
{
  g_autoptr(BounceReport) rep = parse("From: Away <Away@example.org>\n"
                                      "Auto-Submitted: auto-replied\n"
                                      "Subject: Out of office\n"
                                      "\n"
                                      "I am out of the office until Monday.\n");
  g_assert_cmpint(rep->kind, ==, BOUNCE_KIND_AUTOREPLY);
  g_assert_cmpuint(rep->recipients->len, ==, 1);
  g_assert_cmpstr(rcpt(rep, 0)->recipient, ==, "away@example.org");
  g_assert_cmpstr(rcpt(rep, 0)->reason, ==, "vacation");
  g_assert_cmpint(rcpt(rep, 0)->hard, ==, BOUNCE_NEITHER);

  g_autoptr(BounceReport) none = parse("From: a@example.com\nTo: b@example.org\nSubject: hi\n\nsee you\n");
  g_assert_cmpint(none->kind, ==, BOUNCE_KIND_NONE);
  g_assert_cmpuint(none->recipients->len, ==, 0);
  /* Ordinary mail quoting an address at the start of a line is not a bounce. */
  g_autoptr(BounceReport) quoting = parse("From: a@example.com\nTo: b@example.org\nSubject: contacts\n\n"
                                          "<carol@example.net>: she handles the invoices\n");
  g_assert_cmpint(quoting->kind, ==, BOUNCE_KIND_NONE);
  g_assert_cmpuint(quoting->recipients->len, ==, 0);
  g_autoptr(BounceReport) empty = parse("");
  g_assert_cmpint(empty->kind, ==, BOUNCE_KIND_NONE);
}

/* Status: 5.0.0 says nothing (RFC 3463); the server's own 5.2.2 in the diagnostic decides. A
 * diagnostic longer than the bound is cut at it, on a character boundary. */
static void test_dsn_refinements(void)
{
  GString *long_diag = g_string_new(NULL);
  for (int i = 0; i < 600; i++) g_string_append(long_diag, "\xc3\xa9"); /* é: 1200 bytes */
  g_autofree char *msg = g_strdup_printf(
    "From: MAILER-DAEMON@mx.example.net\n"
    "Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
    "--B\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.net\n\n"
    "Final-Recipient: rfc822; full@example.org\nAction: failed\nStatus: 5.0.0\n"
    "Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\n\n"
    "Final-Recipient: rfc822; long@example.org\nAction: failed\nStatus: 5.1.1\n"
    "Diagnostic-Code: smtp; 550 %s\n\n--B--\n", long_diag->str);
  g_string_free(long_diag, TRUE);
  g_autoptr(BounceReport) rep = parse(msg);
  g_assert_cmpuint(rep->recipients->len, ==, 2);
  g_assert_cmpstr(rcpt(rep, 0)->status, ==, "5.2.2");
  g_assert_cmpstr(rcpt(rep, 0)->reason, ==, "mailboxfull");
  const char *d = rcpt(rep, 1)->diagnostic;
  g_assert_cmpuint(strlen(d), <=, BOUNCE_DIAGNOSTIC_MAX);
  g_assert_cmpuint(strlen(d), >=, BOUNCE_DIAGNOSTIC_MAX - 2);
  g_assert_true(g_utf8_validate(d, -1, NULL));
  g_assert_cmpstr(rcpt(rep, 1)->reason, ==, "userunknown");
}

static void test_reason_rules(void)
{
  /* The status code alone, the text alone, the command, the action. */
  g_assert_cmpstr(bounce_reason("5.1.1", "failed", "", ""), ==, "userunknown");
  g_assert_cmpstr(bounce_reason("5.2.2", "failed", "", ""), ==, "mailboxfull");
  g_assert_cmpstr(bounce_reason("", "failed", "", "550 Host unknown"), ==, "hostunknown");
  g_assert_cmpstr(bounce_reason("", "failed", "RCPT", "550 user unknown"), ==, "userunknown");
  g_assert_cmpstr(bounce_reason("", "failed", "DATA", "550 user unknown"), ==, "filtered");
  g_assert_cmpstr(bounce_reason("", "delayed", "", ""), ==, "expired");
  g_assert_cmpstr(bounce_reason("2.0.0", "delivered", "", ""), ==, "delivered");
  g_assert_cmpstr(bounce_reason("5.7.1", "failed", "", "550 5.7.1 message rejected as spam"), ==, "spamdetected");
  g_assert_cmpstr(bounce_reason("", "failed", "", "something odd happened"), ==, "onhold");
  g_assert_cmpstr(bounce_reason("5.1.10", "failed", "", "the domain returned null mx (rfc 7505)"), ==, "notaccept");
  g_assert_cmpstr(bounce_reason("", "", "", ""), ==, "undefined");
  g_assert_cmpint(bounce_severity("userunknown", "5.1.1"), ==, BOUNCE_HARD);
  g_assert_cmpint(bounce_severity("mailboxfull", "5.2.2"), ==, BOUNCE_SOFT);
  g_assert_cmpint(bounce_severity("notaccept", "5.1.2"), ==, BOUNCE_HARD);
  g_assert_cmpint(bounce_severity("notaccept", "4.4.4"), ==, BOUNCE_SOFT);
  g_assert_cmpint(bounce_severity("feedback", ""), ==, BOUNCE_NEITHER);
}

static void test_patterns_compile(void)
{
  guint n = 0, compiled = 0;
  for (gsize i = 0; bounce_reason_patterns[i].reason; i++, n++) {
    if (!bounce_reason_patterns[i].pattern) continue;
    int err;
    PCRE2_SIZE off;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR) bounce_reason_patterns[i].pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_EXTENDED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (!re) g_error("%s: pattern does not compile at %zu", bounce_reason_patterns[i].reason, (size_t) off);
    pcre2_code_free(re);
    compiled++;
  }
  g_assert_cmpuint(n, >=, 25);
  g_assert_cmpuint(compiled, >=, 4);
}

static void test_bounds(void)
{
  BounceReport *rep = (BounceReport *) 0x1;
  g_assert_cmpint(bounce_parse(dsn, (gsize) BOUNCE_INPUT_MAX + 1, &rep), ==, -1);
  g_assert_null(rep);
  /* Every prefix of the DSN: no crash, and recipients only once the groups are there. */
  gsize len = strlen(dsn);
  const char *first_group = strstr(dsn, "Final-Recipient");
  for (gsize n = 0; n <= len; n++) {
    BounceReport *p = NULL;
    g_assert_cmpint(bounce_parse(dsn, n, &p), ==, 0);
    if (n < (gsize) (first_group - dsn)) g_assert_cmpint(p->kind, !=, BOUNCE_KIND_DSN);
    bounce_report_free(p);
  }
  BounceReport *whole = NULL;
  g_assert_cmpint(bounce_parse(dsn, len, &whole), ==, 0);
  g_assert_cmpuint(whole->recipients->len, ==, 2);
  bounce_report_free(whole);
}

/* The formats beyond plain RFC 3464 (tests/fixtures/bounce/formats, README there): each file's
 * recipients in order, with reason, hard/soft and, where the format states it, the command. */
static void test_formats(void)
{
  static const struct {
    const char *file;
    guint count, index;
    const char *recipient, *reason;
    BounceSeverity hard;
    const char *command;
  } cases[] = {
    {"exchange2003.eml", 1, 0, "nobody@example.jp", "userunknown", BOUNCE_HARD, NULL},
    {"office365.eml", 1, 0, "far@example.net", "expired", BOUNCE_SOFT, NULL},
    {"powermta.eml", 1, 0, "gone@example.org", "userunknown", BOUNCE_HARD, NULL},
    {"qmail.eml", 1, 0, "far@example.net", "networkerror", BOUNCE_SOFT, NULL},
    {"sendmail-transcript.eml", 2, 0, "someone@example.edu", "norelaying", BOUNCE_SOFT, "MAIL"},
    {"sendmail-transcript.eml", 2, 1, "nobody@example.org", "userunknown", BOUNCE_HARD, "RCPT"},
    {"rhost-laposte.eml", 1, 0, "nobody@laposte.net", "userunknown", BOUNCE_HARD, NULL},
    {"rhost-godaddy.eml", 1, 0, "someone@example.com", "toomanyconn", BOUNCE_SOFT, NULL},
    {"rhost-kddi.eml", 1, 0, "someone@ezweb.ne.jp", "filtered", BOUNCE_SOFT, NULL},
    {"mda-mail-local.eml", 1, 0, "nobody@host.example.net", "userunknown", BOUNCE_HARD, NULL},
    {"x-unix.eml", 1, 0, "someone@host.example.org", "mailererror", BOUNCE_SOFT, NULL},
    {"quoted-local-part.eml", 1, 0, "\"john..doe\"@example.org", "userunknown", BOUNCE_HARD, NULL},
    {"forwarded-inline.eml", 1, 0, "gone@example.net", "userunknown", BOUNCE_HARD, NULL},
    {"forwarded-attached.eml", 1, 0, "gone@example.net", "userunknown", BOUNCE_HARD, NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *path = g_build_filename(FIXTURES_DIR, "bounce", "formats", cases[i].file, NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    g_autoptr(BounceReport) rep = NULL;
    g_assert_cmpint(bounce_parse(data, len, &rep), ==, 0);
    if (rep->recipients->len != cases[i].count) g_error("%s: %u recipients", cases[i].file, rep->recipients->len);
    BounceRecipient *r = rcpt(rep, cases[i].index);
    if (strcmp(r->recipient, cases[i].recipient) || strcmp(r->reason, cases[i].reason) || r->hard != cases[i].hard)
      g_error("%s: %s %s %d, want %s %s %d", cases[i].file, r->recipient, r->reason, r->hard, cases[i].recipient,
              cases[i].reason, cases[i].hard);
    if (cases[i].command) g_assert_cmpstr(r->command, ==, cases[i].command);
  }
}

/* The new readings on every prefix of their input: no crash, no leak, valid fields. */
static void test_formats_bytewise(void)
{
  static const char *const files[] = {"sendmail-transcript.eml", "forwarded-inline.eml", "forwarded-attached.eml",
                                      "exchange2003.eml", "qmail.eml"};
  for (gsize f = 0; f < G_N_ELEMENTS(files); f++) {
    g_autofree char *path = g_build_filename(FIXTURES_DIR, "bounce", "formats", files[f], NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(path, &data, &len, NULL));
    for (gsize n = 0; n <= len; n++) {
      BounceReport *p = NULL;
      g_assert_cmpint(bounce_parse(data, n, &p), ==, 0);
      for (guint i = 0; i < p->recipients->len; i++) g_assert_nonnull(rcpt(p, i)->reason);
      bounce_report_free(p);
    }
  }
}

/* Sisimai's rules as it applies them, and the host and MTA tables on their own. */
static void test_sisimai_rules(void)
{
  /* An unknown user is a refusal at RCPT; without the command it is read as a filter. */
  g_assert_cmpstr(bounce_reason("", "failed", "", "550 user unknown"), ==, "filtered");
  g_assert_cmpstr(bounce_reason("5.1.1", "failed", "", "550 5.1.1 user unknown"), ==, "userunknown");
  /* A *.1.1 code stays userunknown unless the text names another reason first. */
  g_assert_cmpstr(bounce_reason("5.1.1", "failed", "RCPT", "550 5.1.1 relay access denied"), ==, "norelaying");
  /* RFC 5321 50x replies are syntax errors; X-Unix diagnostics a local program's failure. */
  g_assert_cmpstr(bounce_reason("5.0.0", "failed", "DATA", "503 improper sequence of commands"), ==, "syntaxerror");
  BounceFacts unix_facts = {.status = "5.3.0", .action = "failed", .diagnostic = "procmail: exit 75",
                            .diagnostic_type = "X-Unix"};
  g_assert_cmpstr(bounce_reason_decide(&unix_facts), ==, "mailererror");
  /* A reason the MTA named stands, unless an earlier reason of the order is true. */
  BounceFacts named = {.status = "5.2.2", .action = "failed", .diagnostic = "552 5.2.2 mailbox full",
                       .mta_reason = "userunknown"};
  g_assert_cmpstr(bounce_reason_decide(&named), ==, "mailboxfull");
  named.status = "5.0.0", named.diagnostic = "550 rejected";
  g_assert_cmpstr(bounce_reason_decide(&named), ==, "userunknown");
  named.mta_reason = "expired";
  g_assert_cmpstr(bounce_reason_decide(&named), ==, "expired");
  /* Remote hosts: by the answering host, else by the recipient's domain. */
  g_assert_cmpstr(bounce_rhost_reason("smtpz4.laposte.net", "a@example.org", "5.2.2", 552, "", "552 LPN007_417"), ==,
                  "mailboxfull");
  g_assert_cmpstr(bounce_rhost_reason(NULL, "a@orange.fr", "5.0.0", 550, "", "550 OFR004_104"), ==, "toomanyconn");
  g_assert_cmpstr(bounce_rhost_reason("mx.example.org", "a@example.org", "5.0.0", 550, "", "550 OFR004_104"), ==, "");
  g_assert_cmpstr(bounce_rhost_reason("mfsmax.docomo.ne.jp", "a@docomo.ne.jp", "5.0.0", 550, "DATA", "550 unknown"), ==,
                  "rejected");
  g_assert_cmpstr(bounce_rhost_reason("mx3.qq.com", "a@qq.com", "5.0.0", 550, "", "550 mailbox not found"), ==,
                  "userunknown");
  /* A multi-line reply quoted on one line reads whole; a code said twice is left alone. */
  char quoted[] = "550-5.7.1 Our system has 550-5.7.1 detected that 550 5.7.1 this message is spam";
  bounce_join_reply(quoted);
  g_assert_cmpstr(quoted, ==, "550-5.7.1 Our system has detected that this message is spam");
  char twice[] = "550 5.1.1 <a@example.org>: 550 user unknown";
  bounce_join_reply(twice);
  g_assert_cmpstr(twice, ==, "550 5.1.1 <a@example.org>: 550 user unknown");
  /* Reply codes: not inside an IPv4 address. */
  g_assert_cmpint(bounce_reply_code("host 192.0.2.250 said: 550 5.1.1 no"), ==, 550);
  g_assert_cmpint(bounce_reply_code("250 2.1.5 ok"), ==, 250);
  g_assert_cmpint(bounce_reply_code("nothing here"), ==, 0);
  /* Sendmail's transcript: the command and the reply quoted before the recipient's line. */
  const char transcript[] = "While talking to mx.example.org:\n>>> DATA\n<<< 554 5.7.1 spam\n"
                            "554 <a@example.org>... Service unavailable\n";
  const char *command;
  g_autofree char *diag = NULL;
  g_assert_true(bounce_sendmail_transcript(transcript, strlen(transcript), "a@example.org", &command, &diag));
  g_assert_cmpstr(command, ==, "DATA");
  g_assert_cmpstr(diag, ==, "554 5.7.1 spam Service unavailable");
  g_autofree char *none = NULL;
  g_assert_false(bounce_sendmail_transcript(transcript, strlen(transcript), "b@example.org", &command, &none));
  /* A multi-line reply reads as one sentence; without a recipient, the first exchange answers. */
  const char multi[] = "... while talking to mx.example.org.:\n>>> DATA\n<<< 550-5.7.1 not accepted due to\n"
                       "<<< 550 5.7.1 the domain's DMARC policy\n554 5.0.0 Service unavailable\n";
  g_autofree char *joined = NULL;
  g_assert_true(bounce_sendmail_transcript(multi, strlen(multi), NULL, &command, &joined));
  g_assert_cmpstr(command, ==, "DATA");
  g_assert_cmpstr(joined, ==, "550-5.7.1 not accepted due to the domain's DMARC policy");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/bounce/dsn", test_dsn);
  g_test_add_func("/bounce/postfix_text", test_postfix_text);
  g_test_add_func("/bounce/qmail_text", test_qmail_text);
  g_test_add_func("/bounce/arf", test_arf);
  g_test_add_func("/bounce/autoreply_and_none", test_autoreply_and_none);
  g_test_add_func("/bounce/dsn_refinements", test_dsn_refinements);
  g_test_add_func("/bounce/reason_rules", test_reason_rules);
  g_test_add_func("/bounce/patterns_compile", test_patterns_compile);
  g_test_add_func("/bounce/bounds", test_bounds);
  g_test_add_func("/bounce/formats", test_formats);
  g_test_add_func("/bounce/formats_bytewise", test_formats_bytewise);
  g_test_add_func("/bounce/sisimai_rules", test_sisimai_rules);
  return g_test_run();
}
