/* api_server.h - the HTTP API of mailagent (docs/api.md): an evhttp server on the caller's event
 * loop, bound to [api] listen, optionally TLS ([api] tls_cert_file / tls_key_file).
 *
 * Threads: everything runs on the thread that runs `base`; the server opens its own MaStorage
 * handle on cfg->data_dir for that thread. Never call from another thread.
 */
#ifndef MA_API_SERVER_H
#define MA_API_SERVER_H

#include "agent/lib/config.h"

#include <event2/event.h>
#include <glib.h>

typedef struct ApiServer ApiServer;

/* Binds cfg->api_listen and registers the handlers on base. cfg must outlive the server (the
 * server keeps a pointer to it). Returns a new server owned by the caller (free with
 * api_server_free), or NULL with *error set (MA_ERROR_INVALID for a bad listen address or TLS
 * files, MA_ERROR_TEMPFAIL when the port cannot be bound or storage cannot be opened). */
ApiServer *api_server_new(struct event_base *base, const MaConfig *cfg, GError **error);

/* SIGHUP: takes cfg (which must outlive the server; the previous one may be freed only after the
 * server) for new requests - body limit included - and reloads the TLS certificate and key; open
 * connections keep the certificate they started with. TLS cannot be switched on or off without a
 * restart. On a TLS failure the previous certificate stays and -1 is returned with *error
 * (MA_ERROR_INVALID); the rest of cfg is taken all the same. */
int api_server_reload(ApiServer *srv, const MaConfig *cfg, GError **error);

/* The TCP port actually bound (useful when listen asked for port 0). */
int api_server_port(const ApiServer *srv);

/* Stops listening, closes open connections and the storage handle. Accepts NULL. */
void api_server_free(ApiServer *srv);

#endif
