/* api_domains.c - /v1/domains: the enterprise's domains, their DKIM keys and verification.
 *
 * GET /v1/domains, POST /v1/domains {"domain", "return_path"?}, GET and DELETE
 * /v1/domains/{domain} (the name in Unicode or A-labels), POST /v1/domains/{domain}/dkim
 * {"selector"?, "algorithm"?, "delegated"?} (a new key and the record to publish),
 * POST /v1/domains/{domain}:verify (the check runs on serve's verification thread within a second:
 * this handler only moves the deadline, it never waits for DNS), GET /v1/domains/{domain}/doctor
 * (the report of the last check, stored by that thread). Same shapes as the CLI's --json.
 */
#include "api_internal.h"

#include "agent/domains/domains_private.h"
#include "agent/lib/clock.h"
#include "agent/lib/crypto.h"

#include <stdlib.h>
#include <string.h>

/* The {domain} parameter in its stored form, or NULL after answering 422. Caller frees. */
static char *domain_param(ApiCtx *ctx)
{
  GError *error = NULL;
  char *d = ma_domain_normalize(api_param(ctx, "domain"), &error);
  if (!d) {
    api_reply_error(ctx, 422, "invalid", "%s", error->message);
    g_error_free(error);
  }
  return d;
}

/* The claim and its keys; FALSE after answering (404 or a storage error). */
static gboolean load(ApiCtx *ctx, const char *domain, MaDomain **d, GPtrArray *keys)
{
  g_autoptr(GError) error = NULL;
  int rc = storage_domain_get(ctx->st, ctx->enterprise_id, domain, d, &error);
  if (rc == 1 && keys && storage_domain_key_list(ctx->st, ctx->enterprise_id, domain, keys, &error) < 0) rc = -1;
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "%s is not a domain of this enterprise", domain);
  if (rc != 1) g_clear_pointer(d, ma_domain_free);
  return rc == 1;
}

static GPtrArray *keys_new(void) { return g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_key_free); }

static void domains_list(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) ma_domain_free);
  if (storage_domain_list(ctx->st, ctx->enterprise_id, list, &error) < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  json_t *items = json_array();
  for (guint i = 0; i < list->len; i++) {
    MaDomain *d = list->pdata[i];
    g_autoptr(GPtrArray) keys = keys_new();
    if (storage_domain_key_list(ctx->st, ctx->enterprise_id, d->domain, keys, &error) < 0) {
      json_decref(items);
      api_reply_gerror(ctx, error);
      return;
    }
    json_array_append_new(items, ma_domains_domain_json(d, keys));
  }
  api_reply_json(ctx, 200, api_page(items, NULL));
}

static void domains_add(ApiCtx *ctx)
{
  static const char *const fields[] = {"domain", "return_path", NULL};
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  MaDomain *d = NULL;
  json_t *jd = json_object_get(body, "domain"), *rp = json_object_get(body, "return_path");
  if (!api_check_fields(ctx, body, fields)) goto out;
  if (!json_is_string(jd)) {
    api_reply_error(ctx, 422, "invalid", "field 'domain' must be a string");
    goto out;
  }
  if (rp && (!json_is_string(rp) || (strcmp(json_string_value(rp), "bounce") != 0 &&
                                     strcmp(json_string_value(rp), "from") != 0))) {
    api_reply_error(ctx, 422, "invalid", "field 'return_path' must be \"bounce\" or \"from\"");
    goto out;
  }
  if (!(name = ma_domain_normalize(json_string_value(jd), &error))) {
    api_reply_error(ctx, 422, "invalid", "field 'domain': %s", error->message);
    goto out;
  }
  if (storage_enterprise_domain_add(ctx->st, ctx->enterprise_id, name, &error) < 0 ||
      storage_domain_get(ctx->st, ctx->enterprise_id, name, &d, &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  if (rp && d && strcmp(d->return_path, json_string_value(rp)) != 0) {
    g_free(d->return_path);
    d->return_path = g_strdup(json_string_value(rp));
    if (storage_domain_update(ctx->st, d, &error) < 0) {
      api_reply_gerror(ctx, error);
      goto out;
    }
  }
  api_audit(ctx, ctx->enterprise_id, "domain.add", name, rp ? json_pack("{s:s}", "return_path", json_string_value(rp)) : NULL,
            NULL);
  api_reply_json(ctx, 201, ma_domains_domain_json(d, NULL));
out:
  ma_domain_free(d);
  json_decref(body);
}

static void domain_get(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autofree char *name = domain_param(ctx);
  if (!name) return;
  MaDomain *d = NULL;
  g_autoptr(GPtrArray) keys = keys_new();
  if (!load(ctx, name, &d, keys)) return;
  api_reply_json(ctx, 200, ma_domains_domain_json(d, keys));
  ma_domain_free(d);
}

static void domain_delete(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autofree char *name = domain_param(ctx);
  if (!name) return;
  g_autoptr(GError) error = NULL;
  int rc = storage_enterprise_domain_remove(ctx->st, ctx->enterprise_id, name, &error);
  if (rc > 0) api_audit(ctx, ctx->enterprise_id, "domain.remove", name, NULL, NULL);
  if (rc < 0) api_reply_gerror(ctx, error);
  else if (rc == 0) api_reply_error(ctx, 404, "not_found", "%s is not a domain of this enterprise", name);
  else api_reply_no_content(ctx);
}

static void domain_dkim(ApiCtx *ctx)
{
  static const char *const fields[] = {"selector", "algorithm", "delegated", NULL};
  json_t *body;
  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE))) return;
  g_autofree char *name = NULL;
  g_autoptr(GError) error = NULL;
  json_t *sel = json_object_get(body, "selector"), *alg = json_object_get(body, "algorithm"),
         *del = json_object_get(body, "delegated");
  MaDkimKeyType type = MA_DKIM_KEY_RSA_2048;
  guint8 master[32];
  MaDomainKey *k = NULL;
  if (!api_check_fields(ctx, body, fields) || !(name = domain_param(ctx))) goto out;
  if ((sel && !json_is_string(sel)) || (alg && !json_is_string(alg)) || (del && !json_is_boolean(del))) {
    api_reply_error(ctx, 422, "invalid", "'selector' and 'algorithm' are strings, 'delegated' a boolean");
    goto out;
  }
  if ((sel && !ma_dkim_selector_check(json_string_value(sel), &error)) ||
      (alg && ma_dkim_key_type_parse(json_string_value(alg), &type, &error) < 0)) {
    api_reply_error(ctx, 422, "invalid", "%s", error->message);
    goto out;
  }
  if (ma_master_key_load(ctx->cfg->master_key_file, FALSE, master, &error) < 0) {
    api_reply_gerror(ctx, error);
    goto out;
  }
  MaDomainKeyRequest req = { .enterprise_id = ctx->enterprise_id, .domain = name,
                             .selector = sel ? json_string_value(sel) : NULL, .type = type,
                             .delegated = json_is_true(del), .cname_domain = ctx->cfg->relay_dkim_cname_domain,
                             .now = ma_now() };
  int rc = ma_domains_key_create(ctx->st, master, &req, &k, &error);
  memset(master, 0, sizeof master);
  if (rc < 0) {
    api_reply_gerror(ctx, error);
  } else {
    api_audit(ctx, ctx->enterprise_id, "domain.dkim_key", name,
              json_pack("{s:s?, s:b}", "selector", k->selector, "delegated", json_is_true(del)), NULL);
    api_reply_json(ctx, 201, ma_domains_key_json(k));
  }
  ma_domain_key_free(k);
out:
  json_decref(body);
}

static void domain_verify(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autofree char *name = domain_param(ctx);
  if (!name) return;
  MaDomain *d = NULL;
  g_autoptr(GPtrArray) keys = keys_new();
  if (!load(ctx, name, &d, keys)) return;
  g_autoptr(GError) error = NULL;
  d->next_check_at = ma_now();
  if (storage_domain_update(ctx->st, d, &error) < 0) api_reply_gerror(ctx, error);
  else api_reply_json(ctx, 202, ma_domains_domain_json(d, keys));
  ma_domain_free(d);
}

static void domain_doctor(ApiCtx *ctx)
{
  if (!api_check_query(ctx, NULL)) return;
  g_autofree char *name = domain_param(ctx);
  if (!name) return;
  MaDomain *d = NULL;
  if (!load(ctx, name, &d, NULL)) return;
  ma_domain_free(d);
  g_autoptr(GError) error = NULL;
  g_autofree char *report = NULL;
  int rc = storage_domain_report_get(ctx->st, ctx->enterprise_id, name, &report, &error);
  if (rc < 0) {
    api_reply_gerror(ctx, error);
    return;
  }
  if (rc == 0) {
    api_reply_error(ctx, 404, "not_checked", "%s has not been checked yet; POST /v1/domains/%s:verify", name, name);
    return;
  }
  api_reply_bytes(ctx, 200, "application/json", report, strlen(report));
}

const ApiRoute api_domains_routes[] = {
  {EVHTTP_REQ_GET, "/v1/domains", API_AUTH_ENTERPRISE, domains_list},
  {EVHTTP_REQ_POST, "/v1/domains", API_AUTH_ENTERPRISE, domains_add},
  {EVHTTP_REQ_GET, "/v1/domains/{domain}", API_AUTH_ENTERPRISE, domain_get},
  {EVHTTP_REQ_DELETE, "/v1/domains/{domain}", API_AUTH_ENTERPRISE, domain_delete},
  {EVHTTP_REQ_POST, "/v1/domains/{domain}:verify", API_AUTH_ENTERPRISE, domain_verify},
  {EVHTTP_REQ_POST, "/v1/domains/{domain}/dkim", API_AUTH_ENTERPRISE, domain_dkim},
  {EVHTTP_REQ_GET, "/v1/domains/{domain}/doctor", API_AUTH_ENTERPRISE, domain_doctor},
  {0},
};
