/* serve_api.c - runs only the HTTP API (api_server) on its own event loop with a config file, for
 * the benchmark and for testing the API while `mailagent serve` is not available. Stops on SIGINT
 * or SIGTERM. Usage: serve_api CONFIG
 */
#include "agent/api/api_server.h"
#include "agent/lib/config.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
  event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
  GError *error = NULL;
  MaConfig *cfg;
  struct event_base *base;
  struct event *sigint, *sigterm;
  ApiServer *srv;

  if (argc != 2) {
    fprintf(stderr, "usage: serve_api CONFIG\n");
    return 2;
  }
  if (!(cfg = ma_config_load(argv[1], &error))) {
    fprintf(stderr, "serve_api: %s\n", error->message);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  {
    /* the changelist coalesces libevent's epoll_ctl calls between loop turns */
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    base = event_base_new_with_config(ec);
    event_config_free(ec);
  }
  if (!(srv = api_server_new(base, cfg, &error))) {
    fprintf(stderr, "serve_api: %s\n", error->message);
    return 1;
  }
  sigint = evsignal_new(base, SIGINT, on_signal, base);
  sigterm = evsignal_new(base, SIGTERM, on_signal, base);
  event_add(sigint, NULL);
  event_add(sigterm, NULL);
  event_base_dispatch(base);
  event_free(sigint);
  event_free(sigterm);
  api_server_free(srv);
  event_base_free(base);
  ma_config_free(cfg);
  return 0;
}
