/* smtp_server.h - the inbound SMTP listener of `mailagent serve`.
 *
 * Accepts connections on cfg->smtp_listen with libevent, runs one smtp_session per connection,
 * upgrades to TLS on STARTTLS (cfg->tls_cert_file / tls_key_file, TLS 1.2+), caps concurrent
 * sessions overall and per client address, and hands finished messages to a group-commit spool
 * writer thread: a 250 is sent only after spool_put has synced the message (one fsync for every
 * message queued meanwhile), 451 4.3.0 when the sync failed. It never relays: RCPT accepts only
 * live virtual inbound addresses of cfg->inbound_domain.
 *
 * Threads: every function here must be called from the thread running `base`. RCPT-time look-ups
 * (addresses, employees, settings) read an in-memory snapshot that a refresher thread keeps
 * current with its own storage handle (rcpt_refresher.h); the writer thread opens its own spool
 * handle; both under cfg->data_dir. The loop never waits for the database. `base` does not need
 * evthread_use_pthreads(): the writer wakes the loop through a pipe.
 */
#ifndef MA_SMTP_SERVER_H
#define MA_SMTP_SERVER_H

#include "agent/lib/config.h"
#include "agent/lib/error.h"
#include "storage/spool.h"

#include <event2/event.h>
#include <glib.h>

typedef struct SmtpServer SmtpServer;

/* Called on the loop thread after each successful spool commit (n messages now durable), e.g. the
 * pipeline's wake-up. Must not block. */
typedef void (*SmtpSpooledFn)(void *arg, guint n);
/* Called once on the loop thread when shutdown has finished (all sessions gone or grace over). */
typedef void (*SmtpShutdownFn)(void *arg);

/* Creates a server (not yet listening). Copies what it needs from cfg (cfg may be freed after).
 * Loads the TLS certificate and key when both files exist; when they do not, STARTTLS is not
 * advertised (a warning is logged). Loads the RCPT snapshot from storage (which must exist) and
 * starts its refresher and the spool writer.
 * Returns NULL with *error set. Free with smtp_server_free. */
SmtpServer *smtp_server_new(struct event_base *base, const MaConfig *cfg, GError **error);

/* Where the submission listener hands each finished message (agent/outbound implements it):
 * submit takes ownership of e and returns a ticket; done(arg, reply) runs later on the loop thread
 * with the complete SMTP reply for the client ("250 2.0.0 Ok: queued as ID", a 5xx refusal, or
 * 451), unless cancel(sink, ticket) came first (the client went away). pending: messages not yet
 * answered. */
typedef void (*SmtpSinkDoneFn)(void *arg, const char *reply);
typedef struct {
  void *(*submit)(void *sink, MaSpoolEntry *e, SmtpSinkDoneFn done, void *arg);
  void (*cancel)(void *sink, void *ticket);
  guint (*pending)(void *sink);
} SmtpSinkOps;

/* The SMTP submission listener ([submission] listen): the same sessions with AUTH required
 * (PLAIN/LOGIN, only after STARTTLS unless [submission] loopback_auth and a loopback client;
 * credentials from storage_submission_find), any recipient, no forwarder policy; finished
 * messages go to sink instead of the spool. Otherwise as smtp_server_new. */
/* The same on [submission] tls_listen with implicit TLS (RFC 8314: TLS from the first octet, the
 * session starts as after STARTTLS and does not offer it). Needs the certificate: NULL with
 * *error without one. */
SmtpServer *smtp_server_new_submission_tls(struct event_base *base, const MaConfig *cfg, const SmtpSinkOps *ops,
                                           void *sink, GError **error);
SmtpServer *smtp_server_new_submission(struct event_base *base, const MaConfig *cfg, const SmtpSinkOps *ops,
                                       void *sink, GError **error);

/* Sets the hook called after each spool commit (NULL to clear). */
void smtp_server_set_spooled_hook(SmtpServer *srv, SmtpSpooledFn fn, void *arg);

/* Binds cfg->smtp_listen and starts accepting. 0, or -1 with *error (address in use...). */
int smtp_server_start(SmtpServer *srv, GError **error);

/* SIGHUP: re-reads the TLS certificate/key named by cfg and takes the new limits (sizes,
 * timeouts, policy default, hostname) for sessions that start from now on. Live sessions keep
 * running untouched. On error (bad certificate) the old context stays and -1 is returned with
 * *error. The listen address is not changed by a reload. */
int smtp_server_reload(SmtpServer *srv, const MaConfig *cfg, GError **error);

/* SIGTERM: stops accepting at once; sessions in a transaction may finish (new MAIL gets 421 4.3.2),
 * idle ones get "421 4.3.2 shutting down" and are closed; after grace_seconds every remaining
 * session is closed. Waits for the spool writer to finish what it holds, then calls done(arg)
 * once on the loop thread. */
void smtp_server_shutdown(SmtpServer *srv, int grace_seconds, SmtpShutdownFn done, void *arg);

/* Number of live sessions (for /metrics and tests). */
guint smtp_server_session_count(SmtpServer *srv);

/* Closes everything (sessions, listener, writer thread after draining its queue, storage).
 * Accepts NULL. */
void smtp_server_free(SmtpServer *srv);

#endif
