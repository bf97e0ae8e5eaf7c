#!/usr/bin/env bash
# smtp_limits.sh - abuse limits with real sockets: a 1 byte/s client is dropped by the minimum data
# rate; connections over the per-client cap get 421; an idle client hits the command timeout; the
# error budget ends a session; a line over 1000 octets gets 500 5.5.2; SIGHUP reload raises the
# disk reserve above the free space and MAIL gets 452 4.3.1 (the session already open survives).
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup "[smtp]" "max_sessions_per_client=3" "min_data_rate=200" "data_timeout=3" "command_timeout=2"
start_serve

pyc "$SMTP_PORT" "$INBOUND" >"$T/limits.out" <<'PY'
import sys, time, smtpc
port, rcpt = int(sys.argv[1]), sys.argv[2]
# slowloris in DATA: one octet per second
c = smtpc.Client(port)
c.chat("EHLO slow.test")
c.send("MAIL FROM:<alice@acme.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt)
c.replies(3)
t0 = time.time(); got = None
for i in range(15):
    try:
        c.send(b"x")
    except OSError:
        break
    r = c.quiet(1.0)
    if r:
        got = r.decode().strip(); break
print("slow", got, "after_s=%d" % round(time.time() - t0))
c.close()
# per-client cap: 3 allowed, the 4th refused
cs = [smtpc.Client(port) for _ in range(3)]
print("first3", [smtpc.code(x.greeting) for x in cs])
extra = smtpc.Client(port)
print("fourth", extra.greeting)
cs[0].chat("QUIT"); cs[0].close(); time.sleep(0.3)
again = smtpc.Client(port)
print("after_one_left", smtpc.code(again.greeting))
for x in cs[1:] + [again]: x.close()
time.sleep(0.3)
# command timeout
c = smtpc.Client(port)
c.chat("EHLO idle.test")
t0 = time.time()
print("idle", c.reply(timeout=6), "closed", c.closed(), "after_s=%d" % round(time.time() - t0))
# error budget (10) and an over-long line
c = smtpc.Client(port)
c.chat("EHLO noisy.test")
print("longline", c.chat("NOOP " + "x" * 1200))
rs = [c.chat("BOGUS%d" % i) for i in range(9)]
print("budget_last", rs[-1], "|", c.reply(), "closed", c.closed())
PY
out=$(cat "$T/limits.out")
echo "$out"
assert_contains "$out" "slow 421 4.4.2 " "1 byte/s client dropped (single octets never extend data_timeout; the data rate)"
if [[ "$out" =~ slow.*after_s=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -le 8 ]; then pass "slow client dropped within 8 s"; else fail "slow client drop time"; fi
assert_contains "$out" "first3 ['220', '220', '220']" "three sessions from one address"
assert_contains "$out" "fourth 421 4.7.0 Too many connections from your address" "the fourth gets 421"
assert_contains "$out" "after_one_left 220" "a slot frees when a session ends"
assert_contains "$out" "idle 421 4.4.2 Timeout exceeded, closing connection closed True" "command timeout"
assert_contains "$out" "longline 500 5.5.2 Error: line too long" "line over 1000 octets"
assert_contains "$out" "budget_last 500 5.5.2 Error: command not recognized | 421 4.7.0 Too many errors, closing connection closed True" "error budget (10) ends the session"

# SIGHUP: raise the disk reserve beyond any disk; a session opened before keeps working
pyc "$SMTP_PORT" "$CONF" "$SERVE_PID" >"$T/reload.out" <<'PY'
import sys, os, signal, time, smtpc
port, conf, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
old = smtpc.Client(port)
old.chat("EHLO before.test")
with open(conf, "a") as f:
    f.write("[smtp]\ndisk_reserve=999999999999999\nmax_sessions=2\n")
os.kill(pid, signal.SIGHUP)
time.sleep(1.0)
print("old_session_noop", old.chat("NOOP"))
new = smtpc.Client(port)
new.chat("EHLO after.test")
print("mail_low_disk", new.chat("MAIL FROM:<alice@acme.example>"))
third = smtpc.Client(port)
print("over_max_sessions", third.greeting)
PY
out=$(cat "$T/reload.out")
assert_contains "$out" "old_session_noop 250" "SIGHUP keeps live sessions"
assert_contains "$out" "mail_low_disk 452 4.3.1" "MAIL refused with 452 4.3.1 below the disk reserve"
assert_contains "$out" "over_max_sessions 421 4.7.0 Too many connections, try again later" "max_sessions (2 after the reload): the third connection gets 421"
assert_contains "$(cat "$T/serve.log")" "configuration reloaded" "reload logged"

stop_serve
finish
