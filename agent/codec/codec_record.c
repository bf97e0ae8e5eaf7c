/* codec_record.c - strict JSON <-> MaRecord, the one place that decides what a valid CRM record
 * is (the CLI import, the API's PUT /v1/records and POST /v1/records:bulk all come through here).
 *
 * Shape (DESIGN.md): {"type","id","name","emails","domains","account_id","contact_ids","stage",
 * "attributes"} plus "deleted": true. Any other top-level key is refused by name. Type rules:
 *   account      name, emails, domains, attributes
 *   contact      name, emails, account_id, attributes
 *   lead         name, emails, attributes
 *   opportunity  name, account_id, contact_ids, stage (open|won|lost, default open), attributes
 * A key that does not belong to the type is refused (e.g. "stage is only for opportunities"); null
 * counts as absent. E-mail addresses and domains are checked for shape and lower-cased; duplicates
 * are dropped. Limits: id 256 bytes, name 1024 bytes, 1000 entries per list, attributes 64 KB of
 * JSON text. A deleted record needs only type and id; other keys are still checked.
 *
 * Never keeps a reference to its input; never logs record contents.
 */
#include "codec.h"

#include "agent/lib/error.h"

#include <string.h>

#define CODEC_ID_MAX 256
#define CODEC_NAME_MAX 1024
#define CODEC_LIST_MAX 1000
#define CODEC_ADDRESS_MAX 320
#define CODEC_ATTRIBUTES_MAX 65536

enum {
  ALLOW_ACCOUNT = 1 << MA_RECORD_ACCOUNT,
  ALLOW_CONTACT = 1 << MA_RECORD_CONTACT,
  ALLOW_LEAD = 1 << MA_RECORD_LEAD,
  ALLOW_OPPORTUNITY = 1 << MA_RECORD_OPPORTUNITY,
  ALLOW_ALL = ALLOW_ACCOUNT | ALLOW_CONTACT | ALLOW_LEAD | ALLOW_OPPORTUNITY,
};

typedef struct {
  const char *key;
  unsigned allowed; /* ALLOW_* mask */
  const char *only; /* human wording of the allowed types, for the error */
} FieldSpec;

static const FieldSpec fields[] = {
  {"type", ALLOW_ALL, NULL},
  {"id", ALLOW_ALL, NULL},
  {"name", ALLOW_ALL, NULL},
  {"emails", ALLOW_ACCOUNT | ALLOW_CONTACT | ALLOW_LEAD, "accounts, contacts and leads"},
  {"domains", ALLOW_ACCOUNT, "accounts"},
  {"account_id", ALLOW_CONTACT | ALLOW_OPPORTUNITY, "contacts and opportunities"},
  {"contact_ids", ALLOW_OPPORTUNITY, "opportunities"},
  {"stage", ALLOW_OPPORTUNITY, "opportunities"},
  {"attributes", ALLOW_ALL, NULL},
  {"deleted", ALLOW_ALL, NULL},
};

static const FieldSpec *field_find(const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS(fields); i++)
    if (strcmp(fields[i].key, key) == 0) return &fields[i];
  return NULL;
}

static gboolean has_control(const char *s)
{
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return TRUE;
  return FALSE;
}

/* A domain: labels of letters, digits, '-' (or any UTF-8 byte >= 0x80 for IDN), separated by
 * single dots, no leading/trailing '-' per label, total <= 253 bytes. */
gboolean codec_domain_valid(const char *d)
{
  gsize len = strlen(d);
  if (len == 0 || len > 253) return FALSE;
  gsize label = 0;
  char prev = '.';
  for (const char *p = d; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '.') {
      if (label == 0 || prev == '-') return FALSE;
      label = 0;
    } else if (g_ascii_isalnum(c) || c >= 0x80 || c == '-') {
      if (c == '-' && label == 0) return FALSE;
      if (++label > 63) return FALSE;
    } else {
      return FALSE;
    }
    prev = (char)c;
  }
  return label > 0 && prev != '-';
}

/* local@domain: one '@' (the last), a non-empty local part of printable non-space characters
 * without '<', '>', ',', ';', '"' or '\\' (no quoted local parts), a valid domain. */
gboolean codec_address_valid(const char *a)
{
  gsize len = strlen(a);
  if (len < 3 || len > CODEC_ADDRESS_MAX || !g_utf8_validate(a, -1, NULL)) return FALSE;
  const char *at = strrchr(a, '@');
  if (!at || at == a || at[1] == '\0') return FALSE;
  for (const char *p = a; p < at; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c == 0x7f || strchr("<>,;\"\\@()[]:", c)) return FALSE;
  }
  if (a[0] == '.' || at[-1] == '.' || strstr(a, "..")) return FALSE;
  return codec_domain_valid(at + 1);
}

static int fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int fail(GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, MA_ERROR, MA_ERROR_INVALID, msg);
  g_free(msg);
  return -1;
}

/* A required or optional string field: NULL value (absent or null) gives *out = NULL. */
static int get_string(const json_t *v, const char *key, gsize max, char **out, GError **error)
{
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) return fail(error, "%s: must be a string", key);
  const char *s = json_string_value(v);
  gsize len = json_string_length(v);
  if (strlen(s) != len) return fail(error, "%s: contains a NUL character", key);
  if (len > max) return fail(error, "%s: longer than %" G_GSIZE_FORMAT " bytes", key, max);
  if (has_control(s)) return fail(error, "%s: contains a control character", key);
  *out = g_strdup(s);
  return 0;
}

typedef enum { LIST_EMAILS, LIST_DOMAINS, LIST_IDS } ListKind;

static int get_list(const json_t *v, const char *key, ListKind kind, GPtrArray *out, GError **error)
{
  if (!v || json_is_null(v)) return 0;
  if (!json_is_array(v)) return fail(error, "%s: must be an array of strings", key);
  if (json_array_size(v) > CODEC_LIST_MAX)
    return fail(error, "%s: more than %d entries", key, CODEC_LIST_MAX);
  g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
  size_t i;
  const json_t *item;
  json_array_foreach(v, i, item) {
    if (!json_is_string(item)) return fail(error, "%s[%zu]: must be a string", key, i);
    const char *s = json_string_value(item);
    if (strlen(s) != json_string_length(item)) return fail(error, "%s[%zu]: contains a NUL character", key, i);
    char *value = NULL;
    switch (kind) {
    case LIST_EMAILS:
      if (!codec_address_valid(s)) return fail(error, "%s[%zu]: \"%.80s\" is not an e-mail address", key, i, s);
      value = g_utf8_strdown(s, -1);
      break;
    case LIST_DOMAINS:
      if (!codec_domain_valid(s) || !g_utf8_validate(s, -1, NULL))
        return fail(error, "%s[%zu]: \"%.80s\" is not a domain name", key, i, s);
      value = g_utf8_strdown(s, -1);
      break;
    case LIST_IDS:
      if (*s == '\0' || strlen(s) > CODEC_ID_MAX || has_control(s))
        return fail(error, "%s[%zu]: not a valid id", key, i);
      value = g_strdup(s);
      break;
    }
    if (g_hash_table_contains(seen, value)) {
      g_free(value);
      continue;
    }
    g_ptr_array_add(out, value);
    g_hash_table_add(seen, value);
  }
  return 0;
}

int codec_record_parse(const json_t *obj, MaRecord **out, gboolean *deleted, GError **error)
{
  g_return_val_if_fail(out != NULL, -1);
  *out = NULL;
  if (deleted) *deleted = FALSE;
  if (!json_is_object(obj)) return fail(error, "a record must be a JSON object");

  /* Unknown keys first, so a typo is reported as such rather than as a missing field. */
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    if (!field_find(key)) return fail(error, "unknown field \"%.64s\"", key);
  }

  const json_t *jtype = json_object_get(obj, "type");
  if (!jtype || json_is_null(jtype)) return fail(error, "type: missing (account, contact, lead or opportunity)");
  if (!json_is_string(jtype)) return fail(error, "type: must be a string");
  int type = ma_record_type_parse(json_string_value(jtype));
  if (type < 0)
    return fail(error, "type: \"%.40s\" is not account, contact, lead or opportunity", json_string_value(jtype));

  g_autofree char *id = NULL;
  if (get_string(json_object_get(obj, "id"), "id", CODEC_ID_MAX, &id, error) < 0) return -1;
  if (!id || !*id) return fail(error, "id: missing");

  json_object_foreach((json_t *)obj, key, value) {
    const FieldSpec *f = field_find(key);
    if (json_is_null(value) || (f->allowed & (1u << type))) continue;
    return fail(error, "%s: only %s have it, not %ss", key, f->only, ma_record_type_name(type));
  }

  const json_t *jdel = json_object_get(obj, "deleted");
  gboolean is_deleted = FALSE;
  if (jdel && !json_is_null(jdel)) {
    if (!json_is_boolean(jdel)) return fail(error, "deleted: must be true or false");
    is_deleted = json_is_true(jdel);
    if (is_deleted && !deleted) return fail(error, "deleted: not accepted here");
  }

  MaRecord *r = ma_record_new((MaRecordType)type, id);
  if (get_string(json_object_get(obj, "name"), "name", CODEC_NAME_MAX, &r->name, error) < 0 ||
      get_list(json_object_get(obj, "emails"), "emails", LIST_EMAILS, r->emails, error) < 0 ||
      get_list(json_object_get(obj, "domains"), "domains", LIST_DOMAINS, r->domains, error) < 0 ||
      get_string(json_object_get(obj, "account_id"), "account_id", CODEC_ID_MAX, &r->account_id, error) < 0 ||
      get_list(json_object_get(obj, "contact_ids"), "contact_ids", LIST_IDS, r->contact_ids, error) < 0)
    goto bad;
  if (r->account_id && !*r->account_id) {
    g_clear_pointer(&r->account_id, g_free);
  }

  if (type == MA_RECORD_OPPORTUNITY) {
    r->stage = MA_STAGE_OPEN;
    const json_t *jstage = json_object_get(obj, "stage");
    if (jstage && !json_is_null(jstage)) {
      int s = json_is_string(jstage) ? ma_stage_parse(json_string_value(jstage)) : -1;
      if (s <= 0) {
        fail(error, "stage: must be \"open\", \"won\" or \"lost\"");
        goto bad;
      }
      r->stage = (MaStage)s;
    }
  }

  const json_t *jattr = json_object_get(obj, "attributes");
  if (jattr && !json_is_null(jattr)) {
    if (!json_is_object(jattr)) {
      fail(error, "attributes: must be an object");
      goto bad;
    }
    json_object_foreach((json_t *)jattr, key, value) {
      if (!*key || strlen(key) > 128 || has_control(key)) {
        fail(error, "attributes: \"%.64s\" is not a valid attribute name", key);
        goto bad;
      }
    }
    char *text = json_dumps(jattr, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) {
      fail(error, "attributes: cannot be encoded");
      goto bad;
    }
    if (strlen(text) > CODEC_ATTRIBUTES_MAX) {
      free(text);
      fail(error, "attributes: larger than %d bytes", CODEC_ATTRIBUTES_MAX);
      goto bad;
    }
    g_free(r->attributes_json);
    r->attributes_json = g_strdup(text);
    free(text);
  }

  if (deleted) *deleted = is_deleted;
  *out = r;
  return 0;

bad:
  ma_record_free(r);
  return -1;
}

int codec_record_parse_text(const char *text, gsize len, MaRecord **out, gboolean *deleted, GError **error)
{
  *out = NULL;
  json_error_t jerr;
  json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!obj) return fail(error, "bad JSON at column %d: %s", jerr.column, jerr.text);
  int rc = codec_record_parse(obj, out, deleted, error);
  json_decref(obj);
  return rc;
}

json_t *codec_record_to_json(const MaRecord *r)
{
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string(ma_record_type_name(r->type)));
  json_object_set_new(o, "id", codec_string(r->id));
  json_object_set_new(o, "name", codec_string(r->name));
  if (r->type != MA_RECORD_OPPORTUNITY) json_object_set_new(o, "emails", codec_string_array(r->emails));
  if (r->type == MA_RECORD_ACCOUNT) json_object_set_new(o, "domains", codec_string_array(r->domains));
  if (r->type == MA_RECORD_CONTACT || r->type == MA_RECORD_OPPORTUNITY)
    json_object_set_new(o, "account_id", codec_string(r->account_id));
  if (r->type == MA_RECORD_OPPORTUNITY) {
    json_object_set_new(o, "contact_ids", codec_string_array(r->contact_ids));
    const char *stage = ma_stage_name(r->stage ? r->stage : MA_STAGE_OPEN);
    json_object_set_new(o, "stage", json_string(stage));
  }
  json_t *attrs = r->attributes_json ? json_loads(r->attributes_json, 0, NULL) : NULL;
  if (!json_is_object(attrs)) {
    json_decref(attrs);
    attrs = json_object();
  }
  json_object_set_new(o, "attributes", attrs);
  return o;
}
