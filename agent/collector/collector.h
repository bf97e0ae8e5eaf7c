/* collector.h - pulls employees' mail from their own IMAP or POP3 mailboxes into the spool, from
 * where the pipeline archives it like forwarded mail (provenance: route "imap"/"pop3", the binding).
 *
 * Pieces: collector_stream (our OpenSSL transport under libetpan), collector_imap and
 * collector_pop3 (one state machine each, blocking, on a worker thread), collector_sink (spool
 * first, checkpoint after), collector_folders (which folders, pure), collector_presets (data
 * files), collector_pool (the bounded worker pool and the schedule), and this file's glue:
 * verification before a binding is saved, credentials, one sync of one mailbox.
 *
 * Promises: a folder's checkpoint advances only after its messages are fsync'd in the spool; the
 * spool id of a pulled message is derived from (binding, folder, content), so a replay after a
 * crash or a UIDVALIDITY change adds nothing to the archive or its provenance. Never changes a
 * flag, never deletes (IMAP EXAMINE and BODY.PEEK; POP3 without DELE). Secrets are never logged
 * nor put into error messages.
 *
 * Threads: everything here blocks (DNS, network, storage); it runs on collector_pool threads or
 * in the CLI, never on the event loop.
 */
#ifndef MA_COLLECTOR_H
#define MA_COLLECTOR_H

#include "agent/lib/config.h"
#include "agent/oauth2/oauth2.h"
#include "collector_presets.h"
#include "storage/spool.h"
#include "storage/storage.h"

#include <glib.h>
#include <openssl/ssl.h>

typedef struct CollectorSink CollectorSink;

/* What a session needs; all borrowed. */
typedef struct {
  const MaMailbox *mailbox;
  const char *secret;       /* the password or the OAuth2 access token; never logged */
  SSL_CTX *tls;             /* client context (trust anchors) */
  int timeout_ms;           /* per network read or write */
  gsize batch_bytes;        /* bytes per FETCH round, and the cap of one response */
  gsize max_message;        /* larger messages are skipped and quarantined */
  gint64 since;             /* first sync of a folder: mail received on or after (Unix seconds) */
  gboolean verify_only;     /* binding: stop after listing the folders */
  gboolean idle;            /* IMAP: after logging in, EXAMINE INBOX and IDLE until new mail arrives,
                             * idle_ms pass, or *stop becomes non-zero; then log out */
  int idle_ms;
  const volatile gint *stop;
  GBytes *append;           /* IMAP: after logging in, append this message (CRLF) with \Seen to the
                             * Sent folder unless a message with append_message_id is there already */
  const char *append_message_id; /* without <> */
} CollectorSessionParams;

typedef struct {
  GPtrArray *folders;       /* char*: the folders listed (verify_only), UTF-8 */
  gboolean auth_failed;     /* the server refused the credentials (OAuth2: refresh, then retry once) */
  gboolean untrusted;       /* TLS ran without certificate verification */
  gint64 fetched;           /* messages made durable in the spool */
  gint64 skipped;           /* already collected, or quarantined */
  gint64 quarantined;
  gboolean new_mail;        /* idle: the server announced new messages */
  gboolean no_idle;         /* idle: the server does not offer IDLE */
  char *appended_to;        /* append: the Sent folder's name (UTF-8) */
  gboolean append_found;    /* append: the message was there already; nothing appended */
} CollectorSessionResult;

void collector_session_result_clear(CollectorSessionResult *r);

/* One IMAP (collector_imap.c) or POP3 (collector_pop3.c) session from connect to logout. sink may be
 * NULL only with verify_only. 0, or -1 with *error whose message starts with the failing step
 * ("connect:", "tls:", "greeting:", "starttls:", "auth:", "list:", "select:", "fetch:", ...) and
 * carries the server's reply. */
int collector_imap_run(const CollectorSessionParams *p, CollectorSink *sink, CollectorSessionResult *res,
                       GError **error);
int collector_pop3_run(const CollectorSessionParams *p, CollectorSink *sink, CollectorSessionResult *res,
                       GError **error);

/* ---- sink (collector_sink.c) ------------------------------------------------------------------- */

/* st, sp and m borrowed; they must outlive the sink. */
CollectorSink *collector_sink_new(MaStorage *st, MaSpool *sp, const MaMailbox *m);
void collector_sink_free(CollectorSink *s);
/* The folder's stored checkpoint (zeroed when never synced). 0/1 or -1. */
int collector_sink_checkpoint(CollectorSink *s, const char *folder, MaFolderCheckpoint *out, GError **error);
/* 1 when (folder, uidvalidity, key) was collected already. */
int collector_sink_seen(CollectorSink *s, const char *folder, guint32 uidvalidity, const char *key, GError **error);
/* Renews the mailbox's lease for owner at each commit (seconds from then); a commit fails when the
 * lease was lost, so two processes never sync one mailbox at once. */
void collector_sink_set_lease(CollectorSink *s, const char *owner, int seconds);
/* Queues one fetched message; takes a reference on data. */
void collector_sink_add(CollectorSink *s, const char *key, GBytes *data);
/* A message too large to hold whole (an IMAP message fetched in partial ranges, any POP3 RETR) is
 * written into its spool file piece by piece: memory stays at one piece whatever its size. The
 * content id is hashed as the pieces pass, so it equals the one collector_sink_add would give.
 * collector_sink_body_new returns NULL with *error (MA_ERROR_TEMPFAIL) when the file cannot be
 * made; the caller owns the body until collector_sink_add_body, or frees it (the file goes too). */
typedef struct CollectorBody CollectorBody;
CollectorBody *collector_sink_body_new(CollectorSink *s, const char *folder, GError **error);
void collector_body_append(CollectorBody *b, const void *data, gsize len);
gint64 collector_body_size(const CollectorBody *b);
void collector_body_free(CollectorBody *b);
/* Queues the finished body under key (takes it). 0, or -1 with *error when a write failed (disk
 * full, I/O: MA_ERROR_TEMPFAIL); the body is freed either way. */
int collector_sink_add_body(CollectorSink *s, const char *key, CollectorBody *b, GError **error);
/* Records key as done without a message (quarantined or outside the window). */
void collector_sink_skip(CollectorSink *s, const char *key);
/* Counts one failure to fetch or keep (folder, key); *count: failures so far. */
int collector_sink_fail(CollectorSink *s, const char *folder, const char *key, const char *why, int *count);
/* Makes the queued messages durable in the spool (one fsync), then records their keys and cp
 * (NULL: keys only, POP3) in storage. 0, or -1 with *error (nothing recorded: the next sync
 * fetches them again and the spool ids make that harmless). */
int collector_sink_commit(CollectorSink *s, const char *folder, guint32 uidvalidity, const MaFolderCheckpoint *cp,
                          GError **error);
/* Messages the sink made durable so far. */
gint64 collector_sink_spooled(CollectorSink *s);

/* Test hook: MAILAGENT_COLLECTOR_CRASH_AT=after_fetch|after_spool|after_checkpoint makes the process
 * write the point's name to $MAILAGENT_COLLECTOR_CRASH_MARK (when set) and kill itself with SIGKILL
 * the first time it gets there. */
void collector_crash_point(const char *name);

/* ---- glue (collector.c) ------------------------------------------------------------------------ */

/* Process-wide pieces: the TLS client context, the master key, the presets and the OAuth2 token
 * provider's environment. Read-only once made, shared by the worker threads. */
typedef struct {
  const MaConfig *cfg;
  SSL_CTX *tls;
  guint8 master_key[32];
  GHashTable *presets;      /* id -> MaPreset* */
  MaOAuth2Env oauth2;
} CollectorEnv;

/* Loads the master key, the presets and the CA file. 0, or -1 with *error. */
int collector_env_init(CollectorEnv *env, const MaConfig *cfg, GError **error);
void collector_env_clear(CollectorEnv *env);

/* The associated data a binding's password is sealed under: "mailbox:<id>". Caller frees. */
char *collector_secret_aad(const char *mailbox_id);

/* Checks a binding against the real server before it is saved: DNS, connect, TLS and certificate,
 * greeting, STARTTLS, authentication, capabilities, folder listing; and when the mailbox may be used
 * to send (smtp_host set), the SMTP login too (collector_smtp_verify). secret: the password or an
 * access token. folders (may be NULL) receives the folder names. 0, or -1 with *error naming the
 * step and the server's reply. */
int collector_verify(const CollectorEnv *env, const MaMailbox *m, const char *secret, GPtrArray *folders,
                     GError **error);

/* One sync of one mailbox: takes the lease (0 and *busy when another process holds it; a lease lasts
 * three session timeouts, at least 60 s, renewed at each commit, so a crashed holder's lease
 * expires on its own), opens the
 * credentials, runs the session into the spool, writes the report (counts, last error, next
 * deadline with backoff; needs_reauth when OAuth2 is refused). A "verifying" binding (saved by
 * collector_bind_deferred) is checked instead of synced. st and sp are the calling thread's.
 * 0 when the sync ran (its own failure is in the report and in *error when error is not NULL), -1
 * when storage failed. */
int collector_sync_mailbox(const CollectorEnv *env, MaStorage *st, MaSpool *sp, const char *mailbox_id,
                           const char *lease_owner, gboolean *busy, GError **error);

/* Holds one IMAP IDLE on the mailbox's INBOX (RFC 2177) for up to idle_ms or until *stop: 0 with
 * *new_mail when the server announced new messages (the caller then syncs), *no_idle when the
 * server has no IDLE (poll it instead); 1 when the binding is not an active IMAP one (stop idling
 * for now); -1 with *error. */
int collector_idle_mailbox(const CollectorEnv *env, MaStorage *st, const char *mailbox_id, int idle_ms,
                           const volatile gint *stop, gboolean *new_mail, gboolean *no_idle, GError **error);

/* Appends a message sent through the binding m to its Sent folder over IMAP (the SPECIAL-USE \Sent
 * folder, else one with a usual Sent name), flagged \Seen, unless a message with that Message-ID is
 * in the folder already (a retry after a crash between the APPEND and our record of it never
 * duplicates the copy). OAuth2: refreshed once after a refusal. 0 with *folder (newly allocated)
 * and *found (already there), or -1 with *error naming the step. Blocks. */
int collector_append_sent(const CollectorEnv *env, MaStorage *st, const MaMailbox *m, GBytes *message,
                          const char *message_id, char **folder, gboolean *found, GError **error);

/* Next attempt after `failures` consecutive failures: interval on success, else 30 s doubling up to
 * max_backoff. Pure. */
gint64 collector_next_attempt(gint64 now, int failures, int interval, int max_backoff);

/* ---- the SMTP side of a binding (collector_smtp.c) -------------------------------------------- */

#include "agent/smtp_client/smtp_client.h"

/* The SMTP client's settings for sending as m (which has smtp_host): its TLS (implicit or STARTTLS,
 * the certificate verified unless m allows an untrusted one), AUTH PLAIN with the password or
 * XOAUTH2/OAUTHBEARER with the token (secret NULL: the session asks its token provider). Strings
 * borrowed from m, helo and secret. */
void collector_smtp_client_config(const MaMailbox *m, const char *helo, const char *secret, SmtpClientConfig *out);
/* Logs in to m's SMTP server and quits: DNS, connect, TLS and certificate, EHLO, AUTH. 0 (also
 * when m has no SMTP server), or -1 with *error "smtp <step>: host:port: <reason and the server's
 * reply>", step one of dns, connect, greeting, ehlo, starttls, tls, auth. Blocks. */
int collector_smtp_verify(const CollectorEnv *env, const MaMailbox *m, const char *secret, GError **error);

/* ---- bindings (collector_binding.c) ----------------------------------------------------------- */

/* What `mailbox bind` / POST /v1/mailboxes gave; all borrowed, NULL when not given. */
typedef struct {
  const char *email;
  const char *username;     /* NULL: the address */
  const char *preset;
  const char *protocol;     /* "imap" (default) | "pop3" */
  const char *host;         /* with port and security: an explicit server (overrides the preset's) */
  int port;
  const char *security;
  const char *auth;         /* "password" | "oauth2"; NULL: the preset's or default's first */
  const char *folders;      /* comma-separated; NULL: INBOX and Sent */
  gboolean allow_untrusted;
  gboolean archiving_off;
  /* sending through the mailbox (issue 13) */
  const char *smtp;         /* "host:port:security"; NULL: the preset's SMTP server when host is NULL */
  gboolean no_send;         /* never used to send: no SMTP server, no SMTP login check */
  gboolean no_sent_copy;    /* mailagent appends no Sent copy (the server files sent mail itself) */
  int daily_limit;          /* recipients per day through it; 0: none */
} CollectorBindRequest;

/* A new binding (not saved) from the request, the presets and the enterprise's default server;
 * the employee is linked when the address is one. *out owned by the caller. MA_ERROR_INVALID names
 * what is wrong. */
int collector_binding_make(const CollectorEnv *env, MaStorage *st, const char *enterprise_id,
                           const CollectorBindRequest *r, MaMailbox **out, GError **error);
/* Makes, verifies against the server (password) and saves the binding; an OAuth2 binding is saved
 * "pending" and verified by collector_authorize_finish. folders (may be NULL) gets the listing.
 * Nothing is saved when any step fails. */
int collector_bind(const CollectorEnv *env, MaStorage *st, const char *enterprise_id, const CollectorBindRequest *r,
                   const char *password, GPtrArray *folders, MaMailbox **out, GError **error);
/* The same without waiting on the network (the HTTP API, on the event loop): the binding is saved
 * "verifying" with its sealed password and a collector thread checks it soon after
 * (collector_sync_mailbox): it becomes "active", or "rejected" with last_error naming the step and
 * its password removed. OAuth2 bindings are saved "pending" as with collector_bind. */
int collector_bind_deferred(const CollectorEnv *env, MaStorage *st, const char *enterprise_id,
                            const CollectorBindRequest *r, const char *password, MaMailbox **out, GError **error);
/* Finishes an OAuth2 binding: exchanges the code (state must be the binding's), verifies with the
 * access token, and activates it. */
int collector_authorize_finish(const CollectorEnv *env, MaStorage *st, const char *enterprise_id, const char *mailbox_id,
                               const char *state, const char *code, const char *redirect_uri, GPtrArray *folders,
                               GError **error);
/* The same without waiting on the provider (the HTTP API): the code, state and redirect URI are kept
 * sealed in the binding, which turns "authorizing"; a collector thread then calls
 * collector_authorize_stored: "active", or back to "pending" with last_error. Only a binding that is
 * "pending" or "needs_reauth" takes a code (MA_ERROR_CONFLICT otherwise). */
int collector_authorize_deferred(const CollectorEnv *env, MaStorage *st, const char *enterprise_id,
                                 const char *mailbox_id, const char *state, const char *code, const char *redirect_uri,
                                 GError **error);
int collector_authorize_stored(const CollectorEnv *env, MaStorage *st, const MaMailbox *m, GError **error);
/* The enterprise's default server for bindings that name none: a preset, or "imap|pop3:host:port:
 * security", with its auth type; NULLs clear. */
int collector_set_default(MaStorage *st, const CollectorEnv *env, const char *enterprise_id, const char *preset,
                          const char *server, const char *auth, GError **error);

/* ---- OAuth2 glue (collector_oauth2.c) --------------------------------------------------------- */

/* MaOAuth2ClientFn for the collector: endpoints from the preset named provider, client id and
 * secret from the enterprise's settings "oauth2.<provider>.client_id" / ".client_secret" (sealed
 * under "oauth2-client:<enterprise>:<provider>"). data: the CollectorEnv. */
int collector_oauth2_client(MaStorage *st, const char *enterprise_id, const char *provider, MaOAuth2Client **out,
                            gpointer data, GError **error);
/* mailagent's own OAuth2 redirect URI, <[api] public_url>/v1/oauth2/callback (caller frees), or
 * NULL when public_url is unset (the CRM then hosts the redirect). The API serves that path. */
#define COLLECTOR_OAUTH2_CALLBACK_PATH "/v1/oauth2/callback"
char *collector_oauth2_own_redirect(const MaConfig *cfg);
/* Stores an enterprise's OAuth2 client for provider (secret sealed; NULL secret: a public client). */
int collector_oauth2_client_set(const CollectorEnv *env, MaStorage *st, const char *enterprise_id, const char *provider,
                                const char *client_id, const char *client_secret, GError **error);
/* Queues the webhook event mailbox.message: count new messages were pulled for the binding's
 * employee (best effort: a failure to queue is not the sync's failure). */
void collector_notify_new_mail(MaStorage *st, const MaMailbox *m, gint64 count);
/* The grant of binding mailbox_id was refused outside a sync (sending through the mailbox): the
 * binding turns needs_reauth (no more polling) and the CRM gets mailbox.needs_reauth, once. */
void collector_grant_revoked(MaStorage *st, const char *mailbox_id, const char *why);
/* Queues the webhook event mailbox.needs_reauth for the CRM (once per failure time) and counts it. */
void collector_notify_needs_reauth(MaStorage *st, const MaMailbox *m, const char *why);

/* ---- pool (collector_pool.c) ------------------------------------------------------------------- */

/* Starts cfg->collector_threads workers and a scheduler that every second hands due mailboxes
 * (stored next_attempt_at <= ma_now()) to idle workers. 0, or -1 with *error. cfg outlives it.
 * Without a master key (no `mailagent init` yet) it logs why and starts nothing (0). */
int collector_pool_start(const MaConfig *cfg, GError **error);
/* Stops scheduling, lets running sessions finish, joins. Accepts not started. */
void collector_pool_stop(void);
/* Called after each sync that spooled mail (e.g. pipeline_workers_notify). Before start. */
void collector_pool_set_spooled_hook(void (*fn)(void));

#endif
