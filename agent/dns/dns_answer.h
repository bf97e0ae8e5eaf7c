/* dns_answer.h - the DNS answer parser: a wire-format response (RFC 1035 4.1) to an MaDnsResult.
 *
 * Pure: no I/O, no allocation sized by the peer beyond the message it was given. Every length,
 * count and compression pointer in the message is checked against the bytes received; names are
 * decompressed with a bound on pointer jumps and on length. Internal to agent/dns (and its tests
 * and fuzz target); callers use dns.h.
 */
#ifndef MA_DNS_ANSWER_H
#define MA_DNS_ANSWER_H

#include "dns.h"

/* Longest CNAME chain followed from the name asked (RFC 1034 allows chains; loops end here). */
#define DNS_MAX_CNAME_CHAIN 8
/* Caps on cache lifetimes, seconds. */
#define DNS_MAX_POSITIVE_TTL 86400
#define DNS_MAX_NEGATIVE_TTL 900

/* Parses the response msg[0..len) to a query for qname/qtype. Never returns NULL; the caller owns
 * the result (ma_dns_result_free). A malformed message gives MA_DNS_FAILED with a reason. */
MaDnsResult *dns_answer_parse(const guint8 *msg, size_t len, const char *qname, MaDnsType qtype);

#endif
