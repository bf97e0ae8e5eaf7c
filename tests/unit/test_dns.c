/* test_dns.c - agent/dns without a network: the answer parser on hand-built wire messages (TXT
 * joining per record, CNAME chains and loops, null MX, negative TTLs, compression, and every
 * truncation and hostile count), the cache under the test clock, and the result helpers. The
 * resolver against a real server is tests/integration/dns_resolver.sh. */
#include "agent/dns/dns.h"
#include "agent/dns/dns_answer.h"
#include "agent/dns/dns_cache.h"
#include "agent/lib/clock.h"

#include <arpa/inet.h>
#include <string.h>

/* ---- a tiny wire-format writer for the tests ---- */

typedef struct {
  GByteArray *b;
} Msg;

static void put8(Msg *m, guint v) { guint8 c = (guint8)v; g_byte_array_append(m->b, &c, 1); }
static void put16(Msg *m, guint v) { put8(m, v >> 8); put8(m, v & 0xFF); }
static void put32(Msg *m, guint32 v) { put16(m, v >> 16); put16(m, v & 0xFFFF); }
static void put_name(Msg *m, const char *name)
{
  g_auto(GStrv) labels = g_strsplit(name, ".", -1);
  for (char **l = labels; *l; l++) {
    if (!**l) continue;
    put8(m, (guint)strlen(*l));
    g_byte_array_append(m->b, (const guint8 *)*l, (guint)strlen(*l));
  }
  put8(m, 0);
}

static Msg msg_new(guint rcode, guint qd, guint an, guint ns, const char *qname, guint qtype)
{
  Msg m = {g_byte_array_new()};
  put16(&m, 0x1234);
  put16(&m, 0x8180 | rcode);
  put16(&m, qd);
  put16(&m, an);
  put16(&m, ns);
  put16(&m, 0);
  if (qd) {
    put_name(&m, qname);
    put16(&m, qtype);
    put16(&m, 1);
  }
  return m;
}

/* Starts a record; returns the offset of its RDLENGTH, to be patched by rr_end. */
static guint rr_begin(Msg *m, const char *owner, guint type, guint32 ttl)
{
  put_name(m, owner);
  put16(m, type);
  put16(m, 1);
  put32(m, ttl);
  guint at = m->b->len;
  put16(m, 0);
  return at;
}

static void rr_end(Msg *m, guint at)
{
  guint n = m->b->len - at - 2;
  m->b->data[at] = (guint8)(n >> 8);
  m->b->data[at + 1] = (guint8)(n & 0xFF);
}

static void rr_txt(Msg *m, const char *owner, guint32 ttl, const char *const *strings)
{
  guint at = rr_begin(m, owner, MA_DNS_TXT, ttl);
  for (; *strings; strings++) {
    put8(m, (guint)strlen(*strings));
    g_byte_array_append(m->b, (const guint8 *)*strings, (guint)strlen(*strings));
  }
  rr_end(m, at);
}

static void rr_name(Msg *m, const char *owner, guint type, guint32 ttl, int pref, const char *target)
{
  guint at = rr_begin(m, owner, type, ttl);
  if (pref >= 0) put16(m, (guint)pref);
  put_name(m, target);
  rr_end(m, at);
}

static void rr_soa(Msg *m, const char *owner, guint32 ttl, guint32 minimum)
{
  guint at = rr_begin(m, owner, 6, ttl);
  put_name(m, "ns1.example.test");
  put_name(m, "hostmaster.example.test");
  put32(m, 1);
  put32(m, 3600);
  put32(m, 600);
  put32(m, 86400);
  put32(m, minimum);
  rr_end(m, at);
}

static MaDnsResult *parse(Msg *m, const char *qname, MaDnsType t)
{
  return dns_answer_parse(m->b->data, m->b->len, qname, t);
}

/* ---- parser ---- */

static void test_txt_joined_per_record(void)
{
  Msg m = msg_new(0, 1, 2, 0, "two.example.test", MA_DNS_TXT);
  rr_txt(&m, "two.example.test", 300, (const char *const[]){"v=spf1 ", "ip4:192.0.2.1 ", "-all", NULL});
  rr_txt(&m, "two.example.test", 200, (const char *const[]){"second", NULL});
  g_autoptr(MaDnsResult) r = parse(&m, "two.example.test.", MA_DNS_TXT);
  g_assert_cmpint(r->status, ==, MA_DNS_OK);
  g_assert_cmpuint(r->n, ==, 2);
  g_assert_cmpstr(r->txt[0].data, ==, "v=spf1 ip4:192.0.2.1 -all");
  g_assert_cmpuint(r->txt[0].len, ==, 25);
  g_assert_cmpstr(r->txt[1].data, ==, "second");
  g_assert_cmpuint(r->ttl, ==, 200);
  g_assert_cmpstr(r->name, ==, "two.example.test");
  g_byte_array_unref(m.b);
}

static void test_txt_with_nul_and_empty(void)
{
  Msg m = msg_new(0, 1, 1, 0, "n.test", MA_DNS_TXT);
  guint at = rr_begin(&m, "n.test", MA_DNS_TXT, 60);
  put8(&m, 3);
  put8(&m, 'a');
  put8(&m, 0);
  put8(&m, 'b');
  put8(&m, 0); /* an empty string */
  rr_end(&m, at);
  g_autoptr(MaDnsResult) r = parse(&m, "n.test", MA_DNS_TXT);
  g_assert_cmpint(r->status, ==, MA_DNS_OK);
  g_assert_cmpuint(r->txt[0].len, ==, 3);
  g_assert_true(memcmp(r->txt[0].data, "a\0b", 3) == 0);
  g_byte_array_unref(m.b);
}

static void test_cname_chain(void)
{
  Msg m = msg_new(0, 1, 3, 0, "alias.test", MA_DNS_A);
  rr_name(&m, "alias.test", MA_DNS_CNAME, 100, -1, "alias2.test");
  rr_name(&m, "alias2.test", MA_DNS_CNAME, 50, -1, "Target.test");
  guint at = rr_begin(&m, "target.TEST", MA_DNS_A, 300);
  put32(&m, 0xC0000201);
  rr_end(&m, at);
  g_autoptr(MaDnsResult) r = parse(&m, "ALIAS.test", MA_DNS_A);
  g_assert_cmpint(r->status, ==, MA_DNS_OK);
  g_assert_cmpstr(r->canonical, ==, "Target.test");
  g_assert_cmpuint(r->n, ==, 1);
  g_assert_cmpuint(ntohl(r->addr[0].addr.v4.s_addr), ==, 0xC0000201);
  g_assert_cmpuint(r->ttl, ==, 50); /* the smallest TTL along the chain */
  g_byte_array_unref(m.b);
}

static void test_cname_loop_and_dangling(void)
{
  Msg m = msg_new(0, 1, 2, 0, "a.test", MA_DNS_A);
  rr_name(&m, "a.test", MA_DNS_CNAME, 100, -1, "b.test");
  rr_name(&m, "b.test", MA_DNS_CNAME, 100, -1, "a.test");
  g_autoptr(MaDnsResult) r = parse(&m, "a.test", MA_DNS_A);
  g_assert_cmpint(r->status, ==, MA_DNS_FAILED);
  g_assert_nonnull(r->reason);
  g_byte_array_unref(m.b);

  /* a CNAME whose target has no record here: NODATA for the asked type */
  Msg d = msg_new(0, 1, 1, 0, "a.test", MA_DNS_TXT);
  rr_name(&d, "a.test", MA_DNS_CNAME, 100, -1, "elsewhere.test");
  g_autoptr(MaDnsResult) r2 = parse(&d, "a.test", MA_DNS_TXT);
  g_assert_cmpint(r2->status, ==, MA_DNS_NODATA);
  g_assert_cmpstr(r2->canonical, ==, "elsewhere.test");
  g_byte_array_unref(d.b);
}

static void test_mx_sorted_and_null(void)
{
  Msg m = msg_new(0, 1, 3, 0, "example.test", MA_DNS_MX);
  rr_name(&m, "example.test", MA_DNS_MX, 300, 20, "mx2.example.test");
  rr_name(&m, "example.test", MA_DNS_MX, 300, 10, "mx1.example.test");
  rr_name(&m, "example.test", MA_DNS_MX, 300, 20, "mx3.example.test");
  g_autoptr(MaDnsResult) r = parse(&m, "example.test", MA_DNS_MX);
  g_assert_cmpuint(r->n, ==, 3);
  g_assert_cmpstr(r->mx[0].exchange, ==, "mx1.example.test");
  g_assert_cmpstr(r->mx[1].exchange, ==, "mx2.example.test"); /* ties keep answer order */
  g_assert_cmpstr(r->mx[2].exchange, ==, "mx3.example.test");
  g_assert_false(r->null_mx);
  g_byte_array_unref(m.b);

  Msg n = msg_new(0, 1, 1, 0, "nomail.test", MA_DNS_MX);
  rr_name(&n, "nomail.test", MA_DNS_MX, 300, 0, "");
  g_autoptr(MaDnsResult) r2 = parse(&n, "nomail.test", MA_DNS_MX);
  g_assert_cmpint(r2->status, ==, MA_DNS_OK);
  g_assert_true(r2->null_mx);
  g_assert_cmpuint(r2->n, ==, 0);
  g_byte_array_unref(n.b);

  /* a root exchange beside a real one is not a null MX: it is skipped */
  Msg b = msg_new(0, 1, 2, 0, "odd.test", MA_DNS_MX);
  rr_name(&b, "odd.test", MA_DNS_MX, 300, 0, "");
  rr_name(&b, "odd.test", MA_DNS_MX, 300, 5, "mx.odd.test");
  g_autoptr(MaDnsResult) r3 = parse(&b, "odd.test", MA_DNS_MX);
  g_assert_false(r3->null_mx);
  g_assert_cmpuint(r3->n, ==, 1);
  g_byte_array_unref(b.b);
}

static void test_negative_answers(void)
{
  Msg m = msg_new(3, 1, 0, 1, "missing.test", MA_DNS_TXT);
  rr_soa(&m, "test", 3600, 60);
  g_autoptr(MaDnsResult) r = parse(&m, "missing.test", MA_DNS_TXT);
  g_assert_cmpint(r->status, ==, MA_DNS_NXDOMAIN);
  g_assert_cmpuint(r->ttl, ==, 60);
  g_byte_array_unref(m.b);

  Msg n = msg_new(0, 1, 0, 1, "host.test", MA_DNS_TXT);
  rr_soa(&n, "test", 30, 86400);
  g_autoptr(MaDnsResult) r2 = parse(&n, "host.test", MA_DNS_TXT);
  g_assert_cmpint(r2->status, ==, MA_DNS_NODATA);
  g_assert_cmpuint(r2->ttl, ==, 30);
  g_byte_array_unref(n.b);

  Msg s = msg_new(2, 1, 0, 0, "x.test", MA_DNS_A);
  g_autoptr(MaDnsResult) r3 = parse(&s, "x.test", MA_DNS_A);
  g_assert_cmpint(r3->status, ==, MA_DNS_SERVFAIL);
  g_assert_true(ma_dns_status_is_temporary(r3->status));
  g_assert_false(ma_dns_status_is_temporary(MA_DNS_NXDOMAIN));
  g_byte_array_unref(s.b);

  Msg f = msg_new(5, 1, 0, 0, "x.test", MA_DNS_A);
  g_autoptr(MaDnsResult) r4 = parse(&f, "x.test", MA_DNS_A);
  g_assert_cmpint(r4->status, ==, MA_DNS_FAILED);
  g_byte_array_unref(f.b);
}

static void test_records_of_other_names_ignored(void)
{
  Msg m = msg_new(0, 1, 2, 0, "a.test", MA_DNS_TXT);
  rr_txt(&m, "other.test", 300, (const char *const[]){"not mine", NULL});
  rr_txt(&m, "a.test", 300, (const char *const[]){"mine", NULL});
  g_autoptr(MaDnsResult) r = parse(&m, "a.test", MA_DNS_TXT);
  g_assert_cmpuint(r->n, ==, 1);
  g_assert_cmpstr(r->txt[0].data, ==, "mine");
  g_byte_array_unref(m.b);
}

static void test_compression(void)
{
  /* the owner name is a pointer to the question's name (offset 12) */
  Msg m = msg_new(0, 1, 1, 0, "c.example.test", MA_DNS_MX);
  put16(&m, 0xC00C);
  put16(&m, MA_DNS_MX);
  put16(&m, 1);
  put32(&m, 300);
  put16(&m, 7); /* RDLENGTH: preference, "mx" label, pointer */
  put16(&m, 10);
  put8(&m, 2);
  put8(&m, 'm');
  put8(&m, 'x');
  put16(&m, 0xC00C); /* mx.c.example.test */
  g_autoptr(MaDnsResult) r = parse(&m, "c.example.test", MA_DNS_MX);
  g_assert_cmpint(r->status, ==, MA_DNS_OK);
  g_assert_cmpstr(r->mx[0].exchange, ==, "mx.c.example.test");
  g_byte_array_unref(m.b);

  /* a pointer to itself: rejected, not followed forever */
  Msg l = msg_new(0, 0, 1, 0, NULL, 0);
  put16(&l, 0xC00C);
  g_autoptr(MaDnsResult) r2 = parse(&l, "x.test", MA_DNS_A);
  g_assert_cmpint(r2->status, ==, MA_DNS_FAILED);
  g_byte_array_unref(l.b);
}

static void test_hostile_counts_and_lengths(void)
{
  /* 65535 answers announced in a short message */
  Msg m = msg_new(0, 1, 0, 0, "a.test", MA_DNS_A);
  m.b->data[6] = 0xFF;
  m.b->data[7] = 0xFF;
  g_autoptr(MaDnsResult) r = parse(&m, "a.test", MA_DNS_A);
  g_assert_cmpint(r->status, ==, MA_DNS_FAILED);
  g_byte_array_unref(m.b);

  /* a TXT string longer than its record */
  Msg t = msg_new(0, 1, 1, 0, "a.test", MA_DNS_TXT);
  guint at = rr_begin(&t, "a.test", MA_DNS_TXT, 60);
  put8(&t, 10);
  put8(&t, 'x');
  rr_end(&t, at);
  put8(&t, 'y'); /* bytes after the record that the string must not reach into */
  g_autoptr(MaDnsResult) r2 = parse(&t, "a.test", MA_DNS_TXT);
  g_assert_cmpint(r2->status, ==, MA_DNS_FAILED);
  g_byte_array_unref(t.b);

  /* an A record of 5 octets */
  Msg a = msg_new(0, 1, 1, 0, "a.test", MA_DNS_A);
  at = rr_begin(&a, "a.test", MA_DNS_A, 60);
  put32(&a, 1);
  put8(&a, 1);
  rr_end(&a, at);
  g_autoptr(MaDnsResult) r3 = parse(&a, "a.test", MA_DNS_A);
  g_assert_cmpint(r3->status, ==, MA_DNS_FAILED);
  g_byte_array_unref(a.b);

  /* a query, not a response */
  Msg q = msg_new(0, 1, 0, 0, "a.test", MA_DNS_A);
  q.b->data[2] &= 0x7F;
  g_autoptr(MaDnsResult) r4 = parse(&q, "a.test", MA_DNS_A);
  g_assert_cmpint(r4->status, ==, MA_DNS_FAILED);
  g_byte_array_unref(q.b);
}

/* Every prefix of a valid answer is parsed without reading past it: each one either fails or
 * (for the full message only) succeeds. Run under ASan this is the byte-by-byte test. */
static void test_every_truncation(void)
{
  Msg m = msg_new(0, 1, 3, 1, "alias.test", MA_DNS_TXT);
  rr_name(&m, "alias.test", MA_DNS_CNAME, 100, -1, "t.test");
  rr_txt(&m, "t.test", 300, (const char *const[]){"v=spf1 ", "-all", NULL});
  rr_txt(&m, "t.test", 300, (const char *const[]){"x", NULL});
  rr_soa(&m, "test", 60, 60);
  for (guint len = 0; len < m.b->len; len++) {
    guint8 *copy = g_memdup2(m.b->data, len); /* exactly len bytes, so ASan sees any overread */
    MaDnsResult *r = dns_answer_parse(copy, len, "alias.test", MA_DNS_TXT);
    g_assert_cmpint(r->status, ==, MA_DNS_FAILED);
    ma_dns_result_free(r);
    g_free(copy);
  }
  g_autoptr(MaDnsResult) r = parse(&m, "alias.test", MA_DNS_TXT);
  g_assert_cmpint(r->status, ==, MA_DNS_OK);
  g_assert_cmpuint(r->n, ==, 2);
  g_byte_array_unref(m.b);
}

/* ---- cache ---- */

static void test_cache_ttl_and_bound(void)
{
  ma_clock_set_for_test(1700000000000);
  DnsCache *c = dns_cache_new(2);
  MaDnsResult *a = ma_dns_result_new("A.test.", MA_DNS_TXT, MA_DNS_OK);
  ma_dns_result_add_txt(a, "one", 3);
  a->ttl = 10;
  dns_cache_put(c, a);
  MaDnsResult *got = dns_cache_get(c, "a.TEST", MA_DNS_TXT);
  g_assert_nonnull(got);
  g_assert_cmpstr(got->txt[0].data, ==, "one");
  g_assert_cmpstr(got->name, ==, "a.TEST"); /* the asker's spelling */
  g_assert_cmpuint(got->ttl, ==, 10);
  ma_dns_result_free(got);
  g_assert_null(dns_cache_get(c, "a.test", MA_DNS_A)); /* another type */

  ma_clock_set_for_test(1700000000000 + 9500);
  got = dns_cache_get(c, "a.test", MA_DNS_TXT);
  g_assert_nonnull(got);
  g_assert_cmpuint(got->ttl, ==, 1);
  ma_dns_result_free(got);
  ma_clock_set_for_test(1700000000000 + 10000);
  g_assert_null(dns_cache_get(c, "a.test", MA_DNS_TXT)); /* expired */
  g_assert_cmpuint(dns_cache_size(c), ==, 0);

  /* failures and zero TTLs are not kept; the bound evicts the oldest */
  MaDnsResult *t = ma_dns_result_new("t.test", MA_DNS_A, MA_DNS_TIMEOUT);
  t->ttl = 100;
  dns_cache_put(c, t);
  g_assert_cmpuint(dns_cache_size(c), ==, 0);
  a->ttl = 0;
  dns_cache_put(c, a);
  g_assert_cmpuint(dns_cache_size(c), ==, 0);
  const char *names[] = {"n1.test", "n2.test", "n3.test"};
  for (int i = 0; i < 3; i++) {
    MaDnsResult *n = ma_dns_result_new(names[i], MA_DNS_A, MA_DNS_NXDOMAIN);
    n->ttl = 60;
    dns_cache_put(c, n);
    ma_dns_result_free(n);
  }
  g_assert_cmpuint(dns_cache_size(c), ==, 2);
  g_assert_null(dns_cache_get(c, "n1.test", MA_DNS_A));
  got = dns_cache_get(c, "n3.test", MA_DNS_A);
  g_assert_cmpint(got->status, ==, MA_DNS_NXDOMAIN);
  ma_dns_result_free(got);
  ma_dns_result_free(a);
  ma_dns_result_free(t);
  dns_cache_free(c);
  ma_clock_set_for_test(0);
}

/* ---- helpers ---- */

static void test_names(void)
{
  g_assert_true(ma_dns_name_is_valid("example.test"));
  g_assert_true(ma_dns_name_is_valid("example.test."));
  g_assert_true(ma_dns_name_is_valid("_dmarc.example.test"));
  g_assert_false(ma_dns_name_is_valid(""));
  g_assert_false(ma_dns_name_is_valid("."));
  g_assert_false(ma_dns_name_is_valid("a..b"));
  g_assert_false(ma_dns_name_is_valid(".a"));
  g_autofree char *label64 = g_strnfill(64, 'a');
  g_assert_false(ma_dns_name_is_valid(label64));
  g_autofree char *label63 = g_strnfill(63, 'a');
  g_assert_true(ma_dns_name_is_valid(label63));
  GString *long_name = g_string_new(NULL);
  while (long_name->len < 250) g_string_append(long_name, "abcdefghi.");
  g_string_append(long_name, "abcd");
  g_assert_false(ma_dns_name_is_valid(long_name->str)); /* 254 octets */
  g_string_free(long_name, TRUE);

  MaDnsAddr v4 = {.family = AF_INET};
  inet_pton(AF_INET, "192.0.2.10", &v4.addr.v4);
  g_autofree char *r4 = ma_dns_reverse_name(&v4);
  g_assert_cmpstr(r4, ==, "10.2.0.192.in-addr.arpa");
  MaDnsAddr v6 = {.family = AF_INET6};
  inet_pton(AF_INET6, "2001:db8::1", &v6.addr.v6);
  g_autofree char *r6 = ma_dns_reverse_name(&v6);
  g_assert_cmpstr(r6, ==, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
}

static void test_result_builders(void)
{
  g_autoptr(MaDnsResult) r = ma_dns_result_new("x.test", MA_DNS_MX, MA_DNS_NODATA);
  g_assert_false(ma_dns_result_add_txt(r, "no", 2));
  g_assert_false(ma_dns_result_add_mx(r, 0, "."));
  g_assert_true(ma_dns_result_add_mx(r, 5, "b.test."));
  g_assert_true(ma_dns_result_add_mx(r, 1, "a.test"));
  g_assert_cmpint(r->status, ==, MA_DNS_OK);
  g_autoptr(MaDnsResult) c = ma_dns_result_copy(r);
  g_assert_cmpstr(c->mx[0].exchange, ==, "a.test");
  g_assert_cmpstr(c->mx[1].exchange, ==, "b.test");
  g_assert_cmpstr(ma_dns_status_name(MA_DNS_NXDOMAIN), ==, "nxdomain");
  g_assert_cmpstr(ma_dns_type_name(MA_DNS_AAAA), ==, "AAAA");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/dns/answer/txt_joined_per_record", test_txt_joined_per_record);
  g_test_add_func("/dns/answer/txt_nul_and_empty", test_txt_with_nul_and_empty);
  g_test_add_func("/dns/answer/cname_chain", test_cname_chain);
  g_test_add_func("/dns/answer/cname_loop_and_dangling", test_cname_loop_and_dangling);
  g_test_add_func("/dns/answer/mx_sorted_and_null", test_mx_sorted_and_null);
  g_test_add_func("/dns/answer/negative", test_negative_answers);
  g_test_add_func("/dns/answer/other_names_ignored", test_records_of_other_names_ignored);
  g_test_add_func("/dns/answer/compression", test_compression);
  g_test_add_func("/dns/answer/hostile", test_hostile_counts_and_lengths);
  g_test_add_func("/dns/answer/every_truncation", test_every_truncation);
  g_test_add_func("/dns/cache/ttl_and_bound", test_cache_ttl_and_bound);
  g_test_add_func("/dns/names", test_names);
  g_test_add_func("/dns/result_builders", test_result_builders);
  return g_test_run();
}
