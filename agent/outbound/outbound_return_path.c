/* outbound_return_path.c - the envelope sender (return path) a message leaves with. Per path -
 * the default path's choice is the enterprise setting `return_path`, a relay's is its own - it is
 * one of: mailagent's bounce management ("bounce": a VERP address per recipient row on
 * [relay] bounce_domain, made at delivery by outbound_verp_address, so every DSN names the row it
 * is about), the From address ("from"), or a fixed address in one of the enterprise's domains.
 * Without [relay] bounce_domain there is no bounce management and "bounce" means the From address.
 * On the default path a From domain claimed with return path "from" (`mailagent domain add
 * --return-path from`: the customer's own SPF then counts, agent/domains) leaves with the From
 * address whatever the enterprise setting says, so mail matches what the domain doctor checks.
 * A sender the request set explicitly (other than the From address) is kept, and a null sender
 * stays null: mail that must never be bounced to is never given a bounce address.
 */
#include "outbound.h"

#include "agent/bounce/bounce_verp.h"
#include "agent/tenant/settings.h"

#include <string.h>

int outbound_return_path(MaStorage *st, const MaConfig *cfg, const char *enterprise_id, const char *choice,
                         const char *header_from, const char *envelope_from, char **mail_from_r, gboolean *verp_r,
                         GError **error)
{
  *mail_from_r = NULL;
  *verp_r = FALSE;
  if (envelope_from && (!*envelope_from || g_ascii_strcasecmp(envelope_from, header_from) != 0)) {
    *mail_from_r = g_strdup(envelope_from);
    return 0;
  }
  g_autofree char *setting = NULL;
  if (!choice) {
    MaDomain *d = NULL;
    g_autofree char *domain = g_ascii_strdown(strrchr(header_from, '@') + 1, -1);
    int found = storage_domain_get(st, enterprise_id, domain, &d, error);
    gboolean domain_from = found > 0 && g_strcmp0(d->return_path, "from") == 0;
    ma_domain_free(d);
    if (found < 0) return -1;
    if (domain_from) setting = g_strdup("from");
    else if (settings_get(st, cfg, enterprise_id, "return_path", &setting, error) < 0) return -1;
    choice = setting;
  }
  if (strchr(choice, '@')) {
    g_autofree char *canon = settings_normalise("return_path", choice, NULL, error);
    if (!canon) return -1;
    int allowed = settings_return_path_allowed(st, enterprise_id, canon, error);
    if (allowed < 0) return -1;
    if (allowed == 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "return path %s is not in one of the enterprise's domains", canon);
      return -1;
    }
    *mail_from_r = g_steal_pointer(&canon);
    return 0;
  }
  *verp_r = strcmp(choice, "bounce") == 0 && cfg->relay_bounce_domain && *cfg->relay_bounce_domain;
  *mail_from_r = g_strdup(header_from);
  return 0;
}

char *outbound_verp_address(const guint8 token_key[32], const char *bounce_domain, gint64 row_id)
{
  return bounce_token_address(token_key, BOUNCE_TOKEN_RETURN_PATH, row_id, bounce_domain);
}
