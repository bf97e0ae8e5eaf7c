/* api_channels.c - /v1/channels: the channels an enterprise's employees may use (setting
 * employee_channels, changed with PUT /v1/settings) and each channel's system account (GET), set
 * with PUT /v1/channels/{channel}/system-account {"address"} (checked against the channel by
 * relay_channel_account_set: 422 with the reason) or removed with DELETE (204); and an employee's
 * default sending mailbox, GET/PUT /v1/employees/{id}/default-mailbox {"mailbox"}.
 */
#include "api_internal.h"

#include "agent/relay/relay.h"

static void channels_get(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  json_t *doc = relay_channels_to_json(ctx->st, ctx->cfg, ctx->enterprise_id, &error);
  if (!doc) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 200, doc);
}

static void account_put(ApiCtx *ctx)
{
  static const char *const fields[] = {"address", NULL};
  json_t *body = api_body_json(ctx, TRUE);
  if (!body) return;
  if (!api_check_fields(ctx, body, fields)) {
    json_decref(body);
    return;
  }
  const char *address = json_string_value(json_object_get(body, "address"));
  g_autoptr(GError) error = NULL;
  const char *channel = api_param(ctx, "channel");
  if (relay_channel_account_set(ctx->st, ctx->enterprise_id, channel, address, &error) < 0) {
    if (error->domain == MA_ERROR && error->code == MA_ERROR_INVALID) api_reply_error(ctx, 422, "invalid", "%s", error->message);
    else api_reply_gerror(ctx, error);
  } else {
    api_audit(ctx, ctx->enterprise_id, "channel.system_account.set", channel, json_pack("{s:s}", "address", address), NULL);
    channels_get(ctx);
  }
  json_decref(body);
}

static void account_delete(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  int rc = storage_channel_account_clear(ctx->st, ctx->enterprise_id, api_param(ctx, "channel"), &error);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "no system account for %s", api_param(ctx, "channel"));
  else {
    api_audit(ctx, ctx->enterprise_id, "channel.system_account.clear", api_param(ctx, "channel"), NULL, NULL);
    api_reply_no_content(ctx);
  }
}

/* GET /v1/employees/{id}/default-mailbox: the employee's default sending mailbox (id or address). */
static void default_mailbox_get(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  json_t *doc = relay_employee_mailbox_json(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), &error);
  if (!doc) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 200, doc);
}

/* PUT /v1/employees/{id}/default-mailbox {"mailbox": id or address}: one bound to that employee
 * (422 otherwise, 404 without the employee or the mailbox); answers as GET. */
static void default_mailbox_put(ApiCtx *ctx)
{
  static const char *const fields[] = {"mailbox", NULL};
  json_t *body = api_body_json(ctx, TRUE);
  if (!body) return;
  if (!api_check_fields(ctx, body, fields)) {
    json_decref(body);
    return;
  }
  const char *mailbox = json_string_value(json_object_get(body, "mailbox"));
  g_autoptr(GError) error = NULL;
  if (!mailbox || !*mailbox) api_reply_error(ctx, 422, "invalid", "mailbox: the id or address of a mailbox bound to the employee");
  else if (relay_employee_mailbox_set(ctx->st, ctx->enterprise_id, api_param(ctx, "id"), mailbox, &error) < 0)
    api_reply_gerror(ctx, error);
  else {
    api_audit(ctx, ctx->enterprise_id, "channel.default_mailbox", api_param(ctx, "id"), json_pack("{s:s}", "mailbox", mailbox),
              NULL);
    default_mailbox_get(ctx);
  }
  json_decref(body);
}

const ApiRoute api_channels_routes[] = {
  {EVHTTP_REQ_GET, "/v1/channels", API_AUTH_ENTERPRISE, channels_get},
  {EVHTTP_REQ_PUT, "/v1/channels/{channel}/system-account", API_AUTH_ENTERPRISE, account_put},
  {EVHTTP_REQ_DELETE, "/v1/channels/{channel}/system-account", API_AUTH_ENTERPRISE, account_delete},
  {EVHTTP_REQ_GET, "/v1/employees/{id}/default-mailbox", API_AUTH_ENTERPRISE, default_mailbox_get},
  {EVHTTP_REQ_PUT, "/v1/employees/{id}/default-mailbox", API_AUTH_ENTERPRISE, default_mailbox_put},
  {0},
};
