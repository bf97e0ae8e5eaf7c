#!/usr/bin/env bash
# relay_complaints.sh - the shared relay's complaint rate (issue 13): an enterprise's default-path
# recipients complaining above 0.3% of its last ones suspend its use of mailagent's own delivery.
# 400 recipients are delivered by the default path into a destination Postfix (each with its VERP
# return path); ARF reports (RFC 5965) about them are delivered to mailagent's inbound listener at
# those return paths. One complaint of 400 (0.25%) leaves the path open; the second (0.5%)
# suspends it at once with the webhook event default_path.suspended (cause complaints); `route
# status` shows it; the next message is refused and never reaches the destination; a second
# report about a recipient who complained already counts once (and is one message.complained).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
D=$T/pf_d; D_PORT=$(free_port)
pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none"
write_config "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" "default_path_scope=any" "bounce_domain=bounces.test"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
start_serve

send() { # RECIPIENT... -> HTTP status; the answer in $T/body
  local to; to=$(printf '"%s",' "$@"); to="[${to%,}]"
  curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"mass\",\"from\":\"news@acme.example\",\"to\":$to,\"subject\":\"news\",\"text\":\"hello\"}"
}
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
# return_path_of ADDRESS: the Return-Path of the copy delivered to ADDRESS (its VERP address)
return_path_of() {
  awk -v to="$1" '/^Return-Path:/ { rp = $2 } /^Delivered-To:/ && $2 == to { gsub(/[<>]/, "", rp); print rp; exit }' "$D/mail/inbox"
}
# complain ADDRESS: an ARF report about ADDRESS's copy, to its return path, through the inbound listener
complain() {
  local verp; verp=$(return_path_of "$1")
  [[ "$verp" == *@bounces.test ]] || { fail "no VERP return path for $1: [$verp]"; return; }
  sed -e "s/bx@bounces.test/$verp/" -e "s/ok@client.example/$1/" "$FIXTURES_DIR/bounce/arf_complaint.eml" >"$T/arf.eml"
  swaks --server 127.0.0.1 --port "$SMTP_PORT" --from '<>' --to "$verp" --data "$T/arf.eml" 2>&1 | grep -c "250 2.0.0 Ok: queued"
}
wait_events() { # EVENT N: waits (10 s at most) until the outbox holds N such events; prints the count
  local n=0
  for _ in $(seq 1 100); do n=$(db "select count(*) from outbox where event = '$1'"); [ "$n" -ge "$2" ] && break; sleep 0.1; done
  echo "$n"
}

for batch in 1 2 3 4; do
  rcpts=(); for i in $(seq 1 100); do rcpts+=("r$batch-$i@client.example"); done
  assert_eq 202 "$(send "${rcpts[@]}")" "batch $batch of 100 recipients queued for the default path"
done
assert_eq 400 "$(wait_mbox "$D" 400 40)" "the destination holds the 400 copies"
assert_contains "$(ma route status acme)" "0 complained (suspension above 0.3%)" "route status: no complaint yet"

assert_eq 1 "$(complain r1-7@client.example)" "a complaint about r1-7 is accepted at its return path"
assert_eq 1 "$(wait_events message.complained 1)" "... message.complained"
assert_contains "$(ma route status acme)" "last 400 recipients: 0 bounced (suspension above 5%), 1 complained" \
  "route status counts it: 1 of 400 (0.25%)"
assert_contains "$(ma route status acme)" "mailagent's own delivery: open" "0.25% is under 0.3%: still open"
assert_eq 0 "$(db "select count(*) from outbox where event = 'default_path.suspended'")" "... no suspension event"

assert_eq 1 "$(complain r1-7@client.example)" "a second report about the same recipient"
for _ in $(seq 1 100); do [ "$(grep -c 'complaints=1)' "$T/serve.log")" -ge 2 ] && break; sleep 0.1; done
assert_eq 2 "$(grep -c 'complaints=1)' "$T/serve.log")" "... is applied (the log shows both reports)"
assert_eq 1 "$(db "select count(*) from outbox where event = 'message.complained'")" "... one message.complained per recipient"
assert_contains "$(ma route status acme)" "1 complained" "... but the same recipient counts once"
assert_contains "$(ma route status acme)" "mailagent's own delivery: open" "... and the path stays open"

assert_eq 1 "$(complain r3-50@client.example)" "a complaint about another recipient, r3-50"
assert_eq 1 "$(wait_events default_path.suspended 1)" "2 of 400 (0.5%): webhook event default_path.suspended"
ev=$(db "select payload from outbox where event = 'default_path.suspended'")
assert_eq "complaints 400 2" "$(echo "$ev" | json_get - '"%s %s %s" % (d["cause"], d["recipients"], d["complained"])')" \
  "... with cause complaints and the counts"
out=$(ma route status acme)
assert_contains "$out" "SUSPENDED since" "route status: suspended"
assert_contains "$out" "complaint rate 0.50% over the last 400 recipients by mailagent's own delivery (limit 0.3%)" "... with the rate"
assert_eq 422 "$(send late@client.example)" "suspended: the next message is refused"
assert_contains "$(cat "$T/body")" "use of mailagent's own delivery is suspended" "... saying so"
assert_contains "$(cat "$T/body")" "complaint rate" "... and why"
sleep 0.5
assert_eq 400 "$(mbox_count "$D")" "the destination got nothing more"
assert_eq 0 "$(grep -c 'late@client.example' "$D/maillog")" "... the refused recipient never reached Postfix"
finish
