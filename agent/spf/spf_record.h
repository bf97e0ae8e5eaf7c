/* spf_record.h - the SPF record parser (RFC 7208 section 4.6 and 12, ABNF): a record's text to a
 * list of terms, with the syntax checked whole before anything is evaluated (a syntax error
 * anywhere is a permerror, RFC 7208 4.6). Pure: no DNS, no I/O. Used by the evaluator, the
 * merge and the lint (spf.h), and fuzzed by tests/fuzz/fuzz_spf.c.
 */
#ifndef MA_SPF_RECORD_H
#define MA_SPF_RECORD_H

#include <glib.h>

/* Longest record text accepted (a TXT record's joined strings are bounded by the DNS message;
 * this bounds the work on a hostile one). */
#define SPF_MAX_RECORD 4096
/* Most terms in one record. */
#define SPF_MAX_TERMS 128

typedef enum {
  SPF_TERM_ALL,
  SPF_TERM_INCLUDE,
  SPF_TERM_A,
  SPF_TERM_MX,
  SPF_TERM_PTR,
  SPF_TERM_IP4,
  SPF_TERM_IP6,
  SPF_TERM_EXISTS,
  SPF_TERM_REDIRECT, /* modifiers from here on */
  SPF_TERM_EXP,
  SPF_TERM_UNKNOWN_MODIFIER,
} SpfTermKind;

typedef struct {
  SpfTermKind kind;
  char qualifier;    /* '+', '-', '~', '?' (mechanisms; '+' when none was written) */
  char *text;        /* the term as written, e.g. "-ip4:192.0.2.0/24" */
  char *domain_spec; /* include, a, mx, ptr, exists, redirect, exp; NULL when absent (a, mx,
                        ptr use the current domain) */
  int cidr4, cidr6;  /* a, mx (dual-cidr), ip4 (cidr4), ip6 (cidr6); 32/128 when absent */
  guint8 ip[16];     /* ip4 (first 4 octets) and ip6, network order */
} SpfTerm;

typedef struct {
  GPtrArray *terms;  /* SpfTerm*, in order, mechanisms and modifiers (owned) */
  SpfTerm *redirect; /* borrowed from terms; NULL when absent */
  SpfTerm *exp;      /* borrowed from terms; NULL when absent */
} SpfRecord;

/* TRUE when text starts with the version "v=spf1" (case-insensitive) followed by a space or the
 * end: the test that selects SPF records among a name's TXT records (RFC 7208 4.5). */
gboolean spf_record_is_spf(const char *text, size_t len);

/* Parses one SPF record. Returns a new record (spf_record_free), or NULL with *error_r set to a
 * static-plus-term message (newly allocated, g_free) naming the first bad term and the rule it
 * breaks. */
SpfRecord *spf_record_parse(const char *text, size_t len, char **error_r);
void spf_record_free(SpfRecord *record);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SpfRecord, spf_record_free)

/* TRUE when the term asks DNS when evaluated (include, a, mx, ptr, exists, redirect): the terms
 * RFC 7208 4.6.4 counts against the limit of 10. */
gboolean spf_term_queries_dns(const SpfTerm *term);

/* Checks a macro-string (RFC 7208 7.1) without expanding it: FALSE with *error_r (static text)
 * when it is malformed. in_exp allows the c, r, t letters, which only explanations may use.
 * domain_spec also checks the domain-end rule (a final "." toplabel, or a macro). */
gboolean spf_macro_string_is_valid(const char *s, gboolean in_exp, gboolean domain_spec,
                                   const char **error_r);

#endif
