/* rules_internal.h - the parsed form of rules and inputs, shared by the files of the rules module
 * (rules_parse.c, rules_input.c, rules_match.c, rules_template.c). Not for other modules: they
 * use rules.h.
 */
#ifndef MA_RULES_INTERNAL_H
#define MA_RULES_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules.h"

#include <pcre2.h>

typedef enum {
  RF_SUBJECT,
  RF_BODY,
  RF_SNIPPET,
  RF_FROM,
  RF_FROM_DOMAIN,
  RF_TO,
  RF_CC,
  RF_PARTICIPANTS,
  RF_DIRECTION,
  RF_ATTACHMENT_NAME,
  RF_MAILBOX,
  RF_EMPLOYEE,
  RF_RECORD_NAME,
  RF_RECORD_STAGE,
  RF_TEXT_COUNT_, /* fields above are text slots of the input */
  RF_HAS_ATTACHMENT = RF_TEXT_COUNT_,
  RF_IS_AUTO,   /* an auto-reply or delivery report (agent/match match_machine.c) */
  RF_IS_BULK,   /* bulk or list mail */
  RF_SIZE,
  RF_RECORD_ATTR,
} RulesField;

/* has_attachment, is_auto, is_bulk: compared with true or false. */
static inline gboolean rules_field_is_boolean(RulesField f)
{
  return f == RF_HAS_ATTACHMENT || f == RF_IS_AUTO || f == RF_IS_BULK;
}

typedef enum {
  RO_EQUALS,
  RO_NOT_EQUALS,
  RO_CONTAINS,
  RO_NOT_CONTAINS,
  RO_STARTS_WITH,
  RO_ENDS_WITH,
  RO_MATCHES,
  RO_IN,
  RO_IS_EMPTY,
  RO_GT,
  RO_LT,
} RulesOp;

typedef struct {
  RulesField field;
  char *attr;             /* RF_RECORD_ATTR: the attribute name */
  RulesOp op;             /* as written */
  RulesOp positive;       /* the op without its not_ (RO_NOT_EQUALS -> RO_EQUALS) */
  gboolean negate;
  gboolean case_sensitive;
  char **texts;           /* comparison strings (folded unless case_sensitive); NULL-terminated */
  gsize *text_lens;
  guint n_texts;
  double *numbers;        /* numeric values (size, gt/lt, numeric equals/in) */
  guint n_numbers;
  gboolean numeric;       /* compare as numbers */
  gboolean boolean;       /* has_attachment / is_auto / is_bulk value; is_empty value */
  pcre2_code *re;         /* RO_MATCHES */
  guint slot;             /* index of this condition's cached result in a RulesInput */
  gboolean per_record;    /* depends on the record half of the input (not cached across records) */
} RulesCondition;

struct RulesRule {
  char *id;
  char *name;
  gboolean enabled;
  guint types_mask;       /* 1 << MaRecordType */
  gboolean match_any;
  RulesCondition *conds;
  guint n_conds;
  char *activity_type;
  char *title;
  char *content;
  guint position;         /* 1-based */
  gint limit_logged;      /* atomic: a regex limit hit was logged for this rule */
  json_t *canonical;      /* the rule as JSON with every key */
};

struct RulesSet {
  gint refcount;
  RulesRule *rules;
  guint n;
  guint64 serial;         /* unique per parsed set: keys the input's result cache */
  guint n_conds;          /* conditions in all rules (cache slots) */
};

/* A text field's values: raw as set, folded built on first use. */
typedef struct {
  GPtrArray *raw;         /* char* */
  GPtrArray *folded;      /* char*, NULL until needed */
} RulesSlot;

struct RulesInput {
  RulesSlot slots[RF_TEXT_COUNT_];
  char *from_name;
  gboolean has_attachment;
  gboolean is_auto;
  gboolean is_bulk;
  gint64 size;
  gboolean has_record;
  MaRecordType record_type;
  json_t *attrs;          /* object, NULL when none */
  GHashTable *attr_slots; /* attribute name -> RulesSlot* (built on first use) */
  pcre2_match_data *md;   /* created on first regex */
  pcre2_match_context *mctx; /* created on first regex; its match limit is set per attempt */
  guint64 mctx_limit;     /* the match limit mctx holds now */
  guint64 regex_calls;    /* regex calls for this message (the backstop reads the clock every 64th) */
  guint64 budget;         /* regex units this message may use */
  guint64 used;           /* units charged so far */
  guint max_ms;           /* time backstop per message, 0 none */
  gint64 deadline_us;     /* monotonic backstop, armed by the first regex call; 0 before */
  gboolean exhausted;     /* the budget or the backstop ran out */
  /* Results of message-only conditions, reused for the other records of the message:
   * 0 unknown, 1 false, 2 true. Cleared by every message setter. */
  guint8 *cache;
  guint cache_len;
  guint64 cache_serial;
};

/* Forgets cached condition results (the message half changed). */
void rules_input_invalidate(RulesInput *in);

/* Case-folds (NFKC + g_utf8_casefold; ASCII fast path) len bytes of s (-1: NUL-terminated).
 * Invalid UTF-8 is repaired first. Newly allocated. */
char *rules_fold(const char *s, gssize len);

/* The values of a text slot for condition c: folded unless case_sensitive (or raw for regexes). */
GPtrArray *rules_input_values(RulesInput *in, const RulesCondition *c);

/* Compiles pattern for a condition; NULL with MA_ERROR_INVALID naming `where` and the offset. */
pcre2_code *rules_regex_compile(const char *pattern, gboolean case_sensitive, const char *where, GError **error);

/* Checks a template's placeholders. 0, or -1 with MA_ERROR_INVALID naming `where`. */
int rules_template_check(const char *tmpl, const char *where, GError **error);

/* Text of one attribute value (string as is, number formatted, bool "true"/"false"); NULL for
 * null, objects and arrays. Newly allocated. */
char *rules_json_scalar_text(const json_t *v);

/* Parses one condition object into c (which the caller zeroed); on -1 the caller clears it with
 * rules_condition_clear. */
int rules_condition_parse(RulesCondition *c, const json_t *obj, const char *where, GError **error);
void rules_condition_clear(RulesCondition *c);

/* Sets *error to `code` with "<where>: <message>" and returns -1. */
int rules_fail(GError **error, int code, const char *where, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* Refuses (MA_ERROR_INVALID) any key of obj not in the NULL-terminated allowed list. */
int rules_check_keys(const json_t *obj, const char *const *allowed, const char *where, GError **error);

/* TRUE when name is a valid attribute name ([A-Za-z0-9_-], 1..64 bytes). */
gboolean rules_attr_name_valid(const char *name);

#endif
