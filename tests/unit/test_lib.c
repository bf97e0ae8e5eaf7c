/* test_lib.c - unit tests for agent/lib: config loading and validation, secrets at rest, digests,
 * ids and time, address keys. */
#include "agent/lib/clock.h"
#include "agent/lib/config.h"
#include "agent/lib/crypto.h"
#include "agent/lib/error.h"
#include "agent/lib/model.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static char *write_temp(const char *text)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp("mailagent-test-XXXXXX.conf", &path, &error);
  g_assert_no_error(error);
  close(fd);
  g_assert_true(g_file_set_contents(path, text, -1, NULL));
  return path;
}

static void test_config_defaults(void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MaConfig) cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(cfg->data_dir, ==, "./data");
  g_assert_cmpstr(cfg->smtp_listen, ==, "127.0.0.1:2525");
  g_assert_cmpstr(cfg->api_listen, ==, "127.0.0.1:8025");
  g_assert_cmpstr(cfg->submission_listen, ==, "127.0.0.1:5870");
  g_assert_cmpstr(cfg->inbound_domain, ==, "inbound.localhost");
  g_assert_cmpstr(cfg->forwarder_policy, ==, "employee");
  g_assert_cmpint(cfg->max_message_size, ==, 52428800);
  g_assert_cmpint(cfg->max_recipients, ==, 100);
  g_assert_cmpstr(cfg->master_key_file, ==, "./data/master.key");
  g_assert_null(cfg->webhook_url);
}

static void test_config_file_and_errors(void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *good = write_temp("[storage]\ndata_dir=/tmp/x\n[smtp]\nmax_recipients=7\n"
                                     "forwarder_policy=domain\n[webhook]\nurl=http://127.0.0.1:1/h\n");
  g_autoptr(MaConfig) cfg = ma_config_load(good, &error);
  g_assert_no_error(error);
  g_assert_cmpstr(cfg->data_dir, ==, "/tmp/x");
  g_assert_cmpint(cfg->max_recipients, ==, 7);
  g_assert_cmpstr(cfg->forwarder_policy, ==, "domain");
  g_assert_cmpstr(cfg->tls_cert_file, ==, "/tmp/x/tls/cert.pem");
  g_assert_cmpstr(cfg->webhook_url, ==, "http://127.0.0.1:1/h");
  g_unlink(good);

  static const char *const bad[] = {
    "[smtp]\nmax_recipent=7\n",      /* typo: unknown key */
    "[smpt]\nlisten=1.2.3.4:25\n",   /* unknown section */
    "[smtp]\nmax_recipients=many\n", /* not a number */
    "[smtp]\nmax_recipients=-1\n",   /* negative */
    "[smtp]\nforwarder_policy=all\n",/* not an allowed value */
    "not an ini file\n",
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *path = write_temp(bad[i]);
    g_autoptr(GError) e = NULL;
    MaConfig *c = ma_config_load(path, &e);
    g_assert_null(c);
    g_assert_nonnull(e);
    g_unlink(path);
  }
}

static void test_split_listen(void)
{
  static const struct { const char *in; const char *host; int port; } ok[] = {
    {"127.0.0.1:2525", "127.0.0.1", 2525}, {"[::1]:8025", "::1", 8025}, {"localhost:0", "localhost", 0},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
    g_autofree char *host = NULL;
    int port = -1;
    g_assert_cmpint(ma_config_split_listen(ok[i].in, &host, &port, NULL), ==, 0);
    g_assert_cmpstr(host, ==, ok[i].host);
    g_assert_cmpint(port, ==, ok[i].port);
  }
  static const char *const bad[] = {"127.0.0.1", ":25", "host:99999", "host:2x", "[::1]25"};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autofree char *host = NULL;
    int port;
    g_autoptr(GError) e = NULL;
    g_assert_cmpint(ma_config_split_listen(bad[i], &host, &port, &e), ==, -1);
    g_assert_error(e, MA_ERROR, MA_ERROR_INVALID);
  }
}

static void test_digests(void)
{
  char hex[65];
  ma_sha256_hex("abc", 3, hex);
  g_assert_cmpstr(hex, ==, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  MaSha256 *h = ma_sha256_new();
  ma_sha256_update(h, "a", 1);
  ma_sha256_update(h, "bc", 2);
  char hex2[65];
  ma_sha256_finish(h, hex2);
  g_assert_cmpstr(hex, ==, hex2);
  /* RFC 4231 test case 2 */
  ma_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);
  g_assert_cmpstr(hex, ==, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  g_assert_true(ma_crypto_equal("abc", "abc"));
  g_assert_false(ma_crypto_equal("abc", "abd"));
  g_assert_false(ma_crypto_equal("abc", "abcd"));
}

static void test_secrets(void)
{
  guint8 key[32], other[32];
  ma_random_bytes(key, sizeof key);
  ma_random_bytes(other, sizeof other);
  g_autofree char *sealed = ma_secret_seal(key, "relay:1", "hunter2");
  g_assert_true(g_str_has_prefix(sealed, "v1:"));
  g_assert_null(strstr(sealed, "hunter2"));
  g_autoptr(GError) e = NULL;
  g_autofree char *plain = ma_secret_open(key, "relay:1", sealed, &e);
  g_assert_no_error(e);
  g_assert_cmpstr(plain, ==, "hunter2");

  /* Moved to another row, wrong key, tampered, truncated: all refused. */
  g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL, e4 = NULL;
  g_assert_null(ma_secret_open(key, "relay:2", sealed, &e1));
  g_assert_error(e1, MA_ERROR, MA_ERROR_INVALID);
  g_assert_null(ma_secret_open(other, "relay:1", sealed, &e2));
  g_assert_error(e2, MA_ERROR, MA_ERROR_INVALID);
  g_autofree char *tampered = g_strdup(sealed);
  tampered[10] = tampered[10] == 'A' ? 'B' : 'A';
  g_assert_null(ma_secret_open(key, "relay:1", tampered, &e3));
  g_assert_nonnull(e3);
  g_assert_null(ma_secret_open(key, "relay:1", "v1:AAAA", &e4));
  g_assert_nonnull(e4);
}

static void test_master_key(void)
{
  g_autofree char *dir = g_dir_make_tmp("mailagent-key-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "master.key", NULL);
  guint8 k1[32], k2[32];
  g_autoptr(GError) e = NULL;
  g_assert_cmpint(ma_master_key_load(path, FALSE, k1, &e), ==, -1);
  g_assert_error(e, MA_ERROR, MA_ERROR_NOT_FOUND);
  g_assert_cmpint(ma_master_key_load(path, TRUE, k1, NULL), ==, 0);
  g_assert_cmpint(ma_master_key_load(path, FALSE, k2, NULL), ==, 0);
  g_assert_cmpmem(k1, 32, k2, 32);
  GStatBuf sb;
  g_assert_cmpint(g_stat(path, &sb), ==, 0);
  g_assert_cmpint(sb.st_mode & 0777, ==, 0600);
  g_unlink(path);
  g_rmdir(dir);

  /* the check value: the same for the same key, another for another, and not the key itself */
  char c1[MA_MASTER_KEY_CHECK_LEN + 1], c2[MA_MASTER_KEY_CHECK_LEN + 1];
  ma_master_key_check(k1, c1);
  ma_master_key_check(k2, c2);
  g_assert_cmpstr(c1, ==, c2);
  g_assert_true(g_str_has_prefix(c1, "hmac-sha256:"));
  g_assert_cmpuint(strlen(c1), ==, MA_MASTER_KEY_CHECK_LEN);
  k2[0] ^= 1;
  ma_master_key_check(k2, c2);
  g_assert_cmpstr(c1, !=, c2);
  g_autofree char *key_hex = g_malloc(65);
  for (int i = 0; i < 32; i++) g_snprintf(key_hex + 2 * i, 3, "%02x", k1[i]);
  g_assert_null(strstr(c1, key_hex));
}

/* Ids drawn from the per-thread random pool: unique, and a forked child does not repeat the
 * bits its parent hands out next. */
static void test_ids_pool(void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  for (int i = 0; i < 5000; i++) {
    char *id = ma_id_new();
    g_assert_cmpuint(strlen(id), ==, MA_ID_LEN);
    g_assert_false(g_hash_table_contains(seen, id));
    g_hash_table_add(seen, id);
  }
  int fds[2];
  g_assert_cmpint(pipe(fds), ==, 0);
  pid_t pid = fork();
  g_assert_cmpint(pid, >=, 0);
  if (pid == 0) {
    char *child = ma_id_new();
    ssize_t n = write(fds[1], child + 10, MA_ID_LEN - 10); /* the random part */
    _exit(n == MA_ID_LEN - 10 ? 0 : 1);
  }
  char from_child[MA_ID_LEN - 10 + 1] = {0};
  g_assert_cmpint(read(fds[0], from_child, MA_ID_LEN - 10), ==, MA_ID_LEN - 10);
  int status = 0;
  g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
  g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  g_autofree char *parent = ma_id_new();
  g_assert_cmpstr(parent + 10, !=, from_child);
  close(fds[0]);
  close(fds[1]);
}

static void test_ids_and_time(void)
{
  g_autofree char *a = ma_id_new();
  g_usleep(2000);
  g_autofree char *b = ma_id_new();
  g_assert_cmpuint(strlen(a), ==, MA_ID_LEN);
  g_assert_cmpstr(a, <, b); /* time-ordered */
  char buf[32];
  ma_time_format(1700000000, buf);
  g_assert_cmpstr(buf, ==, "2023-11-14T22:13:20Z");
  /* the formatter without GDateTime agrees with GDateTime's at its edges and in between */
  static const gint64 edges[] = {G_GINT64_CONSTANT(-30610224000), G_GINT64_CONSTANT(-30610224001), -1, 0, 951782400,
                                 4107542399, G_GINT64_CONSTANT(253402300799), G_GINT64_CONSTANT(253402300800)};
  for (gsize i = 0; i < G_N_ELEMENTS(edges) + 2000; i++) {
    gint64 v = i < G_N_ELEMENTS(edges) ? edges[i] : (gint64) g_random_int() * 59 - G_GINT64_CONSTANT(30000000000);
    GDateTime *dt = g_date_time_new_from_unix_utc(v);
    g_autofree char *want = dt ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("1970-01-01T00:00:00Z");
    if (dt) g_date_time_unref(dt);
    ma_time_format(v, buf);
    g_assert_cmpstr(buf, ==, want);
  }
  gint64 t = 0;
  g_assert_cmpint(ma_time_parse("2023-11-14T22:13:20Z", &t), ==, 0);
  g_assert_cmpint(t, ==, 1700000000);
  g_assert_cmpint(ma_time_parse("2023-11-15T06:13:20+08:00", &t), ==, 0);
  g_assert_cmpint(t, ==, 1700000000);
  g_assert_cmpint(ma_time_parse("2023-11-14", &t), ==, 0);
  g_assert_cmpint(t, ==, 1699920000);
  g_assert_cmpint(ma_time_parse("yesterday", &t), ==, -1);
  g_autofree char *alnum = ma_random_alnum(8);
  g_assert_cmpuint(strlen(alnum), ==, 8);
  for (int i = 0; i < 8; i++) g_assert_true(g_ascii_isdigit(alnum[i]) || g_ascii_islower(alnum[i]));
}

static void test_address_key(void)
{
  g_autofree char *k1 = ma_address_key("Alice.Smith+crm@Example.COM", FALSE);
  g_assert_cmpstr(k1, ==, "alice.smith+crm@example.com");
  g_autofree char *k2 = ma_address_key("Alice.Smith+crm@Example.COM", TRUE);
  g_assert_cmpstr(k2, ==, "alice.smith@example.com");
  g_autofree char *k3 = ma_address_key("+only@example.com", TRUE); /* a leading '+' is the name */
  g_assert_cmpstr(k3, ==, "+only@example.com");
  /* is_folded: TRUE only where the key is the address itself (a look-up then skips folding) */
  static const struct {
    const char *address;
    gboolean strip_plus, folded;
  } folded[] = {
    {"alice@example.com", FALSE, TRUE},       {"alice@example.com", TRUE, TRUE},
    {"Alice@example.com", FALSE, FALSE},      {"alice@Example.com", TRUE, FALSE},
    {"alice+crm@example.com", FALSE, TRUE},   {"alice+crm@example.com", TRUE, FALSE},
    {"\xc3\xa9lise@example.com", FALSE, FALSE}, {"", FALSE, TRUE},
  };
  for (guint i = 0; i < G_N_ELEMENTS(folded); i++) {
    g_assert_cmpint(ma_address_key_is_folded(folded[i].address, folded[i].strip_plus), ==, folded[i].folded);
    g_autofree char *key = ma_address_key(folded[i].address, folded[i].strip_plus);
    if (folded[i].folded) g_assert_cmpstr(key, ==, folded[i].address);
  }
  g_assert_cmpstr(ma_address_domain("a@b.example"), ==, "b.example");
  g_assert_null(ma_address_domain("nodomain"));
  g_assert_cmpint(ma_record_type_parse("opportunity"), ==, MA_RECORD_OPPORTUNITY);
  g_assert_cmpint(ma_record_type_parse("Opportunity"), ==, -1);
  g_assert_cmpint(ma_role_parse("reply_to"), ==, MA_ROLE_REPLY_TO);
  g_assert_cmpint(ma_stage_parse("won"), ==, MA_STAGE_WON);
}

/* ma_text_lf: CRLF and a lone CR become LF, into another buffer and in place. */
static void test_text_lf(void)
{
  static const struct {
    const char *in, *out;
  } cases[] = {
    {"", ""}, {"ab", "ab"}, {"a\r\nb", "a\nb"}, {"a\rb", "a\nb"}, {"a\r\r\nb", "a\n\nb"}, {"a\n\rb", "a\n\nb"},
    {"\r", "\n"}, {"\r\n", "\n"}, {"a\r", "a\n"}, {"\r\n\r\n\r", "\n\n\n"}, {"\n\n", "\n\n"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    gsize len = strlen(cases[i].in);
    char out[16];
    g_assert_cmpuint(ma_text_lf(cases[i].in, len, out), ==, strlen(cases[i].out));
    g_assert_true(memcmp(out, cases[i].out, strlen(cases[i].out)) == 0);
    char *in_place = g_strdup(cases[i].in);
    in_place[ma_text_lf(in_place, len, in_place)] = '\0';
    g_assert_cmpstr(in_place, ==, cases[i].out);
    g_free(in_place);
  }
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/lib/config/defaults", test_config_defaults);
  g_test_add_func("/lib/model/text_lf", test_text_lf);
  g_test_add_func("/lib/config/file-and-errors", test_config_file_and_errors);
  g_test_add_func("/lib/config/split-listen", test_split_listen);
  g_test_add_func("/lib/ids/pool", test_ids_pool);
  g_test_add_func("/lib/crypto/digests", test_digests);
  g_test_add_func("/lib/crypto/secrets", test_secrets);
  g_test_add_func("/lib/crypto/master-key", test_master_key);
  g_test_add_func("/lib/clock/ids-and-time", test_ids_and_time);
  g_test_add_func("/lib/model/address-key", test_address_key);
  return g_test_run();
}
