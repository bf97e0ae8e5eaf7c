/* collector.c - the collector's glue: process-wide TLS context and master key, credentials of a
 * binding (the sealed password, or an access token from agent/oauth2), verification before a
 * binding is saved, and one sync of one mailbox with its lease, report and backoff.
 *
 * Never logs or reports a secret: errors carry the step and the server's reply only.
 */
#include "collector.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/metrics.h"
#include "agent/lib/tls_client.h"
#include "agent/oauth2/oauth2.h"

#include <string.h>

#define COLLECTOR_BACKOFF_BASE 30

void collector_session_result_clear(CollectorSessionResult *r)
{
  if (r->folders) g_ptr_array_unref(r->folders);
  g_free(r->appended_to);
  memset(r, 0, sizeof *r);
}

int collector_env_init(CollectorEnv *env, const MaConfig *cfg, GError **error)
{
  memset(env, 0, sizeof *env);
  env->cfg = cfg;
  g_autofree char *key_file = cfg->master_key_file ? g_strdup(cfg->master_key_file)
                                                   : g_build_filename(cfg->data_dir, "master.key", NULL);
  if (ma_master_key_load(key_file, FALSE, env->master_key, error) < 0) return -1;
  env->presets = collector_presets_load(cfg->collector_presets_file, error);
  if (!env->presets) return -1;
  env->tls = ma_tls_verifying_ctx_new(cfg->collector_ca_file, error);
  if (!env->tls) {
    g_clear_pointer(&env->presets, g_hash_table_unref);
    return -1;
  }
  env->oauth2 = (MaOAuth2Env){.master_key = env->master_key, .client_fn = collector_oauth2_client,
                              .client_data = env, .timeout = MAX(cfg->collector_timeout, 1)};
  return 0;
}

void collector_env_clear(CollectorEnv *env)
{
  if (env->tls) SSL_CTX_free(env->tls);
  if (env->presets) g_hash_table_unref(env->presets);
  memset(env, 0, sizeof *env);
}

char *collector_secret_aad(const char *mailbox_id)
{
  return g_strconcat("mailbox:", mailbox_id, NULL);
}

gint64 collector_next_attempt(gint64 now, int failures, int interval, int max_backoff)
{
  if (failures <= 0) return now + MAX(interval, 1);
  gint64 delay = COLLECTOR_BACKOFF_BASE;
  for (int i = 1; i < failures && delay < max_backoff; i++) delay *= 2;
  return now + MIN(delay, (gint64)MAX(max_backoff, COLLECTOR_BACKOFF_BASE));
}

static void session_params(const CollectorEnv *env, const MaMailbox *m, const char *secret, CollectorSessionParams *p)
{
  const MaConfig *cfg = env->cfg;
  *p = (CollectorSessionParams){
    .mailbox = m,
    .secret = secret,
    .tls = env->tls,
    .timeout_ms = MAX(cfg->collector_timeout, 1) * 1000,
    .batch_bytes = (gsize)MAX(cfg->collector_batch_bytes, 65536),
    .max_message = (gsize)cfg->max_message_size,
    .since = ma_now() - (gint64)MAX(cfg->collector_initial_days, 1) * 86400,
  };
}

static int run_session(const CollectorSessionParams *p, CollectorSink *sink, CollectorSessionResult *res, GError **error)
{
  if (g_str_equal(p->mailbox->protocol, "pop3")) return collector_pop3_run(p, sink, res, error);
  return collector_imap_run(p, sink, res, error);
}

int collector_verify(const CollectorEnv *env, const MaMailbox *m, const char *secret, GPtrArray *folders,
                     GError **error)
{
  CollectorSessionParams p;
  session_params(env, m, secret, &p);
  p.verify_only = TRUE;
  CollectorSessionResult res = {0};
  if (folders) res.folders = g_ptr_array_ref(folders);
  int rc = run_session(&p, NULL, &res, error);
  collector_session_result_clear(&res);
  if (rc == 0 && m->smtp_host) rc = collector_smtp_verify(env, m, secret, error);
  return rc;
}

/* The binding's secret in clear (caller frees with g_free after wiping), or NULL with *error.
 * OAuth2: a valid access token, refreshed first when force_refresh. */
static char *mailbox_secret(const CollectorEnv *env, MaStorage *st, const MaMailbox *m, gboolean force_refresh,
                            GError **error)
{
  if (g_str_equal(m->auth, "oauth2")) {
    g_autofree char *owner = collector_secret_aad(m->id);
    char *token = NULL;
    if (oauth2_access_token(&env->oauth2, st, owner, force_refresh, &token, error) < 0) return NULL;
    return token;
  }
  if (!m->secret_sealed) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "auth: the binding has no password");
    return NULL;
  }
  g_autofree char *aad = collector_secret_aad(m->id);
  return ma_secret_open(env->master_key, aad, m->secret_sealed, error);
}

static void secret_free(char *secret)
{
  if (!secret) return;
  memset(secret, 0, strlen(secret));
  g_free(secret);
}

/* A binding saved "verifying": check it now; active, or rejected with the reason and no secret. */
static int verify_stored(const CollectorEnv *env, MaStorage *st, const MaMailbox *m, GError **error)
{
  GError *failure = NULL;
  char *secret = mailbox_secret(env, st, m, FALSE, &failure);
  if (secret) collector_verify(env, m, secret, NULL, &failure);
  secret_free(secret);
  gint64 now = ma_now();
  if (!failure) return storage_mailbox_set_state(st, m->enterprise_id, m->id, "active", now, error) < 0 ? -1 : 0;
  MaMailboxSyncReport report = {.ok = FALSE, .error_text = failure->message, .new_state = "rejected", .now = now};
  int rc = storage_mailbox_report(st, m->id, &report, error);
  if (rc == 0) rc = storage_mailbox_set_secret(st, m->id, NULL, error);
  g_error_free(failure);
  return rc;
}

int collector_idle_mailbox(const CollectorEnv *env, MaStorage *st, const char *mailbox_id, int idle_ms,
                           const volatile gint *stop, gboolean *new_mail, gboolean *no_idle, GError **error)
{
  *new_mail = *no_idle = FALSE;
  g_autoptr(MaMailbox) m = NULL;
  int found = storage_mailbox_get(st, NULL, mailbox_id, &m, error);
  if (found <= 0) {
    if (found == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no mailbox %s", mailbox_id);
    return -1;
  }
  if (g_strcmp0(m->state, "active") != 0 || !m->archiving || !g_str_equal(m->protocol, "imap")) return 1;
  char *secret = mailbox_secret(env, st, m, FALSE, error);
  if (!secret) return -1;
  CollectorSessionParams p;
  session_params(env, m, secret, &p);
  p.idle = TRUE;
  p.idle_ms = idle_ms;
  p.stop = stop;
  CollectorSessionResult res = {0};
  int rc = collector_imap_run(&p, NULL, &res, error);
  secret_free(secret);
  *new_mail = res.new_mail;
  *no_idle = res.no_idle;
  collector_session_result_clear(&res);
  return rc;
}

/* One session of m with its secret (p: the session's extra parameters, NULL for a sync); an OAuth2
 * token the server refused (revoked early or expired) is refreshed once and the session run again,
 * keeping what the first run fetched counted. 0, or -1 with *failure. */
static int run_with_secret(const CollectorEnv *env, MaStorage *st, const MaMailbox *m, const CollectorSessionParams *extra,
                           CollectorSink *sink, CollectorSessionResult *res, GError **failure)
{
  char *secret = mailbox_secret(env, st, m, FALSE, failure);
  if (!secret) return -1;
  CollectorSessionParams p;
  session_params(env, m, secret, &p);
  if (extra) {
    p.append = extra->append;
    p.append_message_id = extra->append_message_id;
  }
  int rc = run_session(&p, sink, res, failure);
  if (rc < 0 && res->auth_failed && g_str_equal(m->auth, "oauth2")) {
    secret_free(secret);
    g_clear_error(failure);
    gint64 fetched = res->fetched;
    collector_session_result_clear(res);
    res->fetched = fetched;
    secret = mailbox_secret(env, st, m, TRUE, failure);
    if (secret) {
      p.secret = secret;
      rc = run_session(&p, sink, res, failure);
    } else {
      rc = -1;
    }
  }
  secret_free(secret);
  return rc;
}

int collector_sync_mailbox(const CollectorEnv *env, MaStorage *st, MaSpool *sp, const char *mailbox_id,
                           const char *lease_owner, gboolean *busy, GError **error)
{
  *busy = FALSE;
  g_autoptr(MaMailbox) m = NULL;
  int found = storage_mailbox_get(st, NULL, mailbox_id, &m, error);
  if (found <= 0) {
    if (found == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no mailbox %s", mailbox_id);
    return -1;
  }
  gint64 now = ma_now();
  int lease_seconds = env->cfg->collector_lease > 0 ? env->cfg->collector_lease : MAX(3 * env->cfg->collector_timeout, 60);
  int leased = storage_mailbox_lease(st, m->id, lease_owner, now, now + lease_seconds, error);
  if (leased < 0) return -1;
  if (leased == 0) {
    *busy = TRUE;
    return 0;
  }
  if (g_strcmp0(m->state, "verifying") == 0 || g_strcmp0(m->state, "authorizing") == 0) {
    int rc = g_str_equal(m->state, "verifying") ? verify_stored(env, st, m, error) : collector_authorize_stored(env, st, m, error);
    storage_mailbox_release(st, m->id, lease_owner, NULL);
    return rc;
  }
  const MaConfig *cfg = env->cfg;
  GError *failure = NULL;
  CollectorSessionResult res = {0};
  CollectorSink *sink = collector_sink_new(st, sp, m);
  collector_sink_set_lease(sink, lease_owner, lease_seconds);
  const char *new_state = NULL;
  run_with_secret(env, st, m, NULL, sink, &res, &failure);
  if (failure && g_str_equal(m->auth, "oauth2") && (failure->code == MA_ERROR_CONFLICT || res.auth_failed))
    new_state = "needs_reauth";
  else if (failure && res.auth_failed)
    new_state = "failing";
  else if (!failure && g_strcmp0(m->state, "active") != 0 && g_strcmp0(m->state, "paused") != 0)
    new_state = "active";
  int failures = failure ? m->failures + 1 : 0;
  ma_metrics_add(MA_METRIC_MAILBOX_FETCHED, res.fetched);
  if (failure) ma_metrics_inc(MA_METRIC_MAILBOX_SYNC_FAILED);
  MaMailboxSyncReport report = {
    .ok = failure == NULL,
    .error_text = failure ? failure->message : NULL,
    .new_state = new_state,
    .fetched = res.fetched,
    .skipped = res.skipped,
    .quarantined = res.quarantined,
    .now = ma_now(),
  };
  report.next_attempt_at = collector_next_attempt(report.now, failures, cfg->collector_interval, cfg->collector_max_backoff);
  GError *store_error = NULL;
  int rc = storage_mailbox_report(st, m->id, &report, &store_error);
  storage_mailbox_release(st, m->id, lease_owner, NULL);
  if (new_state && g_str_equal(new_state, "needs_reauth")) collector_notify_needs_reauth(st, m, report.error_text);
  if (res.fetched > 0) collector_notify_new_mail(st, m, res.fetched);
  collector_sink_free(sink);
  collector_session_result_clear(&res);
  if (rc < 0) {
    g_clear_error(&failure);
    g_propagate_error(error, store_error);
    return -1;
  }
  if (failure) g_propagate_error(error, failure);
  return 0;
}

int collector_append_sent(const CollectorEnv *env, MaStorage *st, const MaMailbox *m, GBytes *message,
                          const char *message_id, char **folder, gboolean *found, GError **error)
{
  *folder = NULL;
  *found = FALSE;
  if (!g_str_equal(m->protocol, "imap")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "append: the binding is POP3, which has no Sent folder");
    return -1;
  }
  CollectorSessionResult res = {0};
  CollectorSessionParams extra = {.append = message, .append_message_id = message_id};
  GError *failure = NULL;
  int rc = run_with_secret(env, st, m, &extra, NULL, &res, &failure);
  if (rc == 0) {
    *folder = g_steal_pointer(&res.appended_to);
    *found = res.append_found;
  } else {
    g_propagate_error(error, failure);
  }
  collector_session_result_clear(&res);
  return rc;
}
