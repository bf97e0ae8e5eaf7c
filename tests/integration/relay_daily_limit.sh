#!/usr/bin/env bash
# relay_daily_limit.sh - an enterprise relay's daily limit counts at delivery (issue 13: "each
# recipient delivered through the relay counts one"). Relay l (a private Postfix that refuses
# reject550@client.example with 550 at RCPT) has a limit of 5; the default path is Postfix D.
# 8 messages: the refused one first (a bounce, not a delivery: it does not count), then 7 queued
# while serve is stopped, all routed to relay l (nothing delivered yet), and delivered together:
# the delivery thread reserves places against the limit, so exactly 5 arrive through the relay and
# the other 2 fall back to the default path with the reason; the relay's count is 5.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
L=$T/pf_l; L_PORT=$(free_port); pf_dest "$L" "$L_PORT" "smtpd_tls_security_level = none" "myhostname = relay-l.test"
D=$T/pf_d; D_PORT=$(free_port); pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none" "myhostname = default.test"
write_config "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" "default_path_scope=any" "allowed_ports=$L_PORT"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma relay add acme --name l --host 127.0.0.1 --port "$L_PORT" --tls-mode off --daily-limit 5 \
  --filter "1:acme.example:client.example" >/dev/null
ma relay test acme l --to probe@client.example >"$T/test.out" 2>&1 || { cat "$T/test.out"; fail "relay test"; }
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
sent_today() { ma relay show acme l --json | json_get - 'd["sent_today"]'; }
at() { local n; n=$(grep -c "^Delivered-To: $2" "$1/mail/inbox" 2>/dev/null) || true; echo "${n:-0}"; }
start_serve

ID0=$(ma send acme --from news@acme.example --to reject550@client.example --subject refused --text x | grep -o '[0-9a-z]\{20\}' | head -1)
assert_eq bounced "$(wait_state "$ID0" reject550@client.example bounced)" "the relay refuses reject550@ with 550: bounced"
assert_eq 1 "$(grep -c '550 5.1.1 <reject550@client.example>' "$L/maillog")" "... at the relay's RCPT"
assert_eq 0 "$(sent_today)" "a refused recipient does not count"

stop_serve
for i in 1 2 3 4 5 6 7; do
  IDS[$i]=$(ma send acme --from news@acme.example --to "m$i@client.example" --subject "m$i" --text x | grep -o '[0-9a-z]\{20\}' | head -1)
done
assert_eq 0 "$(sent_today)" "queueing counts nothing"
assert_eq "enterprise_relay" "$(ma queue show "${IDS[7]}" --json | json_get - 'd["route"]["groups"][0]["channel"]')" \
  "all seven are routed to relay l when queued (nothing delivered yet)"
start_serve
for i in 1 2 3 4 5 6 7; do
  assert_eq sent "$(wait_state "${IDS[$i]}" "m$i@client.example" sent)" "m$i delivered"
done
wait_mbox "$L" 6 >/dev/null; wait_mbox "$D" 2 >/dev/null   # Postfix writes the mailbox after its 250
relay=0; default=0
for i in 1 2 3 4 5 6 7; do relay=$((relay + $(at "$L" "m$i@client.example"))); default=$((default + $(at "$D" "m$i@client.example"))); done
assert_eq "5 2" "$relay $default" "exactly 5 through relay l, the other 2 by the default path"
assert_eq 6 "$(mbox_count "$L")" "relay l's mailbox: the test probe and the 5"
assert_eq 2 "$(mbox_count "$D")" "the default path's mailbox: the 2"
assert_eq 5 "$(sent_today)" "relay l counts 5 today"
over=""
for i in 1 2 3 4 5 6 7; do if [ -z "$over" ] && [ "$(at "$D" "m$i@client.example")" == 1 ]; then over=${IDS[$i]}; fi; done
ma queue show "$over" --json >"$T/over.json"
assert_contains "$(json_get "$T/over.json" 'd["route"]["fallbacks"][0]["reason"]')" "relay l reached its daily limit (5 on " \
  "an overflowing message's route records the fallback and why"
assert_eq mailagent_relay "$(json_get "$T/over.json" 'd["route"]["fallbacks"][0]["channel"]')" "... to the default path"
assert_eq 0 "$(db "select failures from relay_usage")" "the limit is not a failure of the relay"
assert_contains "$(ma route explain acme --from news@acme.example --to x@client.example)" \
  "matched but the relay reached its daily limit" "route explain: the limit is reached"
finish
