/* rules_parse.c - reads an enterprise's rules from JSON into an immutable RulesSet, validating
 * every key, and writes the set back as canonical JSON.
 *
 * Validation names the place of the first problem (`rules[3].conditions[1].op: ...`) and refuses
 * unknown keys, unknown fields and operators, operators that make no sense for a field, values of
 * the wrong type, empty object_types, regexes that do not compile (with the offset), placeholders
 * that do not exist, and more than RULES_MAX rules (MA_ERROR_LIMIT). Comparison values are
 * case-folded and regexes compiled here, once, so evaluation does no per-rule preparation.
 * Never keeps a reference to the caller's JSON.
 */
#include "rules_internal.h"

#include <string.h>
/* ---- freeing -------------------------------------------------------------------------------- */

static void rule_clear(RulesRule *r)
{
  for (guint i = 0; i < r->n_conds; i++) rules_condition_clear(&r->conds[i]);
  g_free(r->conds);
  g_free(r->id);
  g_free(r->name);
  g_free(r->activity_type);
  g_free(r->title);
  g_free(r->content);
  if (r->canonical) json_decref(r->canonical);
  memset(r, 0, sizeof *r);
}

RulesSet *rules_set_ref(RulesSet *set)
{
  g_atomic_int_inc(&set->refcount);
  return set;
}

void rules_set_unref(RulesSet *set)
{
  if (!set || !g_atomic_int_dec_and_test(&set->refcount)) return;
  for (guint i = 0; i < set->n; i++) rule_clear(&set->rules[i]);
  g_free(set->rules);
  g_free(set);
}

/* ---- validation helpers --------------------------------------------------------------------- */

int rules_fail(GError **error, int code, const char *where, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error(error, MA_ERROR, code, "%s: %s", where, msg);
  return -1;
}

int rules_check_keys(const json_t *obj, const char *const *allowed, const char *where, GError **error)
{
  const char *key;
  json_t *v;
  json_object_foreach((json_t *) obj, key, v) {
    gboolean ok = FALSE;
    for (guint i = 0; allowed[i]; i++)
      if (strcmp(key, allowed[i]) == 0) ok = TRUE;
    if (!ok) return rules_fail(error, MA_ERROR_INVALID, where, "unknown key \"%s\"", key);
  }
  return 0;
}

static int get_string(const json_t *obj, const char *key, gboolean required, gsize max, const char *where,
                      const char **out, GError **error)
{
  const json_t *v = json_object_get(obj, key);
  g_autofree char *w = g_strdup_printf("%s.%s", where, key);
  *out = NULL;
  if (!v) return required ? rules_fail(error, MA_ERROR_INVALID, w, "required") : 0;
  if (!json_is_string(v)) return rules_fail(error, MA_ERROR_INVALID, w, "must be a string");
  if (required && json_string_length(v) == 0) return rules_fail(error, MA_ERROR_INVALID, w, "must not be empty");
  if (json_string_length(v) > max) return rules_fail(error, MA_ERROR_INVALID, w, "longer than %zu bytes", (size_t) max);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return rules_fail(error, MA_ERROR_INVALID, w, "contains a NUL character");
  *out = json_string_value(v);
  return 0;
}

static gboolean id_valid(const char *id)
{
  gsize n = strlen(id);
  if (n == 0 || n > 64) return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum(id[i]) && id[i] != '_' && id[i] != '-') return FALSE;
  return TRUE;
}

/* Parses one rule into r (cleared on failure by the caller). */
static int parse_rule(RulesRule *r, const json_t *obj, const char *where, RulesParseFlags flags, GError **error)
{
  static const char *const keys[] = {"id", "name", "enabled", "object_types", "match", "conditions", "action", NULL};
  static const char *const action_keys[] = {"activity_type", "title", "content", NULL};
  if (!json_is_object(obj)) return rules_fail(error, MA_ERROR_INVALID, where, "must be an object");
  if (rules_check_keys(obj, keys, where, error) < 0) return -1;

  const json_t *id = json_object_get(obj, "id");
  g_autofree char *w_id = g_strdup_printf("%s.id", where);
  if (id && (flags & RULES_PARSE_FORBID_IDS))
    return rules_fail(error, MA_ERROR_INVALID, w_id, "is assigned by mailagent; leave it out");
  if (!id && (flags & RULES_PARSE_REQUIRE_IDS)) return rules_fail(error, MA_ERROR_INVALID, w_id, "required");
  if (id && (!json_is_string(id) || !id_valid(json_string_value(id))))
    return rules_fail(error, MA_ERROR_INVALID, w_id, "must be a string of 1-64 letters, digits, '-' or '_'");
  r->id = id ? g_strdup(json_string_value(id)) : NULL;

  const char *name;
  if (get_string(obj, "name", TRUE, RULES_NAME_MAX, where, &name, error) < 0) return -1;
  r->name = g_strdup(name);

  const json_t *enabled = json_object_get(obj, "enabled");
  if (enabled && !json_is_boolean(enabled)) {
    g_autofree char *w = g_strdup_printf("%s.enabled", where);
    return rules_fail(error, MA_ERROR_INVALID, w, "must be true or false");
  }
  r->enabled = !enabled || json_is_true(enabled);

  const json_t *types = json_object_get(obj, "object_types");
  g_autofree char *w_types = g_strdup_printf("%s.object_types", where);
  if (!types) return rules_fail(error, MA_ERROR_INVALID, w_types, "required");
  if (!json_is_array(types)) return rules_fail(error, MA_ERROR_INVALID, w_types, "must be an array");
  if (json_array_size(types) == 0)
    return rules_fail(error, MA_ERROR_INVALID, w_types, "must name at least one of account, contact, lead, opportunity");
  size_t i;
  const json_t *v;
  json_array_foreach((json_t *) types, i, v) {
    int t = json_is_string(v) ? ma_record_type_parse(json_string_value(v)) : -1;
    if (t < 0) {
      g_autofree char *w = g_strdup_printf("%s[%zu]", w_types, i);
      return rules_fail(error, MA_ERROR_INVALID, w, "must be one of account, contact, lead, opportunity");
    }
    r->types_mask |= 1u << t;
  }

  const json_t *match = json_object_get(obj, "match");
  if (match && !(json_is_string(match) && (strcmp(json_string_value(match), "all") == 0 ||
                                           strcmp(json_string_value(match), "any") == 0))) {
    g_autofree char *w = g_strdup_printf("%s.match", where);
    return rules_fail(error, MA_ERROR_INVALID, w, "must be \"all\" or \"any\"");
  }
  r->match_any = match && strcmp(json_string_value(match), "any") == 0;

  const json_t *conds = json_object_get(obj, "conditions");
  g_autofree char *w_conds = g_strdup_printf("%s.conditions", where);
  if (conds && !json_is_array(conds)) return rules_fail(error, MA_ERROR_INVALID, w_conds, "must be an array");
  if (conds && json_array_size(conds) > RULES_MAX_CONDITIONS)
    return rules_fail(error, MA_ERROR_INVALID, w_conds, "more than %d conditions", RULES_MAX_CONDITIONS);
  r->n_conds = conds ? (guint) json_array_size(conds) : 0;
  r->conds = g_new0(RulesCondition, r->n_conds ? r->n_conds : 1);
  for (guint k = 0; k < r->n_conds; k++) {
    g_autofree char *w = g_strdup_printf("%s[%u]", w_conds, k);
    if (rules_condition_parse(&r->conds[k], json_array_get(conds, k), w, error) < 0) return -1;
  }

  const json_t *action = json_object_get(obj, "action");
  g_autofree char *w_action = g_strdup_printf("%s.action", where);
  if (!action) return rules_fail(error, MA_ERROR_INVALID, w_action, "required");
  if (!json_is_object(action)) return rules_fail(error, MA_ERROR_INVALID, w_action, "must be an object");
  if (rules_check_keys(action, action_keys, w_action, error) < 0) return -1;
  const char *type, *title, *content;
  if (get_string(action, "activity_type", TRUE, 64, w_action, &type, error) < 0) return -1;
  if (get_string(action, "title", FALSE, RULES_TEMPLATE_MAX, w_action, &title, error) < 0) return -1;
  if (get_string(action, "content", FALSE, RULES_TEMPLATE_MAX, w_action, &content, error) < 0) return -1;
  g_autofree char *w_title = g_strdup_printf("%s.title", w_action);
  g_autofree char *w_content = g_strdup_printf("%s.content", w_action);
  r->activity_type = g_strdup(type);
  r->title = g_strdup(title ? title : "{{subject}}");
  r->content = g_strdup(content ? content : "{{snippet}}");
  if (rules_template_check(r->title, w_title, error) < 0) return -1;
  if (rules_template_check(r->content, w_content, error) < 0) return -1;

  /* Canonical form: every key, in a fixed order. */
  json_t *canon = json_object();
  if (r->id) json_object_set_new(canon, "id", json_string(r->id));
  json_object_set_new(canon, "name", json_string(r->name));
  json_object_set_new(canon, "enabled", json_boolean(r->enabled));
  json_t *ot = json_array();
  for (int t = MA_RECORD_ACCOUNT; t <= MA_RECORD_OPPORTUNITY; t++)
    if (r->types_mask & (1u << t)) json_array_append_new(ot, json_string(ma_record_type_name((MaRecordType) t)));
  json_object_set_new(canon, "object_types", ot);
  json_object_set_new(canon, "match", json_string(r->match_any ? "any" : "all"));
  json_t *cs = json_array();
  for (guint k = 0; k < r->n_conds; k++) {
    const json_t *src = json_array_get(conds, k);
    json_t *c = json_object();
    json_object_set(c, "field", json_object_get(src, "field"));
    json_object_set(c, "op", json_object_get(src, "op"));
    if (r->conds[k].positive == RO_IS_EMPTY)
      json_object_set_new(c, "value", json_boolean(r->conds[k].boolean));
    else
      json_object_set_new(c, "value", json_deep_copy(json_object_get(src, "value")));
    if (r->conds[k].case_sensitive) json_object_set_new(c, "case_sensitive", json_true());
    json_array_append_new(cs, c);
  }
  json_object_set_new(canon, "conditions", cs);
  json_object_set_new(canon, "action", json_pack("{s:s, s:s, s:s}", "activity_type", r->activity_type,
                                                 "title", r->title, "content", r->content));
  r->canonical = canon;
  return 0;
}

int rules_rule_validate(const json_t *rule, const char *label, RulesParseFlags flags, GError **error)
{
  RulesRule r = {0};
  int rc = parse_rule(&r, rule, label, flags, error);
  rule_clear(&r);
  return rc;
}

RulesSet *rules_set_from_json(const json_t *array, RulesParseFlags flags, GError **error)
{
  if (!json_is_array(array)) {
    rules_fail(error, MA_ERROR_INVALID, "rules", "must be a JSON array");
    return NULL;
  }
  if (json_array_size(array) > RULES_MAX) {
    rules_fail(error, MA_ERROR_LIMIT, "rules", "%zu rules; an enterprise has at most %d (disabled rules count)",
         json_array_size(array), RULES_MAX);
    return NULL;
  }
  RulesSet *set = g_new0(RulesSet, 1);
  set->refcount = 1;
  set->n = (guint) json_array_size(array);
  set->rules = g_new0(RulesRule, set->n ? set->n : 1);
  static guint64 serials;
  set->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
  for (guint i = 0; i < set->n; i++) {
    g_autofree char *w = g_strdup_printf("rules[%u]", i);
    RulesRule *r = &set->rules[i];
    r->position = i + 1;
    if (parse_rule(r, json_array_get(array, i), w, flags, error) < 0) {
      rules_set_unref(set);
      return NULL;
    }
    for (guint k = 0; k < r->n_conds; k++) {
      RulesCondition *c = &r->conds[k];
      c->slot = set->n_conds++;
      c->per_record = c->field == RF_RECORD_ATTR || c->field == RF_RECORD_NAME || c->field == RF_RECORD_STAGE;
    }
    for (guint j = 0; r->id && j < i; j++)
      if (set->rules[j].id && strcmp(set->rules[j].id, r->id) == 0) {
        g_autofree char *wid = g_strdup_printf("%s.id", w);
        rules_fail(error, MA_ERROR_INVALID, wid, "duplicate id \"%s\"", r->id);
        rules_set_unref(set);
        return NULL;
      }
  }
  return set;
}

RulesSet *rules_set_parse(const char *json_text, RulesParseFlags flags, GError **error)
{
  json_error_t jerr;
  json_t *doc = json_loads(json_text ? json_text : "", JSON_REJECT_DUPLICATES, &jerr);
  if (!doc) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "rules: not JSON (line %d column %d: %s)", jerr.line,
                jerr.column, jerr.text);
    return NULL;
  }
  RulesSet *set = rules_set_from_json(doc, flags, error);
  json_decref(doc);
  return set;
}

json_t *rules_set_to_json(const RulesSet *set)
{
  json_t *arr = json_array();
  for (guint i = 0; i < set->n; i++) json_array_append_new(arr, json_deep_copy(set->rules[i].canonical));
  return arr;
}

guint rules_set_count(const RulesSet *set) { return set->n; }

const RulesRule *rules_set_nth(const RulesSet *set, guint i)
{
  return i < set->n ? &set->rules[i] : NULL;
}

const char *rules_rule_id(const RulesRule *rule) { return rule->id; }
const char *rules_rule_name(const RulesRule *rule) { return rule->name; }
gboolean rules_rule_enabled(const RulesRule *rule) { return rule->enabled; }
const json_t *rules_rule_json(const RulesRule *rule) { return rule->canonical; }
const char *rules_rule_activity_type(const RulesRule *rule) { return rule->activity_type; }
guint rules_rule_position(const RulesRule *rule) { return rule->position; }

gboolean rules_rule_applies_to(const RulesRule *rule, MaRecordType type)
{
  return (rule->types_mask & (1u << type)) != 0;
}
