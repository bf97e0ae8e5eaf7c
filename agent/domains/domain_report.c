/* domain_report.c - how a domain and its check are shown: the JSON of GET /v1/domains/{d} and of
 * the doctor (GET /v1/domains/{d}/doctor, `mailagent doctor --json`), and the doctor's text. Every
 * record comes with what is published, what should be, and the fix, so an administrator can act
 * on the report alone. Pure formatting: no DNS, no storage.
 */
#include "domains_private.h"

#include "agent/lib/clock.h"

#include <string.h>

static json_t *time_or_null(gint64 t)
{
  if (t <= 0) return json_null();
  char buf[32];
  ma_time_format(t, buf);
  return json_string(buf);
}

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *ma_domains_key_json(const MaDomainKey *k)
{
  json_t *o = json_object();
  g_autofree char *name = domains_key_name(k->selector, k->domain);
  g_autofree char *record = ma_domains_key_record(k);
  g_autofree char *split = ma_dkim_record_split(record);
  json_object_set_new(o, "selector", json_string(k->selector));
  json_object_set_new(o, "algorithm", json_string(k->algorithm));
  json_object_set_new(o, "state", json_string(k->state));
  json_object_set_new(o, "published", json_boolean(k->published));
  json_object_set_new(o, "name", json_string(name));
  if (k->target) {
    json_object_set_new(o, "type", json_string("CNAME"));
    json_object_set_new(o, "value", json_string(k->target));
    /* What mailagent's operator publishes under its own domain. */
    json_object_set_new(o, "target_record", json_pack("{s:s, s:s, s:s, s:s}", "type", "TXT", "name", k->target,
                                                      "value", record, "value_split", split));
  } else {
    json_object_set_new(o, "type", json_string("TXT"));
    json_object_set_new(o, "value", json_string(record));
    json_object_set_new(o, "value_split", json_string(split));
  }
  json_object_set_new(o, "created_at", time_or_null(k->created_at));
  json_object_set_new(o, "activated_at", time_or_null(k->activated_at));
  json_object_set_new(o, "retired_at", time_or_null(k->retired_at));
  json_object_set_new(o, "record_removable_after",
                      k->retired_at > 0 ? time_or_null(k->retired_at + DKIM_RETIRED_GRACE) : json_null());
  return o;
}

json_t *ma_domains_domain_json(const MaDomain *d, GPtrArray *keys)
{
  g_autofree char *unicode = ma_domain_to_unicode(d->domain);
  g_autofree char *challenge_name = g_strconcat("_mailagent.", d->domain, NULL);
  g_autofree char *challenge_value = g_strconcat("mailagent-verification=", d->challenge, NULL);
  json_t *o = json_object();
  json_object_set_new(o, "domain", json_string(d->domain));
  json_object_set_new(o, "unicode", json_string(unicode));
  json_object_set_new(o, "status", json_string(d->status));
  json_object_set_new(o, "reason", str_or_null(d->reason));
  json_object_set_new(o, "detail", str_or_null(d->detail));
  json_object_set_new(o, "checked_at", time_or_null(d->checked_at));
  json_object_set_new(o, "next_check_at", time_or_null(d->next_check_at));
  json_object_set_new(o, "verified_at", time_or_null(d->verified_at));
  json_object_set_new(o, "created_at", time_or_null(d->created_at));
  json_object_set_new(o, "return_path", json_string(d->return_path ? d->return_path : "bounce"));
  json_object_set_new(o, "challenge", json_pack("{s:s, s:s, s:s}", "type", "TXT", "name", challenge_name,
                                                "value", challenge_value));
  json_t *arr = json_array();
  for (guint i = 0; keys && i < keys->len; i++) json_array_append_new(arr, ma_domains_key_json(keys->pdata[i]));
  json_object_set_new(o, "dkim", arr);
  return o;
}

static json_t *strings_json(GPtrArray *a)
{
  json_t *arr = json_array();
  for (guint i = 0; a && i < a->len; i++) json_array_append_new(arr, json_string(a->pdata[i]));
  return arr;
}

/* The addresses mailagent sends from, from [relay] source_addresses. */
static json_t *sending_addresses(const MaConfig *cfg)
{
  json_t *arr = json_array();
  if (!cfg || !cfg->relay_source_addresses) return arr;
  gchar **parts = g_strsplit(cfg->relay_source_addresses, ",", -1);
  for (guint i = 0; parts[i]; i++) {
    g_strstrip(parts[i]);
    if (*parts[i]) json_array_append_new(arr, json_string(parts[i]));
  }
  g_strfreev(parts);
  return arr;
}

json_t *ma_domains_doctor_json(const MaDomainCheck *c, const MaConfig *cfg)
{
  const MaDomain *d = c->domain;
  json_t *o = ma_domains_domain_json(d, c->keys);
  json_t *records = json_array();
  for (guint i = 0; i < c->key_checks->len; i++) {
    const MaDomainKeyCheck *kc = c->key_checks->pdata[i];
    json_t *r = json_object();
    json_object_set_new(r, "kind", json_string("dkim"));
    json_object_set_new(r, "selector", json_string(kc->key->selector));
    json_object_set_new(r, "state", json_string(kc->key->state));
    json_object_set_new(r, "type", json_string(kc->key->target ? "CNAME" : "TXT"));
    json_object_set_new(r, "name", json_string(kc->name));
    json_object_set_new(r, "published", str_or_null(kc->found));
    json_object_set_new(r, "expected", json_string(kc->key->target ? kc->key->target : kc->expected));
    if (kc->key->target) json_object_set_new(r, "cname_found", str_or_null(kc->cname_found));
    json_object_set_new(r, "ok", json_boolean(kc->reason == NULL));
    json_object_set_new(r, "reason", str_or_null(kc->reason));
    json_object_set_new(r, "fix", str_or_null(kc->fix));
    json_array_append_new(records, r);
  }
  g_autofree char *challenge_name = g_strconcat("_mailagent.", d->domain, NULL);
  g_autofree char *challenge_value = g_strconcat("mailagent-verification=", d->challenge, NULL);
  json_array_append_new(records, json_pack("{s:s, s:s, s:s, s:s, s:b, s:o}", "kind", "challenge", "type", "TXT",
                                           "name", challenge_name, "expected", challenge_value,
                                           "ok", c->challenge_found,
                                           "fix", c->challenge_found ? json_null()
                                                  : json_string("optional: publish it to prove ownership without a DKIM key")));
  json_t *spf = json_object();
  json_object_set_new(spf, "kind", json_string("spf"));
  json_object_set_new(spf, "type", json_string("TXT"));
  json_object_set_new(spf, "name", json_string(d->domain));
  json_object_set_new(spf, "published", str_or_null(c->spf_record));
  json_object_set_new(spf, "expected", str_or_null(c->spf_proposed ? c->spf_proposed : c->spf_record));
  json_object_set_new(spf, "required", json_boolean(c->spf_required));
  json_object_set_new(spf, "result", str_or_null(c->spf_result));
  gboolean spf_ok = g_strcmp0(c->spf_result, "pass") == 0;
  json_object_set_new(spf, "ok", json_boolean(spf_ok));
  json_object_set_new(spf, "fix", c->spf_proposed && !spf_ok
                                    ? json_string("publish the expected record in place of the current one")
                                    : json_null());
  json_object_set_new(spf, "lint", strings_json(c->spf_lint));
  json_array_append_new(records, spf);
  g_autofree char *dmarc_name = g_strconcat("_dmarc.", d->domain, NULL);
  json_array_append_new(records, json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:o}", "kind", "dmarc", "type", "TXT",
                                           "name", dmarc_name, "published", str_or_null(c->dmarc_record),
                                           "policy", str_or_null(c->dmarc_policy), "dkim_aligned", c->dkim_aligned,
                                           "fix", c->dmarc_record ? json_null()
                                                  : json_string("optional: publish a DMARC policy, e.g. v=DMARC1; p=none; rua=mailto:...")));
  json_array_append_new(records, json_pack("{s:s, s:s, s:s, s:o}", "kind", "mx", "type", "MX", "name", d->domain,
                                           "published", strings_json(c->mx)));
  json_object_set_new(o, "records", records);
  json_object_set_new(o, "sending_addresses", sending_addresses(cfg));
  return o;
}

char *ma_domains_doctor_text(const MaDomainCheck *c, const MaConfig *cfg)
{
  const MaDomain *d = c->domain;
  GString *out = g_string_new(NULL);
  g_autofree char *unicode = ma_domain_to_unicode(d->domain);
  char checked[32];
  ma_time_format(c->checked_at, checked);
  g_string_append_printf(out, "%s%s%s%s: %s%s%s\n", d->domain, strcmp(unicode, d->domain) ? " (" : "",
                         strcmp(unicode, d->domain) ? unicode : "", strcmp(unicode, d->domain) ? ")" : "", d->status,
                         d->reason ? " - " : "", d->reason ? d->reason : "");
  if (d->detail) g_string_append_printf(out, "  %s (checked %s)\n", d->detail, checked);
  for (guint i = 0; i < c->key_checks->len; i++) {
    const MaDomainKeyCheck *kc = c->key_checks->pdata[i];
    g_string_append_printf(out, "  DKIM %s (%s, %s): %s\n", kc->key->selector, kc->key->algorithm, kc->key->state,
                           kc->reason ? kc->reason : "ok");
    g_string_append_printf(out, "    %s %s\n", kc->key->target ? "CNAME" : "TXT", kc->name);
    g_string_append_printf(out, "    published: %s\n", kc->found ? kc->found : "(nothing)");
    g_string_append_printf(out, "    expected:  %s\n", kc->key->target ? kc->key->target : kc->expected);
    if (kc->fix) g_string_append_printf(out, "    fix: %s\n", kc->fix);
  }
  for (guint i = 0; i < c->keys->len; i++) {
    const MaDomainKey *k = c->keys->pdata[i];
    if (strcmp(k->state, "retired") != 0) continue;
    char when[32];
    ma_time_format(k->retired_at + DKIM_RETIRED_GRACE, when);
    g_string_append_printf(out, "  DKIM %s retired: its record may be removed after %s\n", k->selector, when);
  }
  if (c->key_checks->len == 0)
    g_string_append_printf(out, "  DKIM: no key; fix: mailagent domain dkim ENTERPRISE %s\n", d->domain);
  g_string_append_printf(out, "  SPF (%s): %s\n", c->spf_required ? "required: the return path is on this domain"
                                                                  : "advisory: the return path is mailagent's",
                         c->spf_result ? c->spf_result : "not evaluated");
  g_string_append_printf(out, "    published: %s\n", c->spf_record ? c->spf_record : "(none)");
  if (c->spf_proposed) g_string_append_printf(out, "    expected:  %s\n", c->spf_proposed);
  for (guint i = 0; i < c->spf_lint->len; i++) g_string_append_printf(out, "    lint: %s\n", (char *) c->spf_lint->pdata[i]);
  g_string_append_printf(out, "  DMARC: %s\n", c->dmarc_record ? c->dmarc_record : "(none)");
  if (c->dmarc_record)
    g_string_append_printf(out, "    policy %s; mail signed by mailagent is %sDKIM-aligned\n",
                           c->dmarc_policy ? c->dmarc_policy : "(none)", c->dkim_aligned ? "" : "NOT ");
  g_string_append(out, "  MX:");
  if (c->mx->len == 0) g_string_append(out, " (none)");
  for (guint i = 0; i < c->mx->len; i++) g_string_append_printf(out, "%s %s", i ? "," : "", (char *) c->mx->pdata[i]);
  g_string_append_c(out, '\n');
  if (!c->challenge_found)
    g_string_append_printf(out, "  ownership challenge (optional): TXT _mailagent.%s \"mailagent-verification=%s\"\n",
                           d->domain, d->challenge);
  (void) cfg;
  return g_string_free(out, FALSE);
}
