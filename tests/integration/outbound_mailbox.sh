#!/usr/bin/env bash
# outbound_mailbox.sh - the employee-mailbox channel (issue 13) against real peers: a Dovecot (IMAP,
# and the SASL service of a Postfix submission port, password and OAuth2 through a fake provider's
# introspection endpoint) and that Postfix relaying to client.example.
#   - binding checks the SMTP login too and names the failing step (connect, starttls, auth);
#     nothing is saved then
#   - password: POST /v1/messages:send with channel employee_mailbox leaves through the employee's
#     mailbox (Postfix logs the SASL login before delivering), the Sent copy lands in Dovecot's Sent
#     folder once, flagged \Seen, with the Message-ID; a replayed append step (a crash between the
#     APPEND and its record) finds it and adds nothing; the collector's pull of the Sent folder
#     deduplicates with the outbound archive copy (one message, two provenances)
#   - the mailbox's daily limit counts recipients: over it, with the From domain outside the
#     verified scope, the rest waits for the next day (test clock), then leaves through the mailbox;
#     once the domain is verified (DKIM key published in nsd), the rest takes the default path
#   - OAuth2: XOAUTH2 at Postfix with a token from the provider; a token the server stops accepting
#     is refreshed once and the message still leaves; a revoked grant defers the message and turns
#     the binding needs_reauth with the mailbox.needs_reauth event
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/dns.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

pki_make
dns_start "$FIXTURES_DIR/dns/example.test.zone"
dovecot_user carol@example.test carol-pw
dovecot_user dave@example.test dave-pw
# the submission port's certificate names its IP address (the binding gives 127.0.0.1); Dovecot is
# its SASL, password and OAuth2
xoauth2_sasl_start

PF=$T/pf
PF_PORT=$(free_port)
NOTLS_PORT=$(free_port); NOAUTH_PORT=$(free_port); CLOSED_PORT=$(free_port); OPEN_PORT=$(free_port)
pf_listen "$PF" "127.0.0.1:$NOTLS_PORT" smtpd_tls_security_level=none
pf_listen "$PF" "127.0.0.1:$NOAUTH_PORT" smtpd_sasl_auth_enable=no
# the default path's smart host: the same Postfix, open to loopback without AUTH
pf_listen "$PF" "127.0.0.1:$OPEN_PORT" smtpd_sasl_auth_enable=no mynetworks=127.0.0.0/8 \
  smtpd_recipient_restrictions=permit_mynetworks,reject
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = may" "smtpd_tls_cert_file = $T/pki/smtp.pem" \
  "smtpd_tls_key_file = $T/pki/smtp.key" "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" \
  "smtpd_sasl_path = $T/dovecot/auth-postfix" "smtpd_tls_auth_only = yes" "mynetworks = 192.0.2.1/32" \
  "smtpd_recipient_restrictions = permit_sasl_authenticated, reject"

fakeprov_preset "$PF_PORT"
clock_start 1796205600 # 2026-12-02 10:00 UTC
write_config "[collector]" "ca_file=$T/pki/root.pem" "timeout=10" "presets_file=$T/presets.ini" "interval=8640000" \
  "[queue]" "retry_initial=1" "retry_max=2" "[dns]" "servers=$DNS_SERVERS" \
  "[relay]" "default_host=127.0.0.1:$OPEN_PORT" "tls_mode=off"
ma init >/dev/null
KEY=$(ma enterprise add --name Acme --slug acme --domain example.test --json | json_get - 'd["api_key"]["secret"]')
ma employee add acme carol@example.test >/dev/null
ma employee add acme dave@example.test >/dev/null
ma settings acme archive_unmatched=on >/dev/null
echo carol-pw > "$T/carol.pw"
db() { sqlite3 -readonly "$T/data/mailagent.db" "$1"; }

# ---- binding checks the SMTP login, names the failing step, saves nothing --------------------
bind_fails() { # SMTP STEP-TEXT WHAT
  local out st
  out=$(ma mailbox bind acme carol@example.test --preset fakeprov --smtp "$1" --password-file "$T/carol.pw" 2>&1) && st=0 || st=$?
  assert_eq 2 "$st" "bind refused: $3"
  assert_contains "$out" "$2" "... the failing step is named: $3"
  assert_contains "$out" "nothing was saved" "... and nothing was saved: $3"
}
bind_fails "127.0.0.1:$CLOSED_PORT:starttls" "smtp connect: 127.0.0.1:$CLOSED_PORT" "nothing listens"
bind_fails "127.0.0.1:$NOTLS_PORT:starttls" "smtp starttls: 127.0.0.1:$NOTLS_PORT: TLS required but the server does not offer STARTTLS" "no STARTTLS"
bind_fails "127.0.0.1:$NOAUTH_PORT:starttls" "smtp auth: 127.0.0.1:$NOAUTH_PORT: the server does not offer AUTH PLAIN" "no AUTH"
assert_eq 0 "$(db 'select count(*) from mailboxes')" "no binding was saved by the failed checks"

out=$(ma mailbox bind acme carol@example.test --preset fakeprov --password-file "$T/carol.pw" 2>&1)
assert_contains "$out" "bound for carol@example.test" "password binding: IMAP and the SMTP login checked"
# Postfix's summary of each session: the check logged in after STARTTLS and quit, sending nothing
assert_eq 1 "$(grep -c 'disconnect from .* ehlo=2 starttls=1 auth=1 quit=1 commands=5$' "$PF/maillog")" \
  "the bind's SMTP check: STARTTLS, AUTH, QUIT at Postfix (no mail)"
CAROL=$(ma mailbox list acme --json | json_get - 'd["items"][0]["id"]')
ma mailbox show acme "$CAROL" --json > "$T/carol.json"
assert_eq "127.0.0.1 $PF_PORT starttls True 0" \
  "$(json_get "$T/carol.json" '" ".join(str(x) for x in [d["smtp"]["host"], d["smtp"]["port"], d["smtp"]["security"], d["sent_copy"], d["daily_limit"]])')" \
  "the binding keeps its SMTP server (from the preset), Sent copy on, no daily limit"

# ---- password: sent through the employee's mailbox, Sent copy appended once -----------------
start_serve
send() { # TO-JSON-LIST SUBJECT EMPLOYEE
  curl -s -o "$T/send.json" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
    -d "{\"from\":\"$3\",\"to\":$1,\"subject\":\"$2\",\"text\":\"hello\",\"channel\":\"employee_mailbox\",\"employee\":\"$3\"}"
  json_get "$T/send.json" 'd["id"]'
}
outbound() { curl -s -H "Authorization: Bearer $KEY" "http://127.0.0.1:$API_PORT/v1/outbound/$1"; }
sent_copies() { # USER PASSWORD MESSAGE-ID -> "count flags"
  /usr/bin/python3 - "$IMAP_PORT" "$@" <<'PY'
import imaplib, sys
port, user, pw, mid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
m = imaplib.IMAP4("127.0.0.1", port)
m.login(user, pw)
m.select("Sent", readonly=True)
typ, data = m.search(None, "HEADER", "Message-ID", "<%s>" % mid)
uids = data[0].split()
flags = ""
if uids:
    typ, fl = m.fetch(uids[0], "(FLAGS)")
    flags = "seen" if b"\\Seen" in fl[0] else "unseen"
print(len(uids), flags)
m.logout()
PY
}
wait_states() { # ID WANT -> the recipients' states, sorted, once they are WANT (or after 20 s)
  local states=""
  for _ in $(seq 1 100); do
    states=$(outbound "$1" | json_get - '" ".join(sorted(r["state"] for r in d["recipients"]))')
    [ "$states" = "$2" ] && break
    sleep 0.2
  done
  echo "$states"
}
wait_copy() { # ID -> the Sent copy's state once done or failed
  local st=""
  for _ in $(seq 1 100); do
    st=$(outbound "$1" | json_get - '(d["sent_copy"] or {}).get("state", "none")')
    case "$st" in done|failed) break;; esac
    sleep 0.1
  done
  echo "$st"
}

ID=$(send '["x1@client.example"]' "Through the mailbox" carol@example.test)
assert_eq "x1@client.example sent" "$(wait_settled "$ID")" "channel employee_mailbox: sent"
assert_eq 1 "$(wait_mbox "$PF" 1)" "the message arrived at the destination through the mailbox's server"
assert_eq 1 "$(grep -c 'sasl_method=PLAIN, sasl_username=carol@example.test' "$PF/maillog")" \
  "Postfix authenticated the delivery as the employee"
assert_contains "$(grep -A3 '^From ' "$PF/mail/inbox" | head -3)" "carol@example.test" "envelope sender: the employee's address"
outbound "$ID" > "$T/o1.json"
assert_eq "employee_mailbox $CAROL" "$(json_get "$T/o1.json" 'd["route"]["channel"] + " " + d["route"]["mailbox_id"]')" \
  "the route names the channel and the mailbox"
MID=$(json_get "$T/o1.json" 'd["message_id"]')
assert_eq done "$(wait_copy "$ID")" "the Sent copy step is done"
assert_eq "Sent" "$(outbound "$ID" | json_get - 'd["sent_copy"]["detail"]')" "... in the SPECIAL-USE \\Sent folder"
assert_eq "1 seen" "$(sent_copies carol@example.test carol-pw "$MID")" "Dovecot's Sent folder holds the copy once, \\Seen, with the Message-ID"

# a crash between the server's APPEND and our record: the step runs again and finds the copy
stop_serve
sqlite3 "$T/data/mailagent.db" "update outbound_sent_copies set state = 'appending', next_attempt_at = 0 where outbound_id = '$ID'"
start_serve
assert_eq done "$(wait_copy "$ID")" "the replayed append step ends done"
assert_contains "$(cat "$T/serve.log")" "Sent copy already in Sent" "... having found the copy by its Message-ID"
assert_eq "1 seen" "$(sent_copies carol@example.test carol-pw "$MID")" "... and Dovecot still holds exactly one copy"

# the collector's pull of the Sent folder deduplicates with the outbound archive copy
ma mailbox sync acme "$CAROL" >/dev/null
for _ in $(seq 1 100); do
  [ "$(db "select count(distinct route) from provenance p join messages m on m.id = p.message_id where m.message_id = '$MID'")" = 2 ] && break
  sleep 0.1
done
assert_eq 1 "$(db "select count(*) from messages where message_id = '$MID'")" "archived once (outbound copy and pulled Sent copy)"
assert_eq "imap outbound" "$(db "select group_concat(route, ' ') from (select distinct p.route from provenance p join messages m on m.id = p.message_id where m.message_id = '$MID' order by p.route)")" \
  "... with two provenances: the outbound archive and the IMAP pull"

# ---- the daily limit, per recipient ------------------------------------------------------------
assert_contains "$(ma mailbox limit acme "$CAROL" 5)" "daily limit 5" "mailbox limit (CLI)"
limit_api() { curl -s -X POST -H "Authorization: Bearer $KEY" --data "$2" "http://127.0.0.1:$API_PORT/v1/mailboxes/$1:limit"; }
assert_eq invalid "$(limit_api "$CAROL" '{"daily_limit": -1}' | json_get - 'd["error"]["code"]')" "a negative limit is 422"
assert_eq 3 "$(limit_api "$CAROL" '{"daily_limit": 3}' | json_get - 'd["daily_limit"]')" "POST /v1/mailboxes/{id}:limit sets it"
ID=$(send '["x2@client.example","x3@client.example","x4@client.example"]' "Limit" carol@example.test)
assert_eq "deferred sent sent" "$(wait_states "$ID" "deferred sent sent")" "limit 3 with 1 sent today: two more leave, the third waits"
assert_contains "$(outbound "$ID" | json_get - '[r["reply"] for r in d["recipients"] if r["state"]=="deferred"][0]')" \
  "daily limit 3 of mailbox carol@example.test reached for 2026-12-02; the default path is not open to example.test" \
  "the reason names the limit, the day, and why the default path is closed"
assert_eq 3 "$(wait_mbox "$PF" 3)" "the destination got exactly the two within the limit"
assert_eq 3 "$(db "select sent from mailbox_send_days where mailbox_id = '$CAROL' and day = '2026-12-02'")" \
  "the day's count is 3 recipients"
clock_advance 86400
assert_eq "sent sent sent" "$(wait_states "$ID" "sent sent sent")" "the next day the waiting recipient leaves through the mailbox"
assert_eq 4 "$(wait_mbox "$PF" 4)" "the destination got it (no duplicate)"
assert_eq 1 "$(db "select sent from mailbox_send_days where mailbox_id = '$CAROL' and day = '2026-12-03'")" \
  "it counts on the new day"

# the From domain enters the verified scope: over the limit, the rest takes the default path
ma domain dkim acme example.test --selector sel1 --import-key "$FIXTURES_DIR/dns/keys/sel1.key.pem" >/dev/null
ma domain verify acme example.test >/dev/null 2>&1 || true
assert_eq verified "$(ma domain show acme example.test --json | json_get - 'd["status"]')" "example.test is verified"
ID=$(send '["z1@client.example","z2@client.example","z3@client.example"]' "Fallback" carol@example.test)
assert_eq "sent sent sent" "$(wait_states "$ID" "sent sent sent")" "over the limit with the domain in scope: all sent"
outbound "$ID" > "$T/o3.json"
assert_eq "z3@client.example mailagent_relay $CAROL" \
  "$(json_get "$T/o3.json" '" ".join(r["address"]+" "+r["route"]["channel"]+" "+r["route"]["fallback_from_mailbox"] for r in d["recipients"] if "route" in r)')" \
  "the recipient over the limit has its own route: the default path, fallen back from the mailbox"
assert_contains "$(json_get "$T/o3.json" '[r for r in d["recipients"] if "route" in r][0]["route"]["reason"]')" \
  "daily limit 3 of mailbox carol@example.test reached for 2026-12-03: the default path" "... with the reason"
assert_eq 7 "$(wait_mbox "$PF" 7)" "the destination got all three"
assert_eq 1 "$(grep -c ': client=localhost\[127.0.0.1\]$' "$PF/maillog")" \
  "one arrived through the default path's smart host, without the employee's AUTH"
assert_eq 3 "$(db "select sent from mailbox_send_days where mailbox_id = '$CAROL' and day = '2026-12-03'")" \
  "the mailbox's count stops at its limit"
stop_serve

# ---- OAuth2: XOAUTH2 at Postfix, a refused token refreshed once --------------------------------
echo test-secret > "$T/client.secret"
ma mailbox oauth2-client acme fakeprov --client-id test-client --client-secret-file "$T/client.secret" >/dev/null
ma mailbox bind acme dave@example.test --preset fakeprov --oauth2 >/dev/null
DAVE=$(ma mailbox list acme --json | json_get - '[i["id"] for i in d["items"] if i["email"]=="dave@example.test"][0]')
REDIRECT=http://crm.test/oauth/callback
url=$(ma mailbox authorize acme "$DAVE" --redirect-uri "$REDIRECT")
loc=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
CODE=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc")
STATE=$(/usr/bin/python3 -c 'import sys,urllib.parse as u; print(u.parse_qs(u.urlparse(sys.argv[1]).query)["state"][0])' "$loc")
out=$(ma mailbox callback acme "$DAVE" --state "$STATE" --code "$CODE" --redirect-uri "$REDIRECT" 2>&1)
assert_contains "$out" "authorized and active" "OAuth2 binding: IMAP and the SMTP login checked with the token"
assert_eq 2 "$(grep -c 'disconnect from .* ehlo=2 starttls=1 auth=1 quit=1 commands=5$' "$PF/maillog")" \
  "the OAuth2 bind's SMTP check logged in too"
start_serve
ID=$(send '["y1@client.example"]' "OAuth2" dave@example.test)
assert_eq "y1@client.example sent" "$(wait_settled "$ID")" "OAuth2 mailbox: sent"
assert_eq 1 "$(grep -c 'sasl_method=XOAUTH2, sasl_username=dave@example.test' "$PF/maillog")" "... authenticated with XOAUTH2"
refreshes=$(curl -s "http://127.0.0.1:$OAUTH_PORT/control/stats" | json_get - 'd["refreshes"]')
curl -s -X POST "http://127.0.0.1:$OAUTH_PORT/control/expire" >/dev/null
ID=$(send '["y2@client.example"]' "OAuth2 after expiry" dave@example.test)
assert_eq "y2@client.example sent" "$(wait_settled "$ID")" "a token the server refuses: refreshed, sent on the same connection"
assert_eq $((refreshes + 1)) "$(curl -s "http://127.0.0.1:$OAUTH_PORT/control/stats" | json_get - 'd["refreshes"]')" "exactly one refresh"
assert_eq 2 "$(grep -c 'sasl_method=XOAUTH2, sasl_username=dave@example.test' "$PF/maillog")" "the retried AUTH succeeded"
assert_eq 1 "$(grep -c 'disconnect from .* auth=1/2 mail=1 rcpt=1 data=1 quit=1' "$PF/maillog")" \
  "... on the same connection: one refused AUTH, then one accepted"
assert_eq 9 "$(wait_mbox "$PF" 9)" "the destination holds all nine messages, none twice"
assert_eq done "$(wait_copy "$ID")" "the OAuth2 mailbox's Sent copy is appended too"

# the routing's rule 2 (agent/relay, docs/routing.md): channel auto on behalf of an employee whose
# mailbox can send takes that mailbox, through the same transport
curl -s -o "$T/send.json" -H "Authorization: Bearer $KEY" -X POST "http://127.0.0.1:$API_PORT/v1/messages:send" \
  -d '{"from":"dave@example.test","to":["y9@client.example"],"subject":"Auto","text":"hello","employee":"dave@example.test"}'
ID=$(json_get "$T/send.json" 'd["id"]')
assert_eq "y9@client.example sent" "$(wait_settled "$ID")" "channel auto with an employee's sending mailbox: sent"
assert_eq "employee_mailbox $DAVE" "$(outbound "$ID" | json_get - 'd["route"]["groups"][0]["channel"] + " " + d["route"]["groups"][0]["mailbox_id"]')" \
  "the route (rule 2) names the employee's mailbox"
assert_eq 3 "$(grep -c 'sasl_method=XOAUTH2, sasl_username=dave@example.test' "$PF/maillog")" "... and it left through it (XOAUTH2)"
assert_eq 10 "$(wait_mbox "$PF" 10)" "the destination holds ten messages"
assert_eq done "$(wait_copy "$ID")" "... with its Sent copy"

# the grant is revoked at the provider; the stored token expires: the refresh says invalid_grant
curl -s -X POST -d "token=$(curl -s "http://127.0.0.1:$OAUTH_PORT/control/stats" | json_get - 'd["issued_access"][-1]')" \
  "http://127.0.0.1:$OAUTH_PORT/revoke" >/dev/null
clock_advance 7200
ID=$(send '["y3@client.example"]' "After revocation" dave@example.test)
assert_eq deferred "$(wait_state "$ID" y3@client.example deferred)" "a revoked grant: the message is deferred"
assert_contains "$(outbound "$ID" | json_get - 'd["recipients"][0]["reply"]')" "no OAuth2 access token" "... with the reason"
assert_eq needs_reauth "$(ma mailbox show acme "$DAVE" --json | json_get - 'd["state"]')" "the binding turns needs_reauth"
assert_eq 1 "$(db "select count(*) from outbox where event = 'mailbox.needs_reauth'")" "the CRM is told once (mailbox.needs_reauth)"
stop_serve
finish
