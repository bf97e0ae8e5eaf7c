/* fsyncfail.c - an LD_PRELOAD shim for durability tests: while the file named by the environment
 * variable FSYNCFAIL_FILE exists, fsync(), fdatasync() and syncfs() fail with EIO (as on a dying
 * disk or a full thin volume) instead of syncing. Without the variable, or while the file is absent,
 * calls go to the real libc functions. FSYNCFAIL_LOG=1 prints one line per failed call to stderr.
 *
 * Build: tests/support/CMakeLists.txt (libfsyncfail.so). Used by tests/integration/smtp_fsync.sh.
 * Test-only: never link it into mailagent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);
int syncfs(int fd);

static int should_fail(const char *what, int fd)
{
  const char *flag = getenv("FSYNCFAIL_FILE");
  if (!flag || access(flag, F_OK) != 0) return 0;
  if (getenv("FSYNCFAIL_LOG")) fprintf(stderr, "fsyncfail: %s(%d) -> EIO\n", what, fd);
  return 1;
}

#define FORWARD(name)                                                 \
  int name(int fd)                                                    \
  {                                                                   \
    static int (*real)(int);                                          \
    if (should_fail(#name, fd)) {                                     \
      errno = EIO;                                                    \
      return -1;                                                      \
    }                                                                 \
    if (!real) real = (int (*)(int)) dlsym(RTLD_NEXT, #name);         \
    return real ? real(fd) : -1;                                      \
  }

FORWARD(fsync)
FORWARD(fdatasync)
FORWARD(syncfs)
