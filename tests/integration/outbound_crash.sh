#!/usr/bin/env bash
# outbound_crash.sh - SIGKILL in the middle of delivering 2,000 messages to a real Postfix, then a
# restart: every message is delivered, and copies delivered twice are at most the connections that
# were between the remote's 250 and our commit when the process died (the window every MTA has;
# docs/outbound.md). Counted on the receiving side: the distinct subjects in Postfix's mailbox.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"

N=2000
CONC=10
chmod 755 "$T"
PF=$T/pf
PF_PORT=$(free_port)
clock_start
write_config "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$PF_PORT" "tls_mode=off" "[queue]" "destination_concurrency=$CONC"
ma init >/dev/null
ma enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
start_serve

# the destination is down while the CRM submits: everything is deferred
sent=$(/usr/bin/python3 "$FIXTURES_DIR/smtp/send_many.py" "$API_PORT" "$KEY" "$N" crash 2>"$T/first.err")
assert_eq "$N" "$sent" "$N messages accepted (202)"
db() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/mailagent.db" "$1"; }
for _ in $(seq 1 600); do
  [ "$(db "select count(*) from outbound_recipients where state='deferred'")" -ge "$N" ] && break; sleep 0.05
done
assert_eq "$N" "$(db "select count(*) from outbound_recipients where state='deferred'")" "all deferred while Postfix is down"
# Postfix comes up, the retries fall due, and mailagent is killed in the middle of the backlog
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none"
clock_advance 301
for _ in $(seq 1 600); do
  [ "$(db "select count(*) from outbound_recipients where state='sent'")" -ge 300 ] && break; sleep 0.02
done
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=
before=$(db "select count(*) from outbound_recipients where state='sent'")
inflight=$(db "select count(*) from outbound_recipients where state='sending'")
echo "killed with $before sent, $inflight sending"
[ "$before" -lt "$N" ] && pass "killed mid-run ($before of $N sent, $inflight in flight)" || fail "the run finished before the kill"

start_serve
clock_advance 3601 # the leases of the recipients that were in flight run out
# a CRM that retries everything with the same Idempotency-Keys queues nothing twice
again=$(/usr/bin/python3 "$FIXTURES_DIR/smtp/send_many.py" "$API_PORT" "$KEY" "$N" crash 2>"$T/second.err")
assert_eq "$N" "$again" "the retried submission is answered for all $N"
assert_eq "$N" "$(db "select count(*) from outbound_messages")" "each message queued once (Idempotency-Key)"
for _ in $(seq 1 1200); do
  [ "$(db "select count(*) from outbound_recipients where state='sent'")" -ge "$N" ] && break; sleep 0.1
done
assert_eq "$N" "$(db "select count(*) from outbound_recipients where state='sent'")" "every recipient is sent after the restart"
# Postfix delivers to the mailbox after its own 250, and duplicates count among the copies: wait
# (bounded) for N distinct messages, then a moment for any late duplicate.
distinct_in() { grep '^Subject: crash ' "$PF/mail/inbox" 2>/dev/null | sort -u | wc -l; }
for _ in $(seq 1 300); do [ "$(distinct_in)" -ge "$N" ] && break; sleep 0.1; done
sleep 1
grep '^Subject: crash ' "$PF/mail/inbox" | sort | uniq -c | awk '{print $1}' | sort | uniq -c >"$T/copies"
distinct=$(grep '^Subject: crash ' "$PF/mail/inbox" | sort -u | wc -l)
total=$(mbox_count "$PF")
echo "Postfix: $total copies, $distinct distinct"
assert_eq "$N" "$distinct" "Postfix received every one of the $N messages"
dups=$((total - distinct))
[ "$dups" -le "$CONC" ] && pass "copies delivered twice: $dups (at most the $CONC connections in flight)" ||
  fail "$dups duplicates: more than the $CONC connections in flight could explain"
# connection reuse: far fewer SMTP sessions than messages reached Postfix
sessions=$(grep -c "postfix/smtpd.*: connect from" "$PF/maillog" || true)
echo "Postfix saw $sessions SMTP sessions for $total messages"
[ "$sessions" -lt $((N / 4)) ] && pass "connections were reused ($sessions sessions for $N messages)" ||
  fail "$sessions sessions for $N messages: connections not reused"
finish
