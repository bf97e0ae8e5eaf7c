/* bounce_lhost.c - what the bounce formats of particular reporting MTAs say about a reason.
 *
 * Some MTAs state the reason in a vocabulary of their own: Exchange 2000/2003 an error code in
 * "MSEXCH:...(000C05A6)", Office 365 its extended status codes (5.4.316, 5.7.606...), PowerMTA a
 * bounce category field in its DSN (X-PowerMTA-BounceCategory: bad-mailbox), IMail, McAfee,
 * MessageLabs, Lotus Notes and Outlook.com fixed sentences. Each MTA is recognised by the headers
 * its bounces carry (as Sisimai's Lhost modules recognise them); its table applies to its own
 * bounces only. Local delivery agents (mail.local, procmail, maildrop, vpopmail, vmailmgr,
 * Dovecot's LDA) are recognised by the first words of their error line, in any bounce.
 */
#include "bounce_private.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *text; /* lower-case substring of the diagnostic */
  const char *reason;
} TextReason;

typedef struct {
  const char *status; /* exact code, or with lo < hi the prefix whose last number is in [lo, hi] */
  int lo, hi;
  const char *reason;
} StatusReason;

/* A header of the message, "" when absent (GMime keeps the Content-* fields on the top part). */
static const char *header(GMimeObject *top, const char *name)
{
  const char *v = g_mime_object_get_header(top, name);
  if (!v && GMIME_IS_MESSAGE(top) && g_mime_message_get_mime_part(GMIME_MESSAGE(top)))
    v = g_mime_object_get_header(g_mime_message_get_mime_part(GMIME_MESSAGE(top)), name);
  return v ? v : "";
}

static gboolean received_has(GMimeObject *top, const char *needle)
{
  GMimeHeaderList *list = g_mime_object_get_header_list(top);
  int n = list ? g_mime_header_list_get_count(list) : 0;
  for (int i = 0; i < n && i < 64; i++) {
    GMimeHeader *h = g_mime_header_list_get_header_at(list, i);
    if (g_ascii_strcasecmp(g_mime_header_get_name(h), "Received") != 0) continue;
    const char *v = g_mime_header_get_value(h);
    if (v && strstr(v, needle)) return TRUE;
  }
  return FALSE;
}

/* ---- Microsoft Exchange 2000/2003 ------------------------------------------------------------ */

static gboolean is_exchange2003(GMimeObject *top)
{
  return g_mime_object_get_header(top, "X-MS-Embedded-Report") ||
         g_str_has_prefix(header(top, "X-Mailer"), "Internet Mail Service (") ||
         g_str_has_prefix(header(top, "X-Mailer"), "Microsoft Exchange Server Internet Mail Connector") ||
         g_str_has_prefix(header(top, "X-MimeOLE"), "Produced By Microsoft Exchange") ||
         received_has(top, " with Internet Mail Service (");
}

/* "MSEXCH:IMS:...: 0 (000C05A6) Unknown Recipient": the code in parentheses. */
static const TextReason exchange2003_codes[] = {
  {"000b099c", "onhold"},       {"000b09aa", "onhold"},        {"000b09b6", "onhold"},
  {"000c05a6", "userunknown"},  {"00010256", "systemerror"},   {"000d06b5", "systemerror"},
  {"00120270", "networkerror"}, {"00050311", "contenterror"},  {"000502cc", "contenterror"},
  {"000b0981", "securityerror"}, {"000c0595", "filtered"},     {NULL, NULL},
};

static const char *exchange2003_reason(const char *lower)
{
  const char *m = strstr(lower, "msexch:");
  if (!m) return "";
  for (const char *p = strchr(m, '('); p; p = strchr(p + 1, '(')) {
    if (strlen(p) < 10 || p[9] != ')') continue;
    for (gsize i = 0; exchange2003_codes[i].text; i++)
      if (!strncmp(p + 1, exchange2003_codes[i].text, 8)) return exchange2003_codes[i].reason;
  }
  return "";
}

/* ---- Office 365 / Exchange Online ------------------------------------------------------------ */

static gboolean is_office365(GMimeObject *top)
{
  static const char *const markers[] = {"X-MS-Exchange-Message-Is-NDR", "X-Microsoft-Antispam-PRVS",
                                        "X-Exchange-Antispam-Report-Test", "X-Exchange-Antispam-Report-CFA-Test",
                                        "X-MS-Exchange-CrossTenant-OriginalArrivalTime",
                                        "X-MS-Exchange-CrossTenant-FromEntityHeader",
                                        "X-MS-Exchange-Transport-CrossTenantHeadersStamped", NULL};
  int match = strstr(header(top, "Subject"), "Undeliverable:") != NULL;
  for (const char *const *m = markers; *m; m++) match += g_mime_object_get_header(top, *m) != NULL;
  match += received_has(top, ".outbound.protection.outlook.com") || received_has(top, ".prod.outlook.com");
  const char *id = header(top, "Message-ID");
  match += strstr(id, ".outbound.protection.outlook.com") || strstr(id, ".prod.outlook.com");
  return match >= 2;
}

/* Microsoft's documented NDR codes ("Email non-delivery reports in Exchange Online"). */
static const StatusReason office365_statuses[] = {
  {"4.4.7", 0, 0, "expired"},         {"4.4.312", 0, 0, "networkerror"},   {"4.4.316", 0, 0, "expired"},
  {"4.7.26", 0, 0, "securityerror"},  {"4.7.", 500, 699, "blocked"},       {"4.7.", 850, 899, "blocked"},
  {"5.0.350", 0, 0, "contenterror"},  {"5.1.10", 0, 0, "userunknown"},     {"5.4.1", 0, 0, "norelaying"},
  {"5.4.6", 0, 0, "networkerror"},    {"5.4.312", 0, 0, "networkerror"},   {"5.4.316", 0, 0, "expired"},
  {"5.6.11", 0, 0, "contenterror"},   {"5.7.1", 0, 0, "rejected"},         {"5.7.12", 0, 0, "rejected"},
  {"5.7.13", 0, 0, "rejected"},       {"5.7.124", 0, 0, "rejected"},       {"5.7.", 133, 136, "rejected"},
  {"5.7.23", 0, 0, "blocked"},        {"5.7.25", 0, 0, "networkerror"},    {"5.7.", 501, 503, "spamdetected"},
  {"5.7.", 504, 505, "filtered"},     {"5.7.", 506, 507, "blocked"},       {"5.7.508", 0, 0, "toomanyconn"},
  {"5.7.509", 0, 0, "securityerror"}, {"5.7.510", 0, 0, "notaccept"},      {"5.7.511", 0, 0, "rejected"},
  {"5.7.512", 0, 0, "securityerror"}, {"5.7.57", 0, 0, "securityerror"},   {"5.7.", 606, 609, "blocked"},
  {"5.7.", 610, 649, "blocked"},      {"5.7.", 700, 749, "toomanyconn"},   {NULL, 0, 0, NULL},
};

/* ---- Outlook.com (Hotmail) ------------------------------------------------------------------- */

static gboolean is_outlook(GMimeObject *top)
{
  int match = strstr(header(top, "Subject"), "Delivery Status Notification") != NULL;
  match += g_mime_object_get_header(top, "X-Message-Delivery") != NULL;
  match += g_mime_object_get_header(top, "X-Message-Info") != NULL;
  match += received_has(top, ".hotmail.com");
  return match >= 2;
}

static const TextReason outlook_texts[] = {
  {"the mail could not be delivered to the recipient because the domain is not reachable", "hostunknown"},
  {"requested action not taken: mailbox unavailable", "userunknown"},
  {NULL, NULL},
};

/* ---- PowerMTA: the bounce category of its DSN -------------------------------------------------- */

static gboolean is_powermta(GMimeObject *top)
{
  return strstr(header(top, "Subject"), "Delivery report") != NULL;
}

/* X-PowerMTA-BounceCategory values (PowerMTA User's Guide, bounce categories). */
static const TextReason powermta_categories[] = {
  {"bad-domain", "hostunknown"},        {"bad-mailbox", "userunknown"},       {"inactive-mailbox", "suspend"},
  {"message-expired", "expired"},       {"no-answer-from-host", "networkerror"}, {"policy-related", "policyviolation"},
  {"quota-issues", "mailboxfull"},      {"routing-errors", "systemerror"},    {"spam-related", "spamdetected"},
  {NULL, NULL},
};

/* ---- IMail Server (Ipswitch) ----------------------------------------------------------------- */

static gboolean is_imailserver(GMimeObject *top)
{
  const char *subject = header(top, "Subject");
  return g_str_has_prefix(subject, "Undeliverable Mail") || g_str_has_prefix(header(top, "X-Mailer"), "<SMTP32 v");
}

static const TextReason imailserver_texts[] = {
  {"unknown host", "hostunknown"},
  {"unknown user", "userunknown"},
  {"invalid final delivery userid", "userunknown"},
  {"user mailbox exceeds allowed size", "mailboxfull"},
  {"requested action not taken: virus detected", "virusdetected"},
  {"delivery failed ", "expired"},
  {NULL, NULL},
};

/* ---- McAfee Email Gateway -------------------------------------------------------------------- */

static gboolean is_mcafee(GMimeObject *top)
{
  return strstr(header(top, "X-NAI-Header"), "Modified by McAfee") &&
         !strcmp(header(top, "Subject"), "Delivery Status");
}

static const TextReason mcafee_texts[] = {
  {"550 unknown user ", "userunknown"},
  {"user not exist", "userunknown"},
  {"no such user", "userunknown"},
  {") unknown. ", "userunknown"},
  {NULL, NULL},
};

/* ---- Symantec MessageLabs -------------------------------------------------------------------- */

static gboolean is_messagelabs(GMimeObject *top)
{
  return g_mime_object_get_header(top, "X-Msg-Ref") && strstr(header(top, "From"), "MAILER-DAEMON@messagelabs.com") &&
         g_str_has_prefix(header(top, "Subject"), "Mail Delivery Failure");
}

static const TextReason messagelabs_texts[] = {
  {"no such user", "userunknown"},
  {"please turn on smtp authentication in your mail client", "securityerror"},
  {NULL, NULL},
};

/* "542 <address> Rejected": MessageLabs' refusal of a recipient it does not know. */
static gboolean messagelabs_542(const char *lower)
{
  const char *p = strstr(lower, "542 ");
  return p && strstr(p, " rejected");
}

/* ---- Lotus Notes ----------------------------------------------------------------------------- */

static gboolean is_notes(GMimeObject *top)
{
  return g_str_has_prefix(header(top, "Subject"), "Undeliverable message");
}

static const TextReason notes_texts[] = {
  {"user not listed in public name & address book", "userunknown"},
  {"ディレクトリのリストにありません", "userunknown"},
  {"message has exceeded maximum hop count", "networkerror"},
  {NULL, NULL},
};

/* ---- Yahoo! Mail: the command is the one in "[RCPT_TO]", else RCPT when it quotes an address ----- */

static gboolean is_yahoo(GMimeObject *top)
{
  return g_mime_object_get_header(top, "X-YMailISG") != NULL;
}

/* ---- qmail (qmail-send's "Hi. This is the qmail-send program" bounce) ------------------------ */

static gboolean is_qmail(GMimeObject *top)
{
  return !strcmp(header(top, "Subject"), "failure notice") || received_has(top, "invoked for bounce)");
}

/* The sentences qmail-remote writes for each stage of the SMTP session (qmail-remote.c). */
static const TextReason qmail_commands[] = {
  {" but greeting failed.", "CONN"},          {" but my name was rejected.", "EHLO"},
  {" but sender was rejected.", "MAIL"},      {" does not like recipient.", "RCPT"},
  {" failed on data command.", "DATA"},       {" failed after i sent the message.", "DATA"},
  {NULL, NULL},
};

static const char *qmail_command(const char *lower)
{
  for (gsize i = 0; qmail_commands[i].text; i++)
    if (strstr(lower, qmail_commands[i].text)) return qmail_commands[i].reason;
  static const char progress[] = "sorry, no smtp connection got far enough; most progress was ";
  const char *p = strstr(lower, progress);
  if (p) {
    p += strlen(progress);
    static const struct {
      const char *word, *command;
    } commands[] = {{"helo", "HELO"}, {"ehlo", "EHLO"}, {"mail", "MAIL"}, {"rcpt", "RCPT"}, {"data", "DATA"}};
    for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
      if (!strncmp(p, commands[i].word, 4)) return commands[i].command;
  }
  return "";
}

/* qmail's own sentences, and those of the qmail-ldap patch, most specific first. */
static const TextReason qmail_texts[] = {
  {"no mailbox here by that name", "userunknown"},
  {"does not like recipient.", "userunknown"},
  {"disk quota exceeded", "mailboxfull"},
  {"message size exceeds fixed maximum message size:", "mesgtoobig"},
  {"sorry, i couldn't find any host ", "hostunknown"},
  {"requested action not taken: mailbox unavailable (not enough free space)", "systemfull"},
  {"sorry, i wasn't able to establish an smtp connection", "networkerror"},
  {"sorry, i couldn't find a mail exchanger or ip address", "networkerror"},
  {"sorry. although i'm listed as a best-preference mx or a for that host", "networkerror"},
  {"bad interpreter: no such file or directory", "systemerror"},
  {"system error", "systemerror"},
  {"unable to", "systemerror"},
  {NULL, NULL},
};
static const TextReason qmail_ldap_texts[] = {
  {"mailaddress is administratively disabled", "suspend"},
  {"mailaddress is administrativley disabled", "suspend"},
  {"mailaddress is administrativly disabled", "suspend"},
  {"mailaddress is administrativey disabled", "suspend"},
  {"sorry, no mailbox here by that name", "userunknown"},
  {"the message exeeded the maximum size the user accepts", "exceedlimit"},
  {"automatic homedir creator crashed", "systemerror"},
  {"illegal value in ldap attribute", "systemerror"},
  {"ldap attribute is not given but mandatory", "systemerror"},
  {"timeout while performing search on ldap server", "systemerror"},
  {"too many results returned but needs to be unique", "systemerror"},
  {"permanent error while executing qmail-forward", "systemerror"},
  {"temporary error in automatic homedir creation", "systemerror"},
  {"temporary error while executing qmail-forward", "systemerror"},
  {"temporary failure in ldap lookup", "systemerror"},
  {"unable to contact ldap server", "systemerror"},
  {"unable to login into ldap server, bad credentials", "systemerror"},
  {NULL, NULL},
};

static const char *first_text(const TextReason *t, const char *lower)
{
  for (gsize i = 0; lower && t[i].text; i++)
    if (strstr(lower, t[i].text)) return t[i].reason;
  return "";
}

static const char *qmail_reason(const char *lower)
{
  const char *command = qmail_command(lower);
  if (!strcmp(command, "MAIL")) return "rejected";
  if (!strcmp(command, "HELO") || !strcmp(command, "EHLO")) return "blocked";
  static const char expired[] = "this message has been in the queue too long.";
  const char *refused = strstr(lower, " does not like recipient.");
  if (refused && strstr(refused, expired)) return "onhold"; /* refused, then kept until it expired */
  /* What the remote host said, when it said something, is what counts. */
  const char *said = strstr(lower, "remote host said:");
  const char *reason = first_text(qmail_texts, said ? said : lower);
  if (!*reason && !said) reason = first_text(qmail_ldap_texts, lower);
  if (!*reason && said) reason = first_text(qmail_ldap_texts, lower);
  if (!*reason && strstr(lower, expired)) reason = "expired";
  return reason;
}

/* ---- au (KDDI) EZweb ------------------------------------------------------------------------- */

static gboolean is_ezweb(GMimeObject *top)
{
  const char *from = header(top, "From"), *id = header(top, "Message-ID");
  int match = strstr(from, "Postmaster@ezweb.ne.jp") != NULL;
  match += strstr(from, "Postmaster@au.com") != NULL;
  match += !strcmp(header(top, "Subject"), "Mail System Error - Returned Mail");
  match += received_has(top, "ezweb.ne.jp (EZweb Mail) with");
  match += received_has(top, ".au.com (");
  match += g_str_has_suffix(id, ".ezweb.ne.jp>") || g_str_has_suffix(id, ".au.com>");
  return match >= 2;
}

static const TextReason ezweb_texts[] = {
  {"the user(s) account is temporarily over quota", "mailboxfull"},
  {"the user(s) account is disabled.", "suspend"},
  {"the user(s) account is temporarily limited.", "suspend"},
  {"your message was not delivered within ", "expired"},
  {"each of the following recipients was rejected by a remote mail server", "onhold"},
  {NULL, NULL},
};

/* ---- MTAs whose sentences are in the generated table (bounce_mta_texts) ---------------------- */

static gboolean is_aol(GMimeObject *top)
{
  return g_mime_object_get_header(top, "X-AOL-IP") != NULL;
}

static gboolean is_opensmtpd(GMimeObject *top)
{
  return strstr(header(top, "Subject"), "Delivery status notification") &&
         strstr(header(top, "From"), "Mailer Daemon <") &&
         received_has(top, " (OpenSMTPD) with ");
}

static gboolean is_exchange2007(GMimeObject *top)
{
  const char *subject = header(top, "Subject"), *language = header(top, "Content-Language");
  gboolean prefix = g_str_has_prefix(subject, "Undeliverable:") || g_str_has_prefix(subject, "Non_remis_:") ||
                    g_str_has_prefix(subject, "Non recapitabile:");
  gsize n = strlen(language);
  gboolean tag = (n == 2 || (n == 5 && language[2] == '-')) && g_ascii_islower(language[0]) &&
                 g_ascii_islower(language[1]); /* "en" or "en-US" */
  return prefix && tag && !g_mime_object_get_header(top, "X-MS-Exchange-CrossTenant-OriginalArrivalTime") &&
         !g_mime_object_get_header(top, "X-MS-Exchange-CrossTenant-FromEntityHeader");
}

/* Exchange 2007 and later: the NDR's enhanced code names (Microsoft's "RESOLVER.ADR.RecipNotFound"). */
static const TextReason exchange2007_texts[] = {
  {"smtpsend.dns.nonexistentdomain", "hostunknown"}, {"smtpsend.dns.mxloopback", "networkerror"},
  {"resolver.adr.badprimary", "systemerror"},         {"resolver.adr.recipnotfound", "userunknown"},
  {"resolver.adr.exrecipnotfound", "userunknown"},    {"resolver.adr.reciplimit", "toomanyconn"},
  {"resolver.adr.invalidinsmtp", "systemerror"},      {"resolver.adr.ambiguous", "systemerror"},
  {"resolver.rst.authrequired", "securityerror"},     {"resolver.rst.notauthorized", "rejected"},
  {"resolver.rst.recipsizelimit", "mesgtoobig"},      {"queue.expired", "expired"},
  {NULL, NULL},
};

static gboolean is_receivingses(GMimeObject *top)
{
  return g_mime_object_get_header(top, "X-SES-Outgoing") != NULL;
}

static gboolean is_gmail(GMimeObject *top)
{
  return strstr(header(top, "From"), "<mailer-daemon@googlemail.com>") &&
         strstr(header(top, "Subject"), "Delivery Status Notification");
}

static gboolean is_gsuite(GMimeObject *top)
{
  return strstr(header(top, "Subject"), "Delivery Status Notification") &&
         g_mime_object_get_header(top, "X-Gm-Message-State");
}

/* Trend Micro InterScan MSS: "Unable to deliver message to <a@b>" is its word for an unknown user. */
static gboolean is_interscanmss(GMimeObject *top)
{
  const char *from = header(top, "From"), *subject = header(top, "Subject");
  return g_str_has_prefix(from, "\"InterScan MSS\"") || g_str_has_prefix(from, "\"InterScan Notification\"") ||
         !strcmp(subject, "Mail could not be delivered") ||
         !strcmp(subject, "メッセージを配信できません。") ||
         !strcmp(subject, "メール配信に失敗しました");
}

static const TextReason interscanmss_texts[] = {{"unable to deliver", "userunknown"}, {NULL, NULL}};

/* ---- Verizon Wireless (MMS gateway vzwpix.com, SMS gateway vtext.com) ------------------------- */

static gboolean is_verizon(GMimeObject *top)
{
  const char *from = header(top, "From");
  const char *vzw = strstr(from, "sysadmin@");
  return (vzw && strstr(vzw, ".vzwpix.com")) ||
         (!strcmp(from, "post_master@vtext.com") && received_has(top, ".vtext.com ("));
}

static const TextReason verizon_texts[] = {
  {"no valid recipients for this mm", "userunknown"},
  {"550 - requested action not taken: no such user here", "userunknown"},
  {NULL, NULL},
};

/* ---- the table of MTAs ----------------------------------------------------------------------- */

typedef struct {
  const char *name; /* Sisimai's module name: its rows of bounce_mta_texts apply too */
  gboolean (*identify)(GMimeObject *top);
  const TextReason *texts;
  const StatusReason *statuses;
} Lhost;

static const Lhost lhosts[] = {
  {"Exchange2003", is_exchange2003, NULL, NULL},
  /* Exchange 2007+ on premises before Office 365: the former excludes the cross-tenant headers. */
  {"Exchange2007", is_exchange2007, exchange2007_texts, NULL},
  {"Office365", is_office365, NULL, office365_statuses},
  {"Outlook", is_outlook, outlook_texts, NULL},
  {"PowerMTA", is_powermta, NULL, NULL},
  {"IMailServer", is_imailserver, imailserver_texts, NULL},
  {"McAfee", is_mcafee, mcafee_texts, NULL},
  {"MessageLabs", is_messagelabs, messagelabs_texts, NULL},
  {"Notes", is_notes, notes_texts, NULL},
  {"Yahoo", is_yahoo, NULL, NULL},
  {"EZweb", is_ezweb, ezweb_texts, NULL},
  {"Aol", is_aol, NULL, NULL},
  {"OpenSMTPD", is_opensmtpd, NULL, NULL},
  {"ReceivingSES", is_receivingses, NULL, NULL},
  {"GSuite", is_gsuite, NULL, NULL}, /* Google's DSN format; its older plain-text one is "Gmail" */
  {"Gmail", is_gmail, NULL, NULL},
  {"InterScanMSS", is_interscanmss, interscanmss_texts, NULL},
  {"Verizon", is_verizon, verizon_texts, NULL},
  /* Last: a relay running qmail stamps its Received field on bounces of other formats too. */
  {"qmail", is_qmail, NULL, NULL},
};

int bounce_lhost_identify(struct _GMimeObject *top)
{
  for (gsize i = 0; top && i < G_N_ELEMENTS(lhosts); i++)
    if (lhosts[i].identify(top)) return (int) i;
  return -1;
}

static gboolean status_in(const StatusReason *s, const char *status)
{
  if (s->lo == s->hi) return strcmp(s->status, status) == 0;
  if (!g_str_has_prefix(status, s->status)) return FALSE;
  const char *dot = strrchr(status, '.');
  int detail = dot && g_ascii_isdigit(dot[1]) ? atoi(dot + 1) : -1;
  return detail >= s->lo && detail <= s->hi;
}

const char *bounce_lhost_reason(int lhost, const char *status, const char *diagnostic, const char *category)
{
  if (lhost < 0 || lhost >= (int) G_N_ELEMENTS(lhosts)) return "";
  const Lhost *l = &lhosts[lhost];
  g_autofree char *lower = g_utf8_strdown(diagnostic ? diagnostic : "", -1);
  if (l->identify == is_exchange2003) return exchange2003_reason(lower);
  if (l->identify == is_qmail) return qmail_reason(lower);
  if (l->identify == is_powermta) {
    for (gsize i = 0; category && powermta_categories[i].text; i++)
      if (!g_ascii_strcasecmp(category, powermta_categories[i].text)) return powermta_categories[i].reason;
    return "";
  }
  if (l->identify == is_messagelabs && messagelabs_542(lower)) return "userunknown";
  const char *said = l->texts ? first_text(l->texts, lower) : "";
  if (*said) return said;
  for (gsize i = 0; status && l->statuses && l->statuses[i].status; i++)
    if (status_in(&l->statuses[i], status)) return l->statuses[i].reason;
  for (gsize i = 0; bounce_mta_texts[i].mta; i++)
    if (!strcmp(bounce_mta_texts[i].mta, l->name) && strstr(lower, bounce_mta_texts[i].text))
      return bounce_mta_texts[i].reason;
  return "";
}

const char *bounce_lhost_command(int lhost, const char *diagnostic)
{
  if (lhost < 0 || lhost >= (int) G_N_ELEMENTS(lhosts) || !diagnostic) return "";
  if (lhosts[lhost].identify == is_qmail) {
    g_autofree char *lower = g_ascii_strdown(diagnostic, -1);
    return qmail_command(lower);
  }
  if (lhosts[lhost].identify != is_yahoo) return "";
  const char *lt = strchr(diagnostic, '<');
  const char *at = lt ? strchr(lt, '@') : NULL;
  return at && strchr(at, '>') ? "RCPT" : "";
}

/* ---- local delivery agents ------------------------------------------------------------------- */

typedef struct {
  const char *agent;  /* the first words of its error line */
  const TextReason *texts;
} Mda;

static const TextReason dovecot_texts[] = {
  {"mailbox doesn't exist: ", "userunknown"}, {"quota exceeded", "mailboxfull"},
  {"not enough disk space", "mailboxfull"},
  {NULL, NULL}};
static const TextReason mail_local_texts[] = {
  {": unknown user:", "userunknown"},       {": user unknown", "userunknown"},
  {": invalid mailbox path", "userunknown"}, {": user missing home directory", "userunknown"},
  {"disc quota exceeded", "mailboxfull"},   {"mailbox full or quota exceeded", "mailboxfull"},
  {"temporary file write error", "systemerror"}, {NULL, NULL}};
static const TextReason procmail_texts[] = {
  {"quota exceeded while writing", "mailboxfull"}, {"no space left to finish writing", "systemfull"}, {NULL, NULL}};
static const TextReason maildrop_texts[] = {
  {"invalid user specified.", "userunknown"}, {"cannot find system user", "userunknown"},
  {"maildir over quota.", "mailboxfull"}, {NULL, NULL}};
static const TextReason vpopmail_texts[] = {
  {"sorry, no mailbox here by that name.", "userunknown"}, {"account is locked email bounced", "filtered"},
  {"user does not exist, but will deliver to ", "filtered"}, {"domain is over quota", "mailboxfull"},
  {"user is over quota", "mailboxfull"}, {NULL, NULL}};
static const TextReason vmailmgr_texts[] = {
  {"invalid or unknown base user or domain", "userunknown"}, {"invalid or unknown virtual user", "userunknown"},
  {"user name does not refer to a virtual user", "userunknown"},
  {"delivery failed due to system quota violation", "mailboxfull"}, {NULL, NULL}};

static const Mda mdas[] = {
  {"your message to ", dovecot_texts}, /* "Your message to <a@b> was automatically rejected:" */
  {"mail.local: ", mail_local_texts},  {"procmail: ", procmail_texts},   {"maildrop: ", maildrop_texts},
  {"vdelivermail: ", vpopmail_texts},  {"vdeliver: ", vmailmgr_texts},
};

const char *bounce_mda_reason(const char *text, gsize len)
{
  g_autofree char *lower = g_ascii_strdown(text, (gssize) MIN(len, 64u * 1024));
  for (char *line = lower; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    char *eol = strchr(line, '\n');
    for (gsize i = 0; i < G_N_ELEMENTS(mdas); i++) {
      if (!g_str_has_prefix(line, mdas[i].agent)) continue;
      if (i == 0 && !(eol && eol > line && strstr(line, "was automatically rejected:") &&
                      strstr(line, "was automatically rejected:") + strlen("was automatically rejected:") == eol))
        continue;
      /* The agent's line and the lines after it, to the blank line that ends them. */
      char *end = strstr(line, "\n\n");
      if (end) *end = '\0';
      return first_text(mdas[i].texts, line);
    }
  }
  return "";
}

/* ---- Sendmail's session transcript ----------------------------------------------------------- */

/* Is line "NNN <address>... text" (Sendmail's line for one recipient)? Returns the text or NULL. */
static const char *sendmail_recipient_line(const char *line, const char *eol, const char *recipient)
{
  if (eol - line < 8 || !g_ascii_isdigit(line[0]) || !g_ascii_isdigit(line[1]) || !g_ascii_isdigit(line[2]) ||
      line[3] != ' ' || line[4] != '<')
    return NULL;
  const char *gt = memchr(line + 5, '>', (gsize) (eol - line - 5));
  if (!gt || eol - gt < 4 || strncmp(gt, ">...", 4) != 0) return NULL;
  gsize n = recipient ? strlen(recipient) : 0;
  if (recipient && ((gsize) (gt - line - 5) != n || g_ascii_strncasecmp(line + 5, recipient, n)))
    return NULL;
  const char *rest = gt + 4;
  while (rest < eol && *rest == ' ') rest++;
  return rest;
}

/* Appends one "<<< " reply line to reply: a continuation of a multi-line reply ("550-5.7.1 text",
 * RFC 5321 4.2.1) gives only its text, so that sentences read whole. */
static void append_reply_line(GString *reply, const char *line, const char *eol)
{
  const char *text = line;
  if (reply->len && eol - line > 4 && g_ascii_isdigit(line[0]) && g_ascii_isdigit(line[1]) &&
      g_ascii_isdigit(line[2]) && (line[3] == '-' || line[3] == ' ')) {
    text = line + 4;
    const char *code = text; /* and the enhanced code repeated on each line */
    if ((code[0] == '4' || code[0] == '5') && code[1] == '.') {
      while (code < eol && *code != ' ') code++;
      text = code;
    }
    while (text < eol && *text == ' ') text++;
  }
  if (reply->len) g_string_append_c(reply, ' ');
  g_string_append_len(reply, text, eol - text);
}

gboolean bounce_sendmail_transcript(const char *text, gsize len, const char *recipient, const char **command,
                                    char **diagnostic)
{
  const char *end = text + len, *line = text;
  g_autoptr(GString) reply = g_string_new(NULL);
  gboolean in_reply = FALSE;
  const char *last_command = "";
  *command = "";
  *diagnostic = NULL;
  while (line < end && line) {
    const char *eol = memchr(line, '\n', (gsize) (end - line));
    if (!eol) eol = end;
    const char *rest = sendmail_recipient_line(line, eol, recipient);
    gboolean reply_line = eol - line > 4 && !strncmp(line, "<<< ", 4);
    if (recipient && rest) {
      if (reply->len) g_string_append_c(reply, ' ');
      g_string_append_len(reply, rest, eol - rest);
      *diagnostic = g_strdup(reply->str);
      return TRUE;
    }
    if (sendmail_recipient_line(line, eol, NULL) || g_str_has_prefix(line, "While talking to ") ||
        g_str_has_prefix(line, "... while talking to ")) {
      if (!recipient && reply->len) break; /* the first exchange's reply is the answer */
      g_string_truncate(reply, 0); /* what was quoted before belongs to another recipient or host */
      *command = "";
    } else if (eol - line >= 8 && !strncmp(line, ">>> ", 4)) {
      static const char *const commands[] = {"MAIL", "RCPT", "DATA", "EHLO", "HELO", NULL};
      if (!recipient && reply->len) break;
      for (const char *const *c = commands; *c; c++)
        if (!g_ascii_strncasecmp(line + 4, *c, 4)) *command = *c;
    } else if (reply_line) {
      if (!in_reply) g_string_truncate(reply, 0);
      append_reply_line(reply, line + 4, eol);
      last_command = *command;
    }
    in_reply = reply_line;
    line = eol < end ? eol + 1 : end;
  }
  if (recipient || !reply->len) return FALSE;
  /* No recipient asked: the server's reply of the transcript (a DSN's recipient is known). */
  *command = last_command;
  *diagnostic = g_strdup(reply->str);
  return TRUE;
}
