#!/usr/bin/env bash
# relay_oauth2.sh - an enterprise relay that signs in with SMTP AUTH XOAUTH2 (issue 13): a private
# Postfix submission port whose SASL is Dovecot with an OAuth2 passdb (tokens checked at a fake
# provider's introspection endpoint), the default path a second Postfix.
#   - the relay takes auth.mechanism XOAUTH2 with a username and a provider (the enterprise's client
#     set with `mailbox oauth2-client`); without a grant it is untested, not routed, and says so
#     (auth.authorized false); its test fails at AUTH
#   - CLI sign-in (relay authorize / relay callback): the grant is sealed at rest under owner
#     relay:<id>; `relay test` prints the AUTH XOAUTH2 step (token hidden) and passes
#   - mail routed to it arrives at the destination, Postfix logging sasl_method=XOAUTH2
#   - a token the server stops accepting is refreshed exactly once and AUTH retried on the same
#     connection
#   - API sign-in: POST /v1/relays/{id}:authorize, the provider's redirect to mailagent's own
#     GET /v1/oauth2/callback; and with the CRM's redirect, POST :callback; then POST :test
#   - a revoked grant: the session fails at AUTH, the message falls back to the default path, the
#     failure counts against the relay, the relay needs sign-in (status reason, authorized false,
#     the webhook event relay.needs_sign_in once) and later mail is routed to the default path from
#     the start
#   - deleting the relay deletes its grant; no token ever appears in a log or an answer
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

pki_make
dns_start "$FIXTURES_DIR/dns/example.test.zone"
# the relay is given as 127.0.0.1: its certificate names that IP address
dovecot_user relay@example.test unused-password
xoauth2_sasl_start

PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = may" "smtpd_tls_cert_file = $T/pki/smtp.pem" \
  "smtpd_tls_key_file = $T/pki/smtp.key" "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
  "smtpd_sasl_path = $T/dovecot/auth-postfix" "smtpd_tls_auth_only = yes" "mynetworks = 192.0.2.1/32" \
  "smtpd_recipient_restrictions = permit_sasl_authenticated, reject" "myhostname = relay.example.test"
D=$T/pf_d; D_PORT=$(free_port)
pf_dest "$D" "$D_PORT" "smtpd_tls_security_level = none" "myhostname = default.test"

fakeprov_preset "$PF_PORT"
clock_start 1796205600 # 2026-12-02 10:00 UTC
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10" "presets_file=$T/presets.ini" "interval=8640000" \
  "[tls]" "ca_file=$T/pki/root.pem" "[queue]" "retry_initial=300" "[dns]" "servers=$DNS_SERVERS" \
  "[relay]" "default_host=127.0.0.1:$D_PORT" "tls_mode=off" "allowed_ports=$PF_PORT"
# mailagent's own OAuth2 redirect: <public_url>/v1/oauth2/callback
sed -i "/^listen=127.0.0.1:$API_PORT\$/a public_url=http://127.0.0.1:$API_PORT" "$CONF"
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --slug acme --domain example.test --json | json_get - 'd["api_key"]["secret"]')
ma domain dkim acme example.test --selector sel1 --import-key "$FIXTURES_DIR/dns/keys/sel1.key.pem" >/dev/null
ma domain verify acme example.test >/dev/null 2>&1 || true
assert_eq verified "$(ma domain show acme example.test --json | json_get - 'd["status"]')" \
  "example.test is verified: the default path is open to it"
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
stats() { curl -s "http://127.0.0.1:$OAUTH_PORT/control/stats"; }
REDIRECT=http://crm.test/oauth/callback
# follow the provider's authorization URL (the person signing in) and print "CODE STATE"
sign_in_at_provider() {
  local loc
  loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$1")
  /usr/bin/python3 -c 'import sys,urllib.parse as u; q=u.parse_qs(u.urlparse(sys.argv[1]).query); print(q["code"][0], q["state"][0])' "$loc"
}

# ---- the relay: XOAUTH2 with a username and a provider, no password --------------------------
echo test-secret > "$T/client.secret"
ma mailbox oauth2-client acme fakeprov --client-id test-client --client-secret-file "$T/client.secret" >/dev/null
rc=0; out=$(ma relay add acme --name corp --host 127.0.0.1 --port "$PF_PORT" --auth on --mechanism XOAUTH2 \
  --username relay@example.test --filter "1:example.test" 2>&1) || rc=$?
assert_contains "$rc $out" "2 mailagent: relay add: auth: XOAUTH2 needs a username and a provider" \
  "XOAUTH2 without a provider is refused"
ma relay add acme --name corp --host 127.0.0.1 --port "$PF_PORT" --auth on --mechanism XOAUTH2 \
  --username relay@example.test --provider fakeprov --filter "1:example.test" --json > "$T/corp.json"
RELAY=$(json_get "$T/corp.json" 'd["id"]')
assert_eq "XOAUTH2 relay@example.test fakeprov False False required-verify untested" \
  "$(json_get "$T/corp.json" '" ".join(str(x) for x in [d["auth"]["mechanism"], d["auth"]["username"], d["auth"]["provider"], d["auth"]["authorized"], d["auth"]["password_set"], d["tls_mode"], d["status"]["state"]])')" \
  "the relay JSON: XOAUTH2 as the username at the provider, not authorized yet, required-verify, untested"
assert_contains "$(json_get "$T/corp.json" 'd["status"]["reason"]')" "sign in (mailagent relay authorize)" \
  "... and its status says to sign in"
assert_contains "$(ma route explain acme --from ops@example.test --to x@client.example --type workflow)" \
  "matched but the relay needs OAuth2 sign-in" "route explain: the relay is passed over until it is signed in"
rc=0; ma relay test acme corp --to probe@client.example > "$T/test0.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "relay test without a grant fails (exit 1)"
assert_contains "$(cat "$T/test0.out")" "FAILED: authentication failed: no OAuth2 access token" "... at AUTH, with the reason"

# ---- CLI sign-in -----------------------------------------------------------------------------
url=$(ma relay authorize acme corp --redirect-uri "$REDIRECT")
assert_contains "$url" "login_hint=relay%40example.test" "relay authorize: the provider's URL, for the relay's username"
assert_contains "$url" "code_challenge_method=S256" "... with PKCE"
read -r CODE STATE <<<"$(sign_in_at_provider "$url")"
rc=0; out=$(ma relay callback acme corp --state "not-the-state" --code "$CODE" --redirect-uri "$REDIRECT" 2>&1) || rc=$?
assert_contains "$rc $out" "unknown, used or expired state" "relay callback with a wrong state is refused"
out=$(ma relay callback acme corp --state "$STATE" --code "$CODE" --redirect-uri "$REDIRECT" 2>&1)
assert_contains "$out" "relay corp signed in at fakeprov as relay@example.test" "relay callback: signed in"
ACCESS=$(stats | json_get - 'd["issued_access"][-1]')
REFRESH=$(stats | json_get - 'd["issued_refresh"][-1]')
assert_eq "1 valid fakeprov" "$(db "select count(*) || ' ' || state || ' ' || provider from oauth2_grants where owner = 'relay:$RELAY'")" \
  "the grant is stored under owner relay:<id>"
assert_eq 0 "$(db "select count(*) from oauth2_grants where instr(coalesce(access_sealed,'') || coalesce(refresh_sealed,''), '$ACCESS') > 0 or instr(coalesce(access_sealed,'') || coalesce(refresh_sealed,''), '$REFRESH') > 0")" \
  "... sealed at rest (neither token in clear)"
ma relay show acme corp --json > "$T/corp.json"
assert_eq "True untested" "$(json_get "$T/corp.json" '" ".join(str(x) for x in [d["auth"]["authorized"], d["status"]["state"]])')" \
  "signed in: authorized, and untested until a test passes"
ma relay test acme corp --to probe@client.example > "$T/test1.out" 2>&1 || { cat "$T/test1.out"; fail "relay test after sign-in"; }
assert_contains "$(cat "$T/test1.out")" "certificate verified for 127.0.0.1" "relay test: the certificate names the IP address"
assert_contains "$(cat "$T/test1.out")" "C:   AUTH XOAUTH2 <credentials>" "relay test prints the AUTH step, the token hidden"
assert_contains "$(cat "$T/test1.out")" "S:   235" "... and the server's acceptance"
assert_contains "$(cat "$T/test1.out")" "PASSED" "relay test passes"
assert_not_contains "$(cat "$T/test1.out")" "$ACCESS" "no token in the test's transcript"
assert_eq ok "$(ma relay show acme corp --json | json_get - 'd["status"]["state"]')" "a passed test marks the relay ok"
assert_eq 1 "$(wait_mbox "$PF" 1)" "the test message arrived through the relay"
assert_eq 1 "$(grep -c 'sasl_method=XOAUTH2, sasl_username=relay@example.test' "$PF/maillog")" \
  "Postfix authenticated the test with XOAUTH2 as the relay's username"

# ---- mail routed to the relay ----------------------------------------------------------------
start_serve
send() {
  curl -s -o "$T/body" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"type\":\"workflow\",\"from\":\"ops@example.test\",\"to\":[\"$1\"],\"subject\":\"$2\",\"text\":\"hello\"}"
  json_get "$T/body" 'd["id"]'
}
outbound() { curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$1"; }
api() { curl -s -H "Authorization: Bearer $KEY" -X "$1" "http://127.0.0.1:$API_PORT$2" ${3:+-d "$3"}; }
ID=$(send r1@client.example "Through the relay")
assert_eq sent "$(wait_state "$ID" r1@client.example sent)" "routed to the XOAUTH2 relay: sent"
assert_eq "enterprise_relay $RELAY" "$(outbound "$ID" | json_get - 'd["route"]["groups"][0]["channel"] + " " + d["route"]["groups"][0]["relay"]["id"]')" \
  "the route names the relay"
assert_eq 2 "$(wait_mbox "$PF" 2)" "the message arrived at the relay's destination"
assert_eq 2 "$(grep -c 'sasl_method=XOAUTH2, sasl_username=relay@example.test' "$PF/maillog")" \
  "... authenticated with XOAUTH2 as the relay's username"
assert_eq 0 "$(mbox_count "$D")" "nothing took the default path"

# ---- an expired token: refreshed exactly once, AUTH retried on the same connection -------------
refreshes=$(stats | json_get - 'd["refreshes"]')
curl -s -X POST "http://127.0.0.1:$OAUTH_PORT/control/expire" >/dev/null
ID=$(send r2@client.example "After expiry")
assert_eq sent "$(wait_state "$ID" r2@client.example sent)" "a token the server refuses: refreshed, sent"
assert_eq $((refreshes + 1)) "$(stats | json_get - 'd["refreshes"]')" "exactly one refresh"
assert_eq 1 "$(grep -c 'disconnect from .* auth=1/2 mail=1 rcpt=1 data=1 quit=1' "$PF/maillog")" \
  "... on the same connection: one refused AUTH, then one accepted"
assert_eq 3 "$(wait_mbox "$PF" 3)" "the message arrived at the relay's destination"
assert_eq 0 "$(mbox_count "$D")" "... and not by the default path"
assert_eq "0 ok" "$(db "select coalesce(sum(failures), 0) from relay_usage") $(db "select status from relays")" \
  "a refreshed token is no failure of the relay"

# ---- API sign-in: through mailagent's own callback, then through the CRM's -----------------------
url=$(api POST "/v1/relays/$RELAY:authorize" '{}' | json_get - 'd["authorization_url"]')
assert_contains "$url" "redirect_uri=http%3A%2F%2F127.0.0.1%3A$API_PORT%2Fv1%2Foauth2%2Fcallback" \
  ":authorize without a redirect_uri: mailagent's own callback under public_url"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
page=$(curl -s -w ' HTTP %{http_code}' "$loc")
assert_contains "$page" "The relay is signed in" "the provider's redirect to GET /v1/oauth2/callback completes the relay's sign-in"
assert_contains "$page" "HTTP 200" "... with a 200 page"
assert_contains "$(curl -s -w ' HTTP %{http_code}' "$loc")" "used already or has expired" "the same link again: the state is spent"
assert_eq "True untested" "$(ma relay show acme corp --json | json_get - '" ".join(str(x) for x in [d["auth"]["authorized"], d["status"]["state"]])')" \
  "signed in through the own callback: authorized, untested until a test passes"
url=$(api POST "/v1/relays/$RELAY:authorize" "{\"redirect_uri\":\"$REDIRECT\"}" | json_get - 'd["authorization_url"]')
assert_contains "$url" "login_hint=relay%40example.test" "POST /v1/relays/{id}:authorize answers the provider's URL"
read -r CODE STATE <<<"$(sign_in_at_provider "$url")"
assert_eq invalid "$(api POST "/v1/relays/$RELAY:callback" "{\"state\":\"bogus\",\"code\":\"$CODE\",\"redirect_uri\":\"$REDIRECT\"}" | json_get - 'd["error"]["code"]')" \
  ":callback with a wrong state is 422"
api POST "/v1/relays/$RELAY:callback" "{\"state\":\"$STATE\",\"code\":\"$CODE\",\"redirect_uri\":\"$REDIRECT\"}" > "$T/cb.json"
assert_eq "True untested" "$(json_get "$T/cb.json" '" ".join(str(x) for x in [d["auth"]["authorized"], d["status"]["state"]])')" \
  "POST /v1/relays/{id}:callback: signed in, untested until a test passes"
assert_eq 1 "$(db "select count(*) from oauth2_grants where owner = 'relay:$RELAY'")" "still one grant: the new one replaced the old"
api POST "/v1/relays/$RELAY:test" '{"to":"probe2@client.example"}' > "$T/apitest.json"
assert_eq "True ok" "$(json_get "$T/apitest.json" '" ".join(str(x) for x in [d["passed"], d["relay"]["status"]["state"]])')" \
  "POST /v1/relays/{id}:test passes with the new grant"
assert_contains "$(json_get "$T/apitest.json" '" | ".join(s["step"] + " " + s["text"] for s in d["steps"])')" \
  "C: AUTH XOAUTH2 <credentials>" "... and shows the AUTH step"
assert_eq 4 "$(wait_mbox "$PF" 4)" "the API's test message arrived through the relay"

# ---- a revoked grant: relay failure, fallback to the default path, sign-in needed ----------------
curl -s -X POST -d "token=$(stats | json_get - 'd["issued_refresh"][-1]')" "http://127.0.0.1:$OAUTH_PORT/revoke" >/dev/null
curl -s -X POST "http://127.0.0.1:$OAUTH_PORT/control/expire" >/dev/null
clock_advance 7200 # the stored access token expires: the next AUTH needs a refresh, which is refused
ID=$(send r3@client.example "After revocation")
assert_eq sent "$(wait_state "$ID" r3@client.example sent)" "a revoked grant: the message is still sent"
assert_eq 1 "$(wait_mbox "$D" 1)" "... by the default path"
assert_eq 4 "$(mbox_count "$PF")" "... and not through the relay"
outbound "$ID" > "$T/o3.json"
assert_contains "$(json_get "$T/o3.json" 'd["route"]["fallbacks"][0]["reason"]')" "no OAuth2 access token" \
  "the route records the fallback with the AUTH failure"
for _ in $(seq 1 50); do [ "$(db "select coalesce(sum(failures), 0) from relay_usage")" = 1 ] && break; sleep 0.1; done
assert_eq 1 "$(db "select coalesce(sum(failures), 0) from relay_usage")" "the AUTH failure counts against the relay"
ma relay show acme corp --json > "$T/corp.json"
assert_eq "False untested" "$(json_get "$T/corp.json" '" ".join(str(x) for x in [d["auth"]["authorized"], d["status"]["state"]])')" \
  "the relay is no longer authorized and not routed"
assert_contains "$(json_get "$T/corp.json" 'd["status"]["reason"]')" "needs sign-in" "... its status says it needs sign-in"
assert_eq "1 corp fakeprov" "$(db "select count(*) || ' ' || json_extract(payload, '$.name') || ' ' || json_extract(payload, '$.provider') from outbox where event = 'relay.needs_sign_in'")" \
  "the CRM is told once (webhook event relay.needs_sign_in)"
ID=$(send r4@client.example "After the relay needs sign-in")
assert_eq sent "$(wait_state "$ID" r4@client.example sent)" "later mail: sent"
assert_contains "$(outbound "$ID" | json_get - 'd["route"]["groups"][0]["reason"]')" "needs OAuth2 sign-in" \
  "... routed to the default path from the start, saying why"
assert_eq 2 "$(wait_mbox "$D" 2)" "... and it arrived there"
assert_eq 4 "$(mbox_count "$PF")" "the relay got nothing more"
rc=0; ma relay test acme corp --to probe3@client.example > "$T/test3.out" 2>&1 || rc=$?
assert_eq 1 "$rc" "relay test with the refused grant fails (exit 1)"
assert_contains "$(cat "$T/test3.out")" "FAILED: authentication failed: no OAuth2 access token" "... at AUTH, with the reason"
assert_eq 1 "$(db "select count(*) from outbox where event = 'relay.needs_sign_in'")" "... and the CRM is not told again"

# ---- tokens are never logged; deleting the relay deletes its grant --------------------------------
for t in $(stats | json_get - '" ".join(d["issued_access"] + d["issued_refresh"])'); do
  if grep -rqF "$t" "$T/serve.log" "$T/data"/*.log 2>/dev/null; then fail "a token appears in a log"; fi
done
pass "no issued token appears in serve's log"
stop_serve
ma relay delete acme corp >/dev/null
assert_eq 0 "$(db "select count(*) from oauth2_grants where owner = 'relay:$RELAY'")" "deleting the relay deleted its grant"
finish
