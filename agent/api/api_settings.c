/* api_settings.c - GET/PUT /v1/settings: the enterprise's settings through agent/tenant/settings.h,
 * the registry that also serves `mailagent settings`, so names, defaults and validation agree.
 *
 * GET answers {"settings": {key: value...}, "defaults": [keys not set]}. PUT takes
 * {"settings": {key: value...}} with only the keys to change: a value is a string (as the CLI takes
 * it, "default" restores the default), a boolean for on/off keys, or an array of strings for the
 * list keys. An unknown key is 400; a bad value is 422 naming the key; all changes apply in one
 * transaction or none do. PUT answers like GET.
 */
#include "api_internal.h"
#include "agent/tenant/settings.h"

static void reply_settings(ApiCtx *ctx, int status)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify)ma_setting_value_free);
  g_autoptr(GError) error = NULL;
  json_t *values, *defaults;

  if (settings_list(ctx->st, ctx->cfg, ctx->enterprise_id, list, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  values = json_object();
  defaults = json_array();
  for (guint i = 0; i < list->len; i++) {
    MaSettingValue *v = g_ptr_array_index(list, i);
    json_object_set_new(values, v->info->key, json_string(v->value));
    if (v->is_default)
      json_array_append_new(defaults, json_string(v->info->key));
  }
  api_reply_json(ctx, status, json_pack("{s:o,s:o}", "settings", values, "defaults", defaults));
}

static void settings_get_h(ApiCtx *ctx)
{
  if (api_check_query(ctx, NULL))
    reply_settings(ctx, 200);
}

/* The CLI text form of a JSON value, or NULL after answering 422. Caller frees. */
static char *value_text(ApiCtx *ctx, const char *key, const json_t *v)
{
  if (json_is_string(v))
    return g_strdup(json_string_value(v));
  if (json_is_boolean(v))
    return g_strdup(json_is_true(v) ? "on" : "off");
  if (json_is_integer(v)) /* retention_days: 30 as well as "30" */
    return g_strdup_printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
  if (json_is_array(v)) {
    GString *s = g_string_new(NULL);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
      if (!json_is_string(item)) {
        g_string_free(s, TRUE);
        api_reply_error(ctx, 422, "invalid", "setting '%s': list items must be strings", key);
        return NULL;
      }
      if (s->len)
        g_string_append_c(s, ' ');
      g_string_append(s, json_string_value(item));
    }
    return g_string_free(s, FALSE);
  }
  api_reply_error(ctx, 422, "invalid", "setting '%s' must be a string, number, boolean or list of strings", key);
  return NULL;
}

static void settings_put_h(ApiCtx *ctx)
{
  static const char *const fields[] = {"settings", NULL};
  g_autoptr(GError) error = NULL;
  json_t *body, *settings, *v;
  const char *key;

  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE)))
    return;
  if (!api_check_fields(ctx, body, fields))
    goto out;
  settings = json_object_get(body, "settings");
  if (!json_is_object(settings)) {
    api_reply_error(ctx, 422, "invalid", "field 'settings' must be an object");
    goto out;
  }
  json_object_foreach(settings, key, v) {
    if (!settings_lookup(key)) {
      api_reply_error(ctx, 400, "unknown_field", "unknown setting '%s'", key);
      goto out;
    }
  }
  if (storage_begin(ctx->st, &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  json_object_foreach(settings, key, v) {
    g_autofree char *text = value_text(ctx, key, v);
    if (!text) {
      storage_rollback(ctx->st);
      goto out;
    }
    if (settings_set(ctx->st, ctx->enterprise_id, key, text, &error) < 0 ||
        api_audit(ctx, ctx->enterprise_id, "settings.update", key, json_pack("{s:s}", "value", text), &error) < 0) {
      storage_rollback(ctx->st);
      api_reply_gerror(ctx, error);
      goto out;
    }
  }
  if (storage_commit(ctx->st, &error) < 0) {
    storage_rollback(ctx->st);
    api_reply_gerror(ctx, error);
    goto out;
  }
  reply_settings(ctx, 200);
out:
  json_decref(body);
}

const ApiRoute api_settings_routes[] = {
  {EVHTTP_REQ_GET, "/v1/settings", API_AUTH_ENTERPRISE, settings_get_h},
  {EVHTTP_REQ_PUT, "/v1/settings", API_AUTH_ENTERPRISE, settings_put_h},
  {0},
};
