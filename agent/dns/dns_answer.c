/* dns_answer.c - parses a DNS response into an MaDnsResult: RCODE, the answer records of the
 * asked type reached through CNAMEs from the asked name, TXT strings joined per record, MX sorted
 * with RFC 7505 null MX detected, and the TTL (the smallest of the records used; for a negative
 * answer the SOA's, RFC 2308 5). Bounded: every offset is checked against len, a name is at most
 * 255 octets on the wire and at most 64 compression jumps. It must never read outside msg. */
#include "dns_answer.h"

#include <arpa/inet.h>
#include <string.h>

#define HEADER_LEN 12
#define MAX_WIRE_NAME 255
#define MAX_JUMPS 64
#define RCODE_NOERROR 0
#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3
#define TYPE_SOA 6
#define CLASS_IN 1

typedef struct {
  size_t name; /* offset of the owner name in the message (decoded when compared) */
  guint16 type, klass;
  guint32 ttl;
  size_t rdata, rdlen; /* offset of rdata in the message, and its length */
} Record;

static guint16 get16(const guint8 *p) { return (guint16)((p[0] << 8) | p[1]); }
static guint32 get32(const guint8 *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
}

/* Reads the (possibly compressed) name at *off into out (presentation form without the final
 * dot, "" for the root; '.', '\\' and octets outside printable ASCII escaped as \DDD) and moves
 * *off past it in the record. Returns FALSE on a malformed name. */
static gboolean read_name(const guint8 *msg, size_t len, size_t *off, char *out, size_t out_size)
{
  size_t pos = *off, end = 0, wire = 0, o = 0;
  int jumps = 0;
  gboolean jumped = FALSE;
  for (;;) {
    if (pos >= len) return FALSE;
    guint8 n = msg[pos];
    if ((n & 0xC0) == 0xC0) {
      if (pos + 1 >= len || ++jumps > MAX_JUMPS) return FALSE;
      if (!jumped) end = pos + 2;
      jumped = TRUE;
      pos = ((size_t)(n & 0x3F) << 8) | msg[pos + 1];
      continue;
    }
    if (n & 0xC0) return FALSE; /* the 0x40 and 0x80 label types are obsolete or unassigned */
    pos++;
    wire += 1u + n;
    if (wire > MAX_WIRE_NAME) return FALSE;
    if (n == 0) break;
    if (pos + n > len) return FALSE;
    if (o > 0) out[o++] = '.';
    for (guint8 i = 0; i < n; i++) {
      guint8 c = msg[pos + i];
      if (c == '.' || c == '\\' || c <= ' ' || c >= 0x7F) {
        if (o + 4 >= out_size) return FALSE;
        o += (size_t)g_snprintf(out + o, out_size - o, "\\%03u", c);
      } else {
        if (o + 1 >= out_size) return FALSE;
        out[o++] = (char)c;
      }
    }
    pos += n;
  }
  out[o] = '\0';
  *off = jumped ? end : pos;
  return TRUE;
}

static MaDnsResult *failed(MaDnsResult *r, const char *reason)
{
  r->status = MA_DNS_FAILED;
  r->reason = reason;
  r->ttl = 0;
  return r;
}

/* Adds record rec (of the asked type) to r. FALSE when its data is malformed. */
static gboolean add_record(MaDnsResult *r, const guint8 *msg, size_t len, const Record *rec,
                           guint *null_mx_seen)
{
  const guint8 *d = msg + rec->rdata;
  switch (r->type) {
  case MA_DNS_A:
  case MA_DNS_AAAA: {
    MaDnsAddr a = {.family = r->type == MA_DNS_A ? AF_INET : AF_INET6};
    size_t want = r->type == MA_DNS_A ? 4 : 16;
    if (rec->rdlen != want) return FALSE;
    memcpy(r->type == MA_DNS_A ? (void *)&a.addr.v4 : (void *)&a.addr.v6, d, want);
    return ma_dns_result_add_addr(r, &a);
  }
  case MA_DNS_TXT: {
    /* one record: its character-strings joined; never across records */
    GString *s = g_string_sized_new(rec->rdlen);
    size_t i = 0;
    while (i < rec->rdlen) {
      size_t n = d[i];
      if (i + 1 + n > rec->rdlen) {
        g_string_free(s, TRUE);
        return FALSE;
      }
      g_string_append_len(s, (const char *)d + i + 1, (gssize)n);
      i += 1 + n;
    }
    ma_dns_result_add_txt(r, s->str, s->len);
    g_string_free(s, TRUE);
    return TRUE;
  }
  case MA_DNS_MX: {
    char host[4 * MAX_WIRE_NAME + 1];
    if (rec->rdlen < 3) return FALSE;
    size_t off = rec->rdata + 2;
    if (!read_name(msg, len, &off, host, sizeof host) || off != rec->rdata + rec->rdlen) return FALSE;
    if (host[0] == '\0') {
      /* RFC 7505: "0 ." announces that the domain takes no mail; a root exchange is meaningless
       * beside real ones and is skipped */
      (*null_mx_seen)++;
      return TRUE;
    }
    return ma_dns_result_add_mx(r, get16(d), host);
  }
  case MA_DNS_PTR: {
    char host[4 * MAX_WIRE_NAME + 1];
    size_t off = rec->rdata;
    if (!read_name(msg, len, &off, host, sizeof host) || off != rec->rdata + rec->rdlen) return FALSE;
    return ma_dns_result_add_ptr(r, host);
  }
  case MA_DNS_CNAME: break;
  }
  return FALSE;
}

MaDnsResult *dns_answer_parse(const guint8 *msg, size_t len, const char *qname, MaDnsType qtype)
{
  MaDnsResult *r = ma_dns_result_new(qname, qtype, MA_DNS_NODATA);
  if (!msg || len < HEADER_LEN) return failed(r, "answer shorter than a DNS header");
  guint16 flags = get16(msg + 2);
  guint qdcount = get16(msg + 4), ancount = get16(msg + 6), nscount = get16(msg + 8);
  if (!(flags & 0x8000)) return failed(r, "not a response");
  if (flags & 0x0200) return failed(r, "truncated answer");
  int rcode = flags & 0xF;
  if (rcode == RCODE_SERVFAIL) {
    r->status = MA_DNS_SERVFAIL;
    return r;
  }
  if (rcode != RCODE_NOERROR && rcode != RCODE_NXDOMAIN)
    return failed(r, rcode == 5 ? "query refused" : "server error (RCODE not NOERROR)");

  size_t off = HEADER_LEN;
  char name[4 * MAX_WIRE_NAME + 1];
  for (guint i = 0; i < qdcount; i++) {
    if (!read_name(msg, len, &off, name, sizeof name) || off + 4 > len)
      return failed(r, "malformed question section");
    off += 4;
  }

  /* Every record is at least 11 octets, so ancount + nscount is bounded by len / 11: the array
   * below is sized by the bytes received, never by the counts alone. */
  guint total = ancount + nscount;
  if ((size_t)total > (len - off) / 11) return failed(r, "record counts exceed the answer's size");
  Record *recs = g_new(Record, total ? total : 1); /* 40 octets per 11 received at most */
  for (guint i = 0; i < total; i++) {
    Record *rec = &recs[i];
    rec->name = off;
    if (!read_name(msg, len, &off, name, sizeof name) || off + 10 > len) {
      g_free(recs);
      return failed(r, "malformed resource record");
    }
    rec->type = get16(msg + off);
    rec->klass = get16(msg + off + 2);
    rec->ttl = get32(msg + off + 4) & 0x7FFFFFFF; /* RFC 2181 8: a set top bit means zero */
    if (get32(msg + off + 4) & 0x80000000) rec->ttl = 0;
    rec->rdlen = get16(msg + off + 8);
    rec->rdata = off + 10;
    if (rec->rdata + rec->rdlen > len) {
      g_free(recs);
      return failed(r, "record data runs past the answer");
    }
    off = rec->rdata + rec->rdlen;
  }

  /* Follow CNAMEs from the asked name through the answer section. */
  guint32 ttl = G_MAXUINT32;
  int links = 0;
  guint null_mx = 0, found = 0;
  char owner[4 * MAX_WIRE_NAME + 1]; /* presentation form, escaped: at most 4 chars per octet */
  for (;;) {
    gboolean moved = FALSE;
    for (guint i = 0; i < ancount; i++) {
      Record *rec = &recs[i];
      size_t o = rec->name;
      if (rec->klass != CLASS_IN || !read_name(msg, len, &o, owner, sizeof owner) ||
          g_ascii_strcasecmp(owner, r->canonical) != 0)
        continue;
      if (rec->type == qtype) {
        if (!add_record(r, msg, len, rec, &null_mx)) {
          g_free(recs);
          return failed(r, "malformed record data");
        }
        found++;
        ttl = MIN(ttl, rec->ttl);
      } else if (rec->type == MA_DNS_CNAME && qtype != MA_DNS_CNAME && !found && !moved) {
        o = rec->rdata;
        if (!read_name(msg, len, &o, name, sizeof name) || o != rec->rdata + rec->rdlen) {
          g_free(recs);
          return failed(r, "malformed CNAME");
        }
        if (++links > DNS_MAX_CNAME_CHAIN) {
          g_free(recs);
          return failed(r, "CNAME chain too long or a loop");
        }
        g_free(r->canonical);
        r->canonical = g_strdup(name);
        ttl = MIN(ttl, rec->ttl);
        moved = TRUE;
      }
    }
    if (!moved || found) break;
  }

  if (found) {
    if (qtype == MA_DNS_MX && null_mx == 1 && found == 1) r->null_mx = TRUE;
    if (r->n == 0 && !r->null_mx) {
      r->status = MA_DNS_NODATA; /* only root exchanges beside nothing usable */
    } else {
      r->status = MA_DNS_OK;
    }
    r->ttl = MIN(ttl, DNS_MAX_POSITIVE_TTL);
  } else {
    r->status = rcode == RCODE_NXDOMAIN ? MA_DNS_NXDOMAIN : MA_DNS_NODATA;
    /* negative caching: the SOA in the authority section, MIN(its TTL, its MINIMUM) */
    guint32 neg = 0;
    for (guint i = ancount; i < total; i++) {
      Record *rec = &recs[i];
      if (rec->type != TYPE_SOA || rec->klass != CLASS_IN || rec->rdlen < 22) continue;
      size_t o = rec->rdata;
      if (!read_name(msg, len, &o, name, sizeof name) || !read_name(msg, len, &o, name, sizeof name) ||
          o + 20 != rec->rdata + rec->rdlen)
        continue;
      neg = MIN(rec->ttl, get32(msg + o + 16));
      break;
    }
    r->ttl = MIN(neg, DNS_MAX_NEGATIVE_TTL);
  }
  g_free(recs);
  return r;
}
