/* oauth2.h - OAuth2 for mail protocols: the authorization-code flow with PKCE, token refresh with
 * refresh-token rotation, and the token provider that every mail client of mailagent calls for a
 * valid access token (the collector's IMAP/POP3 sessions, and SMTP XOAUTH2 through employee
 * mailboxes and enterprise relays). libcurl does the HTTP.
 *
 * The token provider, for any owner (a string naming what the grant belongs to: "mailbox:<id>",
 * "relay:<id>"):
 *
 *   char *token = NULL;
 *   if (oauth2_access_token(&env, st, "relay:42", FALSE, &token, &error) < 0) ... ;
 *   ... AUTH XOAUTH2 with oauth2_sasl_xoauth2(user, token) ...
 *   on an authentication failure: oauth2_access_token(&env, st, "relay:42", TRUE, &token, &error)
 *   once, then retry once.
 *
 * It returns the stored access token while it has more than OAUTH2_EXPIRY_MARGIN seconds left
 * (ma_now(), so tests move time), else refreshes. A refresh stores the new access token and a
 * rotated refresh token in one compare-and-set on the grant's generation (storage_oauth2_grant_rotate):
 * the old refresh token is retired in the same transaction the new one is written, a provider that
 * sends none (Google) keeps the old one, and of two concurrent refreshers only one writes (the
 * other reads the winner's token). A provider answering `invalid_grant` (revoked, expired) marks
 * the grant revoked and the call fails with MA_ERROR_CONFLICT ("needs reauthorization"); the
 * caller sets its binding to needs_reauth and notifies the CRM. Network or provider trouble is
 * MA_ERROR_TEMPFAIL. Tokens are sealed at rest (associated data "oauth2:<owner>") and never logged.
 *
 * Where the client comes from is the caller's business: env->client_fn resolves (enterprise,
 * provider) to endpoints and a client id/secret (the collector takes endpoints from its presets and
 * the client from the enterprise's settings).
 *
 * Blocking (HTTP): call from worker threads or the CLI, never from the event loop.
 */
#ifndef MA_OAUTH2_H
#define MA_OAUTH2_H

#include "storage/storage.h"

#include <glib.h>

#define OAUTH2_EXPIRY_MARGIN 60
#define OAUTH2_STATE_TTL 600
#define OAUTH2_RESPONSE_MAX (64 * 1024)

typedef struct {
  char *provider;
  char *authorize_url;
  char *token_url;
  char *revoke_url;     /* NULL when none */
  char *scope;
  char *client_id;
  char *client_secret;  /* NULL for a public client */
} MaOAuth2Client;

void ma_oauth2_client_free(MaOAuth2Client *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaOAuth2Client, ma_oauth2_client_free)

/* Resolves the client for (enterprise, provider): 0 with *out (caller frees), or -1 with *error. */
typedef int (*MaOAuth2ClientFn)(MaStorage *st, const char *enterprise_id, const char *provider, MaOAuth2Client **out,
                                gpointer data, GError **error);

typedef struct {
  const guint8 *master_key;  /* 32 bytes */
  MaOAuth2ClientFn client_fn;
  gpointer client_data;
  int timeout;               /* seconds per HTTP request */
} MaOAuth2Env;

/* ---- the token provider ------------------------------------------------------------------------ */

/* A valid access token for owner in *token (caller frees; wipe it). force_refresh: the server just
 * refused the current one. 0, or -1 with *error: MA_ERROR_NOT_FOUND no grant, MA_ERROR_CONFLICT the
 * grant is revoked (needs reauthorization), MA_ERROR_TEMPFAIL try later. */
int oauth2_access_token(const MaOAuth2Env *env, MaStorage *st, const char *owner, gboolean force_refresh,
                        char **token, GError **error);

/* ---- authorization code + PKCE ------------------------------------------------------------------ */

/* Starts a grant for owner: makes a PKCE verifier and a single-use state (stored, expiring after
 * OAUTH2_STATE_TTL) and returns the provider's authorization URL in *url (caller frees). */
int oauth2_authorize_begin(const MaOAuth2Env *env, MaStorage *st, const char *enterprise_id, const char *owner,
                           const char *provider, const char *redirect_uri, const char *login_hint, char **url,
                           GError **error);
/* Completes it: consumes state (it must belong to owner), exchanges code with the verifier at the
 * token endpoint and stores the grant. MA_ERROR_INVALID for an unknown, used or expired state or a
 * code the provider refuses. */
int oauth2_authorize_finish(const MaOAuth2Env *env, MaStorage *st, const char *enterprise_id, const char *owner,
                            const char *provider, const char *state, const char *code, const char *redirect_uri,
                            GError **error);

/* ---- pure helpers (oauth2_token.c): unit-tested and fuzzed ------------------------------------- */

typedef struct {
  char *access_token;
  char *refresh_token;   /* NULL when the provider sent none */
  gint64 expires_in;     /* seconds; 3600 when absent */
  char *error;           /* the provider's error code ("invalid_grant"), NULL on success */
} MaOAuth2TokenResponse;

void ma_oauth2_token_response_clear(MaOAuth2TokenResponse *r);

/* Parses a token endpoint's JSON body. 0 with *out filled (either access_token or error is set),
 * or -1 with *error when it is not such a document. */
int oauth2_token_response_parse(const char *body, gsize len, MaOAuth2TokenResponse *out, GError **error);

/* PKCE (RFC 7636): a new verifier of 43 characters, and its S256 challenge. Caller frees both. */
char *oauth2_pkce_verifier(void);
char *oauth2_pkce_challenge(const char *verifier);

/* SASL initial responses, base64-encoded (caller frees):
 * XOAUTH2: "user=" user ^A "auth=Bearer " token ^A ^A;
 * OAUTHBEARER (RFC 7628): "n,a=" user "," ^A "host=" host ^A "port=" port ^A "auth=Bearer " token ^A ^A. */
char *oauth2_sasl_xoauth2(const char *user, const char *token);
char *oauth2_sasl_oauthbearer(const char *user, const char *host, int port, const char *token);

#endif
