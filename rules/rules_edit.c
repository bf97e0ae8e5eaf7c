/* rules_edit.c - add, update, move, enable, disable, delete and replace rules in an enterprise's
 * ordered array, validating the whole result with rules_set_from_json before handing it back.
 *
 * Works on JSON text in and out so the caller can store the array in one atomic put; never touches
 * storage. Ids come from ma_id_new (time-ordered strings).
 */
#include "rules_edit.h"

#include "agent/lib/clock.h"

#include <string.h>

static json_t *load_array(const char *current, GError **error)
{
  if (!current || !*current) return json_array();
  json_error_t jerr;
  json_t *arr = json_loads(current, 0, &jerr);
  if (!json_is_array(arr)) {
    if (arr) json_decref(arr);
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "stored rules are not a JSON array");
    return NULL;
  }
  return arr;
}

static json_t *load_object(const char *text, const char *what, GError **error)
{
  json_error_t jerr;
  json_t *obj = json_loads(text ? text : "", JSON_REJECT_DUPLICATES, &jerr);
  if (!obj) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: not JSON (line %d column %d: %s)", what, jerr.line,
                jerr.column, jerr.text);
    return NULL;
  }
  if (!json_is_object(obj)) {
    json_decref(obj);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: must be a JSON object", what);
    return NULL;
  }
  return obj;
}

/* Index of the rule with this id, or -1 with MA_ERROR_NOT_FOUND. */
static int find_rule(const json_t *arr, const char *rule_id, GError **error)
{
  size_t i;
  const json_t *r;
  json_array_foreach((json_t *) arr, i, r) {
    const json_t *id = json_object_get(r, "id");
    if (json_is_string(id) && rule_id && strcmp(json_string_value(id), rule_id) == 0) return (int) i;
  }
  g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no rule with id \"%s\"", rule_id ? rule_id : "");
  return -1;
}

/* Validates the array and returns its canonical text; consumes arr. */
static char *finish(json_t *arr, GError **error)
{
  RulesSet *set = rules_set_from_json(arr, RULES_PARSE_REQUIRE_IDS, error);
  json_decref(arr);
  if (!set) return NULL;
  json_t *canon = rules_set_to_json(set);
  rules_set_unref(set);
  char *text = json_dumps(canon, JSON_COMPACT);
  json_decref(canon);
  char *out = g_strdup(text);
  free(text);
  return out;
}

RulesSet *rules_edit_load(const char *current, GError **error)
{
  json_t *arr = load_array(current, error);
  if (!arr) return NULL;
  RulesSet *set = rules_set_from_json(arr, RULES_PARSE_REQUIRE_IDS, error);
  json_decref(arr);
  return set;
}

char *rules_edit_add(const char *current, const char *rule_json, guint position, char **new_id, GError **error)
{
  json_t *rule = load_object(rule_json, "rule", error);
  if (!rule) return NULL;
  if (rules_rule_validate(rule, "rule", RULES_PARSE_FORBID_IDS, error) < 0) {
    json_decref(rule);
    return NULL;
  }
  json_t *arr = load_array(current, error);
  if (!arr) {
    json_decref(rule);
    return NULL;
  }
  if (json_array_size(arr) >= RULES_MAX) {
    json_decref(rule);
    json_decref(arr);
    g_set_error(error, MA_ERROR, MA_ERROR_LIMIT,
                "an enterprise has at most %d rules (disabled rules count); delete one first", RULES_MAX);
    return NULL;
  }
  size_t n = json_array_size(arr);
  if (position > n + 1) {
    json_decref(rule);
    json_decref(arr);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "position %u is past the end (1..%zu)", position, n + 1);
    return NULL;
  }
  char *id = ma_id_new();
  json_object_set_new(rule, "id", json_string(id));
  if (position == 0 || position == n + 1) json_array_append_new(arr, rule);
  else json_array_insert_new(arr, position - 1, rule);
  char *out = finish(arr, error);
  if (out && new_id) *new_id = id;
  else g_free(id);
  return out;
}

char *rules_edit_update(const char *current, const char *rule_id, const char *rule_json, GError **error)
{
  json_t *rule = load_object(rule_json, "rule", error);
  if (!rule) return NULL;
  const json_t *given = json_object_get(rule, "id");
  if (given && !(json_is_string(given) && strcmp(json_string_value(given), rule_id) == 0)) {
    json_decref(rule);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "rule.id: does not match the rule being updated (\"%s\")", rule_id);
    return NULL;
  }
  json_t *arr = load_array(current, error);
  if (!arr) {
    json_decref(rule);
    return NULL;
  }
  int i = find_rule(arr, rule_id, error);
  if (i < 0) {
    json_decref(rule);
    json_decref(arr);
    return NULL;
  }
  if (rules_rule_validate(rule, "rule", 0, error) < 0) {
    json_decref(rule);
    json_decref(arr);
    return NULL;
  }
  json_object_set_new(rule, "id", json_string(rule_id));
  json_array_set_new(arr, (size_t) i, rule);
  return finish(arr, error);
}

char *rules_edit_move(const char *current, const char *rule_id, guint position, GError **error)
{
  json_t *arr = load_array(current, error);
  if (!arr) return NULL;
  int i = find_rule(arr, rule_id, error);
  if (i < 0) {
    json_decref(arr);
    return NULL;
  }
  size_t n = json_array_size(arr);
  if (position < 1 || position > n) {
    json_decref(arr);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "position %u is out of range (1..%zu)", position, n);
    return NULL;
  }
  json_t *rule = json_incref(json_array_get(arr, (size_t) i));
  json_array_remove(arr, (size_t) i);
  json_array_insert_new(arr, position - 1, rule);
  return finish(arr, error);
}

char *rules_edit_set_enabled(const char *current, const char *rule_id, gboolean enabled, GError **error)
{
  json_t *arr = load_array(current, error);
  if (!arr) return NULL;
  int i = find_rule(arr, rule_id, error);
  if (i < 0) {
    json_decref(arr);
    return NULL;
  }
  json_object_set_new(json_array_get(arr, (size_t) i), "enabled", json_boolean(enabled));
  return finish(arr, error);
}

char *rules_edit_delete(const char *current, const char *rule_id, GError **error)
{
  json_t *arr = load_array(current, error);
  if (!arr) return NULL;
  int i = find_rule(arr, rule_id, error);
  if (i < 0) {
    json_decref(arr);
    return NULL;
  }
  json_array_remove(arr, (size_t) i);
  return finish(arr, error);
}

char *rules_edit_replace(const char *current, const char *array_json, GError **error)
{
  (void) current;
  json_error_t jerr;
  json_t *arr = json_loads(array_json ? array_json : "", JSON_REJECT_DUPLICATES, &jerr);
  if (!arr) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "rules: not JSON (line %d column %d: %s)", jerr.line,
                jerr.column, jerr.text);
    return NULL;
  }
  if (!json_is_array(arr)) {
    json_decref(arr);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "rules: must be a JSON array");
    return NULL;
  }
  /* Validate before assigning ids so errors point at what the caller sent. */
  RulesSet *check = rules_set_from_json(arr, 0, error);
  if (!check) {
    json_decref(arr);
    return NULL;
  }
  rules_set_unref(check);
  size_t i;
  json_t *r;
  json_array_foreach(arr, i, r) {
    if (!json_object_get(r, "id")) {
      g_autofree char *id = ma_id_new();
      json_object_set_new(r, "id", json_string(id));
    }
  }
  return finish(arr, error);
}
