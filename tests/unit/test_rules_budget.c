/* test_rules_budget.c - the regex budget per message (rules.h "Budget"): the hostile case of issue
 * 9 (10 rules of `participants matches "(a+)+$"`, one message with 3,000 addresses) is stopped
 * after exactly the budget, with a deterministic count of full-limit calls and the same units on
 * every run; an ordinary message of the same size stays well inside it; a regex stopped by its own
 * per-call limit is not exhaustion (later rules still match); after exhaustion nothing matches, not
 * even for the next record; a condition left undecided is not cached. Time plays no part (the
 * backstop is off in these tests).
 */
#include "rules/rules.h"

#include <string.h>

#define ADDRESSES 3000
/* what one call of the hostile pattern is charged: every escalation step up to the per-call limit */
#define FULL_CALL (100 + 800 + 6400 + 51200 + RULES_REGEX_MATCH_LIMIT)

static RulesSet *ten_rules(const char *condition, const char *last_rule)
{
  GString *json = g_string_new("[");
  for (int i = 0; i < (last_rule ? 9 : 10); i++)
    g_string_append_printf(json,
                           "%s{\"id\":\"r%d\",\"name\":\"r%d\",\"object_types\":[\"contact\",\"account\"],\"conditions\":[%s],"
                           "\"action\":{\"activity_type\":\"task\"}}",
                           i ? "," : "", i, i, condition);
  if (last_rule) g_string_append_printf(json, ",%s", last_rule);
  g_string_append(json, "]");
  GError *error = NULL;
  RulesSet *set = rules_set_parse(json->str, RULES_PARSE_REQUIRE_IDS, &error);
  g_assert_no_error(error);
  g_string_free(json, TRUE);
  return set;
}

/* A message with n participants, "aaa...a<i>@x<i>.example" (the a's make "(a+)+$" backtrack). */
static RulesInput *crowd(int n)
{
  RulesInput *in = rules_input_new();
  rules_input_set_budget(in, RULES_MESSAGE_BUDGET, 0);
  rules_input_set_subject(in, "hello");
  for (int i = 0; i < n; i++) {
    char addr[128];
    g_snprintf(addr, sizeof addr, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%d@x%d.example", i, i);
    rules_input_add_participant(in, addr);
  }
  rules_input_set_record(in, MA_RECORD_CONTACT, "c", MA_STAGE_NONE, NULL);
  return in;
}

static const char hostile[] =
  "{\"field\":\"participants\",\"op\":\"matches\",\"value\":\"^(a+)+$\",\"case_sensitive\":true}";

static void test_hostile_is_stopped_deterministically(void)
{
  g_autoptr(RulesSet) set = ten_rules(hostile, NULL);
  guint64 used[2];
  guint64 hits[2];
  for (int run = 0; run < 2; run++) {
    g_autoptr(RulesInput) in = crowd(ADDRESSES);
    guint64 before = rules_regex_limit_hits();
    g_assert_null(rules_first_match(set, in));
    hits[run] = rules_regex_limit_hits() - before;
    used[run] = rules_input_budget_used(in);
    g_assert_true(rules_input_budget_exhausted(in));
    /* exhausted: later records of the message get nothing either, and nothing more is spent */
    rules_input_set_record(in, MA_RECORD_ACCOUNT, "a", MA_STAGE_NONE, NULL);
    g_assert_null(rules_first_match(set, in));
    g_assert_cmpuint(rules_input_budget_used(in), ==, used[run]);
  }
  /* the whole budget, no more; the calls that reached the per-call limit are exactly those the
   * budget pays for in full (instead of 30,000 without a budget) */
  g_assert_cmpuint(used[0], ==, RULES_MESSAGE_BUDGET);
  g_assert_cmpuint(hits[0], ==, RULES_MESSAGE_BUDGET / FULL_CALL);
  g_assert_cmpuint(used[1], ==, used[0]);
  g_assert_cmpuint(hits[1], ==, hits[0]);
}

static void test_ordinary_message_fits(void)
{
  g_autoptr(RulesSet) set = ten_rules(
    "{\"field\":\"participants\",\"op\":\"matches\",\"value\":\"@globex\\\\.example$\"}", NULL);
  g_autoptr(RulesInput) in = crowd(ADDRESSES);
  g_assert_null(rules_first_match(set, in));
  g_assert_false(rules_input_budget_exhausted(in));
  /* one first-limit attempt per (rule, address); a second record reuses the cached results */
  g_assert_cmpuint(rules_input_budget_used(in), ==, 10ull * ADDRESSES * RULES_REGEX_FIRST_LIMIT);
  rules_input_set_record(in, MA_RECORD_ACCOUNT, "a", MA_STAGE_NONE, NULL);
  g_assert_null(rules_first_match(set, in));
  g_assert_cmpuint(rules_input_budget_used(in), ==, 10ull * ADDRESSES * RULES_REGEX_FIRST_LIMIT);
}

static void test_per_call_limit_is_not_exhaustion(void)
{
  /* one hostile rule on one address, then an unconditional rule: the hostile one is false by its
   * per-call limit and the next rule matches */
  g_autoptr(GError) error = NULL;
  g_autoptr(RulesSet) set = rules_set_parse(
    "[{\"id\":\"h\",\"name\":\"h\",\"object_types\":[\"contact\"],\"conditions\":[{\"field\":\"participants\",\"op\":\"matches\","
    "\"value\":\"^(a+)+$\",\"case_sensitive\":true}],\"action\":{\"activity_type\":\"task\"}},"
    "{\"id\":\"all\",\"name\":\"all\",\"object_types\":[\"contact\"],\"action\":{\"activity_type\":\"note\"}}]",
    RULES_PARSE_REQUIRE_IDS, &error);
  g_assert_no_error(error);
  g_autoptr(RulesInput) in = crowd(1);
  const RulesRule *r = rules_first_match(set, in);
  g_assert_nonnull(r);
  g_assert_cmpstr(rules_rule_id(r), ==, "all");
  g_assert_false(rules_input_budget_exhausted(in));
  g_assert_cmpuint(rules_input_budget_used(in), ==, FULL_CALL);

  /* the same with a budget smaller than one full call: exhausted, the second rule is not reached */
  g_autoptr(RulesInput) small = crowd(1);
  rules_input_set_budget(small, 10000, 0);
  g_assert_null(rules_first_match(set, small));
  g_assert_true(rules_input_budget_exhausted(small));
  g_assert_cmpuint(rules_input_budget_used(small), ==, 10000);

  /* a new budget starts afresh */
  rules_input_set_budget(small, RULES_MESSAGE_BUDGET, 0);
  g_assert_false(rules_input_budget_exhausted(small));
  r = rules_first_match(set, small);
  g_assert_nonnull(r);
  g_assert_cmpstr(rules_rule_id(r), ==, "all");
}

static void test_undecided_is_not_cached(void)
{
  /* rule 1's condition reads only message fields (cached across records); exhausting the budget
   * in it must not store "false" for it: with a new budget it is evaluated again and matches */
  g_autoptr(GError) error = NULL;
  g_autoptr(RulesSet) set = rules_set_parse(
    "[{\"id\":\"m\",\"name\":\"m\",\"object_types\":[\"contact\"],\"conditions\":[{\"field\":\"participants\",\"op\":\"matches\","
    "\"value\":\"^a+0@\"}],\"action\":{\"activity_type\":\"task\"}}]",
    RULES_PARSE_REQUIRE_IDS, &error);
  g_assert_no_error(error);
  g_autoptr(RulesInput) in = crowd(1);
  rules_input_set_budget(in, 0, 0); /* nothing left: the first regex call exhausts it */
  g_assert_null(rules_first_match(set, in));
  g_assert_true(rules_input_budget_exhausted(in));
  rules_input_set_budget(in, RULES_MESSAGE_BUDGET, 0);
  const RulesRule *r = rules_first_match(set, in);
  g_assert_nonnull(r);
  g_assert_cmpstr(rules_rule_id(r), ==, "m");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/rules/budget/hostile_is_stopped_deterministically", test_hostile_is_stopped_deterministically);
  g_test_add_func("/rules/budget/ordinary_message_fits", test_ordinary_message_fits);
  g_test_add_func("/rules/budget/per_call_limit_is_not_exhaustion", test_per_call_limit_is_not_exhaustion);
  g_test_add_func("/rules/budget/undecided_is_not_cached", test_undecided_is_not_cached);
  return g_test_run();
}
