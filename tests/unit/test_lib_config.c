/* test_lib_config.c - the configuration file is read strictly and every error says where: file,
 * line, section and key for a malformed value, an unknown key or section; the file's name when it
 * cannot be read. Inline "# comments" are not part of values (a URL's fragment is); the old
 * [pipeline] log_level still works under [log] level's name. */
#include "agent/lib/config.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static char *write_conf(const char *text)
{
  char *path = NULL;
  int fd = g_file_open_tmp("config-XXXXXX.conf", &path, NULL);
  g_assert_cmpint(fd, >=, 0);
  close(fd);
  g_assert_true(g_file_set_contents(path, text, -1, NULL));
  return path;
}

/* Loads text, expects failure, returns the message (caller frees). */
static char *load_error(const char *text, char **path_out)
{
  char *path = write_conf(text);
  g_autoptr(GError) error = NULL;
  MaConfig *cfg = ma_config_load(path, &error);
  g_assert_null(cfg);
  g_assert_nonnull(error);
  *path_out = path;
  return g_strdup(error->message);
}

static void assert_error(const char *text, const char *where_suffix, const char *what)
{
  char *path = NULL;
  g_autofree char *message = load_error(text, &path);
  g_autofree char *want = g_strconcat(path, where_suffix, NULL);
  if (!g_str_has_prefix(message, want) || !strstr(message, what))
    g_error("config error for %s: got \"%s\", want prefix \"%s\" and \"%s\"", text, message, want, what);
  g_unlink(path);
  g_free(path);
}

static void test_errors_name_file_line_section_key(void)
{
  assert_error("[smtp]\nlisten = 127.0.0.1:2525\n\nmax_recipients = many\n", ":4: ", "[smtp] max_recipients");
  assert_error("[smtp]\nmax_recipent = 7\n", ":2: ", "unknown key [smtp] max_recipent");
  assert_error("[storage]\ndata_dir = /tmp/x\n[smpt]\nlisten = 1.2.3.4:25\n", ": ", "unknown section [smpt]");
  assert_error("# ok\n[log]\nlevel = verbose\n", ":3: ", "[log] level: \"verbose\" is not one of debug, info, warn, error");
  assert_error("[log]\ntarget = file\n", ":2: ", "[log] target");
  assert_error("[api]\nlisten = localhost\n", ":2: ", "[api] listen");
  assert_error("[pipeline]\nworkers = 0\n", ":2: ", "[pipeline] workers");
  assert_error("[smtp]\nforwarder_policy = all\n", ":2: ", "not one of employee, domain, any");
  assert_error("not an ini file\n", ": ", "");
}

static void test_missing_file_is_named(void)
{
  g_autoptr(GError) error = NULL;
  g_assert_null(ma_config_load("/nonexistent/mailagent.conf", &error));
  g_assert_nonnull(error);
  g_assert_true(g_str_has_prefix(error->message, "/nonexistent/mailagent.conf: cannot read the configuration file"));
}

static void test_inline_comments(void)
{
  g_autofree char *path = write_conf("[webhook]\ntimeout = 10   # seconds\nurl = https://crm.example/h#frag # where\n"
                                     "[smtp]\ninbound_domain = in.example\t# the MX\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(MaConfig) cfg = ma_config_load(path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(cfg->webhook_timeout, ==, 10);
  g_assert_cmpstr(cfg->webhook_url, ==, "https://crm.example/h#frag");
  g_assert_cmpstr(cfg->inbound_domain, ==, "in.example");
  g_unlink(path);
}

static void test_deprecated_log_level(void)
{
  g_autofree char *old = write_conf("[pipeline]\nlog_level = debug\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(MaConfig) cfg = ma_config_load(old, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(cfg->log_level, ==, "debug");
  g_unlink(old);

  g_autofree char *both = write_conf("[pipeline]\nlog_level = debug\n[log]\nlevel = warn\n");
  g_autoptr(MaConfig) cfg2 = ma_config_load(both, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(cfg2->log_level, ==, "warn");
  g_unlink(both);

  g_autoptr(MaConfig) defaults = ma_config_load(NULL, &error);
  g_assert_cmpstr(defaults->log_level, ==, "info");
  g_assert_cmpstr(defaults->log_target, ==, "auto");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/lib/config/errors-name-file-line-section-key", test_errors_name_file_line_section_key);
  g_test_add_func("/lib/config/missing-file-is-named", test_missing_file_is_named);
  g_test_add_func("/lib/config/inline-comments", test_inline_comments);
  g_test_add_func("/lib/config/deprecated-log-level", test_deprecated_log_level);
  return g_test_run();
}
