/* collector_presets.h - mail provider presets (servers, auth types, OAuth2 endpoints) read from
 * data files (share/presets.ini shipped, plus the administrator's `[collector] presets_file`).
 *
 * The parser is pure (text in, structures out, no I/O) and bounded: at most
 * COLLECTOR_PRESETS_MAX presets, values up to 1024 bytes, host names up to 253. A malformed preset
 * refuses the whole file with the group and key named, so a typo never half-applies.
 */
#ifndef MA_COLLECTOR_PRESETS_H
#define MA_COLLECTOR_PRESETS_H

#include <glib.h>

#define COLLECTOR_PRESETS_MAX 256

typedef enum { MA_SECURITY_TLS, MA_SECURITY_STARTTLS } MaSecurity;

typedef struct {
  char *host;     /* NULL: not offered */
  int port;
  MaSecurity security;
} MaServer;

typedef struct {
  char *id;       /* the group name, [a-z0-9-] */
  char *name;
  char *source;
  MaServer imap, pop3, smtp;
  gboolean password_ok, oauth2_ok;
  gboolean imap_id;
  gboolean saves_sent;  /* the provider files mail sent over its SMTP in the Sent folder itself */
  char *oauth2_authorize_url, *oauth2_token_url, *oauth2_revoke_url, *oauth2_scope;
} MaPreset;

void ma_preset_free(MaPreset *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MaPreset, ma_preset_free)

const char *ma_security_name(MaSecurity s); /* "tls" | "starttls" */
/* "tls" | "starttls" -> 0 and *out; -1 otherwise. */
int ma_security_parse(const char *text, MaSecurity *out);

/* Parses "host:port:security" (host may be "[v6]"). 0 and *out (host newly allocated), or -1 with
 * *error (MA_ERROR_INVALID). */
int collector_server_parse(const char *text, MaServer *out, GError **error);

/* Parses a presets file's text (len bytes, need not be NUL-terminated) and adds each preset to by_id
 * (id -> MaPreset*, created by the caller with g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
 * (GDestroyNotify)ma_preset_free); a preset replaces one of the same id). 0, or -1 with *error and
 * by_id unchanged. */
int collector_presets_parse(const char *text, gsize len, GHashTable *by_id, GError **error);

/* Loads the shipped file (MA_PRESETS_FILE, compiled in) and then extra_file when not NULL.
 * Returns the table (caller unrefs) or NULL with *error. */
GHashTable *collector_presets_load(const char *extra_file, GError **error);

#endif
