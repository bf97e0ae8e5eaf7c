/* test_rules_bench.c - the rules benchmark (scripts/bench/rules/run.sh), also run by ctest as a
 * quick check that the bench still works.
 *
 * Ten rules of mixed conditions (text, lists, numbers, record attributes, four regexes), none of
 * which matches the synthetic mail, so every (message, record) pair walks all ten: the figure is
 * the worst case. Per message the input is built once (its case-folding cost is included), then
 * three linked records are evaluated. Prints nanoseconds per (message, record, rule).
 * RULES_BENCH_MESSAGES=N sets the number of messages (default 200 under ctest, 20000 in the bench);
 * RULES_BENCH_TEXT=cjk uses Chinese bodies instead of mostly-ASCII ones.
 */
#include "rules/rules.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread in microseconds: the figure does not depend on what else the machine
 * runs (wall time is printed too). */
static gint64 cpu_usec(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static const char *bench_rules =
  "["
  "{\"id\":\"r1\",\"name\":\"invoices\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"invoice\"}],"
  " \"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r2\",\"name\":\"partners\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"from_domain\",\"op\":\"in\",\"value\":[\"partner1.example\",\"partner2.example\","
  "   \"partner3.example\",\"partner4.example\",\"partner5.example\"]}],\"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r3\",\"name\":\"order numbers\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"body\",\"op\":\"matches\",\"value\":\"\\\\b(?:order|po)\\\\s*#?\\\\d{6,}\\\\b\"}],"
  " \"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r4\",\"name\":\"big pdf\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"attachment_name\",\"op\":\"ends_with\",\"value\":\".pdf\"},"
  "   {\"field\":\"size\",\"op\":\"gt\",\"value\":10000000}],\"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r5\",\"name\":\"executives\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"participants\",\"op\":\"matches\",\"value\":\"^(?:ceo|cfo|cto)@\"}],"
  " \"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r6\",\"name\":\"platinum\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"record.tier\",\"op\":\"equals\",\"value\":\"platinum\"}],"
  " \"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r7\",\"name\":\"quote replies\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"^(?:re|fwd?):\\\\s*(?:quote|offer)\"}],"
  " \"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r8\",\"name\":\"outbound non-automated\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"direction\",\"op\":\"equals\",\"value\":\"outbound\"},"
  "   {\"field\":\"to\",\"op\":\"not_contains\",\"value\":\"noreply\"}],\"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r9\",\"name\":\"contracts\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"match\":\"any\",\"conditions\":[{\"field\":\"body\",\"op\":\"contains\",\"value\":\"signed contract\"},"
  "   {\"field\":\"attachment_name\",\"op\":\"matches\",\"value\":\"(?i)contract.*\\\\.docx?$\"},"
  "   {\"field\":\"cc\",\"op\":\"equals\",\"value\":\"legal@acme.test\"}],\"action\":{\"activity_type\":\"x\"}},"
  "{\"id\":\"r10\",\"name\":\"closed deals\",\"object_types\":[\"contact\",\"account\",\"opportunity\"],"
  " \"conditions\":[{\"field\":\"record.stage\",\"op\":\"in\",\"value\":[\"won\",\"lost\"]},"
  "   {\"field\":\"record.amount\",\"op\":\"gt\",\"value\":100000}],\"action\":{\"activity_type\":\"x\"}}"
  "]";

static const char *words[] = {"hello", "thanks", "meeting", "tomorrow", "project", "schedule", "budget", "review",
                              "Straße", "café", "déjà", "vu", "proposal", "timeline", "delivery", "question",
                              "regards", "best", "team", "update", "next", "week", "call", "numbers"};

static const char *cjk_words[] = {"你好", "谢谢", "会议", "明天", "项目", "报价", "预算", "审核", "合同", "交付",
                                  "问题", "团队", "下周", "电话", "数据", "客户"};

/* RULES_BENCH_TEXT=cjk: Chinese bodies (every word goes through Unicode folding). */
static gboolean cjk(void)
{
  return g_strcmp0(g_getenv("RULES_BENCH_TEXT"), "cjk") == 0;
}

static char *make_body(GRand *r, int len)
{
  GString *s = g_string_sized_new((gsize) len + 32);
  while ((int) s->len < len) {
    if (cjk()) g_string_append(s, cjk_words[g_rand_int_range(r, 0, G_N_ELEMENTS(cjk_words))]);
    else g_string_append(s, words[g_rand_int_range(r, 0, G_N_ELEMENTS(words))]);
    g_string_append_c(s, g_rand_int_range(r, 0, 12) == 0 ? '\n' : ' ');
  }
  return g_string_free(s, FALSE);
}

/* The message half of an input (subject and body are set by the caller). */
static RulesInput *make_input(int i)
{
  RulesInput *in = rules_input_new();
  rules_input_set_snippet(in, "Hello team, a short snippet of the message");
  g_autofree char *from = g_strdup_printf("person%d@customer%d.example", i % 97, i % 13);
  rules_input_set_from(in, "Some Person", from);
  rules_input_add_participant(in, from);
  rules_input_add_to(in, "sales@acme.test");
  rules_input_add_participant(in, "sales@acme.test");
  rules_input_add_to(in, "bob@acme.test");
  rules_input_add_participant(in, "bob@acme.test");
  rules_input_add_cc(in, "team@acme.test");
  rules_input_add_participant(in, "team@acme.test");
  rules_input_set_direction(in, MA_DIRECTION_INBOUND);
  rules_input_set_has_attachment(in, i % 3 == 0);
  if (i % 3 == 0) rules_input_add_attachment_name(in, "slides.pptx");
  rules_input_add_mailbox(in, "sales-inbox");
  rules_input_set_size(in, 4000 + i);
  return in;
}

static void test_bench(void)
{
  const char *env = g_getenv("RULES_BENCH_MESSAGES");
  int messages = env ? atoi(env) : 200;
  if (messages < 1) messages = 1;
  g_autoptr(GError) error = NULL;
  g_autoptr(RulesSet) set = rules_set_parse(bench_rules, 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(rules_set_count(set), ==, 10);

  GRand *r = g_rand_new_with_seed(42);
  static const MaRecordType types[] = {MA_RECORD_CONTACT, MA_RECORD_ACCOUNT, MA_RECORD_OPPORTUNITY};
  /* Inputs are generated outside the timed loop; building them (and folding) is timed below. */
  GPtrArray *subjects = g_ptr_array_new_with_free_func(g_free);
  GPtrArray *bodies = g_ptr_array_new_with_free_func(g_free);
  for (int i = 0; i < messages; i++) {
    g_ptr_array_add(subjects, g_strdup_printf("Project %d: %s", i, words[i % G_N_ELEMENTS(words)]));
    g_ptr_array_add(bodies, make_body(r, 1500 + g_rand_int_range(r, 0, 2500)));
  }
  guint64 matched = 0, pairs = 0;
  gint64 t0 = g_get_monotonic_time(), c0 = cpu_usec();
  for (int i = 0; i < messages; i++) {
    RulesInput *in = make_input(i);
    rules_input_set_subject(in, subjects->pdata[i]);
    rules_input_set_body(in, bodies->pdata[i]);
    for (guint k = 0; k < G_N_ELEMENTS(types); k++) {
      rules_input_set_record(in, types[k], "Customer Record", types[k] == MA_RECORD_OPPORTUNITY ? MA_STAGE_OPEN
                                                                                            : MA_STAGE_NONE,
                             "{\"tier\":\"gold\",\"amount\":5000,\"region\":\"emea\"}");
      if (rules_first_match(set, in)) matched++;
      pairs++;
    }
    rules_input_free(in);
  }
  gint64 elapsed = g_get_monotonic_time() - t0, cpu = cpu_usec() - c0;
  g_assert_cmpuint(matched, ==, 0); /* the worst case: all ten rules evaluated for every pair */
  double per_rule_ns = (double) cpu * 1000.0 / ((double) pairs * 10.0);
  double per_rule_wall_ns = (double) elapsed * 1000.0 / ((double) pairs * 10.0);
  printf("# rules bench: %d messages x 3 records x 10 rules, %s bodies, %.3f s CPU, %.3f s wall\n", messages,
         cjk() ? "Chinese" : "mostly ASCII", (double) cpu / 1e6, (double) elapsed / 1e6);
  printf("# cost per (message, record, rule): %.0f ns CPU (target < 2000 ns; wall %.0f ns), input building and "
         "folding included\n",
         per_rule_ns, per_rule_wall_ns);
  g_ptr_array_unref(subjects);
  g_ptr_array_unref(bodies);
  g_rand_free(r);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/rules/bench", test_bench);
  return g_test_run();
}
