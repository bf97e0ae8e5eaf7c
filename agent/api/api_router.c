/* api_router.c - maps (method, path) to a handler from the resources' route tables.
 *
 * A pattern is a '/'-separated list of segments: a literal ("v1", "records:bulk"), a parameter
 * ("{id}"), or a parameter with a literal suffix ("{id}:rotate"). Literal segments compare on the
 * raw path; parameters are percent-decoded after matching and refused (BAD_PATH) when they decode
 * to nothing, contain NUL or '/', or exceed API_MAX_PARAM_LEN. Paths with more than
 * API_MAX_PATH_SEGMENTS segments, empty segments ("//"), "." or ".." never match. Routes are
 * tried in table order; the first whose path and method match wins. When some route has the path
 * but none the method, the answer is 405 with Allow.
 */
#include "api_internal.h"

#include <string.h>

static const ApiRoute *const *route_tables(void)
{
  static const ApiRoute *const tables[] = {
    api_health_routes,   api_timeline_routes, api_records_routes,     api_messages_routes,
    api_settings_routes, api_rules_routes,    api_employees_routes,   api_enterprises_routes,
    api_keys_routes,     api_inbound_routes,  api_webhook_routes,     api_audit_routes,
    api_spool_routes,    api_domains_routes,  api_mailboxes_routes,   api_outbound_routes,
    api_relays_routes,   api_oauth2_routes,   api_channels_routes, api_suppressions_routes,
    api_search_routes,
    NULL,
  };
  return tables;
}

const char *api_method_name(enum evhttp_cmd_type method)
{
  switch (method) {
  case EVHTTP_REQ_GET: return "GET";
  case EVHTTP_REQ_POST: return "POST";
  case EVHTTP_REQ_PUT: return "PUT";
  case EVHTTP_REQ_DELETE: return "DELETE";
  case EVHTTP_REQ_HEAD: return "HEAD";
  case EVHTTP_REQ_PATCH: return "PATCH";
  case EVHTTP_REQ_OPTIONS: return "OPTIONS";
  default: return "OTHER";
  }
}

/* Splits a raw path into segments (pointers into buf, which is modified). Returns the count, or -1
 * when the path is not of a form any route can have. */
static int split_path(char *buf, char **segs)
{
  int n = 0;
  char *p = buf;

  if (*p != '/')
    return -1;
  p++;
  while (TRUE) {
    char *slash = strchr(p, '/');
    if (slash)
      *slash = '\0';
    if (*p == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0 || n == API_MAX_PATH_SEGMENTS)
      return -1;
    segs[n++] = p;
    if (!slash)
      break;
    p = slash + 1;
  }
  return n;
}

typedef struct {
  const char *name; /* points into the pattern copy */
  gsize name_len;
  const char *raw;  /* points into the path copy */
  gsize raw_len;
} Capture;

/* Matches one pattern against the path segments; fills captures. */
static gboolean pattern_match(const char *pattern, char **segs, int n_segs, Capture *caps, int *n_caps)
{
  const char *p = pattern + 1;
  int i = 0;

  *n_caps = 0;
  while (*p) {
    const char *end = strchr(p, '/');
    gsize len = end ? (gsize)(end - p) : strlen(p);
    const char *seg;
    gsize seg_len;

    if (i >= n_segs)
      return FALSE;
    seg = segs[i];
    seg_len = strlen(seg);
    if (p[0] == '{') {
      const char *close = memchr(p, '}', len);
      gsize suffix_len;
      g_assert(close != NULL);
      suffix_len = len - (gsize)(close + 1 - p);
      if (seg_len <= suffix_len || memcmp(seg + seg_len - suffix_len, close + 1, suffix_len) != 0)
        return FALSE;
      if (*n_caps == API_MAX_PARAMS)
        return FALSE;
      caps[*n_caps].name = p + 1;
      caps[*n_caps].name_len = (gsize)(close - p - 1);
      caps[*n_caps].raw = seg;
      caps[*n_caps].raw_len = seg_len - suffix_len;
      (*n_caps)++;
    } else if (seg_len != len || memcmp(seg, p, len) != 0) {
      return FALSE;
    }
    i++;
    p += len;
    if (*p == '/')
      p++;
  }
  return i == n_segs;
}

ApiRouteResult api_route_match(enum evhttp_cmd_type method, const char *path, ApiCtx *ctx,
                               const ApiRoute **route, GString *allow)
{
  g_autofree char *buf = g_strdup(path);
  char *segs[API_MAX_PATH_SEGMENTS];
  Capture caps[API_MAX_PARAMS];
  int n_segs = split_path(buf, segs);
  gboolean path_seen = FALSE;
  const ApiRoute *found = NULL;
  int n_caps = 0;
  guint allowed_mask = 0;

  if (n_segs < 0)
    return API_ROUTE_NO_PATH;
  for (const ApiRoute *const *t = route_tables(); *t && !found; t++) {
    for (const ApiRoute *r = *t; r->pattern; r++) {
      if (!pattern_match(r->pattern, segs, n_segs, caps, &n_caps))
        continue;
      path_seen = TRUE;
      if (r->method == method) {
        found = r;
        break;
      }
      if (allow && !(allowed_mask & r->method)) {
        allowed_mask |= r->method;
        if (allow->len)
          g_string_append(allow, ", ");
        g_string_append(allow, api_method_name(r->method));
      }
    }
  }
  if (!found)
    return path_seen ? API_ROUTE_NO_METHOD : API_ROUTE_NO_PATH;

  /* pattern_match left caps for the found route (it was the last one matched). */
  for (int i = 0; i < n_caps; i++) {
    g_autofree char *raw = g_strndup(caps[i].raw, caps[i].raw_len);
    size_t dec_len = 0;
    char *dec = evhttp_uridecode(raw, 0, &dec_len);

    if (!dec || dec_len == 0 || dec_len > API_MAX_PARAM_LEN || memchr(dec, '\0', dec_len) ||
        memchr(dec, '/', dec_len) || !g_utf8_validate(dec, (gssize)dec_len, NULL)) {
      free(dec);
      for (int j = 0; j < ctx->n_params; j++)
        g_clear_pointer(&ctx->param_values[j], g_free);
      ctx->n_params = 0;
      return API_ROUTE_BAD_PATH;
    }
    g_assert(caps[i].name_len < sizeof ctx->param_names[0]);
    memcpy(ctx->param_names[ctx->n_params], caps[i].name, caps[i].name_len);
    ctx->param_names[ctx->n_params][caps[i].name_len] = '\0';
    ctx->param_values[ctx->n_params] = g_strdup(dec);
    ctx->n_params++;
    free(dec);
  }
  *route = found;
  return API_ROUTE_FOUND;
}

const char *api_param(const ApiCtx *ctx, const char *name)
{
  for (int i = 0; i < ctx->n_params; i++)
    if (strcmp(ctx->param_names[i], name) == 0)
      return ctx->param_values[i];
  return NULL;
}
