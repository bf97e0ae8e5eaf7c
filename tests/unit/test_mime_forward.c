/* test_mime_forward.c - unit tests for agent/mime/forward.c: every fixture under
 * tests/fixtures/forward/ (input .txt or .html next to an expected .json), table-driven address and
 * date parsing, negative cases, and pathological inputs that must finish quickly. */
#include "agent/lib/model.h"
#include "agent/mime/forward.h"

#include <jansson.h>
#include <string.h>

static const char *fixtures_dir(void)
{
  const char *env = g_getenv("FIXTURES_DIR");
  return env ? env : FIXTURES_DIR;
}

/* ---- fixtures ------------------------------------------------------------------------------ */

static GPtrArray *parse_list(const char *list, int role)
{
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  forward_parse_addresses(list, role, out);
  return out;
}

static void assert_addresses(const char *fixture, const char *field, const char *list, json_t *expected)
{
  g_autoptr(GPtrArray) got = parse_list(list, MA_ROLE_TO);
  size_t n = expected ? json_array_size(expected) : 0;
  if (got->len != n) {
    g_test_message("%s: %s \"%s\" gave %u addresses, expected %zu", fixture, field, list ? list : "(null)",
                   got->len, n);
    for (guint i = 0; i < got->len; i++)
      g_test_message("  got %s", ((MaParticipant *)g_ptr_array_index(got, i))->address);
  }
  g_assert_cmpuint(got->len, ==, n);
  for (size_t i = 0; i < n; i++) {
    MaParticipant *p = g_ptr_array_index(got, i);
    g_assert_cmpstr(p->address, ==, json_string_value(json_array_get(expected, i)));
  }
}

static void run_fixture(gconstpointer data)
{
  const char *stem = data;
  g_autofree char *dir = g_build_filename(fixtures_dir(), "forward", NULL);
  g_autofree char *json_path = g_strconcat(dir, "/", stem, ".json", NULL);
  g_autofree char *txt_path = g_strconcat(dir, "/", stem, ".txt", NULL);
  g_autofree char *html_path = g_strconcat(dir, "/", stem, ".html", NULL);

  json_error_t jerr;
  json_t *exp = json_load_file(json_path, 0, &jerr);
  if (!exp) g_error("%s: %s", json_path, jerr.text);

  gboolean is_html = g_file_test(html_path, G_FILE_TEST_EXISTS);
  g_autofree char *input = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(is_html ? html_path : txt_path, &input, &len, NULL));

  MaForwardBlock *b = NULL;
  int found = is_html ? forward_find_in_html(input, len, &b) : forward_find_in_text(input, &b);
  json_t *kind = json_object_get(exp, "kind");
  if (json_is_null(kind)) {
    g_assert_cmpint(found, ==, 0);
    g_assert_null(b);
    json_decref(exp);
    return;
  }
  if (!found) {
    if (is_html) {
      g_autofree char *text = forward_html_to_text(input, len);
      g_test_message("rendered:\n%s", text);
    }
  }
  g_assert_cmpint(found, ==, 1);
  g_assert_nonnull(b);
  g_assert_cmpstr(b->kind, ==, json_string_value(kind));
  const char *k = b->kind;
  g_assert_cmpint(b->marked, ==, strcmp(k, "gmail") == 0 || strcmp(k, "apple") == 0 ||
                                     strcmp(k, "thunderbird") == 0 || strcmp(k, "netease") == 0 ||
                                     strcmp(k, "yahoo") == 0);

  /* from: addresses and display name */
  g_autoptr(GPtrArray) from = parse_list(b->from, MA_ROLE_FROM);
  assert_addresses(stem, "from", b->from, json_object_get(exp, "from"));
  json_t *from_name = json_object_get(exp, "from_name");
  if (from_name && from->len > 0)
    g_assert_cmpstr(((MaParticipant *)g_ptr_array_index(from, 0))->name, ==, json_string_value(from_name));
  assert_addresses(stem, "to", b->to, json_object_get(exp, "to"));
  assert_addresses(stem, "cc", b->cc, json_object_get(exp, "cc"));
  g_assert_cmpstr(b->subject, ==, json_string_value(json_object_get(exp, "subject")));
  g_assert_cmpint(forward_parse_date(b->date), ==, json_integer_value(json_object_get(exp, "date")));
  const char *prefix = json_string_value(json_object_get(exp, "body_startswith"));
  g_assert_nonnull(b->body);
  if (!g_str_has_prefix(b->body, prefix)) g_test_message("body: %.200s", b->body);
  g_assert_true(g_str_has_prefix(b->body, prefix));
  /* the header block itself is not part of the original's text */
  g_assert_null(strstr(b->body, b->from));
  json_t *note = json_object_get(exp, "note_lines");
  if (note) g_assert_cmpuint(b->note_lines, ==, (guint)json_integer_value(note));

  ma_forward_block_free(b);
  json_decref(exp);
}

static GPtrArray *fixture_stems(void)
{
  g_autofree char *dir = g_build_filename(fixtures_dir(), "forward", NULL);
  GDir *d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  GPtrArray *stems = g_ptr_array_new_with_free_func(g_free);
  const char *name;
  while ((name = g_dir_read_name(d)))
    if (g_str_has_suffix(name, ".json")) g_ptr_array_add(stems, g_strndup(name, strlen(name) - 5));
  g_dir_close(d);
  g_ptr_array_sort(stems, (GCompareFunc)g_strcmp0);
  return stems;
}

/* ---- addresses ----------------------------------------------------------------------------- */

typedef struct {
  const char *input;
  const char *expect; /* "name|address;name|address", name empty when absent */
} AddrCase;

static const AddrCase addr_cases[] = {
  { "Name <a@b.com>", "Name|a@b.com" },
  { "\"Smith, John\" <John.Smith@Example.COM>", "Smith, John|John.Smith@example.com" },
  { "a@b.com", "|a@b.com" },
  { "<a@b.com>", "|a@b.com" },
  { "王芳[wang@qq.com]", "王芳|wang@qq.com" },
  { "David Miller [mailto:David@Contoso.com]", "David Miller|David@contoso.com" },
  { "Name <a@b.com>; c@d.com", "Name|a@b.com;|c@d.com" },
  { "Pan, Xinhui <x.pan@amd.com>; amd-gfx@lists.freedesktop.org", "Pan, Xinhui|x.pan@amd.com;|amd-gfx@lists.freedesktop.org" },
  { "Li Lei <li@x.cn>, Zhou, Min <min@x.cn>", "Li Lei|li@x.cn;Zhou, Min|min@x.cn" },
  { "\"王芳\"<wang@x.cn>;\"李雷\"<li@x.cn>;", "王芳|wang@x.cn;李雷|li@x.cn" },
  { "logistics@x.de <mailto:logistics@x.de>", "|logistics@x.de" },
  { "Sarah Chen; Purchasing [purchasing@x.com]", "Purchasing|purchasing@x.com" },
  { "USRP <bounces@lists.ettus.com> on behalf of Marcus Leech <marcus@ettus.com>", "Marcus Leech|marcus@ettus.com" },
  { "陈静 <chen@x.cn> 代表 华信销售 <sales@x.cn>", "华信销售|sales@x.cn" },
  { "'Joan Miller'", "" },
  { "", "" },
  { "***@***.***", "" },
  { "bad@@", "" },
  { "Büro <info@xn--bro-hoa.de>", "Büro|info@büro.de" },
  { "Bad <x@xn--fi1020q>", "Bad|x@xn--fi1020q" }, /* decodes to invalid UTF-8: A-label kept */
  { "张三 <zhang@EXAMPLE.cn>，李四 <li@example.cn>", "张三|zhang@example.cn;李四|li@example.cn" },
  { "a@b.com, a@b.com", "|a@b.com" },
  { "Urena, Leonardo [EMR/SYSS/PWS/GUAC] <leonardo.urena@emerson.com>",
    "Urena, Leonardo [EMR/SYSS/PWS/GUAC]|leonardo.urena@emerson.com" },
  { "Zuo, Jerry <Jerry.Zuo@amd.com>; dri-devel@lists.freedesktop.org <dri-devel@lists.freedesktop.org>",
    "Zuo, Jerry|Jerry.Zuo@amd.com;|dri-devel@lists.freedesktop.org" },
};

static void test_addresses(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(addr_cases); i++) {
    g_autoptr(GPtrArray) got = parse_list(addr_cases[i].input, MA_ROLE_CC);
    GString *s = g_string_new(NULL);
    for (guint k = 0; k < got->len; k++) {
      MaParticipant *p = g_ptr_array_index(got, k);
      g_assert_cmpint(p->role, ==, MA_ROLE_CC);
      g_string_append_printf(s, "%s%s|%s", k ? ";" : "", p->name ? p->name : "", p->address);
    }
    if (strcmp(s->str, addr_cases[i].expect) != 0) g_test_message("input: %s", addr_cases[i].input);
    g_assert_cmpstr(s->str, ==, addr_cases[i].expect);
    g_string_free(s, TRUE);
  }
  /* NULL is accepted and adds nothing; existing entries of other calls are kept */
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_participant_free);
  forward_parse_addresses(NULL, MA_ROLE_TO, out);
  g_assert_cmpuint(out->len, ==, 0);
  forward_parse_addresses("a@b.com", MA_ROLE_TO, out);
  forward_parse_addresses("a@b.com", MA_ROLE_CC, out);
  g_assert_cmpuint(out->len, ==, 2);
  g_ptr_array_free(out, TRUE);
}

/* ---- dates --------------------------------------------------------------------------------- */

typedef struct {
  const char *input;
  gint64 expect;
} DateCase;

static const DateCase date_cases[] = {
  /* Gmail */
  { "Mon, Jan 8, 2024 at 10:12 AM", 1704708720 },
  { "Mon, Jan 8, 2024 at 10:12 PM", 1704751920 },
  { "2024年1月8日周一 上午10:12", 1704708720 },
  { "2024年1月8日周一 下午10:25", 1704752700 },
  /* Outlook */
  { "Monday, January 8, 2024 10:12 AM", 1704708720 },
  { "Tuesday, March 12, 2024 3:45:10 PM", 1710258310 },
  { "Monday, 8 January 2024 10:12", 1704708720 },
  { "08 January 2024 10:12:00", 1704708720 },
  { "2024年3月5日 14:30", 1709649000 },
  { "2024年3月5日 星期二 下午 2:30", 1709649000 },
  { "2024/3/5 14:30", 1709649000 },
  { "3/5/2024 2:30 PM", 1709649000 },
  { "13/3/2024 14:30", 1710340200 },
  /* Apple */
  { "January 8, 2024 at 4:05:33 PM GMT+1", 1704726333 },
  { "8 January 2024 at 16:05:33 CET", 1704726333 },
  { "October 27, 2024 at 8:41:32\u202fPM EDT", 1730076092 },
  { "12. June 2021 at 19:32:02 CEST", 1623519122 },
  { "October 31, 2018 at 16:24:12 GMT+8", 1540974252 },
  { "2026年9月29日 GMT+8 14:44:02", 1790664242 },
  /* NetEase */
  { "2021-01-21 10:33:41", 1611225221 },
  /* QQ / Foxmail */
  { "2024年1月8日(星期一) 上午10:12", 1704708720 },
  { "2024年1月8日(星期一) 晚上10:25", 1704752700 },
  { "2019年7月4日(星期四) 中午11:18", 1562239080 },
  { "2024年1月8日(星期一) 中午1:05", 1704719100 },
  { "2024年1月8日(星期一) 凌晨0:30", 1704673800 },
  { "2024-02-20 14:05", 1708437900 },
  { "Tue, Feb 20, 2024 02:05 PM", 1708437900 },
  { "2019年07月04日 11点27分", 1562239620 },
  /* Gmail in other languages */
  { "mer. 28 juin 2023 à 09:57", 1687946220 },
  { "lun. 8 janv. 2024 à 10:12", 1704708720 },
  { "mié, 24 jun 2026 a la(s) 11:47 a.m.", 1782301620 },
  { "mar., 9 ene 2024, 3:05 p.m.", 1704812700 },
  { "Mo., 8. Jan. 2024 um 10:12 Uhr", 1704708720 },
  { "Fr., 1. März 2024 um 09:00 Uhr", 1709283600 },
  { "8 DÉCEMBRE 2024 10:00", 1733652000 },
  /* RFC 5322 and ISO */
  { "Mon, 8 Jan 2024 10:12:00 +0800", 1704679920 },
  { "Mon, 08 Jan 2024 10:12:00 -0500 (EST)", 1704726720 },
  { "8 Jan 2024 10:12 GMT", 1704708720 },
  { "2024-01-08T10:12:00Z", 1704708720 },
  { "12/02/2014  09:48  (GMT-08:00)", 1417542480 },
  /* unreadable */
  { "", 0 },
  { "to be confirmed", 0 },
  { "February 30, 2024 10:00", 0 },
  { "2024年13月1日", 0 },
  { "25:61", 0 },
};

static void test_dates(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(date_cases); i++) {
    gint64 got = forward_parse_date(date_cases[i].input);
    if (got != date_cases[i].expect) g_test_message("input: %s", date_cases[i].input);
    g_assert_cmpint(got, ==, date_cases[i].expect);
  }
  g_assert_cmpint(forward_parse_date(NULL), ==, 0);
}

/* ---- negative and edge cases ---------------------------------------------------------------- */

static void test_negatives(void)
{
  static const char *const texts[] = {
    "",
    "Hello\n\nFrom: here on, we ship weekly.\n",
    /* a separator with nothing usable after it */
    "Hi\n\n---------- Forwarded message ---------\n\nSee attachment.\n",
    /* a separator followed by a From without anything else */
    "-----Original Message-----\nFrom: Bob\n\nhello\n",
    /* a header block with no From */
    "________________________________\nSent: Monday, January 8, 2024 10:12 AM\nTo: a@b.com\nSubject: x\n",
    /* a reply attribution is not a forward */
    "Thanks!\n\nOn Mon, Jan 8, 2024 at 10:12 AM Wang <w@x.cn> wrote:\n> hi\n",
  };
  for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
    MaForwardBlock *b = NULL;
    int found = forward_find_in_text(texts[i], &b);
    if (found) g_test_message("case %zu: unexpected block from=%s", i, b->from);
    g_assert_cmpint(found, ==, 0);
    g_assert_null(b);
  }
  MaForwardBlock *b = (MaForwardBlock *)0x1;
  g_assert_cmpint(forward_find_in_text(NULL, &b), ==, 0);
  g_assert_null(b);
  b = (MaForwardBlock *)0x1;
  g_assert_cmpint(forward_find_in_html(NULL, 0, &b), ==, 0);
  g_assert_null(b);
  g_assert_cmpint(forward_find_in_html("<html><body><p>nothing</p></body></html>", 40, &b), ==, 0);
  ma_forward_block_free(NULL);
}

/* A block beyond the scan window is not looked for. */
static void test_scan_window(void)
{
  GString *s = g_string_new(NULL);
  for (int i = 0; i < 1000; i++) g_string_append(s, "line of the employee's note\n");
  g_string_append(s, "---------- Forwarded message ---------\nFrom: A <a@x.com>\nDate: Mon, Jan 8, 2024 at 10:12 AM\n"
                     "Subject: s\nTo: b@y.com\n\nbody\n");
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 0);
  /* ... but within the window it is */
  const char *block = strstr(s->str, "----------");
  g_assert_cmpint(forward_find_in_text(block - 28 * 10, &b), ==, 1);
  g_assert_cmpstr(b->from, ==, "A <a@x.com>");
  g_assert_cmpstr(b->body, ==, "body");
  ma_forward_block_free(b);
  g_string_free(s, TRUE);
}

/* Bare CR and LF line ends, and a block at the very end of the input (empty body). */
static void test_line_ends(void)
{
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_text("note\r\r-----Original Message-----\rFrom: A <a@x.com>\r"
                                       "Sent: Monday, January 8, 2024 10:12 AM\rSubject: s\r\rbody\r", &b), ==, 1);
  g_assert_cmpstr(b->kind, ==, "outlook");
  g_assert_cmpstr(b->subject, ==, "s");
  g_assert_cmpstr(b->body, ==, "body");
  ma_forward_block_free(b);
  g_assert_cmpint(forward_find_in_text("---------- Forwarded message ---------\nFrom: A <a@x.com>\nTo: b@y.com", &b), ==, 1);
  g_assert_cmpstr(b->kind, ==, "gmail");
  g_assert_cmpstr(b->to, ==, "b@y.com");
  g_assert_cmpstr(b->body, ==, "");
  ma_forward_block_free(b);
}

/* Plain-text renderings of Outlook's bold labels ("*From:* Name") and QQ's entities. */
static void test_text_renderings(void)
{
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_text("see below\n\n*From:* Dana Ross <dana@x-corp.com>\n"
                                       "*Sent:* Friday, October 30, 2015 2:58 PM\n*To:* b@y.com\n*Subject:* s\n\nbody\n",
                                       &b), ==, 1);
  g_assert_cmpstr(b->from, ==, "Dana Ross <dana@x-corp.com>");
  g_assert_cmpint(forward_parse_date(b->date), ==, 1446217080);
  g_assert_cmpuint(b->note_lines, ==, 1);
  ma_forward_block_free(b);
  g_assert_cmpint(forward_find_in_text("------------------&nbsp;原始邮件&nbsp;------------------\n"
                                       "发件人:&nbsp;&quot;A&quot;&lt;a@x.cn&gt;;\n主题:&nbsp;R&amp;D\n\nbody\n", &b), ==, 1);
  g_assert_cmpstr(b->kind, ==, "qq");
  g_assert_cmpstr(b->from, ==, "\"A\"<a@x.cn>;");
  g_assert_cmpstr(b->subject, ==, "R&D");
  ma_forward_block_free(b);
}

/* Outlook with Japanese labels (no separator line: the block must be header-shaped). */
static void test_japanese_outlook(void)
{
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_text("ご確認ください。\n\n差出人: 山田 太郎 <taro.yamada@example.co.jp>\n"
                                       "送信日時: 2024年1月8日 10:12\n宛先: 佐藤 <sato@acme-industrial.com>\n"
                                       "CC: 鈴木 <suzuki@example.co.jp>\n件名: 見積依頼\n\nお世話になっております。\n",
                                       &b), ==, 1);
  g_assert_cmpstr(b->kind, ==, "outlook");
  g_assert_cmpstr(b->subject, ==, "見積依頼");
  g_assert_cmpstr(b->cc, ==, "鈴木 <suzuki@example.co.jp>");
  g_assert_cmpint(forward_parse_date(b->date), ==, 1704708720);
  g_assert_cmpstr(b->body, ==, "お世話になっております。");
  ma_forward_block_free(b);
}

/* Wrapped address lists continue on the next line; values are capped at 8 KB. */
static void test_continuation_and_caps(void)
{
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_text("________________________________\nFrom: A <a@x.com>\n"
                                       "Sent: Monday, January 8, 2024 10:12 AM\nTo: B <b@x.com>;\n C <c@x.com>\n"
                                       "Subject: s\n\nbody\n", &b), ==, 1);
  g_autoptr(GPtrArray) to = parse_list(b->to, MA_ROLE_TO);
  g_assert_cmpuint(to->len, ==, 2);
  ma_forward_block_free(b);

  /* labels alone on their line, values on the next (paragraph-per-cell HTML) */
  const char *html = "<p>fyi</p><hr><p><b>From:</b></p><p>David Miller &lt;d@contoso.com&gt;</p><p><b>Sent:</b></p>"
                     "<p>Tuesday, March 12, 2024 3:45 PM</p><p><b>Subject:</b></p><p>Renewal</p><p></p><p>Hi</p>";
  g_assert_cmpint(forward_find_in_html(html, strlen(html), &b), ==, 1);
  g_assert_cmpstr(b->from, ==, "David Miller <d@contoso.com>");
  g_assert_cmpint(forward_parse_date(b->date), ==, 1710258300);
  g_assert_cmpstr(b->subject, ==, "Renewal");
  ma_forward_block_free(b);

  GString *s = g_string_new("-----Original Message-----\nFrom: A <a@x.com>\nSubject: ");
  for (int i = 0; i < 100000; i++) g_string_append_c(s, 'x');
  g_string_append(s, "\n\nbody\n");
  g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 1);
  g_assert_cmpuint(strlen(b->subject), <=, 8192);
  ma_forward_block_free(b);
  g_string_free(s, TRUE);
}

/* ---- pathological inputs ------------------------------------------------------------------ */

static void test_pathological_from_lines(void)
{
  /* 1 MB of "From:" lines (no block anywhere) and 1 MB of separators: must finish fast */
  GString *s = g_string_new(NULL);
  while (s->len < (1u << 20)) g_string_append(s, "From: a@b.com\n");
  gint64 t0 = g_get_monotonic_time();
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 0);
  g_string_truncate(s, 0);
  while (s->len < (1u << 20)) g_string_append(s, "-----Original Message-----\nFrom: x\n");
  g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 0);
  /* one 1 MB line starting with From: */
  g_string_assign(s, "From: ");
  while (s->len < (1u << 20)) g_string_append(s, "a@b.com, ");
  g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 0);
  /* header-shaped blocks whose From holds 8 KB of addresses or of quotes: every candidate is
   * parsed, each in linear time */
  g_string_truncate(s, 0);
  while (s->len < (1u << 20)) {
    g_string_append(s, "From: ");
    for (int i = 0; i < 900; i++) g_string_append(s, "a@b.cd,");
    g_string_append(s, "\nDate: soon\nTo: x\n");
    g_string_append(s, "From: ");
    for (int i = 0; i < 8000; i++) g_string_append_c(s, '"');
    g_string_append(s, "\nDate: soon\nTo: x\n");
  }
  g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 1);
  ma_forward_block_free(b);
  {
    GString *list = g_string_new(NULL);
    for (int i = 0; i < 3000; i++) g_string_append_printf(list, "n%d <u%d@x.com>, ", i, i % 50);
    g_autoptr(GPtrArray) many = parse_list(list->str, MA_ROLE_TO);
    g_assert_cmpuint(many->len, >, 0);
    g_assert_cmpuint(many->len, ==, 50); /* duplicates collapse; the 8 KB cap keeps whole elements */
    g_string_free(list, TRUE);
  }
  /* the same as HTML: 1 MB of <div><b>From:</b> ...</div> */
  g_string_truncate(s, 0);
  while (s->len < (1u << 20)) g_string_append(s, "<div><b>From:</b> a@b.com</div>");
  g_assert_cmpint(forward_find_in_html(s->str, s->len, &b), ==, 0);
  /* deep nesting */
  g_string_truncate(s, 0);
  for (int i = 0; i < 20000; i++) g_string_append(s, "<div><blockquote>");
  g_string_append(s, "x");
  g_assert_cmpint(forward_find_in_html(s->str, s->len, &b), ==, 0);
  gint64 elapsed = g_get_monotonic_time() - t0;
  g_test_message("pathological inputs took %" G_GINT64_FORMAT " us", elapsed);
  g_assert_cmpint(elapsed, <, 5 * G_USEC_PER_SEC);
  g_string_free(s, TRUE);
}

/* Most mail is not a forward: a 50-line ordinary text must be rejected cheaply (the MIME parser
 * calls the recogniser on every text body). The bound is loose so that sanitizer builds pass. */
static void test_fast_negative(void)
{
  GString *s = g_string_new(NULL);
  for (int i = 0; i < 50; i++)
    g_string_append_printf(s, "Line %d of an ordinary customer mail about delivery dates and pricing.\r\n", i);
  gint64 t0 = g_get_monotonic_time();
  for (int i = 0; i < 2000; i++) {
    MaForwardBlock *b = NULL;
    g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 0);
  }
  gint64 us = g_get_monotonic_time() - t0;
  g_test_message("2000 negative scans: %" G_GINT64_FORMAT " us", us);
  g_assert_cmpint(us, <, G_USEC_PER_SEC);
  g_string_free(s, TRUE);
}

/* A block found after a 4 MB preamble-free body: the original's text is copied in linear time. */
static void test_large_body(void)
{
  GString *s = g_string_new("---------- Forwarded message ---------\nFrom: A <a@x.com>\n"
                            "Date: Mon, Jan 8, 2024 at 10:12 AM\nSubject: s\n\n");
  while (s->len < (4u << 20)) g_string_append(s, "> quoted body line of the original message\n");
  gint64 t0 = g_get_monotonic_time();
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_text(s->str, &b), ==, 1);
  g_assert_true(g_str_has_prefix(b->body, "> quoted body"));
  ma_forward_block_free(b);
  g_assert_cmpint(g_get_monotonic_time() - t0, <, 5 * G_USEC_PER_SEC);
  g_string_free(s, TRUE);
}

/* HTML beyond the 256 KB probe: a block near the top keeps the whole original as body; a block
 * after one huge paragraph (few lines, many bytes) is still found; no block means none. */
static void test_large_html(void)
{
  const char *block = "<div class=\"gmail_attr\">---------- Forwarded message ---------<br>From: A &lt;a@x.com&gt;<br>"
                      "Date: Mon, Jan 8, 2024 at 10:12 AM<br>Subject: s<br>To: b@y.com<br></div><br>";
  GString *s = g_string_new("<p>note</p>");
  g_string_append(s, block);
  for (int i = 0; i < 20000; i++) g_string_append(s, "<p>original paragraph</p>");
  g_string_append(s, "<p>THE END</p>");
  MaForwardBlock *b = NULL;
  g_assert_cmpint(forward_find_in_html(s->str, s->len, &b), ==, 1);
  g_assert_true(g_str_has_prefix(b->body, "original paragraph\n"));
  g_assert_true(g_str_has_suffix(b->body, "THE END"));
  ma_forward_block_free(b);

  g_string_assign(s, "<p>");
  for (int i = 0; i < 40000; i++) g_string_append(s, "long note ");
  g_string_append(s, "</p>");
  g_string_append(s, block);
  g_string_append(s, "<p>original</p>");
  g_assert_cmpint(forward_find_in_html(s->str, s->len, &b), ==, 1);
  g_assert_cmpstr(b->body, ==, "original");
  ma_forward_block_free(b);

  g_string_assign(s, "");
  for (int i = 0; i < 20000; i++) g_string_append(s, "<p>newsletter line</p>");
  g_string_append(s, block);
  g_assert_cmpint(forward_find_in_html(s->str, s->len, &b), ==, 0);
  g_string_free(s, TRUE);
}

/* The HTML renderer keeps line structure and labels. */
static void test_html_render(void)
{
  const char *html = "<div>a<b>From:</b> <a href=\"mailto:x@y.com\">X</a><br>b</div><table><tr><td>c</td>"
                     "<td>d</td></tr></table><script>var x;</script><p>e &amp; f</p>"
                     "<div id=\"divRplyFwdMsg\">g</div>";
  g_autofree char *text = forward_html_to_text(html, strlen(html));
  g_assert_cmpstr(text, ==, "aFrom: X <x@y.com>\nb\nc d\ne & f\n________________________________\ng\n");
  /* re-forwarded copies prefix the id; Outlook desktop's border-top container is a separator too */
  const char *html2 = "<div id=\"x_m_123divRplyFwdMsg\">h</div><div style=\"border:none; border-top:solid #E1E1E1 1.0pt\">i</div>"
                      "<div id=\"divRplyFwdMsgX\">j</div>";
  g_autofree char *text2 = forward_html_to_text(html2, strlen(html2));
  g_assert_cmpstr(text2, ==, "________________________________\nh\n________________________________\ni\nj\n");
}

/* Every fixture truncated at many points and with random bytes changed: both front-ends must
 * return cleanly (run under ASan/UBSan with -DSANITIZE=ON), and whatever block they report must be
 * well-formed. */
static void check_mutant(const char *buf, gsize len)
{
  char *z = g_strndup(buf, len); /* NUL-terminated copy for the text front-end */
  MaForwardBlock *b = NULL;
  if (forward_find_in_text(z, &b)) {
    g_assert_nonnull(b->kind);
    g_assert_nonnull(b->from);
    g_assert_nonnull(b->body);
    g_autoptr(GPtrArray) p = parse_list(b->from, MA_ROLE_FROM);
    (void)forward_parse_date(b->date);
    ma_forward_block_free(b);
  }
  b = NULL;
  if (forward_find_in_html(buf, len, &b)) {
    g_assert_nonnull(b->from);
    ma_forward_block_free(b);
  }
  g_free(z);
}

static void test_mutations(void)
{
  g_autoptr(GPtrArray) stems = fixture_stems();
  GRand *rand = g_rand_new_with_seed(20240108);
  for (guint i = 0; i < stems->len; i++) {
    g_autofree char *base = g_build_filename(fixtures_dir(), "forward", (char *)g_ptr_array_index(stems, i), NULL);
    g_autofree char *txt = g_strconcat(base, ".txt", NULL);
    g_autofree char *html = g_strconcat(base, ".html", NULL);
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(txt, &data, &len, NULL) && !g_file_get_contents(html, &data, &len, NULL)) continue;
    for (gsize cut = 0; cut < len; cut += 37) check_mutant(data, cut);
    for (int round = 0; round < 40; round++) {
      g_autofree char *m = g_memdup2(data, len);
      for (int k = 0; k < 8 && len > 0; k++) {
        gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)len);
        static const char pool[] = { '<', '>', '\n', ':', ';', '@', '"', '[', ']', '\r', (char)0xE5, (char)0x80 };
        m[at] = pool[g_rand_int_range(rand, 0, (gint32)sizeof pool)];
      }
      check_mutant(m, len);
    }
  }
  g_rand_free(rand);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GPtrArray) stems = fixture_stems();
  g_assert_cmpuint(stems->len, >=, 12);
  for (guint i = 0; i < stems->len; i++) {
    g_autofree char *path = g_strconcat("/mime/forward/fixture/", (char *)g_ptr_array_index(stems, i), NULL);
    g_test_add_data_func(path, g_ptr_array_index(stems, i), run_fixture);
  }
  g_test_add_func("/mime/forward/addresses", test_addresses);
  g_test_add_func("/mime/forward/dates", test_dates);
  g_test_add_func("/mime/forward/negatives", test_negatives);
  g_test_add_func("/mime/forward/scan_window", test_scan_window);
  g_test_add_func("/mime/forward/line_ends", test_line_ends);
  g_test_add_func("/mime/forward/continuation_and_caps", test_continuation_and_caps);
  g_test_add_func("/mime/forward/text_renderings", test_text_renderings);
  g_test_add_func("/mime/forward/japanese_outlook", test_japanese_outlook);
  g_test_add_func("/mime/forward/html_render", test_html_render);
  g_test_add_func("/mime/forward/large_html", test_large_html);
  g_test_add_func("/mime/forward/pathological", test_pathological_from_lines);
  g_test_add_func("/mime/forward/large_body", test_large_body);
  g_test_add_func("/mime/forward/fast_negative", test_fast_negative);
  g_test_add_func("/mime/forward/mutations", test_mutations);
  return g_test_run();
}
