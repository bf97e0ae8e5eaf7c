#!/usr/bin/env bash
# collector_serve.sh - `mailagent serve` collects bound mailboxes by itself on its collector threads:
# mail arriving in Dovecot is archived by the next poll (stored deadlines, [collector] interval), a
# mailbox whose server never answers (a silent TCP listener) does not hold up another one, and its
# failure is reported in its status with a backoff deadline.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
dovecot_user alice@example.test alice-secret
dovecot_user bob@example.test bob-secret
dovecot_start
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=3" "interval=1" "threads=2"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo alice-secret > "$T/alice.pw"
echo bob-secret > "$T/bob.pw"
ma mailbox bind acme alice@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/alice.pw" >/dev/null
ma mailbox bind acme bob@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/bob.pw" >/dev/null
BOB=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["email"]=="bob@example.test"][0]')

# bob's server becomes one that accepts and then says nothing
SILENT_PORT=$(free_port)
/usr/bin/python3 - "$SILENT_PORT" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
PY
CLEANUP_PIDS+=($!)
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

for _ in $(seq 1 100); do
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
stop_serve
assert_eq 2 "$(msgs)" "each message archived once"
finish
