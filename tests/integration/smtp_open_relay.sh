#!/usr/bin/env bash
# smtp_open_relay.sh - mailagent never relays: every open-relay form of issue 3 gets 5xx from a real
# client (swaks), and nothing is spooled. Case variants of our own domain reach our own address
# (delivered here, never elsewhere).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup
start_serve
local_part=${INBOUND%@*}

variants=(
  "victim@elsewhere.example"
  "victim%elsewhere.example@inbound.test"
  "\"victim@elsewhere.example\"@inbound.test"
  "@inbound.test:victim@elsewhere.example"
  "elsewhere.example!victim@inbound.test"
  "victim@elsewhere.example@inbound.test"
  "victim@[127.0.0.1]"
  "$local_part@[127.0.0.1]"
  "$local_part@inbound.test."
  "$local_part@INBOUND.TEST.elsewhere.example"
  "$local_part%elsewhere.example@inbound.test"
  "\"$local_part\"@inbound.test"
)
for v in "${variants[@]}"; do
  out=$(swaks --server "127.0.0.1:$SMTP_PORT" --from alice@acme.example --to "$v" --quit-after RCPT 2>&1 || true)
  if echo "$out" | grep -q '^<\*\* 5[0-9][0-9] 5\.'; then pass "relay form refused 5xx: $v"; else fail "relay form not refused: $v: $(echo "$out" | grep RCPT -A1 | tail -1)"; fi
done
out=$(swaks --server "127.0.0.1:$SMTP_PORT" --from alice@acme.example --to "$(echo "$local_part" | tr a-z A-Z)@Inbound.TEST" --header "Subject: case" 2>&1)
assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "case variant of our own address is ours"
assert_eq 1 "$(wait_archived 1)" "only our own address got a message"
assert_eq "0" "$(sqlite3 -readonly "$T/data/spool.db" "select count(*) from spool where rcpts like '%elsewhere%'")" "nothing for elsewhere in the spool"

stop_serve
finish
