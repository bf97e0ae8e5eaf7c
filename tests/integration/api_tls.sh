#!/usr/bin/env bash
# api_tls.sh - the API over TLS ([api] tls_cert_file / tls_key_file, here the self-signed pair
# `mailagent init` makes): HTTPS answers with the JSON error shape and auth as over HTTP, plain
# HTTP on the TLS port gets no answer, and serve refuses to start with an unusable key file.
. "$(dirname "$0")/lib/common.sh"

write_config "[api]" "tls_cert_file=$T/data/tls/cert.pem" "tls_key_file=$T/data/tls/key.pem"
# write_config wrote [api] listen before; GKeyFile merges the repeated group.
out=$(ma init 2>&1)
KEY=$(ma enterprise add --name "Acme" --domain acme.example --slug acme --json | json_get - 'd["api_key"]["secret"]')
start_serve
API=https://127.0.0.1:$API_PORT

got=$(curl -sS -k -w ' %{http_code}' "$API/healthz" || true)
assert_eq '{"status":"ok"} 200' "$(tr -d '\n' <<<"$got")" "healthz over TLS"
got=$(curl -sS -k -o /dev/null -w '%{http_code}' "$API/v1/settings" || true)
assert_eq 401 "$got" "no key over TLS is 401"
got=$(curl -sS -k -o "$T/s.json" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$API/v1/settings" || true)
assert_eq "200 on" "$got $(json_get "$T/s.json" 'd["settings"]["archiving"]')" "settings over TLS"
proto=$(curl -sS -k -o /dev/null -w '%{ssl_verify_result} %{http_version}' "$API/healthz" 2>&1 || true)
assert_contains "$proto" "1.1" "HTTP/1.1 inside TLS"
got=$(curl -sS -m 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/healthz" 2>/dev/null || true)
assert_not_contains "$got" "200" "plain HTTP on the TLS port is not served"
stop_serve

# an unusable key file: serve must refuse to start, naming the [api] TLS setting
echo "not a key" >"$T/bad.pem"
sed -i "s|^tls_key_file=.*|tls_key_file=$T/bad.pem|" "$CONF"
if timeout 10 "$MAILAGENT" serve -c "$CONF" >"$T/bad.log" 2>&1; then
  fail "serve started with an unusable TLS key"
else
  assert_contains "$(cat "$T/bad.log")" "TLS" "serve refuses a bad API TLS key and says why"
fi
finish
