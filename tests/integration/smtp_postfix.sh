#!/usr/bin/env bash
# smtp_postfix.sh - the way a real company server forwards: a private Postfix on loopback receives
# mail for alice@acme.example, whose alias forwards it to the enterprise's virtual address through
# relayhost = mailagent. Postfix's SMTP client (EHLO, PIPELINING, STARTTLS) delivers it; the
# forwarder policy identifies alice (Postfix is in forwarder_networks, its local(8) added
# Delivered-To), and the message shows in the contact's timeline.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"

chmod 755 "$T"   # the postfix user must reach its queue under $T
smtp_setup
ma settings acme forwarder_networks=127.0.0.0/8 >/dev/null
echo '{"type":"contact","id":"c1","name":"Customer","emails":["customer@client.example"]}' | ma records import acme - >/dev/null
start_serve

PF=$T/postfix
PF_PORT=$(free_port)
mkdir -p "$PF"
echo "alice: $INBOUND" >"$PF/aliases"
pf_start "$PF" "$PF_PORT" \
  "myhostname = mail.acme.example" "mydomain = acme.example" "myorigin = acme.example" \
  "mydestination = acme.example" "alias_maps = hash:$PF/aliases" "alias_database = hash:$PF/aliases" \
  "local_recipient_maps = \$alias_maps" "relayhost = [127.0.0.1]:$SMTP_PORT" \
  "smtp_tls_security_level = encrypt" "smtp_tls_loglevel = 1" "smtp_host_lookup = native" \
  "default_transport = smtp" "relay_transport = smtp"
cleanup_cmd "postfix -c '$PF' stop"
postalias -c "$PF" "$PF/aliases"
grep -q "starting the Postfix mail system" "$PF/start.log" || cat "$PF/start.log"

out=$(swaks --server "127.0.0.1:$PF_PORT" --from customer@client.example --to alice@acme.example \
  --header "Subject: Quote request via Postfix" --header "From: Customer <customer@client.example>" 2>&1)
assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "Postfix accepted the mail for alice"

n=$(wait_archived 1 20)
assert_eq 1 "$n" "the forwarded message reached mailagent's archive"
grep -E "relay=127.0.0.1|status=" "$PF/maillog" | tail -2
assert_contains "$(cat "$PF/maillog")" "status=sent (250 2.0.0 Ok: queued as" "Postfix's smtp client got mailagent's 250"
assert_contains "$(cat "$PF/maillog")" "TLS connection established to 127.0.0.1" "Postfix delivered over STARTTLS (encrypt)"
prov=$(db_query "select p.signal||' '||coalesce(e.email,'-')||' '||p.envelope_from from provenance p left join employees e on e.id=p.employee_id")
assert_eq "forwarder_network alice@acme.example customer@client.example" "$prov" "provenance: Postfix in forwarder_networks, alice named by Delivered-To"
ma timeline acme contact c1 --json >"$T/timeline.json"
assert_contains "$(cat "$T/timeline.json")" "Quote request via Postfix" "the message is in the contact's timeline"

pf_stop "$PF"
stop_serve
finish
