#!/usr/bin/env bash
# collector_oauth2.sh - OAuth2 mailbox bindings against a real Dovecot whose oauth2 passdb checks
# tokens at the introspection endpoint of a fake provider on loopback (fake_oauth2.py): the
# authorization code with PKCE (state single-use), OAUTHBEARER on IMAP (offered by Dovecot; our
# own AUTHENTICATE) and XOAUTH2 on POP3 (our own AUTH command), each with the error challenge
# answered by an empty line, an access token the server refuses
# refreshed and the sync retried, expiry by the (test) clock refreshed before use, Microsoft-style
# rotation keeping the newest refresh token, Google-style refresh without a new refresh token, a
# revoked grant -> needs_reauth + the mailbox.needs_reauth webhook event, and tokens encrypted at rest.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"

pki_make
oauth2_provider_start
dovecot_user carol@example.test carol-pw
DOVECOT_EXTRA_MECHANISMS="xoauth2 oauthbearer" dovecot_start \
  "passdb {" "  driver = oauth2" "  mechanisms = xoauth2 oauthbearer" "  args = $T/dovecot/oauth2.conf.ext" "}"

cat > "$T/presets.ini" <<EOF
[fakeprov]
name = Fake provider (tests)
source = tests/fixtures/collector/fake_oauth2.py
imap = localhost:$IMAPS_PORT:tls
pop3 = localhost:$POP3S_PORT:tls
auth = oauth2 password
oauth2_authorize_url = http://127.0.0.1:$OAUTH_PORT/authorize
oauth2_token_url = http://127.0.0.1:$OAUTH_PORT/token
oauth2_revoke_url = http://127.0.0.1:$OAUTH_PORT/revoke
oauth2_scope = mail
EOF
clock_start
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10" "presets_file=$T/presets.ini"
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --slug acme --domain example.test --json | json_get - 'd["api_key"]["secret"]')
ma employee add acme carol@example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo test-secret > "$T/client.secret"
ma mailbox oauth2-client acme fakeprov --client-id test-client --client-secret-file "$T/client.secret" >/dev/null
stats() { curl -s "http://127.0.0.1:$OAUTH_PORT/control/stats" | json_get - "$1"; }
db() { sqlite3 -readonly "$T/data/mailagent.db" "$1"; }
REDIRECT=http://crm.test/oauth/callback

# authorize: bind (pending) -> URL -> the provider redirects with code and state -> callback
authorize() { # MAILBOX_ID -> sets CODE and STATE
  local url loc
  url=$(ma mailbox authorize acme "$1" --redirect-uri "$REDIRECT")
  assert_contains "$url" "code_challenge_method=S256" "authorization URL uses PKCE S256"
  loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
  CODE=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc")
  STATE=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["state"][0])' "$loc")
}

out=$(ma mailbox bind acme carol@example.test --preset fakeprov --oauth2)
assert_contains "$out" "pending" "an OAuth2 binding waits for its authorization"
IMAPID=$(ma mailbox list acme --json | json_get - 'd["items"][0]["id"]')
authorize "$IMAPID"
out=$(ma mailbox callback acme "$IMAPID" --state "$STATE" --code "$CODE" --redirect-uri "$REDIRECT" 2>&1)
assert_contains "$out" "authorized and active" "code exchanged, mailbox verified with the OAuth2 token, active"
out=$(ma mailbox callback acme "$IMAPID" --state "$STATE" --code "$CODE" --redirect-uri "$REDIRECT" 2>&1) && st=0 || st=$?
assert_eq 2 "$st" "the state is single-use"
assert_contains "$out" "unknown, used or expired state" "a replayed state is refused"

make_message "$T/c1.eml" "C1 <c1@client.test>" carol@example.test "Via OAuth" "c1@client.test"
imap_append carol@example.test carol-pw INBOX "$T/c1.eml"
ma mailbox sync acme "$IMAPID" >/dev/null
assert_eq 1 "$(db 'select count(*) from messages')" "IMAP OAuth2 sync archived the message"
assert_contains "$(grep 'imap-login: Info: Login: user=<carol' "$T/dovecot/dovecot.log" | tail -1)" "method=OAUTHBEARER" \
  "IMAP uses OAUTHBEARER where the server offers it"
assert_eq 0 "$(stats 'd["refreshes"]')" "a fresh access token is used without a refresh"
leaked=0
for tok in $(curl -s "http://127.0.0.1:$OAUTH_PORT/control/stats" | json_get - '" ".join(d["issued_access"] + d["issued_refresh"])'); do
  grep -q "$tok" "$T/data/mailagent.db" && leaked=1
done
assert_eq 0 "$leaked" "access and refresh tokens are encrypted at rest"

# the server stops accepting the access token before its stored expiry: refresh once, retry
curl -s -X POST "http://127.0.0.1:$OAUTH_PORT/control/expire" >/dev/null
gen_before=$(db "select generation from oauth2_grants where owner = 'mailbox:$IMAPID'")
refresh_before=$(db "select refresh_sealed from oauth2_grants where owner = 'mailbox:$IMAPID'")
out=$(ma mailbox sync acme "$IMAPID" 2>&1)
assert_contains "$out" "synced" "a refused access token is refreshed and the sync retried"
assert_eq 1 "$(stats 'd["refreshes"]')" "one refresh"
assert_eq $((gen_before + 1)) "$(db "select generation from oauth2_grants where owner = 'mailbox:$IMAPID'")" "the grant's generation moved"
refresh_after=$(db "select refresh_sealed from oauth2_grants where owner = 'mailbox:$IMAPID'")
if [ "$refresh_before" != "$refresh_after" ]; then pass "the rotated refresh token is stored"; else fail "rotated refresh token not stored"; fi

# expiry by the clock: refreshed before use (the old refresh token is dead: rotation must have kept the new one)
clock_advance 7200
make_message "$T/c2.eml" "C2 <c2@client.test>" carol@example.test "After expiry" "c2@client.test"
imap_append carol@example.test carol-pw INBOX "$T/c2.eml"
ma mailbox sync acme "$IMAPID" >/dev/null
assert_eq 2 "$(stats 'd["refreshes"]')" "an expired token is refreshed before use"
assert_eq 2 "$(db 'select count(*) from messages')" "the sync after expiry archived the new message"
assert_eq active "$(ma mailbox show acme "$IMAPID" --json | json_get - 'd["state"]')" "still active after two rotations"

# Google: no refresh_token on refresh; the stored one stays and keeps working
curl -s -X POST "http://127.0.0.1:$OAUTH_PORT/control/mode?m=google" >/dev/null
clock_advance 7200
kept=$(db "select refresh_sealed from oauth2_grants where owner = 'mailbox:$IMAPID'")
ma mailbox sync acme "$IMAPID" >/dev/null
assert_eq 3 "$(stats 'd["refreshes"]')" "Google-style refresh"
assert_eq "$kept" "$(db "select refresh_sealed from oauth2_grants where owner = 'mailbox:$IMAPID'")" \
  "without a new refresh_token the old one is kept"
clock_advance 7200
ma mailbox sync acme "$IMAPID" >/dev/null
assert_eq 4 "$(stats 'd["refreshes"]')" "the kept refresh token works again"

# POP3 with our AUTH XOAUTH2; a refused token gets the error challenge answered, then refresh + retry
ma mailbox bind acme carol@example.test --protocol pop3 --preset fakeprov --oauth2 >/dev/null
POPID=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["protocol"]=="pop3"][0]')
authorize "$POPID"
ma mailbox callback acme "$POPID" --state "$STATE" --code "$CODE" --redirect-uri "$REDIRECT" >/dev/null
ma mailbox sync acme "$POPID" >/dev/null
assert_eq 2 "$(db "select count(*) from provenance where route = 'pop3'")" "POP3 XOAUTH2 sync (same mail, own provenance)"
curl -s -X POST "http://127.0.0.1:$OAUTH_PORT/control/expire" >/dev/null
make_message "$T/c3.eml" "C3 <c3@client.test>" carol@example.test "Third" "c3@client.test"
imap_append carol@example.test carol-pw INBOX "$T/c3.eml"
before=$(stats 'd["refreshes"]')
out=$(ma mailbox sync acme "$POPID" 2>&1)
assert_contains "$out" "synced" "POP3: refused token (error challenge answered) refreshed and retried"
assert_eq $((before + 1)) "$(stats 'd["refreshes"]')" "POP3: one refresh"
assert_eq 3 "$(db "select count(*) from provenance where route = 'pop3'")" "POP3: the new message came"
assert_eq 1 "$(grep -c 'pop3-login: .*auth failed.*method=XOAUTH2' "$T/dovecot/dovecot.log")" \
  "POP3: Dovecot saw exactly one refused XOAUTH2 attempt, ended by our empty response"
assert_eq 1 "$(grep -c 'imap-login: .*auth failed.*method=OAUTHBEARER' "$T/dovecot/dovecot.log")" \
  "IMAP: exactly one refused OAUTHBEARER attempt (the expired token), ended by our empty response"

# a server that offers XOAUTH2 only: libetpan's XOAUTH2 on IMAP
sed -i 's/^auth_mechanisms = .*/auth_mechanisms = plain login xoauth2/; s/^  mechanisms = xoauth2 oauthbearer/  mechanisms = xoauth2/' "$DOVECOT_CONF"
doveadm -c "$DOVECOT_CONF" reload
sleep 0.5
make_message "$T/c4.eml" "C4 <c4@client.test>" carol@example.test "Fourth" "c4@client.test"
imap_append carol@example.test carol-pw INBOX "$T/c4.eml"
ma mailbox sync acme "$IMAPID" >/dev/null
assert_eq 4 "$(db 'select count(*) from messages')" "IMAP XOAUTH2 sync archived the message"
assert_contains "$(grep 'imap-login: Info: Login: user=<carol' "$T/dovecot/dovecot.log" | tail -1)" "method=XOAUTH2" \
  "IMAP falls back to XOAUTH2 when OAUTHBEARER is not offered"

# revoked grant: invalid_grant -> needs_reauth, no more polling, webhook event queued
curl -s -X POST -d "token=$(curl -s "http://127.0.0.1:$OAUTH_PORT/control/stats" | json_get - 'd["issued_access"][-1]')" \
  "http://127.0.0.1:$OAUTH_PORT/revoke" >/dev/null
clock_advance 7200
out=$(ma mailbox sync acme "$IMAPID" 2>&1) && st=0 || st=$?
assert_contains "$out" "needs reauthorization" "a revoked grant is reported"
ma mailbox show acme "$IMAPID" --json > "$T/imap.json"
assert_eq needs_reauth "$(json_get "$T/imap.json" 'd["state"]')" "the binding is needs_reauth"
assert_eq None "$(json_get "$T/imap.json" 'd["next_attempt_at"]')" "a needs_reauth binding is not polled"
assert_eq 1 "$(db "select count(*) from outbox where event = 'mailbox.needs_reauth'")" "mailbox.needs_reauth event queued for the CRM"
payload=$(db "select payload from outbox where event = 'mailbox.needs_reauth'")
assert_contains "$payload" "\"mailbox_id\":\"$IMAPID\"" "the event names the mailbox"
assert_not_contains "$payload" "rt-" "the event carries no token"

# re-authorization through the API, as a CRM hosting the redirect does it; serve finishes it
start_serve
api() { curl -s -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' --data "$2" \
          "http://127.0.0.1:$API_PORT/v1/mailboxes/$IMAPID:$1"; }
url=$(api authorize "{\"redirect_uri\":\"$REDIRECT\"}" | json_get - 'd["authorization_url"]')
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
CODE=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc")
STATE=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["state"][0])' "$loc")
out=$(api callback "{\"state\":\"$STATE\",\"code\":\"$CODE\",\"redirect_uri\":\"$REDIRECT\"}")
assert_eq authorizing "$(echo "$out" | json_get - 'd["state"]')" "POST :callback takes the code (202, authorizing)"
for _ in $(seq 1 100); do
  st=$(ma mailbox show acme "$IMAPID" --json | json_get - 'd["state"]'); [ "$st" = authorizing ] || break; sleep 0.1
done
assert_eq active "$st" "a collector thread exchanged the code and checked the mailbox: active again"
assert_eq "" "$(db "select secret_sealed from mailboxes where id = '$IMAPID'")" "the code is not kept"
out=$(api callback "{\"state\":\"$STATE\",\"code\":\"$CODE\",\"redirect_uri\":\"$REDIRECT\"}")
assert_eq conflict "$(echo "$out" | json_get - 'd["error"]["code"]')" "an active binding takes no code"
stop_serve

# ---- mailagent's own callback under [api] public_url: the browser brings the code back ----------
sed -i "/^listen=127.0.0.1:$API_PORT\$/a public_url=http://127.0.0.1:$API_PORT" "$CONF"
OWN=http://127.0.0.1:$API_PORT/v1/oauth2/callback
ma mailbox unbind acme "$IMAPID" >/dev/null
out=$(ma mailbox bind acme carol@example.test --preset fakeprov --oauth2)
assert_contains "$out" "next: mailagent mailbox authorize acme" "the CLI names the next step"
assert_not_contains "$out" "--redirect-uri" "with public_url set, no redirect URI is needed"
IMAPID=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["protocol"]=="imap"][0]')
start_serve
url=$(api authorize '{}' | json_get - 'd["authorization_url"]')
assert_contains "$url" "redirect_uri=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$OWN")" \
  ":authorize without redirect_uri names mailagent's own callback"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
assert_contains "$loc" "$OWN?" "the provider sends the browser to mailagent's callback"
page=$(curl -s -w '\n%{http_code}' "$loc")
assert_eq 200 "$(echo "$page" | tail -n 1)" "the callback needs no API key (the state is the proof)"
assert_contains "$page" "Sign-in received" "the person signing in is told it worked"
assert_not_contains "$page" "$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc")" \
  "the page does not repeat the code"
for _ in $(seq 1 100); do
  st=$(ma mailbox show acme "$IMAPID" --json | json_get - 'd["state"]'); [ "$st" = authorizing ] || break; sleep 0.1
done
assert_eq active "$st" "the code from mailagent's own callback was exchanged: the binding is active"
page=$(curl -s -w '\n%{http_code}' "$loc")
assert_eq 400 "$(echo "$page" | tail -n 1)" "the same callback again is refused (single-use state)"
assert_contains "$page" "used already or has expired" "and says why"
assert_eq 400 "$(curl -s -o /dev/null -w '%{http_code}' "$OWN?state=forged&code=x")" "an unknown state is refused"
url=$(api authorize '{}' | json_get - 'd["authorization_url"]')
S2=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["state"][0])' "$url")
page=$(curl -s -w '\n%{http_code}' "$OWN?state=$S2&error=access_denied")
assert_eq 400 "$(echo "$page" | tail -n 1)" "a refusal by the provider is answered 400"
assert_contains "$page" "access_denied" "and names the provider's answer"
assert_eq active "$(ma mailbox show acme "$IMAPID" --json | json_get - 'd["state"]')" "a refusal changes nothing"
page=$(curl -s -w '\n%{http_code}' "$OWN?state=$S2&error=%3Cscript%3E")
assert_not_contains "$page" "<script>" "the provider's text is escaped in the page"

# /metrics: bindings per state, never per address
want=$(db "select 'mailagent_mailboxes{state=\"' || state || '\"} ' || count(*) from mailboxes group by state order by state")
assert_eq "$want" "$(curl -s "http://127.0.0.1:$API_PORT/metrics" | grep '^mailagent_mailboxes{')" "/metrics counts the bindings by state"
assert_not_contains "$(curl -s "http://127.0.0.1:$API_PORT/metrics")" "carol@" "/metrics names no mailbox address"
stop_serve
finish
