/* api_keys.c - admin: /v1/apikeys list, create, revoke and rotate, the same operations as
 * `mailagent apikey`.
 *
 * POST /v1/apikeys {"enterprise": id|slug|null, "label"} creates a key (null: another admin key)
 * and answers 201 with the key and its secret, the only time the secret is shown; only its hash is
 * stored. DELETE /v1/apikeys/{id} revokes at once. POST /v1/apikeys/{id}:rotate creates a new key
 * for the same enterprise and label, revokes the old one in the same transaction, and answers like
 * create (the rotation itself is apikey_rotate, shared with the CLI). GET /v1/apikeys?enterprise=... lists keys (all when not given; "admin" for admin keys).
 */
#include "api_internal.h"
#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <string.h>

#define MAX_LABEL_LEN 200

#include "agent/tenant/apikey_store.h"
#include "agent/tenant/audit.h"

static void list_into(ApiCtx *ctx, const char *enterprise_id, json_t *items, GError **error, int *rc)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_api_key_free);

  if (*rc < 0)
    return;
  if (storage_apikey_list(ctx->st, enterprise_id, out, error) < 0) {
    *rc = -1;
    return;
  }
  for (guint i = 0; i < out->len; i++)
    json_array_append_new(items, codec_api_key_to_json(g_ptr_array_index(out, i)));
}

static void keys_list(ApiCtx *ctx)
{
  static const char *const allowed[] = {"enterprise", NULL};
  g_autoptr(GError) error = NULL;
  const char *which;
  json_t *items;
  int rc = 0;

  if (!api_check_query(ctx, allowed))
    return;
  which = api_query(ctx, "enterprise");
  items = json_array();
  if (which && strcmp(which, "admin") == 0) {
    list_into(ctx, NULL, items, &error, &rc);
  } else if (which) {
    MaEnterprise *e = NULL;
    rc = storage_enterprise_get(ctx->st, which, &e, &error);
    if (rc == 0) {
      json_decref(items);
      api_reply_error(ctx, 404, "not_found", "no such enterprise");
      return;
    }
    if (rc > 0)
      list_into(ctx, e->id, items, &error, &rc);
    ma_enterprise_free(e);
  } else {
    g_autoptr(GPtrArray) ents = g_ptr_array_new_with_free_func((GDestroyNotify)ma_enterprise_free);
    list_into(ctx, NULL, items, &error, &rc);
    if (rc >= 0 && storage_enterprise_list(ctx->st, ents, &error) < 0)
      rc = -1;
    for (guint i = 0; rc >= 0 && i < ents->len; i++)
      list_into(ctx, ((MaEnterprise *)g_ptr_array_index(ents, i))->id, items, &error, &rc);
  }
  if (rc < 0) {
    json_decref(items);
    api_reply_gerror(ctx, error);
    return;
  }
  api_reply_json(ctx, 200, api_page(items, NULL));
}

static void reply_new_key(ApiCtx *ctx, MaApiKey *k, char *secret)
{
  json_t *doc = codec_api_key_to_json(k);

  json_object_set_new(doc, "secret", json_string(secret));
  api_reply_json(ctx, 201, doc);
  ma_api_key_free(k);
  memset(secret, 0, strlen(secret));
  g_free(secret);
}

static void keys_create(ApiCtx *ctx)
{
  static const char *const fields[] = {"enterprise", "label", NULL};
  g_autoptr(GError) error = NULL;
  MaEnterprise *e = NULL;
  json_t *body, *ent, *label;

  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE)))
    return;
  if (!api_check_fields(ctx, body, fields))
    goto out;
  ent = json_object_get(body, "enterprise");
  label = json_object_get(body, "label");
  if (!ent || !(json_is_null(ent) || json_is_string(ent))) {
    api_reply_error(ctx, 422, "invalid", "field 'enterprise' must be an enterprise id or slug, or null for an admin key");
    goto out;
  }
  if (label && !json_is_null(label) && (!json_is_string(label) || strlen(json_string_value(label)) > MAX_LABEL_LEN)) {
    api_reply_error(ctx, 422, "invalid", "field 'label' must be a string of at most %d bytes", MAX_LABEL_LEN);
    goto out;
  }
  if (json_is_string(ent)) {
    int rc = storage_enterprise_get(ctx->st, json_string_value(ent), &e, &error);
    if (rc < 0) {
      api_reply_gerror(ctx, error);
      goto out;
    }
    if (rc == 0) {
      api_reply_error(ctx, 422, "invalid", "field 'enterprise': no such enterprise");
      goto out;
    }
  }
  {
    MaApiKey *k = NULL;
    char *secret = NULL;
    if (apikey_create(ctx->st, e ? e->id : NULL, json_is_string(label) ? json_string_value(label) : NULL, &k,
                      &secret, &error) < 0) {
      api_reply_gerror(ctx, error);
    } else {
      api_audit(ctx, k->enterprise_id, "apikey.create", k->id,
                json_pack("{s:s, s:s?}", "scope", k->enterprise_id ? "enterprise" : "admin", "label", k->label), NULL);
      reply_new_key(ctx, k, secret);
    }
  }
out:
  ma_enterprise_free(e);
  json_decref(body);
}

static void keys_revoke(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  int rc;

  if (!api_check_query(ctx, NULL))
    return;
  rc = storage_apikey_revoke(ctx->st, api_param(ctx, "id"), ma_now(), &error);
  if (rc > 0) {
    g_autofree char *enterprise_id = audit_key_enterprise(ctx->st, api_param(ctx, "id"));
    api_audit(ctx, enterprise_id, "apikey.revoke", api_param(ctx, "id"), NULL, NULL);
  }
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no such key, or it is revoked");
  else
    api_reply_no_content(ctx);
}

static void keys_rotate(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaApiKey *k = NULL;
  char *secret = NULL;

  if (!api_check_query(ctx, NULL))
    return;
  if (apikey_rotate(ctx->st, api_param(ctx, "id"), &k, &secret, &error) < 0) {
    if (error->domain == MA_ERROR && error->code == MA_ERROR_CONFLICT)
      api_reply_error(ctx, 404, "not_found", "no such key, or it is revoked");
    else
      api_reply_gerror(ctx, error);
    return;
  }
  api_audit(ctx, k->enterprise_id, "apikey.rotate", api_param(ctx, "id"), json_pack("{s:s}", "new_key_id", k->id), NULL);
  reply_new_key(ctx, k, secret);
}

static void keys_get(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaApiKey *k = NULL;
  int rc;

  if (!api_check_query(ctx, NULL))
    return;
  rc = storage_apikey_get(ctx->st, api_param(ctx, "id"), &k, &error);
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no such key");
  else
    api_reply_json(ctx, 200, codec_api_key_to_json(k));
  ma_api_key_free(k);
}

const ApiRoute api_keys_routes[] = {
  {EVHTTP_REQ_GET, "/v1/apikeys", API_AUTH_ADMIN, keys_list},
  {EVHTTP_REQ_POST, "/v1/apikeys", API_AUTH_ADMIN, keys_create},
  {EVHTTP_REQ_POST, "/v1/apikeys/{id}:rotate", API_AUTH_ADMIN, keys_rotate},
  {EVHTTP_REQ_GET, "/v1/apikeys/{id}", API_AUTH_ADMIN, keys_get},
  {EVHTTP_REQ_DELETE, "/v1/apikeys/{id}", API_AUTH_ADMIN, keys_revoke},
  {0},
};
