#!/usr/bin/env bash
# domains_interop.sh - messages signed by `mailagent dkim sign` verify with the two independent
# implementations receivers run: python3-dkim (dkimpy) and OpenDKIM's opendkim-testmsg, for RSA
# and Ed25519, each fetching the key through the system resolver from a real nsd. Those tools
# read /etc/resolv.conf, so they run in a network and mount namespace the test creates (unshare
# -n -m): nsd on port 53 of that namespace's loopback and a bind-mounted resolv.conf naming it.
# Negative control: the same verifiers reject the message after one body byte is changed.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"

D=interop.test
write_config   # rewritten below once the DNS port is known
ma init >/dev/null
ma enterprise add --name Acme --domain acme.test --slug acme >/dev/null
ma domain add acme "$D" >/dev/null
ma domain dkim acme "$D" --json > "$T/rsa.json"
ma domain dkim acme "$D" --algorithm ed25519 --json > "$T/ed.json"
RSA_SEL=$(json_get "$T/rsa.json" 'd["selector"]')
ED_SEL=$(json_get "$T/ed.json" 'd["selector"]')
{
  echo "\$ORIGIN $D."
  echo "\$TTL 300"
  echo "@ IN SOA ns1.$D. hostmaster.$D. 1 3600 600 86400 60"
  echo "@ IN NS ns1.$D."
  echo "ns1 IN A 127.0.0.1"
  echo "$(json_get "$T/rsa.json" 'd["name"]'). IN TXT $(json_get "$T/rsa.json" 'd["value_split"]')"
  echo "$(json_get "$T/ed.json" 'd["name"]'). IN TXT $(json_get "$T/ed.json" 'd["value_split"]')"
} > "$T/interop.zone"
dns_start "$T/interop.zone"
sed -i '/^\[dns\]/,$d' "$CONF"
printf '[dns]\nservers=%s\n' "$DNS_SERVERS" >> "$CONF"
assert_status 0 ma domain verify acme "$D"

cat > "$T/plain.eml" <<'MSG'
From: Homer Simpson <homer@interop.test>
To: Hank Scorpio <hank@globex.example>
Subject: Interop   check, with	tabs and  spaces
Date: Wed, 02 Dec 2026 08:00:00 +0000
Message-ID: <interop-1@interop.test>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello Hank,  
trailing blanks and 	tabs stay as written.


MSG
sed -i 's/$/\r/' "$T/plain.eml"
assert_status 0 ma dkim sign acme "$T/plain.eml"; cp "$T/last.out" "$T/both.eml"
assert_status 0 ma dkim sign acme "$T/plain.eml" --selector "$RSA_SEL"; cp "$T/last.out" "$T/rsa.eml"
assert_status 0 ma dkim sign acme "$T/plain.eml" --selector "$ED_SEL"; cp "$T/last.out" "$T/ed.eml"
for f in both rsa ed; do sed 's/Hello Hank/Hello hank/' "$T/$f.eml" > "$T/$f-bad.eml"; done

# Inside the namespace: nsd on 127.0.0.1:53 (the same zone and config, another port), then the
# verifiers. One "name result" line per check into $T/interop.out.
kill "$DNS_PID"; wait "$DNS_PID" 2>/dev/null || true
sed -e "s/@$DNS_PORT/@53/" -e "s/port: $DNS_PORT/port: 53/" "$T/nsd/nsd.conf" > "$T/nsd/nsd53.conf"
echo "nameserver 127.0.0.1" > "$T/resolv.conf"
cat > "$T/dkimpy.py" <<'PY'
import sys, dkim
msg = open(sys.argv[1], "rb").read()
def check(i):
    try:
        return str(dkim.DKIM(msg).verify(idx=i))
    except dkim.ValidationError:  # dkimpy raises on a body hash mismatch instead of answering False
        return "False"
print(" ".join(check(i) for i in range(int(sys.argv[2]))))
PY
cat > "$T/inside.sh" <<SH
set -u
ip link set lo up
mount --bind "$T/resolv.conf" /etc/resolv.conf
nsd -d -c "$T/nsd/nsd53.conf" >>"$T/nsd/nsd53.log" 2>&1 &
NSD=\$!
for _ in \$(seq 1 100); do /usr/bin/python3 "$DNS_LIB_DIR/dns_query.py" "$D" SOA 53 2>/dev/null | grep -q '^rcode 0' && break; sleep 0.1; done
for f in both rsa ed both-bad rsa-bad ed-bad; do
  n=1; [ "\${f%-bad}" == both ] && n=2
  echo "dkimpy \$f \$(/usr/bin/python3 "$T/dkimpy.py" "$T/\$f.eml" \$n 2>&1 | tail -1)"
done
for f in rsa ed rsa-bad ed-bad; do
  out=\$(opendkim-testmsg < "$T/\$f.eml" 2>&1); echo "opendkim \$f \$? \$out"
done
kill \$NSD
SH
timeout 60 unshare -n -m bash "$T/inside.sh" > "$T/interop.out" 2>&1 || true
result() { grep "^$1 $2 " "$T/interop.out" | head -1 | cut -d' ' -f3- | sed 's/ *$//'; }
assert_eq "True True" "$(result dkimpy both)" "dkimpy verifies both signatures (rsa-sha256, ed25519-sha256)"
assert_eq "True" "$(result dkimpy rsa)" "dkimpy verifies the RSA signature"
assert_eq "True" "$(result dkimpy ed)" "dkimpy verifies the Ed25519 signature"
assert_eq "False False" "$(result dkimpy both-bad)" "dkimpy rejects both after one body byte changed"
assert_eq "False" "$(result dkimpy rsa-bad)" "dkimpy rejects the changed RSA-signed message"
assert_eq "False" "$(result dkimpy ed-bad)" "dkimpy rejects the changed Ed25519-signed message"
assert_eq "0" "$(result opendkim rsa)" "opendkim-testmsg verifies the RSA signature"
assert_eq "0" "$(result opendkim ed)" "opendkim-testmsg verifies the Ed25519 signature"
[[ "$(result opendkim rsa-bad)" != 0* ]] && pass "opendkim-testmsg rejects the changed RSA-signed message" \
  || fail "opendkim-testmsg accepted a changed message: $(result opendkim rsa-bad)"
[[ "$(result opendkim ed-bad)" != 0* ]] && pass "opendkim-testmsg rejects the changed Ed25519-signed message" \
  || fail "opendkim-testmsg accepted a changed message: $(result opendkim ed-bad)"
[ "$FAILURES" -eq 0 ] || cat "$T/interop.out" >&2
finish
