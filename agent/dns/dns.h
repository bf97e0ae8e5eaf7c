/* dns.h - mailagent's DNS resolver: the only module that uses c-ares.
 *
 * Asks for A, AAAA, MX, TXT and PTR records through c-ares, with the resolvers of `[dns] servers`
 * (or /etc/resolv.conf), `[dns] timeout_ms` and `[dns] tries`. c-ares's sockets are watched by the
 * caller's libevent loop, so a look-up never blocks the loop: the answer arrives in a callback.
 * CLI commands and worker threads use the synchronous wrapper (MaDnsSync), which runs a private
 * loop of its own.
 *
 * What it does with answers (we parse the wire answer ourselves; see dns_answer.h):
 *  - TXT: the character-strings of ONE record are joined into one value, in order, without
 *    separators (RFC 7208 3.3, RFC 6376 3.6.2.2); two records are never joined: each is its own
 *    entry of result->txt.
 *  - CNAME chains in the answer section are followed (at most 8 links) from the name asked to the
 *    records of the requested type; result->canonical is the final owner name.
 *  - MX: sorted by preference; a null MX (RFC 7505: one MX record, preference 0, exchange ".")
 *    sets result->null_mx and leaves no exchanges.
 *  - Answers are cached for their TTL (negative answers for the SOA minimum, RFC 2308), capped at
 *    one day (positive) and 15 minutes (negative); time-outs and server failures are never cached.
 *    The cache belongs to one MaDns (or one MaDnsSync) and is bounded by `[dns] cache_entries`.
 *
 * Error kinds, in result->status: MA_DNS_OK (at least one record), MA_DNS_NXDOMAIN (the name does
 * not exist), MA_DNS_NODATA (the name exists, no record of that type), MA_DNS_TIMEOUT (no server
 * answered in time), MA_DNS_SERVFAIL (a server said SERVFAIL), MA_DNS_FAILED (refused, a malformed
 * or truncated answer, a CNAME loop, a name that is not a valid domain name, out of memory; see
 * result->reason). ma_dns_status_is_temporary() tells which kinds may succeed on a retry.
 *
 * Threads: an MaDns belongs to the thread running its event_base; every call on it (and every
 * callback) happens on that thread. An MaDnsSync belongs to one thread at a time.
 * Must never: block the loop, join the strings of two TXT records, trust a length in an answer
 * without checking it against the bytes received.
 */
#ifndef MA_DNS_H
#define MA_DNS_H

#include "agent/lib/config.h"

#include <event2/event.h>
#include <glib.h>
#include <netinet/in.h>
#include <stddef.h>

/* Record types, with their wire values. */
typedef enum {
  MA_DNS_A = 1,
  MA_DNS_CNAME = 5, /* never asked for: followed inside answers */
  MA_DNS_PTR = 12,
  MA_DNS_MX = 15,
  MA_DNS_TXT = 16,
  MA_DNS_AAAA = 28,
} MaDnsType;

typedef enum {
  MA_DNS_OK = 0,     /* result->n >= 1, or null_mx */
  MA_DNS_NXDOMAIN,   /* RCODE 3: the name does not exist */
  MA_DNS_NODATA,     /* the name exists but has no record of this type */
  MA_DNS_TIMEOUT,    /* no answer from any server within timeout_ms x tries */
  MA_DNS_SERVFAIL,   /* RCODE 2 from every server tried */
  MA_DNS_FAILED,     /* anything else; result->reason says what */
  MA_DNS_CANCELLED,  /* only from ma_dns_free(): the resolver went away before the answer */
} MaDnsStatus;

/* One TXT record: its character-strings joined in order. data is NUL-terminated for convenience,
 * but the wire may carry NUL bytes inside: len is the true length. */
typedef struct {
  char *data;
  size_t len;
} MaDnsTxt;

/* One MX record. exchange has no trailing dot and is never "" (a null MX is result->null_mx). */
typedef struct {
  guint16 preference;
  char *exchange;
} MaDnsMx;

/* One A or AAAA record. family is AF_INET (addr.v4) or AF_INET6 (addr.v6). */
typedef struct {
  int family;
  union {
    struct in_addr v4;
    struct in6_addr v6;
  } addr;
} MaDnsAddr;

/* The outcome of one look-up. Exactly one of the arrays is used, chosen by type (txt for TXT, mx
 * for MX, addr for A and AAAA, ptr for PTR), and holds n entries; the others are NULL. Every
 * string and array belongs to the result and is freed by ma_dns_result_free. */
typedef struct {
  MaDnsStatus status;
  MaDnsType type;
  char *name;          /* the name asked, without a trailing dot */
  char *canonical;     /* owner of the records after following CNAMEs (equal to name when none) */
  guint32 ttl;         /* seconds the answer stays valid (0 for time-outs and failures) */
  const char *reason;  /* static English text for MA_DNS_FAILED (else NULL); never peer data */
  gboolean null_mx;    /* MX only: RFC 7505 null MX, the domain accepts no mail */
  guint n;
  MaDnsTxt *txt;
  MaDnsMx *mx;         /* sorted by preference, ties in answer order */
  MaDnsAddr *addr;
  char **ptr;          /* host names without trailing dot */
} MaDnsResult;

/* Resolver settings. Strings are borrowed for the duration of ma_dns_new/ma_dns_sync_new. */
typedef struct {
  const char *servers;  /* "ip[:port][,ip[:port]...]" ("[v6]:port" for IPv6); NULL or "": the
                           system's /etc/resolv.conf */
  int timeout_ms;       /* first try's time-out per server; c-ares doubles it per round. 0: 2000 */
  int tries;            /* rounds over the server list. 0: 2 */
  guint cache_entries;  /* answers kept; 0: no cache */
} MaDnsOptions;

/* Fills opts from [dns] servers, timeout_ms, tries, cache_entries. The strings stay cfg's. */
void ma_dns_options_from_config(MaDnsOptions *opts, const MaConfig *cfg);

/* ---- Asynchronous resolver, inside a libevent loop ---- */

typedef struct MaDns MaDns;
typedef struct MaDnsQuery MaDnsQuery;

/* Called exactly once per ma_dns_query (never if ma_dns_cancel was called first), on the loop
 * thread, never from inside ma_dns_query itself (a cached answer is delivered on the next loop
 * turn). result is BORROWED: valid only during the call; keep it with ma_dns_result_copy. The
 * query handle is dead once the callback runs. The callback may call ma_dns_query again, or
 * ma_dns_cancel on other queries, but must not free the MaDns. */
typedef void (*MaDnsCallback)(const MaDnsResult *result, void *arg);

/* Creates a resolver whose sockets and timers live on base (not owned). Returns NULL with *error
 * set (MA_ERROR_INVALID naming a bad servers entry, MA_ERROR_TEMPFAIL when c-ares cannot start).
 * Free with ma_dns_free. */
MaDns *ma_dns_new(struct event_base *base, const MaDnsOptions *opts, GError **error);

/* Starts a look-up of name (a domain name, with or without trailing dot; at most 253 octets,
 * labels of 1-63 octets) for type. Always returns a handle (never NULL) and always answers
 * through cb unless cancelled: an invalid name is answered MA_DNS_FAILED. The handle belongs to
 * the resolver; the caller may only pass it to ma_dns_cancel before the callback has run. */
MaDnsQuery *ma_dns_query(MaDns *dns, const char *name, MaDnsType type, MaDnsCallback cb, void *arg);

/* Forgets a pending look-up: cb will not be called. Only valid before its callback has run. The
 * DNS traffic already sent goes on; its answer still fills the cache. */
void ma_dns_cancel(MaDnsQuery *query);

/* Number of look-ups waiting for an answer (for tests and /metrics). */
guint ma_dns_pending(MaDns *dns);

/* Stops the resolver: every pending callback is called once with MA_DNS_CANCELLED (so owners can
 * free their arg), then sockets, timers and cache are released. Accepts NULL. */
void ma_dns_free(MaDns *dns);

/* ---- Synchronous wrapper, for CLI commands and worker threads (never on the serve loop) ---- */

typedef struct MaDnsSync MaDnsSync;

/* A resolver with its own private event loop and cache. NULL with *error as ma_dns_new. */
MaDnsSync *ma_dns_sync_new(const MaDnsOptions *opts, GError **error);

/* Looks name up and waits (at most about timeout_ms x tries x servers, doubling per round) for
 * the answer. Never returns NULL: the caller owns the result and frees it with
 * ma_dns_result_free. */
MaDnsResult *ma_dns_sync_lookup(MaDnsSync *sync, const char *name, MaDnsType type);

/* Accepts NULL. */
void ma_dns_sync_free(MaDnsSync *sync);

/* ---- Results ---- */

/* A deep copy the caller frees with ma_dns_result_free. */
MaDnsResult *ma_dns_result_copy(const MaDnsResult *result);
/* Accepts NULL. */
void ma_dns_result_free(MaDnsResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaDnsResult, ma_dns_result_free)

/* Builders, for resolvers other than c-ares (tests, the SPF test suite's zones) and for the answer
 * parser. ma_dns_result_new copies name (trailing dot dropped) into name and canonical, ttl 0.
 * The adders copy their input, append one entry to the type's array and set status MA_DNS_OK;
 * each returns FALSE (adding nothing) when the entry does not belong to result->type. */
MaDnsResult *ma_dns_result_new(const char *name, MaDnsType type, MaDnsStatus status);
gboolean ma_dns_result_add_txt(MaDnsResult *result, const char *data, size_t len);
gboolean ma_dns_result_add_mx(MaDnsResult *result, guint16 preference, const char *exchange);
gboolean ma_dns_result_add_addr(MaDnsResult *result, const MaDnsAddr *addr);
gboolean ma_dns_result_add_ptr(MaDnsResult *result, const char *host);

/* "ok", "nxdomain", "nodata", "timeout", "servfail", "failed", "cancelled". */
const char *ma_dns_status_name(MaDnsStatus status);
/* "A", "AAAA", "MX", "TXT", "PTR", "CNAME". */
const char *ma_dns_type_name(MaDnsType type);
/* TRUE for TIMEOUT, SERVFAIL, FAILED and CANCELLED: asking again later may give an answer.
 * NXDOMAIN and NODATA are definite. */
gboolean ma_dns_status_is_temporary(MaDnsStatus status);

/* The PTR name of an address ("4.3.2.1.in-addr.arpa", nibbles under "ip6.arpa"), newly allocated
 * (g_free). */
char *ma_dns_reverse_name(const MaDnsAddr *addr);

/* TRUE when name is a syntactically valid domain name for a look-up: 1-253 octets (a trailing
 * dot not counted), labels 1-63 octets, no empty label. Any octet other than '.' is allowed in a
 * label (TXT owner names like "_dmarc" and SPF macro expansions are not host names). */
gboolean ma_dns_name_is_valid(const char *name);

#endif
