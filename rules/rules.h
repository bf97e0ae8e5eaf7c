/* rules.h - an enterprise's auto-create rules: parse and validate them from JSON, serialise them
 * back, and find the first rule a (message, record) pair satisfies.
 *
 * A rule, as JSON (the stored array holds up to RULES_MAX of them, disabled ones included):
 *   {"id": "...", "name": "...", "enabled": true, "object_types": ["contact", ...],
 *    "match": "all" | "any", "conditions": [{"field", "op", "value", "case_sensitive"}],
 *    "action": {"activity_type", "title", "content"}}
 * "id" is assigned when the rule is created (rules_edit.h); "enabled" defaults to true, "match" to
 * "all", "conditions" to [] (every archived mail matches), "title" to "{{subject}}" and "content"
 * to "{{snippet}}". Any other key is refused with its name.
 *
 * Fields: subject, body, snippet, from, from_domain, to, cc, participants, direction,
 * has_attachment, is_auto, is_bulk, attachment_name, mailbox, employee, size, record.name, record.stage,
 * record.<attribute>. from, to, cc and participants are addresses ("local@domain", no display
 * name); from_domain is the From address's domain; mailbox and employee come from the copies of the
 * message being considered (employee: both the employee's id and address); size is the raw size
 * in bytes; has_attachment and attachment_name ignore inline parts; is_auto (auto-replies and
 * delivery reports) and is_bulk (bulk and list mail) are true/false like has_attachment; record.<attribute> reads the
 * record's imported attributes (an array attribute is a list). Operators: equals, not_equals,
 * contains, not_contains, starts_with, ends_with, matches (PCRE2), in, is_empty, gt, lt (gt/lt on
 * size and record attributes only). Every field is seen as a list of values (a
 * scalar is a list of one, an absent value an empty list): a positive operator holds when some
 * element satisfies it, a not_ operator when no element satisfies its positive form. Text
 * comparison is case-insensitive and Unicode-aware (NFKC + case folding) unless the condition says
 * "case_sensitive": true.
 *
 * Regexes are compiled once at load with match and depth limits: a pattern that hits a limit makes
 * its condition false, is logged once per rule and counted in rules_regex_limit_hits().
 *
 * Budget: all the regex work done for one message (every rule, condition, value and record) is
 * counted against one budget held by its RulesInput (RULES_MESSAGE_BUDGET units by default), in
 * PCRE2 match-limit units, so the outcome does not depend on the machine or its load. A regex call
 * first runs under RULES_REGEX_FIRST_LIMIT units, then, each time it hits its limit, again under 8
 * times more, up to RULES_REGEX_MATCH_LIMIT or what is left of the budget; every attempt is
 * charged its whole limit (PCRE2 does not tell what a call used, so the charge is an upper bound of
 * the work done, and deterministic). When the budget runs out the input is "exhausted": the
 * condition being evaluated is taken as false, rules_first_match answers NULL from then on, and the
 * caller creates nothing more for that message (it logs and counts it). Time is only a backstop:
 * RULES_MESSAGE_TIME_MS of regex work for one message exhausts it too.
 *
 * Limits: RULES_MAX rules, RULES_MAX_CONDITIONS conditions per rule, RULES_BODY_MAX bytes of body
 * are looked at, rendered titles and contents are cut at RULES_TITLE_MAX / RULES_CONTENT_MAX bytes.
 * Pure library: no sockets, no disk, no storage. The only PCRE2 user in mailagent. Never logs
 * message text.
 *
 * Threads: a RulesSet is immutable after parsing and may be shared between threads (reference
 * counted); a RulesInput belongs to one thread.
 */
#ifndef MA_RULES_H
#define MA_RULES_H

#include "agent/lib/error.h"
#include "agent/lib/model.h"

#include <glib.h>
#include <jansson.h>

#define RULES_MAX 10
#define RULES_MAX_CONDITIONS 20
#define RULES_BODY_MAX (256 * 1024)
#define RULES_TITLE_MAX 256
#define RULES_CONTENT_MAX 4096
#define RULES_TEMPLATE_MAX 8192   /* length of a title or content template */
#define RULES_VALUE_MAX 1024      /* length of a condition value (or a regex) */
#define RULES_NAME_MAX 200

/* PCRE2 limits applied to every "matches" condition. */
#define RULES_REGEX_MATCH_LIMIT 200000
#define RULES_REGEX_DEPTH_LIMIT 5000
/* Budget per message (see above): a regex call is first tried under RULES_REGEX_FIRST_LIMIT units
 * (plenty for ordinary patterns), so ordinary messages use a small part of the budget while a
 * hostile pattern is stopped after a few dozen full-limit calls. */
#define RULES_REGEX_FIRST_LIMIT 100
#define RULES_MESSAGE_BUDGET 10000000
#define RULES_MESSAGE_TIME_MS 2000

typedef struct RulesSet RulesSet;
typedef struct RulesRule RulesRule;
typedef struct RulesInput RulesInput;

/* ---- rule sets ------------------------------------------------------------------------------ */

typedef enum {
  RULES_PARSE_REQUIRE_IDS = 1 << 0, /* every rule must carry "id" (a stored array) */
  RULES_PARSE_FORBID_IDS = 1 << 1,  /* no rule may carry "id" (a new rule) */
} RulesParseFlags;

/* Parses and validates a JSON array of rules. Errors are MA_ERROR_INVALID with a message naming
 * the place, e.g. `rules[2].conditions[0].op: unknown operator "like"`, or MA_ERROR_LIMIT for more
 * than RULES_MAX rules. Duplicate ids are refused. Returns a new set (rules_set_unref) or NULL. */
RulesSet *rules_set_parse(const char *json_text, RulesParseFlags flags, GError **error);
/* The same from a jansson array; never keeps a reference to it. */
RulesSet *rules_set_from_json(const json_t *array, RulesParseFlags flags, GError **error);
/* Validates one rule object (errors are prefixed with `label`, e.g. "rule"). Returns 0 or -1. */
int rules_rule_validate(const json_t *rule, const char *label, RulesParseFlags flags, GError **error);

RulesSet *rules_set_ref(RulesSet *set);
/* Accepts NULL. */
void rules_set_unref(RulesSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RulesSet, rules_set_unref)

/* The rules as a JSON array in canonical form (every key present), new reference. */
json_t *rules_set_to_json(const RulesSet *set);

guint rules_set_count(const RulesSet *set);
/* Borrowed pointer, valid while the set lives. */
const RulesRule *rules_set_nth(const RulesSet *set, guint i);

/* Borrowed strings, valid while the set lives. */
const char *rules_rule_id(const RulesRule *rule);
const char *rules_rule_name(const RulesRule *rule);
gboolean rules_rule_enabled(const RulesRule *rule);
const char *rules_rule_activity_type(const RulesRule *rule);
gboolean rules_rule_applies_to(const RulesRule *rule, MaRecordType type);
/* 1-based position of the rule in its set. */
guint rules_rule_position(const RulesRule *rule);

/* ---- evaluation input ----------------------------------------------------------------------- */

/* One input per message: set the message's fields once, then rules_input_set_record for each
 * linked record and call rules_first_match. Text is case-folded lazily, once per input and field,
 * never per rule. All setters copy their arguments. */
RulesInput *rules_input_new(void);
void rules_input_free(RulesInput *in);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RulesInput, rules_input_free)

void rules_input_set_subject(RulesInput *in, const char *subject);
/* Only the first RULES_BODY_MAX bytes are kept (cut at a character boundary). */
void rules_input_set_body(RulesInput *in, const char *body);
void rules_input_set_snippet(RulesInput *in, const char *snippet);
/* The From address (and display name, for the {{from}} template); also sets from_domain. */
void rules_input_set_from(RulesInput *in, const char *name, const char *address);
void rules_input_add_to(RulesInput *in, const char *address);
void rules_input_add_cc(RulesInput *in, const char *address);
/* Any participant (from, sender, to, cc, bcc). */
void rules_input_add_participant(RulesInput *in, const char *address);
void rules_input_set_direction(RulesInput *in, MaDirection direction);
void rules_input_set_has_attachment(RulesInput *in, gboolean has_attachment);
/* Machine mail: an auto-reply or delivery report (is_auto), bulk or list mail (is_bulk). */
void rules_input_set_machine(RulesInput *in, gboolean is_auto, gboolean is_bulk);
void rules_input_add_attachment_name(RulesInput *in, const char *filename);
/* Mailboxes and employees (ids or addresses) of the copies considered; lists. */
void rules_input_add_mailbox(RulesInput *in, const char *mailbox);
void rules_input_add_employee(RulesInput *in, const char *employee);
void rules_input_set_size(RulesInput *in, gint64 size);

/* Sets the regex budget of this message in match-limit units and the time backstop in
 * milliseconds (0: none; rules_input_new starts with RULES_MESSAGE_BUDGET and
 * RULES_MESSAGE_TIME_MS), and forgets what was used and any exhaustion. */
void rules_input_set_budget(RulesInput *in, guint64 units, guint max_ms);
/* Units charged so far. */
guint64 rules_input_budget_used(const RulesInput *in);
/* TRUE once the budget (or the time backstop) ran out: no rule matches from then on. */
gboolean rules_input_budget_exhausted(const RulesInput *in);

/* Replaces the record half of the input. attributes_json: a JSON object as text (NULL or
 * unparseable: no attributes). name may be NULL. */
void rules_input_set_record(RulesInput *in, MaRecordType type, const char *name, MaStage stage,
                            const char *attributes_json);

/* ---- matching and actions ------------------------------------------------------------------- */

/* The first enabled rule, in order, whose object_types include the input's record type and whose
 * conditions hold; NULL when none, and NULL when the input's budget is exhausted (check with
 * rules_input_budget_exhausted: the rules after the point where it ran out were not evaluated).
 * Borrowed from set. The input must have a record. */
const RulesRule *rules_first_match(const RulesSet *set, RulesInput *in);
/* rules_rule_conditions_hold, telling which condition decided: *deciding is the 0-based index of
 * the first condition that failed ("all") or held ("any"), or of the one being evaluated when the
 * budget ran out; -1 when no single condition decided (no conditions, all held, none held). For
 * explanations and dry runs; no result cache. */
gboolean rules_rule_trace(const RulesRule *rule, RulesInput *in, int *deciding);
/* The rule in canonical JSON (every key present; "conditions" in order). Borrowed. */
const json_t *rules_rule_json(const RulesRule *rule);
/* Whether this one rule's conditions hold (ignores enabled and object_types). */
gboolean rules_rule_conditions_hold(const RulesRule *rule, RulesInput *in);

/* Renders the rule's title and content templates for the input. Newly allocated, caller frees;
 * cut at RULES_TITLE_MAX and RULES_CONTENT_MAX bytes on a character boundary. */
char *rules_render_title(const RulesRule *rule, RulesInput *in);
char *rules_render_content(const RulesRule *rule, RulesInput *in);
/* Renders any template ({{subject}}, {{from}}, {{snippet}}, {{direction}}, {{record.name}},
 * {{record.type}}, {{record.stage}}, {{record.<attribute>}}) cut at max_bytes. */
char *rules_render_template(const char *tmpl, RulesInput *in, gsize max_bytes);

/* Number of regex evaluations that hit a PCRE2 limit since the process started (a metric). */
guint64 rules_regex_limit_hits(void);
/* "PCRE2 X.Y" of the library linked at run time, for `mailagent version`. Caller frees. */
char *rules_library_version(void);

#endif
