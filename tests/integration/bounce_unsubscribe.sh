#!/usr/bin/env bash
# bounce_unsubscribe.sh - List-Unsubscribe on mass mail (RFC 2369, RFC 8058) through a real Postfix:
# each recipient's copy carries its own one-click URL under [api] public_url and a mailto on
# [relay] bounce_domain, plus List-Unsubscribe-Post, and python3-dkim verifies a signature whose h=
# covers both fields; individual mail carries them only when the request asks. A one-click POST
# (no API key) and a mail to the mailto address each put the recipient on the suppression list and
# emit recipient.unsubscribed once; a GET never unsubscribes; forged tokens are refused; the next
# send to an unsubscribed address is suppressed.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
dns_start "$FIXTURES_DIR/dns/example.test.zone"
PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none"
write_config "[dns]" "servers=$DNS_SERVERS" "[relay]" "default_host=127.0.0.1:$PF_PORT" "tls_mode=off" \
  "bounce_domain=bounces.test"
sed -i "s|^\[api\]\$|[api]\npublic_url=http://127.0.0.1:$API_PORT|" "$CONF"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma domain dkim acme example.test --selector sel1 --import-key "$FIXTURES_DIR/dns/keys/sel1.key.pem" >/dev/null
ma domain verify acme example.test >"$T/verify.out" 2>&1 || true
start_serve
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
send() { # TYPE EXTRA-JSON TO...
  local type=$1 extra=$2; shift 2
  local to; to=$(printf '"%s",' "$@"); to="[${to%,}]"
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"$type\",\"from\":\"news@example.test\",\"to\":$to,\"subject\":\"News\",\"text\":\"Hello.\\n\"$extra}"
  json_get "$T/body" 'd["id"]'
}
# the n-th message of the mbox: its List-Unsubscribe, and whether a signature covering it verifies
inspect() {
  /usr/bin/python3 - "$PF/mail/inbox" "$1" "$(cat "$FIXTURES_DIR/dns/keys/sel1.pub.b64")" <<'PY'
import dkim, mailbox, re, sys
m = list(mailbox.mbox(sys.argv[1]))[int(sys.argv[2])]
raw = m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
record = b"v=DKIM1; k=rsa; p=" + sys.argv[3].encode()
dnsfunc = lambda name, timeout=5: record if name == b"sel1._domainkey.example.test." else None
lu = " ".join((m["List-Unsubscribe"] or "-").split())
post = m["List-Unsubscribe-Post"] or "-"
h = re.search(r"h=([^;]*)", (m.get_all("DKIM-Signature") or ["h=-;"])[0])
fields = re.sub(r"\s", "", h.group(1)).lower().split(":")
covered = all(f in fields for f in ("list-unsubscribe", "list-unsubscribe-post"))
print(m["Delivered-To"], lu, post, "covered" if covered else "not-covered", "pass" if dkim.verify(raw, dnsfunc=dnsfunc) else "fail")
PY
}

ID=$(send mass "" ok@client.example other@client.example)
assert_eq sent "$(wait_state "$ID" ok@client.example sent)" "mass mail delivered to ok@"
assert_eq sent "$(wait_state "$ID" other@client.example sent)" "... and to other@"
assert_eq 2 "$(wait_mbox "$PF" 2)" "two copies"
out0=$(inspect 0); out1=$(inspect 1)
[[ "$out0 $out1" =~ \<http://127\.0\.0\.1:$API_PORT/v1/unsubscribe/u[a-z2-7]{29}\>,\ \<mailto:u[a-z2-7]{29}@bounces\.test\?subject=unsubscribe\> ]] \
  && pass "List-Unsubscribe: the one-click URL and the mailto" || fail "List-Unsubscribe: $out0"
assert_contains "$out0" "List-Unsubscribe=One-Click covered pass" "List-Unsubscribe-Post, DKIM-signed over both, verifies"
assert_contains "$out1" "List-Unsubscribe=One-Click covered pass" "... on the other copy too"
tok0=$(echo "$out0" | grep -o 'unsubscribe/u[a-z2-7]*' | cut -d/ -f2)
tok1=$(echo "$out1" | grep -o 'unsubscribe/u[a-z2-7]*' | cut -d/ -f2)
[ -n "$tok0" ] && [ "$tok0" != "$tok1" ] && pass "each recipient has a token of its own" || fail "tokens: $tok0 $tok1"

ID=$(send individual "" third@client.example)
assert_eq sent "$(wait_state "$ID" third@client.example sent)" "individual mail delivered"
wait_mbox "$PF" 3 >/dev/null
assert_eq "third@client.example - - not-covered pass" "$(inspect 2)" "individual mail carries no List-Unsubscribe"
ID=$(send individual ',"list_unsubscribe":true' third@client.example)
wait_mbox "$PF" 4 >/dev/null
assert_contains "$(inspect 3)" "One-Click covered pass" "... unless the request asks for it"

# one-click: no API key, POST only, the RFC 8058 body
URL="http://127.0.0.1:$API_PORT/v1/unsubscribe"
code=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/$tok0")
[[ "$code" != 2* ]] && pass "a GET never unsubscribes ($code)" || fail "GET answered $code"
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -d 'x=y' "$URL/$tok0")
assert_eq 400 "$code" "a POST without List-Unsubscribe=One-Click is refused"
forged=$(echo "$tok0" | sed 's/.$/a/'); [ "$forged" == "$tok0" ] && forged=$(echo "$tok0" | sed 's/.$/b/')
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -d 'List-Unsubscribe=One-Click' "$URL/$forged")
assert_eq 404 "$code" "a forged token is 404"
assert_eq 0 "$(db "select count(*) from suppressions")" "nothing suppressed so far"
for _ in 1 2; do
  code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H 'Content-Type: application/x-www-form-urlencoded' \
    -d 'List-Unsubscribe=One-Click' "$URL/$tok0")
done
assert_eq 200 "$code" "the one-click POST unsubscribes (twice: still 200)"
who0=$(echo "$out0" | cut -d' ' -f1)
assert_eq "unsubscribe one-click" "$(db "select reason||' '||detail from suppressions where address='$who0'")" "$who0 is suppressed"
assert_eq 1 "$(db "select count(*) from outbox where event='recipient.unsubscribed'")" "one recipient.unsubscribed"

# the mailto: a mail to the other recipient's token on the bounce domain
out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --from "$(echo "$out1" | cut -d' ' -f1)" --to "$tok1@bounces.test" \
  --header "Subject: unsubscribe" --body "unsubscribe" 2>&1 || true)
assert_contains "$out" "250 2.0.0 Ok: queued" "the mailto address takes the mail"
who1=$(echo "$out1" | cut -d' ' -f1)
for _ in $(seq 1 100); do [ "$(db "select count(*) from outbox where event='recipient.unsubscribed'")" == 2 ] && break; sleep 0.1; done
assert_eq "unsubscribe mailto" "$(db "select reason||' '||detail from suppressions where address='$who1'")" "$who1 is suppressed by mail"
assert_eq "$who0 one-click|$who1 mailto" \
  "$(db "select group_concat(x, '|') from (select json_extract(payload,'$.address')||' '||json_extract(payload,'$.via') as x from outbox where event='recipient.unsubscribed' order by seq)")" \
  "recipient.unsubscribed names the address and how"

ID=$(send mass "" ok@client.example)
assert_eq suppressed "$(json_get "$T/body" 'd["recipients"][0]["state"]')" "the next mass mail to an unsubscribed address is suppressed"
assert_contains "$(cat "$T/body")" "(unsubscribe since" "... and the answer says why"
finish
