/* bounce_rhost.c - the reasons particular remote hosts give, by their own codes and texts.
 *
 * Some large providers answer with their own error codes ("LPN007_416" at La Poste and Orange,
 * "IB607" at GoDaddy, "AUP#1310" at Spectrum and Cox) or with texts that mean one thing there
 * and another elsewhere (KDDI's "550 : User unknown" is a filter, not an unknown user). Sisimai
 * keeps one module per such host (Sisimai::Rhost::*); this file chooses the host by the name of
 * the server that answered (the DSN's Remote-MTA, or the "host NAME said" of the diagnostic) or
 * else by the recipient's domain, and reads the host's table (generated into bounce_reasons.c
 * from Sisimai: bounce_rhost_texts, bounce_rhost_codes) the way that module reads it.
 */
#include "bounce_private.h"

#include <stdlib.h>
#include <string.h>

typedef enum {
  HOST_NONE,
  HOST_COX,
  HOST_EXCHANGE_ONLINE,
  HOST_FRANCE_PTT,
  HOST_GODADDY,
  HOST_GOOGLE_APPS,
  HOST_IUA,
  HOST_KDDI,
  HOST_MIMECAST,
  HOST_NTT_DOCOMO,
  HOST_SPECTRUM,
  HOST_TENCENT_QQ,
} Host;

/* Table names, as the generator writes them (Sisimai's module names), by Host. */
static const char *const host_names[] = {"",         "Cox",  "ExchangeOnline", "FrancePTT", "GoDaddy",  "GoogleApps",
                                         "IUA",      "KDDI", "Mimecast",       "NTTDOCOMO", "Spectrum", "TencentQQ"};

static gboolean ends_with(const char *s, const char *suffix)
{
  gsize n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* suffix at the end of host, starting a label ("smtpz4.laposte.net" ends in label "laposte.net"). */
static gboolean ends_with_label(const char *host, const char *suffix)
{
  gsize n = strlen(host), m = strlen(suffix);
  return ends_with(host, suffix) && (n == m || host[n - m - 1] == '.' || host[n - m - 1] == '-');
}

/* The host whose table applies to a lower-case host or domain name (Sisimai::Rhost's RhostClass). */
static Host host_of(const char *name)
{
  if (!name || !*name) return HOST_NONE;
  if (strstr(name, "cox.net")) return HOST_COX;
  if (ends_with(name, ".prod.outlook.com") || ends_with(name, ".protection.outlook.com")) return HOST_EXCHANGE_ONLINE;
  if (ends_with_label(name, "laposte.net") || ends_with_label(name, "orange.fr") || ends_with_label(name, "wanadoo.fr"))
    return HOST_FRANCE_PTT;
  if (!strcmp(name, "smtp.secureserver.net") || !strcmp(name, "mailstore1.secureserver.net")) return HOST_GODADDY;
  if (ends_with(name, "aspmx.l.google.com") || ends_with(name, "gmail-smtp-in.l.google.com")) return HOST_GOOGLE_APPS;
  if (ends_with(name, ".email.ua")) return HOST_IUA;
  if (ends_with(name, ".ezweb.ne.jp") || ends_with(name, ".au.com")) return HOST_KDDI;
  if (ends_with(name, ".mimecast.com")) return HOST_MIMECAST;
  if (ends_with(name, "mfsmax.docomo.ne.jp")) return HOST_NTT_DOCOMO;
  if (strstr(name, "charter.net")) return HOST_SPECTRUM;
  if (ends_with(name, ".qq.com")) {
    /* mx[0-9]+.qq.com */
    const char *label = name + strlen(name) - strlen(".qq.com");
    const char *start = label;
    while (start > name && start[-1] != '.') start--;
    if (label - start > 2 && !strncmp(start, "mx", 2)) {
      const char *d = start + 2;
      while (d < label && g_ascii_isdigit(*d)) d++;
      if (d == label) return HOST_TENCENT_QQ;
    }
  }
  return HOST_NONE;
}

static const char *code_reason(Host host, const char *code)
{
  for (gsize i = 0; bounce_rhost_codes[i].host; i++)
    if (!strcmp(bounce_rhost_codes[i].host, host_names[host]) && !strcmp(bounce_rhost_codes[i].code, code))
      return bounce_rhost_codes[i].reason;
  return "";
}

/* The last number of a status code ("5.7.606" -> 606), or -1. */
static int status_detail(const char *status)
{
  const char *dot = strrchr(status, '.');
  return dot && g_ascii_isdigit(dot[1]) ? atoi(dot + 1) : -1;
}

/* The first of host's texts in lower (lower-case diagnostic) that comes with this reply and status. */
static const char *text_reason(Host host, const char *lower, int reply, const char *status)
{
  for (gsize i = 0; bounce_rhost_texts[i].host; i++) {
    const BounceRhostText *t = &bounce_rhost_texts[i];
    if (strcmp(t->host, host_names[host]) != 0 || !strstr(lower, t->text)) continue;
    if (t->reply) {
      /* Google compares the reply code's last two digits (its table lists 4xx and 5xx alike). */
      if (host == HOST_GOOGLE_APPS ? t->reply % 100 != reply % 100 : t->reply != reply) continue;
    }
    if (*t->status) {
      if (host == HOST_GOOGLE_APPS) {
        if (strlen(status) < 3 || !strstr(t->status + 2, status + 2)) continue; /* subject.detail */
      } else if (t->lo == t->hi) {
        if (strcmp(t->status, status) != 0) continue;
      } else {
        int detail = status_detail(status);
        if (!g_str_has_prefix(status, t->status) || detail < t->lo || detail > t->hi) continue;
      }
    }
    return t->reason;
  }
  return "";
}

/* Copies the run of code characters at p (letters, digits, '_', '-') into out (size n). */
static void code_at(const char *p, char *out, gsize n)
{
  gsize i = 0;
  while (i + 1 < n && (g_ascii_isalnum(p[i]) || p[i] == '_' || p[i] == '-')) out[i] = p[i], i++;
  out[i] = '\0';
}

/* Orange and La Poste: "LPN007_416", "OFR005_505", "LPNAAA_630": the last three digits. */
static const char *france_ptt(const char *lower)
{
  static const char *const prefixes[] = {"lpnaaa", "lpn", "ofr", "ouk", NULL};
  for (const char *p = lower; *p; p++) {
    if (p > lower && (g_ascii_isalnum(p[-1]) || p[-1] == '_')) continue;
    for (const char *const *pre = prefixes; *pre; pre++) {
      gsize n = strlen(*pre);
      if (strncmp(p, *pre, n) != 0) continue;
      char code[16];
      code_at(p + n, code, sizeof code);
      gsize len = strlen(code);
      gboolean shape = (len == 4 && code[0] == '_') ||
                       (len == 7 && (code[3] == '_' || code[3] == '-') && g_ascii_isdigit(code[0]));
      if (!shape || !g_ascii_isdigit(code[len - 1]) || !g_ascii_isdigit(code[len - 2]) ||
          !g_ascii_isdigit(code[len - 3]))
        continue;
      const char *reason = code_reason(HOST_FRANCE_PTT, code + len - 3);
      return *reason ? reason : "undefined";
    }
  }
  return "";
}

/* "AUP#CXBL" (Cox) or "AUP#In-1310" (Spectrum): the code after "aup#". */
static const char *aup_code(const char *diagnostic, char *out, gsize n)
{
  const char *p = strstr(diagnostic, "AUP#");
  out[0] = '\0';
  if (p) code_at(p + 4, out, n);
  return out;
}

static const char *spectrum(const char *diagnostic)
{
  static const struct {
    int lo, hi;
    const char *reason;
  } ranges[] = {{1020, 1080, "rejected"}, {1100, 1150, "blocked"},     {1160, 1190, "policyviolation"},
                {1200, 1210, "blocked"},  {1220, 1250, "blocked"},     {1300, 1340, "toomanyconn"},
                {1350, 1490, "toomanyconn"}};
  char code[32];
  aup_code(diagnostic, code, sizeof code);
  const char *digits = code;
  while (*digits && !g_ascii_isdigit(*digits)) digits++;
  if (strlen(digits) < 4) return "";
  char four[5] = {digits[0], digits[1], digits[2], digits[3], '\0'};
  int number = atoi(four);
  g_snprintf(four, sizeof four, "%d", number);
  const char *reason = code_reason(HOST_SPECTRUM, four);
  for (gsize i = 0; !*reason && i < G_N_ELEMENTS(ranges); i++)
    if (number >= ranges[i].lo && number <= ranges[i].hi) reason = ranges[i].reason;
  return reason;
}

/* NTT docomo: the status code first, three texts, then the command of a 5.0.0. */
static const char *ntt_docomo(const char *lower, const char *status, const char *command)
{
  if (!strcmp(status, "5.1.1") || !strcmp(status, "5.0.911")) return "userunknown";
  if (!strcmp(status, "5.2.0")) return "filtered";
  if (strstr(lower, "552 too much mail data")) return "mailboxfull";
  if (strstr(lower, "552 too many recipients")) return "toomanyconn";
  if (strstr(lower, "503 bad sequence of commands") || strstr(lower, "504 command parameter not implemented"))
    return "syntaxerror";
  if (!strcmp(status, "5.0.0")) {
    if (!strcmp(command, "RCPT")) return "userunknown";
    if (!strcmp(command, "DATA")) return "rejected";
  }
  return "";
}

/* Is status a complete enhanced code (class 2, 4 or 5)? */
static gboolean full_status(const char *status)
{
  return (status[0] == '2' || status[0] == '4' || status[0] == '5') && status[1] == '.' && g_ascii_isdigit(status[2]) &&
         strchr(status + 3, '.') && g_ascii_isdigit(strchr(status + 3, '.')[1]);
}

static const char *host_reason(Host host, const char *status, int reply, const char *command, const char *diagnostic)
{
  g_autofree char *lower = g_utf8_strdown(diagnostic, -1);
  char code[32];
  switch (host) {
  case HOST_COX: {
    const char *reason = code_reason(host, aup_code(diagnostic, code, sizeof code));
    return *reason ? reason : text_reason(host, lower, 0, "");
  }
  case HOST_EXCHANGE_ONLINE:
    if (!*diagnostic || !full_status(status)) return "";
    return text_reason(host, lower, 0, status);
  case HOST_FRANCE_PTT: return france_ptt(lower);
  case HOST_GODADDY: {
    for (const char *p = strstr(diagnostic, "IB"); p; p = strstr(p + 1, "IB")) {
      if (p == diagnostic || !g_ascii_isspace(p[-1])) continue;
      code_at(p, code, sizeof code);
      if (strlen(code) == 5) return code_reason(host, code);
    }
    return text_reason(host, lower, 0, "");
  }
  case HOST_GOOGLE_APPS:
    if (!reply || !*diagnostic || !full_status(status)) return "";
    return text_reason(host, lower, reply, status);
  case HOST_IUA: {
    const char *p = strstr(lower, ".i.ua/err/");
    if (!p) return "";
    code_at(p + strlen(".i.ua/err/"), code, sizeof code);
    return code_reason(host, code);
  }
  case HOST_KDDI: return text_reason(host, lower, 0, "");
  case HOST_MIMECAST:
    if (!*diagnostic || reply < 200 || reply > 599) return "";
    return text_reason(host, lower, reply, "");
  case HOST_NTT_DOCOMO: return ntt_docomo(lower, status, command);
  case HOST_SPECTRUM: return spectrum(diagnostic);
  case HOST_TENCENT_QQ: return text_reason(host, lower, 0, "");
  case HOST_NONE: break;
  }
  return "";
}

const char *bounce_rhost_reason(const char *rhost, const char *recipient, const char *status, int reply,
                                const char *command, const char *diagnostic)
{
  if (!status) status = "";
  if (!command) command = "";
  if (!diagnostic) diagnostic = "";
  const char *reason = "";
  Host host = host_of(rhost);
  if (host != HOST_NONE) reason = host_reason(host, status, reply, command, diagnostic);
  const char *at = recipient ? strrchr(recipient, '@') : NULL;
  Host destination = at ? host_of(at + 1) : HOST_NONE;
  if (!*reason && destination != HOST_NONE) reason = host_reason(destination, status, reply, command, diagnostic);
  return reason;
}
