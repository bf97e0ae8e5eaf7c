#!/usr/bin/env bash
# smtp_policy.sh - "who forwarded it" with real deliveries (swaks): the spoof (an outsider with an
# employee in To:) is refused 550 5.7.1 with a reason under the default employee policy; each trusted
# signal (envelope sender, Resent-From, X-Forwarded-For, SRS, forwarder_networks + Delivered-To) is
# accepted and recorded in the provenance; the domain and any policies (per-enterprise setting).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup
start_serve

sw() { swaks --server "127.0.0.1:$SMTP_PORT" --to "$INBOUND" "$@" 2>&1 || true; }
signal_of() { db_query "select p.signal||' '||coalesce(e.email,'-') from provenance p join messages m on m.id=p.message_id left join employees e on e.id=p.employee_id where m.subject='$1'"; }

# employee policy (default)
out=$(sw --from mallory@evil.example --header "From: mallory@evil.example" --header "To: alice@acme.example" --header "Subject: spoof-1@evil.example")
assert_contains "$out" "<** 550 5.7.1 Message refused by the forwarder policy: no trusted signal names a registered employee" "spoof refused 550 5.7.1 with the reason"
out=$(sw --from alice@acme.example --header "Subject: env-1@acme.example")
assert_contains "$out" "<-  250 2.0.0" "envelope sender is an employee"
out=$(sw --from customer@client.example --header "Resent-From: Alice <alice@acme.example>" --header "Subject: resent-1@client.example")
assert_contains "$out" "<-  250 2.0.0" "Resent-From names an employee"
out=$(sw --from customer@client.example --header "X-Forwarded-For: alice@acme.example $INBOUND" --header "Subject: xff-1@client.example")
assert_contains "$out" "<-  250 2.0.0" "Gmail X-Forwarded-For names an employee"
out=$(sw --from customer@client.example --header "Delivered-To: alice@acme.example" --header "Subject: dt-1@client.example")
assert_contains "$out" "<** 550 5.7.1" "Delivered-To alone does not satisfy the policy"
out=$(sw --from "SRS0=AbCd=T2=client.example=customer@acme.example" --header "X-Forwarded-To: alice@acme.example" --header "Subject: srs-1@client.example")
assert_contains "$out" "<-  250 2.0.0" "SRS from our domain + X-Forwarded-To names the employee"

# domain policy: SRS of our domain suffices, an outsider still does not
ma settings acme forwarder_policy=domain >/dev/null
out=$(sw --from "SRS0=AbCd=T2=client.example=customer@acme.example" --header "Subject: srs-2@client.example")
assert_contains "$out" "<-  250 2.0.0" "domain policy: SRS from our domain"
out=$(sw --from mallory@evil.example --header "To: alice@acme.example" --header "Subject: spoof-2@evil.example")
assert_contains "$out" "<** 550 5.7.1 Message refused by the forwarder policy: no trusted signal names one of" "domain policy: spoof refused"
# forwarder_networks: the enterprise's own server (loopback here)
ma settings acme forwarder_networks=127.0.0.0/8 >/dev/null
out=$(sw --from customer@client.example --header "Delivered-To: alice@acme.example" --header "Subject: net-1@client.example")
assert_contains "$out" "<-  250 2.0.0" "forwarder network accepted"
ma settings acme forwarder_networks=default >/dev/null
# any policy
ma settings acme forwarder_policy=any >/dev/null
out=$(sw --from mallory@evil.example --header "Subject: any-1@evil.example")
assert_contains "$out" "<-  250 2.0.0" "any policy accepts anyone"

assert_eq 7 "$(wait_archived 7)" "seven accepted messages archived"
assert_eq "envelope_sender alice@acme.example" "$(signal_of env-1@acme.example)" "provenance: envelope_sender + employee"
assert_eq "resent_from alice@acme.example" "$(signal_of resent-1@client.example)" "provenance: resent_from + employee"
assert_eq "x_forwarded_for alice@acme.example" "$(signal_of xff-1@client.example)" "provenance: x_forwarded_for + employee"
assert_eq "srs alice@acme.example" "$(signal_of srs-1@client.example)" "provenance: srs route + employee from X-Forwarded-To"
assert_eq "srs -" "$(signal_of srs-2@client.example)" "provenance: srs (domain policy, no employee)"
assert_eq "forwarder_network alice@acme.example" "$(signal_of net-1@client.example)" "provenance: forwarder_network + Delivered-To employee"
assert_eq 0 "$(db_query "select count(*) from messages where subject like 'spoof%' or subject like 'dt-1%'")" "refused messages not archived"

stop_serve
finish
