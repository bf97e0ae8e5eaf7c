#!/usr/bin/env bash
# outbound_auth.sh - SMTP AUTH of the client against a real Postfix whose SASL is Dovecot's auth
# service: with TLS the client authenticates (PLAIN, then LOGIN) and delivers, and Postfix's log
# shows the TLS connection before the authenticated client; a wrong password defers with the
# server's 535; in mode off against a server that offers AUTH only over TLS, nothing is sent.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
tls_certs "$T/certs"
D=$T/dovecot; mkdir -p "$D"
echo "crm:{PLAIN}relay-secret" >"$D/users"
PF=$T/pf
dovecot_auth "$D"
[ -S "$D/auth" ] && pass "Dovecot's auth socket is up" || fail "no auth socket"

PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = may" "smtpd_tls_cert_file = $T/certs/valid.pem" \
  "smtpd_tls_key_file = $T/certs/valid.key" "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
  "smtpd_sasl_path = $D/auth" "smtpd_tls_auth_only = yes" "mynetworks = 192.0.2.1/32" \
  "smtpd_recipient_restrictions = permit_sasl_authenticated, reject"

echo relay-secret >"$T/password"
ma_relay() {
  write_config "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$PF_PORT" "tls_mode=$1" "auth_mechanism=$2" "username=crm" \
    "password_file=$3" "[storage]" "data_dir=$T/data"
}
ma_relay required plain "$T/password"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
send() {
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"from\":\"sales@acme.example\",\"to\":\"$1@client.example\",\"subject\":\"$1\",\"text\":\"x\"}"
  json_get "$T/body" 'd["id"]'
}

for mech in plain login; do
  ma_relay required "$mech" "$T/password"
  start_serve
  ID=$(send "auth-$mech")
  assert_eq "auth-$mech@client.example sent" "$(wait_settled "$ID")" "AUTH ${mech^^} over TLS: delivered"
  stop_serve
done
assert_eq 2 "$(grep -c 'sasl_method=' "$PF/maillog")" "Postfix logged two SASL-authenticated clients"
assert_contains "$(cat "$PF/maillog")" "sasl_method=LOGIN, sasl_username=crm" "... the second with LOGIN as crm"
# AUTH never before TLS: each authenticated session's TLS line comes first in Postfix's log
order=$(grep -E 'TLS connection established from|sasl_method=' "$PF/maillog" | sed -E 's/.*(TLS connection established|sasl_method).*/\1/' | tr '\n' ' ')
assert_eq "TLS connection established sasl_method TLS connection established sasl_method " "$order" \
  "TLS was up before each AUTH (Postfix's log order)"

echo wrong >"$T/wrong"
ma_relay required plain "$T/wrong"
start_serve
ID=$(send auth-wrong)
assert_eq "auth-wrong@client.example deferred" "$(wait_settled "$ID")" "a wrong password: deferred"
curl -s -o "$T/w.json" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID"
assert_contains "$(cat "$T/w.json")" "authentication failed: 535" "the server's 535 is kept"
stop_serve

ma_relay off plain "$T/password"
start_serve
ID=$(send auth-off)
assert_eq "auth-off@client.example deferred" "$(wait_settled "$ID")" "mode off, AUTH offered only after TLS: not sent"
curl -s -o "$T/o.json" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID"
assert_contains "$(cat "$T/o.json")" "does not offer AUTH PLAIN" "the reason names the missing AUTH"
assert_eq 2 "$(mbox_count "$PF")" "Postfix holds only the two authenticated copies"
finish
