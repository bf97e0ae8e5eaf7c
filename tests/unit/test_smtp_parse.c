/* test_smtp_parse.c - table-driven tests of agent/smtp/smtp_parse: command verbs, MAIL/RCPT paths
 * and parameters, the open-relay refusals, and the DATA/BDAT decoder fed whole, byte by byte and at
 * every split point (every smuggling ending of CVE-2023-51764/5/6 must not end DATA). */
#include "agent/smtp/smtp_parse.h"

#include <string.h>

static void test_command_verbs(void)
{
  static const struct {
    const char *line;
    SmtpCmd cmd;
    const char *arg;
    gboolean bad;
  } cases[] = {
    {"EHLO client.example", SMTP_CMD_EHLO, "client.example", FALSE},
    {"ehlo x", SMTP_CMD_EHLO, "x", FALSE},
    {"HELO x", SMTP_CMD_HELO, "x", FALSE},
    {"MAIL FROM:<a@b>", SMTP_CMD_MAIL, "FROM:<a@b>", FALSE},
    {"rcpt TO:<a@b>", SMTP_CMD_RCPT, "TO:<a@b>", FALSE},
    {"DATA", SMTP_CMD_DATA, "", FALSE},
    {"BDAT 100 LAST", SMTP_CMD_BDAT, "100 LAST", FALSE},
    {"RSET", SMTP_CMD_RSET, "", FALSE},
    {"NOOP", SMTP_CMD_NOOP, "", FALSE},
    {"QUIT", SMTP_CMD_QUIT, "", FALSE},
    {"HELP", SMTP_CMD_HELP, "", FALSE},
    {"VRFY x", SMTP_CMD_VRFY, "x", FALSE},
    {"etrn example.com", SMTP_CMD_ETRN, "example.com", FALSE},
    {"StartTLS", SMTP_CMD_STARTTLS, "", FALSE},
    {"MAILX FROM:<a@b>", SMTP_CMD_UNKNOWN, "FROM:<a@b>", FALSE},
    {"MAI", SMTP_CMD_UNKNOWN, "", FALSE},
    {"", SMTP_CMD_UNKNOWN, "", FALSE},
    {"GET / HTTP/1.0", SMTP_CMD_UNKNOWN, "/ HTTP/1.0", FALSE},
    {"NOOP\rx", SMTP_CMD_UNKNOWN, NULL, TRUE},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    const char *arg = NULL;
    gboolean bad = FALSE;
    SmtpCmd c = smtp_parse_command(cases[i].line, strlen(cases[i].line), &arg, &bad);
    g_assert_cmpint(c, ==, cases[i].cmd);
    g_assert_cmpint(bad, ==, cases[i].bad);
    if (cases[i].arg) g_assert_cmpstr(arg, ==, cases[i].arg);
  }
  /* a NUL inside a command is refused, not truncated */
  {
    const char line[] = "NOOP\0MAIL";
    const char *arg;
    gboolean bad;
    g_assert_cmpint(smtp_parse_command(line, sizeof line - 1, &arg, &bad), ==, SMTP_CMD_UNKNOWN);
    g_assert_true(bad);
  }
}

static void test_mail_paths(void)
{
  static const struct {
    const char *arg;
    int rc;
    const char *address;   /* expected address, or reply prefix on failure */
    gint64 size;
    SmtpBody body;
    gboolean utf8;
  } cases[] = {
    {"FROM:<alice@example.com>", 0, "alice@example.com", -1, SMTP_BODY_DEFAULT, FALSE},
    {"from:<alice@example.com>", 0, "alice@example.com", -1, SMTP_BODY_DEFAULT, FALSE},
    {"FROM: <alice@example.com>", 0, "alice@example.com", -1, SMTP_BODY_DEFAULT, FALSE},
    {"FROM:<>", 0, "", -1, SMTP_BODY_DEFAULT, FALSE},
    {"FROM:<a@b.c> SIZE=1000", 0, "a@b.c", 1000, SMTP_BODY_DEFAULT, FALSE},
    {"FROM:<a@b.c> size=0 body=8bitmime", 0, "a@b.c", 0, SMTP_BODY_8BITMIME, FALSE},
    {"FROM:<a@b.c> BODY=7BIT", 0, "a@b.c", -1, SMTP_BODY_7BIT, FALSE},
    {"FROM:<a@b.c> BODY=BINARYMIME", 0, "a@b.c", -1, SMTP_BODY_BINARYMIME, FALSE},
    {"FROM:<a@b.c>  SIZE=5   BODY=7BIT ", 0, "a@b.c", 5, SMTP_BODY_7BIT, FALSE},
    {"FROM:<SRS0=HHH=TT=example.org=bob@corp.example>", 0, "SRS0=HHH=TT=example.org=bob@corp.example", -1, 0, FALSE},
    {"FROM:<\"john doe\"@example.com>", 0, "\"john doe\"@example.com", -1, 0, FALSE},
    {"FROM:<@relay.example:a@b.c>", 0, "a@b.c", -1, 0, FALSE},
    {"FROM:<j\xc3\xb6rg@example.com> SMTPUTF8", 0, "j\xc3\xb6rg@example.com", -1, 0, TRUE},
    {"FROM:<j\xc3\xb6rg@example.com>", -1, "553 5.6.7", 0, 0, FALSE},
    {"FROM:alice@example.com", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<alice@example.com", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<alice>", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<alice", -1, "501 5.1.7", 0, 0, FALSE}, /* fuzz: the line ends inside an atom */
    {"FROM:<a.b", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<alice@>", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<a..b@example.com>", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<a@b@c>", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<a@-b.com>", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<a@b.com.>", -1, "501 5.1.7", 0, 0, FALSE},
    {"FROM:<a@b.com>x", -1, "501 5.1.7", 0, 0, FALSE},
    {"TO:<a@b.com>", -1, "501 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> SIZE=", -1, "501 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> SIZE=12x", -1, "501 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> SIZE=1 SIZE=2", -1, "501 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> SIZE=9999999999999999999999", -1, "501 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> BODY=9BIT", -1, "501 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> SMTPUTF8=yes", -1, "501 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> RET=HDRS", -1, "555 5.5.4", 0, 0, FALSE},
    {"FROM:<a@b.c> =x", -1, "555 5.5.4", 0, 0, FALSE},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    SmtpPath p;
    const char *reply = NULL;
    int rc = smtp_parse_mail(cases[i].arg, &p, &reply);
    if (rc != cases[i].rc) g_error("case %zu [%s]: rc %d (%s)", i, cases[i].arg, rc, reply ? reply : "");
    if (rc == 0) {
      g_assert_cmpstr(p.address, ==, cases[i].address);
      g_assert_cmpint(p.size, ==, cases[i].size);
      g_assert_cmpint(p.body, ==, cases[i].body);
      g_assert_cmpint(p.smtputf8, ==, cases[i].utf8);
    } else {
      if (!g_str_has_prefix(reply, cases[i].address)) g_error("case %zu [%s]: reply %s", i, cases[i].arg, reply);
    }
  }
}

/* Every open-relay form of issue 3 is refused with 5xx; our own addresses come back lower-cased. */
static void test_rcpt_relay_forms(void)
{
  static const struct {
    const char *arg;
    const char *want; /* local part, or the reply prefix ("5" = any 5xx at parse or check) */
  } cases[] = {
    {"TO:<acme-k3x9@inbound.test>", "acme-k3x9"},
    {"to:<ACME-K3X9@INBOUND.TEST>", "acme-k3x9"},        /* same mailbox: delivered here, never relayed */
    {"TO:<acme-k3x9@Inbound.Test>", "acme-k3x9"},
    {"TO:<user%other.example@inbound.test>", "550 5.7.1"},
    {"TO:<\"user@other.example\"@inbound.test>", "550 5.7.1"},
    {"TO:<@inbound.test:user@other.example>", "550 5.7.1"},
    {"TO:<@inbound.test,@x.example:user@inbound.test>", "550 5.7.1"},
    {"TO:<other.example!user@inbound.test>", "550 5.7.1"},
    {"TO:<user@other.example@inbound.test>", "501 5.1.3"},
    {"TO:<user@[127.0.0.1]>", "550 5.7.1"},
    {"TO:<user@[IPv6:::1]>", "550 5.7.1"},
    {"TO:<user@inbound.test.>", "501 5.1.3"},
    {"TO:<user@inbound.test.other.example>", "550 5.7.1"},
    {"TO:<user@other.example>", "550 5.7.1"},
    {"TO:<user@xinbound.test>", "550 5.7.1"},
    {"TO:<user@inbound.tes>", "550 5.7.1"},
    {"TO:<us\"er@inbound.test>", "501 5.1.3"},
    {"TO:<user#1@inbound.test>", "550 5.1.1"},
    {"TO:<>", "501 5.1.3"},
    {"TO:<user%", "501 5.1.3"}, /* fuzz: the line ends inside the local part */
    {"TO:<user@inbound.test> NOTIFY=NEVER", "555 5.5.4"},
    {"TO:user@inbound.test", "501 5.1.3"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    SmtpPath p;
    const char *reply = NULL;
    char local[SMTP_MAX_LOCAL + 1];
    int rc = smtp_parse_rcpt(cases[i].arg, &p, &reply);
    if (rc == 0) rc = smtp_rcpt_local_part(&p, "inbound.test", local, &reply);
    if (g_ascii_isdigit(cases[i].want[0])) {
      if (rc == 0) g_error("case %zu [%s] accepted as %s", i, cases[i].arg, local);
      if (!g_str_has_prefix(reply, cases[i].want)) g_error("case %zu [%s]: reply %s", i, cases[i].arg, reply);
    } else {
      if (rc != 0) g_error("case %zu [%s] refused: %s", i, cases[i].arg, reply);
      g_assert_cmpstr(local, ==, cases[i].want);
    }
  }
}

/* ---- decoder ---------------------------------------------------------------------------------- */

static const SmtpDataLimits limits = {.max_size = 1000, .max_line = 1000, .max_header = 200, .max_headers = 20};

typedef struct {
  int done;
  gsize consumed; /* octets consumed in total up to the end */
  SmtpDataError error;
  gint64 header_size;
  GByteArray *out;
} DecodeResult;

/* Feeds input in pieces of `step` octets (0: whole). */
static DecodeResult decode(const SmtpDataLimits *lim, gboolean dot_mode, const char *in, gsize len, gsize step)
{
  DecodeResult r = {0};
  SmtpDataDecoder *d;
  gsize off = 0;

  r.out = g_byte_array_new();
  d = smtp_data_decoder_new(lim, dot_mode, r.out);
  if (step == 0) step = len ? len : 1;
  while (off < len) {
    gsize n = MIN(step, len - off), used = 0;
    int rc = smtp_data_decoder_feed(d, (const guint8 *) in + off, n, &used);
    off += used;
    if (rc == 1) {
      r.done = 1;
      break;
    }
    g_assert_cmpuint(used, ==, n);
  }
  if (!dot_mode) smtp_data_decoder_finish(d);
  r.consumed = off;
  r.error = smtp_data_decoder_error(d);
  r.header_size = smtp_data_decoder_header_size(d);
  smtp_data_decoder_free(d);
  return r;
}

/* Decodes whole, byte by byte and at every two-piece split; all must agree. */
static DecodeResult decode_all_ways(const SmtpDataLimits *lim, gboolean dot_mode, const char *in, gsize len)
{
  DecodeResult whole = decode(lim, dot_mode, in, len, 0);
  DecodeResult bytes = decode(lim, dot_mode, in, len, 1);
  g_assert_cmpint(whole.done, ==, bytes.done);
  g_assert_cmpuint(whole.consumed, ==, bytes.consumed);
  g_assert_cmpint(whole.error, ==, bytes.error);
  g_assert_cmpint(whole.header_size, ==, bytes.header_size);
  g_assert_cmpmem(whole.out->data, whole.out->len, bytes.out->data, bytes.out->len);
  g_byte_array_unref(bytes.out);
  for (gsize step = 2; step < len && step < 40; step++) {
    DecodeResult r = decode(lim, dot_mode, in, len, step);
    g_assert_cmpint(whole.done, ==, r.done);
    g_assert_cmpuint(whole.consumed, ==, r.consumed);
    g_assert_cmpint(whole.error, ==, r.error);
    g_assert_cmpint(whole.header_size, ==, r.header_size);
    g_assert_cmpmem(whole.out->data, whole.out->len, r.out->data, r.out->len);
    g_byte_array_unref(r.out);
  }
  return whole;
}

static void test_data_plain(void)
{
  static const char in[] = "Subject: hi\r\n\r\nline one\r\n..dotted\r\n.x\r\n\r\n.\r\nMAIL FROM:<next@x>\r\n";
  static const char want[] = "Subject: hi\r\n\r\nline one\r\n.dotted\r\nx\r\n\r\n";
  DecodeResult r = decode_all_ways(&limits, TRUE, in, sizeof in - 1);
  g_assert_cmpint(r.done, ==, 1);
  g_assert_cmpint(r.error, ==, SMTP_DATA_OK);
  g_assert_cmpmem(r.out->data, r.out->len, want, sizeof want - 1);
  /* the command after the terminator is left for the session */
  g_assert_cmpstr(in + r.consumed, ==, "MAIL FROM:<next@x>\r\n");
  g_byte_array_unref(r.out);

  /* an empty message: the terminator at the very start */
  r = decode_all_ways(&limits, TRUE, ".\r\n", 3);
  g_assert_cmpint(r.done, ==, 1);
  g_assert_cmpuint(r.out->len, ==, 0);
  g_byte_array_unref(r.out);
}

/* Each smuggling ending from issue 3 followed by a second message: the decoder must not stop
 * there; the whole input is one message, ended only by the real CRLF.CRLF, and (except the NUL
 * case, which has no bare newline) it carries the sticky bare-newline error. */
static void test_data_smuggling(void)
{
  static const struct {
    const char *ending;
    gsize len;
    SmtpDataError error;
  } endings[] = {
    {"\n.\n", 3, SMTP_DATA_BARE_NEWLINE},     {"\r.\r", 3, SMTP_DATA_BARE_NEWLINE},
    {"\r.\n", 3, SMTP_DATA_BARE_NEWLINE},     {"\n.\r", 3, SMTP_DATA_BARE_NEWLINE},
    {"\n.\r\n", 4, SMTP_DATA_BARE_NEWLINE},   {"\r\n.\n", 4, SMTP_DATA_BARE_NEWLINE},
    {"\r.\r\n", 4, SMTP_DATA_BARE_NEWLINE},   {"\r\n.\r", 4, SMTP_DATA_BARE_NEWLINE},
    {"\r\n\0.\r\n", 6, SMTP_DATA_OK},          {"\n\n", 2, SMTP_DATA_BARE_NEWLINE},
    {"\r\r\n.\r\r\n", 7, SMTP_DATA_BARE_NEWLINE},
  };
  static const char head[] = "From: a@b\r\nSubject: x\r\n\r\nbody";
  static const char smuggled[] = "MAIL FROM:<evil@x>\r\nRCPT TO:<v@inbound.test>\r\nDATA\r\nFrom: ceo@corp\r\n\r\nsmuggled";
  static const char tail[] = "\r\n.\r\nQUIT\r\n";

  for (gsize i = 0; i < G_N_ELEMENTS(endings); i++) {
    GByteArray *in = g_byte_array_new();
    DecodeResult r;
    g_byte_array_append(in, (const guint8 *) head, sizeof head - 1);
    g_byte_array_append(in, (const guint8 *) endings[i].ending, endings[i].len);
    g_byte_array_append(in, (const guint8 *) smuggled, sizeof smuggled - 1);
    g_byte_array_append(in, (const guint8 *) tail, sizeof tail - 1);
    r = decode_all_ways(&limits, TRUE, (const char *) in->data, in->len);
    g_assert_cmpint(r.done, ==, 1);
    /* ended at the real terminator: only QUIT is left over */
    g_assert_cmpuint(in->len - r.consumed, ==, strlen("QUIT\r\n"));
    if (r.error != endings[i].error) g_error("ending %zu: error %d, want %d", i, r.error, endings[i].error);
    if (endings[i].error == SMTP_DATA_OK) {
      /* stored as one message, the NUL and the dot line intact */
      g_assert_nonnull(memmem(r.out->data, r.out->len, "\r\n\0.\r\nMAIL FROM", 15));
    }
    g_byte_array_unref(r.out);
    g_byte_array_unref(in);
  }
}

static void test_data_bare_newline_in_header(void)
{
  /* a bare LF inside a header must not make a second header: the message is refused */
  static const char in[] = "Subject: hi\nBcc: victim@x\r\n\r\nbody\r\n.\r\n";
  DecodeResult r = decode_all_ways(&limits, TRUE, in, sizeof in - 1);
  g_assert_cmpint(r.done, ==, 1);
  g_assert_cmpint(r.error, ==, SMTP_DATA_BARE_NEWLINE);
  g_byte_array_unref(r.out);
}

static void test_data_limits(void)
{
  GString *s = g_string_new(NULL);
  DecodeResult r;

  /* size: the 1000-octet cap is sticky; reading continues to the terminator; storage is capped */
  g_string_append(s, "Subject: big\r\n\r\n");
  for (int i = 0; i < 30; i++) g_string_append(s, "0123456789012345678901234567890123456789\r\n");
  g_string_append(s, ".\r\n");
  r = decode_all_ways(&limits, TRUE, s->str, s->len);
  g_assert_cmpint(r.done, ==, 1);
  g_assert_cmpint(r.error, ==, SMTP_DATA_TOO_BIG);
  g_assert_cmpuint(r.out->len, <=, limits.max_size);
  g_byte_array_unref(r.out);

  /* exactly at the cap is fine */
  g_string_truncate(s, 0);
  g_string_append(s, "a: b\r\n\r\n");
  while (s->len < 998) g_string_append_c(s, 'x');
  g_string_append(s, "\r\n.\r\n");
  {
    SmtpDataLimits lim = limits;
    lim.max_size = (gint64) s->len - 3;
    r = decode_all_ways(&lim, TRUE, s->str, s->len);
    g_assert_cmpint(r.error, ==, SMTP_DATA_OK);
    g_assert_cmpint(r.out->len, ==, lim.max_size);
    g_byte_array_unref(r.out);
    lim.max_size--;
    r = decode(&lim, TRUE, s->str, s->len, 0);
    g_assert_cmpint(r.error, ==, SMTP_DATA_TOO_BIG);
    g_byte_array_unref(r.out);
  }

  /* a line of 1001 octets with CRLF */
  {
    SmtpDataLimits lim = limits;
    lim.max_size = 100000;
    lim.max_header = 100000;
    g_string_truncate(s, 0);
    g_string_append(s, "a: b\r\n\r\n");
    for (int i = 0; i < 999; i++) g_string_append_c(s, 'y');
    g_string_append(s, "\r\n.\r\n");
    r = decode_all_ways(&lim, TRUE, s->str, s->len);
    g_assert_cmpint(r.error, ==, SMTP_DATA_LINE_TOO_LONG);
    g_byte_array_unref(r.out);
    /* 998 + CRLF = 1000 is fine */
    g_string_truncate(s, 0);
    g_string_append(s, "a: b\r\n\r\n");
    for (int i = 0; i < 998; i++) g_string_append_c(s, 'y');
    g_string_append(s, "\r\n.\r\n");
    r = decode_all_ways(&lim, TRUE, s->str, s->len);
    g_assert_cmpint(r.error, ==, SMTP_DATA_OK);
    g_byte_array_unref(r.out);
  }

  /* endlessly folded header */
  {
    SmtpDataLimits lim = limits;
    lim.max_size = 100000;
    g_string_truncate(s, 0);
    g_string_append(s, "Subject: x\r\n");
    for (int i = 0; i < 100; i++) g_string_append(s, " folded\r\n");
    g_string_append(s, "\r\nbody\r\n.\r\n");
    r = decode_all_ways(&lim, TRUE, s->str, s->len);
    g_assert_cmpint(r.error, ==, SMTP_DATA_HEADER_TOO_BIG);
    g_byte_array_unref(r.out);
    /* the same text in the body is fine */
    g_string_truncate(s, 0);
    g_string_append(s, "Subject: x\r\n\r\n");
    for (int i = 0; i < 100; i++) g_string_append(s, " folded\r\n");
    g_string_append(s, ".\r\n");
    r = decode_all_ways(&lim, TRUE, s->str, s->len);
    g_assert_cmpint(r.error, ==, SMTP_DATA_OK);
    g_byte_array_unref(r.out);
    /* too many header fields */
    g_string_truncate(s, 0);
    for (int i = 0; i < 21; i++) g_string_append(s, "X-A: 1\r\n");
    g_string_append(s, "\r\n.\r\n");
    r = decode_all_ways(&lim, TRUE, s->str, s->len);
    g_assert_cmpint(r.error, ==, SMTP_DATA_HEADER_TOO_BIG);
    g_byte_array_unref(r.out);
  }
  g_string_free(s, TRUE);
}

static void test_bdat_mode(void)
{
  /* BDAT: no dot-stuffing, no terminator, same newline checks */
  static const char ok[] = "Subject: x\r\n\r\n.\r\n..\r\n";
  static const char bad[] = "Subject: x\r\n\r\nline\n.\nmore\r\n";
  static const char dangling[] = "Subject: x\r\n\r\nline\r";
  DecodeResult r = decode_all_ways(&limits, FALSE, ok, sizeof ok - 1);
  g_assert_cmpint(r.done, ==, 0);
  g_assert_cmpint(r.error, ==, SMTP_DATA_OK);
  g_assert_cmpmem(r.out->data, r.out->len, ok, sizeof ok - 1);
  g_byte_array_unref(r.out);
  r = decode_all_ways(&limits, FALSE, bad, sizeof bad - 1);
  g_assert_cmpint(r.error, ==, SMTP_DATA_BARE_NEWLINE);
  g_byte_array_unref(r.out);
  r = decode_all_ways(&limits, FALSE, dangling, sizeof dangling - 1);
  g_assert_cmpint(r.error, ==, SMTP_DATA_BARE_NEWLINE);
  g_byte_array_unref(r.out);
}

/* The header section's length (read back from the spool file for the forwarder policy). */
/* BDAT's argument: the table, then every prefix of the good ones (a cut anywhere is refused or
 * reads a shorter size, never more). */
static void test_bdat_args(void)
{
  static const struct {
    const char *arg;
    int rc;
    gint64 size;
    gboolean last;
  } cases[] = {
    {"0", 0, 0, FALSE},
    {"14", 0, 14, FALSE},
    {"9 LAST", 0, 9, TRUE},
    {"9 last", 0, 9, TRUE},
    {"000000000000000001 LaSt", 0, 1, TRUE},
    {"999999999999999999", 0, 999999999999999999LL, FALSE},
    {"1000000000000000000", -1, 0, FALSE}, /* 19 digits */
    {"", -1, 0, FALSE},
    {"LAST", -1, 0, FALSE},
    {"-1", -1, 0, FALSE},
    {"+1", -1, 0, FALSE},
    {"5 ", -1, 0, FALSE},
    {"5  LAST", -1, 0, FALSE},
    {"5 LASTX", -1, 0, FALSE},
    {"5 FIRST", -1, 0, FALSE},
    {"5\tLAST", -1, 0, FALSE},
    {"0x10", -1, 0, FALSE},
    {" 5", -1, 0, FALSE},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    gint64 size = -7;
    gboolean last = -1;
    int rc = smtp_parse_bdat(cases[i].arg, &size, &last);
    g_assert_cmpint(rc, ==, cases[i].rc);
    if (rc == 0) {
      g_assert_cmpint(size, ==, cases[i].size);
      g_assert_cmpint(last, ==, cases[i].last);
    } else {
      g_assert_cmpint(size, ==, -7); /* nothing written on a refusal */
    }
  }
  const char *full = "123 LAST";
  for (gsize n = 0; n <= strlen(full); n++) {
    g_autofree char *cut = g_strndup(full, n);
    gint64 size = 0;
    gboolean last = FALSE;
    int rc = smtp_parse_bdat(cut, &size, &last);
    if (n >= 1 && n <= 3) { /* "1", "12", "123" */
      g_assert_cmpint(rc, ==, 0);
      g_assert_false(last);
    } else if (n == strlen(full)) {
      g_assert_cmpint(rc, ==, 0);
      g_assert_cmpint(size, ==, 123);
      g_assert_true(last);
    } else {
      g_assert_cmpint(rc, ==, -1);
    }
  }
}

static void test_data_header_size(void)
{
  static const struct {
    const char *in;
    gboolean dot_mode;
    gint64 header_size;
  } cases[] = {
    {"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore\r\n.\r\n", TRUE, 14},
    {"A: 1\r\n .folded\r\n\r\n.\r\n", TRUE, 18},
    {"..X: y\r\n\r\n..\r\n.\r\n", TRUE, 9},          /* stuffed dots do not count */
    {"A: 1\r\n.\r\n", TRUE, 6},                        /* no blank line: everything */
    {"\r\nbody\r\n.\r\n", TRUE, 2},                    /* empty header section */
    {"A: 1\r\n\r\n.x\r\n", FALSE, 8},                 /* BDAT: raw octets */
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    DecodeResult r = decode_all_ways(&limits, cases[i].dot_mode, cases[i].in, strlen(cases[i].in));
    g_assert_cmpint(r.error, ==, SMTP_DATA_OK);
    g_assert_cmpint(r.header_size, ==, cases[i].header_size);
    g_byte_array_unref(r.out);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp/parse/command", test_command_verbs);
  g_test_add_func("/smtp/parse/mail", test_mail_paths);
  g_test_add_func("/smtp/parse/rcpt_relay_forms", test_rcpt_relay_forms);
  g_test_add_func("/smtp/data/plain", test_data_plain);
  g_test_add_func("/smtp/data/smuggling", test_data_smuggling);
  g_test_add_func("/smtp/data/bare_newline_in_header", test_data_bare_newline_in_header);
  g_test_add_func("/smtp/data/limits", test_data_limits);
  g_test_add_func("/smtp/data/bdat", test_bdat_mode);
  g_test_add_func("/smtp/data/header_size", test_data_header_size);
  g_test_add_func("/smtp/parse/bdat", test_bdat_args);
  return g_test_run();
}
