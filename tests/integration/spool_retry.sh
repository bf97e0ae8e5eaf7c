#!/usr/bin/env bash
# spool_retry.sh - acknowledged mail is never dropped by the pipeline. A helper process holds the
# archive database's write lock (BEGIN EXCLUSIVE) while mail arrives by SMTP; the test clock is
# moved past each backoff step, so the entries are tried well over the old limit of 10 attempts
# (about 11 minutes of a locked archive) in a few seconds: they stay in the spool, retrying, one
# log line per backoff step, and every one is archived once the lock is released. Then a message
# that fails permanently (a trigger in the archive refuses its subject) is parked as dead: ERROR
# line, mailagent_spool_dead on /metrics, `mailagent spool list|show` and GET /v1/spool, and
# `spool retry` (CLI and API) archives them once the cause is gone; others are purged (CLI, API).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup "[storage]" "busy_timeout=100" "[pipeline]" "retry_max_backoff=60"
ma settings acme forwarder_policy=any >/dev/null
clock_start 1800000000
start_serve

send() { swaks --server "127.0.0.1:$SMTP_PORT" --helo client.test --from customer@client.example --to "$INBOUND" \
  --header "Subject: $1" --body "body of $1" 2>&1; }
spool_json() { ma spool list --json "$@"; }
# first_attempts: attempts of the oldest spool entry (0 when the spool is empty)
first_attempts() { spool_json | json_get - 'd["items"][0]["attempts"] if d["items"] else 0'; }
# dead_gauge WANT: waits (bounded) until /metrics shows mailagent_spool_dead WANT; prints the line
dead_gauge() {
  local m=
  for _ in $(seq 1 300); do
    m=$(command curl -s "http://127.0.0.1:$API_PORT/metrics" | grep '^mailagent_spool_dead ' || true)
    [ "$m" = "mailagent_spool_dead $1" ] && break
    sleep 0.1
  done
  echo "$m"
}

# ---- a locked archive: retried past the old cap, then archived -------------------------------
hold_write_lock "$T/data/mailagent.db"

acked=0
for i in 1 2 3 4 5; do
  out=$(send "locked $i")
  [[ "$out" == *"<-  250 2.0.0 Ok: queued as"* ]] && acked=$((acked + 1))
done
assert_eq 5 "$acked" "five messages acknowledged while the archive is locked"

# Each round moves the clock past the longest backoff (60 s here) and waits for one more attempt
# (a generous cap: a round that saw none is reported, it is not silently skipped).
attempts=0
for round in $(seq 1 14); do
  clock_advance 61
  for _ in $(seq 1 600); do
    now=$(first_attempts)
    [ "$now" -gt "$attempts" ] && break
    sleep 0.1
  done
  [ "$now" -gt "$attempts" ] || fail "round $round: no new attempt within the cap (attempts still $attempts)"
  attempts=$now
done
echo "attempts while locked: $attempts (test clock moved $((14 * 61)) s)"
if [ "$attempts" -gt 10 ]; then pass "entries retried past the old cap of 10 attempts ($attempts)"; else fail "only $attempts attempts"; fi
spool_json >"$T/locked.json"
assert_eq "5 retrying" "$(json_get "$T/locked.json" 'str(len(d["items"])) + " " + " ".join(sorted(set(i["state"] for i in d["items"])))')" \
  "all five still in the spool, retrying"
assert_contains "$(json_get "$T/locked.json" 'd["items"][0]["last_error"]')" "locked" "the last error says why"
assert_eq 0 "$(db_query 'select count(*) from messages' 2>/dev/null || echo 0)" "nothing archived while locked"
steps=$(grep -c "archive unavailable" "$T/serve.log" || true)
if [ "$steps" -ge "$attempts" ] && [ "$steps" -le $((attempts + 2)) ]; then
  pass "one log line per backoff step ($steps lines, $attempts attempts)"
else
  fail "log lines per step: $steps lines for $attempts attempts"
fi
assert_eq 0 "$(grep -c "result=dead" "$T/serve.log" || true)" "a locked archive parks nothing as dead"

release_write_lock
clock_advance 61
assert_eq 5 "$(wait_archived 5 60)" "every acknowledged message archived after the lock is released"
for _ in $(seq 1 600); do [ "$(first_attempts)" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(spool_json | json_get - 'len(d["items"])')" "spool empty"
# the worker logs its recovery after the batch it archived: wait for the line, not a moment
for _ in $(seq 1 300); do grep -q "archive available again" "$T/serve.log" && break; sleep 0.1; done
assert_eq 1 "$(grep -c "archive available again" "$T/serve.log" || true)" "recovery logged once"

# ---- a permanent failure: dead, listed, shown, retried after the fix, purged (CLI and API) -----
. "$(dirname "$0")/api_lib.bash"
API=http://127.0.0.1:$API_PORT
ADMIN_KEY=$(ma apikey create --admin --json | json_get - 'd["secret"]')
ENT_KEY=$(ma apikey create acme --json | json_get - 'd["secret"]')
export API ADMIN_KEY
sqlite3 -cmd ".timeout 5000" "$T/data/mailagent.db" \
  "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.subject LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned by the test'); END;"
send "poison one" >/dev/null
send "healthy" >/dev/null
for n in two three four; do send "poison $n" >/dev/null; done
assert_eq 6 "$(wait_archived 6 60)" "a healthy message beside the poisoned ones is archived"
for _ in $(seq 1 600); do
  [ "$(ma spool list --dead --json | json_get - 'len(d["items"])')" = 4 ] && break
  sleep 0.1
done
ma spool list --dead --json >"$T/dead.json"
assert_eq 4 "$(json_get "$T/dead.json" 'len(d["items"])')" "four dead entries listed"
for i in 1 2 3 4; do eval "DEAD$i=\$(json_get \"\$T/dead.json\" 'd[\"items\"][$((i - 1))][\"id\"]')"; done
assert_contains "$(json_get "$T/dead.json" 'd["items"][0]["last_error"]')" "poisoned by the test" \
  "the dead entry keeps its error (the trigger's refusal, not a conflict another writer could explain)"
assert_eq 4 "$(grep -c "result=dead" "$T/serve.log")" "one ERROR line per dead entry"
assert_contains "$(grep "result=dead" "$T/serve.log" | head -1)" "ERROR" "logged at ERROR"
assert_eq 4 "$(ma spool list acme --dead --json | json_get - 'len(d["items"])')" "filter by enterprise slug"
assert_eq 0 "$(ma spool list --live --json | json_get - 'len(d["items"])')" "no live entry left"
assert_eq "2 True" "$(ma spool list --limit 2 --json | json_get - 'len(d["items"]), d["next_cursor"] is not None' | tr -d '(),')" \
  "pages of two"
out=$(ma spool list --dead)
assert_contains "$out" "$DEAD1" "text list shows the id"
assert_contains "$out" "dead" "text list shows the state"
out=$(ma spool show "$DEAD1")
assert_contains "$out" "state:       dead" "show: state"
assert_contains "$out" "rcpt to:     <$INBOUND>" "show: envelope"
assert_contains "$(ma spool show "$DEAD1" --raw)" "Subject: poison one" "show --raw: the message kept"
assert_status 2 ma spool show no-such-entry
assert_eq "mailagent_spool_dead 4" "$(dead_gauge 4)" "gauge mailagent_spool_dead on /metrics"

# the API (docs/api.md examples): admin key only
SPOOL_ID=$DEAD3; export SPOOL_ID
expect_example spool-list-dead 200 'len(d["items"]), d["items"][2]["id"] == "'"$DEAD3"'", d["next_cursor"]' "(4, True, None)"
expect_example spool-get 200 'd["state"], d["attempts"], d["rcpts"] == ["'"$INBOUND"'"]' "('dead', 1, True)"
expect_error GET /v1/spool "$ENT_KEY" - 403 forbidden "an enterprise key cannot see the spool"
expect_error GET "/v1/spool?state=odd" "$ADMIN_KEY" - 400 invalid_query "unknown state refused"
expect_error GET "/v1/spool?cursor=zz" "$ADMIN_KEY" - 400 bad_cursor "foreign cursor refused"
req GET "/v1/spool?enterprise=acme&state=dead&limit=1" "$ADMIN_KEY"
assert_eq "200 1" "$STATUS $(json_get "$T/body" 'len(d["items"])')" "API filter by enterprise, page of one"
expect_example spool-purge 204
expect_example spool-purge 404 'd["error"]["code"]' not_found

assert_status 2 ma spool purge "$(json_get "$T/locked.json" 'd["items"][0]["id"]')" # gone: archived
sqlite3 -cmd ".timeout 5000" "$T/data/mailagent.db" "DROP TRIGGER poison;"
out=$(ma spool retry "$DEAD1")
assert_eq "requeued $DEAD1" "$out" "CLI retry requeues a dead entry"
SPOOL_ID=$DEAD2
expect_example spool-retry 200 'd["state"], d["attempts"]' "('queued', 0)"
assert_eq 8 "$(wait_archived 8 60)" "both requeued entries are archived once the cause is fixed"
assert_eq 1 "$(db_query "select count(*) from messages where subject = 'poison one'")" "archived exactly once"
out=$(ma spool purge "$DEAD4")
assert_eq "purged $DEAD4" "$out" "CLI purge deletes the last dead entry"
assert_eq 0 "$(ma spool list --json | json_get - 'len(d["items"])')" "spool empty after retry and purge"
assert_eq "mailagent_spool_dead 0" "$(dead_gauge 0)" "gauge back to 0"
assert_status 2 ma spool retry no-such-entry
assert_status 2 ma spool list --dead --live

finish
