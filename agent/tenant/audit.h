/* audit.h - the audit log of administrative changes: who (the CLI's Unix user, or the API key),
 * what (an action name and its target), for which enterprise, when. Entries are written in the
 * caller's transaction when one is open, so a change and its entry commit together.
 *
 * Actions: enterprise.create, enterprise.delete, enterprise.domain_add, enterprise.domain_remove,
 * inbound.rotate, employee.add, employee.remove, apikey.create, apikey.revoke, apikey.rotate,
 * rules.add, rules.update, rules.move, rules.enable, rules.disable, rules.delete, rules.replace,
 * settings.update, rules.replay, domain.add, domain.remove, domain.dkim_key, mailbox.bind,
 * mailbox.unbind, mailbox.pause, mailbox.resume, submission.add, submission.revoke (relays will
 * add theirs).
 * Details never hold a secret: no key secret, password, token or message content.
 */
#ifndef MA_AUDIT_H
#define MA_AUDIT_H

#include "storage/storage.h"

#include <jansson.h>

/* "cli:<unix user>" for the CLI. Caller frees. */
char *audit_actor_cli(void);
/* "apikey:<key id>" (admin or enterprise key). Caller frees. */
char *audit_actor_key(const MaApiKey *key);

/* The enterprise of API key key_id (caller frees), NULL for an admin key or an unknown one: what an
 * apikey.revoke entry names. */
char *audit_key_enterprise(MaStorage *st, const char *key_id);

/* Records one change. details: a JSON object or NULL, taken over (freed here). Returns 0, or -1 with
 * *error (the caller's transaction should then roll back: a change without its entry is not made). */
int audit_log(MaStorage *st, const char *actor, const char *enterprise_id, const char *action, const char *target,
              json_t *details, GError **error);

#endif
