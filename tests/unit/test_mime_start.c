/* test_mime_start.c - mime_header_start_problem, table-driven: what the SMTP server may refuse with
 * 554 5.6.0 before its 250 (empty, blank first line, indented first line, a first line that is no
 * header field) and what it must let through (ordinary headers, "Name : value", 8-bit names, an
 * mbox "From " line, a header with no body or line end). Each row is also checked against
 * mime_parse: a message called unreadable here must be one the parser refuses. */
#include "agent/mime/mime.h"

#include <string.h>

typedef struct {
  const char *input;
  gsize len; /* 0: strlen */
  gboolean refused;
  const char *reason_part;
} Case;

static const Case cases[] = {
  {"", 0, TRUE, "empty"},
  {"\r\nSubject: x\r\n\r\nbody\r\n", 0, TRUE, "blank line"},
  {"\nSubject: x\n\nbody\n", 0, TRUE, "blank line"},
  {" Subject: x\r\n\r\nbody\r\n", 0, TRUE, "white space"},
  {"\tSubject: x\r\n\r\nbody\r\n", 0, TRUE, "white space"},
  {"hello there\r\nSubject: x\r\n\r\nbody\r\n", 0, TRUE, "not a header field"},
  {"Subject x\r\nFrom: a@b.example\r\n\r\nbody\r\n", 0, TRUE, "not a header field"},
  {"X-Bad Header: y\r\nSubject: x\r\n\r\nbody\r\n", 0, TRUE, "not a header field"},
  {":x\r\nFrom: a@b.example\r\n\r\nbody\r\n", 0, TRUE, "not a header field"},
  {"no line end and no colon", 0, TRUE, "not a header field"},
  {"Subject: x\r\nFrom: a@b.example\r\n\r\nbody\r\n", 0, FALSE, NULL},
  {"Subject : x\r\nFrom: a@b.example\r\n\r\nbody\r\n", 0, FALSE, NULL},
  {"Subj\xc3\xa9" "ct: x\r\nFrom: a@b.example\r\n\r\nbody\r\n", 0, FALSE, NULL},
  {"From a@b.example Mon Jan  1 00:00:00 2024\r\nSubject: mbox\r\nFrom: a@b.example\r\n\r\nb\r\n", 0, FALSE, NULL},
  {"Subject: only a header, no line end", 0, FALSE, NULL},
  {"Subject:\r\n\r\n", 0, FALSE, NULL},
  {"\r", 1, TRUE, "not a header field"}, /* a lone CR: no blank line, but no field either */
  {"Subject: x\rFrom: a@b.example\r\rbody\r", 0, FALSE, NULL}, /* bare CR line ends: the pre-scan repairs */
  /* found by fuzz_mime: NULs before the colon become spaces in the pre-scan, so this is a field */
  {"From\307\t\0\0\0\0\0\0:=:a@- ,q@O", 23, FALSE, NULL},
  {"Sub\0ject: x\r\n\r\nb\r\n", 18, TRUE, "not a header field"},
  /* found by fuzz_mime: a first line of only blanks before a colon is a field with a blank name */
  {"\0\0\0:", 4, FALSE, NULL},
  {" :\r\n\r\nb", 0, FALSE, NULL},
  /* found by fuzz_mime: "From" and a NUL is an mbox line once NULs are spaces; a bare CR ends it */
  {"From\0\021g\r@l:sr@O@p", 17, FALSE, NULL},
  {"hello\rSubject: x\r\rbody", 0, TRUE, "not a header field"},
};

static void test_table(void)
{
  mime_global_init();
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    const Case *c = &cases[i];
    gsize len = c->len ? c->len : strlen(c->input);
    const char *why = mime_header_start_problem(c->input, len);
    if (c->refused) {
      g_assert_nonnull(why);
      g_assert_nonnull(strstr(why, c->reason_part));
      /* never refuse what the parser would read */
      MaMessage *m = NULL;
      GError *error = NULL;
      g_assert_cmpint(mime_parse(c->input, len, NULL, &m, &error), ==, -1);
      g_clear_error(&error);
    } else {
      g_assert_null(why);
    }
  }
}

/* Only the first line is read: what follows it never changes the answer. */
static void test_first_line_only(void)
{
  g_assert_null(mime_header_start_problem("Subject: x\r\n \r\n\x01garbage", 24));
  g_assert_nonnull(mime_header_start_problem("hello\r\nSubject: x\r\n", 19));
  /* the length is honoured: a colon past len does not count */
  g_assert_nonnull(mime_header_start_problem("Subject: x", 7));
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/mime/start/table", test_table);
  g_test_add_func("/mime/start/first-line-only", test_first_line_only);
  return g_test_run();
}
