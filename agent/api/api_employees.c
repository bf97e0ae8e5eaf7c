/* api_employees.c - /v1/employees: the enterprise's employees (whose mail is archived).
 *
 * GET /v1/employees lists them ({"items": [...]}, oldest first; an enterprise has at most a few
 * thousand, so one page), POST /v1/employees adds {"email", "name"?} (409 when present),
 * GET/DELETE /v1/employees/{id_or_email}. Addresses are stored lower-cased.
 */
#include "api_internal.h"
#include "agent/codec/codec.h"
#include "agent/lib/clock.h"

#include <string.h>

#define MAX_EMAIL_LEN 320
#define MAX_NAME_LEN 200

static void employees_list(ApiCtx *ctx)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify)ma_employee_free);
  g_autoptr(GError) error = NULL;
  json_t *items;

  if (!api_check_query(ctx, NULL))
    return;
  if (storage_employee_list(ctx->st, ctx->enterprise_id, out, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  items = json_array();
  for (guint i = 0; i < out->len; i++)
    json_array_append_new(items, codec_employee_to_json(g_ptr_array_index(out, i)));
  api_reply_json(ctx, 200, api_page(items, NULL));
}

static void employees_add(ApiCtx *ctx)
{
  static const char *const fields[] = {"email", "name", NULL};
  g_autoptr(GError) error = NULL;
  MaEmployee e = {0};
  MaEmployee *stored = NULL;
  json_t *body, *email, *name;

  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE)))
    return;
  if (!api_check_fields(ctx, body, fields))
    goto out;
  email = json_object_get(body, "email");
  name = json_object_get(body, "name");
  if (!json_is_string(email) || strlen(json_string_value(email)) > MAX_EMAIL_LEN ||
      !codec_address_valid(json_string_value(email))) {
    api_reply_error(ctx, 422, "invalid", "field 'email' must be an e-mail address");
    goto out;
  }
  if (name && !json_is_null(name) && (!json_is_string(name) || strlen(json_string_value(name)) > MAX_NAME_LEN)) {
    api_reply_error(ctx, 422, "invalid", "field 'name' must be a string of at most %d bytes", MAX_NAME_LEN);
    goto out;
  }
  e.id = ma_id_new();
  e.enterprise_id = (char *)ctx->enterprise_id;
  e.email = g_utf8_strdown(json_string_value(email), -1);
  e.name = json_is_string(name) ? g_strdup(json_string_value(name)) : NULL;
  e.created_at = ma_now();
  if (storage_begin(ctx->st, &error) < 0 || storage_employee_add(ctx->st, &e, &error) < 0 ||
      api_audit(ctx, ctx->enterprise_id, "employee.add", e.id, json_pack("{s:s}", "email", e.email), &error) < 0 ||
      storage_commit(ctx->st, &error) < 0 ||
      storage_employee_find(ctx->st, ctx->enterprise_id, e.id, &stored, &error) < 0) {
    storage_rollback(ctx->st);
    api_reply_gerror(ctx, error);
  } else {
    api_reply_json(ctx, 201, codec_employee_to_json(stored ? stored : &e));
  }
  ma_employee_free(stored);
  g_free(e.id);
  g_free(e.email);
  g_free(e.name);
out:
  json_decref(body);
}

static void employee_get(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  MaEmployee *e = NULL;
  int rc;

  if (!api_check_query(ctx, NULL))
    return;
  rc = storage_employee_find(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &e, &error);
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no such employee");
  else
    api_reply_json(ctx, 200, codec_employee_to_json(e));
  ma_employee_free(e);
}

static void employee_delete(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  int rc;

  if (!api_check_query(ctx, NULL))
    return;
  rc = storage_employee_remove(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &error);
  if (rc > 0)
    api_audit(ctx, ctx->enterprise_id, "employee.remove", api_param(ctx, "id"), NULL, NULL);
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else if (rc == 0)
    api_reply_error(ctx, 404, "not_found", "no such employee");
  else
    api_reply_no_content(ctx);
}

const ApiRoute api_employees_routes[] = {
  {EVHTTP_REQ_GET, "/v1/employees", API_AUTH_ENTERPRISE, employees_list},
  {EVHTTP_REQ_POST, "/v1/employees", API_AUTH_ENTERPRISE, employees_add},
  {EVHTTP_REQ_GET, "/v1/employees/{id}", API_AUTH_ENTERPRISE, employee_get},
  {EVHTTP_REQ_DELETE, "/v1/employees/{id}", API_AUTH_ENTERPRISE, employee_delete},
  {0},
};
