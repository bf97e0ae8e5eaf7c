/* api_rules.c - /v1/rules: the enterprise's ordered rules (at most RULES_MAX), edited through the
 * rules module's rules_edit_* functions, the same ones `mailagent rules` uses, so the API and the
 * CLI validate and number rules identically (nothing is validated here).
 *
 *   GET    /v1/rules                    {"items": [rule...]} in evaluation order
 *   PUT    /v1/rules                    replace the whole array (body: a JSON array)
 *   POST   /v1/rules[?position=N]       add one rule (201, the rule with its new id)
 *   GET    /v1/rules/{id}               one rule (with "position")
 *   PUT    /v1/rules/{id}               replace one rule, keeping its position
 *   DELETE /v1/rules/{id}               204
 *   POST   /v1/rules/{id}:move          {"position": N} reorder; answers the list
 *   POST   /v1/rules/{id}:enable|:disable
 *   POST   /v1/rules:test               a draft set's dry run (dry_run.h): nothing stored
 * Each change is one transaction: read the stored array, edit, store, commit.
 */
#include "api_internal.h"
#include "agent/lib/clock.h"
#include "agent/pipeline/activities.h"
#include "agent/pipeline/dry_run.h"
#include "agent/tenant/settings.h"
#include "rules/rules_edit.h"

#include <string.h>

typedef enum { EDIT_ADD, EDIT_UPDATE, EDIT_MOVE, EDIT_ENABLE, EDIT_DISABLE, EDIT_DELETE, EDIT_REPLACE } EditOp;

/* The stored rules as a parsed set, or NULL after answering. */
static RulesSet *load_set(ApiCtx *ctx)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *current = NULL;
  RulesSet *set;

  if (storage_rules_get(ctx->st, ctx->enterprise_id, &current, &error) < 0 ||
      !(set = rules_edit_load(current, &error))) {
    api_reply_gerror(ctx, error);
    return NULL;
  }
  return set;
}

/* The rule with id from set as JSON with its "position", or NULL. */
static json_t *rule_json(const RulesSet *set, const char *id)
{
  json_t *all = rules_set_to_json(set);
  json_t *found = NULL;

  for (guint i = 0; i < json_array_size(all); i++) {
    json_t *r = json_array_get(all, i);
    if (g_strcmp0(json_string_value(json_object_get(r, "id")), id) == 0) {
      found = json_deep_copy(r);
      json_object_set_new(found, "position", json_integer(i + 1));
      break;
    }
  }
  json_decref(all);
  return found;
}

static void reply_list(ApiCtx *ctx, int status)
{
  RulesSet *set = load_set(ctx);

  if (!set)
    return;
  api_reply_json(ctx, status, api_page(rules_set_to_json(set), NULL));
  rules_set_unref(set);
}

static void reply_rule(ApiCtx *ctx, int status, const char *id)
{
  RulesSet *set = load_set(ctx);
  json_t *r;

  if (!set)
    return;
  r = rule_json(set, id);
  rules_set_unref(set);
  if (r)
    api_reply_json(ctx, status, r);
  else
    api_reply_error(ctx, 404, "not_found", "no rule with this id");
}

/* Runs one edit in a transaction. body_text: the rule or array JSON. Returns TRUE when stored; on
 * FALSE the error has been answered. *new_id gets the id of an added rule. */
static gboolean apply_edit(ApiCtx *ctx, EditOp op, const char *id, const char *body_text, guint position,
                           char **new_id)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *current = NULL;
  g_autofree char *updated = NULL;

  if (storage_begin(ctx->st, &error) < 0) {
    api_reply_gerror(ctx, error);
    return FALSE;
  }
  if (storage_rules_get(ctx->st, ctx->enterprise_id, &current, &error) < 0)
    goto fail;
  switch (op) {
  case EDIT_ADD: updated = rules_edit_add(current, body_text, position, new_id, &error); break;
  case EDIT_UPDATE: updated = rules_edit_update(current, id, body_text, &error); break;
  case EDIT_MOVE: updated = rules_edit_move(current, id, position, &error); break;
  case EDIT_ENABLE: updated = rules_edit_set_enabled(current, id, TRUE, &error); break;
  case EDIT_DISABLE: updated = rules_edit_set_enabled(current, id, FALSE, &error); break;
  case EDIT_DELETE: updated = rules_edit_delete(current, id, &error); break;
  case EDIT_REPLACE: updated = rules_edit_replace(current, body_text, &error); break;
  }
  static const char *const actions[] = {[EDIT_ADD] = "rules.add",         [EDIT_UPDATE] = "rules.update",
                                        [EDIT_MOVE] = "rules.move",       [EDIT_ENABLE] = "rules.enable",
                                        [EDIT_DISABLE] = "rules.disable", [EDIT_DELETE] = "rules.delete",
                                        [EDIT_REPLACE] = "rules.replace"};
  if (!updated || storage_rules_put(ctx->st, ctx->enterprise_id, updated, &error) < 0 ||
      api_audit(ctx, ctx->enterprise_id, actions[op], new_id && *new_id ? *new_id : id,
                position ? json_pack("{s:i}", "position", (int) position) : NULL, &error) < 0 ||
      storage_commit(ctx->st, &error) < 0)
    goto fail;
  return TRUE;
fail:
  storage_rollback(ctx->st);
  api_reply_gerror(ctx, error);
  return FALSE;
}

/* The body as compact JSON text after checking its shape, or NULL after answering. */
static char *body_text(ApiCtx *ctx, gboolean want_array)
{
  json_t *body = api_body_json(ctx, !want_array);
  char *text;

  if (!body)
    return NULL;
  if (want_array && !json_is_array(body)) {
    json_decref(body);
    api_reply_error(ctx, 400, "invalid_json", "the body must be a JSON array of rules");
    return NULL;
  }
  text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  return text;
}

static void rules_list(ApiCtx *ctx)
{
  if (api_check_query(ctx, NULL))
    reply_list(ctx, 200);
}

static void rules_replace(ApiCtx *ctx)
{
  g_autofree char *text = NULL;

  if (!api_check_query(ctx, NULL) || !(text = body_text(ctx, TRUE)))
    return;
  if (apply_edit(ctx, EDIT_REPLACE, NULL, text, 0, NULL))
    reply_list(ctx, 200);
}

static void rules_add(ApiCtx *ctx)
{
  static const char *const allowed[] = {"position", NULL};
  g_autofree char *text = NULL;
  g_autofree char *new_id = NULL;
  const char *pos;
  guint position = 0;

  if (!api_check_query(ctx, allowed))
    return;
  pos = api_query(ctx, "position");
  if (pos) {
    char *end = NULL;
    guint64 n = g_ascii_strtoull(pos, &end, 10);
    if (!*pos || *end || n < 1 || n > RULES_MAX + 1) {
      api_reply_error(ctx, 400, "invalid_query", "position must be an integer from 1 to %d", RULES_MAX + 1);
      return;
    }
    position = (guint)n;
  }
  if (!(text = body_text(ctx, FALSE)))
    return;
  if (apply_edit(ctx, EDIT_ADD, NULL, text, position, &new_id))
    reply_rule(ctx, 201, new_id);
}

static void rule_get(ApiCtx *ctx)
{
  if (api_check_query(ctx, NULL))
    reply_rule(ctx, 200, api_param(ctx, "id"));
}

static void rule_update(ApiCtx *ctx)
{
  g_autofree char *text = NULL;
  const char *id = api_param(ctx, "id");

  if (!api_check_query(ctx, NULL) || !(text = body_text(ctx, FALSE)))
    return;
  if (apply_edit(ctx, EDIT_UPDATE, id, text, 0, NULL))
    reply_rule(ctx, 200, id);
}

static void rule_delete(ApiCtx *ctx)
{
  if (api_check_query(ctx, NULL) && apply_edit(ctx, EDIT_DELETE, api_param(ctx, "id"), NULL, 0, NULL))
    api_reply_no_content(ctx);
}

static void rule_move(ApiCtx *ctx)
{
  static const char *const fields[] = {"position", NULL};
  json_t *body, *pos;
  json_int_t n;

  if (!api_check_query(ctx, NULL) || !(body = api_body_json(ctx, TRUE)))
    return;
  if (!api_check_fields(ctx, body, fields)) {
    json_decref(body);
    return;
  }
  pos = json_object_get(body, "position");
  n = json_is_integer(pos) ? json_integer_value(pos) : 0;
  json_decref(body);
  if (n < 1 || n > RULES_MAX) {
    api_reply_error(ctx, 422, "invalid", "field 'position' must be an integer from 1 to %d", RULES_MAX);
    return;
  }
  if (apply_edit(ctx, EDIT_MOVE, api_param(ctx, "id"), NULL, (guint)n, NULL))
    reply_list(ctx, 200);
}

static void rule_enable(ApiCtx *ctx)
{
  const char *id = api_param(ctx, "id");
  if (api_check_query(ctx, NULL) && apply_edit(ctx, EDIT_ENABLE, id, NULL, 0, NULL))
    reply_rule(ctx, 200, id);
}

static void rule_disable(ApiCtx *ctx)
{
  const char *id = api_param(ctx, "id");
  if (api_check_query(ctx, NULL) && apply_edit(ctx, EDIT_DISABLE, id, NULL, 0, NULL))
    reply_rule(ctx, 200, id);
}

/* POST /v1/rules:replay {"since": "2024-01-31" or RFC 3339}: the current rules over mail archived
 * since then, as `mailagent rules replay` (activities_replay). Answers {"messages",
 * "activities_created", "warnings"}; a warning when the enterprise's activities are off. Runs
 * within the request: a replay over a very large archive is better started from the CLI. */
static void rules_replay(ApiCtx *ctx)
{
  static const char *const fields[] = {"since", NULL};
  if (!api_check_query(ctx, NULL)) return;
  json_t *body = api_body_json(ctx, TRUE);
  if (!body) return;
  if (!api_check_fields(ctx, body, fields)) {
    json_decref(body);
    return;
  }
  const char *since_text = json_string_value(json_object_get(body, "since"));
  gint64 since = 0;
  if (!since_text || ma_time_parse(since_text, &since) < 0) {
    json_decref(body);
    api_reply_error(ctx, 422, "invalid", "field 'since': a date (2024-01-31) or an RFC 3339 time is required");
    return;
  }
  g_autofree char *since_copy = g_strdup(since_text);
  json_decref(body);
  g_autoptr(GError) error = NULL;
  gboolean on = TRUE;
  gint64 messages = 0, created = 0;
  json_t *warnings = json_array();
  if (settings_get_bool(ctx->st, ctx->enterprise_id, "activities", &on, &error) < 0 ||
      activities_replay(ctx->st, ctx->enterprise_id, since, NULL, NULL, &messages, &created, &error) < 0) {
    json_decref(warnings);
    api_reply_gerror(ctx, error);
    return;
  }
  if (!on) json_array_append_new(warnings, json_string("activities are off for this enterprise: nothing was created"));
  api_audit(ctx, ctx->enterprise_id, "rules.replay", NULL,
            json_pack("{s:s, s:I, s:I}", "since", since_copy, "messages", (json_int_t) messages, "activities_created",
                      (json_int_t) created), NULL);
  api_reply_json(ctx, 200, json_pack("{s:I, s:I, s:o}", "messages", (json_int_t) messages, "activities_created",
                                     (json_int_t) created, "warnings", warnings));
}

/* POST /v1/rules:test {"rules": [draft rules] | {one rule}, "message": "raw RFC 5322 text" | "last":
 * N}: the dry run of `mailagent rules test` (dry_run.h). Nothing is stored, the draft included. */
static void rules_test(ApiCtx *ctx)
{
  static const char *const fields[] = {"rules", "message", "last", NULL};
  if (!api_check_query(ctx, NULL)) return;
  json_t *body = api_body_json(ctx, TRUE);
  if (!body) return;
  if (!api_check_fields(ctx, body, fields)) {
    json_decref(body);
    return;
  }
  json_t *rules = json_object_get(body, "rules");
  json_t *message = json_object_get(body, "message");
  json_t *last = json_object_get(body, "last");
  if ((message != NULL) == (last != NULL) || (message && !json_is_string(message)) || (last && !json_is_integer(last)) ||
      !(json_is_array(rules) || json_is_object(rules))) {
    json_decref(body);
    api_reply_error(ctx, 422, "invalid",
                    "give 'rules' (an array of rules or one rule) and either 'message' (the raw message as a string) or 'last' (N)");
    return;
  }
  json_t *arr = json_is_array(rules) ? json_incref(rules) : json_pack("[O]", rules);
  g_autoptr(GError) error = NULL;
  g_autoptr(RulesSet) set = rules_set_from_json(arr, 0, &error);
  json_decref(arr);
  json_t *doc = NULL;
  int rc = set ? 0 : -1;
  if (rc == 0 && message)
    rc = dry_run_raw(ctx->st, ctx->cfg, ctx->enterprise_id, set, json_string_value(message), json_string_length(message),
                     &doc, &error);
  else if (rc == 0)
    rc = dry_run_last(ctx->st, ctx->enterprise_id, set, (int) json_integer_value(last), &doc, &error);
  json_decref(body);
  if (rc < 0)
    api_reply_gerror(ctx, error);
  else
    api_reply_json(ctx, 200, doc);
}

const ApiRoute api_rules_routes[] = {
  {EVHTTP_REQ_POST, "/v1/rules:replay", API_AUTH_ENTERPRISE, rules_replay},
  {EVHTTP_REQ_POST, "/v1/rules:test", API_AUTH_ENTERPRISE, rules_test},
  {EVHTTP_REQ_GET, "/v1/rules", API_AUTH_ENTERPRISE, rules_list},
  {EVHTTP_REQ_PUT, "/v1/rules", API_AUTH_ENTERPRISE, rules_replace},
  {EVHTTP_REQ_POST, "/v1/rules", API_AUTH_ENTERPRISE, rules_add},
  {EVHTTP_REQ_POST, "/v1/rules/{id}:move", API_AUTH_ENTERPRISE, rule_move},
  {EVHTTP_REQ_POST, "/v1/rules/{id}:enable", API_AUTH_ENTERPRISE, rule_enable},
  {EVHTTP_REQ_POST, "/v1/rules/{id}:disable", API_AUTH_ENTERPRISE, rule_disable},
  {EVHTTP_REQ_GET, "/v1/rules/{id}", API_AUTH_ENTERPRISE, rule_get},
  {EVHTTP_REQ_PUT, "/v1/rules/{id}", API_AUTH_ENTERPRISE, rule_update},
  {EVHTTP_REQ_DELETE, "/v1/rules/{id}", API_AUTH_ENTERPRISE, rule_delete},
  {0},
};
