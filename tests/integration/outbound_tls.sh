#!/usr/bin/env bash
# outbound_tls.sh - each of the five TLS modes against each kind of server, in one table: a real
# Postfix listening on five loopback addresses (no STARTTLS; STARTTLS with a certificate from the
# test CA that is valid, for the wrong name, expired; self-signed), reached by MX delivery (the
# name checked is the MX host name). Whether a message arrived, and whether over TLS, is read from
# the receiving side: the Received: header Postfix wrote (smtpd_tls_received_header).
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
dns_start "$FIXTURES_DIR/dns/tls.test.zone"
tls_certs "$T/certs"
PF=$T/pf
PF_PORT=$(free_port)
KINDS="plain valid wrongname expired selfsigned"
i=12
for k in $KINDS; do
  if [ "$k" == plain ]; then pf_listen "$PF" "127.0.0.$i:$PF_PORT" smtpd_tls_security_level=none
  else pf_listen "$PF" "127.0.0.$i:$PF_PORT" smtpd_tls_security_level=may "smtpd_tls_cert_file=$T/certs/$k.pem" \
    "smtpd_tls_key_file=$T/certs/$k.key"; fi
  i=$((i + 1))
done
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none" "inet_interfaces = all" \
  "virtual_mailbox_domains = client.example $(for k in $KINDS; do printf '%s.tls.test ' "$k"; done)"

ma_mode() {
  write_config "[dns]" "servers=$DNS_SERVERS" "[relay]" "default_path_scope=any" "mx_port=$PF_PORT" "tls_mode=$1" "[tls]" "ca_file=$T/certs/ca.pem" \
    "[queue]" "connect_timeout=5" "command_timeout=10" "[storage]" "data_dir=$T/data"
}
ma_mode off
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')

# mode -> the kinds it delivers to (the others are deferred, nothing sent)
declare -A WANT=(
  [off]="plain valid wrongname expired selfsigned"
  [preferred]="plain valid wrongname expired selfsigned"
  [required]="valid wrongname expired selfsigned"
  [preferred-verify]="plain valid"
  [required-verify]="valid"
)
for mode in off preferred required preferred-verify required-verify; do
  ma_mode "$mode"
  start_serve
  to=$(for k in $KINDS; do printf '"%s@%s.tls.test",' "$mode" "$k"; done)
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"from\":\"sales@acme.example\",\"to\":[${to%,}],\"subject\":\"mode $mode\",\"text\":\"x\"}"
  ID=$(json_get "$T/body" 'd["id"]')
  wait_settled "$ID" >"$T/states"
  got=""
  for k in $KINDS; do grep -qx "$mode@$k.tls.test sent" "$T/states" && got="$got $k"; done
  # what never arrives must have been refused for the stated reason, never sent in plaintext
  assert_eq "${WANT[$mode]}" "${got# }" "mode $mode delivers to: ${WANT[$mode]}"
  curl -s -o "$T/$mode.json" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID"
  stop_serve
done

# the receiving side: which copies arrived over TLS (Postfix's Received: header). Postfix delivers
# to the mailbox after its own 250, so wait (bounded) until every copy mailagent saw accepted is in.
want_copies=0
for mode in off preferred required preferred-verify required-verify; do
  for _ in ${WANT[$mode]}; do want_copies=$((want_copies + 1)); done
done
for _ in $(seq 1 100); do
  [ "$(grep -c '^Delivered-To: ' "$PF/mail/inbox" 2>/dev/null || echo 0)" -ge "$want_copies" ] && break
  sleep 0.1
done
/usr/bin/python3 - "$PF/mail/inbox" >"$T/received.txt" <<'PY'
import mailbox, sys
for m in mailbox.mbox(sys.argv[1]):
    rcvd = " ".join(m.get_all("Received") or [])
    print(m["Delivered-To"], "tls" if "using TLS" in rcvd else "plain")
PY
sort -o "$T/received.txt" "$T/received.txt"
expected=$(for mode in off preferred required preferred-verify required-verify; do
  for k in ${WANT[$mode]}; do
    if [ "$mode" == off ] || [ "$k" == plain ]; then echo "$mode@$k.tls.test plain"; else echo "$mode@$k.tls.test tls"; fi
  done; done | sort)
assert_eq "$expected" "$(cat "$T/received.txt")" "Postfix received exactly those copies, over TLS unless off or plain"
assert_contains "$(cat "$T/required.json")" "TLS required (mode required) but the server does not offer STARTTLS" \
  "required: the reason for the plain server"
assert_contains "$(cat "$T/required-verify.json")" "certificate has expired" "required-verify: expired named"
assert_contains "$(cat "$T/required-verify.json")" "self-signed certificate" "required-verify: self-signed named"
assert_contains "$(cat "$T/preferred-verify.json")" "hostname mismatch" "preferred-verify: wrong name named"
finish
