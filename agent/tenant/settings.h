/* settings.h - the registry of per-enterprise settings: their names, kinds, defaults and
 * validation. Values live in the database as text (storage_setting_get/set); this file is the only
 * place that knows what a key means, so `mailagent settings`, `PUT /v1/settings`, the SMTP
 * forwarder policy and the pipeline all agree.
 *
 * Keys (defaults in brackets):
 *   archiving          bool [on]     archive mail at all; off: every message is skipped
 *   activities         bool [on]     create activities from rules after archiving
 *   archive_internal   bool [off]    archive mail whose participants are all internal
 *   archive_unmatched  bool [off]    archive mail with external participants none of whom matches a
 *                                    CRM record (data minimisation: off keeps only CRM-related mail)
 *   ignore_plus_tags   bool [off]    "a+tag@x" matches a record's "a@x"
 *   public_domains     domain list [gmail.com outlook.com ... 139.com] domains never matched to
 *                      accounts; set a full list, or edit with "+example.com -gmail.com"
 *   forwarder_policy   employee|domain|any|strict [the config's [smtp] forwarder_policy]
 *   forwarder_networks CIDR list [empty] the enterprise's mail servers ("192.0.2.0/24 2001:db8::/32")
 *   capture_level      full|no_attachments|metadata [full] what of a message is kept: everything;
 *                      no attachment contents; headers, participants and links only (no body,
 *                      no raw copy, no attachment contents)
 *   auto_replies       flag|skip [flag] auto-replies and delivery reports (agent/match
 *                      match_machine.c): archived with is_auto set, or not archived
 *   bulk_mail          flag|skip [flag] bulk and list mail: archived with is_bulk set, or not archived
 *   pending_days       days [14] mail with no matching record (archive_unmatched off) is held this
 *                      long in the pending store, raw copy included, and archived when a record
 *                      that matches it is imported or changed; then purged. 0 holds nothing: the
 *                      privacy trade-off (held mail is kept for the window though it matched no
 *                      record) against losing mail whose contact is created a day later. Nothing is
 *                      held under capture_level metadata (it keeps no raw copy).
 *   relink_days        days [30] archived mail (archive_unmatched on, or linked to other records)
 *                      this recent is matched again when a record is imported or changed, so a
 *                      contact created later gets its mail; 0 turns it off (the pending store still
 *                      works). The cost is the mail that matches the change, not the window.
 *   loop_limit         number [50] loop protection: once one outside sender's inbound messages
 *                      linked to one record within loop_window_minutes reach it, the next ones are
 *                      not archived (skip reason loop_throttled), logged, counted and reported once
 *                      per window with a loop.throttled webhook event; 0 turns it off
 *   loop_window_minutes number [60]
 *   never_log          pattern list [empty] addresses ("a@x.com"), domains ("x.com") and every
 *                      subdomain ("*.x.com") that are never linked to records; a message whose only
 *                      external participants are on it is not archived
 *   timezone           IANA zone [UTC] the enterprise's calendar day (relay daily limits, suspension)
 *   admin_email        address [none] where relay warnings are mailed (through the default path)
 *   default_path_hourly_limit, default_path_daily_limit  count [0: none] recipients per hour / per
 *                      day by mailagent's own delivery path (the shared relay's quotas)
 *   employee_channels  word list [employee_mailbox enterprise_relay mailagent_relay] the channels
 *                      employees may send through (docs/routing.md rule 1)
 *   return_path        bounce|from|ADDRESS [bounce] the envelope sender of outgoing mail on the
 *                      default path: mailagent's bounce management (a VERP address per recipient
 *                      on [relay] bounce_domain; the From address while that is unset), the From
 *                      address, or a fixed address, which must be in one of the enterprise's domains
 *   retention_days     days [0]      archived mail is deleted (with its index entries, blobs and
 *                                    links; activities stay in the CRM) this many days after it
 *                                    was archived; 0 keeps it until erased
 * Booleans accept on/off, true/false, yes/no, 1/0 and are shown as "on"/"off". The value "default"
 * restores a key's default. Lists are written space-separated, lower-case, without duplicates.
 *
 * Never logs values; never reads the config file itself (the caller passes MaConfig for defaults
 * that come from it).
 */
#ifndef MA_SETTINGS_H
#define MA_SETTINGS_H

#include "agent/lib/config.h"
#include "agent/lib/error.h"
#include "storage/storage.h"

#include <glib.h>

typedef enum {
  MA_SETTING_BOOL,
  MA_SETTING_CHOICE,      /* one of a fixed set of words */
  MA_SETTING_DOMAIN_LIST,
  MA_SETTING_CIDR_LIST,
  MA_SETTING_PATTERN_LIST, /* addresses, domains and *.domain wildcards (never_log) */
  MA_SETTING_NUMBER,       /* a whole number, 0 to 1000000 */
  MA_SETTING_TIMEZONE,    /* an IANA zone name the system's tzdata knows */
  MA_SETTING_ADDRESS,     /* one mail address, or "" */
  MA_SETTING_WORD_LIST,   /* a subset of choices, space-separated in their order, or "none" */
  MA_SETTING_RETURN_PATH, /* "bounce", "from" or an address in one of the enterprise's domains */
  MA_SETTING_DAYS,        /* a whole number of days, 0 to SETTINGS_DAYS_MAX */
} MaSettingKind;

#define SETTINGS_DAYS_MAX 36500

typedef struct {
  const char *key;
  MaSettingKind kind;
  const char *default_value; /* canonical text; NULL when it comes from the config */
  const char *const *choices;/* MA_SETTING_CHOICE: NULL-terminated; NULL otherwise */
  const char *summary;       /* one line for --help and listings */
} MaSettingInfo;

/* The registry, in display order. *n gets the count. Static data, never freed. */
const MaSettingInfo *settings_registry(guint *n);
/* The entry for key, or NULL when there is no such setting. */
const MaSettingInfo *settings_lookup(const char *key);

/* Validates value for key and returns its canonical text (newly allocated, caller frees), or NULL
 * with MA_ERROR_INVALID naming the key (unknown key) or the key and the bad value. current is the
 * effective value now (used by "+d -d" list edits; may be NULL = the default). The canonical text
 * of "default" is "" (stored "" means "use the default"). */
char *settings_normalise(const char *key, const char *value, const char *current, GError **error);

/* Validates, normalises and stores one setting. Returns 0, or -1 with *error (MA_ERROR_INVALID for
 * an unknown key or bad value, storage errors otherwise). Runs in the caller's transaction if any. */
int settings_set(MaStorage *st, const char *enterprise_id, const char *key, const char *value, GError **error);

/* A custom return path must be in one of the enterprise's domains: 1 when address's domain is one
 * of them, 0 when not, -1 on a storage error (MA_ERROR_NOT_FOUND: no such enterprise). */
int settings_return_path_allowed(MaStorage *st, const char *enterprise_id, const char *address, GError **error);

/* The effective value of key as canonical text (the default when unset); *value is newly
 * allocated. cfg may be NULL (then built-in defaults stand for config ones). 0 or -1. */
int settings_get(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *key, char **value,
                 GError **error);
/* The effective value of a bool setting. 0 or -1 (MA_ERROR_INVALID when key is not a bool). */
int settings_get_bool(MaStorage *st, const char *enterprise_id, const char *key, gboolean *out, GError **error);

typedef struct {
  const MaSettingInfo *info; /* static */
  char *value;               /* effective canonical value */
  gboolean is_default;       /* not set for this enterprise */
} MaSettingValue;

void ma_setting_value_free(MaSettingValue *v);

/* Every setting of the enterprise, in registry order. out: MaSettingValue* (create it with
 * g_ptr_array_new_with_free_func((GDestroyNotify) ma_setting_value_free)). 0 or -1. */
int settings_list(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, GPtrArray *out, GError **error);

/* ---- a parsed snapshot, for code that consults several settings per message ------------------ */

typedef enum { MA_CAPTURE_FULL, MA_CAPTURE_NO_ATTACHMENTS, MA_CAPTURE_METADATA } MaCaptureLevel;

typedef struct {
  gboolean archiving;
  gboolean activities;
  gboolean archive_internal;
  gboolean archive_unmatched;
  gboolean ignore_plus_tags;
  GHashTable *public_domains;   /* set of lower-case domains (keys owned) */
  char *forwarder_policy;       /* "employee" | "domain" | "any" */
  GPtrArray *forwarder_networks;/* GInetAddressMask* (owned) */
  MaCaptureLevel capture_level;
  gboolean skip_auto_replies;   /* auto_replies = skip */
  gboolean skip_bulk_mail;      /* bulk_mail = skip */
  GPtrArray *never_log;         /* char*: lower-case never_log entries (owned) */
  int pending_days;             /* hold unmatched mail this long for late re-matching; 0: never */
  int relink_days;              /* archived mail this recent is matched again when records change; 0: never */
  int loop_limit;               /* inbound messages from one sender to one record per window; 0: no limit */
  int loop_window_minutes;
} MaSettings;

/* Reads all settings of the enterprise into a new snapshot (caller frees with ma_settings_free).
 * cfg may be NULL. 0 or -1. */
int settings_load(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, MaSettings **out, GError **error);
/* A snapshot of the defaults alone (no storage). */
MaSettings *settings_defaults(const MaConfig *cfg);
void ma_settings_free(MaSettings *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaSettings, ma_settings_free)

/* The never_log entry that covers address_key (an ma_address_key: lower-case), or NULL. The
 * result points into s. */
const char *settings_never_log_match(const MaSettings *s, const char *address_key);

/* TRUE when domain (any case) is on the public-provider list. */
gboolean settings_is_public_domain(const MaSettings *s, const char *domain);
/* TRUE when the textual IP address (v4 or v6, "::ffff:a.b.c.d" counts as v4) lies in one of the
 * enterprise's forwarder_networks. FALSE for unparseable input. */
gboolean settings_in_forwarder_networks(const MaSettings *s, const char *ip);

#endif
