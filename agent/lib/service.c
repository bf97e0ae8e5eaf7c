/* service.c - sd_notify(3) messages for systemd's Type=notify (see service.h). libsystemd does the
 * socket work (abstract and path sockets, credentials); a failure to notify is logged once and
 * never stops the daemon: the service manager then times the start out, which is its own report. */
#include "service.h"

#include "log.h"

#include <glib.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static void notify(const char *state)
{
  static gboolean warned;
  int rc = sd_notify(0, state);
  if (rc < 0 && !warned) {
    warned = TRUE;
    ma_warn("service", "cannot notify the service manager: %s", g_strerror(-rc));
  }
}

void ma_service_ready(const char *status)
{
  g_autofree char *state = g_strdup_printf("READY=1\nSTATUS=%s\nMAINPID=%d", status ? status : "running", (int) getpid());
  notify(state);
}

void ma_service_reloading(void)
{
  notify("RELOADING=1\nSTATUS=reloading the configuration");
}

void ma_service_stopping(void)
{
  notify("STOPPING=1\nSTATUS=stopping: draining sessions and the pipeline");
}
