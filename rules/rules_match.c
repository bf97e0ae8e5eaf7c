/* rules_match.c - evaluates conditions against an input and finds the first matching rule. The only
 * file of mailagent that calls PCRE2.
 *
 * Regexes are compiled once (rules_regex_compile, from rules_parse.c) with UTF, Unicode properties
 * and, unless the condition is case-sensitive, caseless matching; invalid UTF-8 in the subject is
 * tolerated (PCRE2_MATCH_INVALID_UTF) and JIT is used where available. Every match runs under the
 * input's match context (RULES_REGEX_DEPTH_LIMIT, and a match limit set per attempt from the
 * message's budget, see rules.h): reaching RULES_REGEX_MATCH_LIMIT makes the condition false,
 * counts in rules_regex_limit_hits() and is logged once per rule (its id, never the text); running
 * out of the message's budget exhausts the input, after which nothing holds and no result is
 * cached. Evaluation allocates nothing per rule beyond the input's lazy caches.
 */
#include "rules_internal.h"

#include "agent/lib/log.h"

#include <stdlib.h>
#include <string.h>

static guint64 regex_limit_hits; /* atomic (__atomic builtins) */

guint64 rules_regex_limit_hits(void)
{
  return __atomic_load_n(&regex_limit_hits, __ATOMIC_RELAXED);
}

char *rules_library_version(void)
{
  char version[64] = "";
  if (pcre2_config(PCRE2_CONFIG_VERSION, version) < 0) g_strlcpy(version, "unknown", sizeof version);
  return g_strdup_printf("PCRE2 %s", version);
}

pcre2_code *rules_regex_compile(const char *pattern, gboolean case_sensitive, const char *where, GError **error)
{
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
  if (!case_sensitive) options |= PCRE2_CASELESS;
  int errcode = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code *re = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED, options, &errcode, &offset, NULL);
  if (!re) {
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(errcode, msg, sizeof msg) < 0) g_strlcpy((char *) msg, "error", sizeof msg);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: bad regular expression at offset %zu: %s", where,
                (size_t) offset, (const char *) msg);
    return NULL;
  }
  (void) pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
  return re;
}

static void count_limit_hit(const RulesRule *rule, int rc)
{
  __atomic_fetch_add(&regex_limit_hits, 1, __ATOMIC_RELAXED);
  RulesRule *r = (RulesRule *) rule; /* limit_logged is the one mutable, atomic member */
  if (g_atomic_int_compare_and_exchange(&r->limit_logged, 0, 1))
    ma_warn("rules", "regex limit hit, condition taken as false rule=%s position=%u pcre2_error=%d",
            rule->id ? rule->id : "-", rule->position, rc);
}

/* Runs one regex under the input's budget: escalating match limits, each attempt charged in full
 * (see rules.h). Exhausts the input when the budget or the time backstop runs out. */
static gboolean regex_holds(const RulesRule *rule, const RulesCondition *c, RulesInput *in, const char *s)
{
  if (in->exhausted) return FALSE;
  if (!in->md) in->md = pcre2_match_data_create(1, NULL);
  if (!in->mctx) {
    in->mctx = pcre2_match_context_create(NULL);
    pcre2_set_depth_limit(in->mctx, RULES_REGEX_DEPTH_LIMIT);
  }
  /* a CPU backstop, not a wait: the monotonic clock (never the test clock), read on the first call
   * and every 64th after it, which keeps it off the cost of ordinary rules */
  if (in->max_ms > 0 && (in->regex_calls++ & 63) == 0) {
    gint64 now = g_get_monotonic_time();
    if (in->deadline_us == 0) in->deadline_us = now + (gint64) in->max_ms * 1000;
    else if (now > in->deadline_us) in->exhausted = TRUE;
  }
  guint64 limit = RULES_REGEX_FIRST_LIMIT;
  int rc = PCRE2_ERROR_MATCHLIMIT;
  while (!in->exhausted) {
    guint64 left = in->budget > in->used ? in->budget - in->used : 0;
    guint64 attempt = MIN(MIN(limit, (guint64) RULES_REGEX_MATCH_LIMIT), left);
    if (attempt == 0) {
      in->exhausted = TRUE;
      break;
    }
    if (attempt != in->mctx_limit) {
      pcre2_set_match_limit(in->mctx, (uint32_t) attempt);
      in->mctx_limit = attempt;
    }
    rc = pcre2_match(c->re, (PCRE2_SPTR) s, strlen(s), 0, 0, in->md, in->mctx);
    in->used += attempt;
    if (rc != PCRE2_ERROR_MATCHLIMIT) break;
    if (attempt == RULES_REGEX_MATCH_LIMIT) break; /* the per-call limit: the condition is false */
    if (attempt == left) in->exhausted = TRUE;
    limit *= 8;
  }
  if (in->exhausted) return FALSE;
  if (rc >= 0) return TRUE;
  switch (rc) {
  case PCRE2_ERROR_NOMATCH: return FALSE;
  case PCRE2_ERROR_MATCHLIMIT:
  case PCRE2_ERROR_DEPTHLIMIT:
  case PCRE2_ERROR_HEAPLIMIT:
  case PCRE2_ERROR_JIT_STACKLIMIT:
  case PCRE2_ERROR_NOMEMORY:
    count_limit_hit(rule, rc);
    return FALSE;
  default:
    return FALSE;
  }
}

/* Parses s as a whole number (surrounding blanks allowed). */
static gboolean parse_number(const char *s, double *out)
{
  char *end = NULL;
  while (g_ascii_isspace(*s)) s++;
  if (!*s) return FALSE;
  *out = g_ascii_strtod(s, &end);
  while (end && g_ascii_isspace(*end)) end++;
  return end && *end == '\0';
}

static gboolean number_holds(const RulesCondition *c, double x)
{
  switch (c->positive) {
  case RO_GT: return x > c->numbers[0];
  case RO_LT: return x < c->numbers[0];
  case RO_EQUALS:
  case RO_IN:
    for (guint i = 0; i < c->n_numbers; i++)
      if (x == c->numbers[i]) return TRUE;
    return FALSE;
  default: return FALSE;
  }
}

/* The positive form of c on one (already folded when needed) value. */
static gboolean value_holds(const RulesRule *rule, const RulesCondition *c, RulesInput *in, const char *s)
{
  if (c->numeric) {
    double x;
    return parse_number(s, &x) && number_holds(c, x);
  }
  gsize n;
  switch (c->positive) {
  case RO_EQUALS:
  case RO_IN:
    n = strlen(s);
    for (guint i = 0; i < c->n_texts; i++)
      if (n == c->text_lens[i] && memcmp(s, c->texts[i], n) == 0) return TRUE;
    return FALSE;
  case RO_CONTAINS: return strstr(s, c->texts[0]) != NULL;
  case RO_STARTS_WITH: return strncmp(s, c->texts[0], c->text_lens[0]) == 0;
  case RO_ENDS_WITH:
    n = strlen(s);
    return n >= c->text_lens[0] && memcmp(s + n - c->text_lens[0], c->texts[0], c->text_lens[0]) == 0;
  case RO_MATCHES: return regex_holds(rule, c, in, s);
  default: return FALSE;
  }
}

static gboolean condition_holds(const RulesRule *rule, const RulesCondition *c, RulesInput *in)
{
  if (c->field == RF_HAS_ATTACHMENT) return (in->has_attachment == c->boolean) != c->negate;
  if (c->field == RF_IS_AUTO) return (in->is_auto == c->boolean) != c->negate;
  if (c->field == RF_IS_BULK) return (in->is_bulk == c->boolean) != c->negate;
  if (c->field == RF_SIZE) return number_holds(c, (double) in->size) != c->negate;

  GPtrArray *values = rules_input_values(in, c);
  if (c->positive == RO_IS_EMPTY) {
    gboolean empty = TRUE;
    for (guint i = 0; i < values->len && empty; i++)
      if (*(const char *) values->pdata[i]) empty = FALSE;
    return empty == c->boolean;
  }
  gboolean any = FALSE;
  for (guint i = 0; i < values->len && !any && !in->exhausted; i++) any = value_holds(rule, c, in, values->pdata[i]);
  if (in->exhausted) return FALSE; /* undecided: neither form holds */
  return any != c->negate;
}

/* condition_holds, reusing the result for the other records of the message when the condition
 * reads only message fields (set->serial == 0: a set without cache slots). */
static gboolean condition_holds_cached(const RulesSet *set, const RulesRule *rule, const RulesCondition *c,
                                       RulesInput *in)
{
  if (c->per_record || set->serial == 0) return condition_holds(rule, c, in);
  if (in->cache_serial != set->serial || in->cache_len < set->n_conds) {
    g_free(in->cache);
    in->cache_len = set->n_conds;
    in->cache = g_malloc0(in->cache_len ? in->cache_len : 1);
    in->cache_serial = set->serial;
  }
  if (in->cache[c->slot]) return in->cache[c->slot] == 2;
  gboolean ok = condition_holds(rule, c, in);
  if (!in->exhausted) in->cache[c->slot] = ok ? 2 : 1; /* an undecided result is never reused */
  return ok;
}

static gboolean conditions_hold(const RulesSet *set, const RulesRule *rule, RulesInput *in)
{
  if (rule->n_conds == 0) return TRUE;
  for (guint i = 0; i < rule->n_conds; i++) {
    gboolean ok = condition_holds_cached(set, rule, &rule->conds[i], in);
    if (in->exhausted) return FALSE;
    if (rule->match_any && ok) return TRUE;
    if (!rule->match_any && !ok) return FALSE;
  }
  return !rule->match_any;
}

gboolean rules_rule_trace(const RulesRule *rule, RulesInput *in, int *deciding)
{
  *deciding = -1;
  for (guint i = 0; i < rule->n_conds; i++) {
    gboolean ok = condition_holds(rule, &rule->conds[i], in);
    if (in->exhausted) {
      *deciding = (int) i;
      return FALSE;
    }
    if (ok == rule->match_any) { /* the first that holds under "any", fails under "all" */
      *deciding = (int) i;
      return ok;
    }
  }
  return rule->n_conds == 0 || !rule->match_any;
}

gboolean rules_rule_conditions_hold(const RulesRule *rule, RulesInput *in)
{
  RulesSet tmp = {0}; /* a lone rule has no set at hand: no cache slots (serial 0) */
  return conditions_hold(&tmp, rule, in);
}

const RulesRule *rules_first_match(const RulesSet *set, RulesInput *in)
{
  g_return_val_if_fail(in->has_record, NULL);
  for (guint i = 0; i < set->n && !in->exhausted; i++) {
    const RulesRule *r = &set->rules[i];
    if (!r->enabled || !(r->types_mask & (1u << in->record_type))) continue;
    if (conditions_hold(set, r, in)) return r;
  }
  return NULL;
}
