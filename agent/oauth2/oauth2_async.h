/* oauth2_async.h - the token provider (oauth2_access_token) for code that runs on an event loop:
 * the SMTP client's XOAUTH2/OAUTHBEARER (the employee-mailbox channel, and enterprise relays that
 * sign in with XOAUTH2). Requests run in order on a worker thread with its own storage handle,
 * because a refresh is an HTTP exchange with the provider; the answer comes back
 * on the loop's thread through a pipe, so the loop never waits on the network or the database.
 *
 * Usage (on the loop thread only):
 *   guint t = oauth2_async_get(a, "mailbox:42", FALSE, ready, arg);  ... ready(arg, token, why)
 *   oauth2_async_cancel(a, t);   the answer is dropped, ready never called
 * The signatures match SmtpTokenProvider (agent/smtp_client/smtp_client_io.h).
 */
#ifndef MA_OAUTH2_ASYNC_H
#define MA_OAUTH2_ASYNC_H

#include "oauth2.h"

#include <event2/event.h>

typedef struct Oauth2Async Oauth2Async;

/* token: borrowed for the call (wiped after it); NULL with why (no secret in it) on failure. */
typedef void (*Oauth2AsyncReady)(void *arg, const char *token, const char *why);

/* Answers are delivered on base's thread. env is copied; what its pointers reach (master key,
 * client_data) must outlive the provider. Workers open storage in data_dir. NULL with *error when
 * the pipe or the pool cannot be made. */
Oauth2Async *oauth2_async_new(struct event_base *base, const MaOAuth2Env *env, const char *data_dir, GError **error);
/* Called on the worker thread, with its storage handle, when owner's grant turned out revoked or
 * expired (MA_ERROR_CONFLICT: needs reauthorization), so the owner's module can mark what depends
 * on it. Set it before the first request. */
typedef void (*Oauth2AsyncRevoked)(MaStorage *st, const char *owner, const char *why, void *data);
void oauth2_async_set_revoked(Oauth2Async *a, Oauth2AsyncRevoked fn, void *data);

/* Waits for the requests in flight (their answers are dropped), then frees. Accepts NULL. */
void oauth2_async_free(Oauth2Async *a);

/* Starts getting owner's access token; returns the ticket (> 0). ctx: the Oauth2Async. */
guint oauth2_async_get(void *ctx, const char *owner, gboolean force_refresh, Oauth2AsyncReady ready, void *arg);
/* Withdraws a request: its ready is never called. Unknown or answered tickets are ignored. */
void oauth2_async_cancel(void *ctx, guint ticket);

#endif
