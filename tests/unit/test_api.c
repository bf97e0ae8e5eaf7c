/* test_api.c - the HTTP API end to end inside one process: a real api_server on its own event
 * loop thread, real storage in a temporary directory, and a raw-socket HTTP client (so malformed
 * requests can be sent too). Covers routing, auth (missing/invalid/revoked keys, scopes), the error
 * shape and statuses, tenant isolation (404, never the other tenant's data), records, bulk import,
 * timeline pagination (stable under inserts, bad cursors), messages/raw/attachments/threads,
 * settings, rules, employees, enterprises, API keys and the inbound address, and the page cache
 * (never stale, never across tenants, kept per enterprise).
 */
#include "agent/api/api_internal.h"
#include "agent/api/api_server.h"
#include "agent/tenant/apikey_store.h"
#include "agent/lib/clock.h"
#include "agent/lib/config.h"
#include "agent/lib/metrics.h"
#include "storage/storage.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <glib/gstdio.h>
#include <jansson.h>
#include <sqlite3.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* test_cache_writers' other process: the data directory and enterprise it archives into (main) */
#define CHILD_PUT_ENV "MAILAGENT_TEST_API_CHILD_PUT"
#define CHILD_PUT_ENT_ENV "MAILAGENT_TEST_API_CHILD_PUT_ENT"

static struct {
  char *dir;
  MaConfig *cfg;
  MaStorage *st;           /* the test's own handle (the server has another) */
  struct event_base *base;
  ApiServer *srv;
  GThread *thread;
  int port;
  char *ent_a, *ent_b;     /* enterprise ids */
  char *key_admin, *key_a, *key_b;
  char *key_a_id;
  char *att_sha_a, *att_sha_b;
  char *msg_a, *msg_b;     /* message ids */
  char *thread_a;
} F;

typedef struct {
  int status;
  char *headers;
  char *body;
  gsize body_len;
} Resp;

static void resp_clear(Resp *r)
{
  g_free(r->headers);
  g_free(r->body);
  memset(r, 0, sizeof *r);
}

/* Sends raw bytes and reads the whole answer (the request says Connection: close). */
static void http_raw(const char *req, gsize len, Resp *out)
{
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  GString *buf = g_string_new(NULL);
  char chunk[65536];
  ssize_t n;
  gsize off = 0;
  char *sep;

  memset(out, 0, sizeof *out);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)F.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  g_assert_cmpint(connect(fd, (struct sockaddr *)&sa, sizeof sa), ==, 0);
  while (off < len) {
    n = send(fd, req + off, len - off, MSG_NOSIGNAL);
    if (n <= 0)
      break; /* the server may close early (oversize) */
    off += (gsize)n;
  }
  shutdown(fd, SHUT_WR);
  while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0)
    g_string_append_len(buf, chunk, n);
  close(fd);
  if (buf->len < 12) {
    out->status = -1;
    g_string_free(buf, TRUE);
    return;
  }
  out->status = atoi(buf->str + 9);
  sep = strstr(buf->str, "\r\n\r\n");
  g_assert_nonnull(sep);
  out->headers = g_strndup(buf->str, (gsize)(sep - buf->str));
  out->body_len = buf->len - (gsize)(sep + 4 - buf->str);
  out->body = g_strndup(sep + 4, out->body_len);
  g_string_free(buf, TRUE);
}

static void http(const char *method, const char *path, const char *key, const char *body, Resp *out)
{
  GString *req = g_string_new(NULL);

  g_string_append_printf(req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n", method, path);
  if (key)
    g_string_append_printf(req, "Authorization: Bearer %s\r\n", key);
  if (body)
    g_string_append_printf(req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", strlen(body));
  g_string_append(req, "\r\n");
  if (body)
    g_string_append(req, body);
  http_raw(req->str, req->len, out);
  g_string_free(req, TRUE);
}

/* Parses the body as JSON (asserts it is). */
static json_t *resp_json(const Resp *r)
{
  json_error_t e;
  json_t *doc = json_loadb(r->body, r->body_len, 0, &e);
  if (!doc)
    g_error("not JSON (status %d): %s", r->status, r->body);
  return doc;
}

/* Asserts status and, for errors, the error code; returns the JSON body (caller decrefs) or NULL. */
static json_t *expect(const char *method, const char *path, const char *key, const char *body, int status,
                      const char *error_code)
{
  Resp r;
  json_t *doc = NULL;

  http(method, path, key, body, &r);
  if (r.status != status)
    g_error("%s %s: want %d got %d: %s", method, path, status, r.status, r.body ? r.body : "");
  if (r.body_len > 0 && strstr(r.headers, "application/json"))
    doc = resp_json(&r);
  if (error_code) {
    g_assert_nonnull(doc);
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "error"), "code")), ==, error_code);
    g_assert_nonnull(json_string_value(json_object_get(json_object_get(doc, "error"), "message")));
  }
  resp_clear(&r);
  return doc;
}

/* ---- fixture -------------------------------------------------------------------------------- */

static char *make_enterprise(const char *slug, const char *domain)
{
  MaEnterprise e = {0};
  g_autoptr(GError) error = NULL;

  e.id = ma_id_new();
  e.slug = (char *)slug;
  e.name = (char *)slug;
  e.inbound_local = g_strdup_printf("%s-in", slug);
  e.domains = g_ptr_array_new_with_free_func(g_free);
  g_ptr_array_add(e.domains, g_strdup(domain));
  e.created_at = ma_now();
  g_assert_cmpint(storage_enterprise_create(F.st, &e, &error), ==, 0);
  g_free(e.inbound_local);
  g_ptr_array_unref(e.domains);
  return e.id;
}

static char *make_key(const char *ent, char **id_out)
{
  g_autoptr(GError) error = NULL;
  MaApiKey *k = NULL;
  char *secret = NULL;

  g_assert_cmpint(apikey_create(F.st, ent, "test", &k, &secret, &error), ==, 0);
  if (id_out)
    *id_out = g_strdup(k->id);
  ma_api_key_free(k);
  return secret;
}

static void put_contact(const char *ent, const char *id, const char *name, const char *email)
{
  g_autoptr(GError) error = NULL;
  MaRecord *r = ma_record_new(MA_RECORD_CONTACT, id);

  r->name = g_strdup(name);
  g_ptr_array_add(r->emails, g_strdup(email));
  g_assert_cmpint(storage_record_upsert(F.st, ent, r, &error), ==, 0);
  ma_record_free(r);
}

/* Archives one message linked to contact record_id; returns its id. */
static char *put_message(const char *ent, const char *record_id, const char *subject, gint64 date,
                         MaDirection dir, const char *attachment_text, char **att_sha_out, const char *thread)
{
  g_autoptr(GError) error = NULL;
  MaStoredMessage *m = ma_stored_message_new();
  g_autofree char *raw = g_strdup_printf("From: x@example.com\r\nSubject: %s\r\n\r\nbody of %s\r\n", subject, subject);
  char sha[65];
  char *id;

  m->id = ma_id_new();
  m->enterprise_id = g_strdup(ent);
  m->thread_id = g_strdup(thread ? thread : m->id);
  m->message_id = g_strdup_printf("%s@example.com", m->id);
  m->dedup_key = g_strdup(m->id);
  m->subject = g_strdup(subject);
  m->direction = dir;
  m->date = date;
  m->archived_at = ma_now();
  m->size = (gint64)strlen(raw);
  g_assert_cmpint(storage_blob_put(F.st, raw, strlen(raw), sha, &error), ==, 0);
  m->raw_sha256 = g_strdup(sha);
  m->text = g_strdup_printf("body of %s", subject);
  m->html = g_strdup("<p>hi<script>alert(1)</script><img src=\"http://evil.example/x.png\"></p>");
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_FROM, "X", "x@example.com"));
  g_ptr_array_add(m->participants, ma_participant_new(MA_ROLE_TO, NULL, "emp@acme.test"));
  if (attachment_text) {
    MaAttachment *a = ma_attachment_new();
    a->filename = g_strdup("a.txt");
    a->content_type = g_strdup("text/plain");
    a->size = strlen(attachment_text);
    g_assert_cmpint(storage_blob_put(F.st, attachment_text, strlen(attachment_text), a->sha256, &error), ==, 0);
    if (att_sha_out)
      *att_sha_out = g_strdup(a->sha256);
    g_ptr_array_add(m->attachments, a);
  }
  g_ptr_array_add(m->links, ma_record_ref_new(MA_RECORD_CONTACT, record_id));
  if (!thread)
    g_assert_cmpint(storage_thread_create(F.st, ent, m->thread_id, subject, "k", date, &error), ==, 0);
  g_assert_cmpint(storage_message_insert(F.st, m, &error), ==, 0);
  id = g_strdup(m->id);
  ma_stored_message_free(m);
  return id;
}

static gpointer server_thread(gpointer data)
{
  event_base_dispatch(F.base);
  return NULL;
}

static void fixture_up(void)
{
  g_autoptr(GError) error = NULL;
  gint64 t0 = 1700000000;

  F.dir = g_dir_make_tmp("test_api.XXXXXX", &error);
  g_assert_no_error(error);
  F.cfg = ma_config_load(NULL, &error);
  g_assert_no_error(error);
  g_free(F.cfg->data_dir);
  F.cfg->data_dir = g_strdup(F.dir);
  g_free(F.cfg->api_listen);
  F.cfg->api_listen = g_strdup("127.0.0.1:0");
  g_free(F.cfg->inbound_domain);
  F.cfg->inbound_domain = g_strdup("inbound.test");
  F.cfg->api_max_body = 64 * 1024;
  g_assert_cmpint(storage_open(F.dir, TRUE, &F.st, &error), ==, 0);

  F.ent_a = make_enterprise("acme", "acme.test");
  F.ent_b = make_enterprise("globex", "globex.test");
  F.key_admin = make_key(NULL, NULL);
  F.key_a = make_key(F.ent_a, &F.key_a_id);
  F.key_b = make_key(F.ent_b, NULL);
  put_contact(F.ent_a, "c1", "Alice of Acme", "alice@customer.test");
  put_contact(F.ent_b, "c1", "Bob of Globex", "bob@other.test");
  put_contact(F.ent_a, "c2", "Carol", "carol@customer.test");
  F.msg_a = put_message(F.ent_a, "c1", "first", t0, MA_DIRECTION_INBOUND, "secret A attachment", &F.att_sha_a, NULL);
  F.thread_a = g_strdup(F.msg_a);
  for (int i = 1; i < 5; i++) {
    g_autofree char *subject = g_strdup_printf("msg %d", i);
    g_free(put_message(F.ent_a, "c1", subject, t0 + i * 60, i % 2 ? MA_DIRECTION_OUTBOUND : MA_DIRECTION_INBOUND,
                       NULL, NULL, F.thread_a));
  }
  F.msg_b = put_message(F.ent_b, "c1", "globex only", t0, MA_DIRECTION_INBOUND, "secret B attachment", &F.att_sha_b,
                        NULL);

  evthread_use_pthreads();
  F.base = event_base_new();
  F.srv = api_server_new(F.base, F.cfg, &error);
  g_assert_no_error(error);
  g_assert_nonnull(F.srv);
  F.port = api_server_port(F.srv);
  g_assert_cmpint(F.port, >, 0);
  F.thread = g_thread_new("api", server_thread, NULL);
}

static void fixture_down(void)
{
  event_base_loopexit(F.base, NULL);
  g_thread_join(F.thread);
  api_server_free(F.srv);
  event_base_free(F.base);
  storage_close(&F.st);
  ma_config_free(F.cfg);
  {
    g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", F.dir);
    g_assert_cmpint(system(cmd), ==, 0);
  }
}

/* ---- read workers (api_workers.c) --------------------------------------------------------- */

/* Jobs that block until released, so the test sees two run at once on two workers. */
static struct {
  GMutex lock;
  GCond cond;
  int running, most_running, released, finished;
  GThread *loop_thread;
  gboolean run_off_loop, done_on_loop, storage_given;
  GString *order;
} W;

static void blocking_run(MaStorage *st, void *data)
{
  g_mutex_lock(&W.lock);
  W.storage_given = W.storage_given && st != NULL;
  W.run_off_loop = W.run_off_loop && g_thread_self() != W.loop_thread;
  W.running++;
  W.most_running = MAX(W.most_running, W.running);
  g_cond_broadcast(&W.cond);
  gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
  while (!W.released && g_cond_wait_until(&W.cond, &W.lock, end))
    ;
  W.running--;
  g_mutex_unlock(&W.lock);
}

static void blocking_done(ApiCtx *ctx, void *data)
{
  W.done_on_loop = W.done_on_loop && g_thread_self() == W.loop_thread;
  g_string_append(W.order, data);
  ctx->status = 200; /* answered (this context has no request to answer) */
  W.finished++;
}

static ApiCtx *worker_ctx(ApiServer *srv)
{
  ApiCtx *ctx = g_new0(ApiCtx, 1); /* api_request_finish frees it */
  ctx->srv = srv;
  ctx->st = srv->st;
  ctx->method = EVHTTP_REQ_GET;
  return ctx;
}

/* A page buffer lent to a reply (api_workers_buffer_reply) goes out without a copy and comes back
 * to the pool when libevent has written it, and when the connection is dropped before that; one
 * still lent when the pool is freed (shutdown) is freed by its reply, not given to a freed pool
 * (ASan and LeakSanitizer check the last part in the SANITIZE build). */
static void test_lent_buffers(void)
{
  g_autoptr(GError) error = NULL;
  struct event_base *base = event_base_new();
  ApiWorkers *pool = api_workers_new(base, F.dir, 1, &error);
  struct evbuffer_iovec vec;

  g_assert_no_error(error);
  GString *page = api_workers_buffer_take(pool);
  g_string_append(page, "{\"items\":[]}\n");

  /* written: the reply's bytes are the buffer's own, and it is the next one taken */
  struct evbuffer *out = evbuffer_new();
  api_workers_buffer_reply(pool, page, out);
  g_assert_cmpint(evbuffer_peek(out, -1, NULL, &vec, 1), ==, 1);
  g_assert_true(vec.iov_base == page->str); /* no copy */
  g_assert_cmpuint(vec.iov_len, ==, 13);
  GString *other = api_workers_buffer_take(pool);
  g_assert_true(other != page); /* still lent: another one */
  g_assert_cmpint(evbuffer_drain(out, 13), ==, 0);
  GString *again = api_workers_buffer_take(pool);
  g_assert_true(again == page);
  g_assert_cmpuint(again->len, ==, 0);
  api_workers_buffer_give(pool, other);

  /* dropped (the client went away): back to the pool as well */
  g_string_append(again, "x");
  api_workers_buffer_reply(pool, again, out);
  evbuffer_free(out);
  g_assert_true(api_workers_buffer_take(pool) == page);

  /* still lent at shutdown: the reply outlives the pool and frees the buffer itself */
  out = evbuffer_new();
  g_string_append(page, "y");
  api_workers_buffer_reply(pool, page, out);
  api_workers_free(pool);
  g_assert_cmpuint(evbuffer_get_length(out), ==, 1);
  evbuffer_free(out);
  event_base_free(base);
}

/* A run half that takes a page buffer and keeps its address (W.lock guards the record). */
static GString *taken_buffer;
static void buffer_run(MaStorage *st, void *data)
{
  GString *buf = api_workers_buffer_take(data);
  g_string_append(buf, "page");
  g_mutex_lock(&W.lock);
  taken_buffer = buf;
  g_mutex_unlock(&W.lock);
}

static int buffer_jobs_done;
static void buffer_done(ApiCtx *ctx, void *data)
{
  g_mutex_lock(&W.lock);
  GString *buf = taken_buffer;
  g_mutex_unlock(&W.lock);
  api_workers_buffer_give(data, buf); /* as a page's reply does once libevent wrote it */
  ctx->status = 200;
  buffer_jobs_done++;
}

/* Parks one job and turns the loop until it is answered. */
static void run_one(ApiServer *srv, ApiJobRun run, ApiJobDone done, void *data)
{
  int before = buffer_jobs_done;
  api_defer(worker_ctx(srv), run, done, data);
  for (int turns = 0; buffer_jobs_done == before && turns < 500; turns++)
    event_base_loop(srv->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), g_usleep(10000);
  g_assert_cmpint(buffer_jobs_done, ==, before + 1);
}

/* The hand-off allocates nothing per request once warm: an answered job's record serves the next
 * api_defer, and a page buffer given back on the loop reaches the worker of a later job (moved at
 * the next hand-over, picked up with that job) instead of a new one. */
static void test_workers_reuse(void)
{
  g_autoptr(GError) error = NULL;
  struct event_base *base = event_base_new();
  ApiServer srv = {.base = base, .st = F.st};
  ApiWorkersStats stats;

  g_mutex_init(&W.lock);
  srv.workers = api_workers_new(base, F.dir, 2, &error);
  g_assert_no_error(error);
  run_one(&srv, buffer_run, buffer_done, srv.workers);
  GString *first = taken_buffer;
  for (int i = 0; i < 5; i++) {
    run_one(&srv, buffer_run, buffer_done, srv.workers);
    g_assert_true(taken_buffer == first); /* the same buffer every time, emptied */
    g_assert_cmpstr(taken_buffer->str, ==, "page");
  }
  api_workers_stats(srv.workers, &stats);
  g_assert_cmpuint(stats.jobs, ==, 6);
  g_assert_cmpuint(stats.allocated, ==, 1); /* one job at a time: one record, reused */
  api_workers_free(srv.workers);
  g_mutex_clear(&W.lock);
  event_base_free(base);
}

static void test_read_workers(void)
{
  g_autoptr(GError) error = NULL;
  struct event_base *base = event_base_new();
  ApiServer srv = {.base = base, .st = F.st};

  g_mutex_init(&W.lock);
  g_cond_init(&W.cond);
  W.loop_thread = g_thread_self();
  W.run_off_loop = W.done_on_loop = W.storage_given = TRUE;
  W.order = g_string_new(NULL);
  srv.workers = api_workers_new(base, F.dir, 2, &error);
  g_assert_no_error(error);
  g_assert_nonnull(srv.workers);

  /* two jobs run at once, one on each worker, while the third waits for a free one */
  ApiCtx *a = worker_ctx(&srv), *b = worker_ctx(&srv), *c = worker_ctx(&srv);
  ApiWorkersStats stats;
  api_defer(a, blocking_run, blocking_done, "a");
  api_defer(b, blocking_run, blocking_done, "b");
  api_defer(c, blocking_run, blocking_done, "c");
  g_assert_true(a->parked && b->parked && c->parked);
  /* parked during one pass of the loop: handed over together when the pass ends, not one by one */
  api_workers_stats(srv.workers, &stats);
  g_assert_cmpuint(stats.handovers, ==, 0);
  event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
  api_workers_stats(srv.workers, &stats);
  g_assert_cmpuint(stats.handovers, ==, 1);
  g_assert_cmpuint(stats.jobs, ==, 3);
  g_assert_cmpuint(stats.signals, <=, 2); /* never more wake-ups than workers */
  g_assert_cmpuint(stats.allocated, ==, 3);
  g_mutex_lock(&W.lock);
  gint64 end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
  while (W.running < 2 && g_cond_wait_until(&W.cond, &W.lock, end))
    ;
  g_assert_cmpint(W.running, ==, 2);
  g_assert_cmpint(W.finished, ==, 0); /* nothing answered while the runs block */
  W.released = 1;
  g_cond_broadcast(&W.cond);
  g_mutex_unlock(&W.lock);
  /* the loop answers each finished job (the contexts are freed by then) */
  for (int turns = 0; W.finished < 3 && turns < 500; turns++)
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), g_usleep(10000);
  g_assert_cmpint(W.finished, ==, 3);
  g_assert_cmpint(W.most_running, ==, 2);
  g_assert_true(W.run_off_loop);
  g_assert_true(W.done_on_loop);
  g_assert_true(W.storage_given);
  g_assert_cmpuint(W.order->len, ==, 3);

  /* stopping answers what was parked before the stop */
  W.released = 1;
  api_defer(worker_ctx(&srv), blocking_run, blocking_done, "d");
  api_workers_stats(srv.workers, &stats);
  g_assert_cmpuint(stats.allocated, ==, 3); /* an answered job's record */
  api_workers_free(srv.workers);
  g_assert_cmpint(W.finished, ==, 4);
  g_assert_true(g_str_has_suffix(W.order->str, "d"));

  /* without workers both halves run at once, on the caller's thread, with the loop's storage */
  srv.workers = NULL;
  ApiCtx *now = worker_ctx(&srv);
  W.run_off_loop = TRUE;
  api_defer(now, blocking_run, blocking_done, "e");
  g_assert_false(now->parked);
  g_assert_false(W.run_off_loop);
  g_assert_cmpint(W.finished, ==, 5);
  api_request_finish(now);

  g_string_free(W.order, TRUE);
  g_mutex_clear(&W.lock);
  g_cond_clear(&W.cond);
  event_base_free(base);
}

/* ---- router (pure) -------------------------------------------------------------------------- */

static void test_router(void)
{
  static const struct {
    int method;
    const char *path;
    ApiRouteResult want;
    const char *param, *value;
  } cases[] = {
    {EVHTTP_REQ_GET, "/v1/records/contact/c1", API_ROUTE_FOUND, "id", "c1"},
    {EVHTTP_REQ_GET, "/v1/records/contact/a%20b", API_ROUTE_FOUND, "id", "a b"},
    {EVHTTP_REQ_GET, "/v1/records/contact/c1/timeline", API_ROUTE_FOUND, "type", "contact"},
    {EVHTTP_REQ_POST, "/v1/records:bulk", API_ROUTE_FOUND, NULL, NULL},
    {EVHTTP_REQ_POST, "/v1/apikeys/k1:rotate", API_ROUTE_FOUND, "id", "k1"},
    {EVHTTP_REQ_POST, "/v1/rules/r9:move", API_ROUTE_FOUND, "id", "r9"},
    {EVHTTP_REQ_PATCH, "/v1/records/contact/c1", API_ROUTE_NO_METHOD, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1/nothing", API_ROUTE_NO_PATH, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1//records", API_ROUTE_NO_PATH, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1/records/contact/..", API_ROUTE_NO_PATH, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1/records/contact/a%2Fb", API_ROUTE_BAD_PATH, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1/records/contact/a%00b", API_ROUTE_BAD_PATH, NULL, NULL},
    {EVHTTP_REQ_GET, "/v1/a/b/c/d/e/f/g/h/i", API_ROUTE_NO_PATH, NULL, NULL},
    {EVHTTP_REQ_GET, "/healthz", API_ROUTE_FOUND, NULL, NULL},
  };

  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    ApiCtx ctx = {0};
    const ApiRoute *route = NULL;
    g_autoptr(GString) allow = g_string_new(NULL);
    ApiRouteResult got = api_route_match(cases[i].method, cases[i].path, &ctx, &route, allow);

    if (got != cases[i].want)
      g_error("case %u %s: want %d got %d", i, cases[i].path, cases[i].want, got);
    if (cases[i].param)
      g_assert_cmpstr(api_param(&ctx, cases[i].param), ==, cases[i].value);
    if (got == API_ROUTE_NO_METHOD)
      g_assert_cmpstr(allow->str, ==, "GET, PUT, DELETE");
    for (int j = 0; j < ctx.n_params; j++)
      g_free(ctx.param_values[j]);
  }
}

/* Random paths never crash the router, and whatever it decodes is UTF-8 without '/' or NUL. */
static void test_router_random(void)
{
  static const char alphabet[] = "/v1recodstam:{}%2F0A._-?&=\xc3\xa9\xff ";
  static const char *const seeds[] = {"/v1/records/", "/v1/apikeys/", "/v1/rules/", "/v1/messages/", "/"};

  for (int n = 0; n < 20000; n++) {
    GString *path = g_string_new(seeds[g_test_rand_int_range(0, G_N_ELEMENTS(seeds))]);
    int len = g_test_rand_int_range(0, 40);
    ApiCtx ctx = {0};
    const ApiRoute *route = NULL;
    ApiRouteResult got;

    for (int i = 0; i < len; i++)
      g_string_append_c(path, alphabet[g_test_rand_int_range(0, sizeof alphabet - 1)]);
    got = api_route_match((enum evhttp_cmd_type)(1 << g_test_rand_int_range(0, 5)), path->str, &ctx, &route, NULL);
    g_assert_true(got == API_ROUTE_FOUND || ctx.n_params == 0);
    for (int j = 0; j < ctx.n_params; j++) {
      g_assert_true(g_utf8_validate(ctx.param_values[j], -1, NULL));
      g_assert_null(strchr(ctx.param_values[j], '/'));
      g_assert_cmpuint(strlen(ctx.param_values[j]), >, 0);
      g_free(ctx.param_values[j]);
    }
    g_string_free(path, TRUE);
  }
}

/* Garbage on the wire: the server answers something or closes, and keeps serving. */
static void test_wire_garbage(void)
{
  for (int n = 0; n < 200; n++) {
    guint len = (guint)g_test_rand_int_range(1, 600);
    g_autofree char *buf = g_malloc(len + 64);
    Resp r;
    gsize off = 0;

    if (n % 2) { /* a plausible request line with a random tail */
      const char *head = "PUT /v1/records/contact/x HTTP/1.1\r\n";
      off = strlen(head);
      memcpy(buf, head, off);
    }
    for (guint i = 0; i < len; i++)
      buf[off + i] = (char)g_test_rand_int_range(0, 256);
    http_raw(buf, off + len, &r);
    g_assert_true(r.status == -1 || (r.status >= 200 && r.status < 600));
    resp_clear(&r);
  }
  json_decref(expect("GET", "/healthz", NULL, NULL, 200, NULL));
}

/* ---- auth and errors ------------------------------------------------------------------------ */

static void test_health_metrics(void)
{
  Resp r;
  json_t *doc = expect("GET", "/healthz", NULL, NULL, 200, NULL);

  g_assert_cmpstr(json_string_value(json_object_get(doc, "status")), ==, "ok");
  json_decref(doc);
  ma_metrics_inc(MA_METRIC_MESSAGES_RECEIVED);
  http("GET", "/metrics", NULL, NULL, &r);
  g_assert_cmpint(r.status, ==, 200);
  g_assert_nonnull(strstr(r.headers, "text/plain"));
  g_assert_nonnull(strstr(r.body, "mailagent_messages_received_total "));
  g_assert_nonnull(strstr(r.body, "mailagent_api_request_duration_seconds_bucket{le=\"+Inf\"}"));
  g_assert_nonnull(strstr(r.body, "mailagent_webhook_backlog 0"));
  g_assert_nonnull(strstr(r.body, "mailagent_archive_messages 6"));
  resp_clear(&r);
}

/* agent/lib/metrics: counters, gauges and the cumulative latency histogram in Prometheus text. */
static void test_metrics_render(void)
{
  g_autoptr(GString) out = g_string_new(NULL);

  ma_metrics_add(MA_METRIC_SPOOL_DEPTH, 0);
  ma_metrics_set(MA_METRIC_SPOOL_DEPTH, 7);
  ma_metrics_add(MA_METRIC_SMTP_SESSIONS_OPEN, 2);
  ma_metrics_add(MA_METRIC_SMTP_SESSIONS_OPEN, -1);
  g_assert_cmpint(ma_metrics_get(MA_METRIC_SPOOL_DEPTH), ==, 7);
  g_assert_cmpint(ma_metrics_get(MA_METRIC_SMTP_SESSIONS_OPEN), ==, 1);
  ma_metrics_render(out);
  g_assert_nonnull(strstr(out->str, "# TYPE mailagent_spool_depth gauge\nmailagent_spool_depth 7\n"));
  g_assert_nonnull(strstr(out->str, "# TYPE mailagent_messages_archived_total counter\n"));
  ma_metrics_set(MA_METRIC_SPOOL_DEPTH, 0);
  ma_metrics_add(MA_METRIC_SMTP_SESSIONS_OPEN, -1);
}

static void test_metrics_histogram(void)
{
  /* run in a process of its own: the histogram is process-wide and the server counts requests */
  if (g_test_subprocess()) {
    GString *out = g_string_new(NULL);
    ma_metrics_reset();
    ma_metrics_observe_api_latency(100);     /* <= 0.5 ms */
    ma_metrics_observe_api_latency(3000);    /* <= 5 ms */
    ma_metrics_observe_api_latency(20000000);/* +Inf */
    ma_metrics_render(out);
    g_print("%s", out->str);
    g_string_free(out, TRUE);
    return;
  }
  g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed();
  g_test_trap_assert_stdout("*mailagent_api_request_duration_seconds_bucket{le=\"0.0005\"} 1\n*");
  g_test_trap_assert_stdout("*mailagent_api_request_duration_seconds_bucket{le=\"0.0025\"} 1\n*");
  g_test_trap_assert_stdout("*mailagent_api_request_duration_seconds_bucket{le=\"0.005\"} 2\n*");
  g_test_trap_assert_stdout("*mailagent_api_request_duration_seconds_bucket{le=\"10\"} 2\n*");
  g_test_trap_assert_stdout("*mailagent_api_request_duration_seconds_bucket{le=\"+Inf\"} 3\n*");
  g_test_trap_assert_stdout("*mailagent_api_request_duration_seconds_count 3\n*");
}

static void test_auth(void)
{
  Resp r;
  g_autofree char *revoked = NULL;
  g_autofree char *revoked_id = NULL;
  g_autoptr(GError) error = NULL;

  json_decref(expect("GET", "/v1/records/contact/c1", NULL, NULL, 401, "unauthorized"));
  json_decref(expect("GET", "/v1/records/contact/c1", "mak_0000000000000000000000000000000000000000000000000000000000000000",
                     NULL, 401, "unauthorized"));
  json_decref(expect("GET", "/v1/records/contact/c1", "garbage", NULL, 401, "unauthorized"));
  json_decref(expect("GET", "/v1/records/contact/c1", F.key_admin, NULL, 403, "forbidden"));
  json_decref(expect("GET", "/v1/enterprises", F.key_a, NULL, 403, "forbidden"));
  json_decref(expect("GET", "/v1/apikeys", F.key_a, NULL, 403, "forbidden"));
  /* Authorization scheme other than Bearer */
  http_raw("GET /v1/settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic Zm9vOmJhcg==\r\n\r\n",
           strlen("GET /v1/settings HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic Zm9vOmJhcg==\r\n\r\n"), &r);
  g_assert_cmpint(r.status, ==, 401);
  g_assert_nonnull(strstr(r.headers, "WWW-Authenticate: Bearer"));
  resp_clear(&r);

  /* Revocation is immediate: revoked through another storage handle, refused on the next request. */
  revoked = make_key(F.ent_a, &revoked_id);
  json_decref(expect("GET", "/v1/settings", revoked, NULL, 200, NULL));
  g_assert_cmpint(storage_apikey_revoke(F.st, revoked_id, ma_now(), &error), ==, 1);
  json_decref(expect("GET", "/v1/settings", revoked, NULL, 401, "unauthorized"));
}

static void test_errors(void)
{
  Resp r;
  GString *big;

  json_decref(expect("GET", "/v1/nothing", F.key_a, NULL, 404, "not_found"));
  http("PATCH", "/v1/records/contact/c1", F.key_a, NULL, &r);
  /* evhttp answers methods outside the allowed set itself (501, no JSON) */
  g_assert_cmpint(r.status, ==, 501);
  resp_clear(&r);
  http("POST", "/v1/records/contact/c1", F.key_a, "{}", &r);
  g_assert_cmpint(r.status, ==, 405);
  g_assert_nonnull(strstr(r.headers, "Allow: GET, PUT, DELETE"));
  resp_clear(&r);
  json_decref(expect("PUT", "/v1/records/contact/x", F.key_a, "{\"name\": ", 400, "invalid_json"));
  json_decref(expect("PUT", "/v1/records/contact/x", F.key_a, "[1]", 400, "invalid_json"));
  json_decref(expect("PUT", "/v1/records/contact/x", F.key_a, "{\"name\":\"a\",\"name\":\"b\"}", 400, "invalid_json"));
  json_decref(expect("PUT", "/v1/records/contact/x", F.key_a, "{\"name\":\"a\",\"colour\":\"red\"}", 400, "unknown_field"));
  json_decref(expect("GET", "/v1/records/contact/c1?verbose=1", F.key_a, NULL, 400, "unknown_parameter"));
  json_decref(expect("GET", "/v1/records/widget/c1", F.key_a, NULL, 404, "not_found"));
  json_decref(expect("GET", "/v1/records/contact/a%2Fb", F.key_a, NULL, 400, "invalid_path"));

  /* deep nesting is refused by the parser (jansson's depth limit), not a crash */
  big = g_string_new("{\"name\":");
  for (int i = 0; i < 5000; i++)
    g_string_append_c(big, '[');
  for (int i = 0; i < 5000; i++)
    g_string_append_c(big, ']');
  g_string_append_c(big, '}');
  json_decref(expect("PUT", "/v1/records/contact/x", F.key_a, big->str, 400, "invalid_json"));
  g_string_free(big, TRUE);

  /* over [api] max_body (64 KiB here): evhttp refuses it before any handler */
  big = g_string_new("{\"name\":\"");
  for (int i = 0; i < 70000; i++)
    g_string_append_c(big, 'a');
  g_string_append(big, "\"}");
  http("PUT", "/v1/records/contact/x", F.key_a, big->str, &r);
  g_assert_cmpint(r.status, ==, 413);
  resp_clear(&r);
  g_string_free(big, TRUE);
}

/* ---- records -------------------------------------------------------------------------------- */

static void test_records(void)
{
  json_t *doc;

  doc = expect("GET", "/v1/records/contact/c1", F.key_a, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "name")), ==, "Alice of Acme");
  json_decref(doc);
  doc = expect("GET", "/v1/records/contact/c1", F.key_b, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "name")), ==, "Bob of Globex");
  json_decref(doc);

  doc = expect("PUT", "/v1/records/contact/new%201", F.key_a,
               "{\"name\":\"New One\",\"emails\":[\"New@Customer.test\"],\"attributes\":{\"tier\":\"gold\"}}", 201, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "id")), ==, "new 1");
  g_assert_cmpstr(json_string_value(json_object_get(doc, "type")), ==, "contact");
  json_decref(doc);
  json_decref(expect("PUT", "/v1/records/contact/new%201", F.key_a, "{\"name\":\"Renamed\"}", 200, NULL));
  /* cross-tenant: B cannot see or delete A's record */
  json_decref(expect("GET", "/v1/records/contact/new%201", F.key_b, NULL, 404, "not_found"));
  json_decref(expect("DELETE", "/v1/records/contact/new%201", F.key_b, NULL, 404, "not_found"));
  doc = expect("GET", "/v1/records/contact/new%201", F.key_a, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "name")), ==, "Renamed");
  json_decref(doc);
  /* type/id in the body must agree with the path; validation errors are 422 */
  json_decref(expect("PUT", "/v1/records/contact/x", F.key_a, "{\"id\":\"y\",\"name\":\"n\"}", 422, "invalid"));
  json_decref(expect("PUT", "/v1/records/opportunity/o1", F.key_a, "{\"name\":\"n\",\"stage\":\"maybe\"}", 422, "invalid"));
  json_decref(expect("DELETE", "/v1/records/contact/new%201", F.key_a, NULL, 204, NULL));
  json_decref(expect("GET", "/v1/records/contact/new%201", F.key_a, NULL, 404, "not_found"));

  /* list with cursor */
  doc = expect("GET", "/v1/records/contact?limit=1", F.key_a, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 1);
  {
    g_autofree char *path = g_strdup_printf("/v1/records/contact?limit=1&cursor=%s",
                                            json_string_value(json_object_get(doc, "next_cursor")));
    json_t *page2 = expect("GET", path, F.key_a, NULL, 200, NULL);
    g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(page2, "items"), 0), "id")), ==,
                    "c2");
    json_decref(page2);
  }
  json_decref(doc);
  json_decref(expect("GET", "/v1/records/contact?cursor=zzz", F.key_a, NULL, 400, "bad_cursor"));
  json_decref(expect("GET", "/v1/records/contact?limit=0", F.key_a, NULL, 400, "invalid_query"));
}

static void test_bulk(void)
{
  json_t *doc;

  doc = expect("POST", "/v1/records:bulk", F.key_a,
               "{\"type\":\"contact\",\"id\":\"b1\",\"name\":\"B1\",\"emails\":[\"b1@x.test\"]}\n"
               "{\"type\":\"contact\",\"id\":\"b2\",\"name\":\"B2\",\"bogus\":1}\n",
               422, "invalid");
  g_assert_cmpint(json_integer_value(json_object_get(json_object_get(doc, "error"), "invalid")), ==, 1);
  json_decref(doc);
  /* atomic: nothing was written */
  json_decref(expect("GET", "/v1/records/contact/b1", F.key_a, NULL, 404, "not_found"));
  doc = expect("POST", "/v1/records:bulk?skip_invalid=true", F.key_a,
               "{\"type\":\"contact\",\"id\":\"b1\",\"name\":\"B1\",\"emails\":[\"b1@x.test\"]}\n\n"
               "not json\n"
               "{\"type\":\"account\",\"id\":\"a1\",\"name\":\"A1\",\"domains\":[\"a1.test\"]}\n",
               200, NULL);
  g_assert_cmpint(json_integer_value(json_object_get(doc, "created")), ==, 2);
  g_assert_cmpint(json_integer_value(json_object_get(doc, "invalid")), ==, 1);
  g_assert_cmpint(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "problems"), 0), "line")), ==, 3);
  json_decref(doc);
  json_decref(expect("GET", "/v1/records/account/a1", F.key_a, NULL, 200, NULL));
  json_decref(expect("GET", "/v1/records/account/a1", F.key_b, NULL, 404, "not_found"));
  json_decref(expect("POST", "/v1/records:bulk?skip_invalid=maybe", F.key_a, "{}", 400, "invalid_query"));
}

/* ---- timeline and messages ------------------------------------------------------------------ */

static void test_timeline(void)
{
  GHashTable *seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *cursor = NULL;
  gint64 last_date = G_MAXINT64;
  int pages = 0, inserted = 0;
  json_t *doc;

  /* page through 2 at a time; a message arriving mid-way (newest) must not shift later pages */
  do {
    g_autofree char *path = cursor ? g_strdup_printf("/v1/records/contact/c1/timeline?limit=2&cursor=%s", cursor)
                                   : g_strdup("/v1/records/contact/c1/timeline?limit=2");
    json_t *items, *it;
    size_t i;

    doc = expect("GET", path, F.key_a, NULL, 200, NULL);
    items = json_object_get(doc, "items");
    g_assert_cmpint(json_array_size(items), <=, 2);
    json_array_foreach(items, i, it) {
      json_t *m = json_object_get(it, "kind");
      const char *id = json_string_value(json_object_get(it, "id"));
      gint64 t = 0;
      g_assert_cmpstr(json_string_value(m), ==, "message");
      g_assert_nonnull(id);
      g_assert_false(g_hash_table_contains(seen, id));
      g_hash_table_add(seen, g_strdup(id));
      g_assert_cmpint(ma_time_parse(json_string_value(json_object_get(it, "date")), &t), ==, 0);
      g_assert_cmpint(t, <=, last_date);
      last_date = t;
    }
    g_free(cursor);
    cursor = g_strdup(json_string_value(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    if (pages == 0 && !inserted) {
      g_free(put_message(F.ent_a, "c1", "late arrival", 1800000000, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
      inserted = 1;
    }
    pages++;
  } while (cursor && pages < 10);
  g_assert_cmpint(g_hash_table_size(seen), ==, 5); /* the 5 from before; the late one sorts first */
  g_hash_table_unref(seen);

  doc = expect("GET", "/v1/records/contact/c1/timeline?direction=outbound", F.key_a, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 2);
  json_decref(doc);
  doc = expect("GET", "/v1/records/contact/c1/timeline?has_attachment=true", F.key_a, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 1);
  json_decref(doc);
  doc = expect("GET", "/v1/records/contact/c1/timeline?since=2023-11-14T22:14:00Z&until=2023-11-14T22:16:00Z", F.key_a,
               NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 2);
  json_decref(doc);
  /* B's c1 has only B's message */
  doc = expect("GET", "/v1/records/contact/c1/timeline", F.key_b, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 1);
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "subject")), ==,
                  "globex only");
  json_decref(doc);
  json_decref(expect("GET", "/v1/records/contact/nobody/timeline", F.key_a, NULL, 404, "not_found"));
  json_decref(expect("GET", "/v1/records/contact/c1/timeline?cursor=AAAA", F.key_a, NULL, 400, "bad_cursor"));
  json_decref(expect("GET", "/v1/records/contact/c1/timeline?direction=up", F.key_a, NULL, 400, "invalid_query"));
  json_decref(expect("GET", "/v1/records/contact/c1/timeline?since=yesterday", F.key_a, NULL, 400, "invalid_query"));
  json_decref(expect("GET", "/v1/records/contact/c1/timeline?limit=201", F.key_a, NULL, 400, "invalid_query"));
}

static void test_messages(void)
{
  g_autofree char *p = g_strdup_printf("/v1/messages/%s", F.msg_a);
  g_autofree char *pb = g_strdup_printf("/v1/messages/%s", F.msg_b);
  g_autofree char *raw = g_strdup_printf("/v1/messages/%s/raw", F.msg_a);
  g_autofree char *att_a = g_strdup_printf("/v1/attachments/%s", F.att_sha_a);
  g_autofree char *att_b = g_strdup_printf("/v1/attachments/%s", F.att_sha_b);
  g_autofree char *thr = g_strdup_printf("/v1/threads/%s", F.thread_a);
  json_t *doc;
  const char *html;
  Resp r;

  doc = expect("GET", p, F.key_a, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "subject")), ==, "first");
  g_assert_cmpstr(json_string_value(json_object_get(doc, "text")), ==, "body of first");
  html = json_string_value(json_object_get(doc, "html"));
  g_assert_nonnull(html); /* sanitized by the MIME module: no script, no remote load, text kept */
  g_assert_null(strstr(html, "<script"));
  g_assert_null(strstr(html, "alert(1)"));
  g_assert_null(strstr(html, "evil.example"));
  g_assert_nonnull(strstr(html, "hi"));
  g_assert_cmpint(json_array_size(json_object_get(doc, "attachments")), ==, 1);
  json_decref(doc);
  json_decref(expect("GET", p, F.key_b, NULL, 404, "not_found"));
  json_decref(expect("GET", pb, F.key_a, NULL, 404, "not_found"));

  http("GET", raw, F.key_a, NULL, &r);
  g_assert_cmpint(r.status, ==, 200);
  g_assert_nonnull(strstr(r.headers, "message/rfc822"));
  g_assert_true(g_str_has_prefix(r.body, "From: x@example.com"));
  resp_clear(&r);
  json_decref(expect("GET", raw, F.key_b, NULL, 404, "not_found"));

  http("GET", att_a, F.key_a, NULL, &r);
  g_assert_cmpint(r.status, ==, 200);
  g_assert_cmpstr(r.body, ==, "secret A attachment");
  resp_clear(&r);
  json_decref(expect("GET", att_a, F.key_b, NULL, 404, "not_found"));
  json_decref(expect("GET", att_b, F.key_a, NULL, 404, "not_found"));
  json_decref(expect("GET", "/v1/attachments/xyz", F.key_a, NULL, 404, "not_found"));

  doc = expect("GET", thr, F.key_a, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "messages")), ==, 5);
  json_decref(doc);
  json_decref(expect("GET", thr, F.key_b, NULL, 404, "not_found"));
}

/* The page cache never serves a page older than the last commit, nor across tenants or keys. */
static void test_cache(void)
{
  g_autofree char *k = NULL;
  g_autofree char *kid = NULL;
  g_autoptr(GError) error = NULL;
  json_t *doc;
  size_t before;

  doc = expect("GET", "/v1/records/contact/c2/timeline", F.key_a, NULL, 200, NULL);
  before = json_array_size(json_object_get(doc, "items"));
  json_decref(doc);
  doc = expect("GET", "/v1/records/contact/c2/timeline", F.key_a, NULL, 200, NULL); /* kept: its second miss */
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, before);
  json_decref(doc);
  g_free(put_message(F.ent_a, "c2", "for carol", 1750000000, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
  doc = expect("GET", "/v1/records/contact/c2/timeline", F.key_a, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, before + 1);
  json_decref(doc);
  /* same URI, other tenant: its own (absent) record, never A's cached page */
  json_decref(expect("GET", "/v1/records/contact/c2/timeline", F.key_b, NULL, 404, "not_found"));
  /* a key revoked after the page was cached is refused */
  k = make_key(F.ent_a, &kid);
  json_decref(expect("GET", "/v1/records/contact/c2/timeline", k, NULL, 200, NULL));
  g_assert_cmpint(storage_apikey_revoke(F.st, kid, ma_now(), &error), ==, 1);
  json_decref(expect("GET", "/v1/records/contact/c2/timeline", k, NULL, 401, "unauthorized"));
}

/* Runs sql on the database behind storage's back (another connection: storage_data_version
 * moves, and whatever triggers the statement fires). */
static void raw_exec(const char *sql)
{
  g_autofree char *path = g_build_filename(F.dir, "mailagent.db", NULL);
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close(db);
}

static char *from_name(json_t *doc, size_t i)
{
  json_t *from = json_object_get(json_array_get(json_object_get(doc, "items"), i), "from");
  return g_strdup(json_string_value(json_object_get(from, "name")));
}

/* Pages are kept per enterprise: a commit to B's archive (or a commit that changes no archive)
 * leaves A's cached pages in place, a commit to A's drops them. A participant's name rewritten
 * behind storage's back in the timeline rows a page reads (participants only ever change with
 * their message; the version the rewrite moves is put back) makes a page served from the cache
 * tell itself apart from one computed again. */
static void test_cache_per_enterprise(void)
{
  const char *uri = "/v1/records/contact/c2/timeline?limit=5";
  g_autofree char *cached = NULL;
  g_autofree char *after_b = NULL;
  g_autofree char *after_a = NULL;
  json_t *doc;

  json_decref(expect("GET", uri, F.key_a, NULL, 200, NULL)); /* a first miss: not kept (doorkeeper) */
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL);          /* the second: kept */
  cached = from_name(doc, 0);
  g_assert_cmpstr(cached, !=, "Renamed");
  json_decref(doc);
  /* the From name in the rows' items, a length-prefixed field after its role (storage_timeline_row.h) */
  g_autofree char *rename = g_strdup_printf(
    "CREATE TEMP TABLE kept AS SELECT enterprise_id, n FROM archive_versions"
    " WHERE enterprise_id = (SELECT id FROM enterprises WHERE slug = 'acme');"
    "UPDATE timeline SET item = replace(item, '1:0%zu:%s', '1:07:Renamed')"
    " WHERE enterprise_id = (SELECT enterprise_id FROM kept);"
    "UPDATE archive_versions SET n = (SELECT n FROM kept) WHERE enterprise_id = (SELECT enterprise_id FROM kept);",
    strlen(cached), cached);
  raw_exec(rename);
  /* a commit of B's mail: the first request after it is computed by a read worker, which reads A's
   * archive version (never the loop) and finds it unchanged, so A's page is kept (not replaced):
   * the next request comes from the cache */
  g_free(put_message(F.ent_b, "c2", "for globex", 1750000100, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL);
  g_autofree char *first_after_b = from_name(doc, 0);
  json_decref(doc);
  g_assert_cmpstr(first_after_b, ==, "Renamed");
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL);
  after_b = from_name(doc, 0);
  json_decref(doc);
  g_assert_cmpstr(after_b, ==, cached);
  /* a commit of A's mail: computed again, so the rename shows */
  g_free(put_message(F.ent_a, "c2", "for carol again", 1750000200, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL);
  after_a = from_name(doc, 1); /* the page's first item before */
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "subject")), ==,
                  "for carol again");
  json_decref(doc);
  g_assert_cmpstr(after_a, ==, "Renamed");
}

/* The page cache keeps a page on its URI's second miss: a URI asked for once is computed again
 * the next time (a row renamed behind storage's back shows), one asked for twice is then served
 * from the cache (the rename does not show until a commit of A's). */
static void test_cache_doorkeeper(void)
{
  const char *uri = "/v1/records/contact/c2/timeline?limit=4";
  json_t *doc = expect("GET", uri, F.key_a, NULL, 200, NULL);
  g_autofree char *name = from_name(doc, 0);
  json_decref(doc);
  g_assert_cmpstr(name, !=, "Kept");
  g_autofree char *rename = g_strdup_printf(
    "CREATE TEMP TABLE kept AS SELECT enterprise_id, n FROM archive_versions"
    " WHERE enterprise_id = (SELECT id FROM enterprises WHERE slug = 'acme');"
    "UPDATE timeline SET item = replace(item, '1:0%zu:%s', '1:04:Kept')"
    " WHERE enterprise_id = (SELECT enterprise_id FROM kept);"
    "UPDATE archive_versions SET n = (SELECT n FROM kept) WHERE enterprise_id = (SELECT enterprise_id FROM kept);",
    strlen(name), name);
  raw_exec(rename);
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL); /* the second miss: computed, and kept */
  g_autofree char *second = from_name(doc, 0);
  json_decref(doc);
  g_assert_cmpstr(second, ==, "Kept");
  g_autofree char *back = g_strdup_printf(
    "CREATE TEMP TABLE kept AS SELECT enterprise_id, n FROM archive_versions"
    " WHERE enterprise_id = (SELECT id FROM enterprises WHERE slug = 'acme');"
    "UPDATE timeline SET item = replace(item, '1:04:Kept', '1:0%zu:%s')"
    " WHERE enterprise_id = (SELECT enterprise_id FROM kept);"
    "UPDATE archive_versions SET n = (SELECT n FROM kept) WHERE enterprise_id = (SELECT enterprise_id FROM kept);",
    strlen(name), name);
  raw_exec(back);
  /* that was a commit: the next request is computed by a worker that reads A's archive version,
   * unchanged, and keeps the page (not replaced) */
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL);
  g_autofree char *computed = from_name(doc, 0);
  json_decref(doc);
  g_assert_cmpstr(computed, ==, name);
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL); /* served from the cache: still "Kept" */
  g_autofree char *third = from_name(doc, 0);
  json_decref(doc);
  g_assert_cmpstr(third, ==, "Kept");
  /* a commit of A's: computed again, the name as stored */
  g_free(put_message(F.ent_a, "c2", "for carol once more", 1750000300, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
  doc = expect("GET", uri, F.key_a, NULL, 200, NULL);
  g_autofree char *after = from_name(doc, 1);
  json_decref(doc);
  g_assert_cmpstr(after, ==, name);
}

/* The subject of a timeline page's first item. */
static char *first_subject(const char *uri)
{
  json_t *doc = expect("GET", uri, F.key_a, NULL, 200, NULL);
  char *subject =
    g_strdup(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "subject")));
  json_decref(doc);
  return subject;
}

/* Caches the page at uri (asked twice: the doorkeeper keeps it on its second miss), asserting its
 * first item's subject. */
static void cache_page(const char *uri, const char *subject)
{
  g_autofree char *one = first_subject(uri);
  g_autofree char *two = first_subject(uri);
  g_assert_cmpstr(one, ==, subject);
  g_assert_cmpstr(two, ==, subject);
}

/* The page cache drops a cached page after a commit from each kind of writer the requester could
 * have seen before asking: (a) a write made through this API (the loop's own handle), (b) a commit
 * by another handle of this process (the pipeline workers': F.st), (c) a commit by another process
 * (this program spawned again, with a handle of its own, as the CLI), each time asserting the page's content.
 * The data version now comes from the WAL-index header (SQLite) without a read transaction: a
 * header not read, or read wrongly, serves the page cached before the commit. */
static void test_cache_writers(void)
{
  const char *uri = "/v1/records/contact/c8/timeline?limit=3";
  g_autoptr(GError) error = NULL;

  put_contact(F.ent_a, "c8", "Dora", "dora@customer.test");
  g_free(put_message(F.ent_a, "c8", "dora one", 1770000000, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
  cache_page(uri, "dora one");
  /* (b) another handle of this process */
  g_free(put_message(F.ent_a, "c8", "dora two", 1770000100, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
  cache_page(uri, "dora two");
  /* (c) another process: this test program spawned again (CHILD_PUT_ENV, see main), whose commit
   * returns before its exit, which this process waits for. Spawned, not forked: a child forked from
   * this threaded process (the API's read workers) could find an allocator lock held by a thread it
   * does not have and hang (test_storage's data-version test did, under ASan). */
  g_auto(GStrv) child_env = g_environ_setenv(g_get_environ(), CHILD_PUT_ENV, F.dir, TRUE);
  child_env = g_environ_setenv(child_env, CHILD_PUT_ENT_ENV, F.ent_a, TRUE);
  char *child_argv[] = {(char *) "/proc/self/exe", NULL};
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, child_argv, child_env, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error));
  g_assert_no_error(error);
  g_assert_true(g_spawn_check_wait_status(status, NULL));
  cache_page(uri, "dora three");
  /* (a) a write through the API itself: the record deleted, its cached timeline goes with it */
  json_decref(expect("DELETE", "/v1/records/contact/c8", F.key_a, NULL, 204, NULL));
  json_t *doc = expect("GET", uri, F.key_a, NULL, 404, "not_found");
  json_decref(doc);
}

/* The item cache (api_item_cache.c) answers the items of computed pages it rendered before, but a
 * row that changed is rendered again: each request below has a new `since`, so the page cache
 * cannot answer it, and only the item cache's key on the row's stored bytes tells the changed
 * message apart. The first computed page fills the item cache; the second is all hits; after a link
 * is added to one message (its row's item changes), that message misses and shows its new record,
 * the others still hit. */
static void test_item_cache_changed_row(void)
{
  g_autoptr(GError) error = NULL;
  ApiItemCacheStats s0, s1, s2;
  json_t *doc, *items;
  g_autofree char *m1 = put_message(F.ent_a, "c7", "item one", 1760000000, MA_DIRECTION_INBOUND, NULL, NULL, NULL);
  g_autofree char *m2 = put_message(F.ent_a, "c7", "item two", 1760000100, MA_DIRECTION_INBOUND, NULL, NULL, NULL);

  doc = expect("GET", "/v1/records/contact/c7/timeline?since=2020-01-01T00:00:01Z", F.key_a, NULL, 200, NULL);
  json_decref(doc);
  api_item_cache_stats(F.srv->item_cache, &s0);
  doc = expect("GET", "/v1/records/contact/c7/timeline?since=2020-01-01T00:00:02Z", F.key_a, NULL, 200, NULL);
  api_item_cache_stats(F.srv->item_cache, &s1);
  g_assert_cmpuint(s1.hits - s0.hits, ==, 2);
  g_assert_cmpuint(s1.misses - s0.misses, ==, 0);
  items = json_object_get(doc, "items");
  g_assert_cmpuint(json_array_size(items), ==, 2);
  g_assert_cmpuint(json_array_size(json_object_get(json_array_get(items, 1), "records")), ==, 1);
  json_decref(doc);

  MaRecordRef extra = {MA_RECORD_ACCOUNT, "acct9", NULL};
  g_assert_cmpint(storage_link_add(F.st, F.ent_a, m1, &extra, &error), >=, 0);
  g_assert_no_error(error);
  doc = expect("GET", "/v1/records/contact/c7/timeline?since=2020-01-01T00:00:03Z", F.key_a, NULL, 200, NULL);
  api_item_cache_stats(F.srv->item_cache, &s2);
  g_assert_cmpuint(s2.hits - s1.hits, ==, 1);   /* m2, unchanged */
  g_assert_cmpuint(s2.misses - s1.misses, ==, 1); /* m1, whose row changed */
  items = json_object_get(doc, "items");
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(items, 1), "id")), ==, m1);
  json_t *records = json_object_get(json_array_get(items, 1), "records");
  g_assert_cmpuint(json_array_size(records), ==, 2);
  g_autofree char *text = json_dumps(records, JSON_COMPACT);
  g_assert_nonnull(strstr(text, "\"acct9\""));
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(items, 0), "id")), ==, m2);
  json_decref(doc);
  /* /metrics reports the same counts */
  Resp r;
  http("GET", "/metrics", NULL, NULL, &r);
  g_autofree char *hits = g_strdup_printf("mailagent_api_item_cache_hits_total %" G_GUINT64_FORMAT "\n", s2.hits);
  g_autofree char *misses = g_strdup_printf("mailagent_api_item_cache_misses_total %" G_GUINT64_FORMAT "\n", s2.misses);
  g_assert_nonnull(strstr(r.body, hits));
  g_assert_nonnull(strstr(r.body, misses));
  resp_clear(&r);
}

/* ---- configuration resources ---------------------------------------------------------------- */

static void test_settings(void)
{
  json_t *doc = expect("GET", "/v1/settings", F.key_a, NULL, 200, NULL);

  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "settings"), "archiving")), ==, "on");
  json_decref(doc);
  doc = expect("PUT", "/v1/settings", F.key_a, "{\"settings\":{\"archiving\":false,\"capture_level\":\"metadata\"}}", 200,
               NULL);
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "settings"), "archiving")), ==, "off");
  json_decref(doc);
  json_decref(expect("PUT", "/v1/settings", F.key_a, "{\"settings\":{\"nope\":1}}", 400, "unknown_field"));
  json_decref(expect("PUT", "/v1/settings", F.key_a, "{\"archiving\":\"on\"}", 400, "unknown_field"));
  /* atomic: a bad value leaves the good one of the same request unapplied */
  json_decref(expect("PUT", "/v1/settings", F.key_a,
                     "{\"settings\":{\"archiving\":\"on\",\"capture_level\":\"everything\"}}", 422, "invalid"));
  doc = expect("GET", "/v1/settings", F.key_a, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "settings"), "archiving")), ==, "off");
  json_decref(doc);
  /* B unaffected */
  doc = expect("GET", "/v1/settings", F.key_b, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "settings"), "archiving")), ==, "on");
  json_decref(doc);
}

static void test_rules(void)
{
  json_t *doc;
  g_autofree char *id1 = NULL;
  g_autofree char *id2 = NULL;
  g_autofree char *path = NULL;

  doc = expect("POST", "/v1/rules", F.key_a,
               "{\"name\":\"quotes\",\"object_types\":[\"contact\"],\"conditions\":[{\"field\":\"subject\",\"op\":\"contains\",\"value\":\"quote\"}],"
               "\"action\":{\"activity_type\":\"email\"}}", 201, NULL);
  id1 = g_strdup(json_string_value(json_object_get(doc, "id")));
  g_assert_cmpint(json_integer_value(json_object_get(doc, "position")), ==, 1);
  json_decref(doc);
  doc = expect("POST", "/v1/rules?position=1", F.key_a, "{\"name\":\"all\",\"object_types\":[\"contact\"],\"action\":{\"activity_type\":\"email\"}}",
               201, NULL);
  id2 = g_strdup(json_string_value(json_object_get(doc, "id")));
  json_decref(doc);
  json_decref(expect("POST", "/v1/rules", F.key_a,
                     "{\"name\":\"bad\",\"object_types\":[\"contact\"],\"conditions\":[{\"field\":\"subject\",\"op\":\"like\",\"value\":\"q\"}],"
                     "\"action\":{\"activity_type\":\"email\"}}", 422, "invalid"));
  path = g_strdup_printf("/v1/rules/%s:move", id1);
  doc = expect("POST", path, F.key_a, "{\"position\":1}", 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "id")), ==, id1);
  json_decref(doc);
  g_free(path);
  path = g_strdup_printf("/v1/rules/%s:disable", id2);
  doc = expect("POST", path, F.key_a, NULL, 200, NULL);
  g_assert_true(json_is_false(json_object_get(doc, "enabled")));
  json_decref(doc);
  g_free(path);
  path = g_strdup_printf("/v1/rules/%s", id2);
  json_decref(expect("GET", path, F.key_b, NULL, 404, "not_found"));
  json_decref(expect("DELETE", path, F.key_b, NULL, 404, "not_found"));
  json_decref(expect("DELETE", path, F.key_a, NULL, 204, NULL));
  doc = expect("GET", "/v1/rules", F.key_a, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 1);
  json_decref(doc);
  doc = expect("GET", "/v1/rules", F.key_b, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 0);
  json_decref(doc);
}

static void test_employees(void)
{
  json_t *doc;

  json_decref(expect("POST", "/v1/employees", F.key_a, "{\"email\":\"Emp@Acme.test\",\"name\":\"Emp\"}", 201, NULL));
  json_decref(expect("POST", "/v1/employees", F.key_a, "{\"email\":\"emp@acme.test\"}", 409, "conflict"));
  json_decref(expect("POST", "/v1/employees", F.key_a, "{\"email\":\"not-an-address\"}", 422, "invalid"));
  json_decref(expect("POST", "/v1/employees", F.key_a, "{\"email\":\"a@b.test\",\"role\":\"x\"}", 400, "unknown_field"));
  doc = expect("GET", "/v1/employees", F.key_a, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 1);
  g_assert_cmpstr(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "email")), ==,
                  "emp@acme.test");
  json_decref(doc);
  doc = expect("GET", "/v1/employees", F.key_b, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 0);
  json_decref(doc);
  json_decref(expect("DELETE", "/v1/employees/emp@acme.test", F.key_b, NULL, 404, "not_found"));
  json_decref(expect("DELETE", "/v1/employees/emp@acme.test", F.key_a, NULL, 204, NULL));
}

/* GET/PUT /v1/employees/{id}/default-mailbox: the oldest active sending mailbox until one is chosen;
 * only a mailbox bound to that employee can be chosen; another enterprise sees no such employee. */
static void test_default_mailbox(void)
{
  g_autoptr(GError) error = NULL;
  json_decref(expect("POST", "/v1/employees", F.key_a, "{\"email\":\"sam@acme.test\"}", 201, NULL));
  json_decref(expect("POST", "/v1/employees", F.key_a, "{\"email\":\"tom@acme.test\"}", 201, NULL));
  MaEmployee *sam = NULL, *tom = NULL;
  g_assert_cmpint(storage_employee_find(F.st, F.ent_a, "sam@acme.test", &sam, &error), ==, 1);
  g_assert_cmpint(storage_employee_find(F.st, F.ent_a, "tom@acme.test", &tom, &error), ==, 1);
  static const char *const ids[] = {"mbx-old", "mbx-new", "mbx-tom"};
  for (int i = 0; i < 3; i++) {
    MaMailbox m = {.id = (char *) ids[i], .enterprise_id = F.ent_a, .employee_id = i < 2 ? sam->id : tom->id,
                   .email = i < 2 ? "sam@acme.test" : "tom@acme.test", .username = "u", .protocol = "imap",
                   .host = (char *) ids[i], .port = 993, .security = "tls", .auth = "password", .state = "active",
                   .created_at = 100 + i, .smtp_host = "smtp.acme.test", .smtp_port = 587, .smtp_security = "starttls"};
    g_assert_cmpint(storage_mailbox_add(F.st, &m, &error), ==, 0);
  }
  ma_employee_free(sam);
  ma_employee_free(tom);
  json_t *doc = expect("GET", "/v1/employees/sam@acme.test/default-mailbox", F.key_a, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "default_mailbox"), "id")), ==, "mbx-old");
  g_assert_false(json_is_true(json_object_get(doc, "chosen")));
  json_decref(doc);
  doc = expect("PUT", "/v1/employees/sam@acme.test/default-mailbox", F.key_a, "{\"mailbox\":\"mbx-new\"}", 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "default_mailbox"), "id")), ==, "mbx-new");
  g_assert_true(json_is_true(json_object_get(doc, "chosen")));
  json_decref(doc);
  doc = expect("GET", "/v1/employees/sam@acme.test/default-mailbox", F.key_a, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(json_object_get(doc, "default_mailbox"), "id")), ==, "mbx-new");
  json_decref(doc);
  json_decref(expect("PUT", "/v1/employees/sam@acme.test/default-mailbox", F.key_a, "{\"mailbox\":\"mbx-tom\"}", 422,
                     "invalid"));
  json_decref(expect("PUT", "/v1/employees/sam@acme.test/default-mailbox", F.key_a, "{\"mailbox\":\"nope\"}", 404,
                     "not_found"));
  json_decref(expect("PUT", "/v1/employees/sam@acme.test/default-mailbox", F.key_a, "{\"box\":\"mbx-new\"}", 400,
                     "unknown_field"));
  json_decref(expect("GET", "/v1/employees/sam@acme.test/default-mailbox", F.key_b, NULL, 404, "not_found"));
  json_decref(expect("GET", "/v1/employees/nobody@acme.test/default-mailbox", F.key_a, NULL, 404, "not_found"));
}

static void test_admin(void)
{
  json_t *doc;
  g_autofree char *secret = NULL;
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;

  doc = expect("POST", "/v1/enterprises", F.key_admin, "{\"slug\":\"initech\",\"name\":\"Initech\",\"domains\":[\"initech.test\"]}",
               201, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "slug")), ==, "initech");
  /* like `mailagent enterprise add`, the first key comes with it, shown once */
  json_decref(expect("GET", "/v1/settings", json_string_value(json_object_get(json_object_get(doc, "api_key"), "secret")),
                     NULL, 200, NULL));
  json_decref(doc);
  json_decref(expect("POST", "/v1/enterprises", F.key_admin, "{\"slug\":\"initech\"}", 409, "conflict"));
  json_decref(expect("POST", "/v1/enterprises", F.key_admin, "{\"slug\":\"Bad Slug\"}", 422, "invalid"));
  doc = expect("GET", "/v1/enterprises", F.key_admin, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 3);
  json_decref(doc);
  json_decref(expect("GET", "/v1/enterprises/initech", F.key_admin, NULL, 200, NULL));

  doc = expect("POST", "/v1/apikeys", F.key_admin, "{\"enterprise\":\"initech\",\"label\":\"crm\"}", 201, NULL);
  secret = g_strdup(json_string_value(json_object_get(doc, "secret")));
  id = g_strdup(json_string_value(json_object_get(doc, "id")));
  g_assert_nonnull(secret);
  json_decref(doc);
  json_decref(expect("GET", "/v1/employees", secret, NULL, 200, NULL));
  doc = expect("GET", "/v1/apikeys?enterprise=initech", F.key_admin, NULL, 200, NULL);
  g_assert_cmpint(json_array_size(json_object_get(doc, "items")), ==, 2);
  {
    char *text = json_dumps(doc, 0);
    g_assert_null(strstr(text, secret)); /* listings never show secrets */
    free(text);
  }
  json_decref(doc);
  /* rotate: the old secret dies, the new one works */
  path = g_strdup_printf("/v1/apikeys/%s:rotate", id);
  doc = expect("POST", path, F.key_admin, NULL, 201, NULL);
  json_decref(expect("GET", "/v1/employees", secret, NULL, 401, "unauthorized"));
  g_free(secret);
  secret = g_strdup(json_string_value(json_object_get(doc, "secret")));
  g_free(id);
  id = g_strdup(json_string_value(json_object_get(doc, "id")));
  json_decref(doc);
  json_decref(expect("GET", "/v1/employees", secret, NULL, 200, NULL));
  json_decref(expect("POST", path, F.key_admin, NULL, 404, "not_found"));
  g_free(path);
  path = g_strdup_printf("/v1/apikeys/%s", id);
  json_decref(expect("DELETE", path, F.key_admin, NULL, 204, NULL));
  json_decref(expect("GET", "/v1/employees", secret, NULL, 401, "unauthorized"));
  json_decref(expect("DELETE", path, F.key_admin, NULL, 404, "not_found"));
  json_decref(expect("POST", "/v1/apikeys", F.key_admin, "{\"enterprise\":\"nope\"}", 422, "invalid"));
}

static void test_inbound(void)
{
  json_t *doc = expect("GET", "/v1/inbound-address", F.key_a, NULL, 200, NULL);
  g_autofree char *old = g_strdup(json_string_value(json_object_get(doc, "address")));

  g_assert_cmpstr(old, ==, "acme-in@inbound.test");
  json_decref(doc);
  doc = expect("POST", "/v1/inbound-address:rotate", F.key_a, "{\"grace_seconds\":3600}", 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "address")), !=, old);
  g_assert_true(g_str_has_prefix(json_string_value(json_object_get(doc, "address")), "acme-"));
  g_assert_cmpint(json_array_size(json_object_get(doc, "live")), ==, 2);
  json_decref(doc);
  json_decref(expect("POST", "/v1/inbound-address:rotate", F.key_a, "{\"grace_seconds\":-1}", 422, "invalid"));
  doc = expect("GET", "/v1/inbound-address", F.key_b, NULL, 200, NULL);
  g_assert_cmpstr(json_string_value(json_object_get(doc, "address")), ==, "globex-in@inbound.test");
  json_decref(doc);
}

/* RFC 6266 downloads: the real name in filename* (RFC 8187 percent-encoding of UTF-8), a safe ASCII
 * fallback, and no way for a name from mail to break out of the header value. */
static void test_content_disposition(void)
{
  static const struct {
    const char *name, *want;
  } cases[] = {
    {"report.pdf", "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"},
    {"Angebot Müller (2).pdf",
     "attachment; filename=\"Angebot M__ller (2).pdf\"; filename*=UTF-8''Angebot%20M%C3%BCller%20%282%29.pdf"},
    {"見積書.xlsx", "attachment; filename=\"_________.xlsx\"; filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.xlsx"},
    {"a\"b\\c/d\r\nX-Evil: 1", "attachment; filename=\"a_b_c_d__X-Evil: 1\"; filename*=UTF-8''a%22b%5Cc%2Fd%0D%0AX-Evil%3A%201"},
    {"bad\xff.bin", "attachment; filename=\"bad_.bin\""},
    {"", "attachment; filename=\"attachment\"; filename*=UTF-8''attachment"},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autofree char *got = api_content_disposition(cases[i].name);
    g_assert_cmpstr(got, ==, cases[i].want);
    g_assert_null(strpbrk(got, "\r\n"));
  }
}

/* The other process of test_cache_writers: opens the archive in the data directory CHILD_PUT_ENV
 * names with a handle of its own, archives "dora three" for contact c8 of enterprise
 * CHILD_PUT_ENT_ENV and exits: 0, or 2 when the archive could not be opened (an assertion aborts). */
static int child_put(const char *dir, const char *ent)
{
  MaStorage *mine = NULL;
  if (storage_open(dir, FALSE, &mine, NULL) < 0) return 2;
  F.st = mine; /* put_message writes through F.st */
  g_free(put_message(ent, "c8", "dora three", 1770000200, MA_DIRECTION_INBOUND, NULL, NULL, NULL));
  storage_close(&mine);
  return 0;
}

int main(int argc, char **argv)
{
  int rc;

  if (g_getenv(CHILD_PUT_ENV)) return child_put(g_getenv(CHILD_PUT_ENV), g_getenv(CHILD_PUT_ENT_ENV));
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/router", test_router);
  g_test_add_func("/api/content-disposition", test_content_disposition);
  g_test_add_func("/api/router_random", test_router_random);
  g_test_add_func("/api/wire_garbage", test_wire_garbage);
  g_test_add_func("/api/health_metrics", test_health_metrics);
  g_test_add_func("/api/metrics_render", test_metrics_render);
  g_test_add_func("/api/metrics_histogram", test_metrics_histogram);
  g_test_add_func("/api/auth", test_auth);
  g_test_add_func("/api/errors", test_errors);
  g_test_add_func("/api/records", test_records);
  g_test_add_func("/api/bulk", test_bulk);
  g_test_add_func("/api/timeline", test_timeline);
  g_test_add_func("/api/read_workers", test_read_workers);
  g_test_add_func("/api/lent_buffers", test_lent_buffers);
  g_test_add_func("/api/workers_reuse", test_workers_reuse);
  g_test_add_func("/api/messages", test_messages);
  g_test_add_func("/api/cache", test_cache);
  g_test_add_func("/api/cache/per_enterprise", test_cache_per_enterprise);
  g_test_add_func("/api/cache/doorkeeper", test_cache_doorkeeper);
  g_test_add_func("/api/cache/writers", test_cache_writers);
  g_test_add_func("/api/item_cache/changed_row", test_item_cache_changed_row);
  g_test_add_func("/api/settings", test_settings);
  g_test_add_func("/api/rules", test_rules);
  g_test_add_func("/api/employees", test_employees);
  g_test_add_func("/api/default_mailbox", test_default_mailbox);
  g_test_add_func("/api/admin", test_admin);
  g_test_add_func("/api/inbound", test_inbound);
  fixture_up();
  rc = g_test_run();
  fixture_down();
  return rc;
}
