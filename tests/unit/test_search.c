/* test_search.c - agent/search: the tokenizer (every rule, invalid UTF-8, fed whole and at every
 * cut), the query parser (syntax, limits, hostile input) and the snippet renderer. */
#include "agent/lib/error.h"
#include "agent/search/search_query.h"
#include "agent/search/search_rank.h"
#include "agent/search/search_mark.h"
#include "agent/search/search_snippet.h"
#include "agent/search/search_tokenize.h"

#include <math.h>
#include <string.h>

typedef struct {
  GString *joined; /* tokens separated by '|' */
  GArray *offsets; /* pairs of start, end */
} Tokens;

static int collect(void *ctx, const char *token, int len, int start, int end)
{
  Tokens *t = ctx;
  if (t->joined->len) g_string_append_c(t->joined, '|');
  g_string_append_len(t->joined, token, len);
  g_array_append_val(t->offsets, start);
  g_array_append_val(t->offsets, end);
  return 0;
}

/* The tokens of text[0..len) joined by '|' (caller frees). Checks the invariants on the way. */
static char *tokens_of(const char *text, gsize len)
{
  Tokens t = {g_string_new(NULL), g_array_new(FALSE, FALSE, sizeof(int))};
  g_assert_cmpint(search_tokenize(text, len, collect, &t), ==, 0);
  int last_start = -1;
  for (guint i = 0; i < t.offsets->len; i += 2) {
    int start = g_array_index(t.offsets, int, i), end = g_array_index(t.offsets, int, i + 1);
    g_assert_cmpint(start, >=, last_start);
    g_assert_cmpint(start, <, end);
    g_assert_cmpint(end, <=, (int)len);
    last_start = start;
  }
  g_array_unref(t.offsets);
  g_assert_true(g_utf8_validate(t.joined->str, -1, NULL));
  return g_string_free(t.joined, FALSE);
}

static void check(const char *text, const char *want)
{
  g_autofree char *got = tokens_of(text, strlen(text));
  g_assert_cmpstr(got, ==, want);
}

static void test_words(void)
{
  check("", "");
  check("Hello, World!", "hello|world");
  check("INVOICE-2024/07 q3_report", "invoice|2024|07|q3|report");
  check("carol@customer.example", "carol|customer|example");
  check("Straße ÉCOLE", "strasse|école");
  check("ＡＢＣ１２３", "abc123");                   /* full-width: NFKC */
  check("e\xcc\x81t\xc3\xa9", "\xc3\xa9t\xc3\xa9"); /* decomposed é composes */
  check("Москва ΑΘΗΝΑ", "москва|αθηνα");
  check("a\x01" "b\tc", "a|b|c");
}

static void test_cjk(void)
{
  check("東京都", "東京|京都");
  check("東", "東");
  check("東 京", "東|京");
  check("日本語のテキスト", "日本|本語|語の|のテ|テキ|キス|スト");
  check("2024年の売上", "2024|年の|の売|売上");
  check("ラーメン", "ラー|ーメ|メン");           /* the prolonged sound mark belongs to the run */
  check("ｶﾀｶﾅ", "カタ|タカ|カナ");                /* half-width katakana: NFKC */
  check("会议invoice记录", "会议|invoice|记录");
  check("한국어", "한국|국어");
}

static void test_long_word(void)
{
  g_autofree char *word = g_strnfill(10000, 'x');
  g_autofree char *got = tokens_of(word, strlen(word));
  g_assert_cmpuint(strlen(got), ==, SEARCH_TOKEN_MAX);
  /* a long non-ASCII word is cut at a character boundary */
  GString *s = g_string_new(NULL);
  for (int i = 0; i < 500; i++) g_string_append(s, "é");
  g_autofree char *got2 = tokens_of(s->str, s->len);
  g_assert_cmpuint(strlen(got2), <=, SEARCH_TOKEN_MAX);
  g_assert_true(g_utf8_validate(got2, -1, NULL));
  g_string_free(s, TRUE);
}

static void test_invalid_utf8(void)
{
  /* every invalid byte is one separator; what is valid around it still counts */
  const char bad[] = "ab\xff" "cd\xc3(\xe6\x9d\xb1\xe4\xba" "ef\xed\xa0\x80gh\xc0\xaf";
  g_autofree char *got = tokens_of(bad, sizeof bad - 1);
  g_assert_cmpstr(got, ==, "ab|cd|東|ef|gh");
  const char nul[] = "ab\0cd";
  g_autofree char *got2 = tokens_of(nul, sizeof nul - 1);
  g_assert_cmpstr(got2, ==, "ab|cd");
}

/* Fed every prefix: the tokenizer reads exactly len bytes, never past them (valgrind/ASan see a
 * read past a g_memdup'd prefix), and never fails. */
static void test_every_prefix(void)
{
  const char *samples[] = {"Hello 東京都 wörld ﾗｰﾒﾝ \xff end", "日本語のテキスト。", "x\xe6\x9d"};
  for (guint k = 0; k < G_N_ELEMENTS(samples); k++) {
    gsize n = strlen(samples[k]);
    for (gsize cut = 0; cut <= n; cut++) {
      char *copy = g_memdup2(samples[k], cut ? cut : 1);
      g_free(tokens_of(copy, cut));
      g_free(copy);
    }
  }
}

static int stop_at_second(void *ctx, const char *token, int len, int start, int end)
{
  return ++*(int *)ctx == 2 ? 42 : 0;
}

static void test_stop(void)
{
  int n = 0;
  g_assert_cmpint(search_tokenize("a b c", 5, stop_at_second, &n), ==, 42);
  g_assert_cmpint(n, ==, 2);
  g_assert_cmpuint(search_token_count("東京都 x", strlen("東京都 x")), ==, 3);
}

static const char *term_text(const MaSearchQuery *q, guint i) { return ((MaSearchTerm *)q->terms->pdata[i])->text; }
static MaSearchField term_field(const MaSearchQuery *q, guint i) { return ((MaSearchTerm *)q->terms->pdata[i])->field; }

/* One golden line: "start end token", the token's bytes up to space and '\\' written as \xNN. */
static int golden_line(void *ctx, const char *token, int len, int start, int end)
{
  GString *out = ctx;
  g_string_append_printf(out, "%d %d ", start, end);
  for (int i = 0; i < len; i++) {
    guchar c = (guchar)token[i];
    if (c <= 0x20 || c == '\\') g_string_append_printf(out, "\\x%02x", c);
    else g_string_append_c(out, (char)c);
  }
  g_string_append_c(out, '\n');
  return 0;
}

/* The tokenizer's output over a corpus of every kind of text it meets (mail words, addresses,
 * accents, compatibility forms, combining marks, CJK runs of each length beside Latin, invalid
 * UTF-8, NUL bytes, words at and around both length caps) is the golden file's, token for token:
 * written by the tokenizer before its ASCII fast path, so a faster one cuts text the same way. */
static void test_golden_corpus(void)
{
  g_autofree char *corpus_path = g_build_filename(FIXTURES_DIR, "search_tokens", "corpus.txt", NULL);
  g_autofree char *golden_path = g_build_filename(FIXTURES_DIR, "search_tokens", "corpus.tokens", NULL);
  g_autofree char *corpus = NULL, *golden = NULL;
  gsize corpus_len = 0;
  g_assert_true(g_file_get_contents(corpus_path, &corpus, &corpus_len, NULL));
  g_assert_true(g_file_get_contents(golden_path, &golden, NULL, NULL));
  g_autoptr(GString) got = g_string_new(NULL);
  g_assert_cmpint(search_tokenize(corpus, corpus_len, golden_line, got), ==, 0);
  g_auto(GStrv) want_lines = g_strsplit(golden, "\n", -1);
  g_auto(GStrv) got_lines = g_strsplit(got->str, "\n", -1);
  g_assert_cmpuint(g_strv_length(want_lines), >, 5000);
  for (guint i = 0; want_lines[i] && got_lines[i]; i++) g_assert_cmpstr(got_lines[i], ==, want_lines[i]);
  g_assert_cmpuint(g_strv_length(got_lines), ==, g_strv_length(want_lines));
}

/* BM25's figures as FTS5's bm25() documents them (k1 1.2, b 0.75), and the frequency estimate. */
static void test_rank(void)
{
  g_assert_cmpfloat_with_epsilon(search_rank_idf(100, 10), log(90.5 / 10.5), 1e-12);
  g_assert_cmpfloat(search_rank_idf(100, 60), ==, 1e-6);  /* in most documents: a little */
  g_assert_cmpfloat(search_rank_idf(100, 250), ==, 1e-6); /* an estimate above the total */
  g_assert_cmpfloat(search_rank_idf(100, 0), >, search_rank_idf(100, 1));
  /* average length: norm = k1 = 1.2, f (k1 + 1) / (f + 1.2) */
  g_assert_cmpfloat_with_epsilon(search_rank_term(2.0, 1.0, 50, 50), 2.0, 1e-12);
  /* twice the average length: norm = 1.2 (0.25 + 1.5) = 2.1 */
  g_assert_cmpfloat_with_epsilon(search_rank_term(2.0, 3.0, 100, 50), 2.0 * 6.6 / 5.1, 1e-12);
  g_assert_cmpfloat(search_rank_term(1.0, 10.0, 50, 50), <, 2.2); /* saturates below k1 + 1 */
  /* fewer than the sample: all were read, the count is exact */
  g_assert_cmpfloat(search_rank_count(37, 500, 400, 1, 1000), ==, 37.0);
  /* a full sample from the newest half of the span: twice as many over the whole */
  g_assert_cmpfloat_with_epsilon(search_rank_count(500, 500, 501, 1, 1000), 1000.0, 1e-9);
  g_assert_cmpfloat_with_epsilon(search_rank_count(500, 500, 901, 1, 1000), 5000.0, 1e-9);
}

static void test_query(void)
{
  GError *error = NULL;
  g_autoptr(MaSearchQuery) q = search_query_parse("  invoice \"quarterly report\" FROM:carol@x.example to:\"Bob B\""
                                                  " subject:Q3 file:a.pdf http://x re:", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(q->terms->len, ==, 8);
  g_assert_cmpstr(term_text(q, 0), ==, "invoice");
  g_assert_cmpint(term_field(q, 0), ==, MA_SEARCH_ANY);
  g_assert_cmpstr(term_text(q, 1), ==, "quarterly report");
  g_assert_cmpint(term_field(q, 2), ==, MA_SEARCH_FROM);
  g_assert_cmpstr(term_text(q, 2), ==, "carol@x.example");
  g_assert_cmpint(term_field(q, 3), ==, MA_SEARCH_TO);
  g_assert_cmpstr(term_text(q, 3), ==, "Bob B");
  g_assert_cmpint(term_field(q, 4), ==, MA_SEARCH_SUBJECT);
  g_assert_cmpint(term_field(q, 5), ==, MA_SEARCH_FILE);
  g_assert_cmpstr(term_text(q, 6), ==, "http://x"); /* unknown prefix: a plain word */
  g_assert_cmpstr(term_text(q, 7), ==, "re:");
  g_assert_cmpstr(search_field_name(MA_SEARCH_FROM), ==, "from");

  /* FTS5 syntax is plain text here; punctuation-only terms are dropped */
  g_autoptr(MaSearchQuery) q2 = search_query_parse("AND OR ( ) * \"unclosed phrase", &error);
  g_assert_no_error(error);
  g_assert_cmpuint(q2->terms->len, ==, 3);
  g_assert_cmpstr(term_text(q2, 2), ==, "unclosed phrase");
  g_autoptr(MaSearchQuery) q3 = search_query_parse("東京都", &error);
  g_assert_cmpuint(q3->terms->len, ==, 1);
}

static void test_query_refused(void)
{
  const char *bad[] = {"", "   ", "\"\"", "( ) * - \"", "from:", "a\xff"};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    GError *error = NULL;
    g_assert_null(search_query_parse(bad[i], &error));
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    g_clear_error(&error);
  }
  GError *error = NULL;
  g_assert_null(search_query_parse(NULL, &error));
  g_clear_error(&error);
  g_autofree char *long_q = g_strnfill(SEARCH_QUERY_MAX_BYTES + 1, 'a');
  g_assert_null(search_query_parse(long_q, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  GString *many = g_string_new(NULL);
  for (int i = 0; i <= SEARCH_QUERY_MAX_TERMS; i++) g_string_append(many, "w ");
  g_assert_null(search_query_parse(many->str, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_string_truncate(many, SEARCH_QUERY_MAX_TERMS * 2);
  g_autoptr(MaSearchQuery) ok = search_query_parse(many->str, &error);
  g_assert_nonnull(ok);
  g_string_free(many, TRUE);
}

static void test_snippet(void)
{
  g_autofree char *html = search_snippet_render("a <b> & \"c\" \x02hit\x03 \x01 end", SEARCH_SNIPPET_HTML);
  g_assert_cmpstr(html, ==, "a &lt;b&gt; &amp; &quot;c&quot; <mark>hit</mark>   end");
  g_autofree char *text = search_snippet_render("\x02" "東京\x03都", SEARCH_SNIPPET_TEXT);
  g_assert_cmpstr(text, ==, "[東京]都");
  /* stray, nested and unclosed marks never produce broken markup */
  g_autofree char *odd = search_snippet_render("\x03x\x02\x02y", SEARCH_SNIPPET_HTML);
  g_assert_cmpstr(odd, ==, "x<mark>y</mark>");
  g_autofree char *none = search_snippet_render(NULL, SEARCH_SNIPPET_HTML);
  g_assert_cmpstr(none, ==, "");
  g_autofree char *invalid = search_snippet_render("a\xff", SEARCH_SNIPPET_TEXT);
  g_assert_true(g_utf8_validate(invalid, -1, NULL));
}

/* Marks for a backend without a highlighter: whole words, case-folded; the overlapping bigrams of a
 * CJK match as one mark; an excerpt around the first match with ellipses where cut. */
static void test_mark(void)
{
  g_autoptr(MaSearchQuery) q = search_query_parse("budget 事務所", NULL);
  g_autoptr(GHashTable) tokens = search_mark_tokens(q);
  g_autofree char *subject = search_mark("The BUDGET, budgets and budget.", tokens, 0);
  g_assert_cmpstr(subject, ==, "The " SEARCH_MARK_OPEN "BUDGET" SEARCH_MARK_CLOSE ", budgets and " SEARCH_MARK_OPEN "budget" SEARCH_MARK_CLOSE ".");
  g_autofree char *cjk = search_mark("東京都の事務所で", tokens, 0);
  g_assert_cmpstr(cjk, ==, "東京都の" SEARCH_MARK_OPEN "事務所" SEARCH_MARK_CLOSE "で");
  g_autofree char *excerpt = search_mark("one two three four five six budget eight nine ten eleven", tokens, 5);
  g_assert_cmpstr(excerpt, ==, SEARCH_ELLIPSIS "four five six " SEARCH_MARK_OPEN "budget" SEARCH_MARK_CLOSE " eight" SEARCH_ELLIPSIS);
  g_autofree char *unmatched = search_mark("alpha beta gamma", tokens, 2);
  g_assert_cmpstr(unmatched, ==, "alpha beta" SEARCH_ELLIPSIS);
  g_autofree char *empty = search_mark(NULL, tokens, 5);
  g_assert_cmpstr(empty, ==, "");
  g_autofree char *none = search_mark("  ,, ", tokens, 5);
  g_assert_cmpstr(none, ==, "  ,, ");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/search/tokenize/words", test_words);
  g_test_add_func("/search/tokenize/cjk", test_cjk);
  g_test_add_func("/search/tokenize/long_word", test_long_word);
  g_test_add_func("/search/tokenize/invalid_utf8", test_invalid_utf8);
  g_test_add_func("/search/tokenize/every_prefix", test_every_prefix);
  g_test_add_func("/search/tokenize/stop", test_stop);
  g_test_add_func("/search/tokenize/golden_corpus", test_golden_corpus);
  g_test_add_func("/search/rank", test_rank);
  g_test_add_func("/search/query/syntax", test_query);
  g_test_add_func("/search/query/refused", test_query_refused);
  g_test_add_func("/search/snippet", test_snippet);
  g_test_add_func("/search/mark", test_mark);
  return g_test_run();
}
