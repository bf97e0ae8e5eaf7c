#!/usr/bin/env bash
# outbound_hostile.sh - the SMTP client against peers that attack or fail it: a proxy in front of
# a real Postfix that strips STARTTLS from the EHLO reply (the modes that accept plaintext when TLS
# is not offered deliver through it, the required modes refuse), a server that injects a reply
# after its STARTTLS go-ahead (abandoned: nothing more is sent), and one that drops the connection
# in the middle of DATA (the recipient is deferred, never counted as sent).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
tls_certs "$T/certs"
PF=$T/pf
PF_PORT=$(free_port)
# port 465 for the last section: implicit TLS from the first octet (wrapper mode, on a loopback
# address of its own), declared before the start
pf_listen "$PF" "127.0.0.17:465" smtpd_tls_wrappermode=yes smtpd_tls_security_level=encrypt \
  "smtpd_tls_cert_file=$T/certs/valid.pem" "smtpd_tls_key_file=$T/certs/valid.key"
pf_dest "$PF" "$PF_PORT" "inet_interfaces = all" "smtpd_tls_security_level = may" "smtpd_tls_cert_file = $T/certs/valid.pem" \
  "smtpd_tls_key_file = $T/certs/valid.key"
# hostile MODE PORT [args]: starts tests/fixtures/smtp/hostile_smtp.py (stopped by the EXIT trap).
hostile() {
  /usr/bin/python3 "$FIXTURES_DIR/smtp/hostile_smtp.py" "$1" "$2" "$T/$1.log" "${@:3}" >>"$T/hostile.out" 2>&1 &
  CLEANUP_PIDS+=("$!")
  for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/"$2") 2>/dev/null && return 0; sleep 0.1; done
  fail "hostile $1 did not start"
}
STRIP=$(free_port); INJECT=$(free_port); DROP=$(free_port)
hostile strip "$STRIP" "$PF_PORT"
hostile inject "$INJECT"
hostile dropdata "$DROP"

ma_relay() { # PORT or HOST:PORT, TLS mode
  local target=$1
  [[ "$target" == *:* ]] || target=127.0.0.1:$target
  write_config "[relay]" "default_path_scope=any" "default_host=$target" "tls_mode=$2" "[tls]" "ca_file=$T/certs/ca.pem" \
    "[queue]" "connect_timeout=5" "command_timeout=10" "[storage]" "data_dir=$T/data"
}
ma_relay "$STRIP" off
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
send() {
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"from\":\"sales@acme.example\",\"to\":\"$1@client.example\",\"subject\":\"$1\",\"text\":\"x\"}"
  json_get "$T/body" 'd["id"]'
}

for mode in off preferred required preferred-verify required-verify; do
  ma_relay "$STRIP" "$mode"
  start_serve
  ID=$(send "strip-$mode")
  state=$(wait_settled "$ID" | cut -d' ' -f2)
  case $mode in required|required-verify) want=deferred ;; *) want=sent ;; esac
  assert_eq "$want" "$state" "STARTTLS stripped, mode $mode: $want"
  stop_serve
done
assert_eq 3 "$(mbox_count "$PF")" "Postfix got exactly the three plaintext copies (off, preferred, preferred-verify)"
assert_not_contains "$(cat "$T/strip.log" 2>/dev/null)" "client sent STARTTLS" "no STARTTLS sent where none was offered"

ma_relay "$INJECT" preferred
start_serve
ID=$(send inject)
assert_eq "inject@client.example deferred" "$(wait_settled "$ID")" "STARTTLS response injection: deferred"
curl -s -o "$T/inject.json" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID"
assert_contains "$(cat "$T/inject.json")" "response injection" "the reason names the injection"
# the client has given up (deferred); once it has closed the connection, all it sent is logged
for _ in $(seq 1 300); do sed -n '/^C: STARTTLS/,$p' "$T/inject.log" | grep -q "^closed by the client" && break; sleep 0.1; done
assert_contains "$(sed -n '/^C: STARTTLS/,$p' "$T/inject.log")" "closed by the client" "the client closed the tainted connection"
assert_eq "C: STARTTLS" "$(grep -A5 '^C: STARTTLS' "$T/inject.log" | grep '^C:' | tail -1)" \
  "the server saw nothing after STARTTLS (no MAIL, no handshake on the tainted connection)"
stop_serve

ma_relay "$DROP" off
start_serve
ID=$(send dropdata)
assert_eq "dropdata@client.example deferred" "$(wait_settled "$ID")" "connection dropped mid-DATA: deferred, not sent"
curl -s -o "$T/drop.json" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID"
assert_contains "$(cat "$T/drop.json")" "lost connection" "the reason says the connection was lost"
assert_contains "$(cat "$T/dropdata.log")" "dropped during DATA" "the server did drop it during DATA"
stop_serve

# port 465: implicit TLS from the first octet (Postfix in wrapper mode on a loopback address of
# its own), required mode
ma_relay 127.0.0.17:465 required
start_serve
ID=$(send implicit)
assert_eq "implicit@client.example sent" "$(wait_settled "$ID")" "port 465: delivered over implicit TLS"
/usr/bin/python3 - "$PF/mail/inbox" >"$T/implicit.txt" <<'PY'
import mailbox, sys
for m in mailbox.mbox(sys.argv[1]):
    if m["Subject"] == "implicit":
        print("tls" if "using TLS" in " ".join(m.get_all("Received") or []) else "plain")
PY
assert_eq tls "$(cat "$T/implicit.txt")" "Postfix received it over TLS (its Received: header)"
finish
