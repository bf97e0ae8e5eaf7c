#!/usr/bin/env bash
# bounce_postfix.sh - bounce management end to end with a real Postfix as the destination. Postfix
# accepts every recipient of client.example at RCPT but knows only ok@client.example, so it bounces
# nouser@ after accepting it and sends a real DSN to the message's VERP return path, which its
# transport_maps routes back to mailagent's inbound listener (no DNS). Checked: the return path is
# a VERP address of [relay] bounce_domain; exactly the bounced recipient becomes bounced (after
# sent) with message.bounced and the classification; the DSN is not archived; the address is
# suppressed and the next send queues it as suppressed, never attempted (Postfix's log tells);
# forged bounce addresses are refused at RCPT with 550 5.1.1; an ARF complaint to a return path
# emits message.complained and suppresses; `mailagent suppression` and /v1/suppressions.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

chmod 755 "$T"
PF=$T/pf
PF_PORT=$(free_port)
write_config "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$PF_PORT" "tls_mode=off" "bounce_domain=bounces.test"

mkdir -p "$PF/mail"
chown postfix "$PF/mail"
echo "ok@client.example inbox" >"$PF/vmailbox"
echo "bounces.test smtp:[127.0.0.1]:$SMTP_PORT" >"$PF/transport"
pf_start "$PF" "$PF_PORT" \
  "myhostname = mx.client.example" "mydestination =" "virtual_mailbox_domains = client.example" \
  "virtual_mailbox_base = $PF/mail" "virtual_mailbox_maps = texthash:$PF/vmailbox" \
  "virtual_uid_maps = static:$(id -u postfix)" "virtual_gid_maps = static:$(id -g postfix)" \
  "smtpd_reject_unlisted_recipient = no" "transport_maps = texthash:$PF/transport" \
  "smtp_tls_security_level = none"
cleanup_cmd "postfix -c '$PF' stop"
grep -q "starting the Postfix mail system" "$PF/start.log" || { cat "$PF/start.log" "$PF/check.log"; fail "postfix did not start"; finish; }

ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
start_serve
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
# wait_log PATTERN: Postfix logs a delivery after its reply, so wait (up to 10 s) for the line; prints it
wait_log() { for _ in $(seq 1 100); do grep -m1 -E "$1" "$PF/maillog" && return 0; sleep 0.1; done; echo "(no line /$1/)"; }
api() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$@"; }

code=$(api -X POST -d '{"type":"mass","from":"sales@acme.example","to":["ok@client.example","nouser@client.example"],
  "subject":"Offer","text":"Hello\n"}' "http://127.0.0.1:$API_PORT/v1/messages:send")
assert_eq 202 "$code" "send: accepted"
ID=$(json_get "$T/body" 'd["id"]')
assert_eq 1 "$(wait_mbox "$PF" 1)" "Postfix delivered ok@'s copy"
assert_contains "$(wait_log 'to=<nouser@client.example>')" "status=bounced" "Postfix accepted nouser@ and bounced it after accepting"
rp=$(grep -m1 '^Return-Path:' "$PF/mail/inbox")
[[ "$rp" =~ ^Return-Path:\ \<b[a-z2-7]{29}@bounces\.test\>$ ]] && pass "the return path is a VERP address ($rp)" || fail "return path: $rp"

assert_eq bounced "$(wait_state "$ID" nouser@client.example bounced 30)" "the DSN made nouser@ bounced"
assert_eq sent "$(wait_state "$ID" ok@client.example sent)" "ok@ stays sent"
assert_contains "$(wait_log "bounces.test>.*relay=127.0.0.1\[127.0.0.1\]:$SMTP_PORT")" "status=sent" \
  "Postfix delivered its DSN to mailagent's inbound listener"
api "http://127.0.0.1:$API_PORT/v1/outbound/$ID" >/dev/null
assert_contains "$(json_get "$T/body" '[r["reply"] for r in d["recipients"] if r["address"]=="nouser@client.example"][0]')" \
  "hard bounce 5.1.1 (userunknown)" "GET /v1/outbound shows the classification"
assert_eq "1" "$(db "select count(*) from outbox where event = 'message.bounced'")" "exactly one message.bounced"
ev=$(db "select payload from outbox where event = 'message.bounced'")
assert_eq "nouser@client.example bounced userunknown True 5.1.1" \
  "$(echo "$ev" | json_get - 'd["recipient"], d["state"], d["bounce"]["reason"], d["bounce"]["hard"], d["bounce"]["status"]' | tr -d "(),'")" \
  "message.bounced carries the recipient and the classification"
assert_eq 0 "$(db "select count(*) from messages where subject like '%Undelivered%' or subject like '%Returned%'")" \
  "the DSN was not archived as correspondence"

ma suppression list acme --json >"$T/sup.json"
assert_eq "nouser@client.example hard_bounce $ID" "$(json_get "$T/sup.json" '" ".join([d["items"][0]["address"], d["items"][0]["reason"], d["items"][0]["source"]])')" \
  "the hard-bounced address is on the suppression list"
assert_eq 1 "$(json_get "$T/sup.json" 'len(d["items"])')" "... and only it"

# the next send: suppressed, never attempted, and the answer says why
code=$(api -X POST -d '{"from":"sales@acme.example","to":["ok@client.example","NoUser@client.example"],"subject":"Again","text":"x\n"}' \
  "http://127.0.0.1:$API_PORT/v1/messages:send")
ID2=$(json_get "$T/body" 'd["id"]')
assert_eq "suppressed" "$(json_get "$T/body" '[r["state"] for r in d["recipients"] if r["address"].lower().startswith("nouser")][0]')" \
  "a suppressed recipient is queued as suppressed"
assert_contains "$(cat "$T/body")" "suppression list (hard_bounce" "the answer says why"
assert_eq 2 "$(wait_mbox "$PF" 2)" "ok@ got the second message"
assert_eq sent "$(wait_state "$ID2" ok@client.example sent)" "ok@ sent"
# the SMTP submission listener's 250 and `mailagent send` name the suppressed recipients
ma submission add acme --label crm --json >"$T/cred.json"
out=$(swaks --server "127.0.0.1:$SUBMISSION_PORT" --tls --auth PLAIN --auth-user "$(json_get "$T/cred.json" 'd["username"]')" \
  --auth-password "$(json_get "$T/cred.json" 'd["secret"]')" --from sales@acme.example --to nouser@client.example,ok@client.example \
  --header "Subject: via submission" 2>&1 || true)
assert_contains "$out" "250 2.0.0 Ok: queued as" "submission: queued"
assert_contains "$out" "; suppressed, not sent: nouser@client.example" "submission: the 250 names the suppressed recipient"
out=$(ma send acme --from sales@acme.example --to nouser@client.example --subject CLI --text x)
assert_contains "$out" "suppressed: nouser@client.example is on the enterprise's suppression list (hard_bounce since" \
  "mailagent send says why"
assert_eq 3 "$(wait_mbox "$PF" 3)" "ok@ got the submitted copy"
assert_eq 1 "$(grep -c 'to=<nouser@client.example>' "$PF/maillog")" "nouser@ was never offered to Postfix again"

# forged bounce addresses: refused at RCPT with an enhanced status
VERP=${rp#Return-Path: <}; VERP=${VERP%>}
forged=$(echo "$VERP" | sed 's/^\(.\{20\}\)./\1a/'); [ "$forged" == "$VERP" ] && forged=$(echo "$VERP" | sed 's/^\(.\{20\}\)./\1b/')
out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --from '<>' --to "$forged" --quit-after RCPT 2>&1 || true)
assert_contains "$out" "550 5.1.1" "a VERP address with a forged MAC is refused at RCPT"
out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --from '<>' --to "postmaster@bounces.test" --quit-after RCPT 2>&1 || true)
assert_contains "$out" "550 5.1.1" "any other address on the bounce domain is refused"

# an ARF complaint to ok@'s return path (the first message's Return-Path names ok@'s row)
sed "s/bx@bounces.test/$VERP/" "$FIXTURES_DIR/bounce/arf_complaint.eml" >"$T/arf.eml"
out=$(swaks --server 127.0.0.1 --port "$SMTP_PORT" --from '<>' --to "$VERP" --data "$T/arf.eml" 2>&1 || true)
assert_contains "$out" "250 2.0.0 Ok: queued" "the complaint is accepted"
for _ in $(seq 1 100); do [ "$(db "select count(*) from outbox where event='message.complained'")" == 1 ] && break; sleep 0.1; done
assert_eq 1 "$(db "select count(*) from outbox where event='message.complained'")" "message.complained emitted"
assert_eq "ok@client.example feedback" \
  "$(db "select payload from outbox where event='message.complained'" | json_get - 'd["recipient"]+" "+d["feedback"]["reason"]')" \
  "... for ok@ with the feedback classification"
assert_eq complaint "$(db "select reason from suppressions where address='ok@client.example'")" "the complainer is suppressed"

# the CLI and the API on the list
printf 'address\nImported@Client.example\n# a comment\nother@client.example,extra\n' >"$T/list.csv"
assert_eq "2 added, 0 already suppressed" "$(ma suppression import acme "$T/list.csv")" "import a CSV list"
printf 'good@client.example\nnot an address\n' >"$T/bad.txt"
assert_status 2 ma suppression import acme "$T/bad.txt"
assert_eq 0 "$(db "select count(*) from suppressions where address='good@client.example'")" "a bad line imports nothing"
assert_eq 4 "$(ma suppression list acme --json | json_get - 'len(d["items"])')" "four suppressed addresses"
assert_eq "removed imported@client.example" "$(ma suppression remove acme imported@client.example)" "remove"
assert_status 2 ma suppression remove acme imported@client.example
code=$(api "http://127.0.0.1:$API_PORT/v1/suppressions?limit=2")
assert_eq "200 2 True" "$code $(json_get "$T/body" 'len(d["items"]), d["next_cursor"] is not None')" "GET /v1/suppressions pages"
code=$(api -X POST -d '{"address":"Api@Client.example","note":"asked by phone"}' "http://127.0.0.1:$API_PORT/v1/suppressions")
assert_eq "201 api@client.example manual" "$code $(json_get "$T/body" 'd["address"]+" "+d["reason"]')" "POST /v1/suppressions"
code=$(api -X POST -d '{"address":"nope"}' "http://127.0.0.1:$API_PORT/v1/suppressions")
assert_eq 422 "$code" "a bad address is 422"
code=$(api -X DELETE "http://127.0.0.1:$API_PORT/v1/suppressions/api@client.example")
assert_eq 204 "$code" "DELETE /v1/suppressions/{address}"
code=$(api -X DELETE "http://127.0.0.1:$API_PORT/v1/suppressions/api@client.example")
assert_eq 404 "$code" "... twice is 404"

# a From domain claimed with return path "from" leaves with the From address (the domain doctor's SPF)
ma domain add acme acme.example --return-path from >/dev/null
code=$(api -X POST -d '{"from":"sales@acme.example","to":"third@client.example","subject":"Own path","text":"x\n"}' \
  "http://127.0.0.1:$API_PORT/v1/messages:send")
ID3=$(json_get "$T/body" 'd["id"]')
assert_eq sent "$(wait_state "$ID3" third@client.example sent)" "sent"
wait_log 'from=<sales@acme.example>' >/dev/null
assert_eq 1 "$(grep -c 'from=<sales@acme.example>' "$PF/maillog")" \
  "the domain's return path \"from\" wins over bounce management"
finish
