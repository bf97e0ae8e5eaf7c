#!/usr/bin/env bash
# collector_serve.sh - `mailagent serve` collects bound mailboxes by itself on its collector threads:
# mail arriving in Dovecot is archived by the next poll (stored deadlines, [collector] interval), a
# mailbox whose server never answers (a silent TCP listener) does not hold up another one, and its
# failure is reported in its status with a backoff deadline. Also the HTTP API of /v1/mailboxes:
# a binding is checked on a collector thread (202, then active or rejected with the step named and
# its password dropped), list, show, pause, resume, sync, delete, errors in the API's shape.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_user bob@example.test bob-secret
dovecot_user dave@example.test dave-secret
dovecot_start
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=8" "interval=1" "threads=2"
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --slug acme --domain example.test --json | json_get - 'd["api_key"]["secret"]')
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"
echo bob-secret > "$T/bob.pw"
ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/alice.pw" >/dev/null
ma mailbox bind acme bob@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/bob.pw" >/dev/null
BOB=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["email"]=="bob@example.test"][0]')

# bob's server becomes one that accepts and then says nothing
SILENT_PORT=$(free_port)
silent_listener "$SILENT_PORT"
sqlite3 "$T/data/mailagent.db" "update mailboxes set host = '127.0.0.1', security = 'starttls', port = $SILENT_PORT where id = '$BOB'"

start_serve
msgs() { sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from messages"; }
wait_msgs() { for _ in $(seq 1 100); do [ "$(msgs)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }

make_message "$T/a1.eml" "C1 <c1@client.test>" alice@example.test "First" "a1@client.test"
imap_append alice@example.test alice-secret INBOX "$T/a1.eml"
if wait_msgs 1; then pass "serve pulled the first message by itself"; else fail "first message not archived"; fi
make_message "$T/a2.eml" "C2 <c2@client.test>" alice@example.test "Second" "a2@client.test"
imap_append alice@example.test alice-secret INBOX "$T/a2.eml"
if wait_msgs 2; then pass "new mail archived at the next poll, while bob's server hangs"; else fail "second message not archived"; fi

for _ in $(seq 1 200); do
  err=$(ma mailbox show acme "$BOB" --json | json_get - 'd["last_error"] or ""')
  [ -n "$err" ] && break; sleep 0.1
done
assert_contains "$err" "greeting" "the silent server's failure names the step"
ma mailbox show acme "$BOB" --json > "$T/bob.json"
assert_eq active "$(json_get "$T/bob.json" 'd["state"]')" "a connection failure keeps the binding active (retried)"
assert_eq True "$(json_get "$T/bob.json" 'd["next_attempt_at"] is not None')" "the next attempt is scheduled"
curl -s "http://127.0.0.1:$API_PORT/metrics" > "$T/metrics"
assert_contains "$(cat "$T/metrics")" "mailagent_mailbox_fetched_total 2" "metrics count the pulled messages"
assert_contains "$(cat "$T/metrics")" "mailagent_mailbox_sync_failed_total" "metrics count failed syncs"

# ---- the HTTP API -------------------------------------------------------------------------------
# (Dovecot delays logins from an address after a failed one, hence the 8 s session timeout)
api() { # METHOD PATH [BODY] -> prints "STATUS BODY"
  curl -s -o "$T/api.out" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "http://127.0.0.1:$API_PORT$2"
  printf ' '; cat "$T/api.out"
}
wait_state() { # ID -> prints the first state that is not "verifying"
  local s
  for _ in $(seq 1 300); do
    s=$(api GET "/v1/mailboxes/$1" | cut -d' ' -f2- | json_get - 'd["state"]')
    [ "$s" != verifying ] && { echo "$s"; return; }
    sleep 0.1
  done
  echo "$s"
}
out=$(api POST /v1/mailboxes "{\"email\":\"dave@example.test\",\"host\":\"localhost\",\"port\":$IMAPS_PORT,\"password\":\"not-daves\"}")
assert_eq 202 "${out%% *}" "POST /v1/mailboxes answers 202 (checked off the loop)"
assert_not_contains "$out" "not-daves" "the password is not echoed"
BAD=$(echo "${out#* }" | json_get - 'd["id"]')
assert_eq rejected "$(wait_state "$BAD")" "a wrong password ends rejected"
assert_contains "$(api GET "/v1/mailboxes/$BAD")" "auth:" "the failed step is named in last_error"
assert_eq "" "$(sqlite3 -readonly "$T/data/mailagent.db" "select secret_sealed from mailboxes where id = '$BAD'")" \
  "a rejected binding keeps no password"
api DELETE "/v1/mailboxes/$BAD" >/dev/null
out=$(api POST /v1/mailboxes "{\"email\":\"dave@example.test\",\"host\":\"localhost\",\"port\":$IMAPS_PORT,\"password\":\"dave-secret\",\"folders\":[\"INBOX\"]}")
assert_eq 202 "${out%% *}" "POST with the right password"
DAVE=$(echo "${out#* }" | json_get - 'd["id"]')
assert_eq active "$(wait_state "$DAVE")" "verified on a collector thread: active"
out=$(api POST /v1/mailboxes '{"host":"localhost"}')
assert_eq 422 "${out%% *}" "a binding without an address: 422"
assert_eq invalid "$(echo "${out#* }" | json_get - 'd["error"]["code"]')" "error in the API's shape"
out=$(api POST /v1/mailboxes '{"email":"x@example.test","password":"p","colour":"red"}')
assert_eq 400 "${out%% *}" "an unknown field: 400"
out=$(api GET /v1/mailboxes)
assert_eq 200 "${out%% *}" "GET /v1/mailboxes"
assert_eq 3 "$(echo "${out#* }" | json_get - 'len(d["items"])')" "three bindings listed"
assert_eq paused "$(api POST "/v1/mailboxes/$DAVE:pause" | cut -d' ' -f2- | json_get - 'd["state"]')" ":pause"
out=$(api POST "/v1/mailboxes/$DAVE:sync")
assert_eq 409 "${out%% *}" ":sync of a paused mailbox: 409"
assert_eq active "$(api POST "/v1/mailboxes/$DAVE:resume" | cut -d' ' -f2- | json_get - 'd["state"]')" ":resume"
out=$(api POST "/v1/mailboxes/$DAVE:sync")
assert_eq 202 "${out%% *}" ":sync: due now"
out=$(api DELETE "/v1/mailboxes/$DAVE")
assert_eq 204 "${out%% *}" "DELETE unbinds"
out=$(api GET "/v1/mailboxes/$DAVE")
assert_eq 404 "${out%% *}" "gone afterwards"
stop_serve
assert_eq 2 "$(msgs)" "each message archived once"
finish
