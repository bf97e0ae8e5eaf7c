#!/usr/bin/env bash
# run.sh - outbound relay figures for issue 11 (not a timed test).
#
#   scripts/bench/relay/run.sh                     (uses ./build/mailagent, or $MAILAGENT)
#   MSGS=5000 THREADS=8 LAT_MSGS=500 scripts/bench/relay/run.sh
#
# In one run, the same submitter (submit.py: smtplib, THREADS long sessions) sends MSGS messages
#   1. over SMTP submission (AUTH PLAIN on loopback) to `mailagent serve`, which relays them to
#      Postfix's smtp-sink (smart host, TLS off);
#   2. to a private Postfix (relayhost = the same smtp-sink) on loopback;
# and prints messages/s from the first submission to the last delivery for both, the ratio, the
# fsync/fdatasync calls per message of each (strace -f -c on the whole process tree), and
# mailagent's peak RSS. Then LAT_MSGS messages through each into a timestamping sink (sink.py) give
# p50/p99 submit-to-delivered latency. Every mailagent queue state is durable (fsync'd) in both.
# Needs root (Postfix, strace), smtp-sink, strace.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
MA=${MAILAGENT:-$ROOT/build/mailagent}
B=$ROOT/scripts/bench/relay
MSGS=${MSGS:-3000}; THREADS=${THREADS:-8}; LAT_MSGS=${LAT_MSGS:-300}
W=$(mktemp -d /tmp/mailagent-bench.XXXXXX); chmod 755 "$W"
source "$ROOT/tests/fixtures/smtp/postfix.sh"
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
PIDS=(); PF=
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "$PF" ] && pf_stop "$PF"; wait 2>/dev/null || true; }
trap cleanup EXIT
now() { date +%s.%N; }

ma_conf() { # $1 relay port
  cat >"$W/mailagent.conf" <<CONF
[storage]
data_dir=$W/data
[smtp]
listen=127.0.0.1:$(port)
hostname=mx.bench
[submission]
listen=127.0.0.1:$SUBP
loopback_auth=1
[api]
listen=127.0.0.1:$AP
[relay]
default_host=127.0.0.1:$1
default_path_scope=any
tls_mode=off
[queue]
destination_concurrency=20
CONF
}
ma_sent() { sqlite3 -readonly -cmd ".timeout 5000" "$W/data/mailagent.db" "select count(*) from outbound_recipients where state='sent'"; }
pf_sent() { grep -c "status=sent" "$PF/maillog" 2>/dev/null || echo 0; }

SINK=$(port); SUBP=$(port); AP=$(port); PFP=$(port)
smtp-sink -u postfix -c 127.0.0.1:"$SINK" 1000 >"$W/sink.out" 2>&1 &
PIDS+=($!)
wait_port "$SINK"

# ---- 1. mailagent --------------------------------------------------------------------------------
ma_conf "$SINK"
"$MA" init -c "$W/mailagent.conf" >/dev/null
"$MA" enterprise add -c "$W/mailagent.conf" --json --name Bench --slug bench --domain acme.example >/dev/null
"$MA" submission add -c "$W/mailagent.conf" --json bench >"$W/cred.json"
U=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["username"])' "$W/cred.json")
P=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$W/cred.json")
"$MA" serve -c "$W/mailagent.conf" >"$W/serve.log" 2>&1 &
SERVE=$!; PIDS+=($SERVE)
wait_port "$SUBP"
strace -f -c -e trace=fsync,fdatasync -p "$SERVE" -o "$W/strace-ma.txt" 2>/dev/null &
ST=$!; sleep 0.5
t0=$(now)
(cd "$W" && /usr/bin/python3 "$B/submit.py" "$SUBP" "$MSGS" "$THREADS" ma "$U" "$P" >"$W/submit-ma.out")
while [ "$(ma_sent)" -lt "$MSGS" ]; do sleep 0.05; done
t1=$(now)
kill -INT "$ST"; wait "$ST" 2>/dev/null || true
ma_hwm=$(awk '/^VmHWM/ {print $2}' /proc/"$SERVE"/status)
ma_fsync=$(awk '$NF ~ /^(fsync|fdatasync)$/ {n += $4} END {print n + 0}' "$W/strace-ma.txt")

# ---- 2. Postfix as the relay ---------------------------------------------------------------------
PF=$W/postfix
pf_start "$PF" "$PFP" "myhostname = relay.bench" "mydestination =" "relayhost = [127.0.0.1]:$SINK" \
  "smtp_tls_security_level = none" "smtpd_tls_security_level = none"
wait_port "$PFP"
PFPID=$(cat "$PF/queue/pid/master.pid" | tr -d ' ')
strace -f -c -e trace=fsync,fdatasync -p "$PFPID" -o "$W/strace-pf.txt" 2>/dev/null &
ST=$!; sleep 0.5
p0=$(now)
(cd "$W" && /usr/bin/python3 "$B/submit.py" "$PFP" "$MSGS" "$THREADS" pf >"$W/submit-pf.out")
while [ "$(pf_sent)" -lt "$MSGS" ]; do sleep 0.05; done
p1=$(now)
kill -INT "$ST"; wait "$ST" 2>/dev/null || true
pf_fsync=$(awk '$NF ~ /^(fsync|fdatasync)$/ {n += $4} END {print n + 0}' "$W/strace-pf.txt")

# ---- 3. latency: both into the timestamping sink -------------------------------------------------
LSINK=$(port)
/usr/bin/python3 "$B/sink.py" "$LSINK" "$W/sink_times.txt" &
PIDS+=($!)
wait_port "$LSINK"
kill "$SERVE"; wait "$SERVE" 2>/dev/null || true
ma_conf "$LSINK"
"$MA" serve -c "$W/mailagent.conf" >>"$W/serve.log" 2>&1 &
SERVE=$!; PIDS+=($SERVE)
wait_port "$SUBP"
(cd "$W" && /usr/bin/python3 "$B/submit.py" "$SUBP" "$LAT_MSGS" 4 lma "$U" "$P" >/dev/null && mv submit_times.txt lat-ma.txt)
postconf -c "$PF" -e "relayhost = [127.0.0.1]:$LSINK" && postfix -c "$PF" reload >/dev/null 2>&1
sleep 1
(cd "$W" && /usr/bin/python3 "$B/submit.py" "$PFP" "$LAT_MSGS" 4 lpf >/dev/null && mv submit_times.txt lat-pf.txt)
sleep 5
ma_lat=$(/usr/bin/python3 "$B/latency.py" "$W/lat-ma.txt" "$W/sink_times.txt")
pf_lat=$(/usr/bin/python3 "$B/latency.py" "$W/lat-pf.txt" "$W/sink_times.txt")

ma_rate=$(/usr/bin/python3 -c "print(round($MSGS/($t1-$t0)))")
pf_rate=$(/usr/bin/python3 -c "print(round($MSGS/($p1-$p0)))")
echo "relay, $MSGS messages, $THREADS submitting sessions, to Postfix's smtp-sink:"
echo "  mailagent (submission -> queue -> smart host): $ma_rate msg/s, $(/usr/bin/python3 -c "print(round($ma_fsync/$MSGS,2))") fsync/msg, peak RSS $((ma_hwm / 1024)) MB"
echo "  Postfix (smtpd -> queue -> smtp relay):        $pf_rate msg/s, $(/usr/bin/python3 -c "print(round($pf_fsync/$MSGS,2))") fsync/msg"
echo "  ratio mailagent/Postfix: $(/usr/bin/python3 -c "print(round($ma_rate/$pf_rate,2))")"
echo "submit-to-delivered latency ($LAT_MSGS messages, 4 sessions): mailagent $ma_lat; Postfix $pf_lat"
echo "reproduce: MSGS=$MSGS THREADS=$THREADS LAT_MSGS=$LAT_MSGS scripts/bench/relay/run.sh"
rm -rf "$W"
