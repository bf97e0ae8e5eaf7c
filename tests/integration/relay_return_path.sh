#!/usr/bin/env bash
# relay_return_path.sh - the per-relay return path (issues 13 and 14), checked in the Return-Path
# header the destination wrote from the envelope sender it was given. An enterprise relay (a private
# Postfix A) carries example.test's mail to client.example; the default path (Postfix D) the rest.
# The enterprise's own setting is return_path=from, so the default path leaves with the From
# address, while the relay leaves with its own choice: bounce (VERP on [relay] bounce_domain, the
# default), from, or a custom address in one of the enterprise's domains (one outside them is
# refused: CLI exit 2, API 422). A DSN sent back to the VERP address a relay used marks exactly that
# recipient bounced.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
DOMAINS="virtual_mailbox_domains = client.example other.example"
A=$T/pf_a; A_PORT=$(free_port); pf_dest "$A" "$A_PORT" "smtpd_tls_security_level = none" "$DOMAINS" "myhostname = relay-a.test"
D=$T/pf_d; D_PORT=$(free_port); pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none" "$DOMAINS" "myhostname = default.test"
write_config "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" "default_path_scope=any" "bounce_domain=bounces.test" \
  "allowed_ports=25,465,587,$A_PORT"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma settings acme return_path=from >/dev/null
ma relay add acme --name a --host 127.0.0.1 --port "$A_PORT" --tls-mode off --filter "1:example.test:client.example" --json >"$T/a.json"
assert_eq bounce "$(json_get "$T/a.json" 'd["return_path"]')" "a new relay's return path is bounce management"
start_serve
ma relay test acme a --to probe@client.example >"$T/test.out" || { cat "$T/test.out"; fail "relay test"; }

send() { # TO -> the outbound id
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"mass\",\"from\":\"sales@example.test\",\"to\":[\"$1\"],\"subject\":\"rp\",\"text\":\"hello\"}"
  json_get "$T/body" 'd["id"]'
}
# return_path_of DIR ADDRESS: the Return-Path of the copy DIR's Postfix delivered to ADDRESS
return_path_of() {
  awk -v to="$2" '/^Return-Path:/ { rp = $2 } /^Delivered-To:/ && $2 == to { gsub(/[<>]/, "", rp); print rp; exit }' "$1/mail/inbox"
}
arrived() { # ID ADDRESS DIR: waits until ADDRESS is sent and DIR's mailbox has its copy
  wait_state "$1" "$2" sent >/dev/null
  for _ in $(seq 1 100); do grep -q "^Delivered-To: $2" "$3/mail/inbox" 2>/dev/null && break; sleep 0.1; done
}

ID1=$(send v1@client.example); arrived "$ID1" v1@client.example "$A"
VERP=$(return_path_of "$A" v1@client.example)
[[ "$VERP" =~ ^b[a-z2-7]{29}@bounces\.test$ ]] && pass "through relay a by default: a VERP return path ($VERP)" || fail "relay a, default: [$VERP]"
ID2=$(send d1@other.example); arrived "$ID2" d1@other.example "$D"
assert_eq sales@example.test "$(return_path_of "$D" d1@other.example)" "the default path follows the enterprise setting (from)"

ma relay update acme a --return-path from >/dev/null
ID3=$(send f1@client.example); arrived "$ID3" f1@client.example "$A"
assert_eq sales@example.test "$(return_path_of "$A" f1@client.example)" "relay a with return path from: the From address"

ma relay update acme a --return-path Bounces@Example.test >/dev/null
ID4=$(send c1@client.example); arrived "$ID4" c1@client.example "$A"
assert_eq bounces@example.test "$(return_path_of "$A" c1@client.example)" "relay a with a custom return path: that address"

rc=0; out=$(ma relay update acme a --return-path x@other.example 2>&1) || rc=$?
assert_eq 2 "$rc" "a custom return path outside the enterprise's domains is refused"
assert_contains "$out" "x@other.example is not in one of the enterprise's domains" "... saying why"
code=$(curl -s -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X PUT "http://127.0.0.1:$API_PORT/v1/relays/a" \
  -d '{"return_path":"x@other.example"}')
assert_eq 422 "$code" "PUT /v1/relays/{name} with it: 422"
assert_contains "$(cat "$T/api.json")" "not in one of the enterprise's domains" "... with the JSON error"
code=$(curl -s -o "$T/api.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X PUT "http://127.0.0.1:$API_PORT/v1/relays/a" \
  -d '{"return_path":"verp"}')
assert_eq "200 bounce" "$code $(json_get "$T/api.json" 'd["return_path"]')" "verp is bounce management"

# a DSN to the VERP address relay a used marks exactly that recipient bounced
printf '%s\r\n' "From: MAILER-DAEMON@relay-a.test" "To: $VERP" "Subject: Undelivered Mail Returned to Sender" \
  "MIME-Version: 1.0" 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"' "" \
  "--B" "Content-Type: text/plain" "" "v1@client.example: user unknown" \
  "--B" "Content-Type: message/delivery-status" "" "Reporting-MTA: dns; relay-a.test" "" \
  "Final-Recipient: rfc822; v1@client.example" "Action: failed" "Status: 5.1.1" \
  "Diagnostic-Code: smtp; 550 5.1.1 <v1@client.example>: Recipient address rejected: User unknown" "" "--B--" >"$T/dsn.eml"
out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --from '<>' --to "$VERP" --data "$T/dsn.eml" 2>&1 || true)
assert_contains "$out" "250 2.0.0 Ok: queued" "the DSN is accepted at the VERP address"
assert_eq bounced "$(wait_state "$ID1" v1@client.example bounced)" "... and marks v1@ bounced"
assert_eq sent "$(wait_state "$ID3" f1@client.example sent)" "... and nothing else"
assert_eq hard_bounce "$(sqlite3 -readonly -cmd '.timeout 5000' "$T/data/mailagent.db" "select reason from suppressions where address = 'v1@client.example'")" \
  "... v1@ is suppressed"
assert_eq "4 1" "$(mbox_count "$A") $(mbox_count "$D")" "relay a got the test and three messages, the default path one"
finish
