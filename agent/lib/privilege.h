/* privilege.h - running as the mail system's own user when started as root, as Postfix and
 * Dovecot do: `serve` switches to [process] user before it opens any file, keeping only the
 * capability to bind ports below 1024 until its listeners are bound; administrative commands run
 * by root switch to the user that owns the data directory, so that nothing they create (database
 * journals, keys) ends up owned by root where the daemon cannot write it.
 */
#ifndef MA_PRIVILEGE_H
#define MA_PRIVILEGE_H

#include <glib.h>

/* When the process runs as root: becomes user (the name in [process] user), or, when user is NULL,
 * the owner of data_dir if that exists and is not root; with keep_bind_cap, CAP_NET_BIND_SERVICE
 * stays effective (drop it with ma_privilege_drop_bind_cap). Not root, or nobody to become: does
 * nothing. Returns 0, or -1 with *error (an unknown user, a failed set*id: the process must not go
 * on as root believing it is not). Call before any thread starts. */
int ma_privilege_become(const char *user, const char *data_dir, gboolean keep_bind_cap, GError **error);

/* Drops every capability left (after the listeners are bound). Harmless when none is held. */
void ma_privilege_drop_bind_cap(void);

#endif
