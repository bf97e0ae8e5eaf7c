#!/usr/bin/env bash
# webhook_serve.sh - `mailagent serve` delivers message.archived and activity.created events to a
# real HTTP receiver on loopback (tests/support/webhook_receiver.py, which verifies the signature
# and the 5-minute window): a 500 is retried; while the receiver is down events wait and arrive
# once it is back; events queued while serve is stopped are delivered after it restarts; every
# idempotency key is accepted exactly once, and each enterprise's events arrive in outbox order.
. "$(dirname "$0")/lib/common.sh"

HOOK_PORT=$(free_port)
printf 'integration-secret\n' > "$T/webhook.secret"
write_config "[webhook]" "url=http://127.0.0.1:$HOOK_PORT/hook" "secret_file=$T/webhook.secret" \
  "timeout=2" "max_backoff=2" "max_attempts=50"
ma init >/dev/null
ma enterprise add --name Acme --domain acme.example --slug acme >/dev/null
ma employee add acme homer@acme.example >/dev/null
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null
ma rules add acme '{"name":"All contacts","object_types":["contact"],"action":{"activity_type":"email"}}' >/dev/null

RECEIVER_PID=
start_receiver() {
  rm -f "$T/hook.port"
  /usr/bin/python3 "$SRC_DIR/tests/support/webhook_receiver.py" --port "$HOOK_PORT" --port-file "$T/hook.port" \
    --log "$T/hook.log" --secret-file "$T/webhook.secret" --plan "$1" &
  RECEIVER_PID=$!
  CLEANUP_PIDS+=("$RECEIVER_PID")
  for _ in $(seq 1 100); do [ -f "$T/hook.port" ] && return 0; sleep 0.05; done
  fail "receiver did not start"
}
stop_receiver() { kill "$RECEIVER_PID" 2>/dev/null || true; wait "$RECEIVER_PID" 2>/dev/null || true; }

# accepted KEY-PREFIX: number of accepted requests (all receivers so far) whose key starts with it.
accepted() {
  [ -f "$T/hook.log" ] || { echo 0; return; }
  /usr/bin/python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    if not line.endswith("\n"):
        continue  # being written right now
    r = json.loads(line)
    if r["outcome"] == "accepted" and r["key"].startswith(sys.argv[2]): n += 1
print(n)' "$T/hook.log" "$1"
}
wait_accepted() { # PREFIX COUNT SECONDS
  for _ in $(seq 1 $(($3 * 10))); do [ "$(accepted "$1")" -ge "$2" ] && return 0; sleep 0.1; done
  return 1
}

start_receiver "500"
start_serve

assert_status 0 ma ingest acme "$FIXTURES_DIR/walkthrough/quote-request.eml" --json
m1=$(json_get "$T/last.out" 'd["id"]')
n1=$(json_get "$T/last.out" 'd["activities_created"]')
if [ "$n1" -ge 1 ]; then pass "activities created ($n1)"; else fail "no activity created"; fi
if wait_accepted "" $((n1 + 1)) 30; then pass "events delivered after a 500"; else fail "events not delivered"; fi
assert_eq 1 "$(accepted "message.archived:$m1")" "message.archived once"
assert_eq "$n1" "$(accepted "activity.created:$m1:")" "activity.created once per record"

# The CRM goes down: the next events wait, then arrive when it is back.
stop_receiver
cat > "$T/m2.eml" <<'M'
From: Hank Scorpio <hank@globex.example>
To: homer@acme.example
Subject: Follow-up
Date: Wed, 04 Sep 2024 10:00:00 +0000
Message-ID: <follow-up@globex.example>

Any news?
M
assert_status 0 ma ingest acme "$T/m2.eml" --json
m2=$(json_get "$T/last.out" 'd["id"]')
sleep 3
assert_eq 0 "$(accepted "message.archived:$m2")" "nothing accepted while the CRM is down"
start_receiver ""
if wait_accepted "message.archived:$m2" 1 30; then pass "delivered once the CRM is back"; else fail "not delivered after recovery"; fi

# Events queued while serve is stopped go out after it restarts.
stop_serve
cat > "$T/m3.eml" <<'M'
From: Hank Scorpio <hank@globex.example>
To: homer@acme.example
Subject: Still there?
Date: Thu, 05 Sep 2024 10:00:00 +0000
Message-ID: <still-there@globex.example>

Hello?
M
assert_status 0 ma ingest acme "$T/m3.eml" --json
m3=$(json_get "$T/last.out" 'd["id"]')
start_serve
if wait_accepted "message.archived:$m3" 1 30; then pass "delivered after serve restarted"; else fail "not delivered after restart"; fi
wait_accepted "activity.created:$m3:" 1 10 || true

# Exactly once per key; no forged, stale or duplicate deliveries; outbox order per enterprise.
/usr/bin/python3 - "$T/hook.log" > "$T/check.txt" <<'PY'
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
acc = [r for r in rows if r["outcome"] == "accepted"]
counts = collections.Counter(r["key"] for r in acc)
print("dups", sum(1 for c in counts.values() if c > 1))
print("bad", sum(1 for r in rows if r["outcome"] in ("bad_signature", "stale", "duplicate")))
print("headers", all(r["content_type"] == "application/json" and r["event"] == json.loads(r["body"])["event"] for r in acc))
PY
assert_contains "$(cat "$T/check.txt")" "dups 0" "each key accepted exactly once"
assert_contains "$(cat "$T/check.txt")" "bad 0" "signatures valid and fresh"
assert_contains "$(cat "$T/check.txt")" "headers True" "content type and event header"
order=$(/usr/bin/python3 -c '
import json, sys
ids = []
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["outcome"] == "accepted":
        m = r["key"].split(":")[1]
        if not ids or ids[-1] != m: ids.append(m)
print(" ".join(ids))' "$T/hook.log")
assert_eq "$m1 $m2 $m3" "$order" "events arrive in outbox order, mail by mail"

stop_serve
finish
