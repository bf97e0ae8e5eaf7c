/* relay_admin.c - creating and changing an enterprise relay from a set of fields (the API's JSON
 * body; the CLI builds the same object from its options), with every rule of issue 13 checked in
 * one place: the port among [relay] allowed_ports (465 means implicit TLS unless told), AUTH with
 * PLAIN, LOGIN or XOAUTH2 forces TLS mode required-verify, a password is sealed at once (associated
 * data "relay:<id>") and never returned, XOAUTH2 names a username and a provider (its grant comes
 * from the sign-in of relay_oauth2.c; another provider or username revokes it), at most
 * RELAY_MAX_PER_DOMAIN relays per sender domain, at
 * least one filter per relay, each for a domain of the enterprise, the return path bounce (VERP,
 * the default), from or an address in one of its domains. A change to how the relay is reached
 * (host, port, security, TLS mode, AUTH) marks it untested until `relay test` passes; routing skips
 * an untested relay.
 *
 * The checks and the write share one transaction, so two administrators cannot both add a fourth
 * relay for a domain.
 */
#include "relay.h"

#include "agent/domains/domains.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"
#include "agent/lib/error.h"
#include "agent/lib/model.h"
#include "agent/tenant/settings.h"

#include <gio/gio.h>
#include <string.h>

#define RELAY_MAX_PER_DOMAIN 3
#define RELAY_MAX_FILTERS 20
#define RELAY_NAME_MAX 64

static const char *const tls_modes[] = {"off", "preferred", "required", "preferred-verify", "required-verify", NULL};
static const char *const email_types[] = {"workflow", "mass", "individual", NULL};
static const char *const auth_mechanisms[] = {"PLAIN", "LOGIN", "XOAUTH2", NULL};
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

static int invalid(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int invalid(GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  g_set_error_literal(error, MA_ERROR, MA_ERROR_INVALID, msg);
  return -1;
}

static gboolean one_of(const char *v, const char *const *set)
{
  for (; *set; set++)
    if (g_ascii_strcasecmp(v, *set) == 0) return TRUE;
  return FALSE;
}

/* A string field: 1 set (*out borrowed), 0 absent, -1 wrong type. null counts as set to NULL. */
static int get_string(json_t *fields, const char *name, const char **out, GError **error)
{
  json_t *v = json_object_get(fields, name);
  *out = NULL;
  if (!v) return 0;
  if (json_is_null(v)) return 1;
  if (!json_is_string(v) || strlen(json_string_value(v)) > 1024)
    return invalid(error, "%s: a string of at most 1024 bytes", name);
  *out = json_string_value(v);
  return 1;
}

static int set_host(MaRelay *r, const char *host, GError **error)
{
  if (!host || !*host) return invalid(error, "host: required (a mail domain, a host name or an IP address)");
  GInetAddress *ip = g_inet_address_new_from_string(host);
  if (ip) {
    g_object_unref(ip);
    g_free(r->host);
    r->host = g_strdup(host);
    return 0;
  }
  GError *bad = NULL;
  char *norm = ma_domain_normalize(host, &bad);
  if (!norm) {
    invalid(error, "host \"%.64s\": %s", host, bad->message);
    g_error_free(bad);
    return -1;
  }
  g_free(r->host);
  r->host = norm;
  return 0;
}

static gboolean port_allowed(const MaConfig *cfg, int port)
{
  g_auto(GStrv) ports = g_strsplit_set(cfg->relay_allowed_ports ? cfg->relay_allowed_ports : "", ", ", -1);
  for (char **p = ports; *p; p++)
    if (**p && g_ascii_strtoll(*p, NULL, 10) == port) return TRUE;
  return FALSE;
}

static int set_types(MaRelay *r, json_t *v, GError **error)
{
  if (!json_is_array(v) || json_array_size(v) == 0)
    return invalid(error, "email_types: a non-empty array of workflow, mass, individual");
  gboolean on[3] = {0};
  size_t i;
  json_t *t;
  json_array_foreach(v, i, t)
  {
    const char *s = json_string_value(t);
    int k = 0;
    while (email_types[k] && (!s || strcmp(s, email_types[k]) != 0)) k++;
    if (!email_types[k]) return invalid(error, "email_types: \"%s\" is not one of workflow, mass, individual", s ? s : "?");
    on[k] = TRUE;
  }
  GString *out = g_string_new(NULL);
  for (int k = 0; k < 3; k++)
    if (on[k]) g_string_append_printf(out, "%s%s", out->len ? " " : "", email_types[k]);
  g_free(r->email_types);
  r->email_types = g_string_free(out, FALSE);
  return 0;
}

/* filters: [{priority, sender_domain, recipient_patterns (array or string)}], each sender domain one
 * of the enterprise's. */
static int set_filters(MaStorage *st, MaRelay *r, json_t *v, GError **error)
{
  if (!json_is_array(v) || json_array_size(v) == 0)
    return invalid(error, "filters: at least one {priority, sender_domain, recipient_patterns} (a relay without a filter carries nothing)");
  if (json_array_size(v) > RELAY_MAX_FILTERS) return invalid(error, "filters: at most %d", RELAY_MAX_FILTERS);
  g_autoptr(GPtrArray) filters = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_filter_free);
  size_t i;
  json_t *f;
  json_array_foreach(v, i, f)
  {
    json_t *prio = json_object_get(f, "priority");
    const char *sender = json_string_value(json_object_get(f, "sender_domain"));
    if (!json_is_integer(prio) || json_integer_value(prio) < 1 || json_integer_value(prio) > 1000000)
      return invalid(error, "filters[%zu].priority: an integer from 1 (evaluated first)", i);
    if (!sender) return invalid(error, "filters[%zu].sender_domain: required", i);
    GError *bad = NULL;
    g_autofree char *domain = ma_domain_normalize(sender, &bad);
    if (!domain) {
      invalid(error, "filters[%zu].sender_domain \"%.64s\": %s", i, sender, bad->message);
      g_error_free(bad);
      return -1;
    }
    MaDomain *d = NULL;
    int rc = storage_domain_get(st, r->enterprise_id, domain, &d, error);
    ma_domain_free(d);
    if (rc < 0) return -1;
    if (rc == 0) return invalid(error, "filters[%zu].sender_domain: %s is not a domain of this enterprise", i, domain);
    json_t *pats = json_object_get(f, "recipient_patterns");
    g_autofree char *joined = NULL;
    if (json_is_array(pats)) {
      GString *s = g_string_new(NULL);
      size_t k;
      json_t *p;
      json_array_foreach(pats, k, p) if (json_is_string(p)) g_string_append_printf(s, "%s ", json_string_value(p));
      joined = g_string_free(s, FALSE);
    } else if (json_is_string(pats)) {
      joined = g_strdup(json_string_value(pats));
    } else if (pats && !json_is_null(pats)) {
      return invalid(error, "filters[%zu].recipient_patterns: an array of domains or *.domains", i);
    }
    GError *perr = NULL;
    char *canon = relay_patterns_normalise(joined, &perr);
    if (perr) {
      invalid(error, "filters[%zu]: %s", i, perr->message);
      g_error_free(perr);
      return -1;
    }
    MaRelayFilter *nf = g_new0(MaRelayFilter, 1);
    nf->priority = (int) json_integer_value(prio);
    nf->sender_domain = g_steal_pointer(&domain);
    nf->recipient_patterns = canon;
    g_ptr_array_add(filters, nf);
  }
  g_ptr_array_set_size(r->filters, 0);
  while (filters->len > 0) g_ptr_array_add(r->filters, g_ptr_array_steal_index(filters, 0));
  return 0;
}

/* Relays of the enterprise other than r that have a filter for domain. */
static int relays_for_domain(MaStorage *st, const MaRelay *r, const char *domain, guint *count, GError **error)
{
  *count = 0;
  g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  if (storage_relay_list(st, r->enterprise_id, all, error) < 0) return -1;
  for (guint i = 0; i < all->len; i++) {
    const MaRelay *o = g_ptr_array_index(all, i);
    if (r->id && strcmp(o->id, r->id) == 0) continue;
    for (guint k = 0; k < o->filters->len; k++)
      if (strcmp(((MaRelayFilter *) g_ptr_array_index(o->filters, k))->sender_domain, domain) == 0) {
        (*count)++;
        break;
      }
  }
  return 0;
}

/* return_path: "bounce" (alias "verp"; null too: the default), "from", or an address in one of the
 * enterprise's domains (the enterprise setting's vocabulary, agent/tenant/settings.c). */
static int set_return_path(MaStorage *st, MaRelay *r, const char *value, GError **error)
{
  const char *v = !value || g_ascii_strcasecmp(value, "verp") == 0 ? "bounce" : value;
  GError *bad = NULL;
  g_autofree char *canon = settings_normalise("return_path", v, NULL, &bad);
  if (!canon || !*canon) {
    invalid(error, "return_path: \"%.64s\" is not bounce (verp), from or an address local@domain", v);
    g_clear_error(&bad);
    return -1;
  }
  if (strchr(canon, '@')) {
    int allowed = settings_return_path_allowed(st, r->enterprise_id, canon, error);
    if (allowed < 0) return -1;
    if (allowed == 0) return invalid(error, "return_path: %s is not in one of the enterprise's domains", canon);
  }
  g_free(r->return_path);
  r->return_path = g_steal_pointer(&canon);
  return 0;
}

static int seal_password(const MaConfig *cfg, MaRelay *r, const char *password, GError **error)
{
  guint8 master[32];
  if (ma_master_key_load(cfg->master_key_file, TRUE, master, error) < 0) return -1;
  g_autofree char *aad = g_strdup_printf("relay:%s", r->id);
  g_free(r->password_sealed);
  r->password_sealed = ma_secret_seal(master, aad, password);
  memset(master, 0, sizeof master);
  return 0;
}

/* r's OAuth2 grant, when it holds a valid one, is revoked (its account changed). 0 or -1. */
static int revoke_grant(MaStorage *st, MaRelay *r, GError **error)
{
  if (g_strcmp0(r->grant_state, "valid") != 0) return 0;
  g_autofree char *owner = relay_oauth2_owner(r->id);
  if (storage_oauth2_grant_revoke(st, owner, ma_now(), error) < 0) return -1;
  g_free(r->grant_state);
  r->grant_state = g_strdup("revoked");
  return 0;
}

/* Applies fields to r (new when creating). The rules of the file's opening paragraph. */
static int apply(MaStorage *st, const MaConfig *cfg, MaRelay *r, json_t *fields, gboolean creating, GError **error)
{
  static const char *const known[] = {"name", "host", "port", "security", "tls_mode", "auth", "daily_limit",
                                      "email_types", "dkim", "enabled", "filters", "return_path", NULL};
  if (!json_is_object(fields)) return invalid(error, "the relay must be a JSON object");
  const char *key;
  json_t *v;
  json_object_foreach(fields, key, v) if (!one_of(key, known))
    return invalid(error, "unknown field \"%s\" (fields: name, host, port, security, tls_mode, auth, daily_limit,"
                          " email_types, dkim, enabled, filters, return_path)", key);
  gboolean reach_changed = creating;
  const char *s = NULL;
  int has;
  if ((has = get_string(fields, "name", &s, error)) < 0) return -1;
  if (has || creating) {
    if (!s || !*s || strlen(s) > RELAY_NAME_MAX || strspn(s, NAME_CHARS) != strlen(s))
      return invalid(error, "name: 1 to %d letters, digits, '.', '_' or '-'", RELAY_NAME_MAX);
    g_free(r->name);
    r->name = g_strdup(s);
  }
  if ((has = get_string(fields, "host", &s, error)) < 0) return -1;
  if (has || creating) {
    if (set_host(r, s, error) < 0) return -1;
    reach_changed = TRUE;
  }
  json_t *port = json_object_get(fields, "port");
  if (port || creating) {
    if (!port) return invalid(error, "port: required (allowed: %s)", cfg->relay_allowed_ports);
    if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
      return invalid(error, "port: a number (allowed: %s)", cfg->relay_allowed_ports);
    if (!port_allowed(cfg, (int) json_integer_value(port)))
      return invalid(error, "port: %d is not allowed (allowed: %s; [relay] allowed_ports)",
                     (int) json_integer_value(port), cfg->relay_allowed_ports);
    if (r->port != (int) json_integer_value(port)) reach_changed = TRUE;
    r->port = (int) json_integer_value(port);
  }
  if ((has = get_string(fields, "security", &s, error)) < 0) return -1;
  if (has && s) {
    if (strcmp(s, "starttls") != 0 && strcmp(s, "implicit") != 0)
      return invalid(error, "security: \"%s\" is not starttls or implicit", s);
    g_free(r->security);
    r->security = g_strdup(s);
    reach_changed = TRUE;
  } else if (creating || port) {
    g_free(r->security);
    r->security = g_strdup(r->port == 465 ? "implicit" : "starttls"); /* 465: TLS from the first octet */
  }
  const char *tls = NULL;
  if ((has = get_string(fields, "tls_mode", &tls, error)) < 0) return -1;
  if (has && tls && !one_of(tls, tls_modes))
    return invalid(error, "tls_mode: \"%s\" is not one of off, preferred, required, preferred-verify, required-verify", tls);
  if (has && tls) {
    g_free(r->tls_mode);
    r->tls_mode = g_ascii_strdown(tls, -1);
    reach_changed = TRUE;
  } else if (creating) {
    r->tls_mode = g_strdup("required-verify");
  }
  json_t *auth = json_object_get(fields, "auth");
  if (auth) {
    if (!json_is_object(auth)) return invalid(error, "auth: {enabled, mechanism, username, password, provider}");
    json_t *en = json_object_get(auth, "enabled");
    const char *mech = json_string_value(json_object_get(auth, "mechanism"));
    const char *user = json_string_value(json_object_get(auth, "username"));
    const char *pass = json_string_value(json_object_get(auth, "password"));
    const char *provider = json_string_value(json_object_get(auth, "provider"));
    if (en && !json_is_boolean(en)) return invalid(error, "auth.enabled: true or false");
    static const char *const auth_strings[] = {"mechanism", "username", "password", "provider", NULL};
    for (const char *const *k = auth_strings; *k; k++) {
      json_t *field = json_object_get(auth, *k);
      if (field && !json_is_string(field)) return invalid(error, "auth.%s: a string", *k);
    }
    if (mech) {
      if (!one_of(mech, auth_mechanisms)) return invalid(error, "auth.mechanism: \"%s\" is not PLAIN, LOGIN or XOAUTH2", mech);
      g_free(r->auth_mechanism);
      r->auth_mechanism = g_ascii_strup(mech, -1);
    }
    if (provider) {
      if (!*provider || strlen(provider) > RELAY_NAME_MAX || strspn(provider, NAME_CHARS) != strlen(provider))
        return invalid(error, "auth.provider: an OAuth2 provider preset name (1 to %d letters, digits, '.', '_' or '-')",
                       RELAY_NAME_MAX);
      /* a grant is one provider's account: another provider, or another username, signs in again */
      if (r->auth_provider && strcmp(r->auth_provider, provider) != 0 && revoke_grant(st, r, error) < 0) return -1;
      g_free(r->auth_provider);
      r->auth_provider = g_strdup(provider);
    }
    if (user) {
      if (!*user || strlen(user) > 256) return invalid(error, "auth.username: 1 to 256 bytes");
      if (r->username && strcmp(r->username, user) != 0 && revoke_grant(st, r, error) < 0) return -1;
      g_free(r->username);
      r->username = g_strdup(user);
    }
    if (pass) {
      if (!*pass || strlen(pass) > 1024) return invalid(error, "auth.password: 1 to 1024 bytes");
      if (!r->id) r->id = ma_id_new();
      if (seal_password(cfg, r, pass, error) < 0) return -1;
    }
    if (en) r->auth_enabled = json_is_true(en);
    else if (mech || user || pass || provider) r->auth_enabled = TRUE;
    reach_changed = TRUE;
  }
  if (r->auth_enabled) {
    if (!r->auth_mechanism) r->auth_mechanism = g_strdup("PLAIN");
    if (relay_uses_oauth2(r)) {
      /* the password, if one was given, stays sealed and unused: the token provider signs in */
      if (!r->username || !r->auth_provider)
        return invalid(error, "auth: XOAUTH2 needs a username and a provider (an OAuth2 preset whose client the"
                              " enterprise set with mailagent mailbox oauth2-client)");
    } else if (!r->username || !r->password_sealed) {
      return invalid(error, "auth: a username and a password are needed");
    }
    /* credentials never cross a connection that is not verified TLS */
    if (tls && g_ascii_strcasecmp(tls, "required-verify") != 0)
      return invalid(error, "tls_mode: AUTH needs required-verify (asked: %s)", tls);
    g_free(r->tls_mode);
    r->tls_mode = g_strdup("required-verify");
  }
  json_t *limit = json_object_get(fields, "daily_limit");
  if (limit) {
    if (!json_is_null(limit) && (!json_is_integer(limit) || json_integer_value(limit) < 0))
      return invalid(error, "daily_limit: a number of recipients per day, 0 or null for none");
    r->daily_limit = json_is_null(limit) ? 0 : json_integer_value(limit);
  }
  json_t *types = json_object_get(fields, "email_types");
  if (types && set_types(r, types, error) < 0) return -1;
  if (!types && creating) r->email_types = g_strdup("workflow mass individual");
  json_t *b;
  if ((b = json_object_get(fields, "dkim"))) {
    if (!json_is_boolean(b)) return invalid(error, "dkim: true or false");
    r->dkim = json_is_true(b);
  } else if (creating) {
    r->dkim = TRUE;
  }
  if ((b = json_object_get(fields, "enabled"))) {
    if (!json_is_boolean(b)) return invalid(error, "enabled: true or false");
    r->enabled = json_is_true(b);
  } else if (creating) {
    r->enabled = TRUE;
  }
  json_t *filters = json_object_get(fields, "filters");
  if (filters || creating) {
    if (set_filters(st, r, filters, error) < 0) return -1;
    for (guint i = 0; i < r->filters->len; i++) {
      const char *domain = ((MaRelayFilter *) g_ptr_array_index(r->filters, i))->sender_domain;
      guint others = 0;
      if (relays_for_domain(st, r, domain, &others, error) < 0) return -1;
      if (others >= RELAY_MAX_PER_DOMAIN)
        return invalid(error, "%s has %u relays already (at most %d per domain)", domain, others, RELAY_MAX_PER_DOMAIN);
    }
  }
  if ((has = get_string(fields, "return_path", &s, error)) < 0) return -1;
  if (has && set_return_path(st, r, s, error) < 0) return -1;
  gint64 now = ma_now();
  if (reach_changed) {
    g_free(r->status);
    r->status = g_strdup("untested");
    r->status_since = now;
    g_free(r->status_reason);
    r->status_reason = g_strdup(relay_needs_sign_in(r) ? (creating ? "new relay: sign in (mailagent relay authorize), then run mailagent relay test"
                                                                  : "changed: sign in (mailagent relay authorize), then run mailagent relay test")
                                : creating ? "new relay: run mailagent relay test" : "changed: run mailagent relay test");
    r->suspended_until = 0;
  }
  r->updated_at = now;
  return 0;
}

int relay_create(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, json_t *fields, MaRelay **out,
                 GError **error)
{
  *out = NULL;
  g_autoptr(MaRelay) r = ma_relay_new();
  r->enterprise_id = g_strdup(enterprise_id);
  r->created_at = ma_now();
  if (storage_begin(st, error) < 0) return -1;
  int rc = apply(st, cfg, r, fields, TRUE, error);
  if (rc == 0) {
    if (!r->id) r->id = ma_id_new();
    rc = storage_relay_add(st, r, error);
  }
  if (rc < 0 || storage_commit(st, error) < 0) {
    storage_rollback(st);
    return -1;
  }
  *out = g_steal_pointer(&r);
  return 0;
}

int relay_modify(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *id_or_name, json_t *fields,
                 MaRelay **out, GError **error)
{
  *out = NULL;
  if (storage_begin(st, error) < 0) return -1;
  MaRelay *r = NULL;
  int rc = storage_relay_get(st, enterprise_id, id_or_name, &r, error);
  if (rc == 0) g_set_error(error, MA_ERROR, MA_ERROR_NOT_FOUND, "no relay %s", id_or_name);
  if (rc > 0) rc = apply(st, cfg, r, fields, FALSE, error) == 0 ? storage_relay_update(st, r, error) : -1;
  if (rc <= 0 || storage_commit(st, error) < 0) {
    storage_rollback(st);
    ma_relay_free(r);
    return -1;
  }
  *out = r;
  return 0;
}

int relay_today(MaStorage *st, const MaConfig *cfg, const MaRelay *r, gint64 *sent, GError **error)
{
  g_autofree char *tz = NULL;
  if (settings_get(st, cfg, r->enterprise_id, "timezone", &tz, error) < 0) return -1;
  char day[16];
  relay_day(ma_now(), tz, day, NULL);
  int failures = 0;
  gint64 last = 0;
  return storage_relay_usage(st, r->enterprise_id, r->id, day, sent, &failures, &last, error);
}
