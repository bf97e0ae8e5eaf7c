#!/usr/bin/env bash
# rules_budget.sh - hostile rules do not stall other tenants (issue 9), end to end through
# `mailagent serve`: enterprise "hostile" has 10 rules `participants matches "(a+)+$"` and receives
# over SMTP a message with 3,000 such addresses (which once held the archive's write lock for
# 257 s); enterprise "calm" receives an ordinary message right after it. Both messages are
# archived; calm's rule creates its activity, the hostile message gets none; the exhausted budget is
# logged and counted once in /metrics (mailagent_rules_budget_exhausted_total).
. "$(dirname "$0")/lib/common.sh"

write_config
ma init >/dev/null
records='{"type":"contact","id":"con-1","name":"Hank","emails":["hank@globex.example"]}'
for slug in hostile calm; do
  ma enterprise add --name "$slug" --domain "$slug.example" --slug "$slug" --json > "$T/$slug.json"
  ma employee add "$slug" "bob@$slug.example" >/dev/null 2>&1
  echo "$records" | ma records import "$slug" - >/dev/null
done
for i in $(seq 1 10); do
  ma rules add hostile '{"name":"crowd '"$i"'","object_types":["contact"],
    "conditions":[{"field":"participants","op":"matches","value":"(a+)+$","case_sensitive":true}],
    "action":{"activity_type":"task"}}' >/dev/null
done
assert_eq 10 "$(ma rules list hostile --json | json_get - 'len(d["items"])')" "10 hostile rules stored"
ma rules add calm '{"name":"orders","object_types":["contact"],
  "conditions":[{"field":"subject","op":"contains","value":"order"}],"action":{"activity_type":"task"}}' >/dev/null

start_serve
/usr/bin/python3 - "$SMTP_PORT" "$(json_get "$T/hostile.json" 'd["inbound_address"]')" \
  "$(json_get "$T/calm.json" 'd["inbound_address"]')" <<'PY'
import smtplib, sys
port, hostile, calm = int(sys.argv[1]), sys.argv[2], sys.argv[3]
def crowd(first, n):
    return ",\r\n ".join("aaaaaaaaaaaaaaaaaaaa%d@x.ex" % i for i in range(first, first + n))
big = ("From: Hank <hank@globex.example>\r\nTo: %s\r\nCc: %s\r\nSubject: crowd\r\n"
       "Message-ID: <crowd@globex.example>\r\n\r\nHello.\r\n" % (crowd(0, 1500), crowd(1500, 1500)))
small = ("From: Hank <hank@globex.example>\r\nTo: bob@calm.example\r\nSubject: Order 7\r\n"
         "Message-ID: <order-7@globex.example>\r\n\r\nOrder number 7.\r\n")
s = smtplib.SMTP('127.0.0.1', port, timeout=30)
s.ehlo('mx.example')
s.sendmail('bob@hostile.example', [hostile], big.encode())
s.sendmail('bob@calm.example', [calm], small.encode())
s.quit()
PY
assert_eq 0 $? "both messages accepted over SMTP"

# kinds on each contact's timeline, newest first, once both are archived
calm_kinds= hostile_kinds=
for _ in $(seq 1 200); do
  calm_kinds=$(ma timeline --json calm contact con-1 2>/dev/null | json_get - '" ".join(i["kind"] for i in d["items"])' 2>/dev/null || true)
  hostile_kinds=$(ma timeline --json hostile contact con-1 2>/dev/null | json_get - '" ".join(i["kind"] for i in d["items"])' 2>/dev/null || true)
  [ "$calm_kinds" = "activity message" ] && [ -n "$hostile_kinds" ] && break
  sleep 0.1
done
assert_eq "activity message" "$calm_kinds" "the calm tenant's message is archived with its activity"
assert_eq "message" "$hostile_kinds" "the hostile message is archived anyway, with no activity"
metrics=$(curl -sS "http://127.0.0.1:$API_PORT/metrics")
assert_contains "$metrics" "mailagent_rules_budget_exhausted_total 1" "the exhausted budget is counted once"
assert_contains "$metrics" "mailagent_messages_archived_total 2" "two messages archived"
assert_contains "$(cat "$T/serve.log")" "rules budget exhausted units=10000000" "and logged with the units used"
stop_serve
finish
