/* test_smtp_policy.c - table-driven tests of the forwarder policy (agent/smtp/forwarder_policy):
 * each trusted signal, each policy, and the spoof (an outsider with an employee in To:) refused. */
#include "agent/smtp/forwarder_policy.h"

#include <string.h>

static int lookup(void *ctx, const char *address, char **id, GError **error)
{
  if (strcmp(address, "alice@acme.example") == 0) {
    *id = g_strdup("emp-alice");
    return 1;
  }
  if (strcmp(address, "bob@gmail.com") == 0) { /* employees may use outside addresses */
    *id = g_strdup("emp-bob");
    return 1;
  }
  if (strcmp(address, "broken@acme.example") == 0) {
    g_set_error(error, g_quark_from_static_string("t"), 1, "busy");
    return -1;
  }
  return 0;
}

static const char *const domains[] = {"acme.example", NULL};

typedef struct {
  const char *name;
  FwdPolicy policy;
  gboolean in_networks;
  const char *mail_from;
  const char *msg;         /* NULL: envelope only */
  gboolean satisfied;
  const char *employee;    /* NULL: none */
  const char *signal;
} Case;

static const Case cases[] = {
  {"envelope employee", FWD_POLICY_EMPLOYEE, FALSE, "Alice@ACME.example", NULL, TRUE, "emp-alice", "envelope_sender"},
  {"spoof: employee only in To", FWD_POLICY_EMPLOYEE, FALSE, "mallory@evil.example",
   "From: mallory@evil.example\r\nTo: alice@acme.example\r\nCc: alice@acme.example\r\n\r\nhi\r\n", FALSE, NULL, NULL},
  {"spoof under domain policy", FWD_POLICY_DOMAIN, FALSE, "mallory@evil.example",
   "From: ceo@acme.example\r\nTo: alice@acme.example\r\n\r\nhi\r\n", FALSE, NULL, NULL},
  {"spoof under any", FWD_POLICY_ANY, FALSE, "mallory@evil.example", "To: alice@acme.example\r\n\r\n", TRUE, NULL, NULL},
  {"resent-from employee", FWD_POLICY_EMPLOYEE, FALSE, "customer@client.example",
   "Resent-From: Alice <alice@acme.example>\r\nFrom: customer@client.example\r\n\r\nx\r\n", TRUE, "emp-alice", "resent_from"},
  {"only the first resent-from counts", FWD_POLICY_EMPLOYEE, FALSE, "customer@client.example",
   "Resent-From: x@client.example\r\nResent-From: alice@acme.example\r\n\r\nx\r\n", FALSE, NULL, NULL},
  {"gmail x-forwarded-for", FWD_POLICY_EMPLOYEE, FALSE, "customer@client.example",
   "X-Forwarded-For: bob@gmail.com crm@inbound.test\r\nX-Forwarded-To: crm@inbound.test\r\n\r\nx\r\n", TRUE, "emp-bob",
   "x_forwarded_for"},
  {"folded resent-from", FWD_POLICY_EMPLOYEE, FALSE, "c@client.example",
   "Resent-From:\r\n \"Alice\"\r\n <alice@acme.example>\r\n\r\nx\r\n", TRUE, "emp-alice", "resent_from"},
  {"resent-from in the body does not count", FWD_POLICY_EMPLOYEE, FALSE, "c@client.example",
   "Subject: x\r\n\r\nResent-From: alice@acme.example\r\n", FALSE, NULL, NULL},
  {"delivered-to alone never names the sender", FWD_POLICY_EMPLOYEE, FALSE, "c@client.example",
   "Delivered-To: alice@acme.example\r\nX-Forwarded-To: alice@acme.example\r\n\r\nx\r\n", FALSE, NULL, NULL},
  {"forwarder network + delivered-to", FWD_POLICY_EMPLOYEE, TRUE, "c@client.example",
   "Delivered-To: alice@acme.example\r\n\r\nx\r\n", TRUE, "emp-alice", "forwarder_network"},
  {"forwarder network, no employee named", FWD_POLICY_EMPLOYEE, TRUE, "c@client.example", "Subject: x\r\n\r\nx\r\n", FALSE,
   NULL, NULL},
  {"forwarder network under domain policy", FWD_POLICY_DOMAIN, TRUE, "c@client.example", "Subject: x\r\n\r\n", TRUE, NULL,
   "forwarder_network"},
  {"srs from our domain, domain policy", FWD_POLICY_DOMAIN, FALSE, "SRS0=HhH1=T2=client.example=c@acme.example", NULL, TRUE,
   NULL, "srs"},
  {"srs from our domain + x-forwarded-to", FWD_POLICY_EMPLOYEE, FALSE, "SRS0=HhH1=T2=client.example=c@acme.example",
   "X-Forwarded-To: alice@acme.example\r\n\r\nx\r\n", TRUE, "emp-alice", "srs"},
  {"srs from another domain", FWD_POLICY_DOMAIN, FALSE, "SRS0=HhH1=T2=client.example=c@evil.example", NULL, FALSE, NULL,
   NULL},
  {"envelope sender in our domain, domain policy", FWD_POLICY_DOMAIN, FALSE, "someone@acme.example", NULL, TRUE, NULL,
   "envelope_sender"},
  {"null sender", FWD_POLICY_EMPLOYEE, FALSE, "", "Subject: bounce\r\n\r\n", FALSE, NULL, NULL},
  {"strict: envelope employee", FWD_POLICY_STRICT, FALSE, "alice@acme.example", NULL, TRUE, "emp-alice", "envelope_sender"},
  {"strict: resent-from never satisfies it", FWD_POLICY_STRICT, FALSE, "customer@client.example",
   "Resent-From: alice@acme.example\r\n\r\nx\r\n", FALSE, "emp-alice", NULL},
  {"strict: x-forwarded-for never satisfies it", FWD_POLICY_STRICT, FALSE, "customer@client.example",
   "X-Forwarded-For: bob@gmail.com\r\n\r\nx\r\n", FALSE, "emp-bob", NULL},
  {"strict: forwarder network + delivered-to", FWD_POLICY_STRICT, TRUE, "c@client.example",
   "Delivered-To: alice@acme.example\r\n\r\nx\r\n", TRUE, "emp-alice", "forwarder_network"},
  {"strict: srs of our domain", FWD_POLICY_STRICT, FALSE, "SRS0=HhH1=T2=client.example=c@acme.example", NULL, TRUE, NULL,
   "srs"},
  {"strict: our domain is not enough", FWD_POLICY_STRICT, FALSE, "someone@acme.example", NULL, FALSE, NULL, NULL},
};

static void test_cases(void)
{
  for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
    const Case *c = &cases[i];
    FwdInput in = {c->policy, c->in_networks, (const char *const *) domains, lookup, NULL};
    FwdDecision d;
    g_autoptr(GError) error = NULL;
    int rc = forwarder_policy_decide(&in, c->mail_from, (const guint8 *) c->msg, c->msg ? strlen(c->msg) : 0, &d, &error);
    g_assert_cmpint(rc, ==, 0);
    if (d.satisfied != c->satisfied) g_error("%s: satisfied=%d", c->name, d.satisfied);
    if (g_strcmp0(d.employee_id, c->employee) != 0) g_error("%s: employee %s", c->name, d.employee_id);
    if (c->signal && g_strcmp0(d.signal, c->signal) != 0) g_error("%s: signal %s", c->name, d.signal);
    if (!d.satisfied) g_assert_nonnull(d.reason);
    forwarder_decision_clear(&d);
  }
}

/* Only the strict policy's envelope verdict is final at RCPT: the others may still be satisfied by
 * a header at the end of DATA. */
static void test_final_at_rcpt(void)
{
  static const FwdPolicy policies[] = {FWD_POLICY_EMPLOYEE, FWD_POLICY_DOMAIN, FWD_POLICY_STRICT};
  for (gsize i = 0; i < G_N_ELEMENTS(policies); i++) {
    FwdInput in = {policies[i], FALSE, (const char *const *) domains, lookup, NULL};
    FwdDecision d;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(forwarder_policy_decide(&in, "mallory@evil.example", NULL, 0, &d, &error), ==, 0);
    g_assert_false(d.satisfied);
    g_assert_cmpint(d.final, ==, policies[i] == FWD_POLICY_STRICT);
    forwarder_decision_clear(&d);
    /* with the message the verdict is never called final */
    g_assert_cmpint(forwarder_policy_decide(&in, "mallory@evil.example", (const guint8 *) "S: x\r\n\r\n", 8, &d, &error), ==, 0);
    g_assert_false(d.final);
    forwarder_decision_clear(&d);
  }
}

static void test_lookup_failure(void)
{
  FwdInput in = {FWD_POLICY_EMPLOYEE, FALSE, (const char *const *) domains, lookup, NULL};
  FwdDecision d;
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(forwarder_policy_decide(&in, "broken@acme.example", NULL, 0, &d, &error), ==, -1);
  g_assert_nonnull(error);
}

static void test_parse(void)
{
  FwdPolicy p;
  g_assert_cmpint(forwarder_policy_parse("Domain", &p), ==, 0);
  g_assert_cmpint(p, ==, FWD_POLICY_DOMAIN);
  g_assert_cmpint(forwarder_policy_parse("all", &p), ==, -1);
  g_assert_cmpstr(forwarder_policy_name(FWD_POLICY_ANY), ==, "any");
  g_assert_cmpint(forwarder_policy_parse("STRICT", &p), ==, 0);
  g_assert_cmpint(p, ==, FWD_POLICY_STRICT);
  g_assert_cmpstr(forwarder_policy_name(FWD_POLICY_STRICT), ==, "strict");
}

int main(int argc, char **argv)
{
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/smtp/policy/cases", test_cases);
  g_test_add_func("/smtp/policy/final_at_rcpt", test_final_at_rcpt);
  g_test_add_func("/smtp/policy/lookup_failure", test_lookup_failure);
  g_test_add_func("/smtp/policy/parse", test_parse);
  return g_test_run();
}
