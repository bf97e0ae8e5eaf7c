#!/usr/bin/env bash
# relay_temp_fallback.sh - the "4xx after retries" fallback of an enterprise relay (issue 13). Relay
# t (a private Postfix) answers 451 to every RCPT of the mail under test (t<N>@client.example; it
# accepts relay test's probe). Each message is deferred by the retry schedule (test clock), and on
# its third 451 (RELAY_TEMP_ATTEMPTS) falls back to the default path (Postfix D) and arrives there,
# the route recording the fallback. The relay's failed sessions follow the issue's rule: two
# messages falling back together count one failure; another, a retry interval later, a second;
# two failures do not suspend it.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
printf '/^t[0-9]+@client\\.example$/ 451 4.3.0 try again later\n' >"$T/temp.re"
R=$T/pf_t; R_PORT=$(free_port)
pf_dest "$R" "$R_PORT" "smtpd_tls_security_level = none" "myhostname = relay-t.test" \
  "smtpd_recipient_restrictions = check_recipient_access regexp:$T/temp.re, permit_mynetworks, reject_unauth_destination"
D=$T/pf_d; D_PORT=$(free_port)
pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none" "myhostname = default.test"

clock_start "$(date -d '2026-12-02T08:00:00Z' +%s)"
write_config "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" "default_path_scope=any" "allowed_ports=$R_PORT" \
  "[queue]" "retry_initial=300" "retry_max=3600"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma relay add acme --name t --host 127.0.0.1 --port "$R_PORT" --tls-mode off --filter "1:acme.example:client.example" >/dev/null
ma relay test acme t --to probe@client.example >"$T/test.out" 2>&1 || { cat "$T/test.out"; fail "relay test"; }
start_serve

send() {
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"mass\",\"from\":\"news@acme.example\",\"to\":[\"$1\"],\"subject\":\"s\",\"text\":\"hello\"}"
  json_get "$T/body" 'd["id"]'
}
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
# attempts ID: "<attempts> <state>" of the message's one recipient
attempts() { curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$1" | json_get - '"%d %s" % (d["recipients"][0]["attempts"], d["recipients"][0]["state"])'; }
wait_attempts() { # ID N: waits until the recipient's attempt N ended deferred; prints its attempts
  local got=""
  for _ in $(seq 1 100); do got=$(attempts "$1"); [ "$got" == "$2 deferred" ] && break; sleep 0.1; done
  echo "${got%% *}"
}
rejects() { grep -c "451 4.3.0 <$1>" "$R/maillog" || true; }

ID1=$(send t1@client.example); ID2=$(send t2@client.example)
assert_eq deferred "$(wait_state "$ID1" t1@client.example deferred)" "t1: the relay's 451 defers it"
assert_eq deferred "$(wait_state "$ID2" t2@client.example deferred)" "t2: the same"
assert_eq "1 1" "$(wait_attempts "$ID1" 1) $(wait_attempts "$ID2" 1)" "one attempt each"
clock_advance 300
assert_eq "2 2" "$(wait_attempts "$ID1" 2) $(wait_attempts "$ID2" 2)" \
  "after the retry interval: a second attempt each, through the relay again"
assert_eq deferred "$(wait_state "$ID1" t1@client.example deferred)" "... deferred again"
assert_eq "0 0" "$(mbox_count "$D") $(db "select count(*) from relay_usage where failures > 0")" \
  "nothing on the default path yet, no failure counted"
clock_advance 600
assert_eq sent "$(wait_state "$ID1" t1@client.example sent)" "t1: the third 451 falls back, and it is sent"
assert_eq sent "$(wait_state "$ID2" t2@client.example sent)" "t2: the same"
assert_eq 2 "$(wait_mbox "$D" 2)" "both arrived by the default path"
assert_eq "1 1" "$(grep -c '^Delivered-To: t1@client.example' "$D/mail/inbox") $(grep -c '^Delivered-To: t2@client.example' "$D/mail/inbox")" \
  "... t1 and t2 each once"
assert_eq "3 3" "$(rejects t1@client.example) $(rejects t2@client.example)" "the relay refused each three times"
assert_eq 1 "$(mbox_count "$R")" "the relay's mailbox holds only relay test's probe"
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID1" >"$T/o1.json"
assert_eq "mailagent_relay" "$(json_get "$T/o1.json" 'd["route"]["fallbacks"][0]["channel"]')" "the route records the fallback"
assert_contains "$(json_get "$T/o1.json" 'd["route"]["fallbacks"][0]["reason"]')" "451 4.3.0" "... with the relay's reply"
assert_eq 1 "$(db "select failures from relay_usage")" "two messages falling back together: one failed session"

ID3=$(send t3@client.example)
assert_eq deferred "$(wait_state "$ID3" t3@client.example deferred)" "t3: deferred by the relay"
assert_eq 1 "$(wait_attempts "$ID3" 1)" "t3: one attempt"
clock_advance 300
assert_eq 2 "$(wait_attempts "$ID3" 2)" "t3: a second"
clock_advance 600
assert_eq sent "$(wait_state "$ID3" t3@client.example sent)" "t3: fell back after its third 451 and was sent"
assert_eq 1 "$(grep -c '^Delivered-To: t3@client.example' "$D/mail/inbox")" "... by the default path"
assert_eq "2 ok" "$(db "select failures from relay_usage") $(db "select status from relays")" \
  "a retry interval later: a second failed session; not suspended at two"
assert_eq 0 "$(db "select count(*) from outbox where event = 'relay.suspended'")" "no relay.suspended"
finish
