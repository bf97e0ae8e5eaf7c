/* api_server.c - the evhttp listener of the HTTP API and the one generic callback that routes,
 * authenticates and dispatches every request (api_router.c, api_auth.c), then records its latency
 * (when the handler answers, or when a request it parked on a read worker is answered:
 * api_workers.c).
 *
 * Limits set on evhttp: body [api] max_body, request line + headers API_MAX_HEADERS_SIZE, a
 * timeout of API_TIMEOUT_SECONDS, methods GET/POST/PUT/DELETE only. evhttp answers some malformed
 * requests itself, before this file sees them (docs/api.md lists them). Every connection passes
 * through the front reader (api_front.c, installed with evhttp_set_bevcb), which checks the key
 * from the request head before any body is read and caps concurrent connections. With [api]
 * tls_cert_file set, every connection is TLS (bufferevent_openssl under the front reader) on the
 * same server context as SMTP's STARTTLS (agent/lib/tls: TLS 1.2 or later), which SIGHUP reloads.
 * Never logs headers or bodies: only method, path pattern, status and time.
 */
#include "api_internal.h"
#include "agent/lib/log.h"
#include "agent/lib/metrics.h"
#include "agent/lib/tls.h"

#include <event2/util.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static void ctx_clear(ApiCtx *ctx)
{
  for (int i = 0; i < ctx->n_params; i++)
    g_free(ctx->param_values[i]);
  if (ctx->query_state)
    evhttp_clear_headers(&ctx->query);
  ma_api_key_free(ctx->key);
}

void api_request_finish(ApiCtx *ctx)
{
  const ApiRoute *route = ctx->route;

  if (ctx->status == 0) {
    ma_error("api", "handler for %s %s answered nothing", api_method_name(ctx->method), route ? route->pattern : "?");
    api_reply_error(ctx, 500, "internal", "internal error");
  }
  ma_metrics_inc(MA_METRIC_API_REQUESTS);
  ma_metrics_count_api_status(ctx->status);
  if (ctx->status >= 500)
    ma_metrics_inc(MA_METRIC_API_ERRORS);
  ma_metrics_observe_api_latency(g_get_monotonic_time() - ctx->started);
  ma_debug("api", "%s %s -> %d", api_method_name(ctx->method), route ? route->pattern : "(no route)", ctx->status);
  ctx_clear(ctx);
  g_free(ctx);
}

static void api_dispatch(struct evhttp_request *req, void *arg)
{
  ApiServer *srv = arg;
  ApiCtx *ctx = g_new0(ApiCtx, 1); /* freed by api_request_finish, now or when a parked request is answered */
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const ApiRoute *route = NULL;
  g_autoptr(GString) allow = g_string_new(NULL);

  ctx->started = g_get_monotonic_time();
  ctx->req = req;
  ctx->srv = srv;
  ctx->st = srv->st;
  ctx->cfg = srv->cfg;
  ctx->method = evhttp_request_get_command(req);
  ctx->path = uri ? evhttp_uri_get_path(uri) : NULL;
  if (!ctx->path || !*ctx->path)
    ctx->path = "/";

  api_cache_sync(ctx);
  switch (api_route_match(ctx->method, ctx->path, ctx, &route, allow)) {
  case API_ROUTE_FOUND:
    ctx->route = route;
    if (api_authenticate(ctx, route->auth))
      route->handler(ctx);
    break;
  case API_ROUTE_NO_METHOD:
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow->str);
    api_reply_error(ctx, 405, "method_not_allowed", "%s is not allowed here (allowed: %s)",
                    api_method_name(ctx->method), allow->str);
    break;
  case API_ROUTE_BAD_PATH:
    api_reply_error(ctx, 400, "invalid_path", "a path parameter is empty, too long or not valid");
    break;
  case API_ROUTE_NO_PATH:
    api_reply_error(ctx, 404, "not_found", "no such resource");
    break;
  }
  if (!ctx->parked)
    api_request_finish(ctx);
}

static int tls_setup(ApiServer *srv, GError **error)
{
  const MaConfig *cfg = srv->cfg;
  g_autoptr(GError) cause = NULL;

  if (!cfg->api_tls_key_file) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[api] tls_cert_file is set but tls_key_file is not");
    return -1;
  }
  srv->tls = ma_tls_server_new(cfg->api_tls_cert_file, cfg->api_tls_key_file, &cause);
  if (!srv->tls) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[api] TLS certificate or key not usable: %s", cause->message);
    return -1;
  }
  return 0;
}

static int bound_port(struct evhttp_bound_socket *bound)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);

  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
    return -1;
  if (ss.ss_family == AF_INET)
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return -1;
}

ApiServer *api_server_new(struct event_base *base, const MaConfig *cfg, GError **error)
{
  ApiServer *srv;
  g_autofree char *host = NULL;
  int port = 0;

  g_return_val_if_fail(base != NULL && cfg != NULL, NULL);
  if (ma_config_split_listen(cfg->api_listen, &host, &port, error) < 0)
    return NULL;
  srv = g_new0(ApiServer, 1);
  srv->base = base;
  srv->cfg = cfg;
  if (storage_open(cfg->data_dir, FALSE, &srv->st, error) < 0) {
    api_server_free(srv);
    return NULL;
  }
  srv->cache = api_cache_new();
  srv->item_cache = api_item_cache_new(API_ITEM_CACHE_MAX_BYTES);
  if (cfg->api_read_workers > 0) {
    srv->workers = api_workers_new(base, cfg->data_dir, cfg->api_read_workers, error);
    if (!srv->workers) {
      api_server_free(srv);
      return NULL;
    }
  }
  srv->front_count = api_front_count_new();
  srv->http = evhttp_new(base);
  if (!srv->http) {
    g_set_error(error, MA_ERROR, MA_ERROR_INTERNAL, "cannot create the HTTP server");
    api_server_free(srv);
    return NULL;
  }
  evhttp_set_max_body_size(srv->http, (ev_ssize_t)cfg->api_max_body);
  evhttp_set_max_headers_size(srv->http, API_MAX_HEADERS_SIZE);
  evhttp_set_timeout(srv->http, API_TIMEOUT_SECONDS);
  evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
  evhttp_set_gencb(srv->http, api_dispatch, srv);
  evhttp_set_bevcb(srv->http, api_front_bevcb, srv); /* key checked from the head (api_front.c) */
  if (cfg->api_tls_cert_file && tls_setup(srv, error) < 0) {
    api_server_free(srv);
    return NULL;
  }
  srv->bound = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
  if (!srv->bound) {
    g_set_error(error, MA_ERROR, MA_ERROR_TEMPFAIL, "cannot listen on %s for the API", cfg->api_listen);
    api_server_free(srv);
    return NULL;
  }
  srv->port = bound_port(srv->bound);
  ma_info("api", "listening on %s port=%d tls=%s", cfg->api_listen, srv->port, srv->tls ? "on" : "off");
  return srv;
}

int api_server_reload(ApiServer *srv, const MaConfig *cfg, GError **error)
{
  g_autoptr(GError) cause = NULL;

  g_return_val_if_fail(srv != NULL && cfg != NULL, -1);
  srv->cfg = cfg;
  evhttp_set_max_body_size(srv->http, (ev_ssize_t)cfg->api_max_body);
  if ((srv->tls != NULL) != (cfg->api_tls_cert_file != NULL)) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[api] TLS cannot be switched %s by a reload; restart serve",
                srv->tls ? "off" : "on");
    return -1;
  }
  if (!srv->tls)
    return 0;
  if (!cfg->api_tls_key_file) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[api] tls_cert_file is set but tls_key_file is not");
    return -1;
  }
  if (ma_tls_reload(srv->tls, cfg->api_tls_cert_file, cfg->api_tls_key_file, &cause) < 0) {
    g_set_error(error, MA_ERROR, MA_ERROR_INVALID, "[api] TLS certificate or key not usable: %s", cause->message);
    return -1;
  }
  return 0;
}

int api_server_port(const ApiServer *srv)
{
  return srv ? srv->port : -1;
}

void api_server_free(ApiServer *srv)
{
  if (!srv)
    return;
  api_workers_free(srv->workers); /* answers the parked requests while evhttp still holds them */
  if (srv->http)
    evhttp_free(srv->http);
  api_front_count_unref(srv->front_count); /* connections still being finalized keep it */
  ma_tls_free(srv->tls);
  storage_close(&srv->st);
  api_cache_free(srv->cache);
  api_item_cache_free(srv->item_cache); /* after the workers, which use it */
  g_free(srv);
}
