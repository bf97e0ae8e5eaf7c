#!/usr/bin/env bash
# relay_reputation.sh - the shared relay's reputation (issue 13): an enterprise's hourly quota on
# mailagent's own delivery path refuses a message that would cross it, with the reason; a hard-
# bounce rate above 5% over its last default-path recipients (the queue's bounced states, here 6
# of 100 refused with 550 by the destination Postfix) suspends its use of the path with the
# webhook event default_path.suspended; refused messages never reach the destination;
# `route resume` lifts the suspension.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
printf '/^bad[0-9]+@/ 550 5.1.1 no such user\n' >"$T/bad.re"
D=$T/pf_d; D_PORT=$(free_port)
pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none" \
  "smtpd_recipient_restrictions = check_recipient_access regexp:$T/bad.re, permit_mynetworks, reject_unauth_destination"
write_config "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" "default_path_scope=any"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma settings acme default_path_hourly_limit=150 >/dev/null
start_serve

send() { # RECIPIENT... -> HTTP status; the answer in $T/body
  local to; to=$(printf '"%s",' "$@"); to="[${to%,}]"
  curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"mass\",\"from\":\"news@acme.example\",\"to\":$to,\"subject\":\"news\",\"text\":\"hello\"}"
}
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }

rcpts=(); for i in $(seq 1 94); do rcpts+=("g$i@client.example"); done; for i in 1 2 3 4 5 6; do rcpts+=("bad$i@client.example"); done
assert_eq 202 "$(send "${rcpts[@]}")" "100 recipients within the hourly quota of 150: queued"
ID1=$(json_get "$T/body" 'd["id"]')
out=$(wait_settled "$ID1" 30)
assert_eq "94 6" "$(echo "$out" | grep -c ' sent$') $(echo "$out" | grep -c ' bounced$')" "94 delivered, 6 bounced with 550"
assert_eq 94 "$(wait_mbox "$D" 94)" "the destination holds the 94 copies"

more=(); for i in $(seq 1 60); do more+=("m$i@client.example"); done
assert_eq 422 "$(send "${more[@]}")" "60 more would cross the hourly quota: refused"
assert_contains "$(cat "$T/body")" "hourly quota of mailagent's own delivery (150 recipients" "... naming the quota"
assert_eq 0 "$(db "select count(*) from default_path_log where address like 'm%'")" "nothing of it was recorded"

assert_eq 202 "$(send one@client.example)" "one more recipient: queued (the rate is read when it is recorded)"
for _ in $(seq 1 30); do [ "$(db "select count(*) from default_path_suspensions")" == 1 ] && break; sleep 0.1; done
assert_eq 1 "$(db "select count(*) from outbox where event = 'default_path.suspended'")" "6% bounces: webhook event default_path.suspended"
assert_contains "$(ma route status acme)" "SUSPENDED since" "route status: suspended"
assert_contains "$(ma route status acme)" "hard-bounce rate 6.0% over the last 100" "... with the rate"
assert_eq 422 "$(send two@client.example)" "suspended: the next message is refused"
assert_contains "$(cat "$T/body")" "use of mailagent's own delivery is suspended" "... saying so"
rc=0; out=$(ma route explain acme --from news@acme.example --to x@client.example --type mass) || rc=$?
assert_contains "$out" "REFUSED" "route explain agrees"

assert_contains "$(ma route resume acme)" "resumed" "route resume lifts it"
assert_eq 202 "$(send three@client.example)" "after resume: queued"
ID3=$(json_get "$T/body" 'd["id"]')
assert_eq sent "$(wait_state "$ID3" three@client.example sent)" "... and delivered"
assert_eq 202 "$(send four@client.example)" "the rate starts afresh after resume: not suspended again"
assert_contains "$(ma route status acme)" "open" "route status: open"
assert_eq 97 "$(wait_mbox "$D" 97)" "the destination: 94 + one + three + four, none of the refused"
sleep 0.5
assert_eq 97 "$(mbox_count "$D")" "... and nothing more"
finish
