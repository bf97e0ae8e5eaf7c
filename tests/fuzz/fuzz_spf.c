/* fuzz_spf.c - libFuzzer target for agent/spf: the input is an SPF record. It is parsed
 * (spf_record_parse), merged with mailagent's include and with addresses (spf_merge_text), and
 * evaluated by spf_check_host for an IPv4 and an IPv6 client with a resolver that answers every
 * TXT question with the input itself (so includes and redirects recurse into it: the look-up
 * limits and the depth guard must stop them) and every other question with NXDOMAIN. Must never
 * crash, leak, hang, or give a merge that does not parse again.
 * Run: scripts/fuzz.sh spf SECONDS (seeds: tests/fixtures/spf_records); ctest replays the seeds
 * and tests/fuzz/regressions/spf in every build.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "agent/spf/spf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  const char *text;
  size_t len;
} Input;

static MaDnsResult *answer_with_input(void *ctx, const char *name, MaDnsType type)
{
  const Input *in = ctx;
  MaDnsResult *r = ma_dns_result_new(name, type, MA_DNS_NXDOMAIN);
  if (type == MA_DNS_TXT) ma_dns_result_add_txt(r, in->text, in->len);
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = g_strndup((const char *)data, size); /* stops at a NUL, like a C caller would */
  Input in = {(const char *)data, size};
  char *error = NULL;
  SpfRecord *rec = spf_record_parse((const char *)data, size, &error);
  g_free(error);
  error = NULL;
  if (rec) {
    static const char *addrs[] = {"198.51.100.25", "2001:db8:100::/48", NULL};
    const SpfOurs inc = {.include = "_spf.mailagent.test"}, ips = {.addresses = addrs};
    for (int k = 0; k < 2; k++) {
      char *merged = spf_merge_text(text, k ? &ips : &inc, &error);
      g_free(error);
      error = NULL;
      if (merged) {
        SpfRecord *again = spf_record_parse(merged, strlen(merged), &error);
        if (!again) abort(); /* the merge must keep the record valid */
        spf_record_free(again);
        g_free(merged);
      }
    }
    spf_record_free(rec);
  }
  SpfResolver res = {answer_with_input, &in};
  MaDnsAddr v4 = {.family = AF_INET}, v6 = {.family = AF_INET6};
  inet_pton(AF_INET, "192.0.2.1", &v4.addr.v4);
  inet_pton(AF_INET6, "2001:db8::1", &v6.addr.v6);
  for (int k = 0; k < 2; k++) {
    SpfQuery q = {.ip = k ? &v6 : &v4, .domain = "fuzz.example", .sender = "a.b@fuzz.example",
                  .helo = "helo.example", .now = 1};
    SpfOutcome out;
    spf_check_host(&res, &q, &out);
    spf_outcome_clear(&out);
  }
  g_free(text);
  return 0;
}
