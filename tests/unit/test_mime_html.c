/* test_mime_html.c - mime_html_to_text (layout, entities, skipped elements) and
 * mime_html_sanitize (XSS vectors and remote loads removed, harmless formatting kept), plus the
 * pure header helpers of mime_private.h and mime_charset_to_utf8. Table driven.
 */
#include <string.h>

#include "agent/mime/mime.h"
#include "agent/mime/mime_private.h"

static char *to_text(const char *html) { return mime_html_to_text(html, strlen(html)); }
static char *sanitize(const char *html) { return mime_html_sanitize(html, strlen(html)); }

static void test_to_text_table(void)
{
  static const struct {
    const char *html;
    const char *text;
  } cases[] = {
    {"<p>Hello</p><p>World</p>", "Hello\nWorld"},
    {"a<br>b<br/><br>c", "a\nb\n\nc"},
    {"<div>one   two\n three</div>", "one two three"},
    {"<ul><li>x</li><li>y</li></ul>", "- x\n- y"},
    {"<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>", "a\tb\nc\td"},
    {"<p>&lt;tag&gt; &amp; &quot;q&quot; &eacute; &#8364; &#x4e2d;</p>", "<tag> & \"q\" é € 中"},
    {"<head><title>T</title><style>p{}</style></head><body>visible</body>", "visible"},
    {"<script>alert(1)</script>ok<noscript>no</noscript>", "ok"},
    {"x<!-- hidden comment -->y", "xy"},
    {"<pre>  keep\n    indent</pre>", "  keep\n    indent"},
    {"<b>bold</b> and <i>italic</i>", "bold and italic"},
    {"<h1>Title</h1>text", "Title\ntext"},
    {"a&nbsp;&nbsp;b", "a b"},
    {"", ""},
    {"plain text without tags", "plain text without tags"},
    {"<p>unclosed <b>bold <div>block", "unclosed bold\nblock"},
    {"<meta charset=\"gbk\"><p>中文</p>", "中文"},
    {"<div><div><div>deep</div></div></div><p>next</p>", "deep\nnext"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *t = to_text(cases[i].html);
    if (strcmp(t, cases[i].text) != 0)
      g_error("case %zu: html_to_text(%s) = \"%s\", want \"%s\"", i, cases[i].html, t, cases[i].text);
    g_free(t);
  }
}

static void test_to_text_deep(void)
{
  /* 100,000 nested elements: iterative walk, no stack overflow, bounded time. */
  GString *s = g_string_new(NULL);
  for (int i = 0; i < 100000; i++) g_string_append(s, "<div><span>");
  g_string_append(s, "bottom");
  char *t = mime_html_to_text(s->str, s->len);
  g_assert_nonnull(t);
  g_free(t);
  char *h = mime_html_sanitize(s->str, s->len);
  g_assert_nonnull(h);
  g_free(h);
  g_string_free(s, TRUE);
}

static void test_sanitize_xss(void)
{
  static const struct {
    const char *html;
    const char *must_not[4];
    const char *must[3];
  } cases[] = {
    {"<p>hi</p><script>alert(1)</script>", {"script", "alert"}, {"<p>hi</p>"}},
    {"<img src=x onerror=alert(1)>", {"onerror", "alert", "src="}, {"<img"}},
    {"<a href=\"javascript:alert(1)\">click</a>", {"javascript", "href"}, {"click</a>"}},
    {"<a href=\"  JaVa&#x09;Script:alert(1)\">x</a>", {"ascript", "href"}, {"x</a>"}},
    {"<a href=\"vbscript:msgbox\">x</a>", {"vbscript", "href"}, {"x</a>"}},
    {"<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>", {"data:", "href"}, {"x</a>"}},
    {"<a href=\"https://example.com/a?b=1&amp;c=2\" onclick=\"evil()\">ok</a>", {"onclick", "evil"},
     {"href=\"https://example.com/a?b=1&amp;c=2\"", "rel=\"noopener"}},
    {"<a href=\"mailto:a@example.com\">m</a>", {NULL}, {"href=\"mailto:a@example.com\""}},
    {"<img src=\"http://tracker.example/pixel.gif\" alt=\"logo\">", {"tracker", "src="}, {"alt=\"logo\""}},
    {"<img src=\"//tracker.example/p.gif\">", {"tracker"}, {"<img>"}},
    {"<img src=\"cid:logo@example.com\">", {NULL}, {"src=\"cid:logo@example.com\""}},
    {"<img src=\"data:image/png;base64,iVBORw0KGgo=\">", {NULL}, {"src=\"data:image/png;base64,iVBORw0KGgo=\""}},
    {"<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">", {"svg", "src="}, {"<img"}},
    {"<div style=\"color: red; background: url(http://evil.example/x.png)\">t</div>", {"url(", "evil"},
     {"style=\"color: red\""}},
    {"<div style=\"width: expression(alert(1))\">t</div>", {"expression", "alert", "style="}, {"<div>t</div>"}},
    {"<div style=\"background:u\\72l(http://e.example)\">t</div>", {"e.example", "\\72"}, {"<div>t</div>"}},
    {"<style>body{background:url(http://evil.example)}</style><p>t</p>", {"evil", "style"}, {"<p>t</p>"}},
    {"<iframe src=\"https://evil.example\"></iframe>ok", {"iframe", "evil"}, {"ok"}},
    {"<object data=\"x.swf\"></object><embed src=\"y.swf\">ok", {"object", "embed", "swf"}, {"ok"}},
    {"<form action=\"https://phish.example\"><input name=p></form>after", {"form", "input", "phish"}, {"after"}},
    {"<svg><script>alert(1)</script></svg>ok", {"svg", "alert"}, {"ok"}},
    {"<table background=\"http://evil.example/bg.png\"><tr><td>c</td></tr></table>", {"background", "evil"},
     {"<td>c</td>"}},
    {"<link rel=stylesheet href=\"http://evil.example/s.css\"><p>x</p>", {"link", "evil"}, {"<p>x</p>"}},
    {"<p title='\"><script>alert(1)</script>'>q</p>", {"<script"}, {"&quot;&gt;&lt;script&gt;"}},
    {"<b>bold</b> <font color=\"red\" face=\"Arial\">f</font>", {NULL}, {"<b>bold</b>", "<font color=\"red\" face=\"Arial\">f</font>"}},
    {"<o:p>office</o:p><custom-tag>kept text</custom-tag>", {"o:p", "custom"}, {"office", "kept text"}},
    {"<meta http-equiv=\"refresh\" content=\"0;url=http://evil.example\">x", {"refresh", "evil"}, {"x"}},
    {"<base href=\"http://evil.example/\"><a href=\"rel\">r</a>", {"evil", "<base"}, {"href=\"rel\""}},
    {"<a href=\"java&#0000115;cript:alert(1)\">e</a>", {"script", "href"}, {"e</a>"}},
    {"<div style=\"background-image: URL&#40;http://evil.example/x&#41;\">t</div>", {"evil", "style"}, {"<div>t</div>"}},
    {"<img srcset=\"http://evil.example/a.png 1x\" lowsrc=\"http://evil.example/b\">", {"evil", "srcset"}, {"<img>"}},
    {"<a href=\"https://ok.example\" target=\"_top\">t</a>", {"_top"}, {"target=\"_blank\""}},
    {"<!--[if mso]><script>x()</script><![endif]--><p>o</p>", {"script", "mso", "x()"}, {"<p>o</p>"}},
    {"<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>n", {"onerror", "<img"}, {"n"}},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *out = sanitize(cases[i].html);
    for (gsize k = 0; k < G_N_ELEMENTS(cases[i].must_not) && cases[i].must_not[k]; k++) {
      char *lower = g_ascii_strdown(out, -1);
      char *needle = g_ascii_strdown(cases[i].must_not[k], -1);
      if (strstr(lower, needle))
        g_error("case %zu: sanitize(%s) = %s still contains \"%s\"", i, cases[i].html, out, cases[i].must_not[k]);
      g_free(lower);
      g_free(needle);
    }
    for (gsize k = 0; k < G_N_ELEMENTS(cases[i].must) && cases[i].must[k]; k++)
      if (!strstr(out, cases[i].must[k]))
        g_error("case %zu: sanitize(%s) = %s lacks \"%s\"", i, cases[i].html, out, cases[i].must[k]);
    g_assert_true(g_utf8_validate(out, -1, NULL));
    g_free(out);
  }
}

static void test_msgid(void)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
    {"<ABC.123@Example.COM>", "ABC.123@example.com"},
    {"  <a@b>  ", "a@b"},
    {"a@b.example", "a@b.example"},
    {"<no-at-sign>", NULL},
    {"<@b.example>", NULL},
    {"<a@>", NULL},
    {"<a b@c>", NULL},
    {"not an id", NULL},
    {"<unterminated@x", NULL},
    {"", NULL},
    {"<a@b> <c@d>", "a@b"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *got = mime_msgid_normalise(cases[i].in);
    g_assert_cmpstr(got, ==, cases[i].out);
    g_free(got);
  }
  GPtrArray *refs = g_ptr_array_new_with_free_func(g_free);
  GString *many = g_string_new(NULL);
  for (int i = 0; i < 300; i++) g_string_append_printf(many, "<r%d@x.example>\r\n ", i);
  mime_msgid_list(many->str, refs);
  g_assert_cmpuint(refs->len, ==, MIME_MAX_REFERENCES);
  g_assert_cmpstr(g_ptr_array_index(refs, 0), ==, "r0@x.example");
  g_assert_cmpstr(g_ptr_array_index(refs, refs->len - 1), ==, "r299@x.example");
  g_assert_cmpstr(g_ptr_array_index(refs, 1), ==, "r201@x.example");
  g_string_free(many, TRUE);
  g_ptr_array_unref(refs);
}

static void test_address(void)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
    {"John.Smith@EXAMPLE.Com", "John.Smith@example.com"},
    {"<a@b.example>", "a@b.example"},
    {"user@XN--MNCHEN-3YA.DE", "user@münchen.de"},
    {"user@MÜNCHEN.de", "user@münchen.de"},
    {"user@example.com.", "user@example.com"},
    {"no-at-sign", NULL},
    {"@example.com", NULL},
    {"user@", NULL},
    {"a@b@c.example", "a@b@c.example"},
    /* g_hostname_to_unicode decodes this label to invalid UTF-8: the A-label is kept */
    {"x@XN--FI1020Q", "x@xn--fi1020q"},
    {"x@mail.xn--fi1020q.example", "x@mail.xn--fi1020q.example"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    char *got = mime_address_normalise(cases[i].in);
    g_assert_cmpstr(got, ==, cases[i].out);
    g_free(got);
  }
}

static void test_forward_prefix(void)
{
  static const struct {
    const char *subject;
    gboolean fwd;
    const char *rest;
  } cases[] = {
    {"Fwd: Pricing", TRUE, "Pricing"},
    {"FW: Pricing", TRUE, "Pricing"},
    {"fw : Pricing", TRUE, "Pricing"},
    {"转发: 报价", TRUE, "报价"},
    {"转发：报价", TRUE, "报价"},
    {"WG: Angebot", TRUE, "Angebot"},
    {"[Fwd: x]", TRUE, "x]"},
    {"Re: Fwd: x", FALSE, NULL},
    {"Forward planning", FALSE, NULL},
    {"Fwdx: no", FALSE, NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    const char *rest = NULL;
    gboolean f = mime_subject_is_forward(cases[i].subject, &rest);
    if (f != cases[i].fwd) g_error("case %zu: %s: want %d", i, cases[i].subject, cases[i].fwd);
    if (f) g_assert_cmpstr(rest, ==, cases[i].rest);
  }
}

static void test_charset(void)
{
  static const struct {
    const char *in;
    gssize len;
    const char *charset, *out;
  } cases[] = {
    {"plain", -1, NULL, "plain"},
    {"caf\xc3\xa9", -1, "utf-8", "café"},
    {"caf\xe9", -1, "iso-8859-1", "café"},
    {"caf\xe9 \x93q\x94", -1, "iso-8859-1", "café “q”"}, /* iso-8859-1 read as windows-1252 */
    {"\xd6\xd0\xce\xc4", -1, "gb2312", "中文"},
    {"\xd6\xd0\xce\xc4", -1, NULL, "中文"},         /* undeclared: GB18030 converts cleanly */
    {"caf\xe9 ok", -1, NULL, "café ok"},           /* undeclared: not GB18030 -> windows-1252 */
    {"\xd6\xd0\xce\xc4", -1, "x-unknown-charset", "中文"},
    {"ok\xff\xfe", -1, "utf-8", "ok\xef\xbf\xbd\xef\xbf\xbd"},
    {"a\0b", 3, "utf-8", "ab"},
    {"\x1b$B$3$s$K$A$O\x1b(B", -1, "iso-2022-jp", "こんにちは"},
    {"\xf0\xd2\xc9\xd7\xc5\xd4", -1, "koi8-r", "Привет"},
    {"abc\x80", -1, "us-ascii", "abc€"},
    {"a\xf5\x9b b", -1, "utf-8\x10", "a\xef\xbf\xbd\xef\xbf\xbd b"}, /* odd name, invalid bytes */
    {"a\xf5\x9b b", -1, "x-unknown", NULL},                        /* only: valid UTF-8 */
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    gsize len = cases[i].len < 0 ? strlen(cases[i].in) : (gsize)cases[i].len;
    char *got = mime_charset_to_utf8(cases[i].in, len, cases[i].charset);
    if (cases[i].out && strcmp(got, cases[i].out) != 0) g_error("case %zu: got \"%s\", want \"%s\"", i, got, cases[i].out);
    g_assert_true(g_utf8_validate(got, -1, NULL));
    g_free(got);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  mime_global_init();
  g_test_add_func("/mime_html/to_text", test_to_text_table);
  g_test_add_func("/mime_html/deep", test_to_text_deep);
  g_test_add_func("/mime_html/sanitize_xss", test_sanitize_xss);
  g_test_add_func("/mime_header/msgid", test_msgid);
  g_test_add_func("/mime_header/address", test_address);
  g_test_add_func("/mime_header/forward_prefix", test_forward_prefix);
  g_test_add_func("/mime_charset/to_utf8", test_charset);
  return g_test_run();
}
