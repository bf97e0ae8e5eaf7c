/* api_thread.h - runs the HTTP API (api_server.h) on a thread and event loop of its own, so that no
 * request - a 10 MB bulk import, a write that waits for SQLite's lock - ever delays the SMTP loop.
 *
 * The thread owns its event_base, its ApiServer and that server's storage handle; the caller only
 * starts, reloads and stops it. Requests are answered one at a time on that thread, as before.
 * Threads: call every function from one thread (serve's main loop); none blocks on a request,
 * except api_thread_stop, which waits for the request in progress to finish.
 */
#ifndef MA_API_THREAD_H
#define MA_API_THREAD_H

#include "agent/lib/config.h"

#include <glib.h>

typedef struct ApiThread ApiThread;

/* Starts the thread, which binds cfg->api_listen and opens storage (api_server_new); waits until it
 * has done so. cfg must outlive the thread. Returns the running thread (stop it with
 * api_thread_stop), or NULL with *error from api_server_new. Enables libevent's pthread locking
 * (evthread_use_pthreads) for the bases created from then on. */
ApiThread *api_thread_start(const MaConfig *cfg, GError **error);

/* The TCP port bound (known once api_thread_start returned). */
int api_thread_port(const ApiThread *t);

/* Hands cfg (which must outlive the thread) to the server's reload (api_server_reload) on the API
 * thread; returns at once. A TLS failure is logged there and the previous certificate stays. */
void api_thread_reload(ApiThread *t, const MaConfig *cfg);

/* Stops listening, closes the connections and the storage handle, joins the thread and frees it.
 * Accepts NULL. */
void api_thread_stop(ApiThread *t);

#endif
