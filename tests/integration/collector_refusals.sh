#!/usr/bin/env bash
# collector_refusals.sh - what a binding refuses, against scripted IMAP servers (fake_imap.py):
# data injected after the STARTTLS go-ahead (CVE-2011-0411 class), a PREAUTH greeting (no TLS, no
# login), and the NetEase rule: its servers refuse folder access until the client sent ID, which
# the netease presets send and a custom binding does not.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=5"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test >/dev/null
echo secret > "$T/pw"

fake() { # MODE -> FAKE_PORT
  FAKE_PORT=$(free_port)
  /usr/bin/python3 "$FIXTURES_DIR/collector/fake_imap.py" "$FAKE_PORT" "$1" "$T/pki/server.pem" "$T/pki/server.key" "$T/fake.$1" &
  CLEANUP_PIDS+=($!)
  for _ in $(seq 1 50); do [ -f "$T/fake.$1" ] && break; sleep 0.1; done
}

fake inject
out=$(ma mailbox bind acme a@example.test --host localhost --port "$FAKE_PORT" --security starttls --password-file "$T/pw" 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "STARTTLS response injection: refused"
assert_contains "$out" "response injection" "the reason is named"
assert_not_contains "$(cat "$T/fake.inject.log")" "LOGIN" "no login was attempted"

fake preauth
out=$(ma mailbox bind acme a@example.test --host localhost --port "$FAKE_PORT" --security starttls --password-file "$T/pw" 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "PREAUTH greeting: refused"
assert_contains "$out" "PREAUTH" "PREAUTH named"

fake needid
out=$(ma mailbox bind acme a@example.test --host localhost --port "$FAKE_PORT" --security starttls --password-file "$T/pw" 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "a custom binding without ID: the server refuses the folders"
assert_contains "$out" "Unsafe Login" "the server's reply is quoted"
out=$(ma mailbox bind acme a@example.test --preset netease-enterprise --host localhost --port "$FAKE_PORT" \
      --security starttls --password-file "$T/pw" 2>&1)
assert_contains "$out" "bound for a@example.test" "the NetEase preset sends ID before touching folders"
log=$(cat "$T/fake.needid.log")
id_line=$(grep -n " ID " "$T/fake.needid.log" | tail -1 | cut -d: -f1)
list_line=$(grep -n " LIST " "$T/fake.needid.log" | tail -1 | cut -d: -f1)
if [ -n "$id_line" ] && [ "$id_line" -lt "$list_line" ]; then pass "ID came before LIST"; else fail "ID not before LIST: $log"; fi
assert_not_contains "$log" "secret" "the password never reached the log"
finish
