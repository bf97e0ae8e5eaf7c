#!/usr/bin/env bash
# outbound_dkim.sh - every message mailagent sends is signed with the domain's active DKIM key
# (agent/domains' signer, called once at queueing): the key of example.test is imported, verified
# against nsd, and the copy Postfix delivered verifies with python3-dkim (the key read from the
# zone's record, as DNS would serve it). A message from a domain without a key leaves unsigned.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
dns_start "$FIXTURES_DIR/dns/example.test.zone"
PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none"
write_config "[dns]" "servers=$DNS_SERVERS" "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$PF_PORT" "tls_mode=off"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma domain dkim acme example.test --selector sel1 --import-key "$FIXTURES_DIR/dns/keys/sel1.key.pem" >/dev/null
ma domain verify acme example.test >"$T/verify.out" 2>&1 || true
assert_contains "$(ma domain show acme example.test)" "sel1" "the imported key is listed"
start_serve

send() {
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"from\":\"$1\",\"to\":\"ok@client.example\",\"subject\":\"Signed ümlaut\",\"text\":\"Line one.\\n\\nLine three, long enough to be folded by nobody.\\n\"}"
  json_get "$T/body" 'd["id"]'
}
ID=$(send sales@example.test)
assert_eq sent "$(wait_state "$ID" ok@client.example sent)" "the signed message was delivered"
assert_eq 1 "$(wait_mbox "$PF" 1)" "Postfix holds the copy"
PUB=$(cat "$FIXTURES_DIR/dns/keys/sel1.pub.b64")
verify() {
  # the n-th message of the mbox, as delivered (Postfix's Return-Path/Delivered-To/Received on top)
  /usr/bin/python3 - "$PF/mail/inbox" "$1" "$PUB" <<'PY'
import dkim, mailbox, sys
msgs = list(mailbox.mbox(sys.argv[1]))
raw = msgs[int(sys.argv[2])].as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
record = b"v=DKIM1; k=rsa; p=" + sys.argv[3].encode()
def dnsfunc(name, timeout=5):
    return record if name == b"sel1._domainkey.example.test." else None
print("signed" if b"DKIM-Signature:" in raw else "unsigned", "pass" if dkim.verify(raw, dnsfunc=dnsfunc) else "fail")
PY
}
assert_eq "signed pass" "$(verify 0)" "python3-dkim verifies the delivered copy"
ID=$(send sales@acme.example)
assert_eq sent "$(wait_state "$ID" ok@client.example sent)" "a message from a domain without a key is delivered"
wait_mbox "$PF" 2 >/dev/null
assert_eq "unsigned fail" "$(verify 1)" "... unsigned"
finish
