/* api_enterprises.c - admin: /v1/enterprises list, create and show.
 *
 * POST takes {"slug", "name"?, "domains"?} with the rules of `mailagent enterprise add`: slug is
 * 1..40 of [a-z0-9-], starting with a letter or digit; domains are lower-cased. The enterprise gets
 * a time-ordered id, a virtual inbound address "<slug>-<random>@<[smtp] inbound_domain>" and its
 * first API key "default" (answered once as "api_key"), in one transaction. 409 when the slug or a
 * domain is taken.
 * Only the admin key reaches this file (enterprise keys get 403 from api_auth.c).
 */
#include "api_internal.h"

#include "agent/domains/domains.h"
#include "agent/codec/codec.h"
#include "agent/tenant/apikey_store.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <string.h>

#define MAX_SLUG_LEN 40 /* as `mailagent enterprise add` */
#define MAX_NAME_LEN 200
#define MAX_DOMAINS 100

static gboolean slug_ok(const char *s)
{
  gsize n = strlen(s);

  if (n == 0 || n > MAX_SLUG_LEN || !g_ascii_isalnum(s[0]) || s[n - 1] == '-')
    return FALSE;
  return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static void enterprises_list(ApiCtx *ctx)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
  g_autoptr(GError) error = NULL;
  json_t *items;

  if (!api_check_query(ctx, NULL))
    return;
  if (storage_enterprise_list(ctx->st, out, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  items = json_array();
  for (guint i = 0; i < out->len; i++)
    json_array_append_new(items, codec_enterprise_to_json(g_ptr_array_index(out, i), ctx->cfg->inbound_domain));
  api_reply_json(ctx, 200, api_page(items, NULL));
}

static void enterprise_reply(ApiCtx *ctx, const char *id)
{
  g_autoptr(GError) error = NULL;
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(ctx->st, id, &e, &error);

  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no such enterprise");
  else
    api_reply_json(ctx, 200, codec_enterprise_to_json(e, ctx->cfg->inbound_domain));
  ma_enterprise_free(e);
}

static void enterprises_create(ApiCtx *ctx)
{
  static const char *const fields[] = {"slug", "name", "domains", NULL};
  g_autoptr(GError) error = NULL;
  g_autofree char *suffix = NULL;
  MaEnterprise e = {0};
  MaApiKey *key = NULL;
  char *secret = NULL;
  json_t *body, *slug, *name, *domains, *d;
  size_t i;

  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE)))
    return;
  if (!api_check_fields(ctx, body, fields))
    goto out;
  slug = json_object_get(body, "slug");
  name = json_object_get(body, "name");
  domains = json_object_get(body, "domains");
  if (!json_is_string(slug) || !slug_ok(json_string_value(slug))) {
    api_reply_error(ctx, 422, "invalid", "field 'slug' must be 1-%d characters of a-z, 0-9 and '-', starting with a letter or digit", MAX_SLUG_LEN);
    goto out;
  }
  if (name && !json_is_null(name) &&
      (!json_is_string(name) || !*json_string_value(name) || strlen(json_string_value(name)) > MAX_NAME_LEN)) {
    api_reply_error(ctx, 422, "invalid", "field 'name' must be a non-empty string of at most %d bytes", MAX_NAME_LEN);
    goto out;
  }
  if (domains && (!json_is_array(domains) || json_array_size(domains) > MAX_DOMAINS)) {
    api_reply_error(ctx, 422, "invalid", "field 'domains' must be a list of at most %d domains", MAX_DOMAINS);
    goto out;
  }
  e.domains = g_ptr_array_new_with_free_func(g_free);
  json_array_foreach(domains, i, d) {
    GError *invalid = NULL;
    char *low = json_is_string(d) ? ma_domain_normalize(json_string_value(d), &invalid) : NULL;
    if (!low) {
      api_reply_error(ctx, 422, "invalid", "field 'domains': item %zu is not a domain name%s%s", i,
                      invalid ? ": " : "", invalid ? invalid->message : "");
      g_clear_error(&invalid);
      goto out;
    }
    g_ptr_array_add(e.domains, low);
  }
  e.id = ma_id_new();
  e.slug = g_strdup(json_string_value(slug));
  e.name = g_strdup(json_is_string(name) ? json_string_value(name) : e.slug);
  suffix = ma_random_alnum(8);
  e.inbound_local = g_strdup_printf("%s-%s", e.slug, suffix);
  e.created_at = ma_now();
  /* As `mailagent enterprise add`: the enterprise and its first key ("default") in one commit. */
  if (storage_begin(ctx->st, &error) < 0 || storage_enterprise_create(ctx->st, &e, &error) < 0 ||
      apikey_create(ctx->st, e.id, "default", &key, &secret, &error) < 0 ||
      api_audit(ctx, e.id, "enterprise.create", e.id, json_pack("{s:s, s:s}", "name", e.name, "slug", e.slug), &error) < 0 ||
      api_audit(ctx, e.id, "apikey.create", key->id, json_pack("{s:s, s:s}", "scope", "enterprise", "label", "default"),
                &error) < 0 ||
      storage_commit(ctx->st, &error) < 0) {
    storage_rollback(ctx->st);
    api_reply_gerror(ctx, error);
  } else {
    json_t *doc = codec_enterprise_to_json(&e, ctx->cfg->inbound_domain);
    json_t *jk = codec_api_key_to_json(key);
    json_object_set_new(jk, "secret", json_string(secret));
    json_object_set_new(doc, "api_key", jk);
    api_reply_json(ctx, 201, doc);
  }
out:
  if (secret)
    memset(secret, 0, strlen(secret));
  g_free(secret);
  ma_api_key_free(key);
  g_free(e.id);
  g_free(e.slug);
  g_free(e.name);
  g_free(e.inbound_local);
  if (e.domains)
    g_ptr_array_unref(e.domains);
  json_decref(body);
}

static void enterprise_get(ApiCtx *ctx)
{
  if (api_check_query(ctx, NULL))
    enterprise_reply(ctx, api_param(ctx, "id"));
}

/* DELETE /v1/enterprises/{id or slug}?confirm=<slug>: the enterprise and all its data, as
 * `mailagent enterprise delete`; 204. The confirmation repeats the slug (400 without it). */
static void enterprise_delete(ApiCtx *ctx)
{
  static const char *const allowed[] = {"confirm", NULL};
  if (!api_check_query(ctx, allowed)) return;
  g_autoptr(GError) error = NULL;
  MaEnterprise *e = NULL;
  int rc = storage_enterprise_get(ctx->st, api_param(ctx, "id"), &e, &error);
  if (rc < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  if (rc == 0) {
    api_reply_error(ctx, 404, "not_found", "no such enterprise");
    return;
  }
  const char *confirm = api_query(ctx, "confirm");
  if (!confirm || strcmp(confirm, e->slug) != 0) {
    api_reply_error(ctx, 400, "confirmation_required", "repeat the enterprise's slug: ?confirm=%s", e->slug);
    ma_enterprise_free(e);
    return;
  }
  if (storage_begin(ctx->st, &error) < 0 || storage_enterprise_delete(ctx->st, e->id, &error) < 0 ||
      api_audit(ctx, NULL, "enterprise.delete", e->id, json_pack("{s:s}", "slug", e->slug), &error) < 0 ||
      storage_commit(ctx->st, &error) < 0) {
    storage_rollback(ctx->st);
    api_reply_gerror(ctx, error);
  } else {
    api_item_cache_clear(ctx->srv->item_cache); /* its items' JSON leaves memory with it */
    api_reply_no_content(ctx);
  }
  ma_enterprise_free(e);
}

const ApiRoute api_enterprises_routes[] = {
  {EVHTTP_REQ_DELETE, "/v1/enterprises/{id}", API_AUTH_ADMIN, enterprise_delete},
  {EVHTTP_REQ_GET, "/v1/enterprises", API_AUTH_ADMIN, enterprises_list},
  {EVHTTP_REQ_POST, "/v1/enterprises", API_AUTH_ADMIN, enterprises_create},
  {EVHTTP_REQ_GET, "/v1/enterprises/{id}", API_AUTH_ADMIN, enterprise_get},
  {0},
};
