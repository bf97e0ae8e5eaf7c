/* api_oauth2.c - GET /v1/oauth2/callback, mailagent's own OAuth2 redirect (when `[api] public_url`
 * is set): where the provider sends the browser back with the code after a mailbox's or an
 * enterprise relay's sign-in. No API key reaches it: the single-use state, a random secret, names
 * whose sign-in it is and its enterprise. The answer is a short HTML page for the person signing
 * in (no caching, no Referer); the code never reaches a log. The exchange with the provider never
 * runs on the loop: a mailbox's on a collector thread, a relay's on one of the API's read workers.
 */
#include "api_internal.h"

#include "agent/collector/collector.h"
#include "agent/lib/clock.h"
#include "agent/relay/relay.h"

#include <string.h>

#define MAX_FIELD_LEN 1024

/* The page the person signing in sees at the end (status 200 or 400); text is escaped here. */
static void callback_page(ApiCtx *ctx, int status, const char *title, const char *text)
{
  g_autofree char *t = g_markup_escape_text(title, -1), *x = g_markup_escape_text(text, -1);
  g_autofree char *page = g_strdup_printf("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>"
                                          "<body><h1>%s</h1><p>%s</p></body></html>\n",
                                          t, t, x);
  struct evkeyvalq *out = evhttp_request_get_output_headers(ctx->req);
  /* the URL carried the code: no caching, and no Referer to whatever the page links to */
  evhttp_add_header(out, "Cache-Control", "no-store");
  evhttp_add_header(out, "Referrer-Policy", "no-referrer");
  evhttp_add_header(out, "Content-Security-Policy", "default-src 'none'");
  api_reply_bytes(ctx, status, "text/html; charset=utf-8", page, strlen(page));
}

/* An enterprise relay's sign-in brought back to mailagent's own callback: the code is exchanged on
 * a read worker (an HTTP exchange with the provider), and the page answered from there. The job
 * owns everything in it; relay_done frees it on the loop. */
typedef struct {
  const MaOAuth2Env *oauth2;  /* the process's, read-only */
  char *enterprise_id, *relay_id, *state, *code, *redirect;
  GError *error;
  int rc;
} RelaySignIn;

static void relay_run(MaStorage *st, void *data)
{
  RelaySignIn *job = data;
  g_autoptr(MaRelay) r = NULL;
  int found = storage_relay_get(st, job->enterprise_id, job->relay_id, &r, &job->error);
  if (found == 0) g_set_error(&job->error, MA_ERROR, MA_ERROR_NOT_FOUND, "the relay no longer exists");
  job->rc = found > 0 ? relay_oauth2_finish(job->oauth2, st, r, job->state, job->code, job->redirect, &job->error) : -1;
}

static void relay_done(ApiCtx *ctx, void *data)
{
  RelaySignIn *job = data;
  if (job->rc == 0) {
    api_audit(ctx, job->enterprise_id, "relay.authorize", job->relay_id, NULL, NULL);
    callback_page(ctx, 200, "Sign-in received",
                  "The relay is signed in. It carries mail once its test passes (mailagent relay test). You can close "
                  "this window.");
  } else if (job->error->domain != MA_ERROR || job->error->code == MA_ERROR_TEMPFAIL ||
             job->error->code == MA_ERROR_INTERNAL) {
    callback_page(ctx, 503, "Please try again", "The sign-in could not be recorded just now; start it again in a minute.");
  } else {
    g_autofree char *text = g_strdup_printf("The sign-in did not complete: %s.", job->error->message);
    callback_page(ctx, 400, "Sign-in not completed", text);
  }
  memset(job->code, 0, strlen(job->code));
  g_free(job->code);
  g_free(job->state);
  g_free(job->redirect);
  g_free(job->enterprise_id);
  g_free(job->relay_id);
  g_clear_error(&job->error);
  g_free(job);
}

static void relay_callback(ApiCtx *ctx, CollectorEnv *env, const char *enterprise_id, const char *relay_id,
                           const char *state, const char *code)
{
  RelaySignIn *job = g_new0(RelaySignIn, 1);
  job->oauth2 = &env->oauth2;
  job->enterprise_id = g_strdup(enterprise_id);
  job->relay_id = g_strdup(relay_id);
  job->state = g_strdup(state);
  job->code = g_strdup(code);
  job->redirect = collector_oauth2_own_redirect(ctx->cfg);
  api_defer(ctx, relay_run, relay_done, job);
}

/* GET /v1/oauth2/callback?state=&code= (or &error= when the person or the provider refused): the
 * provider's redirect to mailagent's own callback. The state, unused and unexpired, names the
 * binding or the relay and its enterprise; a mailbox's code is then handed on as POST :callback
 * does, and a collector thread exchanges it; a relay's is exchanged on a read worker. */
static void oauth2_callback(ApiCtx *ctx)
{
  static const char *const params[] = {"state", "code", "error", "error_description", "error_uri", "scope",
                                       "session_state", "iss", "authuser", "hd", "prompt", NULL};
  if (!api_check_query(ctx, params)) return;
  const char *state = api_query(ctx, "state"), *code = api_query(ctx, "code"), *refused = api_query(ctx, "error");
  if (!ctx->cfg->api_public_url) {
    callback_page(ctx, 404, "Not available", "This mailagent does not receive OAuth2 sign-ins itself ([api] public_url is not set).");
    return;
  }
  if (!state || strlen(state) > MAX_FIELD_LEN || (!code && !refused) || (code && strlen(code) > 4 * MAX_FIELD_LEN)) {
    callback_page(ctx, 400, "Sign-in not completed", "The provider's answer is incomplete (no state, or no code).");
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autofree char *owner = NULL, *enterprise_id = NULL;
  int found = storage_oauth2_state_find(ctx->st, state, ma_now(), &owner, &enterprise_id, &error);
  if (found < 0) {
    callback_page(ctx, 503, "Please try again", "The sign-in could not be recorded just now; start it again in a minute.");
    return;
  }
  gboolean relay = found == 1 && g_str_has_prefix(owner, "relay:");
  if (found == 0 || (!relay && !g_str_has_prefix(owner, "mailbox:"))) {
    callback_page(ctx, 400, "Sign-in expired", "This sign-in link was used already or has expired. Start the sign-in again.");
    return;
  }
  if (refused) {
    g_autofree char *text = g_strdup_printf("The provider answered \"%.100s\". Nothing was changed; the %s still "
                                            "waits for its authorization.", refused, relay ? "relay" : "mailbox");
    callback_page(ctx, 400, "Sign-in refused", text);
    return;
  }
  CollectorEnv *env = api_collector_env(ctx);
  if (!env) return;
  if (relay) {
    relay_callback(ctx, env, enterprise_id, owner + strlen("relay:"), state, code);
    return;
  }
  const char *mailbox_id = owner + strlen("mailbox:");
  g_autofree char *redirect = collector_oauth2_own_redirect(ctx->cfg);
  if (collector_authorize_deferred(env, ctx->st, enterprise_id, mailbox_id, state, code, redirect, &error) < 0) {
    if (error->code == MA_ERROR_TEMPFAIL)
      callback_page(ctx, 503, "Please try again", "The sign-in could not be recorded just now; start it again in a minute.");
    else
      callback_page(ctx, 400, "Sign-in not needed", "This mailbox is not waiting for a sign-in.");
    return;
  }
  callback_page(ctx, 200, "Sign-in received",
                "mailagent is checking the mailbox with the new authorization. You can close this window.");
}

const ApiRoute api_oauth2_routes[] = {
  {EVHTTP_REQ_GET, COLLECTOR_OAUTH2_CALLBACK_PATH, API_AUTH_NONE, oauth2_callback},
  {0},
};
