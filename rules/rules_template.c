/* rules_template.c - the action templates of a rule: "{{subject}}", "{{from}}", "{{snippet}}",
 * "{{direction}}", "{{record.name}}", "{{record.type}}", "{{record.stage}}" and
 * "{{record.<attribute>}}" (blanks inside the braces allowed).
 *
 * Checked when a rule is saved (unknown placeholders and an unclosed "{{" are refused); rendered
 * with a hard bound on the output, cut on a character boundary, always valid UTF-8. A missing value
 * renders as nothing. Templates are not recursive: a value containing "{{" is copied as is.
 */
#include "rules_internal.h"

#include <string.h>

typedef enum { P_SUBJECT, P_FROM, P_SNIPPET, P_DIRECTION, P_RECORD_NAME, P_RECORD_TYPE, P_RECORD_STAGE, P_ATTR } Ph;

/* Classifies a placeholder name (trimmed); -1 when unknown. */
static int placeholder_kind(const char *name)
{
  static const char *const names[] = {"subject", "from", "snippet", "direction", "record.name", "record.type",
                                      "record.stage"};
  for (guint i = 0; i < G_N_ELEMENTS(names); i++)
    if (strcmp(name, names[i]) == 0) return (int) i;
  if (g_str_has_prefix(name, "record.") && rules_attr_name_valid(name + 7)) return P_ATTR;
  return -1;
}

/* Finds the next placeholder at or after p: sets *open (the "{{"), *close (just after "}}") and
 * *name (newly allocated, trimmed). Returns 1 found, 0 none, -1 an unclosed "{{". */
static int next_placeholder(const char *p, const char **open, const char **close, char **name)
{
  const char *o = strstr(p, "{{");
  if (!o) return 0;
  const char *c = strstr(o + 2, "}}");
  if (!c) return -1;
  *open = o;
  *close = c + 2;
  *name = g_strstrip(g_strndup(o + 2, (gsize) (c - o - 2)));
  return 1;
}

int rules_template_check(const char *tmpl, const char *where, GError **error)
{
  const char *p = tmpl;
  for (;;) {
    const char *open, *close;
    g_autofree char *name = NULL;
    int rc = next_placeholder(p, &open, &close, &name);
    if (rc == 0) return 0;
    if (rc < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"{{\" without \"}}\"", where);
      return -1;
    }
    if (placeholder_kind(name) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "%s: unknown placeholder {{%s}} (known: subject, from, snippet, direction, record.name, "
                  "record.type, record.stage, record.<attribute>)",
                  where, name);
      return -1;
    }
    p = close;
  }
}

static const char *slot_first(RulesInput *in, RulesField f)
{
  GPtrArray *raw = in->slots[f].raw;
  return raw->len ? raw->pdata[0] : "";
}

/* Appends a placeholder's value to out. */
static void append_value(GString *out, RulesInput *in, const char *name)
{
  switch (placeholder_kind(name)) {
  case P_SUBJECT: g_string_append(out, slot_first(in, RF_SUBJECT)); break;
  case P_SNIPPET: g_string_append(out, slot_first(in, RF_SNIPPET)); break;
  case P_DIRECTION: g_string_append(out, slot_first(in, RF_DIRECTION)); break;
  case P_RECORD_NAME: g_string_append(out, slot_first(in, RF_RECORD_NAME)); break;
  case P_RECORD_STAGE: g_string_append(out, slot_first(in, RF_RECORD_STAGE)); break;
  case P_RECORD_TYPE:
    if (in->has_record) g_string_append(out, ma_record_type_name(in->record_type));
    break;
  case P_FROM: {
    const char *addr = slot_first(in, RF_FROM);
    if (in->from_name && *in->from_name && *addr) g_string_append_printf(out, "%s <%s>", in->from_name, addr);
    else if (in->from_name && *in->from_name) g_string_append(out, in->from_name);
    else g_string_append(out, addr);
    break;
  }
  case P_ATTR: {
    const json_t *v = in->attrs ? json_object_get(in->attrs, name + 7) : NULL;
    if (json_is_array(v)) {
      size_t i;
      const json_t *el;
      gboolean first = TRUE;
      json_array_foreach((json_t *) v, i, el) {
        g_autofree char *t = rules_json_scalar_text(el);
        if (!t) continue;
        if (!first) g_string_append(out, ", ");
        g_string_append(out, t);
        first = FALSE;
      }
    } else if (v) {
      g_autofree char *t = rules_json_scalar_text(v);
      if (t) g_string_append(out, t);
    }
    break;
  }
  default: break;
  }
}

char *rules_render_template(const char *tmpl, RulesInput *in, gsize max_bytes)
{
  GString *out = g_string_sized_new(128);
  const char *p = tmpl;
  /* Stop expanding once the output is past the bound: the rest would be cut anyway. */
  while (*p && out->len <= max_bytes) {
    const char *open, *close;
    g_autofree char *name = NULL;
    if (next_placeholder(p, &open, &close, &name) <= 0) {
      g_string_append(out, p);
      break;
    }
    g_string_append_len(out, p, open - p);
    append_value(out, in, name);
    p = close;
  }
  char *valid = g_utf8_make_valid(out->str, (gssize) out->len);
  g_string_free(out, TRUE);
  gsize n = strlen(valid);
  if (n > max_bytes) {
    char *end = valid + max_bytes;
    while (end > valid && ((guchar) *end & 0xC0) == 0x80) end--;
    *end = '\0';
  }
  return valid;
}

char *rules_render_title(const RulesRule *rule, RulesInput *in)
{
  char *t = rules_render_template(rule->title, in, RULES_TITLE_MAX);
  /* A title is one line. */
  for (char *p = t; *p; p++)
    if (*p == '\r' || *p == '\n' || *p == '\t') *p = ' ';
  return t;
}

char *rules_render_content(const RulesRule *rule, RulesInput *in)
{
  return rules_render_template(rule->content, in, RULES_CONTENT_MAX);
}
