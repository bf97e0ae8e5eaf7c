/* fuzz_rules.c - libFuzzer target for the rules module: the input's first line is a rule array
 * (rules_set_parse), the rest the text of a message (subject, body, from, a record attribute).
 * When the rules parse, every rule is evaluated and its templates rendered. Must never crash, leak,
 * hang (regexes are bounded by their match limits) or render invalid UTF-8 or oversize output.
 * Run: scripts/fuzz.sh rules SECONDS (seeds: tests/fixtures/rules, a rule array line then text).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr(data, '\n', size);
  size_t rules_len = nl ? (size_t) (nl - data) : size;
  char *rules_text = g_strndup((const char *) data, rules_len);
  char *message = nl ? g_strndup((const char *) nl + 1, size - rules_len - 1) : g_strdup("");
  GError *error = NULL;
  RulesSet *set = rules_set_parse(rules_text, 0, &error);
  g_clear_error(&error);
  if (set) {
    RulesInput *in = rules_input_new();
    rules_input_set_subject(in, message);
    rules_input_set_body(in, message);
    rules_input_set_snippet(in, message);
    rules_input_set_from(in, message, message);
    rules_input_add_to(in, message);
    rules_input_add_attachment_name(in, message);
    rules_input_set_record(in, MA_RECORD_CONTACT, message, MA_STAGE_OPEN, message);
    (void) rules_first_match(set, in);
    for (guint i = 0; i < rules_set_count(set); i++) {
      const RulesRule *r = rules_set_nth(set, i);
      (void) rules_rule_conditions_hold(r, in);
      char *t = rules_render_title(r, in);
      char *c = rules_render_content(r, in);
      if (!g_utf8_validate(t, -1, NULL) || strlen(t) > RULES_TITLE_MAX) abort();
      if (!g_utf8_validate(c, -1, NULL) || strlen(c) > RULES_CONTENT_MAX) abort();
      g_free(t);
      g_free(c);
    }
    json_t *back = rules_set_to_json(set);
    char *text = json_dumps(back, JSON_COMPACT);
    RulesSet *again = rules_set_parse(text, 0, &error); /* canonical form must parse back */
    if (!again) abort();
    rules_set_unref(again);
    free(text);
    json_decref(back);
    rules_input_free(in);
    rules_set_unref(set);
  }
  g_free(rules_text);
  g_free(message);
  return 0;
}
