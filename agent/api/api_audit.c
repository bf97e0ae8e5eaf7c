/* api_audit.c - GET /v1/audit: the audit log of administrative changes, newest first, the same
 * entries as `mailagent audit`. An enterprise key reads its enterprise's entries; the admin key
 * reads every entry, or one enterprise's with ?enterprise=ID or slug. ?limit and ?cursor page as
 * everywhere (the cursor is the id of the last entry of the previous page). Entries hold no secret.
 */
#include "api_internal.h"
#include "agent/codec/codec.h"


static void audit_list(ApiCtx *ctx)
{
  static const char *const admin_allowed[] = {"enterprise", "limit", "cursor", NULL};
  static const char *const tenant_allowed[] = {"limit", "cursor", NULL};
  gboolean admin = ctx->enterprise_id == NULL;
  int limit = 0;
  if (!api_check_query(ctx, admin ? admin_allowed : tenant_allowed) || !api_query_limit(ctx, &limit)) return;
  g_autofree char *enterprise_id = NULL;
  if (admin && !api_query_enterprise(ctx, &enterprise_id)) return;
  if (!admin) enterprise_id = g_strdup(ctx->enterprise_id);
  const char *cursor = api_query(ctx, "cursor");
  gint64 before = cursor ? codec_seq_parse(cursor) : 0;
  if (cursor && !before) {
    api_reply_error(ctx, 400, "invalid_cursor", "cursor is not one this API returned");
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func((GDestroyNotify) ma_audit_entry_free);
  if (storage_audit_list(ctx->st, enterprise_id, before, limit + 1, items, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  g_autofree char *next = codec_seq_page_trim(items, (guint) limit, ma_audit_entry_seq);
  json_t *arr = json_array();
  for (guint i = 0; i < items->len; i++) json_array_append_new(arr, codec_audit_entry_to_json(items->pdata[i]));
  api_reply_json(ctx, 200, api_page(arr, next));
}

const ApiRoute api_audit_routes[] = {
  {EVHTTP_REQ_GET, "/v1/audit", API_AUTH_ANY, audit_list},
  {0},
};
