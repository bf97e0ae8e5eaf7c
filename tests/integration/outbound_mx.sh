#!/usr/bin/env bash
# outbound_mx.sh - direct MX delivery through agent/dns against nsd and a real Postfix: the
# preferred MX host is down so delivery falls through to the next one, a domain without MX is
# delivered to its A record (implicit MX), a null MX and a domain that does not exist bounce at
# once without a connection.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
dns_start "$FIXTURES_DIR/dns/outbound.test.zone"
PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none" \
  "virtual_mailbox_domains = client.example two-mx.outbound.test implicit.outbound.test"
write_config "[dns]" "servers=$DNS_SERVERS" "[relay]" "default_path_scope=any" "mx_port=$PF_PORT" "tls_mode=off" "[queue]" "connect_timeout=5"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
start_serve

curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
  -d '{"from":"sales@acme.example","to":["a@two-mx.outbound.test","b@implicit.outbound.test","c@nullmx.outbound.test","d@nxdomain.outbound.test"],"subject":"MX","text":"hi"}'
ID=$(json_get "$T/body" 'd["id"]')
assert_eq sent "$(wait_state "$ID" a@two-mx.outbound.test sent)" "first MX down: delivered through the second"
assert_eq sent "$(wait_state "$ID" b@implicit.outbound.test sent)" "no MX: delivered to the domain's A record"
assert_eq bounced "$(wait_state "$ID" c@nullmx.outbound.test bounced)" "null MX: bounced"
assert_eq bounced "$(wait_state "$ID" d@nxdomain.outbound.test bounced)" "no such domain: bounced"
curl -s -o "$T/out.json" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID"
assert_contains "$(cat "$T/out.json")" "556 5.1.10 nullmx.outbound.test accepts no mail (null MX" "the null MX reason is kept"
assert_contains "$(cat "$T/out.json")" "550 5.1.2 domain nxdomain.outbound.test does not exist" "the NXDOMAIN reason is kept"
assert_contains "$(cat "$T/serve.log")" "host mx-down.outbound.test failed" "the fall-through was logged"
assert_eq 2 "$(wait_mbox "$PF" 2)" "Postfix received exactly the two deliverable copies"
assert_eq 2 "$(wait_lines "$PF/maillog" 'status=sent' 2)" "Postfix's log: two deliveries"
finish
