/* cli_dkim.c - `mailagent dkim sign|verify`: a DKIM signature as mailagent's outbound path makes
 * it, and the check of every signature of a message through the configured resolver ([dns]).
 *
 * sign ENTERPRISE FILE.eml prints the message with DKIM-Signature fields in front: the active
 * keys of the From domain (both when it has an RSA and an Ed25519 key), or with --selector the
 * named key whatever its state (to try a key before its record is published).
 * verify FILE.eml prints one line per signature; exit 0 when there is at least one and all pass,
 * 1 otherwise, 2 for an unreadable file.
 */
#include "cli.h"

#include "agent/dkim/dkim.h"
#include "agent/dns/dns.h"
#include "agent/domains/domains_private.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX (64 * 1024 * 1024)

/* Reads FILE or "-" (stdin), at most MESSAGE_MAX bytes. NULL after printing why. */
static GBytes *read_message(const char *path)
{
  g_autoptr(GError) error = NULL;
  if (strcmp(path, "-") != 0) {
    GStatBuf sb;
    if (g_stat(path, &sb) == 0 && sb.st_size > MESSAGE_MAX) {
      fprintf(stderr, "mailagent: %s: larger than %d MB\n", path, MESSAGE_MAX / (1024 * 1024));
      return NULL;
    }
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(path, &data, &len, &error)) {
      fprintf(stderr, "mailagent: %s\n", error->message);
      return NULL;
    }
    return g_bytes_new_take(data, len);
  }
  GByteArray *buf = g_byte_array_new();
  guint8 chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
    if (buf->len + n > MESSAGE_MAX) {
      fprintf(stderr, "mailagent: standard input: larger than %d MB\n", MESSAGE_MAX / (1024 * 1024));
      g_byte_array_unref(buf);
      return NULL;
    }
    g_byte_array_append(buf, chunk, (guint) n);
  }
  return g_byte_array_free_to_bytes(buf);
}

/* Signs with one named key (any state). Returns 0 with *headers, or the exit status. */
static int sign_with_selector(MaStorage *st, const guint8 master[32], const char *enterprise_id, const char *domain,
                              const char *selector, const char *msg, gsize len, char **headers)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free);
  if (storage_domain_key_list(st, enterprise_id, domain, keys, &error) < 0) return cli_fail("dkim sign", error);
  for (guint i = 0; i < keys->len; i++) {
    MaDomainKey *k = keys->pdata[i];
    if (strcmp(k->selector, selector) != 0) continue;
    g_autofree char *aad = g_strconcat("dkim:", k->id, NULL);
    char *pem = ma_secret_open(master, aad, k->private_sealed, &error);
    if (!pem) return cli_fail("dkim sign", error);
    MaDkimKey *key = ma_dkim_key_from_pem(pem, strlen(pem), &error);
    ma_dkim_secret_free(pem);
    if (!key) return cli_fail("dkim sign", error);
    MaDkimSigner signer = { domain, selector, key };
    MaDkimSignOptions opt = { .timestamp = ma_now() };
    int rc = ma_dkim_sign(&signer, 1, msg, len, &opt, headers, &error);
    ma_dkim_key_free(key);
    return rc < 0 ? cli_fail("dkim sign", error) : 0;
  }
  fprintf(stderr, "mailagent: %s has no DKIM key with selector %s\n", domain, selector);
  return 2;
}

static int cmd_sign(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autofree char *selector = NULL, *domain_opt = NULL;
  int expire = 0;
  GOptionEntry entries[] = {
    {"domain", 0, 0, G_OPTION_ARG_STRING, &domain_opt, "Signing domain (default: the From domain)", "D"},
    {"selector", 0, 0, G_OPTION_ARG_STRING, &selector, "Sign with this key, whatever its state", "S"},
    {"expire", 0, 0, G_OPTION_ARG_INT, &expire, "Add x= this many seconds after t= (default: none)", "SECONDS"},
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr(GOptionContext) ctx = cli_context("dkim sign", "ENTERPRISE FILE.eml|-",
    "Print the message signed with the From domain's active DKIM keys.", &common, entries);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 2, 2, "mailagent dkim sign ENTERPRISE FILE.eml|- [--selector S] [--domain D]")) >= 0)
    return rc;
  if (expire < 0) return cli_usage_error("--expire must be positive");
  g_autoptr(GBytes) msg = read_message(argv[2]);
  if (!msg) return 2;
  gsize len = 0;
  const char *text = g_bytes_get_data(msg, &len);
  g_autofree char *from_domain = domain_opt ? g_strdup(domain_opt) : ma_dkim_from_domain(text, len);
  if (!from_domain) return cli_usage_error("%s: no From address with a domain (or give --domain)", argv[2]);
  g_autoptr(GError) error = NULL;
  g_autofree char *domain = ma_domain_normalize(from_domain, &error);
  if (!domain) return cli_usage_error("%s", error->message);
  g_autoptr(MaConfig) cfg = NULL;
  MaStorage *st = NULL;
  MaEnterprise *e = NULL;
  if ((rc = cli_open_enterprise(&common, argv[1], &cfg, &st, &e)) != 0) return rc;
  guint8 master[32];
  char *headers = NULL;
  if (ma_master_key_load(cfg->master_key_file, FALSE, master, &error) < 0) {
    rc = cli_fail("master key", error);
  } else if (selector) {
    rc = sign_with_selector(st, master, e->id, domain, selector, text, len, &headers);
  } else {
    MaDkimSignOptions opt = { .timestamp = ma_now(), .expire_after = expire };
    int signed_rc = ma_domains_dkim_sign(st, master, e->id, domain, text, len, &opt, &headers, &error);
    if (signed_rc < 0) rc = cli_fail("dkim sign", error);
    else if (signed_rc == 0) {
      fprintf(stderr, "mailagent: %s has no active DKIM key (create one with domain dkim, publish it, domain verify)\n",
              domain);
      rc = 2;
    }
  }
  memset(master, 0, sizeof master);
  storage_close(&st);
  ma_enterprise_free(e);
  if (rc != 0) return rc;
  fputs(headers, stdout);
  fwrite(text, 1, len, stdout);
  g_free(headers);
  return fflush(stdout) == 0 ? 0 : 1;
}

static int dns_key_lookup(const char *name, char **txt_r, void *user_data)
{
  MaDnsResult *r = ma_dns_sync_lookup(user_data, name, MA_DNS_TXT);
  int rc = 0;
  if (ma_dns_status_is_temporary(r->status)) rc = -1;
  else if (r->status == MA_DNS_OK && r->n > 0) {
    /* Several TXT records at a key name: the first DKIM-looking one counts. */
    guint pick = 0;
    for (guint i = 0; i < r->n; i++)
      if (strstr(r->txt[i].data, "p=")) {
        pick = i;
        break;
      }
    *txt_r = g_strndup(r->txt[pick].data, r->txt[pick].len);
    rc = 1;
  }
  ma_dns_result_free(r);
  return rc;
}

static int cmd_verify(int argc, char **argv)
{
  g_auto(CliCommon) common = {0};
  g_autoptr(GOptionContext) ctx = cli_context("dkim verify", "FILE.eml|-",
    "Check every DKIM signature of a message, fetching keys through [dns] servers.", &common, NULL);
  int rc = cli_parse(ctx, &argc, &argv);
  if (rc >= 0) return rc;
  if ((rc = cli_positional(argc, argv, 1, 1, "mailagent dkim verify FILE.eml|-")) >= 0) return rc;
  g_autoptr(MaConfig) cfg = cli_load_config(&common);
  if (!cfg) return 2;
  g_autoptr(GBytes) msg = read_message(argv[1]);
  if (!msg) return 2;
  MaDnsOptions opts;
  ma_dns_options_from_config(&opts, cfg);
  g_autoptr(GError) error = NULL;
  MaDnsSync *dns = ma_dns_sync_new(&opts, &error);
  if (!dns) return cli_fail("dns", error);
  gsize len = 0;
  const char *text = g_bytes_get_data(msg, &len);
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func((GDestroyNotify) ma_dkim_result_free);
  ma_dkim_verify(text, len, ma_now(), dns_key_lookup, dns, results);
  ma_dns_sync_free(dns);
  gboolean all_pass = results->len > 0;
  json_t *items = json_array();
  for (guint i = 0; i < results->len; i++) {
    MaDkimResult *r = results->pdata[i];
    if (r->result != MA_DKIM_PASS) all_pass = FALSE;
    json_array_append_new(items, json_pack("{s:s, s:s?, s:s?, s:s?, s:s?}", "result", ma_dkim_result_name(r->result),
                                           "domain", r->domain, "selector", r->selector, "algorithm", r->algorithm,
                                           "reason", r->reason));
    if (!common.json)
      printf("%s d=%s s=%s a=%s%s%s\n", ma_dkim_result_name(r->result), r->domain ? r->domain : "?",
             r->selector ? r->selector : "?", r->algorithm ? r->algorithm : "?", r->reason ? ": " : "",
             r->reason ? r->reason : "");
  }
  if (common.json) cli_print_json(json_pack("{s:o}", "items", items), FALSE);
  else json_decref(items);
  if (!common.json && results->len == 0) printf("none: the message has no DKIM-Signature\n");
  return all_pass ? 0 : 1;
}

int cli_dkim(int argc, char **argv)
{
  static const CliSub subs[] = {
    {"sign", cmd_sign, "print a message signed with the From domain's active DKIM keys"},
    {"verify", cmd_verify, "check every DKIM signature of a message"},
  };
  return cli_dispatch("dkim", subs, G_N_ELEMENTS(subs), argc, argv);
}
