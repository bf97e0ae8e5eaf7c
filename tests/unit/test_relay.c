/* test_relay.c - agent/relay's pure parts, table by table: recipient patterns (parsing and
 * matching: "*.d" takes subdomains only, a bare domain itself only), and the routing decision by
 * the numbered rules of docs/routing.md (priority and creation order, email types, disabled and
 * suspended relays, the daily limit splitting one message, per-recipient groups, the default path
 * only in the domain scope, the employee's channels and mailbox). */
#include "agent/relay/relay.h"

#include <string.h>

static void test_pattern_match(void)
{
  static const struct {
    const char *pattern, *domain;
    gboolean match;
  } cases[] = {
    {"example.com", "example.com", TRUE},
    {"example.com", "EXAMPLE.com", TRUE},
    {"example.com", "a.example.com", FALSE},
    {"*.example.com", "a.example.com", TRUE},
    {"*.example.com", "b.a.example.com", TRUE},
    {"*.example.com", "example.com", FALSE},
    {"*.example.com", "aexample.com", FALSE},
    {"*.example.com", ".example.com", FALSE},
    {"*.example.com", "a.example.com.evil", FALSE},
    {"*.example.com", "", FALSE},
    {"example.com", "", FALSE},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
    g_assert_cmpint(relay_pattern_match(cases[i].pattern, cases[i].domain), ==, cases[i].match);
}

static void test_patterns_normalise(void)
{
  static const struct {
    const char *in, *out; /* out NULL: refused (or NULL result for empty input) */
    gboolean error;
  } cases[] = {
    {"Example.COM", "example.com", FALSE},
    {"a.example, *.B.example  a.example", "a.example *.b.example", FALSE},
    {"", NULL, FALSE},
    {" , ", NULL, FALSE},
    {"*.*.example", NULL, TRUE},
    {"a*.example", NULL, TRUE},
    {"*.", NULL, TRUE},
    {"exa mple", NULL, TRUE}, /* "mple" alone is a bare TLD-like label: refused by the normaliser */
    {"bücher.example", "xn--bcher-kva.example", FALSE},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    GError *error = NULL;
    char *got = relay_patterns_normalise(cases[i].in, &error);
    if (cases[i].error) {
      g_assert_null(got);
      g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
      g_clear_error(&error);
    } else {
      g_assert_no_error(error);
      g_assert_cmpstr(got, ==, cases[i].out);
    }
    g_free(got);
  }
  /* at most RELAY_MAX_PATTERNS */
  GString *many = g_string_new(NULL);
  for (int i = 0; i <= RELAY_MAX_PATTERNS; i++) g_string_append_printf(many, "d%d.example ", i);
  GError *error = NULL;
  g_assert_null(relay_patterns_normalise(many->str, &error));
  g_assert_error(error, MA_ERROR, MA_ERROR_INVALID);
  g_clear_error(&error);
  g_string_free(many, TRUE);
}

/* ---- the decision ---------------------------------------------------------------------------- */

static MaRelay *relay(const char *id, const char *types, gint64 limit)
{
  MaRelay *r = ma_relay_new();
  r->id = g_strdup(id);
  r->name = g_strdup(id);
  r->email_types = g_strdup(types);
  r->daily_limit = limit;
  r->enabled = TRUE;
  r->status = g_strdup("ok");
  return r;
}

static void filter(MaRelay *r, gint64 seq, int priority, const char *sender, const char *patterns)
{
  MaRelayFilter *f = g_new0(MaRelayFilter, 1);
  f->seq = seq;
  f->priority = priority;
  f->sender_domain = g_strdup(sender);
  f->recipient_patterns = g_strdup(patterns);
  g_ptr_array_add(r->filters, f);
}

typedef struct {
  GPtrArray *relays; /* MaRelay* owned */
  GPtrArray *cands;  /* RelayCandidate* owned */
  GPtrArray *groups;
  GPtrArray *skipped;
} Fx;

static void fx_init(Fx *fx)
{
  fx->relays = g_ptr_array_new_with_free_func((GDestroyNotify) ma_relay_free);
  fx->cands = g_ptr_array_new_with_free_func(g_free);
  fx->groups = g_ptr_array_new_with_free_func((GDestroyNotify) relay_route_group_free);
  fx->skipped = g_ptr_array_new_with_free_func(g_free);
}

static void fx_clear(Fx *fx)
{
  g_ptr_array_unref(fx->groups);
  g_ptr_array_unref(fx->skipped);
  g_ptr_array_unref(fx->cands);
  g_ptr_array_unref(fx->relays);
}

static RelayCandidate *add(Fx *fx, MaRelay *r, gint64 used)
{
  g_ptr_array_add(fx->relays, r);
  RelayCandidate *c = g_new0(RelayCandidate, 1);
  c->relay = r;
  c->used_today = used;
  g_ptr_array_add(fx->cands, c);
  return c;
}

/* "rcpt>channel[:relay]" for every recipient, in the order of the groups, joined by spaces. */
static char *summary(GPtrArray *groups)
{
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < groups->len; i++) {
    RelayRouteGroup *g = g_ptr_array_index(groups, i);
    for (guint k = 0; k < g->rcpts->len; k++)
      g_string_append_printf(s, "%s%s>%s%s%s", s->len ? " " : "", (char *) g_ptr_array_index(g->rcpts, k),
                             g->channel ? g->channel : "refused", g->relay_id ? ":" : "", g->relay_id ? g->relay_id : "");
  }
  return g_string_free(s, FALSE);
}

static char *decide(Fx *fx, const char *type, const char *channel, const char *employee, const char *mailbox,
                    const char *employee_channels, gboolean scope, const char *const *rcpts)
{
  RelayRouteInput in = {.type = type, .channel = channel, .from_domain = "acme.example", .employee = employee,
                        .employee_mailbox_id = mailbox,
                        .employee_channels = employee_channels ? employee_channels
                                                               : "employee_mailbox enterprise_relay mailagent_relay",
                        .relays = fx->cands, .default_path_ok = scope, .default_path_reason = "acme.example is pending",
                        .rcpts = rcpts, .n_rcpts = g_strv_length((char **) rcpts)};
  g_ptr_array_set_size(fx->groups, 0);
  g_ptr_array_set_size(fx->skipped, 0);
  relay_route_decide(&in, fx->groups, fx->skipped);
  return summary(fx->groups);
}

#define ASSERT_ROUTE(fx, want, ...)                                                                      \
  do {                                                                                                   \
    char *got_ = decide(fx, __VA_ARGS__);                                                                \
    g_assert_cmpstr(got_, ==, want);                                                                     \
    g_free(got_);                                                                                        \
  } while (0)

static void test_route_priority_and_types(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "workflow mass", 0), *b = relay("b", "workflow individual", 0);
  filter(a, 2, 1, "acme.example", "client.example");
  filter(b, 1, 2, "acme.example", NULL);
  add(&fx, a, 0);
  add(&fx, b, 0);
  const char *const one[] = {"x@client.example", NULL};
  const char *const two[] = {"x@client.example", "y@other.example", NULL};
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:a", "workflow", NULL, NULL, NULL, NULL, TRUE, one);
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:b", "individual", NULL, NULL, NULL, NULL, TRUE, one);
  /* per recipient group: mass to client.example via a; other.example: no relay carries mass */
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:a y@other.example>mailagent_relay", "mass", NULL, NULL, NULL, NULL,
               TRUE, two);
  /* outside the scope, the recipient with no relay is refused; the group through a stays */
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:a y@other.example>refused", "mass", NULL, NULL, NULL, NULL, FALSE,
               two);
  /* a filter's sender domain must be the From domain exactly */
  g_free(((MaRelayFilter *) g_ptr_array_index(b->filters, 0))->sender_domain);
  ((MaRelayFilter *) g_ptr_array_index(b->filters, 0))->sender_domain = g_strdup("sub.acme.example");
  ASSERT_ROUTE(&fx, "x@client.example>mailagent_relay", "individual", NULL, NULL, NULL, NULL, TRUE, one);
  fx_clear(&fx);
}

static void test_route_ties_by_creation(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "mass", 0), *b = relay("b", "mass", 0);
  filter(a, 7, 1, "acme.example", NULL); /* created after b's filter */
  filter(b, 3, 1, "acme.example", NULL);
  add(&fx, a, 0);
  add(&fx, b, 0);
  const char *const one[] = {"x@client.example", NULL};
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:b", "mass", NULL, NULL, NULL, NULL, TRUE, one);
  fx_clear(&fx);
}

static void test_route_wildcards(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "mass", 0);
  filter(a, 1, 1, "acme.example", "*.client.example");
  add(&fx, a, 0);
  const char *const rcpts[] = {"x@client.example", "y@eu.client.example", NULL};
  ASSERT_ROUTE(&fx, "x@client.example>mailagent_relay y@eu.client.example>enterprise_relay:a", "mass", NULL, NULL, NULL,
               NULL, TRUE, rcpts);
  fx_clear(&fx);
}

static void test_route_disabled_suspended(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "mass", 0), *b = relay("b", "mass", 0), *c = relay("c", "mass", 0);
  filter(a, 1, 1, "acme.example", NULL);
  filter(b, 2, 2, "acme.example", NULL);
  filter(c, 3, 3, "acme.example", NULL);
  a->enabled = FALSE;
  add(&fx, a, 0);
  RelayCandidate *cb = add(&fx, b, 0);
  cb->suspended = TRUE;
  add(&fx, c, 0);
  const char *const one[] = {"x@client.example", NULL};
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:c", "mass", NULL, NULL, NULL, NULL, TRUE, one);
  g_assert_cmpuint(fx.skipped->len, ==, 2);
  g_assert_nonnull(strstr(g_ptr_array_index(fx.skipped, 0), "relay a filter 1"));
  g_assert_nonnull(strstr(g_ptr_array_index(fx.skipped, 0), "disabled"));
  g_assert_nonnull(strstr(g_ptr_array_index(fx.skipped, 1), "suspended"));
  fx_clear(&fx);
}

/* a new or changed relay is untested: skipped until a test passes; with no other relay, rule 4 */
static void test_route_untested(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "mass", 0), *b = relay("b", "mass", 0);
  filter(a, 1, 1, "acme.example", NULL);
  filter(b, 2, 2, "acme.example", "client.example");
  g_free(a->status);
  a->status = g_strdup("untested");
  add(&fx, a, 0);
  add(&fx, b, 0);
  const char *const two[] = {"x@client.example", "y@other.example", NULL};
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:b y@other.example>mailagent_relay", "mass", NULL, NULL, NULL, NULL,
               TRUE, two);
  g_assert_cmpuint(fx.skipped->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(fx.skipped, 0), ==,
                  "relay a filter 1 (acme.example) matched but the relay untested: run relay test");
  RelayRouteGroup *g = g_ptr_array_index(fx.groups, 1);
  g_assert_true(g_str_has_prefix(g->reason, "relay a untested: run relay test: mailagent's own delivery"));
  fx_clear(&fx);
}


/* An XOAUTH2 relay without a valid grant is passed over (needs sign-in), whatever its status; with
 * a valid grant it carries mail. */
static void test_route_needs_sign_in(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "mass", 0);
  filter(a, 1, 1, "acme.example", NULL);
  a->auth_enabled = TRUE;
  a->auth_mechanism = g_strdup("XOAUTH2");
  a->username = g_strdup("relay@acme.example");
  a->auth_provider = g_strdup("outlook");
  a->grant_state = g_strdup("revoked");
  add(&fx, a, 0);
  const char *const one[] = {"x@client.example", NULL};
  ASSERT_ROUTE(&fx, "x@client.example>mailagent_relay", "mass", NULL, NULL, NULL, NULL, TRUE, one);
  g_assert_cmpuint(fx.skipped->len, ==, 1);
  g_assert_cmpstr(g_ptr_array_index(fx.skipped, 0), ==,
                  "relay a filter 1 (acme.example) matched but the relay needs OAuth2 sign-in: run relay authorize");
  g_clear_pointer(&a->grant_state, g_free); /* never signed in */
  ASSERT_ROUTE(&fx, "x@client.example>mailagent_relay", "mass", NULL, NULL, NULL, NULL, TRUE, one);
  a->grant_state = g_strdup("valid");
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:a", "mass", NULL, NULL, NULL, NULL, TRUE, one);
  /* AUTH off: the grant is not needed */
  g_free(a->grant_state);
  a->grant_state = NULL;
  a->auth_enabled = FALSE;
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:a", "mass", NULL, NULL, NULL, NULL, TRUE, one);
  fx_clear(&fx);
}

/* The relay's auth object: provider and authorized (XOAUTH2: the grant is valid; null for a
 * password mechanism); never the password or a token. */
static void test_json_auth(void)
{
  MaRelay *r = relay("a", "mass", 0);
  r->host = g_strdup("smtp.acme.example");
  r->security = g_strdup("starttls");
  r->tls_mode = g_strdup("required-verify");
  r->auth_enabled = TRUE;
  r->auth_mechanism = g_strdup("XOAUTH2");
  r->username = g_strdup("relay@acme.example");
  r->auth_provider = g_strdup("outlook");
  r->password_sealed = g_strdup("v1:sealed-secret");
  json_t *doc = relay_to_json(r, 0);
  char *auth = json_dumps(json_object_get(doc, "auth"), JSON_COMPACT | JSON_SORT_KEYS);
  g_assert_cmpstr(auth, ==,
                  "{\"authorized\":false,\"enabled\":true,\"mechanism\":\"XOAUTH2\",\"password_set\":true,"
                  "\"provider\":\"outlook\",\"username\":\"relay@acme.example\"}");
  free(auth);
  char *all = json_dumps(doc, JSON_COMPACT);
  g_assert_null(strstr(all, "sealed-secret"));
  free(all);
  json_decref(doc);
  r->grant_state = g_strdup("valid");
  doc = relay_to_json(r, 0);
  g_assert_true(json_is_true(json_object_get(json_object_get(doc, "auth"), "authorized")));
  json_decref(doc);
  g_free(r->auth_mechanism);
  r->auth_mechanism = g_strdup("PLAIN");
  doc = relay_to_json(r, 0);
  g_assert_true(json_is_null(json_object_get(json_object_get(doc, "auth"), "authorized")));
  json_decref(doc);
  ma_relay_free(r);
}

static void test_route_daily_limit_splits(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "mass", 5);
  filter(a, 1, 1, "acme.example", NULL);
  filter(a, 2, 2, "acme.example", "client.example"); /* a second filter of the same relay shares its limit */
  add(&fx, a, 3);
  const char *const rcpts[] = {"r1@client.example", "r2@client.example", "r3@client.example", "r4@client.example", NULL};
  ASSERT_ROUTE(&fx, "r1@client.example>enterprise_relay:a r2@client.example>enterprise_relay:a r3@client.example>mailagent_relay r4@client.example>mailagent_relay",
               "mass", NULL, NULL, NULL, NULL, TRUE, rcpts);
  RelayRouteGroup *g = g_ptr_array_index(fx.groups, 1);
  g_assert_nonnull(strstr(g->reason, "reached its daily limit"));
  fx_clear(&fx);
}

static void test_route_no_filter_carries_nothing(void)
{
  Fx fx;
  fx_init(&fx);
  add(&fx, relay("a", "mass", 0), 0);
  const char *const one[] = {"x@client.example", NULL};
  ASSERT_ROUTE(&fx, "x@client.example>mailagent_relay", "mass", NULL, NULL, NULL, NULL, TRUE, one);
  g_assert_nonnull(strstr(g_ptr_array_index(fx.skipped, 0), "no filter"));
  ASSERT_ROUTE(&fx, "x@client.example>refused", "mass", "enterprise_relay", NULL, NULL, NULL, TRUE, one);
  fx_clear(&fx);
}

static void test_route_employee(void)
{
  Fx fx;
  fx_init(&fx);
  MaRelay *a = relay("a", "individual", 0);
  filter(a, 1, 1, "acme.example", NULL);
  add(&fx, a, 0);
  const char *const one[] = {"x@client.example", NULL};
  /* rule 2: auto with a bound mailbox */
  ASSERT_ROUTE(&fx, "x@client.example>employee_mailbox", "individual", "auto", "ann@acme.example", "mb1", NULL, TRUE, one);
  g_assert_cmpstr(((RelayRouteGroup *) g_ptr_array_index(fx.groups, 0))->mailbox_id, ==, "mb1");
  /* no mailbox: the relays */
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:a", "individual", "auto", "ann@acme.example", NULL, NULL, TRUE, one);
  /* the mailbox channel not allowed for employees: auto skips it */
  ASSERT_ROUTE(&fx, "x@client.example>enterprise_relay:a", "individual", "auto", "ann@acme.example", "mb1",
               "enterprise_relay mailagent_relay", TRUE, one);
  /* rule 1: asking for a channel employees may not use is refused */
  ASSERT_ROUTE(&fx, "x@client.example>refused", "individual", "employee_mailbox", "ann@acme.example", "mb1",
               "enterprise_relay", TRUE, one);
  /* employees may use neither relays nor the default path: refused */
  ASSERT_ROUTE(&fx, "x@client.example>refused", "individual", "auto", "ann@acme.example", NULL, "employee_mailbox", TRUE,
               one);
  /* employee_mailbox asked for without a mailbox */
  ASSERT_ROUTE(&fx, "x@client.example>refused", "individual", "employee_mailbox", "ann@acme.example", NULL, NULL, TRUE, one);
  /* mailagent_relay asked for: the default path, not the relay */
  ASSERT_ROUTE(&fx, "x@client.example>mailagent_relay", "individual", "mailagent_relay", NULL, NULL, NULL, TRUE, one);
  fx_clear(&fx);
}

static void test_route_of(void)
{
  const char *route = "{\"groups\":[{\"channel\":\"enterprise_relay\",\"relay\":{\"id\":\"r1\",\"name\":\"a\"},"
                      "\"recipients\":[\"x@c.example\",\"y@c.example\"]},{\"channel\":\"employee_mailbox\","
                      "\"mailbox_id\":\"mb1\",\"relay\":null,\"recipients\":[\"z@c.example\"]}],"
                      "\"fallbacks\":[{\"channel\":\"mailagent_relay\",\"recipients\":[\"y@c.example\"]},"
                      "{\"channel\":null,\"recipients\":[\"x@c.example\"]}]}";
  RelayRecipientRoute r;
  relay_route_of(route, "X@c.example", &r); /* its fallback found no channel: still its relay */
  g_assert_cmpstr(r.channel, ==, "enterprise_relay");
  g_assert_cmpstr(r.relay_id, ==, "r1");
  relay_route_of(route, "y@c.example", &r);
  g_assert_cmpstr(r.channel, ==, "mailagent_relay");
  g_assert_cmpstr(r.relay_id, ==, "");
  relay_route_of(route, "z@c.example", &r);
  g_assert_cmpstr(r.mailbox_id, ==, "mb1");
  relay_route_of(route, "w@c.example", &r);
  g_assert_cmpstr(r.channel, ==, "");
  relay_route_of(NULL, "w@c.example", &r);
  g_assert_cmpstr(r.channel, ==, "");
  relay_route_of("{not json", "w@c.example", &r);
  g_assert_cmpstr(r.channel, ==, "");
}

static void test_day(void)
{
  char day[16];
  gint64 next = 0;
  /* 2026-12-02T10:00:00Z is 19:00 in Tokyo: the next day starts at 15:00Z */
  relay_day(1796205600, "Asia/Tokyo", day, &next);
  g_assert_cmpstr(day, ==, "2026-12-02");
  g_assert_cmpint(next, ==, 1796223600);
  /* 16:00Z is already the 3rd in Tokyo */
  relay_day(1796227200, "Asia/Tokyo", day, NULL);
  g_assert_cmpstr(day, ==, "2026-12-03");
  relay_day(1796205600, NULL, day, &next);
  g_assert_cmpstr(day, ==, "2026-12-02");
  g_assert_cmpint(next, ==, 1796256000);
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/relay/pattern/match", test_pattern_match);
  g_test_add_func("/relay/pattern/normalise", test_patterns_normalise);
  g_test_add_func("/relay/route/priority_types", test_route_priority_and_types);
  g_test_add_func("/relay/route/ties_by_creation", test_route_ties_by_creation);
  g_test_add_func("/relay/route/wildcards", test_route_wildcards);
  g_test_add_func("/relay/route/disabled_suspended", test_route_disabled_suspended);
  g_test_add_func("/relay/route/untested", test_route_untested);
  g_test_add_func("/relay/route/needs_sign_in", test_route_needs_sign_in);
  g_test_add_func("/relay/json/auth", test_json_auth);
  g_test_add_func("/relay/route/daily_limit", test_route_daily_limit_splits);
  g_test_add_func("/relay/route/no_filter", test_route_no_filter_carries_nothing);
  g_test_add_func("/relay/route/employee", test_route_employee);
  g_test_add_func("/relay/route_of", test_route_of);
  g_test_add_func("/relay/day", test_day);
  return g_test_run();
}
