#!/usr/bin/env bash
# cli_init.sh - `mailagent init`: creates data dir (0700), database, master key (0600), a
# self-signed TLS pair for [smtp] hostname (key 0600), prints the admin key once; a second run
# keeps everything (same files, same key material) and prints no new secret. A data directory or
# files in it readable by others are narrowed by init and serve.
. "$(dirname "$0")/lib/common.sh"

write_config
D=$T/data
assert_status 0 ma init
first=$(cat "$T/last.out")
assert_contains "$first" "data_dir         $D (created)" "data dir created"
assert_contains "$first" "master_key       $D/master.key (created)" "master key created"
assert_contains "$first" "created, self-signed for mx.inbound.test" "TLS pair created for the configured hostname"
secret=$(grep -o 'maa_[0-9a-f]\{64\}' <<<"$first" || true)
assert_eq 1 "$(grep -c 'maa_[0-9a-f]\{64\}' <<<"$first")" "admin secret printed exactly once"
assert_eq 68 "${#secret}" "admin secret is maa_ + 64 hex digits"

assert_eq 700 "$(stat -c %a "$D")" "data dir mode 0700"
assert_eq 600 "$(stat -c %a "$D/master.key")" "master key mode 0600"
assert_eq 600 "$(stat -c %a "$D/tls/key.pem")" "TLS key mode 0600"
assert_contains "$(openssl x509 -in "$D/tls/cert.pem" -noout -subject)" "CN = mx.inbound.test" "certificate CN"
assert_contains "$(openssl x509 -in "$D/tls/cert.pem" -noout -ext subjectAltName)" "DNS:mx.inbound.test" "certificate SAN"
assert_status 0 openssl x509 -in "$D/tls/cert.pem" -noout -checkend 86400
cert_pub=$(openssl x509 -in "$D/tls/cert.pem" -noout -pubkey)
key_pub=$(openssl pkey -in "$D/tls/key.pem" -pubout)
assert_eq "$cert_pub" "$key_pub" "certificate matches its private key"
assert_not_contains "$(grep -r "$secret" "$D" 2>/dev/null || true)" "$secret" "the admin secret is not stored in clear"

# The secret's hash is what is stored: the key is listed with its display prefix.
assert_status 0 ma apikey list --admin --json
assert_eq "admin ${secret:0:12}" "$(json_get "$T/last.out" 'd["items"][0]["scope"] + " " + d["items"][0]["prefix"]')" "admin key listed by prefix"

# Second run: idempotent.
mk_before=$(sha256sum < "$D/master.key"); cert_before=$(sha256sum < "$D/tls/cert.pem")
assert_status 0 ma init
second=$(cat "$T/last.out")
assert_contains "$second" "data_dir         $D (exists)" "second init: data dir exists"
assert_contains "$second" "master_key       $D/master.key (exists)" "second init: master key kept"
assert_contains "$second" "tls_certificate  $D/tls/cert.pem (exists)" "second init: certificate kept"
assert_contains "$second" "not shown again" "second init says the admin key exists"
assert_eq 0 "$(grep -c 'maa_[0-9a-f]\{64\}' <<<"$second" || true)" "second init prints no secret"
assert_eq "$mk_before" "$(sha256sum < "$D/master.key")" "master key unchanged"
assert_eq "$cert_before" "$(sha256sum < "$D/tls/cert.pem")" "certificate unchanged"
assert_status 0 ma apikey list --admin --json
assert_eq 1 "$(json_get "$T/last.out" 'len(d["items"])')" "still one admin key"

# --json shape.
assert_status 0 ma init --json
assert_eq "exists exists None" "$(json_get "$T/last.out" 'd["steps"]["data_dir"]["state"], d["steps"]["master_key"]["state"], d["admin_key"].get("secret")' | tr -d "(),'")" "init --json"

# A configured certificate path that exists alone is left alone, with a warning.
printf '[storage]\ndata_dir=%s\n[smtp]\ntls_cert_file=%s\n[security]\nmaster_key_file=%s\n' \
  "$T/data2" "$T/only-cert.pem" "$T/mk/master.key" > "$T/half.conf"
echo "not a cert" > "$T/only-cert.pem"
mkdir -p "$T/mk"
assert_status 0 "$MAILAGENT" init -c "$T/half.conf"
assert_contains "$(cat "$T/last.err")" "warning: only one of" "half a TLS pair: warning"
assert_eq "not a cert" "$(cat "$T/only-cert.pem")" "existing file not overwritten"
assert_status 0 test -f "$T/mk/master.key"

# Errors: a bad config key is named; commands before init say so.
echo "[smtp]" > "$T/bad.conf"; echo "lisen=1" >> "$T/bad.conf"
assert_status 2 "$MAILAGENT" init -c "$T/bad.conf"
assert_contains "$(cat "$T/last.err")" "unknown key [smtp] lisen" "unknown config key named"
printf '[storage]\ndata_dir=%s\n' "$T/fresh" > "$T/fresh.conf"
assert_status 1 "$MAILAGENT" enterprise list -c "$T/fresh.conf"
assert_contains "$(cat "$T/last.err")" "run \`mailagent init\` first" "before init: hint"
assert_status 2 "$MAILAGENT" init -c "$T/fresh.conf" extra-argument
assert_status 0 "$MAILAGENT" init --help

# Modes: a data directory made with `mkdir -m 755` and files left readable by others (an older
# version, an operator's umask) are narrowed by init and by serve: 0700 directory, 0600 databases
# and keys; files created later (spool, write-ahead logs) are private through the umask.
widen() {
  chmod 755 "$D" "$D/tls"
  chmod 644 "$D/mailagent.db" "$D/master.key" "$D/tls/key.pem"
}
modes() { stat -c '%n %a' "$D" "$D/tls" "$D/mailagent.db" "$D/master.key" "$D/tls/key.pem" | sed "s|$T/||"; }
private="data 700
data/tls 700
data/mailagent.db 600
data/master.key 600
data/tls/key.pem 600"
widen
assert_status 0 ma init
assert_eq "$private" "$(modes)" "init makes an existing data directory and its files private"
assert_contains "$(cat "$T/last.out")" "made_private     $D/mailagent.db (was readable by others)" "init reports what it narrowed"
assert_status 0 ma init
assert_not_contains "$(cat "$T/last.out")" "made_private" "a second init has nothing to narrow"
mkdir -m 755 "$T/wide"
printf '[storage]\ndata_dir=%s\n' "$T/wide/data" > "$T/wide.conf"
mkdir -m 755 "$T/wide/data"
assert_status 0 "$MAILAGENT" init -c "$T/wide.conf"
assert_eq 700 "$(stat -c %a "$T/wide/data")" "mkdir -m 755 data && mailagent init: data dir 0700"
assert_eq 600 "$(stat -c %a "$T/wide/data/mailagent.db")" "database created 0600"
widen
start_serve --no-init
assert_eq "$private" "$(modes)" "serve makes the data directory and its files private"
assert_eq 600 "$(stat -c %a "$D/spool.db")" "the spool database serve creates is 0600"
assert_eq 600 "$(stat -c %a "$D/mailagent.db-wal")" "the write-ahead log of the running database is 0600"
assert_contains "$(cat "$T/serve.log")" "mailagent.db was readable by others; made private" "serve logs what it narrowed"
stop_serve
finish
