#!/usr/bin/env bash
# outbound_downgrade.sh - mail that needs 8BITMIME or holds lines over 998 octets, sent to a
# destination that does not offer 8BITMIME (Postfix with smtpd_discard_ehlo_keywords = 8bitmime,
# smtputf8): each part that needs it is re-encoded as quoted-printable before the message is
# DKIM-signed at queueing, so the copy Postfix delivered is 7-bit with short lines, decodes to the
# original text, and its signature verifies (python3-dkim, the key as nsd serves it). What cannot
# be re-encoded fails with the reason: an 8-bit Subject (554 5.6.3) and a non-ASCII recipient
# (553 5.6.7, RFC 6531) to a server without 8BITMIME/SMTPUTF8; a signed part that would change is
# refused at the API (422).
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
dns_start "$FIXTURES_DIR/dns/example.test.zone"
PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none" "smtpd_discard_ehlo_keywords = 8bitmime, smtputf8" \
  "smtputf8_enable = no"
write_config "[dns]" "servers=$DNS_SERVERS" "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$PF_PORT" "tls_mode=off"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain example.test --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
ma domain dkim acme example.test --selector sel1 --import-key "$FIXTURES_DIR/dns/keys/sel1.key.pem" >/dev/null
ma domain verify acme example.test >"$T/verify.out" 2>&1 || true
start_serve

# the EHLO answer really lacks both extensions (the receiving side's own word)
ehlo=$(python3 - "$PF_PORT" <<'PY'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1])); s.ehlo("probe.test"); print(" ".join(sorted(s.esmtp_features))); s.quit()
PY
)
assert_not_contains "$ehlo" "8bitmime" "the destination does not offer 8BITMIME"
assert_not_contains "$ehlo" "smtputf8" "... nor SMTPUTF8"

# the originals: an 8-bit message without MIME headers, and a multipart whose HTML part is labelled
# 8bit and whose plain part (labelled 7bit) holds a 2,000-octet line
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
text1 = "Grüße aus Köln,\nder Preis ist 100 € = netto.\nZeile mit Leerzeichen am Ende   \n"
m1 = "From: Sales <sales@example.test>\nTo: ok@client.example\nSubject: eight-bit\n\n" + text1
long_line = " ".join("word%d" % i for i in range(300))  # about 2,000 octets, one line
html = "<p>Prix: 42 € — très bien</p>\n"
m2 = ("From: Sales <sales@example.test>\nTo: ok@client.example\nSubject: long-line\nMIME-Version: 1.0\n"
      "Content-Type: multipart/alternative; boundary=\"alt\"\n\n"
      "--alt\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n" + long_line + "\n"
      "--alt\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + html +
      "--alt--\n")
json.dump({"mime": m1}, open(t + "/m1.json", "w"), ensure_ascii=False)
json.dump({"mime": m2}, open(t + "/m2.json", "w"), ensure_ascii=False)
# a part's last line end belongs to the delimiter that follows (RFC 2046 5.1.1)
json.dump({"text1": text1, "long": long_line, "html": html.rstrip("\n")}, open(t + "/want.json", "w"), ensure_ascii=False)
PY
send() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" -X POST \
  "http://127.0.0.1:$API_PORT/v1/messages:send" --data-binary @"$1"; }
assert_eq 202 "$(send "$T/m1.json")" "the 8-bit message is queued"
ID1=$(json_get "$T/body" 'd["id"]')
assert_eq 202 "$(send "$T/m2.json")" "the message with a 2,000-octet line is queued (it used to be refused)"
ID2=$(json_get "$T/body" 'd["id"]')
assert_eq sent "$(wait_state "$ID1" ok@client.example sent)" "the 8-bit message was delivered to the server without 8BITMIME"
assert_eq sent "$(wait_state "$ID2" ok@client.example sent)" "... and the long-line one"
assert_eq 2 "$(wait_mbox "$PF" 2)" "Postfix holds both copies"

PUB=$(cat "$FIXTURES_DIR/dns/keys/sel1.pub.b64")
/usr/bin/python3 - "$PF/mail/inbox" "$PUB" "$T/want.json" >"$T/check.out" <<'PY'
import dkim, email, email.policy, json, mailbox, sys
want = json.load(open(sys.argv[3]))
record = b"v=DKIM1; k=rsa; p=" + sys.argv[2].encode()
def dnsfunc(name, timeout=5):
    return record if name == b"sel1._domainkey.example.test." else None
for m in mailbox.mbox(sys.argv[1]):
    raw = m.as_bytes().replace(b"\r\n", b"\n")
    seven = all(b < 0x80 for b in raw)
    short = max(len(l) for l in raw.split(b"\n")) <= 998
    crlf = raw.replace(b"\n", b"\r\n")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subj = msg["Subject"]
    if subj == "eight-bit":
        decoded = msg.get_content() == want["text1"]
        ctes = [msg["Content-Transfer-Encoding"]]
    else:
        parts = list(msg.iter_parts())
        decoded = parts[0].get_content() == want["long"] and parts[1].get_content() == want["html"]
        ctes = [p["Content-Transfer-Encoding"] for p in parts]
    print(subj, "7bit" if seven else "8bit", "short" if short else "long", "decoded" if decoded else "differs",
          ",".join(ctes), "dkim-pass" if dkim.verify(crlf, dnsfunc=dnsfunc) else "dkim-fail")
PY
assert_eq "eight-bit 7bit short decoded quoted-printable dkim-pass" "$(grep '^eight-bit' "$T/check.out")" \
  "the delivered 8-bit message: 7-bit, quoted-printable, decodes to the original, its DKIM signature verifies"
assert_eq "long-line 7bit short decoded quoted-printable,quoted-printable dkim-pass" "$(grep '^long-line' "$T/check.out")" \
  "the delivered long-line message: both parts re-encoded, decode to the originals, DKIM verifies"

# what cannot be re-encoded fails with the reason
json_mime() { python3 -c 'import json,sys; print(json.dumps({"mime": sys.stdin.read()}, ensure_ascii=False))'; }
# bounces RCPT MESSAGE WHY REPLY: the message (text) is queued, then bounces for RCPT with REPLY
bounces() {
  printf '%s' "$2" | json_mime >"$T/m.json"
  assert_eq 202 "$(send "$T/m.json")" "$3: queued"
  local id
  id=$(json_get "$T/body" 'd["id"]')
  assert_eq bounced "$(wait_state "$id" "$1" bounced)" "$3: bounced"
  curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$id" >"$T/o.json"
  assert_contains "$(json_get "$T/o.json" 'd["recipients"][0]["reply"]')" "$4" "$3: $4 and the reason"
}
bounces ok@client.example $'From: sales@example.test\nTo: ok@client.example\nSubject: Grüße\n\nascii body\n' \
  "an 8-bit Subject (only SMTPUTF8 or 8BITMIME can carry it) to a server without 8BITMIME" "554 5.6.3"
bounces josé@client.example $'From: sales@example.test\nTo: josé@client.example\nSubject: utf8 address\n\nascii body\n' \
  "a non-ASCII recipient to a server without SMTPUTF8 (RFC 6531)" "553 5.6.7"
printf 'From: sales@example.test\nTo: ok@client.example\nContent-Type: multipart/signed; boundary=s; protocol="application/pgp-signature"\n\n--s\nContent-Type: text/plain; charset=utf-8\n\nsigné\n--s\nContent-Type: application/pgp-signature\n\nsig\n--s--\n' \
  | json_mime >"$T/m5.json"
assert_eq 422 "$(send "$T/m5.json")" "a signed part that would have to change is refused"
assert_contains "$(json_get "$T/body" 'd["error"]["message"]')" "multipart/signed" "... saying why"
assert_eq 2 "$(mbox_count "$PF")" "nothing else reached Postfix"
finish
