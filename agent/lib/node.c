/* node.c - this process's owner name for cluster leases (node.h). */
#include "node.h"

#include "crypto.h"

#include <glib.h>
#include <unistd.h>

const char *ma_node_id(void)
{
  static gsize once = 0;
  static char *id;
  if (g_once_init_enter(&once)) {
    g_autofree char *nonce = ma_random_hex(8);
    id = g_strdup_printf("%s:%d:%s", g_get_host_name(), (int)getpid(), nonce);
    g_once_init_leave(&once, 1);
  }
  return id;
}
