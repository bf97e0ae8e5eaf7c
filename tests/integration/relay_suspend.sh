#!/usr/bin/env bash
# relay_suspend.sh - a failing enterprise relay (issue 13): relay c is a private Postfix whose SMTP
# AUTH is Dovecot's auth service and whose certificate names 127.0.0.1 (an IP SAN: the relay is
# given as an IP address and AUTH forces required-verify). A failed `relay test` leaves it untested;
# it passes its test, then the server's password changes, so every session fails at AUTH and each
# message falls back to the default path (a second Postfix); two failures
# within one retry interval count once; the third counted failure of the enterprise's day (time
# zone Asia/Tokyo) suspends the relay until the next local midnight, with the webhook event
# relay.suspended and a mail to the admin_email setting through the default path. The next day
# (test clock), with the password fixed on the server, mail goes through relay c again.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
tls_certs "$T/certs"
(cd "$T/certs" &&
  openssl req -newkey rsa:2048 -nodes -keyout ip.key -out ip.csr -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" &&
  openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in ip.csr -out ip.pem -days 30 && chmod 644 ip.key) \
  >"$T/ipcert.log" 2>&1 || { cat "$T/ipcert.log"; fail "no IP certificate"; }
DV=$T/dovecot; mkdir -p "$DV"
echo "crm:{PLAIN}right-secret" >"$DV/users"
dovecot_auth "$DV"

dns_start "$FIXTURES_DIR/dns/example.test.zone"
C=$T/pf_c; C_PORT=$(free_port)
pf_dest "$C" "$C_PORT" "smtpd_tls_security_level = may" "smtpd_tls_cert_file = $T/certs/ip.pem" \
  "smtpd_tls_key_file = $T/certs/ip.key" "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
  "smtpd_sasl_path = $DV/auth" "smtpd_tls_auth_only = yes" "mynetworks = 192.0.2.1/32" \
  "smtpd_recipient_restrictions = permit_sasl_authenticated, reject" "myhostname = relay-c.test"
D=$T/pf_d; D_PORT=$(free_port)
pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none" "virtual_mailbox_domains = client.example acme.example" \
  "myhostname = default.test"

clock_start "$(date -d '2026-12-02T10:00:00Z' +%s)"   # 19:00 in Tokyo
write_config "[dns]" "servers=$DNS_SERVERS" "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" \
  "allowed_ports=$C_PORT" "[tls]" "ca_file=$T/certs/ca.pem" "[queue]" "retry_initial=300"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma domain dkim acme example.test --selector sel1 --import-key "$FIXTURES_DIR/dns/keys/sel1.key.pem" >/dev/null
ma domain verify acme example.test >"$T/verify.out" 2>&1 || true
ma settings acme timezone=Asia/Tokyo >/dev/null
ma settings acme admin_email=admin@acme.example >/dev/null
rc=0; out=$(ma settings acme timezone=Mars/Olympus 2>&1) || rc=$?
assert_eq 2 "$rc" "an unknown time zone is refused"
echo wrong-secret >"$T/password"
rc=0; out=$(ma relay add acme --name c --host 127.0.0.1 --port "$C_PORT" --tls-mode preferred --auth on --username crm \
  --password-file "$T/password" --filter "1:example.test" 2>&1) || rc=$?
assert_contains "$rc $out" "2 mailagent: relay add: tls_mode: AUTH needs required-verify" "AUTH with a weaker TLS mode is refused"
ma relay add acme --name c --host 127.0.0.1 --port "$C_PORT" --tls-mode preferred >/dev/null 2>&1 || true
ma relay add acme --name c --host 127.0.0.1 --port "$C_PORT" --tls-mode off --filter "1:example.test" >/dev/null
ma relay update acme c --auth on --username crm --password-file "$T/password" --json >"$T/c.json"
assert_eq "required-verify" "$(json_get "$T/c.json" 'd["tls_mode"]')" "AUTH on forces required-verify"
assert_not_contains "$(cat "$T/c.json")" "wrong-secret" "the password is never shown"
assert_not_contains "$(sqlite3 "$T/data/mailagent.db" 'select password_sealed from relays')" "wrong-secret" \
  "the password is stored sealed"
rc=0; ma relay test acme c --to probe@client.example >"$T/test1.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "relay test with the wrong password fails (exit 1)"
assert_contains "$(cat "$T/test1.out")" "TLS established with 127.0.0.1[127.0.0.1]:$C_PORT" "relay test: the TLS step"
assert_contains "$(cat "$T/test1.out")" "certificate verified for 127.0.0.1" "relay test: the certificate names the IP address"
assert_contains "$(cat "$T/test1.out")" "C:   AUTH PLAIN <credentials>" "relay test: the AUTH command, credentials hidden"
assert_contains "$(cat "$T/test1.out")" "S:   535 5.7.8" "relay test: the server's AUTH reply"
assert_not_contains "$(cat "$T/test1.out")" "$(printf '\0crm\0wrong-secret' | base64)" "relay test: no credentials printed"
assert_contains "$(cat "$T/test1.out")" "FAILED: authentication failed" "relay test: the failure"
assert_contains "$(cat "$T/test1.out")" "C:   QUIT" "relay test: QUIT after the refusal"
assert_eq untested "$(ma relay show acme c --json | json_get - 'd["status"]["state"]')" "a failed test leaves the relay untested"
# the relay passes its test while the server still knows the password it was given, then the
# server's password changes: every later session fails at AUTH
dovecot_auth_password "$DV" crm wrong-secret
ma relay test acme c --to probe@client.example >"$T/test-ok.out" 2>&1 || { cat "$T/test-ok.out"; fail "relay test c"; }
assert_eq ok "$(ma relay show acme c --json | json_get - 'd["status"]["state"]')" "relay test passed: relay c ok"
dovecot_auth_password "$DV" crm rotated-by-the-server-admin
start_serve

send() {
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"workflow\",\"from\":\"ops@example.test\",\"to\":[\"$1\"],\"subject\":\"s\",\"text\":\"hello\"}"
  json_get "$T/body" 'd["id"]'
}
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }

ID1=$(send f1@client.example)
assert_eq sent "$(wait_state "$ID1" f1@client.example sent)" "AUTH failed at relay c: the message fell back and was sent"
assert_eq 1 "$(wait_mbox "$D" 1)" "... it arrived by the default path"
ID2=$(send f2@client.example)
assert_eq sent "$(wait_state "$ID2" f2@client.example sent)" "a second failure within the retry interval: sent by the default path"
assert_contains "$(cat "$T/serve.log")" "not counted" "... and not counted as a second failure"
assert_eq "1" "$(db "select failures from relay_usage")" "one failure counted so far"
curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$ID1" >"$T/o1.json"
assert_contains "$(json_get "$T/o1.json" 'd["route"]["fallbacks"][0]["reason"]')" "535" \
  "the route records the fallback with the server's AUTH reply"
clock_advance 301
ID3=$(send f3@client.example)
assert_eq sent "$(wait_state "$ID3" f3@client.example sent)" "third message: fell back"
assert_eq "2 ok" "$(db "select failures from relay_usage") $(db "select status from relays")" \
  "two failures counted, a retry interval apart: not suspended yet"
clock_advance 301
ID4=$(send f4@client.example)
assert_eq sent "$(wait_state "$ID4" f4@client.example sent)" "fourth message: fell back"
for _ in $(seq 1 300); do [ "$(db "select status from relays")" == suspended ] && break; sleep 0.1; done
ma relay show acme c --json >"$T/c2.json"
assert_eq suspended "$(json_get "$T/c2.json" 'd["status"]["state"]')" "three failures in a day: relay c suspended"
assert_eq "2026-12-02T15:00:00Z" "$(json_get "$T/c2.json" 'd["status"]["until"]')" \
  "... until the next midnight in Tokyo (15:00 UTC)"
assert_eq 1 "$(db "select count(*) from outbox where event = 'relay.suspended'")" "webhook event relay.suspended queued"
assert_contains "$(db "select payload from outbox where event = 'relay.suspended'")" '"failures":3' "... with the count"
for _ in $(seq 1 600); do grep -q "relay c suspended" "$D/mail/inbox" 2>/dev/null && break; sleep 0.1; done
assert_contains "$(cat "$D/mail/inbox")" "Subject: mailagent: relay c suspended until 2026-12-02T15:00:00Z" \
  "the warning mail reached admin_email by the default path"
assert_eq 1 "$(grep -c '^Delivered-To: admin@acme.example' "$D/mail/inbox")" "... delivered to admin@acme.example"

# suspended: mail goes by the default path without trying relay c
ID5=$(send f5@client.example)
assert_eq sent "$(wait_state "$ID5" f5@client.example sent)" "while suspended: sent"
assert_contains "$(ma route explain acme --from ops@example.test --to x@client.example --type workflow)" \
  "matched but the relay suspended" "route explain: relay c is suspended"
assert_eq 1 "$(mbox_count "$C")" "nothing but the passed test ever reached relay c"
assert_eq 6 "$(wait_mbox "$D" 6)" "the default path has the five messages and the warning"
# Postfix's postlogd writes the maillog apart from the sessions it reports: wait for the lines
auths=$(wait_lines "$C/maillog" "authentication failed" 5)
assert_eq 5 "$auths" "relay c's log: five failed AUTH sessions (the test and four deliveries), none while suspended"

# the next day in Tokyo: the suspension is over; with the password fixed, mail goes through c
echo right-secret >"$T/password"
dovecot_auth_password "$DV" crm wrong-secret   # the server now accepts what mailagent sends
clock_set "$(date -d '2026-12-02T15:00:01Z' +%s)"
assert_eq ok "$(ma relay show acme c --json | json_get - 'd["status"]["state"]')" "next day: relay c is no longer suspended"
assert_contains "$(ma route explain acme --from ops@example.test --to x@client.example --type workflow)" \
  "x@client.example -> enterprise_relay" "next day: route explain chooses relay c again"
ma relay test acme c --to probe@client.example >"$T/test2.out" 2>&1
assert_contains "$(cat "$T/test2.out")" "S:   235 2.7.0" "relay test with the right password: AUTH accepted"
assert_contains "$(cat "$T/test2.out")" "C:   RCPT TO:<probe@client.example>" "relay test: RCPT"
assert_contains "$(cat "$T/test2.out")" "PASSED" "relay test passes"
assert_eq "ok" "$(ma relay show acme c --json | json_get - 'd["status"]["state"] + ("" if "test passed" in d["status"]["reason"] else "?")')" \
  "a passed test marks the relay ok"
assert_eq 2 "$(wait_mbox "$C" 2)" "the test message arrived at relay c"
ID6=$(send next@client.example)
assert_eq sent "$(wait_state "$ID6" next@client.example sent)" "next day: delivered"
assert_eq 3 "$(wait_mbox "$C" 3)" "next day: it arrived at relay c"
assert_eq 6 "$(mbox_count "$D")" "... and not by the default path"
finish
