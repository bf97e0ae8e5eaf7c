/* test_collector.c - unit tests of the collector's pure parts: modified UTF-7 folder names (whole
 * and byte by byte against a reference), the choice of folders (INBOX, \Sent, localized Sent names,
 * chosen lists), server specs, the presets parser (the shipped file and hostile ones), and the
 * backoff schedule.
 */
#include "agent/collector/collector.h"
#include "agent/collector/collector_folders.h"
#include "agent/collector/collector_presets.h"

#include <string.h>

static void test_mutf7(void)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
    {"INBOX", "INBOX"},
    {"&XfJT0ZAB-", "已发送"},
    {"Gesendete Elemente", "Gesendete Elemente"},
    {"Tom &- Jerry", "Tom & Jerry"},
    {"&ZeVnLIqe-", "日本語"},
    {"Entw&APw-rfe", "Entwürfe"},
    {"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = collector_mutf7_decode(cases[i].in, strlen(cases[i].in));
    g_assert_cmpstr(got, ==, cases[i].out);
  }
  static const char *const bad[] = {"&", "&Jjo", "&-&", "&AGE-" /* 'a' encoded */, "a\x01" "b", "\xc3\xa9",
                                    "&Jj!-", "&AAA-" /* NUL */};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *got = collector_mutf7_decode(bad[i], strlen(bad[i]));
    if (got) g_error("\"%s\" decoded to \"%s\"", bad[i], got);
  }
  /* every prefix of a valid name is either refused or valid UTF-8 (no over-read, no half output) */
  const char *name = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
  for (gsize n = 0; n <= strlen(name); n++) {
    g_autofree char *got = collector_mutf7_decode(name, n);
    if (got) g_assert_true(g_utf8_validate(got, -1, NULL));
  }
  /* the bound */
  g_autofree char *longname = g_strnfill(COLLECTOR_FOLDER_NAME_MAX + 1, 'a');
  g_assert_null(collector_mutf7_decode(longname, strlen(longname)));
}

static CollectorFolder *folder(const char *name, gboolean sent, gboolean noselect)
{
  CollectorFolder *f = g_new0(CollectorFolder, 1);
  f->name = g_strdup(name);
  f->sent = sent;
  f->noselect = noselect;
  return f;
}

static void test_folders_choose(void)
{
  g_autoptr(GPtrArray) listed = g_ptr_array_new_with_free_func((GDestroyNotify)collector_folder_free);
  g_ptr_array_add(listed, folder("Drafts", FALSE, FALSE));
  g_ptr_array_add(listed, folder("&XfJT0ZAB-", FALSE, FALSE)); /* 已发送, by name */
  g_ptr_array_add(listed, folder("inbox", FALSE, FALSE));
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
  char *missing = NULL;
  g_assert_cmpuint(collector_folders_choose(listed, NULL, out, &missing), ==, 2);
  g_assert_cmpstr(g_ptr_array_index(out, 0), ==, "inbox");
  g_assert_cmpstr(g_ptr_array_index(out, 1), ==, "&XfJT0ZAB-");
  g_assert_null(missing);
  /* the \Sent attribute wins over a name */
  g_ptr_array_add(listed, folder("Outgoing", TRUE, FALSE));
  g_ptr_array_set_size(out, 0);
  collector_folders_choose(listed, NULL, out, &missing);
  g_assert_cmpstr(g_ptr_array_index(out, 1), ==, "Outgoing");
  /* \Noselect folders are never chosen */
  g_autoptr(GPtrArray) only = g_ptr_array_new_with_free_func((GDestroyNotify)collector_folder_free);
  g_ptr_array_add(only, folder("INBOX", FALSE, FALSE));
  g_ptr_array_add(only, folder("Sent Items", TRUE, TRUE));
  g_ptr_array_set_size(out, 0);
  g_assert_cmpuint(collector_folders_choose(only, NULL, out, &missing), ==, 1);
  /* a chosen list, one missing */
  g_ptr_array_set_size(out, 0);
  g_assert_cmpuint(collector_folders_choose(listed, "INBOX\n已发送\nArchive", out, &missing), ==, 2);
  g_assert_cmpstr(missing, ==, "Archive");
  g_free(missing);
  g_assert_true(collector_folder_is_sent_name("INBOX.Sent"));
  g_assert_true(collector_folder_is_sent_name("Gesendete Elemente"));
  g_assert_true(collector_folder_is_sent_name("SENT ITEMS"));
  g_assert_false(collector_folder_is_sent_name("Sentinel"));
}

static void test_server_parse(void)
{
  MaServer s;
  GError *error = NULL;
  g_assert_cmpint(collector_server_parse("imap.example.com:993:tls", &s, &error), ==, 0);
  g_assert_cmpstr(s.host, ==, "imap.example.com");
  g_assert_cmpint(s.port, ==, 993);
  g_assert_cmpint(s.security, ==, MA_SECURITY_TLS);
  g_free(s.host);
  g_assert_cmpint(collector_server_parse("[::1]:143:starttls", &s, &error), ==, 0);
  g_assert_cmpstr(s.host, ==, "::1");
  g_assert_cmpint(s.security, ==, MA_SECURITY_STARTTLS);
  g_free(s.host);
  static const char *const bad[] = {"", "host", "host:993", "host:0:tls", "host:70000:tls", "host:993:ssl",
                                    ":993:tls", "ho st:993:tls", "[::1:993:tls", "host:99x:tls", "[]:1:tls"};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    if (collector_server_parse(bad[i], &s, &error) == 0) g_error("\"%s\" accepted", bad[i]);
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_null(s.host);
  }
}

static void test_presets(void)
{
  GError *error = NULL;
  g_autoptr(GHashTable) shipped = collector_presets_load(NULL, &error);
  g_assert_no_error(error);
  static const char *const ids[] = {"tencent-exmail", "aliyun-enterprise", "netease-enterprise", "microsoft365",
                                    "gmail", "zoho", "custom"};
  for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
    const MaPreset *p = g_hash_table_lookup(shipped, ids[i]);
    g_assert_nonnull(p);
    g_assert_nonnull(p->source); /* every preset cites its documentation */
    if (!g_str_equal(ids[i], "custom")) {
      g_assert_nonnull(p->imap.host);
      g_assert_nonnull(p->pop3.host);
      g_assert_nonnull(p->smtp.host);
    }
  }
  g_assert_true(((MaPreset *)g_hash_table_lookup(shipped, "netease-enterprise"))->imap_id);
  g_assert_false(((MaPreset *)g_hash_table_lookup(shipped, "gmail"))->imap_id);
  const MaPreset *ms = g_hash_table_lookup(shipped, "microsoft365");
  g_assert_true(ms->oauth2_ok);
  g_assert_cmpint(ms->smtp.security, ==, MA_SECURITY_STARTTLS);

  /* an administrator's file replaces a preset of the same name and adds others */
  g_autoptr(GHashTable) t = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_preset_free);
  const char *extra = "[gmail]\nimap = imap.internal:993:tls\n[corp]\nname = Corp\nimap = mail.corp:143:starttls\n";
  g_assert_cmpint(collector_presets_parse(extra, strlen(extra), t, &error), ==, 0);
  g_assert_cmpstr(((MaPreset *)g_hash_table_lookup(t, "gmail"))->imap.host, ==, "imap.internal");
  g_assert_true(((MaPreset *)g_hash_table_lookup(t, "corp"))->password_ok);

  /* a group given twice (found by fuzz_collector: the first host leaked) */
  g_autoptr(GHashTable) twice = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_preset_free);
  const char *dup = "[x]\nimap = a:1:tls\n[x]\nimap = b:2:tls\n";
  g_assert_cmpint(collector_presets_parse(dup, strlen(dup), twice, &error), ==, 0);
  g_assert_cmpstr(((MaPreset *)g_hash_table_lookup(twice, "x"))->imap.host, ==, "b");

  static const char *const bad[] = {
    "[Bad Name]\nimap = a:1:tls\n",
    "[x]\nimap = a:1:plain\n",
    "[x]\nunknown = 1\n",
    "[x]\nauth = kerberos\n",
    "[x]\nauth = oauth2\n",                                   /* oauth2 without endpoints */
    "[x]\nauth = oauth2\noauth2_authorize_url = ftp://a\noauth2_token_url = https://t\n",
    "[x]\nimap_id = maybe\n",
    "not an ini file",
    "[good]\nimap = a:1:tls\n[bad]\nimap = b\n",                 /* all or nothing */
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GHashTable) b = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_preset_free);
    if (collector_presets_parse(bad[i], strlen(bad[i]), b, &error) == 0) g_error("accepted: %s", bad[i]);
    g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_cmpuint(g_hash_table_size(b), ==, 0);
  }
}

static void test_backoff(void)
{
  g_assert_cmpint(collector_next_attempt(1000, 0, 60, 3600), ==, 1060);
  g_assert_cmpint(collector_next_attempt(1000, 1, 60, 3600), ==, 1030);
  g_assert_cmpint(collector_next_attempt(1000, 2, 60, 3600), ==, 1060);
  g_assert_cmpint(collector_next_attempt(1000, 3, 60, 3600), ==, 1120);
  g_assert_cmpint(collector_next_attempt(1000, 30, 60, 3600), ==, 4600); /* capped */
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/collector/mutf7", test_mutf7);
  g_test_add_func("/collector/folders-choose", test_folders_choose);
  g_test_add_func("/collector/server-parse", test_server_parse);
  g_test_add_func("/collector/presets", test_presets);
  g_test_add_func("/collector/backoff", test_backoff);
  return g_test_run();
}
