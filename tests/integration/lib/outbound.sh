# outbound.sh - peers for the outbound delivery tests, sourced after common.sh and
# fixtures/smtp/postfix.sh.
#
# pf_dest DIR PORT [main.cf lines...]: a private Postfix that is the final destination of
#   client.example: every recipient is delivered into the one mbox DIR/mail/inbox (virtual(8)),
#   except reject550@client.example (550 5.1.1) and defer450@client.example (450 4.2.0), refused at
#   RCPT by check_recipient_access. Its log is DIR/maillog. Stopped by the EXIT trap.
# mbox_count DIR: messages delivered into DIR/mail/inbox so far.
# dovecot_auth DIR: Dovecot's auth service alone (no mail protocols), for a Postfix's SASL
#   (smtpd_sasl_type = dovecot, smtpd_sasl_path = DIR/auth): PLAIN and LOGIN against the
#   passwd-file DIR/users ("user:{PLAIN}secret" lines, written by the caller, re-read when it
#   changes). Stopped by the EXIT trap.
# xoauth2_sasl_start: what a Postfix submission port needs to take AUTH XOAUTH2, for tests that also
#   source fixtures/collector/dovecot.sh (after pki_make and their dovecot_user lines): a certificate
#   naming 127.0.0.1 with its chain ($T/pki/smtp.pem, smtp.key), the fake OAuth2 provider
#   (OAUTH_PORT), and Dovecot with an oauth2 passdb for XOAUTH2 whose auth socket for Postfix is
#   $T/dovecot/auth-postfix (smtpd_sasl_type = dovecot, smtpd_sasl_path).
# fakeprov_preset SMTP_PORT: writes $T/presets.ini ([collector] presets_file) with the preset
#   fakeprov: Dovecot's IMAPS, SMTP submission on 127.0.0.1:SMTP_PORT, the fake provider's OAuth2
#   endpoints (after xoauth2_sasl_start).
# wait_state API_ID ADDRESS STATE [seconds]: waits until GET /v1/outbound/ID shows ADDRESS in STATE;
#   prints the state seen last. Needs KEY (the enterprise API key) and API_PORT.

pf_dest() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir/mail"
  chown postfix "$dir/mail"
  printf 'reject550@client.example 550 5.1.1 no such user here\ndefer450@client.example 450 4.2.0 mailbox busy, try later\n' \
    >"$dir/access"
  local uid gid
  uid=$(id -u postfix); gid=$(id -g postfix)
  pf_start "$dir" "$port" \
    "myhostname = mx.client.example" "mydestination =" "virtual_mailbox_domains = client.example" \
    "virtual_mailbox_base = $dir/mail" "virtual_mailbox_maps = static:inbox" \
    "virtual_uid_maps = static:$uid" "virtual_gid_maps = static:$gid" \
    "smtpd_recipient_restrictions = check_recipient_access texthash:$dir/access, permit_mynetworks, reject_unauth_destination" \
    "smtpd_tls_loglevel = 1" "smtpd_tls_received_header = yes" "$@"
  cleanup_cmd "postfix -c '$dir' stop"
  grep -q "starting the Postfix mail system" "$dir/start.log" || { cat "$dir/start.log" "$dir/check.log"; fail "postfix did not start"; }
  # every listener of master.cf (PORT and those pf_listen declared) answers before the test goes on
  local addr
  for addr in $(awk '$2 == "inet" && $1 ~ /:[0-9]+$/ {print $1}' "$dir/master.cf"); do
    for _ in $(seq 1 300); do (exec 3<>/dev/tcp/"${addr%:*}"/"${addr##*:}") 2>/dev/null && break; sleep 0.1; done
    (exec 3<>/dev/tcp/"${addr%:*}"/"${addr##*:}") 2>/dev/null || fail "postfix in $dir is not listening on $addr"
  done
}

xoauth2_sasl_start() {
  (
    cd "$T/pki"
    openssl req -newkey rsa:2048 -nodes -keyout smtp.key -out smtp.csr -subj "/CN=127.0.0.1" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > smtp.ext
    openssl x509 -req -in smtp.csr -CA inter.pem -CAkey inter.key -CAcreateserial -out smtp.crt -days 2 -extfile smtp.ext 2>/dev/null
    cat smtp.crt inter.pem > smtp.pem
    chmod 644 smtp.key
  )
  oauth2_provider_start
  DOVECOT_EXTRA_MECHANISMS="xoauth2" dovecot_start \
    "passdb {" "  driver = oauth2" "  mechanisms = xoauth2" "  args = $T/dovecot/oauth2.conf.ext" "}" \
    "service auth {" "  unix_listener $T/dovecot/auth-postfix {" "    mode = 0666" "  }" "}"
  for _ in $(seq 1 300); do [ -S "$T/dovecot/auth-postfix" ] && return 0; sleep 0.1; done
  fail "Dovecot's auth socket for Postfix did not appear"
}

fakeprov_preset() {
  cat > "$T/presets.ini" <<EOF
[fakeprov]
name = Fake provider (tests)
source = tests/fixtures/collector/fake_oauth2.py
imap = localhost:$IMAPS_PORT:tls
smtp = 127.0.0.1:$1:starttls
auth = oauth2 password
oauth2_authorize_url = http://127.0.0.1:$OAUTH_PORT/authorize
oauth2_token_url = http://127.0.0.1:$OAUTH_PORT/token
oauth2_scope = mail
EOF
}

mbox_count() { grep -c '^From ' "$1/mail/inbox" 2>/dev/null || echo 0; }

# wait_mbox DIR N [seconds]: waits until the mbox holds N messages; prints the count.
wait_mbox() {
  local dir=$1 want=$2 limit=${3:-60} n=0
  for _ in $(seq 1 $((limit * 10))); do
    n=$(mbox_count "$dir")
    [ "$n" -ge "$want" ] && break
    sleep 0.1
  done
  echo "$n"
}

# wait_lines FILE PATTERN N [seconds]: waits until N lines of FILE match PATTERN (grep); prints
# the count. For logs written apart from the deliveries they report (Postfix's postlogd writes its
# maillog after the mailbox has the message).
wait_lines() {
  local file=$1 pattern=$2 want=$3 limit=${4:-60} n=0
  for _ in $(seq 1 $((limit * 10))); do
    n=$(grep -c -- "$pattern" "$file" 2>/dev/null || true)
    [ "${n:-0}" -ge "$want" ] && break
    sleep 0.1
  done
  echo "${n:-0}"
}

wait_state() {
  local id=$1 addr=$2 want=$3 limit=${4:-60} got=""
  for _ in $(seq 1 $((limit * 10))); do
    got=$(curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$id" |
      /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(next((r['state'] for r in d['recipients'] if r['address']==sys.argv[1]), 'absent'))" "$addr" 2>/dev/null || echo "?")
    [ "$got" == "$want" ] && break
    sleep 0.1
  done
  echo "$got"
}

# tls_certs DIR: a test CA (DIR/ca.pem) and server pairs DIR/<name>.{pem,key} for
#   valid (DNS:valid.tls.test, signed by the CA), wrongname (signed, but for other.tls.test),
#   expired (signed, valid in 2020 only) and selfsigned (DNS:selfsigned.tls.test, its own issuer).
tls_certs() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    printf '[ ca ]\ndefault_ca = t\n[ t ]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\ncopy_extensions = copy\n[ p ]\ncommonName = supplied\n' >ca.cnf
    : >index.txt; echo 01 >serial
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=mailagent test CA"
    csr() { openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" -addext "subjectAltName=DNS:$2"; }
    csr valid valid.tls.test
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in valid.csr -out valid.pem -days 30
    csr wrongname other.tls.test
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in wrongname.csr -out wrongname.pem -days 30
    csr expired expired.tls.test
    openssl ca -batch -config ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr -out expired.pem \
      -startdate 20200101000000Z -enddate 20210101000000Z
    openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.pem -days 30 \
      -subj "/CN=selfsigned.tls.test" -addext "subjectAltName=DNS:selfsigned.tls.test"
    chmod 644 ./*.key
  ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log"; fail "tls_certs: openssl failed"; }
}

# pf_listen DIR ADDRESS:PORT [smtpd -o options...]: one more smtpd listener of the Postfix in DIR,
#   declared BEFORE pf_dest starts it (DIR/master.extra). Never added by `postfix reload`: a
#   reload waited a fixed second for the listeners and restarted every daemon, each logging into
#   the postlog socket (see pf_start on how a full one deadlocked Postfix).
pf_listen() {
  local dir=$1 addr=$2; shift 2
  local opts=""
  for o in "$@"; do opts="$opts -o $o"; done
  mkdir -p "$dir"
  echo "$addr inet n - n - - smtpd$opts" >>"$dir/master.extra"
}

# wait_settled ID [seconds]: waits until no recipient of GET /v1/outbound/ID is queued or sending,
#   then prints "address state" per recipient.
wait_settled() {
  local id=$1 limit=${2:-60} out=""
  for _ in $(seq 1 $((limit * 10))); do
    out=$(curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$id" |
      /usr/bin/python3 -c "
import json,sys
d=json.load(sys.stdin)
if any(r['state'] in ('queued','sending') for r in d['recipients']): sys.exit(1)
for r in d['recipients']: print(r['address'], r['state'])" 2>/dev/null) && break
    out=""
    sleep 0.1
  done
  echo "$out"
}

dovecot_auth() {
  local d=$1
  mkdir -p "$d/run"
  cat >"$d/dovecot.conf" <<CONF
base_dir = $d/run
state_dir = $d/run
protocols =
log_path = $d/log
ssl = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $d/auth {
    mode = 0666
  }
}
CONF
  dovecot -c "$d/dovecot.conf" || { cat "$d/log" 2>/dev/null; fail "dovecot did not start"; return 1; }
  cleanup_cmd "doveadm -c '$d/dovecot.conf' stop"
  for _ in $(seq 1 300); do [ -S "$d/auth" ] && return 0; sleep 0.1; done
  fail "no Dovecot auth socket"
}

# dovecot_auth_password DIR USER PASSWORD: changes USER's password in the auth service of DIR and
# waits (bounded) until Dovecot answers with it. Dovecot re-reads a passwd-file at most once a
# second (it skips the stat within the second of its last look-up), so a session right after the
# change could still be checked against the old password.
dovecot_auth_password() {
  local d=$1 user=$2 password=$3
  echo "$user:{PLAIN}$password" >"$d/users"
  for _ in $(seq 1 50); do
    doveadm -c "$d/dovecot.conf" auth test -a "$d/auth" "$user" "$password" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "Dovecot did not take $user's new password"
}
