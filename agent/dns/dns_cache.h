/* dns_cache.h - answers kept for their TTL, keyed by type and lower-cased name, bounded in
 * entries (the oldest insertion goes first when full). Only definite answers (OK, NXDOMAIN,
 * NODATA) with a TTL above zero are kept. Expiry reads ma_now_ms(), so tests can move time.
 * One cache per resolver, used from one thread. Internal to agent/dns. */
#ifndef MA_DNS_CACHE_H
#define MA_DNS_CACHE_H

#include "dns.h"

typedef struct DnsCache DnsCache;

/* max_entries 0: a cache that keeps nothing. Free with dns_cache_free (accepts NULL). */
DnsCache *dns_cache_new(guint max_entries);
void dns_cache_free(DnsCache *cache);

/* A copy of the live answer for name/type with ttl lowered to the seconds left (caller frees), or
 * NULL when none is cached or it has expired. */
MaDnsResult *dns_cache_get(DnsCache *cache, const char *name, MaDnsType type);

/* Keeps a copy of result (if cacheable) under result->name/result->type. */
void dns_cache_put(DnsCache *cache, const MaDnsResult *result);

guint dns_cache_size(DnsCache *cache);

#endif
