#!/usr/bin/env bash
# webhook_dead.sh - webhook dead letters: an event the CRM refuses until its last attempt is parked
# as dead with a WARN line and the mailagent_webhook_dead gauge; `mailagent webhook dead list|show`
# and GET /v1/webhook/dead show it; `retry` (CLI, or POST :retry) sends it again and it is
# delivered once; `purge` (CLI, or DELETE) gives it up for good: it is no longer listed or sent,
# and its idempotency key still stops a duplicate.
. "$(dirname "$0")/lib/common.sh"

HOOK_PORT=$(free_port)
printf 'dead-letter-secret\n' > "$T/webhook.secret"
write_config "[webhook]" "url=http://127.0.0.1:$HOOK_PORT/hook" "secret_file=$T/webhook.secret" \
  "timeout=2" "max_backoff=1" "max_attempts=2"
ADMIN=$(ma init | grep -o 'maa_[0-9a-f]\{64\}')
ma enterprise add --name Acme --domain acme.example --slug acme >/dev/null
ma employee add acme homer@acme.example >/dev/null
ma records import acme "$FIXTURES_DIR/walkthrough/records.jsonl" >/dev/null

# The receiver refuses the first four requests (two events x two attempts), then accepts.
/usr/bin/python3 "$SRC_DIR/tests/support/webhook_receiver.py" --port "$HOOK_PORT" --port-file "$T/hook.port" \
  --log "$T/hook.log" --secret-file "$T/webhook.secret" --plan "500,500,500,500" &
CLEANUP_PIDS+=("$!")
for _ in $(seq 1 100); do [ -f "$T/hook.port" ] && break; sleep 0.05; done
start_serve

accepted() { [ -f "$T/hook.log" ] && grep -c '"outcome": "accepted"' "$T/hook.log" || echo 0; }
api() { curl -s -H "Authorization: Bearer $ADMIN" -X "$1" "http://127.0.0.1:$API_PORT$2"; }
dead_ids() { ma webhook dead list --json | python3 -c 'import json,sys; print(" ".join(e["id"] for e in json.load(sys.stdin)["items"]))'; }

cat > "$T/a.eml" <<'M'
From: Hank Scorpio <hank@globex.example>
To: homer@acme.example
Subject: First
Date: Wed, 04 Sep 2024 10:00:00 +0000
Message-ID: <dead-1@globex.example>

One.
M
sed -e 's/First/Second/' -e 's/dead-1/dead-2/' "$T/a.eml" > "$T/b.eml"
assert_status 0 ma ingest acme "$T/a.eml" "$T/b.eml"
for _ in $(seq 1 100); do [ "$(dead_ids | wc -w)" -ge 2 ] && break; sleep 0.1; done
ids=$(dead_ids)
assert_eq 2 "$(wc -w <<<"$ids")" "both message.archived events are dead after two refused attempts"
first=${ids%% *}; second=${ids##* }
assert_contains "$(cat "$T/serve.log")" "WARN webhook: event parked as dead" "a WARN line when an event dies"
metrics=$(curl -s "http://127.0.0.1:$API_PORT/metrics")
assert_contains "$metrics" "mailagent_webhook_dead 2" "the dead gauge on /metrics"
assert_contains "$metrics" "mailagent_webhook_dead_total 2" "the counter of events that died"

assert_status 0 ma webhook dead show "$first" --json
assert_eq "dead 2 message.archived" "$(json_get "$T/last.out" '"%s %d %s" % (d["state"], d["attempts"], d["event"])')" "show: state, attempts, event"
assert_contains "$(json_get "$T/last.out" 'd["payload"]["subject"]')" "First" "show carries the payload the CRM gets"
assert_eq "$ids" "$(api GET /v1/webhook/dead | python3 -c 'import json,sys; print(" ".join(e["id"] for e in json.load(sys.stdin)["items"]))')" \
  "GET /v1/webhook/dead lists the same events"
assert_eq "$first" "$(api GET "/v1/webhook/dead?limit=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["items"][0]["id"] if d["next_cursor"] else "no cursor")')" \
  "a page of one has a cursor"

# The CRM works again (plan spent): retry the first through the CLI.
assert_status 0 ma webhook dead retry "$first"
for _ in $(seq 1 100); do [ "$(accepted)" -ge 1 ] && break; sleep 0.1; done
assert_eq 1 "$(accepted)" "the retried event is delivered once"
assert_eq "$second" "$(dead_ids)" "only the other one is still dead"
# Purge the second over the API: it is gone and never sent.
assert_eq 204 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -X DELETE "http://127.0.0.1:$API_PORT/v1/webhook/dead/$second")" \
  "DELETE /v1/webhook/dead/{id} purges"
assert_eq "" "$(dead_ids)" "nothing is dead any more"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -X POST "http://127.0.0.1:$API_PORT/v1/webhook/dead/$second:retry")" \
  "a purged event cannot be retried"
assert_status 0 ma webhook dead show "$second" --json
assert_eq purged "$(json_get "$T/last.out" 'd["state"]')" "the purged event is kept as purged"
sleep 2
assert_eq 1 "$(accepted)" "the purged event was never sent"
assert_contains "$(curl -s "http://127.0.0.1:$API_PORT/metrics")" "mailagent_webhook_dead 0" "the gauge is back to 0"

# Bad input: an id that is not one, a retry of nothing.
assert_status 2 ma webhook dead retry nonsense
assert_status 2 ma webhook dead retry 999999
assert_status 2 ma webhook dead purge
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADMIN" "http://127.0.0.1:$API_PORT/v1/webhook/dead/abc")" "GET of a non-id is 404"
finish
