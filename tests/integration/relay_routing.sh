#!/usr/bin/env bash
# relay_routing.sh - routing between an enterprise's relays and the default path (issue 13), with
# every case checked where the mail arrived: two enterprise relays (private Postfix instances A
# and B on loopback) and the default path (the smart host, a third Postfix D). A carries workflow
# and mass mail for client.example with filter priority 1 and a daily limit of 5; B carries
# workflow and individual mail for any recipient with filter priority 2. Checked: untested relays
# carry nothing (the default path until `relay test` passes), priority (a
# workflow message to client.example reaches A, not B), email types (an individual one reaches
# B), one message split per recipient group (mass to client.example via A, to other.example by
# the default path), the daily limit overflowing to the default path, a disabled relay skipped,
# a From domain outside the verified domain scope refused at submission with the reason, and
# `route explain` / GET /v1/outbound/{id} naming the same route.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
dns_start "$FIXTURES_DIR/dns/example.test.zone"
DOMAINS="virtual_mailbox_domains = client.example other.example"
A=$T/pf_a; A_PORT=$(free_port); pf_dest "$A" "$A_PORT" "smtpd_tls_security_level = none" "$DOMAINS" "myhostname = relay-a.test"
B=$T/pf_b; B_PORT=$(free_port); pf_dest "$B" "$B_PORT" "smtpd_tls_security_level = none" "$DOMAINS" "myhostname = relay-b.test"
D=$T/pf_d; D_PORT=$(free_port); pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none" "$DOMAINS" "myhostname = default.test"
# the relays listen on test ports: allow them as [relay] allowed_ports would be set by an operator
write_config "[dns]" "servers=$DNS_SERVERS" "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" \
  "allowed_ports=25,465,587,$A_PORT,$B_PORT"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma domain dkim acme example.test --selector sel1 --import-key "$FIXTURES_DIR/dns/keys/sel1.key.pem" >/dev/null
ma domain verify acme example.test >"$T/verify.out" 2>&1 || true
assert_contains "$(ma domain show acme example.test)" "verified" "example.test is in the verified domain scope"

out=$(ma relay add acme --name a --host 127.0.0.1 --port "$A_PORT" --tls-mode off --types workflow,mass \
  --daily-limit 5 --filter "1:example.test:client.example" 2>&1)
assert_contains "$out" "untested" "relay a added, untested until a test passes"
ma relay add acme --name b --host 127.0.0.1 --port "$B_PORT" --tls-mode off --types workflow,individual \
  --filter "2:example.test" >/dev/null
rc=0; out=$(ma relay add acme --name c --host 127.0.0.1 --port 2526 --filter "3:example.test" 2>&1) || rc=$?
assert_eq 2 "$rc" "a port outside [relay] allowed_ports is refused"
assert_contains "$out" "2526 is not allowed (allowed: 25,465,587,$A_PORT,$B_PORT" "... with the list"
rc=0; out=$(ma relay add acme --name c --host 127.0.0.1 --port 587 2>&1) || rc=$?
assert_eq 2 "$rc" "a relay without a filter is refused"
out=$(ma relay add acme --name c --host 127.0.0.1 --port 587 --filter "1:example.test:*.*.x" 2>&1) || true
assert_contains "$out" "recipient pattern" "a malformed recipient pattern is refused"
ma relay add acme --name c --host 127.0.0.1 --port 587 --filter "9:example.test" --json >"$T/c.json"
rc=0; out=$(ma relay add acme --name d --host 127.0.0.1 --port 587 --filter "9:example.test" 2>&1) || rc=$?
assert_eq 2 "$rc" "a fourth relay for example.test is refused"
assert_contains "$out" "at most 3 per domain" "... saying why"
ma relay delete acme c >/dev/null
assert_eq implicit "$(ma relay add acme --name s --host 127.0.0.1 --port 465 --filter "9:acme.example" --json |
  json_get - 'd["security"]')" "port 465 defaults to implicit TLS"
ma relay delete acme s >/dev/null
start_serve

send() { # TYPE FROM TO... -> prints the outbound id (or the error answer)
  local type=$1 from=$2; shift 2
  local to; to=$(printf '"%s",' "$@"); to="[${to%,}]"
  curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X POST \
    "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"$type\",\"from\":\"$from\",\"to\":$to,\"subject\":\"$type\",\"text\":\"hello\"}" >"$T/code"
  json_get "$T/body" 'd.get("id") or d["error"]["message"]'
}
rcpt_of() { local n; n=$(grep -c "^Delivered-To: $2" "$1/mail/inbox" 2>/dev/null) || true; echo "${n:-0}"; }

# untested relays carry nothing: the default path until `relay test` passes
out=$(ma route explain acme --from sales@example.test --to x@client.example --type workflow)
assert_contains "$out" "relay a filter 1 (example.test -> client.example) matched but the relay untested: run relay test" \
  "route explain: relay a is untested"
assert_contains "$out" "x@client.example -> mailagent_relay" "... so the default path"
ID0=$(send workflow sales@example.test u@client.example)
assert_eq sent "$(wait_state "$ID0" u@client.example sent)" "a message while both relays are untested: sent"
assert_eq "0 0 1" "$(rcpt_of "$A" u@client.example) $(rcpt_of "$B" u@client.example) $(rcpt_of "$D" u@client.example)" \
  "... by the default path, not through an untested relay"
for r in a b; do
  ma relay test acme "$r" --to "probe-$r@client.example" >"$T/test-$r.out" 2>&1 || { cat "$T/test-$r.out"; fail "relay test $r"; }
  assert_eq ok "$(ma relay show acme "$r" --json | json_get - 'd["status"]["state"]')" "relay test $r passed: ok"
done

# priority: relay a (1) before relay b (2), both carry workflow mail to client.example
ID1=$(send workflow sales@example.test w@client.example)
assert_eq sent "$(wait_state "$ID1" w@client.example sent)" "workflow message delivered"
assert_eq 1 "$(rcpt_of "$A" w@client.example)" "priority 1: it arrived at relay a"
assert_eq 0 "$(rcpt_of "$B" w@client.example)" "... not at relay b"
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID1" >"$T/o1.json"
assert_eq "enterprise_relay a 1" "$(json_get "$T/o1.json" '" ".join([d["route"]["groups"][0]["channel"], d["route"]["groups"][0]["relay"]["name"], str(d["route"]["groups"][0]["filter"]["priority"])])')" \
  "GET /v1/outbound/{id} shows the route and the filter that matched"

# email types: relay a does not carry individual mail; b does
ID2=$(send individual sales@example.test i@client.example)
assert_eq sent "$(wait_state "$ID2" i@client.example sent)" "individual message delivered"
assert_eq 1 "$(rcpt_of "$B" i@client.example)" "email type: it arrived at relay b"
assert_eq 0 "$(rcpt_of "$A" i@client.example)" "... not at relay a"

# one message, two recipient groups: client.example via a, other.example (no relay for mass) by default
ID3=$(send mass sales@example.test m1@client.example m2@other.example)
assert_eq sent "$(wait_state "$ID3" m1@client.example sent)" "split: first group delivered"
assert_eq sent "$(wait_state "$ID3" m2@other.example sent)" "split: second group delivered"
assert_eq "1 0" "$(rcpt_of "$A" m1@client.example) $(rcpt_of "$D" m1@client.example)" "split: client.example at relay a only"
assert_eq "1 0" "$(rcpt_of "$D" m2@other.example) $(rcpt_of "$A" m2@other.example)" "split: other.example by the default path only"
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID3" >"$T/o3.json"
assert_eq 2 "$(json_get "$T/o3.json" 'len(d["route"]["groups"])')" "the route records two groups"
assert_contains "$(ma queue show "$ID3")" "mailagent's own delivery" "queue show names the default path and why"

# the daily limit: a has 2 recipients today; 5 more mass messages: 3 through a, 2 by the default path
for i in 1 2 3 4 5; do IDS[$i]=$(send mass sales@example.test "l$i@client.example"); done
for i in 1 2 3 4 5; do wait_state "${IDS[$i]}" "l$i@client.example" sent >/dev/null; done
at_a=0; at_d=0
for i in 1 2 3 4 5; do
  at_a=$((at_a + $(rcpt_of "$A" "l$i@client.example"))); at_d=$((at_d + $(rcpt_of "$D" "l$i@client.example")))
done
assert_eq "3 2" "$at_a $at_d" "daily limit 5: three more through relay a, the other two by the default path"
assert_eq "1 1 1 0 0" "$(for i in 1 2 3 4 5; do printf '%s ' "$(rcpt_of "$A" "l$i@client.example")"; done | sed 's/ $//')" \
  "... in queueing order"
assert_eq 5 "$(ma relay show acme a --json | json_get - 'd["sent_today"]')" "relay a counts 5 today"
out=$(ma route explain acme --from sales@example.test --to x@client.example --type mass)
assert_contains "$out" "relay a filter 1 (example.test -> client.example) matched but the relay reached its daily limit" \
  "route explain: the filter matched, the limit was reached"
assert_contains "$out" "x@client.example -> mailagent_relay" "route explain: the default path"

# a disabled relay is skipped: workflow mail to client.example now takes relay b (priority 2)
ma relay disable acme a >/dev/null
ID4=$(send workflow sales@example.test off@client.example)
assert_eq sent "$(wait_state "$ID4" off@client.example sent)" "workflow message delivered with relay a disabled"
assert_eq "0 1" "$(rcpt_of "$A" off@client.example) $(rcpt_of "$B" off@client.example)" "disabled relay a skipped: it arrived at relay b"
assert_contains "$(ma route explain acme --from sales@example.test --to x@client.example --type workflow)" \
  "matched but the relay disabled" "route explain says relay a is disabled"

# channel system accounts: checked against their channel; workflow mail without a From uses them
rc=0; out=$(ma channel system-account set acme mailagent_relay ops@acme.example 2>&1) || rc=$?
assert_eq 2 "$rc" "a mailagent_relay system account outside the verified scope is refused"
assert_contains "$out" "mailagent's own delivery is not open to acme.example" "... with the reason"
rc=0; out=$(ma channel system-account set acme employee_mailbox ops@example.test 2>&1) || rc=$?
assert_contains "$rc $out" "2 mailagent: channel system-account: employee_mailbox cannot send as ops@example.test" \
  "an employee_mailbox system account needs a bound mailbox"
ma channel system-account set acme enterprise_relay Ops@Example.test >/dev/null
curl -s -o "$T/ch.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X PUT \
  "http://127.0.0.1:$API_PORT/v1/channels/mailagent_relay/system-account" -d '{"address":"news@example.test"}' >"$T/code"
assert_eq 200 "$(cat "$T/code")" "PUT /v1/channels/{channel}/system-account"
assert_eq "Ops@example.test news@example.test ['employee_mailbox', 'enterprise_relay', 'mailagent_relay']" \
  "$(json_get "$T/ch.json" '" ".join([d["system_accounts"]["enterprise_relay"]["address"], d["system_accounts"]["mailagent_relay"]["address"], str(d["employee_channels"])])')" \
  "GET /v1/channels: both accounts and the kinds employees may use"
curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
  -d '{"type":"workflow","to":["wf@client.example"],"subject":"workflow","text":"hi"}'
ID5=$(json_get "$T/body" 'd["id"]')
assert_eq sent "$(wait_state "$ID5" wf@client.example sent)" "workflow mail without a From: queued and sent"
assert_eq 1 "$(rcpt_of "$B" wf@client.example)" "... through relay b (the enterprise_relay account's domain)"
assert_contains "$(grep -i '^From:' "$B/mail/inbox")" "Ops@example.test" "... From the enterprise_relay system account"

# outside the verified domain scope, with no relay: refused at submission, nothing sent
ERR=$(send mass sales@acme.example r@other.example)
assert_eq 422 "$(cat "$T/code")" "a From domain outside the scope is refused at submission"
assert_contains "$ERR" "mailagent's own delivery is not open to acme.example" "... with the reason"
rc=0; out=$(ma route explain acme --from sales@acme.example --to r@other.example --type mass) || rc=$?
assert_eq 1 "$rc" "route explain exits 1 for a refused route"
assert_contains "$out" "REFUSED" "... and prints REFUSED"

# the API: the same relays, in the same shape as `relay show --json`
api() { curl -s -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X "$1" "http://127.0.0.1:$API_PORT$2" ${3:+-d "$3"}; }
assert_eq 200 "$(api GET /v1/relays)" "GET /v1/relays"
assert_eq "a b" "$(json_get "$T/api.json" '" ".join(r["name"] for r in d["items"])')" "... lists both relays"
ma relay show acme b --json >"$T/b_cli.json"
api GET /v1/relays/b >/dev/null
assert_eq "$(json_get "$T/b_cli.json" 'json.dumps(d, sort_keys=True)')" "$(json_get "$T/api.json" 'json.dumps(d, sort_keys=True)')" \
  "GET /v1/relays/{name} equals relay show --json"
assert_eq 422 "$(api POST /v1/relays '{"name":"x","host":"127.0.0.1","port":2526,"filters":[{"priority":1,"sender_domain":"example.test"}]}')" \
  "POST with a port outside allowed_ports: 422"
assert_contains "$(cat "$T/api.json")" "2526 is not allowed" "... naming the port"
assert_eq 422 "$(api POST /v1/relays '{"name":"x","host":"127.0.0.1","port":587,"filters":[{"priority":1,"sender_domain":"other.example"}]}')" \
  "POST with a filter for a domain not of the enterprise: 422"
assert_eq 201 "$(api POST /v1/relays '{"name":"x","host":"relay.example.test","port":587,"email_types":["mass"],"filters":[{"priority":5,"sender_domain":"example.test","recipient_patterns":["*.client.example"]}]}')" \
  "POST /v1/relays: 201"
assert_eq "starttls required-verify untested *.client.example" \
  "$(json_get "$T/api.json" '" ".join([d["security"], d["tls_mode"], d["status"]["state"], d["filters"][0]["recipient_patterns"][0]])')" \
  "... with the defaults and the filter"
assert_eq 200 "$(api PUT /v1/relays/x '{"daily_limit":10}')" "PUT /v1/relays/{name}"
assert_eq "10 mass" "$(json_get "$T/api.json" '"%s %s" % (d["daily_limit"], d["email_types"][0])')" "... changes only what it names"
assert_eq 200 "$(api POST /v1/relays/x:disable)" "POST /v1/relays/{name}:disable"
assert_eq False "$(json_get "$T/api.json" 'd["enabled"]')" "... disabled"
assert_eq 204 "$(api DELETE /v1/relays/x)" "DELETE /v1/relays/{name}"
assert_eq 404 "$(api GET /v1/relays/x)" "... gone"
# POST /v1/relays/{id}:test: every step in JSON; a pass marks the relay ok, a failure changes nothing
assert_eq 201 "$(api POST /v1/relays '{"name":"y","host":"127.0.0.1","port":'"$A_PORT"',"tls_mode":"off","filters":[{"priority":7,"sender_domain":"acme.example"}]}')" \
  "POST /v1/relays: relay y"
assert_eq untested "$(json_get "$T/api.json" 'd["status"]["state"]')" "... untested"
assert_eq 200 "$(api POST /v1/relays/y:test '{"to":"apitest@client.example","from":"api@example.test"}')" "POST /v1/relays/y:test"
assert_eq "True None ok" "$(json_get "$T/api.json" '" ".join(str(x) for x in [d["passed"], d["failure"], d["relay"]["status"]["state"]])')" \
  "... passed, and relay y is ok"
steps=$(json_get "$T/api.json" '"|".join(s["step"] + " " + s["text"] for s in d["steps"])')
assert_contains "$steps" "|C: RCPT TO:<apitest@client.example>|" "... with every command"
assert_contains "$steps" "|S: 250 2.1.5 Ok|S: 354 End data" "... and every reply"
assert_eq 1 "$(for _ in $(seq 1 100); do n=$(rcpt_of "$A" apitest@client.example); [ "$n" -ge 1 ] && break; sleep 0.1; done; echo "$n")" \
  "... and the test message arrived at relay a's server"
assert_eq 200 "$(api PUT /v1/relays/y '{"port":587}')" "relay y moved to a port where nothing listens"
assert_eq 200 "$(api POST /v1/relays/y:test '{"to":"apitest@client.example","from":"api@example.test"}')" "POST :test again"
assert_eq "False untested" "$(json_get "$T/api.json" '" ".join(str(x) for x in [d["passed"], d["relay"]["status"]["state"]])')" \
  "... failed: relay y stays untested"
assert_contains "$(json_get "$T/api.json" 'd["failure"]')" "127.0.0.1" "... naming the connection that failed"
assert_eq 422 "$(api POST /v1/relays/y:test '{"to":"nobody"}')" "a bad recipient: 422"
assert_eq 404 "$(api POST /v1/relays/zz:test)" "no such relay: 404"
assert_eq 204 "$(api DELETE /v1/relays/y)" "relay y deleted"

sleep 1
assert_eq 7 "$(mbox_count "$A")" "relay a's mailbox: exactly 5 messages and the two tests (CLI and API)"
assert_eq 4 "$(mbox_count "$B")" "relay b's mailbox: exactly 3 messages and the test"
assert_eq 4 "$(mbox_count "$D")" "default path's mailbox: exactly 4 messages"
assert_not_contains "$(cat "$A/maillog" "$B/maillog" "$D/maillog")" "acme.example" "nothing from acme.example left"
finish
