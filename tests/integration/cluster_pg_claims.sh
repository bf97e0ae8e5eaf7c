#!/usr/bin/env bash
# cluster_pg_claims.sh - the work three `serve` nodes on one PostgreSQL claim with leases (issue 18):
# 1. A bound mailbox (a real Dovecot over IMAPS) whose syncing node dies: node a syncs alone and is
#    SIGKILLed in the sync (the collector's crash point after_spool: a round spooled, its
#    checkpoint not advanced, the lease held). The lease stays with the dead node; nodes b and c,
#    started then, take the mailbox over once it has run out ([collector] lease, short here), and
#    node a, restarted, drains its spool. Every message of the mailbox is archived once (no
#    Message-ID twice, one IMAP provenance row per spool id) with one activity.
# 2. The outbound queue across nodes: messages queued through POST /v1/messages:send on node b
#    while all three deliver, a and c to a destination Postfix, b into sessions that hang (a
#    listener that never greets), so that b holds claims; node b is SIGKILLed then. Its claims
#    outlive it until their lease ([queue] lease) ends, then the others deliver them: every
#    recipient sent, every message once in Postfix's mailbox, none lost. (A node killed between the
#    remote's 250 and its commit sends that message twice, the window every MTA has:
#    outbound_crash.sh.)
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/postgres.sh"
source "$(dirname "$0")/lib/cluster.sh"
source "$FIXTURES_DIR/collector/dovecot.sh"
source "$FIXTURES_DIR/smtp/postfix.sh"
source "$(dirname "$0")/lib/outbound.sh"
command -v postfix >/dev/null || skip "postfix is not installed"

MAIL=30      # messages in the mailbox, about 20 KB each: a round (64 KB, the least batch_bytes) holds three
OUT=120      # messages queued for delivery
CONC=4       # connections per destination, and in all, per node
chmod 755 "$T"
pki_make
dovecot_user alice@acme.example alice-secret
dovecot_start
PF=$T/pf
PF_PORT=$(free_port)
pf_dest "$PF" "$PF_PORT" "smtpd_tls_security_level = none"
pg_start
cluster_key
NODES=(a b c)
# Node b's way to the destination hangs: a listener that accepts and never greets, so each of its
# sessions waits with its recipients claimed until the node dies.
SILENT_PORT=$(free_port)
silent_listener "$SILENT_PORT"
for n in "${NODES[@]}"; do
  relay=$PF_PORT
  [ "$n" = b ] && relay=$SILENT_PORT
  node_config "$n" "[collector]" "ca_file=$T/pki/root.pem" "timeout=5" "interval=1" "batch_bytes=65536" "lease=3" \
    "max_idle=0" "[relay]" "default_path_scope=any" "default_host=127.0.0.1:$relay" "tls_mode=off" \
    "[queue]" "destination_concurrency=$CONC" "max_connections=$CONC" "lease=15"
  na "$n" init >"$T/$n.init" 2>&1 || { cat "$T/$n.init"; fail "init of node $n"; }
done
na a enterprise add --name Acme --slug acme --domain acme.example --json >"$T/ent.json"
KEY=$(json_get "$T/ent.json" 'd["api_key"]["secret"]')
na a employee add acme alice@acme.example >/dev/null
na a settings acme archive_unmatched=on loop_limit=0 >/dev/null
echo '{"type":"contact","id":"c1","name":"Customer","emails":["customer@client.test"]}' | na a records import acme - >/dev/null
na a rules add acme '{"name":"All contacts","object_types":["contact"],"action":{"activity_type":"email"}}' >/dev/null

# ---- 1. a mailbox lease taken over from a node that died in its sync ----------------------------
body=$(/usr/bin/python3 -c 'print(("Twenty kilobytes of words. " * 40 + "\r\n") * 19, end="")')
files=()
for i in $(seq 1 "$MAIL"); do
  make_message "$T/m$i.eml" "Customer <customer@client.test>" alice@acme.example "Mailbox $i" "mbox-$i@client.test" "$body"
  files+=("$T/m$i.eml")
done
imap_append alice@acme.example alice-secret INBOX "${files[@]}"
echo alice-secret >"$T/alice.pw"
na a mailbox bind acme alice@acme.example --host localhost --port "$IMAPS_PORT" --password-file "$T/alice.pw" >/dev/null
MBOX=$(na a mailbox list acme --json | json_get - 'd["items"][0]["id"]')

# node a alone: its first round is spooled, then the process is SIGKILLed by the crash point
MAILAGENT_COLLECTOR_CRASH_AT=after_spool MAILAGENT_COLLECTOR_CRASH_MARK=$T/a.mark \
  "$MAILAGENT" serve -c "$T/a.conf" >>"$T/a.log" 2>&1 &
a_PID=$!
CLEANUP_PIDS+=("$a_PID")
st=0
for _ in $(seq 1 300); do kill -0 "$a_PID" 2>/dev/null || break; sleep 0.1; done
wait "$a_PID" 2>/dev/null || st=$?
assert_eq "137 after_spool" "$st $(cat "$T/a.mark" 2>/dev/null)" "node a died in its sync (SIGKILL after a spooled round)"
in_a=$(spool_left a)
lease=$(pg_sql "select lease_owner from mailboxes where id = '$MBOX'")
assert_eq a "$(owner_node "$lease" a)" "the dead node still holds the mailbox's lease"
if [ "$in_a" -ge 1 ]; then pass "node a's spool holds its round ($in_a)"; else fail "node a's spool is empty"; fi
assert_eq 0 "$(pg_sql "select coalesce(max(last_uid), 0) from mailbox_folders where mailbox_id = '$MBOX'")" \
  "node a's checkpoint did not advance"

start_node b
start_node c
archived() { pg_sql "select count(*) from messages where message_id like 'mbox-%'"; }
for _ in $(seq 1 600); do [ "$(archived)" -ge "$MAIL" ] && break; sleep 0.1; done
assert_eq "$MAIL" "$(archived)" "nodes b and c took the mailbox over after the lease ran out and archived all $MAIL"
fetched_bc=0
for n in b c; do
  got=$(curl -s "http://127.0.0.1:$(eval echo "\$${n}_API")/metrics" | awk '$1 == "mailagent_mailbox_fetched_total" {print $2}')
  echo "node $n fetched ${got:-0}"
  fetched_bc=$((fetched_bc + ${got:-0}))
done
assert_eq "$MAIL" "$fetched_bc" "the takeover fetched the mailbox from the start of the dead round: $MAIL messages, once"
start_node a
for _ in $(seq 1 300); do [ "$(spool_left a)" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(spool_left a)" "node a, restarted, drained its spool"
assert_eq "$MAIL" "$(pg_sql "select last_uid from mailbox_folders where mailbox_id = '$MBOX' and folder = 'INBOX'")" \
  "the checkpoint is at the last message"
assert_eq "$MAIL $MAIL $MAIL" \
  "$(pg_sql "select count(*), count(distinct message_id), (select count(*) from activities a join messages x on x.id = a.message_id where x.message_id like 'mbox-%') from messages where message_id like 'mbox-%'" | tr '|' ' ')" \
  "every message of the mailbox archived once, with one activity"
assert_eq 0 "$(pg_sql "select count(*) from (select spool_id from provenance where route = 'imap' group by spool_id having count(*) > 1) x")" \
  "no spool entry of the mailbox archived twice"
lease=$(pg_sql "select coalesce(lease_owner, '') from mailboxes where id = '$MBOX'")
case "$(owner_node "$lease" a b c)" in a | b | c | "other()") pass "the lease is free or a live node's" ;; *) fail "lease still held by $lease" ;; esac

# ---- 2. the outbound queue across nodes, one node killed mid-delivery ---------------------------
sent() { pg_sql "select count(*) from outbound_recipients where state = 'sent'"; }
# Queued through node b, which claims what each request queues at once (a and c find due mail at
# their next scans) and whose sessions hang: it holds its claims until it is killed.
queued=$(/usr/bin/python3 "$FIXTURES_DIR/smtp/send_many.py" "$b_API" "$KEY" "$OUT" out 2>"$T/queued.err")
assert_eq "$OUT" "$queued" "$OUT messages queued through node b (202)"
kill_node b
held=$(pg_sql "select count(*) from outbound_recipients where state = 'sending'")
echo "node b killed with $(sent) sent, $held sending"
if [ "$held" -gt 0 ] && [ "$(sent)" -lt "$OUT" ]; then pass "node b was killed mid-delivery, holding claims"; else fail "node b held no claims"; fi
sleep 3 # the others finish their sessions; node b's claims stay until their lease ([queue] lease=15) ends
orphaned=$(pg_sql "select count(*) from outbound_recipients where state = 'sending'")
if [ "$orphaned" -gt 0 ]; then pass "the dead node's claims outlive it ($orphaned)"; else fail "no claim outlived node b"; fi
for _ in $(seq 1 900); do [ "$(sent)" -ge "$OUT" ] && break; sleep 0.1; done
assert_eq "$OUT" "$(sent)" "every recipient sent: the dead node's claims came back after their lease"
assert_eq "$OUT" "$(pg_sql "select count(*) from outbound_messages")" "each message queued once"
distinct_in() { grep '^Subject: out ' "$PF/mail/inbox" 2>/dev/null | sort -u | wc -l; }
for _ in $(seq 1 300); do [ "$(distinct_in)" -ge "$OUT" ] && break; sleep 0.1; done
sleep 1 # a late duplicate, if any, reaches the mailbox
total=$(mbox_count "$PF")
echo "Postfix: $total copies, $(distinct_in) distinct"
assert_eq "$OUT" "$(distinct_in)" "Postfix received every one of the $OUT messages"
assert_eq "$OUT" "$total" "each delivered once (node b's sessions never reached a 250)"
for n in a c; do kill -TERM "$(eval echo "\$${n}_PID")" 2>/dev/null || true; done
for n in a c; do wait "$(eval echo "\$${n}_PID")" 2>/dev/null || true; done
finish
