/* test_match_pure.c - table-driven tests of match's pure helpers: the subject key (reply/forward
 * prefixes of many languages, counters, tags, whitespace) and the dedup key (Message-ID first,
 * else From + Subject + Date to the minute + folded text). */
#include "agent/match/match.h"

#include <string.h>

static void test_subject_key(void)
{
  static const struct {
    const char *in, *want;
  } cases[] = {
    {"Quote for Q3", "quote for q3"},
    {"Re: Quote for Q3", "quote for q3"},
    {"RE: Quote for Q3", "quote for q3"},
    {"re:Quote for Q3", "quote for q3"},
    {"Fwd: Quote for Q3", "quote for q3"},
    {"FW: Quote for Q3", "quote for q3"},
    {"Fw: Quote for Q3", "quote for q3"},
    {"AW: Angebot", "angebot"},
    {"WG: Angebot", "angebot"},
    {"SV: Tilbud", "tilbud"},
    {"VS: Tarjous", "tarjous"},
    {"Réf : Devis", "devis"},
    {"TR: Devis", "devis"},
    {"回复：报价单", "报价单"},
    {"回复: 报价单", "报价单"},
    {"转发：报价单", "报价单"},
    {"答复: 报价单", "报价单"},
    {"Re: Re: RE: Fwd: Quote", "quote"},
    {"Re[2]: Quote", "quote"},
    {"RE(3): Quote", "quote"},
    {"Re^2: Quote", "quote"},
    {"[2] Quote", "quote"},
    {"(3) Quote", "quote"},
    {"[EXT] Re: Quote", "quote"},
    {"Re: [EXT] FW: Quote", "quote"},
    {"  Re:   Quote \t for\n  Q3  ", "quote for q3"},
    {"Re : Quote", "quote"},
    {"Rex: not a prefix", "rex: not a prefix"},
    {"Regarding: Quote", "regarding: quote"},
    {"Fwd Quote", "fwd quote"},
    {"Re:", ""},
    {"", ""},
    {"Quote (draft)", "quote (draft)"},
    {"Price [2] list", "price [2] list"},
    {"回复：回复：转发：合同", "合同"},
    {"Re: 回复：Contract", "contract"},
    /* ASCII is lower-cased without Unicode folding; anything else is made valid and folded */
    {"RE: QUOTE Q3", "quote q3"},
    {"RE: \xc3\x84PFEL UND BIRNEN", "\xc3\xa4pfel und birnen"},
    {"Re: caf\xe9 order", "caf\xef\xbf\xbd order"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = match_subject_key(cases[i].in);
    g_test_message("subject [%s]", cases[i].in);
    g_assert_cmpstr(got, ==, cases[i].want);
  }
  g_autofree char *null_key = match_subject_key(NULL);
  g_assert_cmpstr(null_key, ==, "");
}

static void test_fold_whitespace(void)
{
  static const struct {
    const char *in, *want;
  } cases[] = {
    {"a  b", "a b"}, {"\n a\r\n\tb \n", "a b"}, {"", ""}, {"a\xe3\x80\x80" "b", "a b"}, {"x", "x"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = match_fold_whitespace(cases[i].in);
    g_assert_cmpstr(got, ==, cases[i].want);
  }
  g_autofree char *a = match_fold_whitespace_n("  ab \n cd  ef", 4);
  g_assert_cmpstr(a, ==, "ab c");
  g_autofree char *b = match_fold_whitespace_n("\xe4\xbd\xa0\xe5\xa5\xbd \xe4\xb8\x96\xe7\x95\x8c", 2);
  g_assert_cmpstr(b, ==, "\xe4\xbd\xa0\xe5\xa5\xbd");
  g_autofree char *c = match_fold_whitespace_n("short", 200);
  g_assert_cmpstr(c, ==, "short");
}

static MaMessage *msg(const char *mid, const char *from, const char *subject, gint64 date, const char *text)
{
  MaMessage *m = ma_message_new();
  g_free(m->message_id);
  m->message_id = g_strdup(mid);
  g_free(m->subject);
  m->subject = g_strdup(subject);
  m->date = date;
  g_free(m->text);
  m->text = g_strdup(text);
  if (!m->participants) m->participants = g_ptr_array_new_with_free_func((GDestroyNotify) ma_participant_free);
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, NULL, from));
  return m;
}

static void key_of(MaMessage *m, char out[65])
{
  match_dedup_key(m, out);
  ma_message_free(m);
  g_assert_cmpuint(strlen(out), ==, 64);
}

static void test_dedup_key(void)
{
  char a[65], b[65];
  /* Message-ID wins over everything else */
  key_of(msg("abc@example.com", "x@a.com", "S", 1000, "t"), a);
  key_of(msg("abc@example.com", "y@b.com", "other", 99999, "u"), b);
  g_assert_cmpstr(a, ==, b);
  key_of(msg("abd@example.com", "x@a.com", "S", 1000, "t"), b);
  g_assert_cmpstr(a, !=, b);

  /* no Message-ID: same minute, same folded text, From case-insensitive */
  const gint64 t0 = 1704708720; /* 2024-01-08T10:12:00Z */
  key_of(msg(NULL, "Bob@Example.com", "Quote", t0 + 5, "Hello  there\n\nBob"), a);
  key_of(msg(NULL, "bob@example.com", "Quote", t0 + 59, "Hello there Bob\n"), b);
  g_assert_cmpstr(a, ==, b);
  /* another minute */
  key_of(msg(NULL, "bob@example.com", "Quote", t0 + 60, "Hello there Bob"), b);
  g_assert_cmpstr(a, !=, b);
  /* another subject, text, sender */
  key_of(msg(NULL, "bob@example.com", "Quote 2", t0, "Hello there Bob"), b);
  g_assert_cmpstr(a, !=, b);
  key_of(msg(NULL, "bob@example.com", "Quote", t0, "Hello there Bobby"), b);
  g_assert_cmpstr(a, !=, b);
  key_of(msg(NULL, "alice@example.com", "Quote", t0, "Hello there Bob"), b);
  g_assert_cmpstr(a, !=, b);
  /* an empty Message-ID counts as none */
  key_of(msg("", "bob@example.com", "Quote", t0, "Hello there Bob"), b);
  g_assert_cmpstr(a, ==, b);
}

/* Each machine-mail marker alone, and look-alikes that are a person's mail. */
static void test_machine(void)
{
  static const struct {
    const char *header, *value, *subject;
    guint want;
    const char *reason;
  } cases[] = {
    {"auto_submitted", "auto-replied", "Re: quote", MA_MACHINE_AUTO, "Auto-Submitted header"},
    {"auto_submitted", "auto-generated; owner-email=x@y", "Hi", MA_MACHINE_AUTO, "Auto-Submitted header"},
    {"auto_submitted", "No", "Hi", 0, NULL},
    {"x_autoreply", "yes", "Hi", MA_MACHINE_AUTO, "X-Autoreply header"},
    {"x_autorespond", "Vacation", "Hi", MA_MACHINE_AUTO, "X-Autorespond header"},
    {"precedence", "auto_reply", "Hi", MA_MACHINE_AUTO, "Precedence: auto_reply"},
    {"precedence", "Bulk", "Hi", MA_MACHINE_BULK, "Precedence: bulk"},
    {"precedence", "junk", "Hi", MA_MACHINE_BULK, "Precedence: junk"},
    {"precedence", "list", "Hi", MA_MACHINE_BULK, "Precedence: list"},
    {"precedence", "first-class", "Hi", 0, NULL},
    {"list_id", "<news.example.com>", "Hi", MA_MACHINE_BULK, "List-Id header"},
    {"list_unsubscribe", "<mailto:u@example.com>", "Hi", MA_MACHINE_BULK, "List-Unsubscribe header"},
    {"report", NULL, "Undelivered Mail Returned to Sender", MA_MACHINE_AUTO | MA_MACHINE_REPORT,
     "delivery report (multipart/report)"},
    /* out-of-office subjects, six languages */
    {NULL, NULL, "Automatic reply: Widget quote", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Out of Office: Widget quote", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "[Auto-Reply] Widget quote", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "自动回复：报价", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "自動回覆: 報價", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "自動応答: お見積もり", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "不在通知", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Automatische Antwort: Angebot", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Abwesenheitsnotiz: Angebot", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Réponse automatique : Devis", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "RÉPONSE AUTOMATIQUE: Devis", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Respuesta automática: Presupuesto", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Fuera de la oficina", MA_MACHINE_AUTO, "out-of-office subject"},
    /* subjects whose first 40 bytes are ASCII are compared without Unicode folding; the others,
     * and shorter ones with other characters, are folded: both give the same answers */
    {NULL, NULL, "Out of office: back on Monday, for urgent matters call the desk", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Out of office \xe2\x80\x93 zur\xc3\xbc" "ck am Montag", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "Automatische Abwesenheitsnotiz: Angebot 2024 f\xc3\xbcr Widgets", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "AUTOREPLY", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "  (On Vacation)", MA_MACHINE_AUTO, "out-of-office subject"},
    {NULL, NULL, "On vacationing in the alps: photos from our trip", 0, NULL},
    {NULL, NULL, "automatische abwesenheitsnotizen", 0, NULL},
    {NULL, NULL, "Zoom meeting notes and the out of office plan", 0, NULL},
    /* people's mail that only looks like it */
    {NULL, NULL, "Re: Out of office schedule for May", 0, NULL},
    {NULL, NULL, "Autoresponder pricing", 0, NULL},
    {NULL, NULL, "Outlook tips", 0, NULL},
    {NULL, NULL, "", 0, NULL},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(MaMessage) m = ma_message_new();
    g_free(m->subject);
    m->subject = g_strdup(cases[i].subject);
    const char *h = cases[i].header;
    char **slot = !h ? NULL
                  : !strcmp(h, "auto_submitted") ? &m->machine.auto_submitted
                  : !strcmp(h, "x_autoreply") ? &m->machine.x_autoreply
                  : !strcmp(h, "x_autorespond") ? &m->machine.x_autorespond
                  : !strcmp(h, "precedence") ? &m->machine.precedence
                  : !strcmp(h, "list_id") ? &m->machine.list_id
                  : !strcmp(h, "list_unsubscribe") ? &m->machine.list_unsubscribe : NULL;
    if (slot) *slot = g_strdup(cases[i].value);
    if (h && !strcmp(h, "report")) m->machine.report = TRUE;
    const char *reason = NULL;
    guint got = match_machine_classify(m, &reason);
    if (got != cases[i].want || g_strcmp0(reason, cases[i].reason))
      g_error("machine case %zu (%s): flags %u reason %s, want %u %s", i, cases[i].subject, got, reason ? reason : "-",
              cases[i].want, cases[i].reason ? cases[i].reason : "-");
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/match/subject_key", test_subject_key);
  g_test_add_func("/match/fold_whitespace", test_fold_whitespace);
  g_test_add_func("/match/dedup_key", test_dedup_key);
  g_test_add_func("/match/machine", test_machine);
  return g_test_run();
}
