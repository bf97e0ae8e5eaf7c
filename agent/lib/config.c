/* config.c - reads mailagent.conf with GKeyFile into MaConfig, applying defaults and refusing
 * unknown keys and malformed values. The table below is the single list of keys: loading,
 * defaults, the type of each value and the check for unknown keys all come from it. An error names
 * the file, the line, the section and the key, as an administrator needs to fix it. */
#include "config.h"
#include "error.h"
#include "log.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* KEY_STRING: any text; KEY_ENUM: one of choices ("a|b|c"); KEY_ADDRESS: "host:port" or
 * "[v6]:port"; KEY_URL: an absolute http(s) URL with a host and no query, fragment or trailing
 * slash (paths are appended to it); KEY_INT / KEY_INT64: a non-negative integer. */
typedef enum { KEY_STRING, KEY_ENUM, KEY_ADDRESS, KEY_URL, KEY_INT, KEY_INT64 } KeyType;

typedef struct {
  const char *group;
  const char *key;
  KeyType type;
  size_t offset;
  const char *def;     /* default as text; NULL: no default (NULL string) */
  const char *choices; /* KEY_ENUM only */
} KeySpec;

#define S(g, k, f, d) {g, k, KEY_STRING, offsetof(MaConfig, f), d, NULL}
#define E(g, k, f, d, choices) {g, k, KEY_ENUM, offsetof(MaConfig, f), d, choices}
#define A(g, k, f, d) {g, k, KEY_ADDRESS, offsetof(MaConfig, f), d, NULL}
#define U(g, k, f, d) {g, k, KEY_URL, offsetof(MaConfig, f), d, NULL}
#define I(g, k, f, d) {g, k, KEY_INT, offsetof(MaConfig, f), d, NULL}
#define L(g, k, f, d) {g, k, KEY_INT64, offsetof(MaConfig, f), d, NULL}

static const KeySpec keys[] = {
  S("storage", "data_dir", data_dir, "./data"),
  I("storage", "busy_timeout", busy_timeout, "10000"),
  L("storage", "archive_reserve", archive_reserve, "16777216"),
  E("storage", "backend", storage_backend, "sqlite", "sqlite|postgresql"),
  S("storage", "postgresql", storage_postgresql, NULL),
  A("smtp", "listen", smtp_listen, "127.0.0.1:2525"),
  S("smtp", "inbound_domain", inbound_domain, "inbound.localhost"),
  E("smtp", "forwarder_policy", forwarder_policy, "employee", "employee|domain|any|strict"),
  S("smtp", "hostname", hostname, NULL),
  S("smtp", "tls_cert_file", tls_cert_file, NULL),
  S("smtp", "tls_key_file", tls_key_file, NULL),
  L("smtp", "max_message_size", max_message_size, "52428800"),
  I("smtp", "max_recipients", max_recipients, "100"),
  I("smtp", "max_sessions", max_sessions, "1000"),
  I("smtp", "max_sessions_per_client", max_sessions_per_client, "50"),
  I("smtp", "command_timeout", command_timeout, "300"),
  I("smtp", "data_timeout", data_timeout, "600"),
  I("smtp", "min_data_rate", min_data_rate, "1024"),
  I("smtp", "data_rate_window", data_rate_window, "10"),
  I("smtp", "error_budget", error_budget, "10"),
  I("smtp", "junk_command_limit", junk_command_limit, "100"),
  L("smtp", "disk_reserve", disk_reserve, "104857600"),
  I("smtp", "grace_period", grace_period, "30"),
  I("smtp", "greet_delay_ms", greet_delay_ms, "0"),
  A("submission", "listen", submission_listen, "127.0.0.1:5870"),
  A("submission", "tls_listen", submission_tls_listen, NULL),
  I("submission", "loopback_auth", submission_loopback_auth, "0"),
  A("api", "listen", api_listen, "127.0.0.1:8025"),
  L("api", "max_body", api_max_body, "10485760"),
  I("api", "max_connections", api_max_connections, "256"),
  I("api", "read_workers", api_read_workers, "2"),
  S("api", "tls_cert_file", api_tls_cert_file, NULL),
  S("api", "tls_key_file", api_tls_key_file, NULL),
  U("api", "public_url", api_public_url, NULL),
  A("relay", "default_host", relay_default_host, NULL),
  I("relay", "mx_port", relay_mx_port, "25"),
  E("relay", "tls_mode", relay_tls_mode, "preferred", "off|preferred|required|preferred-verify|required-verify"),
  E("relay", "auth_mechanism", relay_auth_mechanism, "none", "none|plain|login"),
  S("relay", "username", relay_username, NULL),
  S("relay", "password_file", relay_password_file, NULL),
  S("tls", "ca_file", tls_ca_file, NULL),
  L("queue", "max_age", queue_max_age, "432000"),
  I("queue", "retry_initial", queue_retry_initial, "300"),
  I("queue", "retry_max", queue_retry_max, "3600"),
  I("queue", "destination_concurrency", queue_destination_concurrency, "10"),
  I("queue", "max_connections", queue_max_connections, "100"),
  I("queue", "connect_timeout", queue_connect_timeout, "30"),
  I("queue", "command_timeout", queue_command_timeout, "300"),
  I("queue", "lease", queue_lease, "3600"),
  S("relay", "spf_include", relay_spf_include, NULL),
  S("relay", "source_addresses", relay_source_addresses, NULL),
  S("relay", "bounce_domain", relay_bounce_domain, NULL),
  S("relay", "dkim_cname_domain", relay_dkim_cname_domain, NULL),
  S("relay", "allowed_ports", relay_allowed_ports, "25,465,587,10025,11025"),
  E("relay", "default_path_scope", relay_default_path_scope, "verified", "verified|any"),
  S("dns", "servers", dns_servers, NULL),
  I("dns", "timeout_ms", dns_timeout_ms, "2000"),
  I("dns", "tries", dns_tries, "2"),
  I("dns", "cache_entries", dns_cache_entries, "10000"),
  I("collector", "interval", collector_interval, "60"),
  I("collector", "threads", collector_threads, "4"),
  I("collector", "timeout", collector_timeout, "60"),
  I("collector", "initial_days", collector_initial_days, "90"),
  L("collector", "batch_bytes", collector_batch_bytes, "4194304"),
  S("collector", "ca_file", collector_ca_file, NULL),
  S("collector", "presets_file", collector_presets_file, NULL),
  I("collector", "max_backoff", collector_max_backoff, "3600"),
  I("collector", "max_idle", collector_max_idle, "100"),
  I("collector", "lease", collector_lease, "0"),
  S("webhook", "url", webhook_url, NULL),
  S("webhook", "secret_file", webhook_secret_file, NULL),
  I("webhook", "timeout", webhook_timeout, "10"),
  I("webhook", "max_attempts", webhook_max_attempts, "20"),
  I("webhook", "max_backoff", webhook_max_backoff, "3600"),
  S("security", "master_key_file", master_key_file, NULL),
  I("pipeline", "workers", workers, "2"),
  I("pipeline", "retry_max_backoff", retry_max_backoff, "300"),
  I("pipeline", "nice", pipeline_nice, "10"),
  I("pipeline", "defer_max", pipeline_defer_max, "5"),
  I("pipeline", "defer_backlog", pipeline_defer_backlog, "10000"),
  E("pipeline", "log_level", deprecated_log_level, NULL, "debug|info|warn|error"), /* now [log] level */
  E("log", "level", log_level, "info", "debug|info|warn|error"),
  E("log", "target", log_target, "auto", "auto|stderr|journal|syslog"),
  S("process", "user", process_user, NULL),
};

static const KeySpec *find_key(const char *group, const char *key)
{
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
    if (strcmp(keys[i].group, group) == 0 && strcmp(keys[i].key, key) == 0) return &keys[i];
  return NULL;
}

static gboolean is_choice(const char *choices, const char *text)
{
  g_auto(GStrv) list = g_strsplit(choices, "|", -1);
  return g_strv_contains((const char *const *)list, text);
}

/* Stores text (the default, or the file's value) as k's value. -1 with *error saying what is wrong
 * with the value ("[group] key: ..."); the caller adds where it was. */
static int set_value(MaConfig *cfg, const KeySpec *k, const char *text, GError **error)
{
  char *base = (char *)cfg + k->offset;
  if (k->type == KEY_ENUM && text && !is_choice(k->choices, text)) {
    g_auto(GStrv) choices = g_strsplit(k->choices, "|", -1);
    g_autofree char *one_of = g_strjoinv(", ", choices);
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[%s] %s: \"%s\" is not one of %s", k->group, k->key, text,
                one_of);
    return -1;
  }
  if (k->type == KEY_ADDRESS && text) {
    g_autofree char *host = NULL;
    int port = 0;
    g_autoptr(GError) cause = NULL;
    if (ma_config_split_listen(text, &host, &port, &cause) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[%s] %s: %s", k->group, k->key, cause->message);
      return -1;
    }
  }
  if (k->type == KEY_URL && text) {
    g_autoptr(GUri) uri = g_uri_parse(text, G_URI_FLAGS_NONE, NULL);
    const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;
    if (!uri || !scheme || (g_ascii_strcasecmp(scheme, "https") != 0 && g_ascii_strcasecmp(scheme, "http") != 0) ||
        !g_uri_get_host(uri) || !*g_uri_get_host(uri) || g_uri_get_query(uri) || g_uri_get_fragment(uri) ||
        g_str_has_suffix(text, "/")) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  "[%s] %s: \"%s\" is not an http(s) URL without query, fragment or trailing slash", k->group,
                  k->key, text);
      return -1;
    }
  }
  if (k->type == KEY_STRING || k->type == KEY_ENUM || k->type == KEY_ADDRESS || k->type == KEY_URL) {
    char **slot = (char **)base;
    g_free(*slot);
    *slot = text ? g_strdup(text) : NULL;
    return 0;
  }
  if (!text) return 0;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end != '\0' || v < 0 || (k->type == KEY_INT && v > G_MAXINT)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[%s] %s: \"%s\" is not a non-negative integer",
                k->group, k->key, text);
    return -1;
  }
  if (k->type == KEY_INT) *(int *)base = (int)v;
  else *(gint64 *)base = v;
  return 0;
}

/* The 1-based line of "key =" in [group] of text, 0 when not found (GKeyFile keeps no positions). */
static int line_of(const char *text, const char *group, const char *key)
{
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  gboolean in_group = FALSE;
  size_t key_len = strlen(key);
  for (int i = 0; lines[i]; i++) {
    const char *l = lines[i];
    while (*l == ' ' || *l == '\t') l++;
    if (*l == '[') {
      const char *close = strchr(l, ']');
      in_group = close && (size_t)(close - l - 1) == strlen(group) && strncmp(l + 1, group, strlen(group)) == 0;
    } else if (in_group && strncmp(l, key, key_len) == 0) {
      const char *rest = l + key_len;
      while (*rest == ' ' || *rest == '\t') rest++;
      if (*rest == '=') return i + 1;
    }
  }
  return 0;
}

/* Rewrites *error ("[group] key: ...") as "FILE:LINE: [group] key: ...". */
static void locate_error(GError **error, const char *file, const char *text, const char *group, const char *key)
{
  if (!error || !*error) return;
  int line = line_of(text, group, key);
  g_prefix_error(error, line ? "%s:%d: " : "%s: ", file, line);
}

/* A value up to an inline comment: GKeyFile only knows whole-line comments, so "10   # seconds"
 * would reach the parser whole. A '#' after white space starts a comment; a '#' inside a word
 * (a URL's fragment) does not. Trailing white space is dropped. Returns a new string. */
static char *strip_inline_comment(const char *value)
{
  const char *cut = NULL;
  for (const char *p = value; *p && !cut; p++)
    if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) cut = p;
  char *out = cut ? g_strndup(value, (gsize)(cut - value)) : g_strdup(value);
  return g_strchomp(out);
}

static gboolean group_known(const char *group)
{
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
    if (strcmp(keys[i].group, group) == 0) return TRUE;
  return FALSE;
}

/* Reads file over the defaults in cfg. */
static int load_file(MaConfig *cfg, const char *file, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) io = NULL;
  if (!g_file_get_contents(file, &text, &len, &io)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: cannot read the configuration file: %s", file, io->message);
    return -1;
  }
  g_autoptr(GKeyFile) kf = g_key_file_new();
  if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &io)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: %s", file, io->message);
    return -1;
  }
  gboolean log_level_set = FALSE;
  g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
  for (char **g = groups; *g; g++) {
    if (!group_known(*g)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: unknown section [%s]", file, *g);
      return -1;
    }
    g_auto(GStrv) names = g_key_file_get_keys(kf, *g, NULL, NULL);
    for (char **n = names; n && *n; n++) {
      const KeySpec *k = find_key(*g, *n);
      if (!k) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unknown key [%s] %s", *g, *n);
        locate_error(error, file, text, *g, *n);
        return -1;
      }
      g_autofree char *raw = g_key_file_get_string(kf, *g, *n, error);
      if (!raw) {
        locate_error(error, file, text, *g, *n);
        return -1;
      }
      g_autofree char *v = strip_inline_comment(raw);
      if (set_value(cfg, k, v, error) < 0) {
        locate_error(error, file, text, *g, *n);
        return -1;
      }
      if (k->offset == offsetof(MaConfig, log_level)) log_level_set = TRUE;
    }
  }
  if (cfg->deprecated_log_level) {
    ma_warn("config", "%s:%d: [pipeline] log_level is deprecated: use [log] level", file,
            line_of(text, "pipeline", "log_level"));
    if (!log_level_set) {
      g_free(cfg->log_level);
      cfg->log_level = g_strdup(cfg->deprecated_log_level);
    }
  }
  if (cfg->workers < 1 || cfg->workers > 64) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[pipeline] workers: must be 1 to 64");
    locate_error(error, file, text, "pipeline", "workers");
    return -1;
  }
  if (cfg->pipeline_nice < 0 || cfg->pipeline_nice > 19) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[pipeline] nice: must be 0 to 19");
    locate_error(error, file, text, "pipeline", "nice");
    return -1;
  }
  if (cfg->pipeline_defer_max < 0 || cfg->pipeline_defer_max > 3600) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[pipeline] defer_max: must be 0 to 3600 seconds");
    locate_error(error, file, text, "pipeline", "defer_max");
    return -1;
  }
  if (cfg->pipeline_defer_backlog < 1) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[pipeline] defer_backlog: must be at least 1");
    locate_error(error, file, text, "pipeline", "defer_backlog");
    return -1;
  }
  if (cfg->api_read_workers < 0 || cfg->api_read_workers > 64) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[api] read_workers: must be 0 to 64");
    locate_error(error, file, text, "api", "read_workers");
    return -1;
  }
  if (cfg->retry_max_backoff < 1) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[pipeline] retry_max_backoff: must be at least 1 second");
    locate_error(error, file, text, "pipeline", "retry_max_backoff");
    return -1;
  }
  if (cfg->busy_timeout < 1) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[storage] busy_timeout: must be at least 1 ms");
    locate_error(error, file, text, "storage", "busy_timeout");
    return -1;
  }
  return 0;
}

MaConfig *ma_config_load(const char *file, GError **error)
{
  g_autoptr(MaConfig) cfg = g_new0(MaConfig, 1);
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
    if (set_value(cfg, &keys[i], keys[i].def, error) < 0) return NULL;
  if (file && load_file(cfg, file, error) < 0) return NULL;

  if (!cfg->hostname) cfg->hostname = g_strdup(g_get_host_name());
  if (!cfg->tls_cert_file) cfg->tls_cert_file = g_build_filename(cfg->data_dir, "tls", "cert.pem", NULL);
  if (!cfg->tls_key_file) cfg->tls_key_file = g_build_filename(cfg->data_dir, "tls", "key.pem", NULL);
  if (!cfg->master_key_file) cfg->master_key_file = g_build_filename(cfg->data_dir, "master.key", NULL);
  if (cfg->queue_retry_initial < 1 || cfg->queue_retry_max < cfg->queue_retry_initial ||
      cfg->queue_destination_concurrency < 1 || cfg->queue_max_connections < 1 || cfg->queue_lease < 1) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "[queue] retry_initial, destination_concurrency, max_connections and lease must be at least 1, and"
                " retry_max at least retry_initial");
    return NULL;
  }
  if (cfg->collector_lease < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[collector] lease: must be 0 (the default) or a number of seconds");
    return NULL;
  }
  return g_steal_pointer(&cfg);
}

MaConfig *ma_config_copy(const MaConfig *cfg)
{
  MaConfig *c = g_memdup2(cfg, sizeof *cfg);
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
    if (keys[i].type != KEY_INT && keys[i].type != KEY_INT64) {
      char **slot = (char **)((char *)c + keys[i].offset);
      *slot = g_strdup(*slot);
    }
  return c;
}

void ma_config_free(MaConfig *cfg)
{
  if (!cfg) return;
  for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
    if (keys[i].type != KEY_INT && keys[i].type != KEY_INT64) g_free(*(char **)((char *)cfg + keys[i].offset));
  g_free(cfg);
}

int ma_config_split_listen(const char *listen, char **host, int *port, GError **error)
{
  const char *colon = NULL;
  g_autofree char *h = NULL;
  if (listen[0] == '[') {
    const char *close = strchr(listen, ']');
    if (close && close[1] == ':') {
      h = g_strndup(listen + 1, (gsize)(close - listen - 1));
      colon = close + 1;
    }
  } else if ((colon = strrchr(listen, ':'))) {
    h = g_strndup(listen, (gsize)(colon - listen));
  }
  char *end = NULL;
  long p = colon ? strtol(colon + 1, &end, 10) : -1;
  if (!h || !*h || !end || *end || p < 0 || p > 65535) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "\"%s\" is not host:port", listen);
    return -1;
  }
  *host = g_steal_pointer(&h);
  *port = (int)p;
  return 0;
}
