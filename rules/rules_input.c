/* rules_input.c - the evaluation input: one message's fields plus the record being considered.
 *
 * Built once per message; the record half is replaced for each linked record. Every text field is
 * a list of raw values; its case-folded form (NFKC + g_utf8_casefold, ASCII fast path) is made the
 * first time a case-insensitive condition reads it and kept for the other rules and records, so a
 * body is folded at most once per message. The body is cut at RULES_BODY_MAX bytes. Never logs.
 */
#include "rules_internal.h"

#include <string.h>

/* Folds one word that contains non-ASCII bytes: case folding, with NFKC first only when the word
 * holds a combining mark or a compatibility character (rare in mail, and normalising is the
 * expensive part). */
static void fold_word(GString *out, const char *w, gsize n)
{
  g_autofree char *valid = NULL;
  if (!g_utf8_validate_len(w, n, NULL)) {
    valid = g_utf8_make_valid(w, (gssize) n);
    w = valid;
    n = strlen(valid);
  }
  gboolean normalise = FALSE;
  for (const char *p = w; p < w + n && !normalise; p = g_utf8_next_char(p)) {
    gunichar c = g_utf8_get_char(p);
    /* Combining marks; Latin ligatures, fullwidth/halfwidth forms, circled and other
     * compatibility blocks. */
    normalise = g_unichar_combining_class(c) != 0 || (c >= 0xFB00 && c <= 0xFB4F) || (c >= 0xFF00 && c <= 0xFFEF) ||
                (c >= 0x2100 && c <= 0x24FF) || (c >= 0x3300 && c <= 0x33FF) || (c >= 0x1100 && c <= 0x11FF) ||
                (c >= 0x3130 && c <= 0x318F);
  }
  g_autofree char *norm = normalise ? g_utf8_normalize(w, (gssize) n, G_NORMALIZE_ALL_COMPOSE) : NULL;
  g_autofree char *folded = norm ? g_utf8_casefold(norm, -1) : g_utf8_casefold(w, (gssize) n);
  g_string_append(out, folded);
}

/* Word by word: ASCII words are lower-cased in place, only words with non-ASCII bytes go through
 * NFKC and case folding (a combining mark stays in the word of its base letter, since words break
 * only at ASCII characters that are neither letters nor digits). Mostly-ASCII mail folds at
 * nearly memcpy speed. */
char *rules_fold(const char *s, gssize len)
{
  gsize n = len < 0 ? strlen(s) : (gsize) len;
  GString *out = g_string_sized_new(n + 16);
  const char *p = s, *end = s + n;
  while (p < end) {
    guchar c = (guchar) *p;
    if (c < 0x80 && !g_ascii_isalnum(c)) {
      g_string_append_c(out, c ? (char) c : ' ');
      p++;
      continue;
    }
    const char *w = p;
    gboolean ascii = TRUE;
    while (p < end && ((guchar) *p >= 0x80 || g_ascii_isalnum(*p))) {
      if ((guchar) *p >= 0x80) ascii = FALSE;
      p++;
    }
    if (ascii) {
      gsize at = out->len;
      g_string_append_len(out, w, p - w);
      for (gsize i = at; i < out->len; i++) out->str[i] = g_ascii_tolower(out->str[i]);
    } else {
      fold_word(out, w, (gsize) (p - w));
    }
  }
  return g_string_free(out, FALSE);
}

static void slot_init(RulesSlot *s)
{
  s->raw = g_ptr_array_new_with_free_func(g_free);
  s->folded = NULL;
}

static void slot_clear(RulesSlot *s)
{
  if (s->raw) g_ptr_array_unref(s->raw);
  if (s->folded) g_ptr_array_unref(s->folded);
  s->raw = s->folded = NULL;
}

static void slot_free(gpointer p)
{
  RulesSlot *s = p;
  slot_clear(s);
  g_free(s);
}

static void slot_reset(RulesSlot *s)
{
  g_ptr_array_set_size(s->raw, 0);
  if (s->folded) {
    g_ptr_array_unref(s->folded);
    s->folded = NULL;
  }
}

static void slot_add(RulesSlot *s, const char *value, gsize max)
{
  if (!value) return;
  gsize n = strlen(value);
  if (n > max) {
    /* Cut on a character boundary. */
    const char *end = value + max;
    while (end > value && ((guchar) *end & 0xC0) == 0x80) end--;
    n = (gsize) (end - value);
  }
  g_ptr_array_add(s->raw, g_strndup(value, n));
  if (s->folded) {
    g_ptr_array_unref(s->folded);
    s->folded = NULL;
  }
}

static void slot_set(RulesSlot *s, const char *value, gsize max)
{
  slot_reset(s);
  slot_add(s, value, max);
}

static GPtrArray *slot_folded(RulesSlot *s)
{
  if (!s->folded) {
    s->folded = g_ptr_array_new_full(s->raw->len, g_free);
    for (guint i = 0; i < s->raw->len; i++) g_ptr_array_add(s->folded, rules_fold(s->raw->pdata[i], -1));
  }
  return s->folded;
}

RulesInput *rules_input_new(void)
{
  RulesInput *in = g_new0(RulesInput, 1);
  for (int i = 0; i < RF_TEXT_COUNT_; i++) slot_init(&in->slots[i]);
  in->attr_slots = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, slot_free);
  in->budget = RULES_MESSAGE_BUDGET;
  in->max_ms = RULES_MESSAGE_TIME_MS;
  return in;
}

void rules_input_set_budget(RulesInput *in, guint64 units, guint max_ms)
{
  in->budget = units;
  in->max_ms = max_ms;
  in->used = 0;
  in->deadline_us = 0;
  in->regex_calls = 0;
  in->exhausted = FALSE;
}

guint64 rules_input_budget_used(const RulesInput *in) { return in->used; }

gboolean rules_input_budget_exhausted(const RulesInput *in) { return in->exhausted; }

void rules_input_invalidate(RulesInput *in)
{
  if (in->cache) memset(in->cache, 0, in->cache_len);
}

void rules_input_free(RulesInput *in)
{
  if (!in) return;
  for (int i = 0; i < RF_TEXT_COUNT_; i++) slot_clear(&in->slots[i]);
  g_free(in->from_name);
  if (in->attrs) json_decref(in->attrs);
  g_hash_table_unref(in->attr_slots);
  if (in->md) pcre2_match_data_free(in->md);
  if (in->mctx) pcre2_match_context_free(in->mctx);
  g_free(in->cache);
  g_free(in);
}

#define FIELD_MAX 65536

void rules_input_set_subject(RulesInput *in, const char *subject)
{
  rules_input_invalidate(in);
  slot_set(&in->slots[RF_SUBJECT], subject, FIELD_MAX);
}

void rules_input_set_body(RulesInput *in, const char *body)
{
  rules_input_invalidate(in);
  slot_set(&in->slots[RF_BODY], body, RULES_BODY_MAX);
}

void rules_input_set_snippet(RulesInput *in, const char *snippet)
{
  rules_input_invalidate(in);
  slot_set(&in->slots[RF_SNIPPET], snippet, FIELD_MAX);
}

void rules_input_set_from(RulesInput *in, const char *name, const char *address)
{
  rules_input_invalidate(in);
  g_free(in->from_name);
  in->from_name = g_strdup(name);
  slot_set(&in->slots[RF_FROM], address, FIELD_MAX);
  slot_reset(&in->slots[RF_FROM_DOMAIN]);
  const char *at = address ? strrchr(address, '@') : NULL;
  if (at) slot_add(&in->slots[RF_FROM_DOMAIN], at + 1, FIELD_MAX);
}

void rules_input_add_to(RulesInput *in, const char *address) {
  rules_input_invalidate(in); slot_add(&in->slots[RF_TO], address, FIELD_MAX); }
void rules_input_add_cc(RulesInput *in, const char *address) {
  rules_input_invalidate(in); slot_add(&in->slots[RF_CC], address, FIELD_MAX); }

void rules_input_add_participant(RulesInput *in, const char *address)
{
  rules_input_invalidate(in);
  slot_add(&in->slots[RF_PARTICIPANTS], address, FIELD_MAX);
}

void rules_input_set_direction(RulesInput *in, MaDirection direction)
{
  rules_input_invalidate(in);
  slot_set(&in->slots[RF_DIRECTION], ma_direction_name(direction), FIELD_MAX);
}

void rules_input_set_machine(RulesInput *in, gboolean is_auto, gboolean is_bulk)
{
  in->is_auto = is_auto;
  in->is_bulk = is_bulk;
}

void rules_input_set_has_attachment(RulesInput *in, gboolean has_attachment)
{
  rules_input_invalidate(in);
  in->has_attachment = has_attachment;
}

void rules_input_add_attachment_name(RulesInput *in, const char *filename)
{
  rules_input_invalidate(in);
  slot_add(&in->slots[RF_ATTACHMENT_NAME], filename, FIELD_MAX);
}

void rules_input_add_mailbox(RulesInput *in, const char *mailbox)
{
  rules_input_invalidate(in);
  slot_add(&in->slots[RF_MAILBOX], mailbox, FIELD_MAX);
}

void rules_input_add_employee(RulesInput *in, const char *employee)
{
  rules_input_invalidate(in);
  slot_add(&in->slots[RF_EMPLOYEE], employee, FIELD_MAX);
}

void rules_input_set_size(RulesInput *in, gint64 size) {
  rules_input_invalidate(in); in->size = size; }

void rules_input_set_record(RulesInput *in, MaRecordType type, const char *name, MaStage stage,
                            const char *attributes_json)
{
  in->has_record = TRUE;
  in->record_type = type;
  slot_set(&in->slots[RF_RECORD_NAME], name, FIELD_MAX);
  slot_set(&in->slots[RF_RECORD_STAGE], ma_stage_name(stage), FIELD_MAX);
  if (in->attrs) json_decref(in->attrs);
  in->attrs = NULL;
  g_hash_table_remove_all(in->attr_slots);
  if (attributes_json && *attributes_json && strcmp(attributes_json, "{}") != 0) {
    json_t *doc = json_loads(attributes_json, 0, NULL);
    if (json_is_object(doc)) in->attrs = doc;
    else if (doc) json_decref(doc);
  }
}

/* The slot of a record attribute: a scalar is one value, an array its scalar elements. */
static RulesSlot *attr_slot(RulesInput *in, const char *name)
{
  RulesSlot *s = g_hash_table_lookup(in->attr_slots, name);
  if (s) return s;
  s = g_new0(RulesSlot, 1);
  slot_init(s);
  const json_t *v = in->attrs ? json_object_get(in->attrs, name) : NULL;
  if (json_is_array(v)) {
    size_t i;
    const json_t *el;
    json_array_foreach((json_t *) v, i, el) {
      g_autofree char *t = rules_json_scalar_text(el);
      slot_add(s, t, FIELD_MAX);
    }
  } else if (v) {
    g_autofree char *t = rules_json_scalar_text(v);
    slot_add(s, t, FIELD_MAX);
  }
  g_hash_table_insert(in->attr_slots, g_strdup(name), s);
  return s;
}

GPtrArray *rules_input_values(RulesInput *in, const RulesCondition *c)
{
  RulesSlot *s = c->field == RF_RECORD_ATTR ? attr_slot(in, c->attr) : &in->slots[c->field];
  g_assert(c->field == RF_RECORD_ATTR || c->field < RF_TEXT_COUNT_);
  if (c->case_sensitive || c->positive == RO_MATCHES || c->numeric || c->positive == RO_IS_EMPTY) return s->raw;
  return slot_folded(s);
}
