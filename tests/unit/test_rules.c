/* test_rules.c - the rules library: every field and operator (table driven), list semantics,
 * case folding, ordering and first-match-wins, object_types, enabled flags, the 10-rule cap,
 * validation messages, the catastrophic regex, templates and the edit operations. */
#include "rules/rules.h"
#include "rules/rules_edit.h"
#include "rules/rules_internal.h" /* rules_fold */

#include <string.h>

/* A message from an external contact to two employees, with an attachment, linked to a contact
 * record with attributes. */
static RulesInput *sample_input(void)
{
  RulesInput *in = rules_input_new();
  rules_input_set_subject(in, "Re: Quote for Straße Project");
  rules_input_set_body(in, "Hello, please find the PRICING attached.\nRegards, Émile");
  rules_input_set_snippet(in, "Hello, please find the PRICING attached.");
  rules_input_set_from(in, "Émile Zola", "Emile@Customer.example");
  rules_input_add_to(in, "sales@acme.test");
  rules_input_add_to(in, "bob@acme.test");
  rules_input_add_cc(in, "boss@customer.example");
  rules_input_add_participant(in, "Emile@Customer.example");
  rules_input_add_participant(in, "sales@acme.test");
  rules_input_add_participant(in, "bob@acme.test");
  rules_input_add_participant(in, "boss@customer.example");
  rules_input_set_direction(in, MA_DIRECTION_INBOUND);
  rules_input_set_has_attachment(in, TRUE);
  rules_input_add_attachment_name(in, "pricing-2024.PDF");
  rules_input_add_attachment_name(in, "logo.png");
  rules_input_add_mailbox(in, "sales-inbox");
  rules_input_add_employee(in, "emp1");
  rules_input_add_employee(in, "bob@acme.test");
  rules_input_set_size(in, 12345);
  rules_input_set_record(in, MA_RECORD_OPPORTUNITY, "Big Deal", MA_STAGE_OPEN,
                         "{\"tier\":\"Gold\",\"amount\":5000,\"tags\":[\"vip\",\"eu\"],\"partner\":true,"
                         "\"empty\":\"\",\"nothing\":null}");
  return in;
}

/* Evaluates one condition (JSON text) against the sample input. */
static gboolean holds(const char *condition)
{
  g_autofree char *json = g_strdup_printf(
    "[{\"id\":\"r1\",\"name\":\"t\",\"object_types\":[\"opportunity\"],\"conditions\":[%s],"
    "\"action\":{\"activity_type\":\"email\"}}]",
    condition);
  g_autoptr(GError) error = NULL;
  g_autoptr(RulesSet) set = rules_set_parse(json, 0, &error);
  if (!set) g_error("condition %s refused: %s", condition, error->message);
  g_autoptr(RulesInput) in = sample_input();
  return rules_first_match(set, in) != NULL;
}

typedef struct {
  const char *condition;
  gboolean expected;
} Case;

static const Case cases[] = {
  /* subject: text, case-insensitive, Unicode */
  {"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quote\"}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"STRASSE\"}", TRUE}, /* ß folds to ss */
  {"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quote\",\"case_sensitive\":true}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"Quote\",\"case_sensitive\":true}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"not_contains\",\"value\":\"invoice\"}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"not_contains\",\"value\":\"QUOTE\"}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"equals\",\"value\":\"re: quote for strasse project\"}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"equals\",\"value\":\"re: quote\"}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"not_equals\",\"value\":\"re: quote\"}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"starts_with\",\"value\":\"RE:\"}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"starts_with\",\"value\":\"Quote\"}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"ends_with\",\"value\":\"project\"}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"ends_with\",\"value\":\"quote\"}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"^re:\\\\s+quote\"}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"^quote\"}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"^Re:\",\"case_sensitive\":true}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"^RE:\",\"case_sensitive\":true}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"in\",\"value\":[\"x\",\"RE: QUOTE FOR STRASSE PROJECT\"]}", TRUE},
  {"{\"field\":\"subject\",\"op\":\"in\",\"value\":[\"x\",\"y\"]}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"is_empty\"}", FALSE},
  {"{\"field\":\"subject\",\"op\":\"is_empty\",\"value\":false}", TRUE},
  /* body and snippet */
  {"{\"field\":\"body\",\"op\":\"contains\",\"value\":\"pricing\"}", TRUE},
  {"{\"field\":\"body\",\"op\":\"contains\",\"value\":\"émile\"}", TRUE},
  {"{\"field\":\"body\",\"op\":\"contains\",\"value\":\"E\\u0301mile\"}", TRUE}, /* decomposed form */
  {"{\"field\":\"body\",\"op\":\"matches\",\"value\":\"regards,\\\\s+\\\\p{Lu}\"}", TRUE},
  {"{\"field\":\"body\",\"op\":\"not_contains\",\"value\":\"unsubscribe\"}", TRUE},
  {"{\"field\":\"snippet\",\"op\":\"ends_with\",\"value\":\"attached.\"}", TRUE},
  /* from, from_domain */
  {"{\"field\":\"from\",\"op\":\"equals\",\"value\":\"emile@customer.example\"}", TRUE},
  {"{\"field\":\"from\",\"op\":\"ends_with\",\"value\":\"@acme.test\"}", FALSE},
  {"{\"field\":\"from_domain\",\"op\":\"equals\",\"value\":\"CUSTOMER.example\"}", TRUE},
  {"{\"field\":\"from_domain\",\"op\":\"in\",\"value\":[\"acme.test\"]}", FALSE},
  {"{\"field\":\"from_domain\",\"op\":\"not_equals\",\"value\":\"acme.test\"}", TRUE},
  /* list fields: any element for positive ops, none for not_ ops */
  {"{\"field\":\"to\",\"op\":\"equals\",\"value\":\"bob@acme.test\"}", TRUE},
  {"{\"field\":\"to\",\"op\":\"not_equals\",\"value\":\"bob@acme.test\"}", FALSE},
  {"{\"field\":\"to\",\"op\":\"not_equals\",\"value\":\"carol@acme.test\"}", TRUE},
  {"{\"field\":\"to\",\"op\":\"starts_with\",\"value\":\"sales@\"}", TRUE},
  {"{\"field\":\"to\",\"op\":\"not_contains\",\"value\":\"acme\"}", FALSE},
  {"{\"field\":\"to\",\"op\":\"not_contains\",\"value\":\"customer\"}", TRUE},
  {"{\"field\":\"cc\",\"op\":\"contains\",\"value\":\"boss@\"}", TRUE},
  {"{\"field\":\"cc\",\"op\":\"is_empty\"}", FALSE},
  {"{\"field\":\"participants\",\"op\":\"equals\",\"value\":\"BOSS@customer.example\"}", TRUE},
  {"{\"field\":\"participants\",\"op\":\"matches\",\"value\":\"^bob@\"}", TRUE},
  {"{\"field\":\"participants\",\"op\":\"not_contains\",\"value\":\"competitor.example\"}", TRUE},
  /* direction */
  {"{\"field\":\"direction\",\"op\":\"equals\",\"value\":\"inbound\"}", TRUE},
  {"{\"field\":\"direction\",\"op\":\"equals\",\"value\":\"outbound\"}", FALSE},
  {"{\"field\":\"direction\",\"op\":\"not_equals\",\"value\":\"outbound\"}", TRUE},
  {"{\"field\":\"direction\",\"op\":\"in\",\"value\":[\"outbound\",\"inbound\"]}", TRUE},
  /* attachments */
  {"{\"field\":\"has_attachment\",\"op\":\"equals\",\"value\":true}", TRUE},
  {"{\"field\":\"has_attachment\",\"op\":\"equals\",\"value\":false}", FALSE},
  {"{\"field\":\"has_attachment\",\"op\":\"not_equals\",\"value\":false}", TRUE},
  {"{\"field\":\"attachment_name\",\"op\":\"ends_with\",\"value\":\".pdf\"}", TRUE},
  {"{\"field\":\"attachment_name\",\"op\":\"matches\",\"value\":\"^pricing-\\\\d{4}\\\\.pdf$\"}", TRUE},
  {"{\"field\":\"attachment_name\",\"op\":\"not_contains\",\"value\":\".exe\"}", TRUE},
  {"{\"field\":\"attachment_name\",\"op\":\"equals\",\"value\":\"contract.docx\"}", FALSE},
  /* provenance */
  {"{\"field\":\"mailbox\",\"op\":\"equals\",\"value\":\"sales-inbox\"}", TRUE},
  {"{\"field\":\"mailbox\",\"op\":\"not_equals\",\"value\":\"sales-inbox\"}", FALSE},
  {"{\"field\":\"employee\",\"op\":\"equals\",\"value\":\"BOB@acme.test\"}", TRUE},
  {"{\"field\":\"employee\",\"op\":\"in\",\"value\":[\"emp2\",\"emp1\"]}", TRUE},
  {"{\"field\":\"employee\",\"op\":\"is_empty\"}", FALSE},
  /* size */
  {"{\"field\":\"size\",\"op\":\"gt\",\"value\":10000}", TRUE},
  {"{\"field\":\"size\",\"op\":\"gt\",\"value\":12345}", FALSE},
  {"{\"field\":\"size\",\"op\":\"lt\",\"value\":12346}", TRUE},
  {"{\"field\":\"size\",\"op\":\"lt\",\"value\":100}", FALSE},
  {"{\"field\":\"size\",\"op\":\"equals\",\"value\":12345}", TRUE},
  {"{\"field\":\"size\",\"op\":\"not_equals\",\"value\":12345}", FALSE},
  {"{\"field\":\"size\",\"op\":\"in\",\"value\":[1,12345]}", TRUE},
  /* record */
  {"{\"field\":\"record.name\",\"op\":\"contains\",\"value\":\"big\"}", TRUE},
  {"{\"field\":\"record.stage\",\"op\":\"equals\",\"value\":\"open\"}", TRUE},
  {"{\"field\":\"record.stage\",\"op\":\"in\",\"value\":[\"won\",\"lost\"]}", FALSE},
  {"{\"field\":\"record.tier\",\"op\":\"equals\",\"value\":\"gold\"}", TRUE},
  {"{\"field\":\"record.tier\",\"op\":\"equals\",\"value\":\"gold\",\"case_sensitive\":true}", FALSE},
  {"{\"field\":\"record.amount\",\"op\":\"gt\",\"value\":4999.5}", TRUE},
  {"{\"field\":\"record.amount\",\"op\":\"lt\",\"value\":5000}", FALSE},
  {"{\"field\":\"record.amount\",\"op\":\"equals\",\"value\":5000}", TRUE},
  {"{\"field\":\"record.amount\",\"op\":\"in\",\"value\":[1,2]}", FALSE},
  {"{\"field\":\"record.tags\",\"op\":\"equals\",\"value\":\"VIP\"}", TRUE},
  {"{\"field\":\"record.tags\",\"op\":\"not_equals\",\"value\":\"eu\"}", FALSE},
  {"{\"field\":\"record.partner\",\"op\":\"equals\",\"value\":true}", TRUE},
  {"{\"field\":\"record.empty\",\"op\":\"is_empty\"}", TRUE},
  {"{\"field\":\"record.nothing\",\"op\":\"is_empty\"}", TRUE},
  {"{\"field\":\"record.missing\",\"op\":\"is_empty\"}", TRUE},
  {"{\"field\":\"record.missing\",\"op\":\"equals\",\"value\":\"x\"}", FALSE},
  {"{\"field\":\"record.missing\",\"op\":\"not_equals\",\"value\":\"x\"}", TRUE},
  {"{\"field\":\"record.missing\",\"op\":\"gt\",\"value\":0}", FALSE},
  {"{\"field\":\"record.tier\",\"op\":\"gt\",\"value\":0}", FALSE}, /* not a number */
};

static void test_fields_and_operators(void)
{
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    gboolean got = holds(cases[i].condition);
    if (got != cases[i].expected)
      g_error("case %u %s: expected %s, got %s", i, cases[i].condition, cases[i].expected ? "true" : "false",
              got ? "true" : "false");
  }
}

static RulesSet *parse_ok(const char *json)
{
  g_autoptr(GError) error = NULL;
  RulesSet *set = rules_set_parse(json, 0, &error);
  g_assert_no_error(error);
  g_assert_nonnull(set);
  return set;
}

static void test_match_all_any(void)
{
  g_autoptr(RulesInput) in = sample_input();
  g_autoptr(RulesSet) all = parse_ok(
    "[{\"name\":\"a\",\"object_types\":[\"opportunity\"],\"match\":\"all\",\"conditions\":["
    "{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quote\"},"
    "{\"field\":\"direction\",\"op\":\"equals\",\"value\":\"outbound\"}],\"action\":{\"activity_type\":\"x\"}}]");
  g_assert_null(rules_first_match(all, in));
  g_autoptr(RulesSet) any = parse_ok(
    "[{\"name\":\"a\",\"object_types\":[\"opportunity\"],\"match\":\"any\",\"conditions\":["
    "{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quote\"},"
    "{\"field\":\"direction\",\"op\":\"equals\",\"value\":\"outbound\"}],\"action\":{\"activity_type\":\"x\"}}]");
  g_assert_nonnull(rules_first_match(any, in));
  /* No conditions: every archived mail matches. */
  g_autoptr(RulesSet) none = parse_ok(
    "[{\"name\":\"a\",\"object_types\":[\"opportunity\"],\"action\":{\"activity_type\":\"x\"}}]");
  g_assert_nonnull(rules_first_match(none, in));
}

static void test_order_first_match_types_enabled(void)
{
  g_autoptr(RulesSet) set = parse_ok(
    "[{\"id\":\"disabled\",\"name\":\"off\",\"enabled\":false,\"object_types\":[\"opportunity\"],"
    "\"action\":{\"activity_type\":\"x\"}},"
    " {\"id\":\"accounts\",\"name\":\"acc\",\"object_types\":[\"account\"],\"action\":{\"activity_type\":\"x\"}},"
    " {\"id\":\"nomatch\",\"name\":\"nm\",\"object_types\":[\"opportunity\",\"contact\"],"
    "\"conditions\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"invoice\"}],"
    "\"action\":{\"activity_type\":\"x\"}},"
    " {\"id\":\"second\",\"name\":\"s\",\"object_types\":[\"opportunity\",\"contact\"],"
    "\"conditions\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quote\"}],"
    "\"action\":{\"activity_type\":\"x\"}},"
    " {\"id\":\"third\",\"name\":\"t\",\"object_types\":[\"opportunity\",\"account\"],"
    "\"action\":{\"activity_type\":\"x\"}}]");
  g_autoptr(RulesInput) in = sample_input();
  const RulesRule *r = rules_first_match(set, in);
  g_assert_nonnull(r);
  g_assert_cmpstr(rules_rule_id(r), ==, "second"); /* disabled skipped, accounts-only skipped */
  g_assert_cmpuint(rules_rule_position(r), ==, 4);

  rules_input_set_record(in, MA_RECORD_ACCOUNT, "Customer Inc", MA_STAGE_NONE, "{}");
  r = rules_first_match(set, in);
  g_assert_cmpstr(rules_rule_id(r), ==, "accounts");

  rules_input_set_record(in, MA_RECORD_LEAD, "Lead", MA_STAGE_NONE, NULL);
  g_assert_null(rules_first_match(set, in));
}

static void expect_invalid(const char *json, int code, const char *fragment)
{
  g_autoptr(GError) error = NULL;
  RulesSet *set = rules_set_parse(json, 0, &error);
  if (set) g_error("accepted: %s", json);
  g_assert_error(error, MA_ERROR, code);
  if (!strstr(error->message, fragment)) g_error("message \"%s\" lacks \"%s\"", error->message, fragment);
}

#define RULE(conds) \
  "[{\"name\":\"n\",\"object_types\":[\"contact\"],\"conditions\":[" conds "],\"action\":{\"activity_type\":\"x\"}}]"

static void test_validation(void)
{
  expect_invalid("{}", MA_ERROR_INVALID, "array");
  expect_invalid("[1]", MA_ERROR_INVALID, "rules[0]: must be an object");
  expect_invalid("[{\"name\":\"n\",\"object_types\":[],\"action\":{\"activity_type\":\"x\"}}]", MA_ERROR_INVALID,
                 "rules[0].object_types: must name at least one");
  expect_invalid("[{\"name\":\"n\",\"object_types\":[\"contacts\"],\"action\":{\"activity_type\":\"x\"}}]",
                 MA_ERROR_INVALID, "rules[0].object_types[0]");
  expect_invalid("[{\"name\":\"n\",\"object_types\":[\"lead\"]}]", MA_ERROR_INVALID, "rules[0].action: required");
  expect_invalid("[{\"name\":\"n\",\"object_types\":[\"lead\"],\"colour\":1,\"action\":{\"activity_type\":\"x\"}}]",
                 MA_ERROR_INVALID, "unknown key \"colour\"");
  expect_invalid(RULE("{\"field\":\"subjet\",\"op\":\"equals\",\"value\":\"x\"}"), MA_ERROR_INVALID,
                 "rules[0].conditions[0].field: unknown field \"subjet\"");
  expect_invalid(RULE("{\"field\":\"subject\",\"op\":\"like\",\"value\":\"x\"}"), MA_ERROR_INVALID,
                 "rules[0].conditions[0].op: unknown operator \"like\"");
  expect_invalid(RULE("{\"field\":\"subject\",\"op\":\"gt\",\"value\":3}"), MA_ERROR_INVALID,
                 "does not apply to field \"subject\"");
  expect_invalid(RULE("{\"field\":\"subject\",\"op\":\"equals\",\"value\":3}"), MA_ERROR_INVALID,
                 "rules[0].conditions[0].value: must be a string");
  expect_invalid(RULE("{\"field\":\"size\",\"op\":\"gt\",\"value\":\"big\"}"), MA_ERROR_INVALID,
                 "conditions[0].value: required, a number");
  expect_invalid(RULE("{\"field\":\"has_attachment\",\"op\":\"equals\",\"value\":\"yes\"}"), MA_ERROR_INVALID,
                 "must be true or false");
  expect_invalid(RULE("{\"field\":\"direction\",\"op\":\"equals\",\"value\":\"sideways\"}"), MA_ERROR_INVALID,
                 "inbound");
  expect_invalid(RULE("{\"field\":\"to\",\"op\":\"in\",\"value\":\"a\"}"), MA_ERROR_INVALID, "non-empty array");
  expect_invalid(RULE("{\"field\":\"to\",\"op\":\"in\",\"value\":[\"a\",2]}"), MA_ERROR_INVALID,
                 "conditions[0].value[1]: must be a string");
  expect_invalid(RULE("{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"\"}"), MA_ERROR_INVALID, "empty");
  expect_invalid(RULE("{\"field\":\"subject\",\"op\":\"equals\",\"value\":\"x\",\"extra\":1}"), MA_ERROR_INVALID,
                 "rules[0].conditions[0]: unknown key \"extra\"");
  expect_invalid("[{\"name\":\"n\",\"object_types\":[\"lead\"],\"action\":{\"activity_type\":\"x\","
                 "\"title\":\"{{subjct}}\"}}]",
                 MA_ERROR_INVALID, "rules[0].action.title: unknown placeholder {{subjct}}");
  expect_invalid("[{\"name\":\"n\",\"object_types\":[\"lead\"],\"action\":{\"activity_type\":\"x\","
                 "\"content\":\"{{subject\"}}]",
                 MA_ERROR_INVALID, "rules[0].action.content");
  expect_invalid("[{\"id\":\"a\",\"name\":\"n\",\"object_types\":[\"lead\"],\"action\":{\"activity_type\":\"x\"}},"
                 " {\"id\":\"a\",\"name\":\"m\",\"object_types\":[\"lead\"],\"action\":{\"activity_type\":\"x\"}}]",
                 MA_ERROR_INVALID, "duplicate id");
}

static void test_bad_regex_offset(void)
{
  g_autoptr(GError) error = NULL;
  g_assert_null(rules_set_parse(RULE("{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"ab(c\"}"), 0, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "rules[0].conditions[0].value: bad regular expression at offset 4"));
  g_clear_error(&error);
  g_assert_null(rules_set_parse(RULE("{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"a[z-b]\"}"), 0, &error));
  if (!strstr(error->message, "at offset 4: range out of order")) g_error("%s", error->message);
}

static char *rule_json(int i, gboolean enabled)
{
  return g_strdup_printf("{\"id\":\"r%d\",\"name\":\"rule %d\",\"enabled\":%s,\"object_types\":[\"contact\"],"
                         "\"action\":{\"activity_type\":\"x\"}}",
                         i, i, enabled ? "true" : "false");
}

static void test_ten_rule_cap(void)
{
  GString *s = g_string_new("[");
  for (int i = 0; i < 11; i++) {
    g_autofree char *r = rule_json(i, i % 2 == 0); /* disabled ones count */
    if (i) g_string_append_c(s, ',');
    g_string_append(s, r);
    if (i == 9) {
      g_autoptr(GString) ten = g_string_new(s->str);
      g_string_append_c(ten, ']');
      g_autoptr(RulesSet) ok = parse_ok(ten->str);
      g_assert_cmpuint(rules_set_count(ok), ==, 10);
    }
  }
  g_string_append_c(s, ']');
  g_autoptr(GError) error = NULL;
  g_assert_null(rules_set_parse(s->str, 0, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_LIMIT);
  g_string_free(s, TRUE);
}

static void test_catastrophic_regex(void)
{
  g_autoptr(RulesSet) set =
    parse_ok(RULE("{\"field\":\"body\",\"op\":\"matches\",\"value\":\"(a+)+$\",\"case_sensitive\":true}"));
  g_autoptr(RulesInput) in = rules_input_new();
  char body[4097];
  memset(body, 'a', sizeof body - 2);
  body[sizeof body - 2] = 'b';
  body[sizeof body - 1] = '\0';
  rules_input_set_body(in, body);
  rules_input_set_record(in, MA_RECORD_CONTACT, "c", MA_STAGE_NONE, NULL);
  guint64 before = rules_regex_limit_hits();
  gint64 t0 = g_get_monotonic_time();
  g_assert_null(rules_first_match(set, in));
  gint64 elapsed = g_get_monotonic_time() - t0;
  g_assert_cmpuint(rules_regex_limit_hits(), ==, before + 1);
  g_assert_cmpint(elapsed, <, 500000); /* well under half a second */
  /* Another record of the same message: the message-only result is reused, not recomputed. */
  rules_input_set_record(in, MA_RECORD_CONTACT, "other", MA_STAGE_NONE, NULL);
  g_assert_null(rules_first_match(set, in));
  g_assert_cmpuint(rules_regex_limit_hits(), ==, before + 1);
  /* Another message with the same body: counted again (logged once per rule). */
  g_autoptr(RulesInput) in2 = rules_input_new();
  rules_input_set_body(in2, body);
  rules_input_set_record(in2, MA_RECORD_CONTACT, "c", MA_STAGE_NONE, NULL);
  g_assert_null(rules_first_match(set, in2));
  g_assert_cmpuint(rules_regex_limit_hits(), ==, before + 2);
  /* A benign input still matches. */
  g_autoptr(RulesInput) ok = rules_input_new();
  rules_input_set_body(ok, "aaaa");
  rules_input_set_record(ok, MA_RECORD_CONTACT, "c", MA_STAGE_NONE, NULL);
  g_assert_nonnull(rules_first_match(set, ok));
  g_assert_cmpuint(rules_regex_limit_hits(), ==, before + 2);
}

/* Message-only results are reused across records, record conditions are not, and changing the
 * message forgets what was cached. */
static void test_result_cache(void)
{
  g_autoptr(RulesSet) set = parse_ok(
    "[{\"name\":\"n\",\"object_types\":[\"contact\"],\"conditions\":["
    "{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quote\"},"
    "{\"field\":\"record.tier\",\"op\":\"equals\",\"value\":\"gold\"}],\"action\":{\"activity_type\":\"x\"}}]");
  g_autoptr(RulesInput) in = rules_input_new();
  rules_input_set_subject(in, "a quote");
  rules_input_set_record(in, MA_RECORD_CONTACT, "a", MA_STAGE_NONE, "{\"tier\":\"gold\"}");
  g_assert_nonnull(rules_first_match(set, in));
  rules_input_set_record(in, MA_RECORD_CONTACT, "b", MA_STAGE_NONE, "{\"tier\":\"silver\"}");
  g_assert_null(rules_first_match(set, in));
  rules_input_set_record(in, MA_RECORD_CONTACT, "c", MA_STAGE_NONE, "{\"tier\":\"gold\"}");
  g_assert_nonnull(rules_first_match(set, in));
  rules_input_set_subject(in, "an invoice");
  g_assert_null(rules_first_match(set, in));
  rules_input_set_subject(in, "QUOTE");
  g_assert_nonnull(rules_first_match(set, in));
  /* Another set against the same input does not see the first set's results. */
  g_autoptr(RulesSet) other = parse_ok(
    "[{\"name\":\"n\",\"object_types\":[\"contact\"],\"conditions\":["
    "{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"nothing\"}],\"action\":{\"activity_type\":\"x\"}}]");
  g_assert_null(rules_first_match(other, in));
  g_assert_nonnull(rules_first_match(set, in));
}

static void test_fold(void)
{
  static const char *const pairs[][2] = {
    {"Hello WORLD", "hello world"},
    {"Straße", "strasse"},
    {"ÉMILE", "émile"},
    {"E\xcc\x81mile", "émile"},        /* decomposed e + combining acute */
    {"\xef\xac\x81le", "file"},         /* U+FB01 ligature fi */
    {"ＡＢＣ mail", "abc mail"},          /* fullwidth */
    {"ΣΊΣΥΦΟΣ", "σίσυφοσ"},
    {"中文 Mail", "中文 mail"},
    {"bad \xff byte", "bad \xef\xbf\xbd byte"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(pairs); i++) {
    g_autofree char *f = rules_fold(pairs[i][0], -1);
    g_assert_cmpstr(f, ==, pairs[i][1]);
  }
}

static void test_templates(void)
{
  g_autoptr(RulesSet) set = parse_ok(
    "[{\"name\":\"n\",\"object_types\":[\"opportunity\"],\"action\":{\"activity_type\":\"email\","
    "\"title\":\"Mail: {{subject}} from {{ from }}\",\"content\":\"{{record.name}} ({{record.type}}, "
    "{{record.stage}}, {{record.tier}}, {{record.tags}}, {{record.amount}}, [{{record.missing}}]) {{direction}}: "
    "{{snippet}}\"}}]");
  g_autoptr(RulesInput) in = sample_input();
  const RulesRule *r = rules_first_match(set, in);
  g_assert_nonnull(r);
  g_autofree char *title = rules_render_title(r, in);
  g_assert_cmpstr(title, ==, "Mail: Re: Quote for Straße Project from Émile Zola <Emile@Customer.example>");
  g_autofree char *content = rules_render_content(r, in);
  g_assert_cmpstr(content, ==,
                  "Big Deal (opportunity, open, Gold, vip, eu, 5000, []) inbound: Hello, please find the PRICING "
                  "attached.");
  /* Defaults: title {{subject}}, content {{snippet}}. */
  g_autoptr(RulesSet) def =
    parse_ok("[{\"name\":\"n\",\"object_types\":[\"opportunity\"],\"action\":{\"activity_type\":\"email\"}}]");
  r = rules_set_nth(def, 0);
  g_autofree char *t2 = rules_render_title(r, in);
  g_assert_cmpstr(t2, ==, "Re: Quote for Straße Project");
  /* Bounded output, cut on a character boundary. */
  GString *big = g_string_new(NULL);
  for (int i = 0; i < 1000; i++) g_string_append(big, "é");
  rules_input_set_subject(in, big->str);
  g_autofree char *t3 = rules_render_title(r, in);
  g_assert_cmpuint(strlen(t3), <=, RULES_TITLE_MAX);
  g_assert_cmpuint(strlen(t3), >=, RULES_TITLE_MAX - 1);
  g_assert_true(g_utf8_validate(t3, -1, NULL));
  g_string_free(big, TRUE);
  /* Newlines do not survive in a title; values are not re-expanded. */
  rules_input_set_subject(in, "a\nb {{snippet}}");
  g_autofree char *t4 = rules_render_title(r, in);
  g_assert_cmpstr(t4, ==, "a b {{snippet}}");
}

static void test_roundtrip(void)
{
  g_autoptr(RulesSet) set = parse_ok(RULE("{\"field\":\"cc\",\"op\":\"is_empty\"}"));
  json_t *out = rules_set_to_json(set);
  char *text = json_dumps(out, JSON_COMPACT);
  g_assert_cmpstr(text, ==,
                  "[{\"name\":\"n\",\"enabled\":true,\"object_types\":[\"contact\"],\"match\":\"all\",\"conditions\":"
                  "[{\"field\":\"cc\",\"op\":\"is_empty\",\"value\":true}],\"action\":{\"activity_type\":\"x\","
                  "\"title\":\"{{subject}}\",\"content\":\"{{snippet}}\"}}]");
  g_autoptr(RulesSet) again = parse_ok(text);
  json_t *out2 = rules_set_to_json(again);
  g_assert_true(json_equal(out, out2));
  free(text);
  json_decref(out);
  json_decref(out2);
}

static const char *rule_a = "{\"name\":\"A\",\"object_types\":[\"contact\"],\"action\":{\"activity_type\":\"x\"}}";

static char *ids_of(const char *array)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(RulesSet) set = rules_edit_load(array, &error);
  g_assert_no_error(error);
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < rules_set_count(set); i++) {
    const RulesRule *r = rules_set_nth(set, i);
    g_string_append_printf(s, "%s%s%s", i ? "," : "", rules_rule_name(r), rules_rule_enabled(r) ? "" : "-");
  }
  return g_string_free(s, FALSE);
}

static void test_edit(void)
{
  g_autoptr(GError) error = NULL;
  char *ids[3] = {0};
  char *cur = g_strdup("[]");
  for (int i = 0; i < 3; i++) {
    g_autofree char *rule = g_strdup_printf("{\"name\":\"%c\",\"object_types\":[\"contact\"],"
                                            "\"action\":{\"activity_type\":\"x\"}}", 'A' + i);
    char *next = rules_edit_add(cur, rule, 0, &ids[i], &error);
    g_assert_no_error(error);
    g_free(cur);
    cur = next;
  }
  g_autofree char *l1 = ids_of(cur);
  g_assert_cmpstr(l1, ==, "A,B,C");
  g_assert_cmpuint(strlen(ids[0]), ==, 20);

  char *next = rules_edit_move(cur, ids[2], 1, &error);
  g_assert_no_error(error);
  g_free(cur);
  cur = next;
  g_autofree char *l2 = ids_of(cur);
  g_assert_cmpstr(l2, ==, "C,A,B");

  next = rules_edit_set_enabled(cur, ids[0], FALSE, &error);
  g_free(cur);
  cur = next;
  g_autofree char *l3 = ids_of(cur);
  g_assert_cmpstr(l3, ==, "C,A-,B");

  g_autofree char *upd = g_strdup_printf("{\"id\":\"%s\",\"name\":\"B2\",\"object_types\":[\"lead\"],"
                                         "\"action\":{\"activity_type\":\"x\"}}", ids[1]);
  next = rules_edit_update(cur, ids[1], upd, &error);
  g_assert_no_error(error);
  g_free(cur);
  cur = next;
  g_autofree char *l4 = ids_of(cur);
  g_assert_cmpstr(l4, ==, "C,A-,B2");

  next = rules_edit_delete(cur, ids[2], &error);
  g_free(cur);
  cur = next;
  g_autofree char *l5 = ids_of(cur);
  g_assert_cmpstr(l5, ==, "A-,B2");

  /* Errors leave nothing changed and say why. */
  g_assert_null(rules_edit_delete(cur, "nope", &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_clear_error(&error);
  g_assert_null(rules_edit_move(cur, ids[0], 3, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_null(rules_edit_add(cur, "{\"id\":\"x\",\"name\":\"n\",\"object_types\":[\"lead\"],"
                                    "\"action\":{\"activity_type\":\"x\"}}", 0, NULL, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_assert_null(rules_edit_add(cur, "{\"name\":\"n\",\"object_types\":[]}", 0, NULL, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_assert_nonnull(strstr(error->message, "rule.object_types"));
  g_clear_error(&error);

  /* Fill up to ten (one disabled), the 11th is refused. */
  for (int i = 2; i < 10; i++) {
    next = rules_edit_add(cur, rule_a, 1, NULL, &error);
    g_assert_no_error(error);
    g_free(cur);
    cur = next;
  }
  g_assert_null(rules_edit_add(cur, rule_a, 0, NULL, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_LIMIT);
  g_clear_error(&error);

  /* Replace: ids assigned where missing. */
  char *rep = rules_edit_replace(cur, "[{\"name\":\"only\",\"object_types\":[\"account\"],"
                                      "\"action\":{\"activity_type\":\"x\"}}]", &error);
  g_assert_no_error(error);
  g_autoptr(RulesSet) rs = rules_edit_load(rep, &error);
  g_assert_cmpuint(rules_set_count(rs), ==, 1);
  g_assert_nonnull(rules_rule_id(rules_set_nth(rs, 0)));
  g_free(rep);
  for (int i = 0; i < 3; i++) g_free(ids[i]);
  g_free(cur);
}

/* Random byte mutations of valid rule arrays: parsing never crashes, accepted sets evaluate and
 * render within bounds, and their canonical form parses back (run under -DSANITIZE=ON too). */
static void test_mutations(void)
{
  static const char *const seeds[] = {
    RULE("{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"^re:\\\\s*(quote|offer)\"}"),
    RULE("{\"field\":\"record.tier\",\"op\":\"in\",\"value\":[\"gold\",\"silver\"]},"
         "{\"field\":\"size\",\"op\":\"gt\",\"value\":10}"),
    ("[{\"name\":\"n\",\"object_types\":[\"opportunity\"],\"match\":\"any\",\"action\":{\"activity_type\":\"x\","
     "\"title\":\"{{subject}} {{record.tier}}\",\"content\":\"{{from}}: {{snippet}}\"}}]"),
  };
  static const char alphabet[] = "{}[]\":,\\ 0123456789abcdefghijklmnopqrstuvwxyz_.{{}}()*+?^$|\xc3\xa9";
  GRand *r = g_rand_new_with_seed(7);
  g_autoptr(RulesInput) in = sample_input();
  guint parsed = 0;
  for (guint s = 0; s < G_N_ELEMENTS(seeds); s++) {
    for (int round = 0; round < 1500; round++) {
      g_autofree char *buf = g_strdup(seeds[s]);
      gsize n = strlen(buf);
      int edits = g_rand_int_range(r, 1, 4);
      for (int e = 0; e < edits; e++) {
        gsize at = (gsize) g_rand_int_range(r, 0, (gint32) n);
        buf[at] = alphabet[g_rand_int_range(r, 0, (gint32) sizeof alphabet - 1)];
      }
      g_autoptr(GError) error = NULL;
      g_autoptr(RulesSet) set = rules_set_parse(buf, 0, &error);
      if (!set) {
        g_assert_nonnull(error);
        continue;
      }
      parsed++;
      (void) rules_first_match(set, in);
      for (guint i = 0; i < rules_set_count(set); i++) {
        g_autofree char *t = rules_render_title(rules_set_nth(set, i), in);
        g_autofree char *c = rules_render_content(rules_set_nth(set, i), in);
        g_assert_true(g_utf8_validate(t, -1, NULL) && strlen(t) <= RULES_TITLE_MAX);
        g_assert_true(g_utf8_validate(c, -1, NULL) && strlen(c) <= RULES_CONTENT_MAX);
      }
      json_t *back = rules_set_to_json(set);
      char *text = json_dumps(back, JSON_COMPACT);
      g_autoptr(RulesSet) again = rules_set_parse(text, 0, &error);
      g_assert_no_error(error);
      g_assert_cmpuint(rules_set_count(again), ==, rules_set_count(set));
      free(text);
      json_decref(back);
    }
  }
  g_assert_cmpuint(parsed, >, 0); /* some mutants are still valid and were exercised */
  g_rand_free(r);
}

/* One parsed set shared by several threads (as the pipeline workers share the cached set), each
 * with its own inputs: same answers everywhere, limit hits counted exactly. */
typedef struct {
  RulesSet *set;
  int rounds;
  int matches;
} ThreadArg;

static gpointer eval_thread(gpointer data)
{
  ThreadArg *a = data;
  char body[2050];
  memset(body, 'a', sizeof body - 2);
  body[sizeof body - 2] = 'b';
  body[sizeof body - 1] = '\0';
  for (int i = 0; i < a->rounds; i++) {
    g_autoptr(RulesInput) in = rules_input_new();
    rules_input_set_subject(in, i % 2 ? "Re: quote 42" : "hello");
    rules_input_set_body(in, i % 10 == 0 ? body : "short body");
    rules_input_set_record(in, MA_RECORD_CONTACT, "c", MA_STAGE_NONE, NULL);
    const RulesRule *r = rules_first_match(a->set, in);
    if (r && strcmp(rules_rule_id(r), "quote") == 0) a->matches++;
  }
  return NULL;
}

static void test_threads(void)
{
  g_autoptr(RulesSet) set = parse_ok(
    "[{\"id\":\"evil\",\"name\":\"evil\",\"object_types\":[\"contact\"],\"conditions\":["
    "{\"field\":\"body\",\"op\":\"matches\",\"value\":\"(a+)+$\",\"case_sensitive\":true}],"
    "\"action\":{\"activity_type\":\"x\"}},"
    "{\"id\":\"quote\",\"name\":\"quote\",\"object_types\":[\"contact\"],\"conditions\":["
    "{\"field\":\"subject\",\"op\":\"matches\",\"value\":\"^re:\\\\s+quote \\\\d+$\"}],"
    "\"action\":{\"activity_type\":\"x\"}}]");
  guint64 before = rules_regex_limit_hits();
  ThreadArg args[4];
  GThread *threads[4];
  for (int t = 0; t < 4; t++) {
    args[t] = (ThreadArg){.set = set, .rounds = 200};
    threads[t] = g_thread_new("eval", eval_thread, &args[t]);
  }
  for (int t = 0; t < 4; t++) {
    g_thread_join(threads[t]);
    g_assert_cmpint(args[t].matches, ==, 100);
  }
  /* Every tenth input has the hostile body: 20 per thread. */
  g_assert_cmpuint(rules_regex_limit_hits() - before, ==, 80);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/rules/fields_and_operators", test_fields_and_operators);
  g_test_add_func("/rules/match_all_any", test_match_all_any);
  g_test_add_func("/rules/order_first_match_types_enabled", test_order_first_match_types_enabled);
  g_test_add_func("/rules/validation", test_validation);
  g_test_add_func("/rules/bad_regex_offset", test_bad_regex_offset);
  g_test_add_func("/rules/ten_rule_cap", test_ten_rule_cap);
  g_test_add_func("/rules/catastrophic_regex", test_catastrophic_regex);
  g_test_add_func("/rules/templates", test_templates);
  g_test_add_func("/rules/result_cache", test_result_cache);
  g_test_add_func("/rules/fold", test_fold);
  g_test_add_func("/rules/mutations", test_mutations);
  g_test_add_func("/rules/threads", test_threads);
  g_test_add_func("/rules/roundtrip", test_roundtrip);
  g_test_add_func("/rules/edit", test_edit);
  return g_test_run();
}
