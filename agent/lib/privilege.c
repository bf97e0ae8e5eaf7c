/* privilege.c - the switch from root to the mail system's user (see privilege.h). The capability
 * to bind low ports survives setuid through PR_SET_KEEPCAPS and is then made the only permitted
 * and effective one with capset(2); libcap would do the same with a dependency more. */
#include "privilege.h"

#include "error.h"
#include "log.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int set_caps(guint32 caps)
{
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {{0}};
  data[0].effective = data[0].permitted = caps;
  return (int) syscall(SYS_capset, &header, data);
}

static int fail(GError **error, const char *what, const char *name)
{
  g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "cannot become %s: %s: %s", name, what, g_strerror(errno));
  return -1;
}

/* The data directory of [process] user: made (0700, theirs) when missing, since its parent is
 * usually root's (/var/lib); refused with the command to run when root owns it, because files root
 * made there would be unwritable for the daemon. */
static int own_data_dir(const char *data_dir, const char *name, uid_t uid, gid_t gid, GError **error)
{
  struct stat st;
  if (stat(data_dir, &st) < 0) {
    if (errno != ENOENT || g_mkdir_with_parents(data_dir, 0700) < 0 || chown(data_dir, uid, gid) < 0) {
      g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "cannot create %s for %s: %s", data_dir, name, g_strerror(errno));
      return -1;
    }
    return 0;
  }
  if (st.st_uid != uid) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID,
                "%s belongs to uid %u, not to [process] user %s: run `chown -R %s: %s` as root first", data_dir,
                (unsigned) st.st_uid, name, name, data_dir);
    return -1;
  }
  return 0;
}

int ma_privilege_become(const char *user, const char *data_dir, gboolean keep_bind_cap, GError **error)
{
  if (geteuid() != 0) return 0;
  struct passwd *pw = NULL;
  if (user && *user) {
    errno = 0;
    pw = getpwnam(user);
    if (!pw) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[process] user: no user \"%s\" on this system", user);
      return -1;
    }
  } else {
    struct stat st;
    if (!data_dir || stat(data_dir, &st) < 0 || st.st_uid == 0) return 0;
    pw = getpwuid(st.st_uid);
    if (!pw) {
      g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "%s belongs to uid %u, which has no user entry", data_dir,
                  (unsigned) st.st_uid);
      return -1;
    }
  }
  if (pw->pw_uid == 0) return 0;
  g_autofree char *name = g_strdup(pw->pw_name);
  uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  if (user && *user && data_dir && own_data_dir(data_dir, name, uid, gid, error) < 0) return -1;
  if (keep_bind_cap && prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0) return fail(error, "PR_SET_KEEPCAPS", name);
  if (initgroups(name, gid) < 0) return fail(error, "initgroups", name);
  if (setresgid(gid, gid, gid) < 0) return fail(error, "setresgid", name);
  if (setresuid(uid, uid, uid) < 0) return fail(error, "setresuid", name);
  if (setuid(0) == 0) { /* must be impossible now */
    errno = EPERM;
    return fail(error, "root could be regained", name);
  }
  if (keep_bind_cap) {
    if (set_caps(1u << CAP_NET_BIND_SERVICE) < 0) return fail(error, "capset", name);
    (void) prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
  }
  ma_debug("privilege", "running as %s (uid %u)", name, (unsigned) uid);
  return 0;
}

void ma_privilege_drop_bind_cap(void)
{
  if (set_caps(0) < 0 && errno != EPERM) ma_warn("privilege", "cannot drop capabilities: %s", g_strerror(errno));
}
