/* private_files.h - the data directory holds every tenant's mail, keys and secrets: only the
 * account mailagent runs as may read it. ma_private_umask() (called first thing by main) makes
 * everything created later 0600/0700; ma_private_data_dir() (called by `init` and `serve`) narrows
 * what existed before with wider modes: the data directory to 0700, its databases (with their
 * -wal, -shm and -journal files) and the key files inside it to 0600.
 *
 * Key files configured outside the data directory (an operator's TLS key under /etc, shared with
 * other services by group) are never changed, only reported when others than their group can read
 * them. Symbolic links are not followed. Never widens a mode, never touches file contents.
 */
#ifndef MA_PRIVATE_FILES_H
#define MA_PRIVATE_FILES_H

#include "agent/lib/config.h"

#include <glib.h>

/* umask(077): new files 0600, new directories 0700. */
void ma_private_umask(void);

/* Narrows the data directory of cfg and the database and key files in it as above. Each file
 * whose mode changed is reported in *changed (may be NULL; newly allocated paths appended).
 * 0, or -1 with *error (MA_ERROR_INTERNAL) when a mode could not be changed (e.g. not our file):
 * the caller refuses to run rather than keep mail readable by others. */
int ma_private_data_dir(const MaConfig *cfg, GPtrArray *changed, GError **error);

#endif
