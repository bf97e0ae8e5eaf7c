#!/usr/bin/env bash
# smtp_pipeline_priority.sh - SMTP acceptance goes first, and the archive pipeline still drains
# (issue 15): the pipeline's worker threads run [pipeline] nice (10 by default) above serve's own
# nice value (the test reads them in /proc); while smtp-source keeps the listener busy in back-to-back rounds,
# the archive grows before the load ends (the workers get their share, they are not starved),
# and once it ends every acknowledged message is archived and the spool is empty. Counts and
# order only: whether the archive grew is looked at while a round is still running.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup "[smtp]" "max_sessions_per_client=100" "[pipeline]" "workers=2"
ma settings acme forwarder_policy=any >/dev/null
start_serve

# ---- the workers' priority ----------------------------------------------------------------------
# the workers are started, named and re-niced by serve after it answers on its ports: look again
# for a while rather than at one instant
worker_nices() {
  local t out=""
  for t in /proc/"$SERVE_PID"/task/*; do
    [[ "$(cat "$t/comm" 2>/dev/null)" == pipeline-* ]] || continue
    out+="$(awk '{print $19}' "$t/stat") " # field 19 of stat: the thread's nice value
  done
  echo "$out"
}
# serve's own nice (the suite may run under nice): the workers are [pipeline] nice above it
base=$(awk '{print $19}' /proc/"$SERVE_PID"/stat)
want=$((base + 10 > 19 ? 19 : base + 10))
for _ in $(seq 1 100); do nices=$(worker_nices); [ "$nices" = "$want $want " ] && break; sleep 0.05; done
threads=$(for t in /proc/"$SERVE_PID"/task/*; do echo "$(cat "$t/comm" 2>/dev/null):$(awk '{print $19}' "$t/stat" 2>/dev/null)"; done | tr '\n' ' ')
assert_eq "$want $want " "$nices" "both pipeline workers run 10 nicer than serve (at $base; the default [pipeline] nice; threads: $threads)"
others=$(for t in /proc/"$SERVE_PID"/task/*; do [[ "$(cat "$t/comm")" == pipeline-* ]] || awk '{print $19}' "$t/stat"; done | sort -u | tr '\n' ' ')
assert_eq "$base " "$others" "every other thread of serve (the SMTP loop, the spool writer...) keeps serve's nice (threads: $threads)"

# ---- sustained load: the archive grows while the listener is busy --------------------------------
spool_depth() { sqlite3 -readonly -cmd ".timeout 5000" "$T/data/spool.db" "select count(*) from spool"; }
grew_during_load=0 rounds=0 depth_seen=0
while [ "$rounds" -lt 40 ] && [ "$grew_during_load" = 0 ]; do
  rounds=$((rounds + 1))
  before=$(db_query "select count(*) from messages")
  smtp-source -s 20 -m 400 -l 2000 -f customer@client.example -t "$INBOUND" "127.0.0.1:$SMTP_PORT" \
    >"$T/source.$rounds.log" 2>&1 &
  src=$!
  while kill -0 "$src" 2>/dev/null; do
    d=$(spool_depth); [ "$d" -gt "$depth_seen" ] && depth_seen=$d
    # growth seen while this round is still being sent (checked again after the look, so that a
    # round that ended in between does not count)
    now=$(db_query "select count(*) from messages")
    if [ "$now" -gt "$before" ] && kill -0 "$src" 2>/dev/null; then grew_during_load=1; fi
    sleep 0.05
  done
  wait "$src" || true
done
echo "rounds of load: $rounds; deepest spool seen: $depth_seen"
assert_eq 1 "$grew_during_load" "the archive grew while smtp-source was still sending (round $rounds)"

# ---- after the load: everything acknowledged is archived, the spool is empty ----------------------
acked=$(grep -c "result=250" "$T/serve.log")
[ "$acked" -ge 400 ] && pass "$acked messages acknowledged" || fail "only $acked messages acknowledged"
assert_eq "$acked" "$(wait_archived "$acked" 120)" "every acknowledged message is archived once the load ends"
for _ in $(seq 1 100); do [ "$(spool_depth)" = 0 ] && break; sleep 0.1; done
assert_eq 0 "$(spool_depth)" "the spool is empty"
stop_serve
finish
