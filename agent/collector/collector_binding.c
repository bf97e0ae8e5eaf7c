/* collector_binding.c - making a binding from what an employee or administrator gave (a preset, an
 * explicit server, or the enterprise's default server), checking it against the real server, and
 * saving it only when that check passed. Shared by the CLI and the HTTP API so both refuse the same
 * things with the same words.
 *
 * The password is sealed before it reaches storage (associated data "mailbox:<id>"); it never
 * appears in an error. An OAuth2 binding is saved as "pending" (not polled) until the authorization
 * code comes back; then it is verified with the access token and becomes "active".
 */
#include "collector.h"

#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <jansson.h>
#include <string.h>

#define DEFAULT_PRESET_KEY "mailbox.default_preset"
#define DEFAULT_SERVER_KEY "mailbox.default_server"
#define DEFAULT_AUTH_KEY "mailbox.default_auth"

static gboolean text_ok(const char *s, gsize max)
{
  if (!s || !*s || strlen(s) > max) return FALSE;
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    if (*c < 0x20 || *c == 0x7f) return FALSE;
  return TRUE;
}

/* Fills protocol/host/port/security from a preset. */
static int from_preset(const CollectorEnv *env, const char *preset_id, const char *protocol, MaMailbox *m,
                       gboolean *oauth2_ok, gboolean *password_ok, GError **error)
{
  const MaPreset *p = g_hash_table_lookup(env->presets, preset_id);
  if (!p) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unknown preset %s", preset_id);
    return -1;
  }
  const MaServer *srv = g_str_equal(protocol, "pop3") ? &p->pop3 : &p->imap;
  if (!srv->host) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset %s has no %s server%s", preset_id, protocol,
                g_str_equal(preset_id, "custom") ? ": name the host" : "");
    return -1;
  }
  m->preset = g_strdup(preset_id);
  m->host = g_strdup(srv->host);
  m->port = srv->port;
  m->security = g_strdup(ma_security_name(srv->security));
  m->send_id = p->imap_id;
  *oauth2_ok = p->oauth2_ok;
  *password_ok = p->password_ok;
  return 0;
}

/* The SMTP side: the server given, else the preset's when the incoming server comes from the preset
 * too (an explicit --host says the preset's servers are not the ones in use); none with no_send. */
static int binding_smtp(const CollectorEnv *env, const CollectorBindRequest *r, MaMailbox *m, GError **error)
{
  const MaPreset *p = m->preset ? g_hash_table_lookup(env->presets, m->preset) : NULL;
  if (r->daily_limit < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the daily limit must be 0 (none) or more");
    return -1;
  }
  m->daily_limit = r->daily_limit;
  m->sent_copy = !r->no_sent_copy && !(p && p->saves_sent);
  if (r->no_send) return 0;
  if (r->smtp) {
    MaServer srv;
    if (collector_server_parse(r->smtp, &srv, error) < 0) return -1;
    m->smtp_host = srv.host;
    m->smtp_port = srv.port;
    m->smtp_security = g_strdup(ma_security_name(srv.security));
  } else if (p && p->smtp.host && !r->host) {
    m->smtp_host = g_strdup(p->smtp.host);
    m->smtp_port = p->smtp.port;
    m->smtp_security = g_strdup(ma_security_name(p->smtp.security));
  }
  return 0;
}

int collector_binding_make(const CollectorEnv *env, MaStorage *st, const char *enterprise_id,
                           const CollectorBindRequest *r, MaMailbox **out, GError **error)
{
  *out = NULL;
  if (!text_ok(r->email, 320) || !strchr(r->email, '@')) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "\"%s\" is not an e-mail address", r->email ? r->email : "");
    return -1;
  }
  const char *protocol = r->protocol ? r->protocol : "imap";
  if (!g_str_equal(protocol, "imap") && !g_str_equal(protocol, "pop3")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "protocol must be imap or pop3");
    return -1;
  }
  g_autoptr(MaMailbox) m = g_new0(MaMailbox, 1);
  m->id = ma_id_new();
  m->enterprise_id = g_strdup(enterprise_id);
  m->email = g_utf8_strdown(r->email, -1);
  m->username = g_strdup(r->username && *r->username ? r->username : m->email);
  m->protocol = g_strdup(protocol);
  m->archiving = !r->archiving_off;
  m->allow_untrusted = r->allow_untrusted;
  m->created_at = ma_now();
  if (!text_ok(m->username, 320)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the username contains a control character or is too long");
    return -1;
  }
  gboolean oauth2_ok = TRUE, password_ok = TRUE;
  const char *auth = r->auth;
  if (r->host) {
    MaSecurity sec;
    if (!text_ok(r->host, 253) || r->port < 1 || r->port > 65535 || ma_security_parse(r->security ? r->security : "tls", &sec) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the server needs a host, a port 1-65535 and security tls or starttls");
      return -1;
    }
    m->preset = r->preset ? g_strdup(r->preset) : NULL;
    m->host = g_strdup(r->host);
    m->port = r->port;
    m->security = g_strdup(ma_security_name(sec));
    if (r->preset) {
      const MaPreset *p = g_hash_table_lookup(env->presets, r->preset);
      if (!p) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unknown preset %s", r->preset);
        return -1;
      }
      m->send_id = p->imap_id;
    }
  } else if (r->preset) {
    if (from_preset(env, r->preset, protocol, m, &oauth2_ok, &password_ok, error) < 0) return -1;
  } else {
    /* the organisation's default server */
    g_autofree char *preset = NULL, *server = NULL, *def_auth = NULL;
    if (storage_setting_get(st, enterprise_id, DEFAULT_PRESET_KEY, &preset, error) < 0 ||
        storage_setting_get(st, enterprise_id, DEFAULT_SERVER_KEY, &server, error) < 0 ||
        storage_setting_get(st, enterprise_id, DEFAULT_AUTH_KEY, &def_auth, error) < 0)
      return -1;
    if (preset && !server) {
      if (from_preset(env, preset, protocol, m, &oauth2_ok, &password_ok, error) < 0) return -1;
    } else if (server) {
      /* "protocol:host:port:security" */
      const char *colon = strchr(server, ':');
      MaServer srv;
      if (!colon || collector_server_parse(colon + 1, &srv, error) < 0) return -1;
      g_free(m->protocol);
      m->protocol = g_strndup(server, (gsize)(colon - server));
      m->host = srv.host;
      m->port = srv.port;
      m->security = g_strdup(ma_security_name(srv.security));
      m->preset = g_strdup(preset);
    } else {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "name a server (--preset or --host) or set the enterprise's default (mailbox default)");
      return -1;
    }
    if (!auth) auth = def_auth;
  }
  if (!auth) auth = password_ok ? "password" : "oauth2";
  if (!g_str_equal(auth, "password") && !g_str_equal(auth, "oauth2")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "auth must be password or oauth2");
    return -1;
  }
  if ((g_str_equal(auth, "oauth2") && !oauth2_ok) || (g_str_equal(auth, "password") && !password_ok)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset %s does not accept %s", m->preset, auth);
    return -1;
  }
  m->auth = g_strdup(auth);
  if (binding_smtp(env, r, m, error) < 0) return -1;
  if (r->folders && *r->folders) {
    g_auto(GStrv) parts = g_strsplit(r->folders, ",", -1);
    for (char **p = parts; *p; p++) {
      g_strstrip(*p);
      if (!text_ok(*p, 1024)) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "folder names must be printable text, comma-separated");
        return -1;
      }
    }
    m->folders = g_strjoinv("\n", parts);
  }
  MaEmployee *emp = NULL;
  if (storage_employee_find(st, enterprise_id, m->email, &emp, error) < 0) return -1;
  if (emp) m->employee_id = g_strdup(emp->id);
  ma_employee_free(emp);
  m->state = g_strdup(g_str_equal(auth, "oauth2") ? "pending" : "active");
  *out = g_steal_pointer(&m);
  return 0;
}

int collector_bind(const CollectorEnv *env, MaStorage *st, const char *enterprise_id, const CollectorBindRequest *r,
                   const char *password, GPtrArray *folders, MaMailbox **out, GError **error)
{
  *out = NULL;
  g_autoptr(MaMailbox) m = NULL;
  if (collector_binding_make(env, st, enterprise_id, r, &m, error) < 0) return -1;
  if (g_str_equal(m->auth, "password")) {
    if (!password || !*password) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "a password is needed (or choose oauth2)");
      return -1;
    }
    if (collector_verify(env, m, password, folders, error) < 0) return -1;
    g_autofree char *aad = collector_secret_aad(m->id);
    m->secret_sealed = ma_secret_seal(env->master_key, aad, password);
  }
  if (storage_mailbox_add(st, m, error) < 0) return -1;
  *out = g_steal_pointer(&m);
  return 0;
}

int collector_bind_deferred(const CollectorEnv *env, MaStorage *st, const char *enterprise_id,
                            const CollectorBindRequest *r, const char *password, MaMailbox **out, GError **error)
{
  *out = NULL;
  g_autoptr(MaMailbox) m = NULL;
  if (collector_binding_make(env, st, enterprise_id, r, &m, error) < 0) return -1;
  if (g_str_equal(m->auth, "password")) {
    if (!password || !*password) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "a password is needed (or choose oauth2)");
      return -1;
    }
    g_autofree char *aad = collector_secret_aad(m->id);
    m->secret_sealed = ma_secret_seal(env->master_key, aad, password);
    g_free(m->state);
    m->state = g_strdup("verifying");
  }
  if (storage_mailbox_add(st, m, error) < 0) return -1;
  *out = g_steal_pointer(&m);
  return 0;
}

int collector_authorize_finish(const CollectorEnv *env, MaStorage *st, const char *enterprise_id, const char *mailbox_id,
                               const char *state, const char *code, const char *redirect_uri, GPtrArray *folders,
                               GError **error)
{
  g_autoptr(MaMailbox) m = NULL;
  int found = storage_mailbox_get(st, enterprise_id, mailbox_id, &m, error);
  if (found <= 0) {
    if (found == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no mailbox %s", mailbox_id);
    return -1;
  }
  if (!g_str_equal(m->auth, "oauth2") || !m->preset) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "mailbox %s does not use OAuth2 with a preset", m->id);
    return -1;
  }
  g_autofree char *owner = collector_secret_aad(m->id);
  if (oauth2_authorize_finish(&env->oauth2, st, enterprise_id, owner, m->preset, state, code, redirect_uri, error) < 0)
    return -1;
  char *token = NULL;
  if (oauth2_access_token(&env->oauth2, st, owner, FALSE, &token, error) < 0) return -1;
  int rc = collector_verify(env, m, token, folders, error);
  memset(token, 0, strlen(token));
  g_free(token);
  if (rc < 0) return -1;
  return storage_mailbox_set_state(st, enterprise_id, m->id, "active", 0, error) < 0 ? -1 : 0;
}

int collector_authorize_deferred(const CollectorEnv *env, MaStorage *st, const char *enterprise_id,
                                 const char *mailbox_id, const char *state, const char *code, const char *redirect_uri,
                                 GError **error)
{
  g_autoptr(MaMailbox) m = NULL;
  int found = storage_mailbox_get(st, enterprise_id, mailbox_id, &m, error);
  if (found <= 0) {
    if (found == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no mailbox %s", mailbox_id);
    return -1;
  }
  if (!g_str_equal(m->auth, "oauth2") || !m->preset) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "mailbox %s does not use OAuth2 with a preset", m->id);
    return -1;
  }
  if (!g_str_equal(m->state, "pending") && !g_str_equal(m->state, "needs_reauth")) {
    g_set_error(error, MA_ERROR, MA_ERROR_CONFLICT, "mailbox %s is %s, not waiting for an authorization", m->id, m->state);
    return -1;
  }
  /* the code waits, sealed, in the binding's secret slot (unused by OAuth2 bindings) */
  json_t *doc = json_pack("{s:s, s:s, s:s}", "state", state, "code", code, "redirect_uri", redirect_uri);
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  g_autofree char *aad = collector_secret_aad(m->id);
  g_autofree char *sealed = ma_secret_seal(env->master_key, aad, text);
  memset(text, 0, strlen(text));
  free(text);
  if (storage_mailbox_set_secret(st, m->id, sealed, error) < 0) return -1;
  return storage_mailbox_set_state(st, enterprise_id, m->id, "authorizing", 0, error) < 0 ? -1 : 0;
}

int collector_authorize_stored(const CollectorEnv *env, MaStorage *st, const MaMailbox *m, GError **error)
{
  g_autofree char *aad = collector_secret_aad(m->id);
  GError *failure = NULL;
  char *text = m->secret_sealed ? ma_secret_open(env->master_key, aad, m->secret_sealed, &failure) : NULL;
  json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
  if (text) {
    memset(text, 0, strlen(text));
    g_free(text);
  }
  const char *state = json_string_value(json_object_get(doc, "state"));
  const char *code = json_string_value(json_object_get(doc, "code"));
  const char *redirect = json_string_value(json_object_get(doc, "redirect_uri"));
  if (!failure && (!state || !code || !redirect))
    g_set_error(&failure, MA_ERROR, MA_ERROR_INVALID, "authorize: the stored code is unreadable");
  if (!failure)
    collector_authorize_finish(env, st, m->enterprise_id, m->id, state, code, redirect, NULL, &failure);
  if (doc) json_decref(doc);
  int rc = storage_mailbox_set_secret(st, m->id, NULL, error);
  if (rc == 0 && failure) {
    MaMailboxSyncReport report = {.ok = FALSE, .error_text = failure->message, .new_state = "pending", .now = ma_now()};
    rc = storage_mailbox_report(st, m->id, &report, error);
  }
  g_clear_error(&failure);
  return rc;
}

int collector_set_default(MaStorage *st, const CollectorEnv *env, const char *enterprise_id, const char *preset,
                          const char *server, const char *auth, GError **error)
{
  if (preset && !g_hash_table_lookup(env->presets, preset)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unknown preset %s", preset);
    return -1;
  }
  if (server) {
    const char *colon = strchr(server, ':');
    MaServer srv;
    g_autofree char *proto = colon ? g_strndup(server, (gsize)(colon - server)) : NULL;
    if (!proto || (!g_str_equal(proto, "imap") && !g_str_equal(proto, "pop3")) ||
        collector_server_parse(colon + 1, &srv, NULL) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "the default server is imap|pop3:host:port:tls|starttls");
      return -1;
    }
    g_free(srv.host);
  }
  if (auth && !g_str_equal(auth, "password") && !g_str_equal(auth, "oauth2")) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "auth must be password or oauth2");
    return -1;
  }
  if (storage_begin(st, error) < 0) return -1;
  if (storage_setting_set(st, enterprise_id, DEFAULT_PRESET_KEY, preset, error) < 0 ||
      storage_setting_set(st, enterprise_id, DEFAULT_SERVER_KEY, server, error) < 0 ||
      storage_setting_set(st, enterprise_id, DEFAULT_AUTH_KEY, auth, error) < 0) {
    storage_rollback(st);
    return -1;
  }
  return storage_commit(st, error);
}
