/* outbound_delivery_internal.h - what the delivery thread's files share (outbound_delivery.c, the
 * engine; outbound_delivery_outcome.c, outcomes and the group commit; outbound_delivery_mailbox.c,
 * the employee-mailbox channel; outbound_delivery_relay.c, enterprise relays' daily limits): the engine, its destinations, jobs and pending outcomes. Only the
 * delivery thread touches these.
 */
#ifndef MA_OUTBOUND_DELIVERY_INTERNAL_H
#define MA_OUTBOUND_DELIVERY_INTERNAL_H

#include "outbound.h"
#include "outbound_mailbox.h"

#include "agent/bounce/bounce.h"
#include "agent/bounce/bounce_verp.h"
#include "agent/collector/collector.h"
#include "agent/dns/dns.h"
#include "agent/domains/domains.h"
#include "agent/oauth2/oauth2_async.h"
#include "agent/lib/clock.h"
#include "agent/lib/log.h"
#include "agent/lib/crypto.h"
#include "agent/lib/tls.h"
#include "agent/relay/relay.h"
#include "agent/smtp_client/smtp_client_io.h"
#include "agent/webhook/webhook.h"

#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <unistd.h>

#define OUT_JOB_RCPTS 50
#define OUT_LEASE 3600          /* seconds a claim holds a recipient */
#define OUT_TICK_MS 1000
#define OUT_MAX_MX_HOSTS 10

typedef struct Dest Dest;

/* An enterprise relay as a destination (agent/relay): its settings when the scan met it, the
 * password opened from its seal (NULL with XOAUTH2: the token provider answers at AUTH). */
typedef struct {
  char *enterprise_id, *relay_id, *name, *host, *return_path;
  int port;
  gint64 daily_limit;      /* recipients per day, 0: none */
  gboolean implicit_tls;
  SmtpTlsMode tls_mode;
  SmtpAuthMech auth;
  char *username, *password;
} RelayTarget;

typedef struct {
  char *name;    /* for SNI and certificate checks */
  char *address; /* IP literal */
} Host;

/* One message's recipients for one destination, as handed to one connection. */
typedef struct {
  MaOutbound *msg;         /* the message row (recipients array unused here) */
  GBytes *body;
  GPtrArray *rcpts;        /* MaOutboundRecipient*, owned */
  const char **addrs;      /* their addresses, for SmtpClientJob */
  Dest *dest;
  guint host;              /* index into dest->hosts */
  char *mail_from;         /* the recipient's VERP return path (one recipient per job), or NULL: msg's */
  char day[16];            /* employee mailbox or enterprise relay: the day its recipients were
                              reserved on */
  int reserved;            /* ... and how many (given back for those not sent) */
  char *mailbox_id;        /* ... the mailbox (kept here: the destination reads its binding again) */
  gboolean sent_copy;      /* ... whose Sent folder gets a copy (IMAP binding, provider does not) */
} Job;

struct Dest {
  char *key;               /* "relay" (smart host), "relay:<id>:<updated>:<settings digest>" (enterprise relay) or the
                              recipient domain */
  RelayTarget *ent;        /* enterprise relay, else NULL */
  gboolean resolving, resolved;
  GPtrArray *hosts;        /* Host* in preference order */
  char *failure;           /* resolution failed: the reason */
  gboolean failure_perm;
  GQueue waiting;          /* Job* */
  guint active;
  guint mx_left;           /* A look-ups still running */
  GPtrArray *mx_names;     /* exchanges, in order */
  GPtrArray *mx_addrs;     /* per exchange: char* address or NULL */
  MaMailbox *mailbox;      /* "mailbox:<id>": the binding, read again at each routing */
  char *secret;            /* its password in clear (NULL for OAuth2: the token provider) */
};

typedef struct {
  SmtpClientConn *conn;
  Dest *dest;
  guint host;
  Job *job;
} Conn;

typedef struct {
  /* configuration (copied) */
  char *data_dir, *helo, *relay_host, *tls_mode, *auth_mech, *username, *password;
  char *bounce_domain;     /* [relay] bounce_domain, NULL: no VERP nor List-Unsubscribe */
  char *public_url;        /* [api] public_url: the one-click unsubscribe link's base, NULL: none */
  guint8 master_key[32];   /* with bounce_domain: signs the List-Unsubscribe fields */
  guint8 token_key[32];    /* bounce_token_key of the master key, with bounce_domain */
  int relay_port, mx_port;
  gint64 max_age;
  int retry_initial, retry_max, concurrency, max_connections, connect_timeout, command_timeout;
  /* state */
  GThread *thread;
  struct event_base *base;
  struct event *tick, *wake_ev;
  int wake_pipe[2];
  MaStorage *st;
  MaDns *dns;
  SSL_CTX *ssl;
  GHashTable *dests;       /* key -> Dest* */
  GHashTable *conns;       /* Conn* open */
  GPtrArray *outcomes;     /* Outcome* waiting for the group commit (on_flush) */
  GPtrArray *relay_failures; /* RelayFailure*: failed sessions through enterprise relays, same commit */
  /* the employee-mailbox channel */
  const MaConfig *cfg;     /* the caller's (outlives the engine): the collector environment keeps it */
  CollectorEnv coll;
  gboolean coll_ok;        /* master key and presets loaded */
  SSL_CTX *mailbox_ssl;    /* trust of the mailboxes' servers ([collector] ca_file) */
  Oauth2Async *tokens;
  SmtpTokenProvider token_provider;
  struct event *flush_ev;
  guint active;
  guint waiting_jobs;
  gboolean stopping;
} Engine;

/* One recipient's outcome waiting for the next group commit. */
typedef struct {
  MaOutbound *msg;          /* what record_outcome and the event read */
  MaOutboundRecipient *r;
  SmtpOutcome outcome;
  char reply[512];
  char *fallback_from;      /* the enterprise relay that failed this recipient: route it again */
  gint64 not_before;        /* deferred: not retried before (0: the retry schedule alone) */
  char *sent_copy_mailbox;  /* sent through this mailbox, whose Sent folder gets a copy */
  gboolean over_limit;      /* fallback_from: the relay's daily limit, not its failure (reply says so) */
  char *reserved_relay;     /* counted against this relay's day (reserved_day) before its session: */
  char reserved_day[16];    /* given back in the outcome's transaction unless it was delivered */
} Outcome;

/* outbound_delivery.c */
void delivery_job_free(Job *j);
MaOutbound *delivery_job_msg_copy(const MaOutbound *m);
void delivery_fail_job(Engine *e, Job *j, SmtpOutcome outcome, const char *reply);

/* outbound_delivery_outcome.c */
void delivery_outcome_free(Outcome *o);
/* A failed session through an enterprise relay, counted at the next group commit. */
typedef struct RelayFailure RelayFailure;
void delivery_relay_failure_free(RelayFailure *f);
/* The group commit of e->outcomes and e->relay_failures (the engine's flush event). */
void delivery_on_flush(evutil_socket_t fd, short what, void *arg);
/* Queues the job's outcomes for the group commit; recipients with a host-level temporary failure
 * go to the next MX host instead when there is one (returned as a new job, or NULL). */
Job *delivery_apply_results(Engine *e, Job *j, const SmtpRcptResult *res, guint n);

/* outbound_delivery_relay.c */
/* Reserves j's recipients against its enterprise relay's daily limit; those over it fall back to the
 * default path (rule 4). FALSE when none is left (j freed). */
gboolean delivery_relay_admit(Engine *e, Job *j);

/* outbound_delivery_mailbox.c */
/* Reserves j's recipients against its mailbox's daily limit; those over it leave its route. FALSE
 * when none is left (j freed). */
gboolean delivery_mailbox_admit(Engine *e, Job *j);
/* Reads the binding of a "mailbox:<id>" destination again: its server, its password. 0, or -1
 * with d->failure set. */
int delivery_mailbox_load(Engine *e, Dest *d);
/* SmtpTokenProvider over oauth2_async, and its revoked-grant callback (a binding turns needs_reauth,
 * an enterprise relay needs sign-in). */
guint delivery_token_get(void *ctx, const char *owner, gboolean force, SmtpTokenReady ready, void *arg);
void delivery_grant_revoked(MaStorage *st, const char *owner, const char *why, void *data);

#endif
