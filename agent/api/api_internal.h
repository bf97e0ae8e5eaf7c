/* api_internal.h - what the API's files share: the server state, the per-request context handed to
 * every handler, the route table types, and the helpers for replies, bodies, queries and auth.
 * Not for use outside agent/api (the public interface is api_server.h).
 *
 * A handler runs on the event-loop thread, must answer exactly once (api_reply_* does it), and owns
 * nothing of the context: the dispatcher frees the context after the handler returns, unless the
 * handler parked the request with api_defer (api_workers.c), which answers and frees it later.
 */
#ifndef MA_API_INTERNAL_H
#define MA_API_INTERNAL_H

#include "agent/api/api_item_cache.h"
#include "agent/api/api_server.h"
#include "agent/lib/config.h"
#include "agent/lib/error.h"
#include "agent/lib/tls.h"
#include "agent/collector/collector.h"
#include "storage/storage.h"

#include <sys/queue.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <glib.h>
#include <jansson.h>

/* Limits we apply ourselves (the body cap comes from [api] max_body). */
#define API_MAX_HEADERS_SIZE (64 * 1024) /* request line + headers, bytes */
#define API_TIMEOUT_SECONDS 30           /* idle/read/write timeout per connection */
#define API_MAX_PATH_SEGMENTS 8
#define API_MAX_PARAMS 4
#define API_MAX_PARAM_LEN 512            /* a decoded path parameter (ids, slugs, e-mail addresses) */
#define API_DEFAULT_PAGE 50
#define API_MAX_PAGE 200

typedef struct ApiCache ApiCache;
typedef struct ApiFrontCount ApiFrontCount;
typedef struct ApiWorkers ApiWorkers;
typedef struct ApiJob ApiJob;

struct ApiServer {
  struct event_base *base;
  const MaConfig *cfg;
  struct evhttp *http;
  struct evhttp_bound_socket *bound;
  MaTls *tls;       /* NULL for plain HTTP */
  MaStorage *st;
  ApiCache *cache;  /* api_cache.c */
  ApiItemCache *item_cache; /* api_item_cache.c: rendered timeline items, shared with the read workers */
  ApiFrontCount *front_count; /* open connections (api_front.c) */
  ApiWorkers *workers; /* read workers (api_workers.c); NULL with [api] read_workers = 0 */
  int port;
};

typedef enum {
  API_AUTH_NONE,       /* /healthz, /metrics */
  API_AUTH_ENTERPRISE, /* an enterprise key; the handler sees ctx->enterprise_id */
  API_AUTH_ADMIN,      /* the admin key */
  API_AUTH_ANY,        /* either; the handler tells them apart by ctx->enterprise_id (NULL: admin) */
} ApiAuth;

typedef struct {
  struct evhttp_request *req;
  ApiServer *srv;
  MaStorage *st;
  const MaConfig *cfg;
  enum evhttp_cmd_type method;
  const char *path;                       /* raw path of the request URI (not decoded) */
  struct evkeyvalq query;                 /* decoded query parameters */
  int query_state;                        /* 0 not parsed yet, 1 parsed, 2 malformed */
  char param_names[API_MAX_PARAMS][32];   /* names from the route pattern */
  char *param_values[API_MAX_PARAMS];     /* decoded; owned by the context */
  int n_params;
  MaApiKey *key;                          /* the authenticated key (NULL for API_AUTH_NONE) */
  const char *enterprise_id;              /* key->enterprise_id for enterprise keys */
  int status;                             /* the status answered, 0 until then */
  const void *route;                      /* the ApiRoute matched, NULL when none (for the log) */
  gint64 started;                         /* monotonic time the request was dispatched */
  gboolean parked;                        /* api_defer: a read worker computes the answer */
  gboolean cache_admit;                   /* api_cache_reply missed a URI that missed before:
                                           * api_cache_store keeps its answer */
  gboolean cache_unchecked;               /* api_cache_reply missed because this enterprise's
                                           * archive version is not known at this data version:
                                           * the worker reads it (api_cache_validate) */
} ApiCtx;

typedef void (*ApiHandler)(ApiCtx *ctx);

typedef struct {
  enum evhttp_cmd_type method;
  const char *pattern; /* "/v1/records/{type}/{id}", "/v1/apikeys/{id}:rotate" */
  ApiAuth auth;
  ApiHandler handler;
} ApiRoute;

/* Route tables, one per resource file, each ending with a {0} entry. */
extern const ApiRoute api_health_routes[];
extern const ApiRoute api_records_routes[];
extern const ApiRoute api_mailboxes_routes[];
extern const ApiRoute api_timeline_routes[];
extern const ApiRoute api_messages_routes[];
extern const ApiRoute api_settings_routes[];
extern const ApiRoute api_rules_routes[];
extern const ApiRoute api_employees_routes[];
extern const ApiRoute api_enterprises_routes[];
extern const ApiRoute api_keys_routes[];
extern const ApiRoute api_inbound_routes[];
extern const ApiRoute api_outbound_routes[];
extern const ApiRoute api_webhook_routes[];
extern const ApiRoute api_audit_routes[];
extern const ApiRoute api_search_routes[]; /* api_search.c */
extern const ApiRoute api_spool_routes[];
extern const ApiRoute api_domains_routes[];
extern const ApiRoute api_relays_routes[];
extern const ApiRoute api_oauth2_routes[];
extern const ApiRoute api_channels_routes[];
extern const ApiRoute api_suppressions_routes[];

/* ---- router (api_router.c) ------------------------------------------------------------------ */

typedef enum { API_ROUTE_FOUND, API_ROUTE_NO_PATH, API_ROUTE_NO_METHOD, API_ROUTE_BAD_PATH } ApiRouteResult;

/* Finds the route for method and raw path. On FOUND, *route is set and the decoded parameters are
 * stored in ctx (owned by it). On NO_METHOD, allow (when not NULL) gets the methods that path
 * accepts ("GET, PUT"). BAD_PATH: a parameter decodes to something we refuse (NUL, too long). */
ApiRouteResult api_route_match(enum evhttp_cmd_type method, const char *path, ApiCtx *ctx,
                               const ApiRoute **route, GString *allow);
/* The decoded value of path parameter name (never NULL inside a handler of a route naming it). */
const char *api_param(const ApiCtx *ctx, const char *name);
const char *api_method_name(enum evhttp_cmd_type method);

/* ---- request lifetime (api_server.c) and read workers (api_workers.c) ------------------------- */
/* Ends a request: metrics, the log line, and the context freed (answers 500 if nothing answered). */
void api_request_finish(ApiCtx *ctx);
/* Runs on a read worker with that worker's storage handle: computes into data, touching nothing
 * else (not the request's context, nor the loop's storage, page cache or server; the item cache is
 * thread-safe and may be used through a pointer copied into data). */
typedef void (*ApiJobRun)(MaStorage *st, void *data);
/* Runs on the loop thread after run: answers ctx from data and frees data. */
typedef void (*ApiJobDone)(ApiCtx *ctx, void *data);
/* Parks ctx's request: run goes to a read worker, then done answers on the loop and the request is
 * finished there. The handler returns at once and must not touch ctx again. Without workers,
 * both halves run now, on the loop (run then gets ctx->st). */
void api_defer(ApiCtx *ctx, ApiJobRun run, ApiJobDone done, void *data);
/* n threads, each with its own storage handle on data_dir; NULL for n <= 0 (no error) or on error. */
ApiWorkers *api_workers_new(struct event_base *base, const char *data_dir, int n, GError **error);
/* Stops the threads after the jobs already parked, and answers those (loop thread). */
void api_workers_free(ApiWorkers *pool);
/* What the hand-off has done: hand-overs (one per pass of the loop that parked jobs), the jobs
 * they carried, the sleeping workers they woke, and the job records allocated (answered ones are
 * reused: at most the most requests ever parked at once). */
typedef struct {
  guint64 handovers, jobs, signals, allocated;
} ApiWorkersStats;
/* pool's counts so far (loop thread). */
void api_workers_stats(const ApiWorkers *pool, ApiWorkersStats *out);
/* An empty buffer for a run half to write a long answer into, reused from the pool (NULL pool:
 * a new one). A read worker (its own spare: no lock) or the loop thread; the caller owns it until
 * api_workers_buffer_give. */
GString *api_workers_buffer_take(ApiWorkers *pool);
/* Gives buf (may be NULL) back to the pool for the next take, or frees it (NULL pool, a pool that
 * keeps enough, or a buffer grown past 256 KiB). Loop thread (no lock: the next hand-over passes it
 * to the workers); buf is not the caller's afterwards. */
void api_workers_buffer_give(ApiWorkers *pool, GString *buf);
/* Appends buf's text to out without a copy: out (libevent) owns buf from here and gives it back to
 * pool (NULL: frees it) once the bytes are written or dropped, even after api_workers_free. Loop
 * thread; buf is not the caller's afterwards. */
void api_workers_buffer_reply(ApiWorkers *pool, GString *buf, struct evbuffer *out);

/* ---- the collector's environment (api_mailboxes.c) --------------------------------------------- */
/* Presets, master key, TLS context and the OAuth2 environment (the enterprises' clients), made on
 * first use on the loop thread and kept for the process; read-only afterwards, so read workers may
 * use it (an XOAUTH2 relay's sign-in and test). NULL with 503 answered when it cannot be made. */
CollectorEnv *api_collector_env(ApiCtx *ctx);

/* ---- replies (api_reply.c) ------------------------------------------------------------------ */

/* Answers with doc as compact JSON (takes ownership of doc). */
void api_reply_json(ApiCtx *ctx, int status, json_t *doc);
/* Answers {"error":{"code":code,"message":...}}. */
void api_reply_error(ApiCtx *ctx, int status, const char *code, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
/* Answers for a GError from a module: INVALID 422, NOT_FOUND 404, CONFLICT 409, LIMIT 409 (code "limit"),
 * TEMPFAIL 503, anything else 500 (logged). */
void api_reply_gerror(ApiCtx *ctx, const GError *error);
/* 204 No Content. */
void api_reply_no_content(ApiCtx *ctx);
/* Answers with raw bytes of the given content type (data is copied). */
void api_reply_bytes(ApiCtx *ctx, int status, const char *content_type, const void *data, gsize len);
/* The same without a copy: libevent holds a reference to body until it is written. */
void api_reply_gbytes(ApiCtx *ctx, int status, const char *content_type, GBytes *body);

/* ---- request input (api_reply.c) ------------------------------------------------------------ */

/* Parses the body as one JSON value. Returns it (new reference) or NULL after answering 400
 * (invalid_json), 413 (too_large), or 400 when want_object and it is not an object. */
json_t *api_body_json(ApiCtx *ctx, gboolean want_object);
/* The body as bytes (pointer into the request buffer, valid until the reply), or NULL after
 * answering 413. *len gets the length. */
const char *api_body_bytes(ApiCtx *ctx, gsize *len);
/* Answers 400 unknown_field and returns FALSE when obj has a key not in allowed (NULL-terminated). */
gboolean api_check_fields(ApiCtx *ctx, const json_t *obj, const char *const *allowed);
/* Answers 400 unknown_parameter and returns FALSE when the query has a parameter not in allowed
 * (NULL-terminated) or one given twice. */
gboolean api_check_query(ApiCtx *ctx, const char *const *allowed);
/* The decoded value of query parameter name, or NULL. */
const char *api_query(ApiCtx *ctx, const char *name);
/* Parses ?limit= (default API_DEFAULT_PAGE, 1..API_MAX_PAGE). FALSE after answering 400. */
gboolean api_query_limit(ApiCtx *ctx, int *limit);
/* Admin routes: resolves ?enterprise= (id or slug) into *id (caller frees; NULL when absent).
 * FALSE after answering 404 (no such enterprise) or the storage error. */
gboolean api_query_enterprise(ApiCtx *ctx, char **id);
/* The Content-Disposition value for downloading filename (RFC 6266, with RFC 8187's filename*).
 * Caller frees. */
char *api_content_disposition(const char *filename);
/* Records an administrative change in the audit log as the request's key (audit.h); details is
 * taken over. Joins the open transaction: pass error and roll back on -1. With error NULL (the
 * change is committed) a failure is logged; the change stands, unrecorded. */
int api_audit(ApiCtx *ctx, const char *enterprise_id, const char *action, const char *target, json_t *details,
              GError **error);

/* ---- shared resource helpers (api_reply.c) ---------------------------------------------------- */

/* Parses the {type} path parameter. FALSE after answering 404 for an unknown record type. */
gboolean api_param_record_type(ApiCtx *ctx, MaRecordType *type);
/* {"items": items, "next_cursor": next or null}; takes ownership of items. */
json_t *api_page(json_t *items, const char *next_cursor);

/* ---- read cache (api_cache.c) ------------------------------------------------------------ */

ApiCache *api_cache_new(void);
void api_cache_free(ApiCache *c);
/* Once per request before anything else: notes whether the database changed (keys are dropped at
 * once, pages per enterprise when its archive version moved). */
void api_cache_sync(ApiCtx *ctx);
/* The cached unrevoked key with this secret hash, or NULL: borrowed from the cache, valid until the
 * next api_cache_sync or api_cache_key_store (copy it with api_cache_key_copy to keep it longer). */
const MaApiKey *api_cache_key_find(ApiCtx *ctx, const char *hash);
/* A copy of key (caller frees with ma_api_key_free). */
MaApiKey *api_cache_key_copy(const MaApiKey *key);
/* Keeps a key just read from storage, when nothing was committed since the last sync. */
void api_cache_key_store(ApiCtx *ctx, const char *hash, const MaApiKey *key);
/* Answers 200 from the cache and returns TRUE when this enterprise's answer to this URI is cached
 * and nothing was committed since; FALSE otherwise (the handler then computes the answer). */
gboolean api_cache_reply(ApiCtx *ctx);
/* The cache's data version at the last api_cache_sync: a handler that parks a request with
 * ctx->cache_unchecked set keeps it for api_cache_validate. */
gint64 api_cache_synced(ApiCtx *ctx);
/* Loop, in a parked request's done half: the archive version a worker read (storage_archive_version
 * returned rc, *error when < 0) after the sync at synced. It becomes this enterprise's known
 * version (dropping its pages when it moved) only when nothing was committed since that sync, so
 * it is the version at that data version; otherwise nothing changes and a later request checks. */
void api_cache_validate(ApiCtx *ctx, gint64 synced, int rc, gint64 archive_version, const GError *error);
/* Keeps a 200 JSON answer for api_cache_reply, only when api_cache_reply missed this URI before
 * (the doorkeeper): a new reference to body (not copied; the reply shares it). */
void api_cache_store(ApiCtx *ctx, GBytes *body);
/* Answers 200 with json (compact JSON text, taken and freed) and stores it in the cache. */
void api_reply_text_cached(ApiCtx *ctx, GString *json);
/* The same with a copy of json's len bytes, made here (the loop thread): the caller keeps json. */
void api_reply_copy_cached(ApiCtx *ctx, const char *json, gsize len);
/* 200 with json, a page in a buffer taken from pool (api_workers_buffer_take; takes ownership):
 * copied and given back at once when the page cache keeps it, else sent without a copy and given
 * back by libevent once written or dropped (api_workers_buffer_reply). Loop thread. */
void api_reply_page(ApiCtx *ctx, ApiWorkers *pool, GString *json);
/* 200 with json, a JSON document as text (takes ownership; not cached). */
void api_reply_text(ApiCtx *ctx, GString *json);

/* ---- front reader (api_front.c) --------------------------------------------------------------- */

/* evhttp's bevcb (arg: the ApiServer): a new connection's bufferevent, a filter over the socket
 * (or TLS) bufferevent that checks the key from the request head before evhttp reads a body. */
struct bufferevent *api_front_bevcb(struct event_base *base, void *arg);
/* The connection count shared by the server and its connections (each holds a reference). */
ApiFrontCount *api_front_count_new(void);
void api_front_count_unref(ApiFrontCount *c);
guint api_front_count_open(const ApiFrontCount *c);

/* ---- auth (api_auth.c) ---------------------------------------------------------------------- */

/* Checks the Authorization header against need. Returns TRUE with ctx->key (and enterprise_id) set,
 * or FALSE after answering 401 (missing, unknown or revoked key) or 403 (wrong scope). */
gboolean api_authenticate(ApiCtx *ctx, ApiAuth need);
/* Checks an Authorization header value (NULL: none) as api_authenticate does, without a request:
 * needs only ctx->srv and ctx->st. 1 valid, *key_r newly allocated (caller frees; key_r NULL: the
 * verdict only, no copy made); 0 not valid, *why_r a static message for the 401; -1 with *error
 * when storage failed. */
int api_key_check(ApiCtx *ctx, const char *authorization, MaApiKey **key_r, const char **why_r, GError **error);

#endif
