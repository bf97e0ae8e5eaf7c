/* match_machine.c - recognises mail that a machine wrote: auto-replies (RFC 3834 Auto-Submitted,
 * X-Autoreply, X-Autorespond, Precedence: auto_reply, and the out-of-office subjects mail systems
 * write in English, Chinese, Japanese, German, French and Spanish), bulk and list mail
 * (Precedence bulk/junk/list, List-Id, List-Unsubscribe) and delivery reports (multipart/report,
 * which count as automatic). Reads only the header signals agent/mime collected and the subject;
 * pure, no storage. The reason names the first signal found (a header name or "out-of-office
 * subject", never a header value: it is shown by explain and may reach logs).
 */
#include "match.h"

#include <string.h>

/* Subjects that start with one of these (case-folded) are auto-replies. Outlook/Exchange write
 * "<phrase>: <original subject>" in the user's language; others write the phrase alone. */
static const char *const auto_subjects[] = {
  /* English */
  "automatic reply", "auto reply", "auto-reply", "autoreply", "auto response", "auto-response",
  "out of office", "out of the office", "away from the office", "on vacation", "vacation reply",
  /* Chinese (simplified and traditional) */
  "自动回复", "自動回覆", "自動回复", "自动答复", "自動答覆", "休假自动回复", "外出自动回复", "不在办公室",
  /* Japanese */
  "自動応答", "自動返信", "不在通知", "不在のお知らせ", "外出中",
  /* German */
  "automatische antwort", "abwesenheitsnotiz", "abwesend", "automatische abwesenheitsnotiz",
  /* French */
  "réponse automatique", "reponse automatique", "absence du bureau", "absent du bureau", "message d'absence",
  /* Spanish */
  "respuesta automática", "respuesta automatica", "fuera de la oficina", "fuera de oficina",
  "respuesta de ausencia",
};


/* The first word of a header value, lower-cased into buf ("Auto-Replied; x" -> "auto-replied"). */
static const char *first_word(const char *value, char *buf, gsize size)
{
  gsize n = 0;
  const char *p = value;
  while (g_ascii_isspace(*p)) p++;
  while (*p && !g_ascii_isspace(*p) && *p != ';' && *p != '(' && n + 1 < size) buf[n++] = g_ascii_tolower(*p++);
  buf[n] = '\0';
  return buf;
}

/* Bytes of the longest phrase of auto_subjects, plus the one after it that must not continue a
 * word: a subject whose first ASCII_PREFIX bytes are ASCII folds there as g_ascii_tolower does. */
#define ASCII_PREFIX 40

/* match_subject_is_auto_reply for a subject whose first ASCII_PREFIX bytes (or all of it) are
 * ASCII: Unicode case folding maps ASCII as g_ascii_tolower does and phrases with other
 * characters cannot match, so this gives the folded comparison's answer without folding (most
 * subjects; folding them cost more than the rest of the matching stage's own code). */
static gboolean ascii_subject_is_auto_reply(const char *s)
{
  char first = g_ascii_tolower(*s);
  for (gsize i = 0; i < G_N_ELEMENTS(auto_subjects); i++) {
    if (auto_subjects[i][0] != first) continue; /* most phrases differ at once */
    gsize n = strlen(auto_subjects[i]);
    if (g_ascii_strncasecmp(s, auto_subjects[i], n) != 0) continue;
    guchar next = (guchar) s[n]; /* n < ASCII_PREFIX: inside the ASCII prefix, or its end */
    if (next == '\0' || !g_ascii_isalnum(next)) return TRUE;
  }
  return FALSE;
}

gboolean match_subject_is_auto_reply(const char *subject)
{
  if (!subject) return FALSE;
  const char *s = subject;
  while (g_ascii_isspace(*s) || *s == '[' || *s == '(') s++;
  gsize ascii = 0;
  while (ascii < ASCII_PREFIX && s[ascii] && !((guchar) s[ascii] & 0x80)) ascii++;
  if (ascii == ASCII_PREFIX || !s[ascii]) return ascii_subject_is_auto_reply(s);
  char *folded = g_utf8_casefold(s, MIN(strlen(s), (gsize) 200));
  gboolean hit = FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS(auto_subjects) && !hit; i++) {
    gsize n = strlen(auto_subjects[i]);
    if (strncmp(folded, auto_subjects[i], n) != 0) continue;
    /* a whole phrase: followed by the end, punctuation or a space, not by more of a word */
    guchar next = (guchar) folded[n];
    hit = next == '\0' || !g_ascii_isalnum(next);
  }
  g_free(folded);
  return hit;
}

guint match_machine_classify(const MaMessage *msg, const char **reason)
{
  const MaMachineSignals *s = &msg->machine;
  guint flags = 0;
  const char *why = NULL;
  char word[32];
#define FLAG(bit, text) do { flags |= (bit); if (!why) why = (text); } while (0)
  if (s->report) FLAG(MA_MACHINE_AUTO | MA_MACHINE_REPORT, "delivery report (multipart/report)");
  if (s->auto_submitted && strcmp(first_word(s->auto_submitted, word, sizeof word), "no") != 0)
    FLAG(MA_MACHINE_AUTO, "Auto-Submitted header");
  if (s->x_autoreply && strcmp(first_word(s->x_autoreply, word, sizeof word), "no") != 0)
    FLAG(MA_MACHINE_AUTO, "X-Autoreply header");
  if (s->x_autorespond && strcmp(first_word(s->x_autorespond, word, sizeof word), "no") != 0)
    FLAG(MA_MACHINE_AUTO, "X-Autorespond header");
  if (s->precedence) {
    first_word(s->precedence, word, sizeof word);
    if (!strcmp(word, "auto_reply")) FLAG(MA_MACHINE_AUTO, "Precedence: auto_reply");
    if (!strcmp(word, "bulk")) FLAG(MA_MACHINE_BULK, "Precedence: bulk");
    if (!strcmp(word, "junk")) FLAG(MA_MACHINE_BULK, "Precedence: junk");
    if (!strcmp(word, "list")) FLAG(MA_MACHINE_BULK, "Precedence: list");
  }
  if (!(flags & MA_MACHINE_AUTO) && match_subject_is_auto_reply(msg->subject)) FLAG(MA_MACHINE_AUTO, "out-of-office subject");
  if (s->list_id) FLAG(MA_MACHINE_BULK, "List-Id header");
  if (s->list_unsubscribe) FLAG(MA_MACHINE_BULK, "List-Unsubscribe header");
#undef FLAG
  if (reason) *reason = why;
  return flags;
}

const char *match_machine_skip_reason(const MaSettings *settings, guint flags)
{
  if ((flags & MA_MACHINE_AUTO) && settings->skip_auto_replies) return "auto_reply";
  if ((flags & MA_MACHINE_BULK) && settings->skip_bulk_mail) return "bulk_mail";
  return NULL;
}
