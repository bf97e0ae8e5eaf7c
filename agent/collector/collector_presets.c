/* collector_presets.c - parses provider preset files (see collector_presets.h). GKeyFile does the
 * INI syntax; every value is checked here before a preset is accepted.
 */
#include "collector_presets.h"

#include "agent/lib/error.h"

#include <string.h>

#ifndef MA_PRESETS_FILE
#define MA_PRESETS_FILE "share/presets.ini"
#endif

#define PRESET_VALUE_MAX 1024
#define PRESET_HOST_MAX 253

void ma_preset_free(MaPreset *p)
{
  if (!p) return;
  g_free(p->id);
  g_free(p->name);
  g_free(p->source);
  g_free(p->imap.host);
  g_free(p->pop3.host);
  g_free(p->smtp.host);
  g_free(p->oauth2_authorize_url);
  g_free(p->oauth2_token_url);
  g_free(p->oauth2_revoke_url);
  g_free(p->oauth2_scope);
  g_free(p);
}

const char *ma_security_name(MaSecurity s)
{
  return s == MA_SECURITY_STARTTLS ? "starttls" : "tls";
}

int ma_security_parse(const char *text, MaSecurity *out)
{
  if (g_strcmp0(text, "tls") == 0) *out = MA_SECURITY_TLS;
  else if (g_strcmp0(text, "starttls") == 0) *out = MA_SECURITY_STARTTLS;
  else return -1;
  return 0;
}

static gboolean host_ok(const char *h)
{
  gsize n = strlen(h);
  if (n == 0 || n > PRESET_HOST_MAX) return FALSE;
  for (const char *c = h; *c; c++)
    if (!g_ascii_isalnum(*c) && *c != '.' && *c != '-' && *c != ':' && *c != '_') return FALSE;
  return TRUE;
}

int collector_server_parse(const char *text, MaServer *out, GError **error)
{
  memset(out, 0, sizeof *out);
  g_autofree char *host = NULL;
  g_autofree char *port = NULL;
  const char *sec = text ? strrchr(text, ':') : NULL;
  const char *portp = NULL;
  if (sec) {
    for (const char *c = sec - 1; c >= text; c--)
      if (*c == ':') {
        portp = c;
        break;
      }
  }
  if (!portp || portp == text) goto bad;
  if (text[0] == '[') {
    if (portp[-1] != ']' || portp - text < 3) goto bad;
    host = g_strndup(text + 1, (gsize)(portp - text - 2));
  } else {
    host = g_strndup(text, (gsize)(portp - text));
  }
  port = g_strndup(portp + 1, (gsize)(sec - portp - 1));
  guint64 p = 0;
  if (!host_ok(host) || !g_ascii_string_to_unsigned(port, 10, 1, 65535, &p, NULL)) goto bad;
  if (ma_security_parse(sec + 1, &out->security) < 0) goto bad;
  out->host = g_steal_pointer(&host);
  out->port = (int)p;
  return 0;
bad:
  g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "server \"%s\" is not host:port:tls|starttls", text ? text : "");
  return -1;
}

static gboolean id_ok(const char *id)
{
  gsize n = strlen(id);
  if (n == 0 || n > 64) return FALSE;
  for (const char *c = id; *c; c++)
    if (!g_ascii_islower(*c) && !g_ascii_isdigit(*c) && *c != '-') return FALSE;
  return TRUE;
}

static const char *const known_keys[] = {"name", "source", "imap", "pop3", "smtp", "auth", "imap_id", "saves_sent",
                                         "oauth2_authorize_url", "oauth2_token_url", "oauth2_revoke_url",
                                         "oauth2_scope", NULL};

/* One group into a new preset, or NULL with *error naming group and key. */
static MaPreset *preset_read(GKeyFile *kf, const char *group, GError **error)
{
  g_autoptr(MaPreset) p = g_new0(MaPreset, 1);
  p->id = g_strdup(group);
  if (!id_ok(group)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: name must be [a-z0-9-], at most 64", group);
    return NULL;
  }
  gsize nkeys = 0;
  g_auto(GStrv) keys = g_key_file_get_keys(kf, group, &nkeys, NULL);
  for (gsize i = 0; i < nkeys; i++) {
    g_autofree char *v = g_key_file_get_string(kf, group, keys[i], NULL);
    if (!g_strv_contains(known_keys, keys[i])) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: unknown key %s", group, keys[i]);
      return NULL;
    }
    if (!v || strlen(v) > PRESET_VALUE_MAX) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: %s is unreadable or too long", group, keys[i]);
      return NULL;
    }
    GError *e = NULL;
    MaServer *srv = g_str_equal(keys[i], "imap")   ? &p->imap
                    : g_str_equal(keys[i], "pop3") ? &p->pop3
                    : g_str_equal(keys[i], "smtp") ? &p->smtp
                                                   : NULL;
    if (srv) {
      g_clear_pointer(&srv->host, g_free); /* a group given twice repeats its keys; the last wins */
      if (collector_server_parse(v, srv, &e) < 0) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: %s: %s", group, keys[i], e->message);
        g_error_free(e);
        return NULL;
      }
    } else if (g_str_equal(keys[i], "auth")) {
      g_auto(GStrv) parts = g_strsplit_set(v, " ,", -1);
      for (char **w = parts; *w; w++) {
        if (!**w) continue;
        if (g_str_equal(*w, "password")) p->password_ok = TRUE;
        else if (g_str_equal(*w, "oauth2")) p->oauth2_ok = TRUE;
        else {
          g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: auth: unknown type %s", group, *w);
          return NULL;
        }
      }
    } else if (g_str_equal(keys[i], "imap_id") || g_str_equal(keys[i], "saves_sent")) {
      if (g_strcmp0(v, "true") != 0 && g_strcmp0(v, "false") != 0) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: %s must be true or false", group, keys[i]);
        return NULL;
      }
      *(g_str_equal(keys[i], "imap_id") ? &p->imap_id : &p->saves_sent) = g_str_equal(v, "true");
    } else {
      char **slot = g_str_equal(keys[i], "name")                   ? &p->name
                    : g_str_equal(keys[i], "source")               ? &p->source
                    : g_str_equal(keys[i], "oauth2_authorize_url") ? &p->oauth2_authorize_url
                    : g_str_equal(keys[i], "oauth2_token_url")     ? &p->oauth2_token_url
                    : g_str_equal(keys[i], "oauth2_revoke_url")    ? &p->oauth2_revoke_url
                                                                   : &p->oauth2_scope;
      if (g_str_has_prefix(keys[i], "oauth2_") && !g_str_equal(keys[i], "oauth2_scope") &&
          !g_str_has_prefix(v, "https://") && !g_str_has_prefix(v, "http://127.0.0.1")) {
        g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: %s must be an https URL", group, keys[i]);
        return NULL;
      }
      g_free(*slot);
      *slot = g_steal_pointer(&v);
    }
  }
  if (!p->password_ok && !p->oauth2_ok) p->password_ok = TRUE;
  if (p->oauth2_ok && !g_str_equal(group, "custom") && (!p->oauth2_authorize_url || !p->oauth2_token_url)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "preset [%s]: auth oauth2 needs oauth2_authorize_url and oauth2_token_url",
                group);
    return NULL;
  }
  return g_steal_pointer(&p);
}

int collector_presets_parse(const char *text, gsize len, GHashTable *by_id, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new();
  GError *e = NULL;
  if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, &e)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "presets: %s", e->message);
    g_error_free(e);
    return -1;
  }
  gsize n = 0;
  g_auto(GStrv) groups = g_key_file_get_groups(kf, &n);
  if (n > COLLECTOR_PRESETS_MAX) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "presets: more than %d presets", COLLECTOR_PRESETS_MAX);
    return -1;
  }
  g_autoptr(GPtrArray) read = g_ptr_array_new_with_free_func((GDestroyNotify)ma_preset_free);
  for (gsize i = 0; i < n; i++) {
    MaPreset *p = preset_read(kf, groups[i], error);
    if (!p) return -1;
    g_ptr_array_add(read, p);
  }
  for (guint i = 0; i < read->len; i++) {
    MaPreset *p = g_ptr_array_index(read, i);
    g_ptr_array_index(read, i) = NULL;
    g_hash_table_replace(by_id, p->id, p);
  }
  return 0;
}

static int load_file(const char *path, GHashTable *by_id, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  GError *e = NULL;
  if (!g_file_get_contents(path, &text, &len, &e)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "presets file %s: %s", path, e->message);
    g_error_free(e);
    return -1;
  }
  if (collector_presets_parse(text, len, by_id, error) < 0) {
    g_prefix_error(error, "%s: ", path);
    return -1;
  }
  return 0;
}

GHashTable *collector_presets_load(const char *extra_file, GError **error)
{
  GHashTable *by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)ma_preset_free);
  const char *shipped = g_getenv("MAILAGENT_PRESETS_FILE");
  if (load_file(shipped && *shipped ? shipped : MA_PRESETS_FILE, by_id, error) < 0 ||
      (extra_file && load_file(extra_file, by_id, error) < 0)) {
    g_hash_table_unref(by_id);
    return NULL;
  }
  return by_id;
}
