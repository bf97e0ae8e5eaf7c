/* bounce_reason.c - the reason and hard/soft of one failed recipient, as Sisimai decides them
 * (Sisimai::Data, Sisimai::Reason and its classes), from the status code, the diagnostic, the SMTP
 * command the server refused, the Diagnostic-Code type and the reasons an MTA's or a remote host's
 * own vocabulary gave (bounce_lhost.c, bounce_rhost.c). A reason the MTA named stands unless it is
 * one worth a second look (userunknown, hostunknown, systemerror, ...); then the reasons of the first
 * order are tried (mailboxfull before userunknown: a full mailbox is often reported as 5.1.1), each
 * by its own rule: the status code's reason (bounce_status_reasons) or the diagnostic's fragments
 * (bounce_reason_patterns), and the command where it tells look-alikes apart (an unknown user is
 * refused at RCPT, a filter after DATA). Else the code's reason, the text-only reasons, the status
 * class, the reply code (50x: syntax), the action (delayed: expired); a failure with text but no
 * known reason is onhold. Compiled patterns are built once, thread-safely.
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

/* The SMTP reply code of a diagnostic ("550", "421"), as Sisimai::SMTP::Reply finds it: the first
 * word of three digits 4xx/5xx (x0-x5), else 250-253; digits inside an IPv4 address or a longer
 * number do not count. 0 when there is none, or for an X-Unix diagnostic (a local program's). */
int bounce_reply_code(const char *text)
{
  int fallback = 0;
  for (const char *p = text; *p; p++) {
    if (!g_ascii_isdigit(p[0]) || !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2])) continue;
    gboolean word_start = p == text || !(g_ascii_isalnum(p[-1]) || p[-1] == '_');
    gboolean word_end = !(g_ascii_isalnum(p[3]) || p[3] == '_');
    gboolean in_address = (p > text && p[-1] == '.' && p - 1 > text && g_ascii_isdigit(p[-2])) ||
                          (p[3] == '.' && g_ascii_isdigit(p[4]));
    if (word_start && word_end && !in_address) {
      if ((p[0] == '4' || p[0] == '5') && p[1] <= '5') return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
      if (!fallback && p[0] == '2' && p[1] == '5' && p[2] <= '3') fallback = 250 + (p[2] - '0');
    }
    while (g_ascii_isdigit(p[1])) p++;
  }
  return fallback;
}

/* What one reason decision reads: the recipient's status code and the reason it names, the
 * lower-cased diagnostic, the refused SMTP command, and a reason the reporting MTA's own
 * vocabulary gave (preset, "" when none), as Sisimai's Data->reason before Reason->get. */
typedef struct {
  const char *status, *by_code, *text, *command, *preset;
  int reply;
} Facts;

static gboolean is(const char *a, const char *b)
{
  return strcmp(a, b) == 0;
}

/* Sisimai's true() of each reason in the first order (Sisimai::Reason::*->true), in C. A reason
 * the MTA already named is true; most others ask the status code, then the text; the SMTP command
 * separates look-alikes: an unknown user is refused at RCPT, a filter after DATA (RFC 5321 3.3). */
static gboolean reason_true(const char *reason, const Facts *f)
{
  static const char *const before_data[] = {"CONN", "EHLO", "HELO", "MAIL", "RCPT", NULL};
  if (is(reason, f->preset) && !is(reason, "norelaying")) return TRUE;
  if (is(reason, "mailboxfull") || is(reason, "exceedlimit"))
    return *f->status && (is(f->by_code, reason) || text_matches(reason, f->text));
  if (is(reason, "suspend")) return *f->status && text_matches(reason, f->text);
  if (is(reason, "mesgtoobig")) {
    if (is(f->by_code, reason)) return TRUE;
    if (is(f->by_code, "exceedlimit") || is(f->status, "5.2.3")) return FALSE; /* RFC 3463: the recipient's limit */
    return text_matches(reason, f->text);
  }
  if (is(reason, "norelaying")) {
    static const char *const undecided[] = {"securityerror", "systemerror", "undefined", NULL};
    static const char *const greeting[] = {"CONN", "EHLO", "HELO", NULL};
    if (in_list(undecided, f->preset) || in_list(greeting, f->command)) return FALSE;
    return text_matches(reason, f->text);
  }
  if (is(reason, "userunknown")) {
    if (is(f->by_code, "suspend")) return FALSE;
    if (is(f->by_code, "userunknown")) {
      /* *.1.1 "bad destination mailbox", unless the text says another reason. */
      static const char *const others[] = {"norelaying", "blocked", "mailboxfull", "hasmoved", "rejected",
                                           "notaccept", NULL};
      for (const char *const *o = others; *o; o++)
        if (text_matches(*o, f->text)) return FALSE;
      return TRUE;
    }
    return is(f->command, "RCPT") && text_matches(reason, f->text);
  }
  if (is(reason, "filtered")) {
    if (is(f->by_code, "suspend")) return FALSE;
    if (is(f->by_code, "filtered")) return text_matches("userunknown", f->text) || text_matches(reason, f->text);
    /* Headers and body are read after DATA: a refusal before it is not a filter. */
    if (in_list(before_data, f->command)) return FALSE;
    return text_matches(reason, f->text) || text_matches("userunknown", f->text);
  }
  if (is(reason, "rejected")) {
    if (is(f->by_code, "rejected")) return TRUE;
    static const char *const unsure[] = {"onhold", "undefined", "securityerror", "systemerror", NULL};
    if (is(f->command, "MAIL")) return text_matches(reason, f->text);
    if (is(f->command, "DATA")) return !is(f->by_code, "userunknown") && text_matches(reason, f->text);
    return in_list(unsure, *f->by_code ? f->by_code : "undefined") && text_matches(reason, f->text);
  }
  if (is(reason, "hostunknown")) {
    if (is(f->by_code, "hostunknown")) return !text_matches("networkerror", f->text);
    return text_matches(reason, f->text);
  }
  if (is(reason, "spamdetected")) {
    if (!*f->status) return FALSE;
    if (is(f->by_code, reason)) return TRUE;
    if (in_list(before_data, f->command)) return FALSE;
    return text_matches(reason, f->text);
  }
  /* hasmoved, toomanyconn, blocked */
  return is(f->by_code, reason) || text_matches(reason, f->text);
}

/* Sisimai::Reason->anotherone: the status code's reason, else the text-only reasons, else what
 * the status class, the diagnostic type, the reply code, the action or the command say. */
static const char *another_reason(const Facts *f, const char *action, const char *diagnostic_type)
{
  if (*f->preset) return f->preset;
  const char *reason = f->by_code;
  gboolean try_text = !*reason || is(reason, "expired") || in_list(retry_reasons, reason) ||
                      (*diagnostic_type && g_ascii_strcasecmp(diagnostic_type, "smtp") != 0);
  if (!try_text) return reason;
  for (const char *const *r = order_text; *r; r++)
    if (text_matches(*r, f->text)) return *r;
  if (*reason) return reason;
  if (strlen(f->status) >= 3 && (f->status[0] == '4' || f->status[0] == '5')) {
    if (f->status[2] == '6') return "contenterror"; /* RFC 3463 X.6.X: media */
    if (f->status[2] == '7') return "securityerror"; /* X.7.X: security or policy */
  }
  if (!g_ascii_strcasecmp(diagnostic_type, "x-unix")) return "mailererror"; /* a local delivery program failed */
  if (f->reply >= 500 && f->reply <= 507) return "syntaxerror"; /* RFC 5321 4.2.3: 50x syntax errors */
  if (action && (g_str_has_prefix(action, "delayed") || g_str_has_prefix(action, "expired"))) return "expired";
  if (is(f->command, "EHLO") || is(f->command, "HELO")) return "blocked";
  return "";
}

/* The reason some reporting MTA's words give (bounce_mta_texts, any MTA's: the last resort), or "". */
static const char *server_reason(const char *text)
{
  for (gsize i = 0; bounce_mta_texts[i].mta; i++)
    if (strstr(text, bounce_mta_texts[i].text)) return static_reason(bounce_mta_texts[i].reason);
  if (strstr(text, "null mx")) return "notaccept"; /* RFC 7505: a domain that accepts no mail */
  return "";
}

const char *bounce_reason_decide(const BounceFacts *in)
{
  const char *status = in->status ? in->status : "";
  const char *command = in->command ? in->command : "";
  if (g_str_has_prefix(status, "2.")) return "delivered";
  g_autofree char *text = g_utf8_strdown(in->diagnostic ? in->diagnostic : "", -1);
  Facts f = {status, status_reason(status), text, command, in->mta_reason ? in->mta_reason : "",
             bounce_reply_code(text)};
  /* Sisimai::Data: a reason the MTA named stands unless it is one worth a second look. */
  if (*f.preset && !in_list(retry_reasons, f.preset)) return f.preset;
  if (in->host_reason && *in->host_reason) return static_reason(in->host_reason);
  const char *type = in->diagnostic_type ? in->diagnostic_type : "";
  if (!g_ascii_strcasecmp(type, "x-postfix")) type = "smtp"; /* Postfix's own word for an SMTP reply */
  if (!*type || !g_ascii_strcasecmp(type, "smtp"))
    for (const char *const *r = order_first; *r; r++)
      if (reason_true(*r, &f)) return static_reason(*r);
  const char *reason = another_reason(&f, in->action, type);
  if (*reason && !is(reason, "undefined")) return static_reason(reason);
  reason = server_reason(text);
  if (*reason) return reason;
  if (in->action && is(in->action, "delayed")) return "expired";
  if (text_matches("vacation", text)) return "vacation";
  if (*text) return "onhold";
  return "undefined";
}

const char *bounce_reason(const char *status, const char *action, const char *command, const char *diagnostic)
{
  BounceFacts in = {.status = status, .action = action, .command = command, .diagnostic = diagnostic};
  return bounce_reason_decide(&in);
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
