/* rules_condition.c - parses and validates one condition of a rule ({"field", "op", "value",
 * "case_sensitive"}) into its evaluation form: the field, the operator and whether it is negated,
 * comparison strings already case-folded, numbers, and the compiled regex.
 *
 * Refuses unknown fields and operators, operators that do not apply to the field (gt on a subject,
 * contains on a size...), values of the wrong type, empty strings where they would match anything,
 * more than MAX_IN_VALUES values for "in", and values longer than RULES_VALUE_MAX. Errors name the
 * place (`rules[0].conditions[2].value: ...`).
 */
#include "rules_internal.h"

#include <string.h>

typedef struct {
  const char *name;
  RulesField field;
} FieldName;

static const FieldName field_names[] = {
  {"subject", RF_SUBJECT},
  {"body", RF_BODY},
  {"snippet", RF_SNIPPET},
  {"from", RF_FROM},
  {"from_domain", RF_FROM_DOMAIN},
  {"to", RF_TO},
  {"cc", RF_CC},
  {"participants", RF_PARTICIPANTS},
  {"direction", RF_DIRECTION},
  {"has_attachment", RF_HAS_ATTACHMENT},
  {"is_auto", RF_IS_AUTO},
  {"is_bulk", RF_IS_BULK},
  {"attachment_name", RF_ATTACHMENT_NAME},
  {"mailbox", RF_MAILBOX},
  {"employee", RF_EMPLOYEE},
  {"size", RF_SIZE},
  {"record.name", RF_RECORD_NAME},
  {"record.stage", RF_RECORD_STAGE},
};

static const char *const op_names[] = {
  [RO_EQUALS] = "equals",         [RO_NOT_EQUALS] = "not_equals", [RO_CONTAINS] = "contains",
  [RO_NOT_CONTAINS] = "not_contains", [RO_STARTS_WITH] = "starts_with", [RO_ENDS_WITH] = "ends_with",
  [RO_MATCHES] = "matches",       [RO_IN] = "in",                 [RO_IS_EMPTY] = "is_empty",
  [RO_GT] = "gt",                 [RO_LT] = "lt",
};

#define OPS_TEXT                                                                                   \
  ((1u << RO_EQUALS) | (1u << RO_NOT_EQUALS) | (1u << RO_CONTAINS) | (1u << RO_NOT_CONTAINS) |    \
   (1u << RO_STARTS_WITH) | (1u << RO_ENDS_WITH) | (1u << RO_MATCHES) | (1u << RO_IN) |            \
   (1u << RO_IS_EMPTY))
#define OPS_NUMBER ((1u << RO_EQUALS) | (1u << RO_NOT_EQUALS) | (1u << RO_GT) | (1u << RO_LT) | (1u << RO_IN))

#define MAX_IN_VALUES 100

static guint field_ops(RulesField f)
{
  switch (f) {
  case RF_DIRECTION: return (1u << RO_EQUALS) | (1u << RO_NOT_EQUALS) | (1u << RO_IN);
  case RF_HAS_ATTACHMENT:
  case RF_IS_AUTO:
  case RF_IS_BULK: return (1u << RO_EQUALS) | (1u << RO_NOT_EQUALS);
  case RF_SIZE: return OPS_NUMBER;
  case RF_RECORD_ATTR: return OPS_TEXT | (1u << RO_GT) | (1u << RO_LT);
  default: return OPS_TEXT;
  }
}

gboolean rules_attr_name_valid(const char *name)
{
  gsize n = strlen(name);
  if (n == 0 || n > 64) return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum(name[i]) && name[i] != '_' && name[i] != '-') return FALSE;
  return TRUE;
}

char *rules_json_scalar_text(const json_t *v)
{
  if (json_is_string(v)) return g_strndup(json_string_value(v), json_string_length(v));
  if (json_is_integer(v)) return g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d > -1e15 && d < 1e15 && d == (double) (gint64) d) return g_strdup_printf("%.0f", d);
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    return g_strdup(g_ascii_dtostr(buf, sizeof buf, d));
  }
  if (json_is_true(v)) return g_strdup("true");
  if (json_is_false(v)) return g_strdup("false");
  return NULL;
}

void rules_condition_clear(RulesCondition *c)
{
  g_free(c->attr);
  g_strfreev(c->texts);
  g_free(c->text_lens);
  g_free(c->numbers);
  if (c->re) pcre2_code_free(c->re);
  memset(c, 0, sizeof *c);
}

static gboolean is_count(const json_t *v)
{
  if (json_is_integer(v)) return json_integer_value(v) >= 0;
  if (json_is_real(v)) {
    double d = json_real_value(v);
    return d >= 0 && d < 9e18 && d == (double) (gint64) d;
  }
  return FALSE;
}

/* Adds one comparison string to c (folded unless case-sensitive). */
static void condition_add_text(RulesCondition *c, GPtrArray *texts, GArray *lens, const char *s)
{
  char *t = c->case_sensitive ? g_strdup(s) : rules_fold(s, -1);
  gsize len = strlen(t);
  g_ptr_array_add(texts, t);
  g_array_append_val(lens, len);
}

static const char *const directions[] = {"inbound", "outbound", NULL};
static const char *const stages[] = {"open", "won", "lost", NULL};

static gboolean in_list(const char *s, const char *const *list)
{
  for (guint i = 0; list[i]; i++)
    if (g_ascii_strcasecmp(s, list[i]) == 0) return TRUE;
  return FALSE;
}

/* Checks one scalar value for an equality-type op (equals, not_equals, an element of in). */
static int check_scalar(const RulesCondition *c, const json_t *v, const char *where, GError **error)
{
  switch (c->field) {
  case RF_SIZE:
    if (!is_count(v)) return rules_fail(error, MA_ERROR_INVALID, where, "size needs a whole number of bytes >= 0");
    return 0;
  case RF_RECORD_ATTR:
    if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v))
      return rules_fail(error, MA_ERROR_INVALID, where, "must be a string, a number or a boolean");
    return 0;
  default:
    break;
  }
  if (!json_is_string(v)) return rules_fail(error, MA_ERROR_INVALID, where, "must be a string");
  if (json_string_length(v) > RULES_VALUE_MAX)
    return rules_fail(error, MA_ERROR_INVALID, where, "longer than %d bytes", RULES_VALUE_MAX);
  if (c->field == RF_DIRECTION && !in_list(json_string_value(v), directions))
    return rules_fail(error, MA_ERROR_INVALID, where, "direction is \"inbound\" or \"outbound\"");
  if (c->field == RF_RECORD_STAGE && !in_list(json_string_value(v), stages))
    return rules_fail(error, MA_ERROR_INVALID, where, "stage is \"open\", \"won\" or \"lost\"");
  return 0;
}

/* Parses a condition's field name into c->field / c->attr. */
static int parse_field(RulesCondition *c, const char *name, const char *where, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS(field_names); i++)
    if (strcmp(name, field_names[i].name) == 0) {
      c->field = field_names[i].field;
      return 0;
    }
  if (g_str_has_prefix(name, "record.") && rules_attr_name_valid(name + 7)) {
    c->field = RF_RECORD_ATTR;
    c->attr = g_strdup(name + 7);
    return 0;
  }
  return rules_fail(error, MA_ERROR_INVALID, where, "unknown field \"%s\"", name);
}

/* The values of an equals/not_equals (one) or in (list) condition. */
static int parse_equality_values(RulesCondition *c, const json_t *list, const char *w_value, GPtrArray *texts,
                                 GArray *lens, GArray *numbers, GError **error)
{
  /* Numeric comparison for size, and for attributes compared with numbers. */
  c->numeric = c->field == RF_SIZE;
  size_t i;
  const json_t *v;
  json_array_foreach((json_t *) list, i, v) {
    g_autofree char *w_el = c->positive == RO_IN ? g_strdup_printf("%s[%zu]", w_value, i) : g_strdup(w_value);
    if (rules_field_is_boolean(c->field)) {
      if (!json_is_boolean(v)) return rules_fail(error, MA_ERROR_INVALID, w_el, "must be true or false");
      c->boolean = json_is_true(v);
      continue;
    }
    if (check_scalar(c, v, w_el, error) < 0) return -1;
    if (c->field == RF_RECORD_ATTR && json_is_number(v)) c->numeric = TRUE;
  }
  if (rules_field_is_boolean(c->field)) return 0;
  json_array_foreach((json_t *) list, i, v) {
    if (c->numeric && !json_is_number(v))
      return rules_fail(error, MA_ERROR_INVALID, w_value, "mixes numbers with other values");
    if (c->numeric) {
      double d = json_number_value(v);
      g_array_append_val(numbers, d);
    } else {
      g_autofree char *text = rules_json_scalar_text(v);
      condition_add_text(c, texts, lens, text);
    }
  }
  return 0;
}

/* Moves the collected comparison values into c. Returns 0. */
static int condition_finish(RulesCondition *c, GPtrArray *texts, GArray *lens, GArray *numbers)
{
  c->n_texts = texts->len;
  g_ptr_array_add(texts, NULL);
  c->texts = (char **) g_ptr_array_steal(texts, NULL);
  c->text_lens = (gsize *) (void *) g_array_steal(lens, NULL);
  c->n_numbers = numbers->len;
  c->numbers = (double *) (void *) g_array_steal(numbers, NULL);
  return 0;
}

int rules_condition_parse(RulesCondition *c, const json_t *obj, const char *where, GError **error)
{
  static const char *const keys[] = {"field", "op", "value", "case_sensitive", NULL};
  if (!json_is_object(obj)) return rules_fail(error, MA_ERROR_INVALID, where, "must be an object");
  if (rules_check_keys(obj, keys, where, error) < 0) return -1;

  g_autofree char *w_field = g_strdup_printf("%s.field", where);
  g_autofree char *w_op = g_strdup_printf("%s.op", where);
  g_autofree char *w_value = g_strdup_printf("%s.value", where);
  g_autofree char *w_cs = g_strdup_printf("%s.case_sensitive", where);

  const json_t *field = json_object_get(obj, "field");
  if (!json_is_string(field)) return rules_fail(error, MA_ERROR_INVALID, w_field, "required, a string");
  if (parse_field(c, json_string_value(field), w_field, error) < 0) return -1;

  const json_t *op = json_object_get(obj, "op");
  if (!json_is_string(op)) return rules_fail(error, MA_ERROR_INVALID, w_op, "required, a string");
  int opi = -1;
  for (guint i = 0; i < G_N_ELEMENTS(op_names); i++)
    if (strcmp(json_string_value(op), op_names[i]) == 0) opi = (int) i;
  if (opi < 0) return rules_fail(error, MA_ERROR_INVALID, w_op, "unknown operator \"%s\"", json_string_value(op));
  c->op = (RulesOp) opi;
  if (!(field_ops(c->field) & (1u << c->op)))
    return rules_fail(error, MA_ERROR_INVALID, w_op, "operator \"%s\" does not apply to field \"%s\"",
                op_names[c->op], json_string_value(field));
  c->negate = c->op == RO_NOT_EQUALS || c->op == RO_NOT_CONTAINS;
  c->positive = c->op == RO_NOT_EQUALS ? RO_EQUALS : c->op == RO_NOT_CONTAINS ? RO_CONTAINS : c->op;

  const json_t *cs = json_object_get(obj, "case_sensitive");
  if (cs && !json_is_boolean(cs)) return rules_fail(error, MA_ERROR_INVALID, w_cs, "must be true or false");
  c->case_sensitive = cs && json_is_true(cs);

  const json_t *value = json_object_get(obj, "value");
  g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GArray) lens = g_array_new(FALSE, FALSE, sizeof(gsize));
  g_autoptr(GArray) numbers = g_array_new(FALSE, FALSE, sizeof(double));

  switch (c->positive) {
  case RO_IS_EMPTY:
    if (value && !json_is_boolean(value)) return rules_fail(error, MA_ERROR_INVALID, w_value, "must be true or false");
    c->boolean = !value || json_is_true(value);
    break;
  case RO_GT:
  case RO_LT:
    if (!json_is_number(value)) return rules_fail(error, MA_ERROR_INVALID, w_value, "required, a number");
    if (c->field == RF_SIZE && !is_count(value))
      return rules_fail(error, MA_ERROR_INVALID, w_value, "size needs a whole number of bytes >= 0");
    c->numeric = TRUE;
    double d = json_number_value(value);
    g_array_append_val(numbers, d);
    break;
  case RO_MATCHES:
    if (!json_is_string(value)) return rules_fail(error, MA_ERROR_INVALID, w_value, "required, a regular expression");
    if (json_string_length(value) > RULES_VALUE_MAX)
      return rules_fail(error, MA_ERROR_INVALID, w_value, "longer than %d bytes", RULES_VALUE_MAX);
    c->re = rules_regex_compile(json_string_value(value), c->case_sensitive, w_value, error);
    if (!c->re) return -1;
    break;
  case RO_CONTAINS:
  case RO_STARTS_WITH:
  case RO_ENDS_WITH:
    if (!json_is_string(value)) return rules_fail(error, MA_ERROR_INVALID, w_value, "required, a string");
    if (json_string_length(value) == 0) return rules_fail(error, MA_ERROR_INVALID, w_value, "must not be empty");
    if (json_string_length(value) > RULES_VALUE_MAX)
      return rules_fail(error, MA_ERROR_INVALID, w_value, "longer than %d bytes", RULES_VALUE_MAX);
    condition_add_text(c, texts, lens, json_string_value(value));
    break;
  case RO_EQUALS:
  case RO_IN: {
    if (!value) return rules_fail(error, MA_ERROR_INVALID, w_value, "required");
    const json_t *list = value;
    json_t *one = NULL;
    if (c->positive == RO_IN) {
      if (!json_is_array(value) || json_array_size(value) == 0)
        return rules_fail(error, MA_ERROR_INVALID, w_value, "required, a non-empty array");
      if (json_array_size(value) > MAX_IN_VALUES)
        return rules_fail(error, MA_ERROR_INVALID, w_value, "more than %d values", MAX_IN_VALUES);
    } else {
      one = json_array();
      json_array_append(one, (json_t *) value);
      list = one;
    }
    int rc = parse_equality_values(c, list, w_value, texts, lens, numbers, error);
    if (one) json_decref(one);
    if (rc < 0) return -1;
    break;
  }
  default:
    g_assert_not_reached();
  }
  return condition_finish(c, texts, lens, numbers);
}
