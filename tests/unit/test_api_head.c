/* test_api_head.c - the front reader's request-head parser: where a head ends (whole, and fed one
 * octet at a time through the resume point), what it yields (method, target, first Authorization)
 * and which heads are malformed. */
#include "agent/api/api_head.h"

#include <string.h>

static void test_length_whole_and_bytewise(void)
{
  static const struct {
    const char *in;
    gsize want;
  } cases[] = {
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27},
    {"GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY", 27},
    {"GET / HTTP/1.1\nHost: x\n\nBODY", 24},
    {"GET / HTTP/1.1\r\n\r\n", 18},
    {"GET / HTTP/1.1\r\nHost: x\r\n", 0},
    {"GET / HTTP/1.1\r\nHost: x\r\n\r", 0},
    {"\r\n\r\n", 4}, /* complete (and malformed: the parser refuses it) */
    {"", 0},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    const char *in = cases[i].in;
    gsize n = strlen(in), resume = 0, got = 0;
    g_assert_cmpuint(api_head_length(in, n, NULL), ==, cases[i].want);
    /* fed one octet at a time: 0 until the head is whole, then its length */
    for (gsize k = 1; k <= n && got == 0; k++) {
      got = api_head_length(in, k, &resume);
      if (got)
        g_assert_cmpuint(k, ==, got);
    }
    g_assert_cmpuint(got, ==, cases[i].want);
  }
}

static void test_parse(void)
{
  ApiHead h;
  const char *in = "POST /v1/records:bulk?skip_invalid=true HTTP/1.1\r\nHost: x\r\n"
                   "authorization:   Bearer mak_abc  \r\nAuthorization: Bearer second\r\n X-Fold: y\r\n\r\n";
  g_assert_cmpint(api_head_parse(in, strlen(in), &h), ==, 0);
  g_assert_cmpstr(h.method, ==, "POST");
  g_assert_cmpstr(h.target, ==, "/v1/records:bulk?skip_invalid=true");
  g_assert_cmpstr(h.authorization, ==, "Bearer mak_abc");
  g_assert_cmpint(h.content_length, ==, -1);
  g_assert_false(h.chunked);
  api_head_clear(&h);

  in = "PUT /x HTTP/1.1\r\nContent-Length: 42\r\ncontent-length:42\r\n\r\n";
  g_assert_cmpint(api_head_parse(in, strlen(in), &h), ==, 0);
  g_assert_cmpint(h.content_length, ==, 42);
  api_head_clear(&h);
  in = "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  g_assert_cmpint(api_head_parse(in, strlen(in), &h), ==, 0);
  g_assert_true(h.chunked);
  api_head_clear(&h);
  g_assert_null(h.target);

  in = "GET /healthz HTTP/1.0\n\n";
  g_assert_cmpint(api_head_parse(in, strlen(in), &h), ==, 0);
  g_assert_cmpstr(h.target, ==, "/healthz");
  g_assert_null(h.authorization);
  api_head_clear(&h);
}

static void test_malformed(void)
{
  static const char *const bad[] = {
    "\r\n\r\n",
    "GET /\r\n\r\n",                          /* no version */
    "GET  / HTTP/1.1\r\n\r\n",                /* empty target */
    "GET / HTTP/2.0\r\n\r\n",                 /* not HTTP/1.x */
    "GET / HTTP/1.1 \r\n\r\n",
    "G(T / HTTP/1.1\r\n\r\n",                 /* method not a token */
    "VERYLONGMETHODNAME / HTTP/1.1\r\n\r\n",  /* 18 octets */
    "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
    "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
    "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
    "GET / HTTP/1.1\r\nAuthorization: a\rb\r\n\r\n", /* bare CR */
    "PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", /* disagreeing lengths */
    "PUT / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
    "PUT / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
    "PUT / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", /* 19 digits */
    "PUT / HTTP/1.1\r\nContent-Length:\r\n\r\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
    ApiHead h;
    g_assert_cmpint(api_head_parse(bad[i], strlen(bad[i]), &h), ==, -1);
    g_assert_null(h.target);
    g_assert_null(h.authorization);
  }
  {
    /* NUL inside */
    static const char nul[] = "GET / HTTP/1.1\r\nAuthorization: Bearer a\0b\r\n\r\n";
    ApiHead h;
    g_assert_cmpint(api_head_parse(nul, sizeof nul - 1, &h), ==, -1);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/head/length", test_length_whole_and_bytewise);
  g_test_add_func("/api/head/parse", test_parse);
  g_test_add_func("/api/head/malformed", test_malformed);
  return g_test_run();
}
