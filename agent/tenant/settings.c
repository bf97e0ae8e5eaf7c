/* settings.c - per-enterprise settings: the registry table, value validation and normalisation,
 * and reading/writing through storage. Stored text is always canonical (what settings_normalise
 * returned); "" means "unset, use the default". A value that somehow fails to parse when read
 * (written by an older version) falls back to the default rather than failing every message.
 * Never logs values.
 */
#include "settings.h"

#include <gio/gio.h>
#include <string.h>

static const char *const policy_choices[] = {"employee", "domain", "any", "strict", NULL};
static const char *const capture_choices[] = {"full", "no_attachments", "metadata", NULL};
static const char *const machine_choices[] = {"flag", "skip", NULL};
static const char *const channel_choices[] = {"employee_mailbox", "enterprise_relay", "mailagent_relay", NULL};

#define PUBLIC_DOMAINS_DEFAULT                                                                       \
  "gmail.com outlook.com hotmail.com live.com yahoo.com icloud.com me.com aol.com proton.me "       \
  "protonmail.com gmx.com qq.com foxmail.com 163.com 126.com yeah.net sina.com sina.cn sohu.com "    \
  "aliyun.com 139.com"

static const MaSettingInfo registry[] = {
  {"archiving", MA_SETTING_BOOL, "on", NULL, "archive mail at all"},
  {"activities", MA_SETTING_BOOL, "on", NULL, "create activities from rules after archiving"},
  {"archive_internal", MA_SETTING_BOOL, "off", NULL, "archive mail whose participants are all internal"},
  {"archive_unmatched", MA_SETTING_BOOL, "off", NULL,
   "archive mail whose external participants match no CRM record"},
  {"ignore_plus_tags", MA_SETTING_BOOL, "off", NULL, "match a+tag@x to a record's a@x"},
  {"public_domains", MA_SETTING_DOMAIN_LIST, PUBLIC_DOMAINS_DEFAULT, NULL,
   "public mail providers, never matched to accounts by domain (+d / -d edit the list)"},
  {"forwarder_policy", MA_SETTING_CHOICE, NULL, policy_choices,
   "who may forward mail in: employee, domain, any or strict (default: [smtp] forwarder_policy)"},
  {"forwarder_networks", MA_SETTING_CIDR_LIST, "", NULL, "the enterprise's mail servers (CIDR list)"},
  {"capture_level", MA_SETTING_CHOICE, "full", capture_choices,
   "what is kept: full, no_attachments, metadata"},
  {"auto_replies", MA_SETTING_CHOICE, "flag", machine_choices,
   "auto-replies and delivery reports: flag (archive, rules test is_auto) or skip"},
  {"bulk_mail", MA_SETTING_CHOICE, "flag", machine_choices,
   "bulk and list mail: flag (archive, rules test is_bulk) or skip"},
  {"pending_days", MA_SETTING_NUMBER, "14", NULL,
   "days mail with no matching record is held for late re-matching (raw copy kept), then purged; 0: none"},
  {"relink_days", MA_SETTING_DAYS, "30", NULL,
   "archived mail this many days old or newer is linked again when a record that matches it is added or changed; 0: none"},
  {"loop_limit", MA_SETTING_NUMBER, "50", NULL,
   "messages one outside sender may add to one record within loop_window_minutes before the rest are dropped; 0: no limit"},
  {"loop_window_minutes", MA_SETTING_NUMBER, "60", NULL, "the loop_limit window, in minutes"},
  {"never_log", MA_SETTING_PATTERN_LIST, "", NULL,
   "addresses and domains never linked or logged: a@x.com, x.com, *.x.com (+p / -p edit the list)"},
  {"timezone", MA_SETTING_TIMEZONE, "UTC", NULL, "IANA time zone of the enterprise's calendar day (relay daily limits)"},
  {"admin_email", MA_SETTING_ADDRESS, "", NULL, "where warnings about relays go (relay suspended), through the default path"},
  {"default_path_hourly_limit", MA_SETTING_NUMBER, "0", NULL,
   "recipients per hour the enterprise may send by mailagent's own delivery path (0: no limit)"},
  {"default_path_daily_limit", MA_SETTING_NUMBER, "0", NULL,
   "recipients per day (enterprise's time zone) by mailagent's own delivery path (0: no limit)"},
  {"employee_channels", MA_SETTING_WORD_LIST, "employee_mailbox enterprise_relay mailagent_relay", channel_choices,
   "the channels employees may send through: employee_mailbox enterprise_relay mailagent_relay"},
  {"return_path", MA_SETTING_RETURN_PATH, "bounce", NULL,
   "envelope sender of outgoing mail: bounce (VERP on [relay] bounce_domain), from, or an address of the enterprise"},
  {"retention_days", MA_SETTING_DAYS, "0", NULL,
   "archived mail older than this many days is deleted (0: kept until erased)"},
};

const MaSettingInfo *settings_registry(guint *n)
{
  *n = G_N_ELEMENTS(registry);
  return registry;
}

const MaSettingInfo *settings_lookup(const char *key)
{
  if (!key) return NULL;
  for (guint i = 0; i < G_N_ELEMENTS(registry); i++)
    if (strcmp(registry[i].key, key) == 0) return &registry[i];
  return NULL;
}

static const char *default_of(const MaSettingInfo *info, const MaConfig *cfg)
{
  if (info->default_value) return info->default_value;
  /* forwarder_policy is the only config-derived default */
  return cfg && cfg->forwarder_policy ? cfg->forwarder_policy : "employee";
}

/* ---- value parsing ------------------------------------------------------------------------- */

static int parse_bool(const char *v)
{
  static const char *const yes[] = {"on", "true", "yes", "1"};
  static const char *const no[] = {"off", "false", "no", "0"};
  for (guint i = 0; i < G_N_ELEMENTS(yes); i++) {
    if (g_ascii_strcasecmp(v, yes[i]) == 0) return 1;
    if (g_ascii_strcasecmp(v, no[i]) == 0) return 0;
  }
  return -1;
}

/* Splits on commas and whitespace, dropping empty tokens. Caller frees with g_strfreev. */
static char **split_list(const char *v)
{
  GPtrArray *out = g_ptr_array_new();
  const char *p = v;
  while (*p) {
    while (*p && (g_ascii_isspace(*p) || *p == ',')) p++;
    const char *start = p;
    while (*p && !g_ascii_isspace(*p) && *p != ',') p++;
    if (p > start) g_ptr_array_add(out, g_strndup(start, p - start));
  }
  g_ptr_array_add(out, NULL);
  return (char **) g_ptr_array_free(out, FALSE);
}

static gboolean domain_valid(const char *d)
{
  gsize len = strlen(d);
  if (len == 0 || len > 253 || d[0] == '.' || d[len - 1] == '.' || !strchr(d, '.')) return FALSE;
  for (const char *p = d; *p; p++) {
    unsigned char c = (unsigned char) *p;
    if (c >= 0x80) continue; /* IDN in UTF-8 */
    if (!(g_ascii_isalnum(c) || c == '-' || c == '.')) return FALSE;
    if (c == '.' && p[1] == '.') return FALSE;
  }
  return TRUE;
}

/* A never_log entry: "local@domain" (any local part but "*"), "domain", or "*.domain" (every
 * subdomain of domain, not domain itself). */
static gboolean pattern_valid(const char *p)
{
  const char *at = strchr(p, '@');
  if (at) {
    if (at == p || strchr(at + 1, '@') || strchr(p, '*') || strlen(p) > 320) return FALSE;
    for (const char *c = p; c < at; c++)
      if ((unsigned char) *c <= 0x20 || *c == '"' || *c == ',') return FALSE;
    return domain_valid(at + 1);
  }
  if (g_str_has_prefix(p, "*.")) return domain_valid(p + 2);
  return domain_valid(p);
}

/* Appends d to list unless present. */
static void list_add_unique(GPtrArray *list, const char *d)
{
  for (guint i = 0; i < list->len; i++)
    if (strcmp(list->pdata[i], d) == 0) return;
  g_ptr_array_add(list, g_strdup(d));
}

static char *join_list(GPtrArray *list)
{
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < list->len; i++) {
    if (i) g_string_append_c(s, ' ');
    g_string_append(s, list->pdata[i]);
  }
  return g_string_free(s, FALSE);
}

/* A domain list or a never_log pattern list: a full list, or +entry/-entry edits of the current one. */
static char *normalise_domains(const MaSettingInfo *info, const char *value, const char *current,
                               GError **error)
{
  g_auto(GStrv) tokens = split_list(value);
  guint n = g_strv_length(tokens);
  guint edits = 0;
  for (guint i = 0; i < n; i++)
    if (tokens[i][0] == '+' || tokens[i][0] == '-') edits++;
  if (edits && edits != n) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "%s: give either a full list or only +domain/-domain edits, not both", info->key);
    return NULL;
  }
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
  if (edits) {
    g_auto(GStrv) base = split_list(current && *current ? current : info->default_value);
    for (guint i = 0; base[i]; i++) list_add_unique(list, base[i]);
  }
  for (guint i = 0; i < n; i++) {
    const char *tok = edits ? tokens[i] + 1 : tokens[i];
    g_autofree char *d = g_utf8_strdown(tok, -1);
    gboolean patterns = info->kind == MA_SETTING_PATTERN_LIST;
    if (patterns ? !pattern_valid(d) : !domain_valid(d)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                  patterns ? "%s: \"%s\" is not an address, a domain or *.domain" : "%s: \"%s\" is not a domain name",
                  info->key, tok);
      return NULL;
    }
    if (edits && tokens[i][0] == '-') {
      for (guint j = 0; j < list->len; j++)
        if (strcmp(list->pdata[j], d) == 0) {
          g_ptr_array_remove_index(list, j);
          break;
        }
    } else {
      list_add_unique(list, d);
    }
  }
  return join_list(list);
}

static char *normalise_cidrs(const MaSettingInfo *info, const char *value, GError **error)
{
  g_auto(GStrv) tokens = split_list(value);
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; tokens[i]; i++) {
    GInetAddressMask *mask = g_inet_address_mask_new_from_string(tokens[i], NULL);
    if (!mask) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not an address or CIDR network (host bits must be zero)",
                  info->key, tokens[i]);
      return NULL;
    }
    g_autofree char *canon = g_inet_address_mask_to_string(mask);
    list_add_unique(list, canon);
    g_object_unref(mask);
  }
  return join_list(list);
}

/* An IANA zone name that the system's tzdata knows ("Europe/Paris", "UTC"). */
static char *normalise_timezone(const MaSettingInfo *info, const char *v, GError **error)
{
  GTimeZone *tz = *v && strlen(v) < 64 && !strstr(v, "..") ? g_time_zone_new_identifier(v) : NULL;
  if (!tz) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not a time zone this system knows (an IANA name such as Europe/Paris; tzdata installed?)",
                info->key, v);
    return NULL;
  }
  g_time_zone_unref(tz);
  return g_strdup(v);
}

/* One address, local@domain, lower-cased domain; "" clears it. */
static char *normalise_address(const MaSettingInfo *info, const char *v, GError **error)
{
  const char *at = strrchr(v, '@');
  if (*v && (!at || at == v || !at[1] || strlen(v) > 254 || strpbrk(v, " \t\r\n<>,;\"") || !strchr(at, '.'))) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not an address (local@domain)", info->key, v);
    return NULL;
  }
  if (!*v) return g_strdup("");
  g_autofree char *domain = g_ascii_strdown(at + 1, -1);
  return g_strdup_printf("%.*s@%s", (int) (at - v), v, domain);
}

/* A set of the registry's words, in the registry's order; "none" or "" for the empty set. */
static char *normalise_words(const MaSettingInfo *info, const char *v, GError **error)
{
  g_auto(GStrv) words = g_strsplit_set(v, " ,", -1);
  gboolean on[16] = {0};
  for (char **w = words; *w; w++) {
    if (!**w || g_ascii_strcasecmp(*w, "none") == 0) continue;
    guint i = 0;
    while (info->choices[i] && g_ascii_strcasecmp(*w, info->choices[i]) != 0) i++;
    if (!info->choices[i]) {
      g_autofree char *all = g_strjoinv(", ", (char **) info->choices);
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not one of %s", info->key, *w, all);
      return NULL;
    }
    on[i] = TRUE;
  }
  GString *out = g_string_new(NULL);
  for (guint i = 0; info->choices[i]; i++)
    if (on[i]) g_string_append_printf(out, "%s%s", out->len ? " " : "", info->choices[i]);
  if (out->len == 0) g_string_append(out, "none");
  return g_string_free(out, FALSE);
}

/* "bounce", "from", or local@domain (lower-cased; printable ASCII without spaces, <> or quotes,
 * RFC 5321's lengths). Whether the domain is the enterprise's is settings_set's check. */
static char *normalise_return_path(const MaSettingInfo *info, const char *v, GError **error)
{
  g_autofree char *lower = g_ascii_strdown(v, -1);
  if (strcmp(lower, "bounce") == 0 || strcmp(lower, "from") == 0) return g_steal_pointer(&lower);
  const char *at = strrchr(lower, '@');
  gboolean ok = at && at > lower && at[1] && (gsize) (at - lower) <= 64 && strlen(lower) <= 254;
  for (const char *p = lower; ok && *p; p++) ok = *p > ' ' && *p < 127 && !strchr("<>\"(),;:[]\\", *p);
  if (ok) ok = strchr(lower, '@') == at && at[1] != '.' && strchr(at + 1, '.');
  if (!ok) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not bounce, from or an address local@domain",
                info->key, v);
    return NULL;
  }
  return g_steal_pointer(&lower);
}

char *settings_normalise(const char *key, const char *value, const char *current, GError **error)
{
  const MaSettingInfo *info = settings_lookup(key);
  if (!info) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unknown setting \"%s\"", key ? key : "");
    return NULL;
  }
  if (!value) value = "";
  g_autofree char *v = g_strstrip(g_strdup(value));
  if (g_ascii_strcasecmp(v, "default") == 0) return g_strdup("");
  switch (info->kind) {
  case MA_SETTING_BOOL: {
    int b = parse_bool(v);
    if (b < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not on/off", key, v);
      return NULL;
    }
    return g_strdup(b ? "on" : "off");
  }
  case MA_SETTING_CHOICE:
    for (guint i = 0; info->choices[i]; i++)
      if (g_ascii_strcasecmp(v, info->choices[i]) == 0) return g_strdup(info->choices[i]);
    {
      g_autofree char *all = g_strjoinv(", ", (char **) info->choices);
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not one of %s", key, v, all);
    }
    return NULL;
  case MA_SETTING_DOMAIN_LIST:
  case MA_SETTING_PATTERN_LIST: return normalise_domains(info, v, current, error);
  case MA_SETTING_TIMEZONE: return normalise_timezone(info, v, error);
  case MA_SETTING_ADDRESS: return normalise_address(info, v, error);
  case MA_SETTING_WORD_LIST: return normalise_words(info, v, error);
  case MA_SETTING_NUMBER: {
    char *end = NULL;
    gint64 n = g_ascii_strtoll(v, &end, 10);
    if (!*v || *end || n < 0 || n > 1000000) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not a whole number from 0 to 1000000", key, v);
      return NULL;
    }
    return g_strdup_printf("%" G_GINT64_FORMAT, n);
  }
  case MA_SETTING_CIDR_LIST: return normalise_cidrs(info, v, error);
  case MA_SETTING_RETURN_PATH: return normalise_return_path(info, v, error);
  case MA_SETTING_DAYS: {
    guint64 days = 0;
    if (!g_ascii_string_to_unsigned(v, 10, 0, SETTINGS_DAYS_MAX, &days, NULL)) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: \"%s\" is not a number of days (0 to %d)", key, v,
                  SETTINGS_DAYS_MAX);
      return NULL;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, days);
  }
  }
  g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "%s: unknown setting kind", key);
  return NULL;
}

/* ---- storage ------------------------------------------------------------------------------- */

/* Stored canonical text, or NULL when unset (absent or ""). */
static int stored_value(MaStorage *st, const char *enterprise_id, const char *key, char **out, GError **error)
{
  *out = NULL;
  char *v = NULL;
  int rc = storage_setting_get(st, enterprise_id, key, &v, error);
  if (rc < 0) return -1;
  if (rc == 1 && v && *v) *out = v;
  else g_free(v);
  return 0;
}

/* The effective value from stored text (NULL = unset): re-validated so that junk falls back. */
static char *effective(const MaSettingInfo *info, const MaConfig *cfg, const char *stored, gboolean *is_default)
{
  if (stored) {
    char *canon = settings_normalise(info->key, stored, NULL, NULL);
    if (canon && *canon) {
      if (is_default) *is_default = FALSE;
      return canon;
    }
    g_free(canon);
  }
  if (is_default) *is_default = TRUE;
  return g_strdup(default_of(info, cfg));
}

int settings_return_path_allowed(MaStorage *st, const char *enterprise_id, const char *address, GError **error)
{
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(st, enterprise_id, &e, error);
  if (rc <= 0) return rc;
  const char *domain = strrchr(address, '@') + 1;
  int found = 0;
  for (guint i = 0; i < e->domains->len && !found; i++)
    found = g_ascii_strcasecmp(g_ptr_array_index(e->domains, i), domain) == 0;
  ma_enterprise_free(e);
  return found;
}

int settings_set(MaStorage *st, const char *enterprise_id, const char *key, const char *value, GError **error)
{
  const MaSettingInfo *info = settings_lookup(key);
  if (!info) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unknown setting \"%s\"", key ? key : "");
    return -1;
  }
  g_autofree char *current = NULL;
  if ((info->kind == MA_SETTING_DOMAIN_LIST || info->kind == MA_SETTING_PATTERN_LIST) &&
      stored_value(st, enterprise_id, key, &current, error) < 0)
    return -1;
  g_autofree char *canon = settings_normalise(key, value, current, error);
  if (!canon) return -1;
  if (info->kind == MA_SETTING_RETURN_PATH && strchr(canon, '@') && settings_return_path_allowed(st, enterprise_id, canon, error) <= 0) {
    if (error && !*error)
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s: %s is not in one of the enterprise's domains", key, canon);
    return -1;
  }
  return storage_setting_set(st, enterprise_id, key, canon, error);
}

int settings_get(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *key, char **value,
                 GError **error)
{
  const MaSettingInfo *info = settings_lookup(key);
  if (!info) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "unknown setting \"%s\"", key ? key : "");
    return -1;
  }
  g_autofree char *stored = NULL;
  if (stored_value(st, enterprise_id, key, &stored, error) < 0) return -1;
  *value = effective(info, cfg, stored, NULL);
  return 0;
}

int settings_get_bool(MaStorage *st, const char *enterprise_id, const char *key, gboolean *out, GError **error)
{
  const MaSettingInfo *info = settings_lookup(key);
  if (!info || info->kind != MA_SETTING_BOOL) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "\"%s\" is not an on/off setting", key ? key : "");
    return -1;
  }
  g_autofree char *v = NULL;
  if (settings_get(st, NULL, enterprise_id, key, &v, error) < 0) return -1;
  *out = strcmp(v, "on") == 0;
  return 0;
}

void ma_setting_value_free(MaSettingValue *v)
{
  if (!v) return;
  g_free(v->value);
  g_free(v);
}

int settings_list(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, GPtrArray *out, GError **error)
{
  g_autoptr(GHashTable) stored = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  if (storage_setting_list(st, enterprise_id, stored, error) < 0) return -1;
  for (guint i = 0; i < G_N_ELEMENTS(registry); i++) {
    const char *s = g_hash_table_lookup(stored, registry[i].key);
    MaSettingValue *v = g_new0(MaSettingValue, 1);
    v->info = &registry[i];
    v->value = effective(&registry[i], cfg, s && *s ? s : NULL, &v->is_default);
    g_ptr_array_add(out, v);
  }
  return 0;
}

/* ---- snapshot ------------------------------------------------------------------------------ */

static void snapshot_apply(MaSettings *s, const char *key, const char *value)
{
  const MaSettingInfo *info = settings_lookup(key);
  if (info->kind == MA_SETTING_BOOL) {
    gboolean b = strcmp(value, "on") == 0;
    if (strcmp(key, "archiving") == 0) s->archiving = b;
    else if (strcmp(key, "activities") == 0) s->activities = b;
    else if (strcmp(key, "archive_internal") == 0) s->archive_internal = b;
    else if (strcmp(key, "archive_unmatched") == 0) s->archive_unmatched = b;
    else if (strcmp(key, "ignore_plus_tags") == 0) s->ignore_plus_tags = b;
  } else if (strcmp(key, "public_domains") == 0) {
    g_hash_table_remove_all(s->public_domains);
    g_auto(GStrv) list = split_list(value);
    for (guint i = 0; list[i]; i++) g_hash_table_add(s->public_domains, g_strdup(list[i]));
  } else if (strcmp(key, "forwarder_policy") == 0) {
    g_free(s->forwarder_policy);
    s->forwarder_policy = g_strdup(value);
  } else if (strcmp(key, "forwarder_networks") == 0) {
    g_ptr_array_set_size(s->forwarder_networks, 0);
    g_auto(GStrv) list = split_list(value);
    for (guint i = 0; list[i]; i++) {
      GInetAddressMask *m = g_inet_address_mask_new_from_string(list[i], NULL);
      if (m) g_ptr_array_add(s->forwarder_networks, m);
    }
  } else if (strcmp(key, "auto_replies") == 0) {
    s->skip_auto_replies = strcmp(value, "skip") == 0;
  } else if (strcmp(key, "bulk_mail") == 0) {
    s->skip_bulk_mail = strcmp(value, "skip") == 0;
  } else if (strcmp(key, "loop_limit") == 0) {
    s->loop_limit = (int) g_ascii_strtoll(value, NULL, 10);
  } else if (strcmp(key, "loop_window_minutes") == 0) {
    s->loop_window_minutes = (int) g_ascii_strtoll(value, NULL, 10);
  } else if (strcmp(key, "pending_days") == 0) {
    s->pending_days = (int) g_ascii_strtoll(value, NULL, 10);
  } else if (strcmp(key, "relink_days") == 0) {
    s->relink_days = (int) g_ascii_strtoll(value, NULL, 10);
  } else if (strcmp(key, "never_log") == 0) {
    g_ptr_array_set_size(s->never_log, 0);
    g_auto(GStrv) list = split_list(value);
    for (guint i = 0; list[i]; i++) g_ptr_array_add(s->never_log, g_strdup(list[i]));
  } else if (strcmp(key, "capture_level") == 0) {
    s->capture_level = strcmp(value, "metadata") == 0         ? MA_CAPTURE_METADATA
                       : strcmp(value, "no_attachments") == 0 ? MA_CAPTURE_NO_ATTACHMENTS
                                                              : MA_CAPTURE_FULL;
  }
}

MaSettings *settings_defaults(const MaConfig *cfg)
{
  MaSettings *s = g_new0(MaSettings, 1);
  s->public_domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  s->forwarder_networks = g_ptr_array_new_with_free_func(g_object_unref);
  s->never_log = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < G_N_ELEMENTS(registry); i++) snapshot_apply(s, registry[i].key, default_of(&registry[i], cfg));
  return s;
}

int settings_load(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, MaSettings **out, GError **error)
{
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func((GDestroyNotify) ma_setting_value_free);
  if (settings_list(st, cfg, enterprise_id, values, error) < 0) return -1;
  MaSettings *s = settings_defaults(cfg);
  for (guint i = 0; i < values->len; i++) {
    MaSettingValue *v = values->pdata[i];
    if (!v->is_default) snapshot_apply(s, v->info->key, v->value);
  }
  *out = s;
  return 0;
}

void ma_settings_free(MaSettings *s)
{
  if (!s) return;
  g_hash_table_unref(s->public_domains);
  g_ptr_array_unref(s->forwarder_networks);
  g_ptr_array_unref(s->never_log);
  g_free(s->forwarder_policy);
  g_free(s);
}

gboolean settings_is_public_domain(const MaSettings *s, const char *domain)
{
  if (!s || !domain) return FALSE;
  g_autofree char *d = ma_utf8_lower(domain);
  return g_hash_table_contains(s->public_domains, d);
}

gboolean settings_in_forwarder_networks(const MaSettings *s, const char *ip)
{
  if (!s || !ip || s->forwarder_networks->len == 0) return FALSE;
  g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(ip);
  if (!addr) return FALSE;
  /* an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is compared as IPv4 */
  if (g_inet_address_get_family(addr) == G_SOCKET_FAMILY_IPV6 && g_str_has_prefix(ip, "::ffff:") &&
      strchr(ip + 7, '.')) {
    GInetAddress *v4 = g_inet_address_new_from_string(ip + 7);
    if (v4) {
      g_object_unref(addr);
      addr = v4;
    }
  }
  for (guint i = 0; i < s->forwarder_networks->len; i++) {
    GInetAddressMask *m = s->forwarder_networks->pdata[i];
    if (g_inet_address_get_family(g_inet_address_mask_get_address(m)) != g_inet_address_get_family(addr)) continue;
    if (g_inet_address_mask_matches(m, addr)) return TRUE;
  }
  return FALSE;
}

const char *settings_never_log_match(const MaSettings *s, const char *address_key)
{
  if (!s || !address_key || s->never_log->len == 0) return NULL;
  const char *domain = ma_address_domain(address_key);
  for (guint i = 0; i < s->never_log->len; i++) {
    const char *p = s->never_log->pdata[i];
    if (strchr(p, '@')) {
      if (strcmp(p, address_key) == 0) return p;
    } else if (domain && p[0] == '*' && p[1] == '.') {
      gsize dl = strlen(domain), pl = strlen(p + 1); /* ".example.com" */
      if (dl > pl && strcmp(domain + dl - pl, p + 1) == 0) return p;
    } else if (domain && strcmp(domain, p) == 0) {
      return p;
    }
  }
  return NULL;
}
