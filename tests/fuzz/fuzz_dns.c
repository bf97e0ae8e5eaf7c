/* fuzz_dns.c - libFuzzer target for agent/dns's answer parser (dns_answer_parse): the input is
 * a DNS response as it comes off the wire, parsed once for each record type we ask for. Must
 * never read outside the input (ASan), crash, leak or loop (compression pointers, CNAME chains);
 * every result it gives is copied and freed to exercise the result code too.
 * Run: scripts/fuzz.sh dns SECONDS (seeds: tests/fixtures/dns/wire, nsd's answers for the test
 * zones); ctest replays the seeds and tests/fuzz/regressions/dns in every build.
 */
#include <stdint.h>
#include <stdlib.h>

#include "agent/dns/dns_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const MaDnsType types[] = {MA_DNS_A, MA_DNS_AAAA, MA_DNS_MX, MA_DNS_TXT, MA_DNS_PTR};
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    MaDnsResult *r = dns_answer_parse(data, size, "a.test", types[i]);
    if (!r) abort();
    if (r->status == MA_DNS_OK && r->n == 0 && !r->null_mx) abort(); /* OK means records */
    MaDnsResult *copy = ma_dns_result_copy(r);
    ma_dns_result_free(copy);
    ma_dns_result_free(r);
  }
  return 0;
}
