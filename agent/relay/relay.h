/* relay.h - channels and routing of outgoing mail (issue 13): an enterprise's own relays with their
 * domain filters, email types, daily limits and suspension; the routing decision that sends each
 * recipient group of a queued message through the employee's mailbox, an enterprise relay or
 * mailagent's own delivery path (docs/routing.md, "Channel selection"); and the JSON shapes of a
 * relay and of a route, which the API, the CLI and the queue all show.
 *
 * Pure parts (filter patterns, the decision itself) take their inputs as values and are unit-tested
 * table by table; relay_plan_* gathers those inputs from storage and settings, so queueing,
 * fallback and `mailagent route explain` run the same code. A relay may sign in with XOAUTH2 through
 * agent/oauth2 (relay_oauth2.c: its grant, owner "relay:<id>"). Never logs a password or a token.
 */
#ifndef MA_RELAY_H
#define MA_RELAY_H

#include "agent/lib/config.h"
#include "agent/oauth2/oauth2.h"
#include "storage/storage.h"

#include <glib.h>
#include <jansson.h>

/* ---- recipient patterns (relay_filter.c, pure) ----------------------------------------------- */

#define RELAY_MAX_PATTERNS 32
#define RELAY_MAX_PATTERN_LEN 253

/* Parses a recipient pattern list ("example.com, *.example.org"; spaces or commas between items)
 * into its canonical text: lower case, space-separated, duplicates removed. "" or NULL gives NULL
 * (any recipient). A pattern is a domain name or "*." followed by one. NULL with MA_ERROR_INVALID
 * naming the bad item. Caller frees. */
char *relay_patterns_normalise(const char *text, GError **error);
/* TRUE when domain (any case) matches pattern: a bare domain matches itself only, "*.d" matches
 * every subdomain of d but not d. */
gboolean relay_pattern_match(const char *pattern, const char *domain);
/* TRUE when f carries mail from from_domain to rcpt_domain (canonical patterns; NULL: any). */
gboolean relay_filter_match(const MaRelayFilter *f, const char *from_domain, const char *rcpt_domain);

/* ---- the decision (relay_route.c, pure) ------------------------------------------------------ */

/* A relay as the decision sees it. */
typedef struct {
  const MaRelay *relay;
  gint64 used_today;      /* recipients delivered (or reserved in flight) through it today */
  gboolean suspended;     /* suspended now (status suspended and suspended_until in the future) */
} RelayCandidate;

typedef struct {
  const char *type;                 /* workflow | mass | individual */
  const char *channel;              /* auto | employee_mailbox | enterprise_relay | mailagent_relay */
  const char *from_domain;          /* lower case */
  const char *employee;             /* on whose behalf (as given), NULL: none */
  const char *employee_mailbox_id;  /* the employee's default sending mailbox, NULL: none bound */
  const char *employee_channels;    /* the kinds employees may use (setting), space-separated */
  GPtrArray *relays;                /* RelayCandidate* */
  gboolean default_path_ok;         /* the From domain may use mailagent's own delivery */
  const char *default_path_reason;  /* why not, when not */
  const char *const *rcpts;
  guint n_rcpts;
} RelayRouteInput;

/* One recipient group's route. channel NULL: refused (reason says why). */
typedef struct {
  char *channel;          /* employee_mailbox | enterprise_relay | mailagent_relay, or NULL */
  char *relay_id;         /* enterprise_relay */
  char *relay_name;
  char *mailbox_id;       /* employee_mailbox */
  int filter_priority;    /* enterprise_relay: the filter that matched */
  char *filter_sender;
  char *filter_patterns;  /* NULL: any recipient */
  char *reason;           /* why this channel, in words */
  GPtrArray *rcpts;       /* char*, owned */
} RelayRouteGroup;

void relay_route_group_free(RelayRouteGroup *g);

/* Decides the route of every recipient by the numbered rules of docs/routing.md and appends the
 * groups to out (RelayRouteGroup*, in order of their first recipient). Never fails: a recipient
 * that may not be sent gets a group with channel NULL and the reason. skipped (may be NULL) gets
 * one line per filter passed over and why (for route explain). */
void relay_route_decide(const RelayRouteInput *in, GPtrArray *out, GPtrArray *skipped);

/* ---- JSON (relay_json.c) --------------------------------------------------------------------- */

/* The one shape of a relay (API, CLI --json, the route stored with a message): id, name, host,
 * port, security, tls_mode, auth {enabled, mechanism, username, provider, password_set, authorized
 * (XOAUTH2: a valid grant; else null)}, daily_limit, sent_today,
 * email_types, dkim, enabled, status {state, since, reason, until}, filters [{priority,
 * sender_domain, recipient_patterns}], return_path. Never the password. New reference. */
json_t *relay_to_json(const MaRelay *r, gint64 sent_today);
/* The route of a message: {"decided_at", "groups": [{channel, relay {id, name}, mailbox_id,
 * filter {priority, sender_domain, recipient_patterns}, reason, recipients}], "fallbacks": []}.
 * New reference. */
json_t *relay_route_to_json(GPtrArray *groups, gint64 decided_at);

/* ---- relays, limits and time (relay_limits.c) ------------------------------------------------ */

/* The enterprise's calendar day of t ("2026-12-02") in time zone tz (an IANA name; NULL or
 * unknown: UTC), and the start of the next day (epoch seconds) in *next_day (may be NULL). */
void relay_day(gint64 t, const char *tz, char day[16], gint64 *next_day);
/* TRUE when r is suspended at now. */
gboolean relay_is_suspended(const MaRelay *r, gint64 now);

/* ---- gathering the inputs (relay_plan.c) ----------------------------------------------------- */

typedef struct {
  const char *enterprise_id;
  const char *type;
  const char *channel;
  const char *from;           /* the From address */
  const char *employee;       /* id or address, NULL */
  const char *const *rcpts;
  guint n_rcpts;
} RelayPlanRequest;

typedef struct {
  GPtrArray *groups;          /* RelayRouteGroup* */
  GPtrArray *skipped;         /* char*: filters passed over and why */
  GPtrArray *relays;          /* MaRelay* the decision saw */
  GArray *used_today;         /* gint64 per relay */
  char *day;                  /* the enterprise's calendar day */
  char *timezone;
} RelayPlan;

void relay_plan_free(RelayPlan *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RelayPlan, relay_plan_free)

/* Reads the enterprise's relays, today's counters, settings, the employee's mailbox and the domain
 * scope, and decides (relay_route_decide). *out newly allocated. 0, or -1 with *error (storage). */
int relay_plan_decide(MaStorage *st, const MaConfig *cfg, const RelayPlanRequest *req, gint64 now, RelayPlan **out,
                      GError **error);
/* Records the plan's default-path recipients for the shared relay's reputation (inside the caller's
 * transaction, with the message outbound_id it routes). A relay's daily count is not moved here:
 * it counts at delivery. 0 or -1. */
int relay_plan_reserve(MaStorage *st, const char *enterprise_id, const char *outbound_id, const RelayPlan *p,
                       gint64 now, GError **error);
/* The first refused group's reason, or NULL when every group has a channel. Borrowed. */
const char *relay_plan_refusal(const RelayPlan *p);

/* ---- administration (relay_admin.c) --------------------------------------------------------- */

/* Creates a relay of the enterprise from fields (the API's JSON body: name, host, port, security,
 * tls_mode, auth {enabled, mechanism, username, password}, daily_limit, email_types, dkim, enabled,
 * filters [{priority, sender_domain, recipient_patterns}], return_path), every rule checked, in one
 * transaction. *out: the stored relay (caller frees). MA_ERROR_INVALID naming the field,
 * CONFLICT for a name in use. */
int relay_create(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, json_t *fields, MaRelay **out,
                 GError **error);
/* Changes the fields given (the others stay); NOT_FOUND without the relay. */
int relay_modify(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *id_or_name, json_t *fields,
                 MaRelay **out, GError **error);
/* Recipients delivered through r today (the enterprise's day), with those reserved by connections
 * under way. 0 or -1. */
int relay_today(MaStorage *st, const MaConfig *cfg, const MaRelay *r, gint64 *sent, GError **error);

/* ---- channel settings (relay_channels.c) ------------------------------------------------------ */

/* The channels, in the order a workflow message without a From looks for a system account. */
extern const char *const relay_channels[];

/* Checks that channel can send as address (a relay filter for its domain; the verified domain
 * scope; an active bound mailbox) and stores it as the channel's system account. 0, or -1 with
 * MA_ERROR_INVALID saying why not. */
int relay_channel_account_set(MaStorage *st, const char *enterprise_id, const char *channel, const char *address,
                              GError **error);
/* {"employee_channels": [...], "system_accounts": {channel: {"address", "verified_at"} | null}}
 * (GET /v1/channels, `mailagent channel show --json`). New reference, or NULL with *error. */
json_t *relay_channels_to_json(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, GError **error);
/* The From of a workflow message sent without one: the first system account set. 1 with *from_r
 * (newly allocated), 0 when none is set, -1 on a storage error. */
int relay_channel_default_from(MaStorage *st, const char *enterprise_id, char **from_r, GError **error);

/* Chooses mailbox (id or address) as the default sending mailbox of employee (id or address); it
 * must be bound to that employee. 0, or -1 with NOT_FOUND / INVALID saying why. */
int relay_employee_mailbox_set(MaStorage *st, const char *enterprise_id, const char *employee, const char *mailbox,
                               GError **error);
/* The default sending mailbox of emp: the one chosen with relay_employee_mailbox_set while it is
 * active, else the oldest active mailbox bound to them; only mailboxes with an SMTP server, and
 * (from not NULL) whose address is from. *id_r newly allocated or NULL (none); *chosen_r (may be
 * NULL) TRUE when it is the chosen one. 0 or -1. */
int relay_employee_send_mailbox(MaStorage *st, const char *enterprise_id, const MaEmployee *emp, const char *from,
                                char **id_r, gboolean *chosen_r, GError **error);
/* {"employee_id", "employee", "default_mailbox": {"id", "email", "state"} | null, "chosen"} (GET
 * /v1/employees/{id}/default-mailbox, `mailagent channel default-mailbox ENTERPRISE EMPLOYEE`).
 * New reference, or NULL with *error (NOT_FOUND without the employee). */
json_t *relay_employee_mailbox_json(MaStorage *st, const char *enterprise_id, const char *employee, GError **error);

/* ---- the shared relay's reputation (relay_reputation.c) --------------------------------------- */

#define RELAY_REPUTATION_WINDOW 1000
#define RELAY_REPUTATION_MIN_SAMPLE 100
#define RELAY_MAX_BOUNCE_PERCENT 5
#define RELAY_MAX_COMPLAINT_PERMILLE 3 /* 0.3% */

/* May the enterprise route n more recipients to mailagent's own delivery path now? *refusal_r is
 * NULL when it may, else why not (newly allocated): its use is suspended, or a quota
 * (default_path_hourly_limit, default_path_daily_limit in time zone tz) would be crossed.
 * With n 0 only the suspension is checked. 0 or -1 (storage). */
int relay_reputation_check(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *tz, gint64 now,
                           guint n, char **refusal_r, GError **error);
/* Records the default-path recipients of groups (RelayRouteGroup*) for outbound_id, then reviews
 * the rates (relay_reputation_review). Inside the caller's transaction. 0 or -1. */
int relay_reputation_record(MaStorage *st, const char *enterprise_id, const char *outbound_id, GPtrArray *groups,
                            gint64 now, GError **error);
/* Suspends the enterprise's use of the path when, over its last RELAY_REPUTATION_WINDOW default-path
 * recipients (at least RELAY_REPUTATION_MIN_SAMPLE), the hard-bounce rate exceeds
 * RELAY_MAX_BOUNCE_PERCENT or the complaint rate RELAY_MAX_COMPLAINT_PERMILLE (webhook event
 * default_path.suspended with cause hard_bounces or complaints). Inside the caller's transaction.
 * 0 or -1. */
int relay_reputation_review(MaStorage *st, const char *enterprise_id, gint64 now, GError **error);
/* An ARF complaint came back for recipient address of outbound_id: recorded (it counts when that
 * recipient took the default path), then the rates are reviewed. Inside the caller's transaction.
 * 0 or -1. */
int relay_reputation_complaint(MaStorage *st, const char *enterprise_id, const char *outbound_id, const char *address,
                               gint64 now, GError **error);

/* ---- XOAUTH2 sign-in (relay_oauth2.c) -------------------------------------------------------- */

/* The owner of relay relay_id's OAuth2 grant, "relay:<id>" (caller frees). */
char *relay_oauth2_owner(const char *relay_id);
/* TRUE when r authenticates with AUTH XOAUTH2 (auth enabled, mechanism XOAUTH2). */
gboolean relay_uses_oauth2(const MaRelay *r);
/* TRUE when r uses XOAUTH2 and has no valid grant (never signed in, or the grant was refused). */
gboolean relay_needs_sign_in(const MaRelay *r);
/* Starts r's sign-in at its provider: the authorization URL in *url (caller frees), with a PKCE
 * verifier and a single-use state stored (oauth2_authorize_begin; the login hint is r's username).
 * -1 with MA_ERROR_CONFLICT when r does not use XOAUTH2 with a provider, MA_ERROR_INVALID when the
 * enterprise has no client for the provider. Does not block on the network. */
int relay_oauth2_begin(const MaOAuth2Env *env, MaStorage *st, const MaRelay *r, const char *redirect_uri, char **url,
                       GError **error);
/* Completes it: exchanges code (state must be r's) for r's grant, and marks r untested until a test
 * passes. -1 with MA_ERROR_INVALID (state unknown, used or expired; the provider refused the code),
 * MA_ERROR_CONFLICT (not XOAUTH2), MA_ERROR_TEMPFAIL (provider unreachable). Blocks (HTTP). */
int relay_oauth2_finish(const MaOAuth2Env *env, MaStorage *st, const MaRelay *r, const char *state, const char *code,
                        const char *redirect_uri, GError **error);
/* The provider refused relay_id's grant (oauth2 marked it revoked): the relay needs sign-in (status
 * untested, the reason says so), so routing passes it over, and the CRM is told once per grant
 * (webhook event relay.needs_sign_in), in one transaction of its own (not inside the caller's).
 * 1 marked (now or before), 0 no grant or no relay, -1 on a storage error. */
int relay_oauth2_revoked(MaStorage *st, const char *relay_id, const char *why, GError **error);

/* ---- relay test (relay_probe.c; blocks: for the CLI) ------------------------------------------ */

/* One line of a test's transcript: step is "DNS", "C:" (a command we sent, credentials
 * replaced), "S:" (the server's reply) or "  " (connection and TLS notes). */
typedef void (*RelayProbeTrace)(void *arg, const char *step, const char *text);

/* What a test needs besides the relay: the configuration, and for an XOAUTH2 relay the OAuth2
 * environment (NULL: none, the test fails at AUTH) with a storage handle for its token provider. */
typedef struct {
  const MaConfig *cfg;
  const MaOAuth2Env *oauth2;
  MaStorage *st;
} RelayProbeEnv;

/* Delivers one short test message from mail_from to rcpt through r, reporting every step to
 * trace. An XOAUTH2 relay's token comes from env->oauth2's provider (refreshed once and AUTH tried
 * again when the server refuses it; a refused grant marks r as needing sign-in). 0 when the
 * conversation ran: *failure_r NULL when the relay accepted the message after DATA, else the
 * reason (newly allocated); -1 with *error when it could not start (DNS, no password, TLS setup).
 * Blocks on a private event loop. */
int relay_probe(const RelayProbeEnv *env, const MaRelay *r, const char *mail_from, const char *rcpt,
                RelayProbeTrace trace, void *arg, char **failure_r, GError **error);
/* `relay test` (CLI and API): relay_probe to `to` (NULL: the admin_email setting) from `from`
 * (NULL: the relay's return path when it is an address, else postmaster@ its first filter's
 * domain); a pass marks the relay ok. 0 when the conversation ran (*failure_r NULL: passed, else
 * why not, newly allocated; the relay's status is unchanged), -1 with *error (no recipient:
 * MA_ERROR_INVALID; DNS, TLS setup, storage). Blocks. */
int relay_test(const RelayProbeEnv *env, const MaRelay *r, const char *to, const char *from, RelayProbeTrace trace,
               void *arg, char **failure_r, GError **error);

/* ---- delivery: a recipient's route, fallback, failures (relay_fallback.c) -------------------- */

/* Where a queued recipient goes: its latest fallback that found a channel, else its group of the
 * route stored with the message (a fallback refused by rule 4 leaves it on its relay, retried by
 * the schedule). */
typedef struct {
  char channel[24];       /* employee_mailbox | enterprise_relay | mailagent_relay; "" when the
                             route does not name the recipient (a message queued before routing) */
  char relay_id[64];
  char mailbox_id[64];
} RelayRecipientRoute;

/* Reads route_json (may be NULL) for address into *out. Pure. */
void relay_route_of(const char *route_json, const char *address, RelayRecipientRoute *out);

/* Delivery through relay_id failed for address (why: the reply): decides the recipient again
 * (rule 4: the default path when the From domain may use it) and records the decision in the
 * message's route (its "fallbacks"); why is the reason in words ("relay failed (reply)", "relay a
 * reached its daily limit ...").
 * Inside the caller's transaction. 1 rerouted to the default path, 0 not allowed (*reason_r says
 * why, newly allocated: the recipient stays deferred), -1 on a storage error. */
int relay_fallback(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *outbound_id,
                   const char *address, const char *relay_id, const char *why, gint64 now, char **reason_r,
                   GError **error);

/* A session through relay_id failed (connection, TLS, AUTH): counts it unless the last counted
 * failure of the day is less than min_gap seconds old (one outage is one failure); the third of a
 * day suspends the relay until the enterprise's next day and emits the webhook event
 * relay.suspended. Inside the caller's transaction. 1 the relay was suspended now (the caller
 * warns the enterprise's admin_email), 0 not, -1 on a storage error. */
int relay_session_failed(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *relay_id,
                         const char *why, gint64 now, gint64 min_gap, GError **error);

#define RELAY_FAILURES_TO_SUSPEND 3
/* A recipient refused with 4xx through a relay this many times takes the fallback. */
#define RELAY_TEMP_ATTEMPTS 3

#endif
