/* bounce_reason.c - the reason and hard/soft of one failed recipient, by Sisimai's documented
 * rules: a reason is true when the enhanced status code names it (bounce_status_reasons) or when
 * the lower-cased diagnostic contains one of its fragments (bounce_reason_patterns). Reasons are
 * tried in Sisimai's order: first the ones a code or a text identifies surely (mailboxfull before
 * userunknown, since a full mailbox is often reported as 5.1.1 by lazy servers), then the status
 * code alone, then the weaker texts; a delayed action without a reason is expired, and a failure
 * with text but no known reason is onhold. Before those two, the texts particular servers are known to write
 * for a reason (bounce_server_messages, from Sisimai's server modules) are tried. Compiled patterns are built once, thread-safely.
 */
#include "bounce.h"
#include "bounce_private.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

/* Sisimai::Reason's ClassOrder[0] (code or text) and [1] (text only, after the code). */
static const char *const order_first[] = {"mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved",
                                          "norelaying", "userunknown", "filtered", "rejected", "hostunknown",
                                          "spamdetected", "toomanyconn", "blocked", NULL};
static const char *const order_text[] = {"mailboxfull", "spamdetected", "policyviolation", "virusdetected",
                                         "norelaying", "securityerror", "systemerror", "networkerror", "suspend",
                                         "expired", "contenterror", "systemfull", "notaccept", "mailererror", NULL};
/* Reasons a status code gives that a text may still refine (Sisimai::Reason->retry). */
static const char *const retry_reasons[] = {"undefined", "onhold", "systemerror", "securityerror",
                                            "networkerror", "hostunknown", "userunknown", NULL};

static gboolean in_list(const char *const *list, const char *s)
{
  for (; *list; list++)
    if (strcmp(*list, s) == 0) return TRUE;
  return FALSE;
}

static const BounceReasonPatterns *patterns_of(const char *reason, gsize *index)
{
  for (gsize i = 0; bounce_reason_patterns[i].reason; i++)
    if (strcmp(bounce_reason_patterns[i].reason, reason) == 0) {
      *index = i;
      return &bounce_reason_patterns[i];
    }
  return NULL;
}

/* One compiled pattern per table row, compiled on first use; never freed (static data). */
static pcre2_code *compiled_pattern(gsize index)
{
  static pcre2_code **codes;
  if (g_once_init_enter(&codes)) {
    gsize n = 0;
    while (bounce_reason_patterns[n].reason) n++;
    pcre2_code **c = g_new0(pcre2_code *, n);
    for (gsize i = 0; i < n; i++) {
      if (!bounce_reason_patterns[i].pattern) continue;
      int err;
      PCRE2_SIZE off;
      c[i] = pcre2_compile((PCRE2_SPTR) bounce_reason_patterns[i].pattern, PCRE2_ZERO_TERMINATED,
                           PCRE2_EXTENDED | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
      g_warn_if_fail(c[i] != NULL); /* the generated table compiles: tested */
    }
    g_once_init_leave(&codes, c);
  }
  return codes[index];
}

/* Does the lower-cased text carry one of reason's documented fragments? */
static gboolean text_matches(const char *reason, const char *text)
{
  gsize idx;
  const BounceReasonPatterns *p = patterns_of(reason, &idx);
  if (!p || !text || !*text) return FALSE;
  for (const char *const *s = p->isnot; *s; s++)
    if (strstr(text, *s)) return FALSE;
  for (const char *const *s = p->index; *s; s++)
    if (strstr(text, *s)) return TRUE;
  pcre2_code *re = compiled_pattern(idx);
  if (!re) return FALSE;
  pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
  pcre2_match_context *mc = pcre2_match_context_create(NULL);
  pcre2_set_match_limit(mc, 1000000); /* hostile text cannot make a pattern backtrack for long */
  int rc = pcre2_match(re, (PCRE2_SPTR) text, strlen(text), 0, 0, md, mc);
  pcre2_match_context_free(mc);
  pcre2_match_data_free(md);
  return rc >= 0;
}

static const char *status_reason(const char *status)
{
  if (!status || !*status) return "";
  for (gsize i = 0; bounce_status_reasons[i].status; i++)
    if (strcmp(bounce_status_reasons[i].status, status) == 0) return bounce_status_reasons[i].reason;
  return "";
}

static const char *static_reason(const char *name)
{
  for (gsize i = 0; bounce_reason_patterns[i].reason; i++)
    if (strcmp(bounce_reason_patterns[i].reason, name) == 0) return bounce_reason_patterns[i].reason;
  if (strcmp(name, "delivered") == 0) return "delivered";
  if (strcmp(name, "onhold") == 0) return "onhold";
  if (strcmp(name, "feedback") == 0) return "feedback";
  return "undefined";
}

/* Sisimai's true() of a reason in the first order. userunknown and filtered look alike in text;
 * the SMTP command tells them apart: an unknown user is refused at RCPT, a filter after DATA. */
static gboolean reason_true(const char *reason, const char *status, const char *by_code, const char *text,
                            const char *command)
{
  if (strcmp(by_code, "suspend") == 0 && (!strcmp(reason, "userunknown") || !strcmp(reason, "filtered")))
    return FALSE;
  if (strcmp(reason, "mesgtoobig") == 0 && strcmp(by_code, "mesgtoobig") != 0 &&
      (strcmp(by_code, "exceedlimit") == 0 || strcmp(status, "5.2.3") == 0))
    return FALSE; /* RFC 3463 5.2.3: larger than the recipient's limit, not the system's */
  if ((strcmp(reason, "mailboxfull") == 0 || strcmp(reason, "exceedlimit") == 0 || strcmp(reason, "suspend") == 0) &&
      !*status)
    return FALSE; /* Sisimai asks a status code of these */
  if (strcmp(reason, "userunknown") == 0) {
    if (strcmp(by_code, "userunknown") == 0) {
      static const char *const others[] = {"norelaying", "blocked", "mailboxfull", "hasmoved", "rejected",
                                           "notaccept", NULL};
      for (const char *const *o = others; *o; o++)
        if (text_matches(*o, text)) return FALSE;
      return TRUE;
    }
    /* Command unknown: recipients are verified at RCPT in practice, and a hard "no such user" is the
     * safer reading for a sender (the address is not tried again). */
    return (strcmp(command, "RCPT") == 0 || !*command) && text_matches(reason, text);
  }
  if (strcmp(reason, "filtered") == 0) {
    if (strcmp(by_code, "filtered") == 0) return text_matches("userunknown", text) || text_matches(reason, text);
    static const char *const early[] = {"CONN", "EHLO", "HELO", "MAIL", "RCPT", NULL};
    if (in_list(early, command)) return FALSE;
    return text_matches(reason, text) || text_matches("userunknown", text);
  }
  return strcmp(by_code, reason) == 0 || text_matches(reason, text);
}

const char *bounce_reason(const char *status, const char *action, const char *command, const char *diagnostic)
{
  if (status && g_str_has_prefix(status, "2.")) return "delivered";
  g_autofree char *text = g_utf8_strdown(diagnostic ? diagnostic : "", -1);
  const char *by_code = status_reason(status);
  if (!command) command = "";

  for (const char *const *r = order_first; *r; r++)
    if (reason_true(*r, status ? status : "", by_code, text, command)) return static_reason(*r);

  const char *reason = by_code;
  if (!*reason || strcmp(reason, "expired") == 0 || in_list(retry_reasons, reason)) {
    for (const char *const *r = order_text; *r; r++)
      if (text_matches(*r, text)) return static_reason(*r);
    /* Status classes that name a reason on their own (RFC 3463 subject codes). */
    if (status && strlen(status) >= 3 && (status[0] == '4' || status[0] == '5')) {
      if (g_str_has_prefix(status + 1, ".6")) reason = "contenterror";
      else if (g_str_has_prefix(status + 1, ".7")) reason = "securityerror";
    }
  }
  if (*reason && strcmp(reason, "undefined") != 0) return static_reason(reason);
  /* Texts particular servers are known to write for a reason. */
  for (gsize i = 0; bounce_server_messages[i].status; i++)
    if (strstr(text, bounce_server_messages[i].status)) return static_reason(bounce_server_messages[i].reason);
  /* RFC 7505: a domain that publishes a null MX accepts no mail at all. */
  if (strstr(text, "null mx")) return "notaccept";
  if (action && strcmp(action, "delayed") == 0) return "expired";
  if (text_matches("vacation", text)) return "vacation";
  if (*text) return "onhold";
  return "undefined";
}

BounceSeverity bounce_severity(const char *reason, const char *status)
{
  static const char *const hard[] = {"hasmoved", "hostunknown", "userunknown", NULL};
  static const char *const neither[] = {"delivered", "feedback", "vacation", NULL};
  if (in_list(neither, reason)) return BOUNCE_NEITHER;
  if (in_list(hard, reason)) return BOUNCE_HARD;
  if (strcmp(reason, "notaccept") == 0) return status && status[0] == '4' ? BOUNCE_SOFT : BOUNCE_HARD;
  return BOUNCE_SOFT;
}
