#!/usr/bin/env bash
# smtp_shutdown.sh - SIGTERM: the listener closes at once, an idle session gets 421 4.3.2, a session
# in the middle of DATA may finish (its 250 is durable) and then gets 421 at its next MAIL; serve
# exits 0 once sessions are gone and the message is archived. A session that outlives the grace
# period is closed.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup "[smtp]" "grace_period=3"
start_serve

pyc "$SMTP_PORT" "$INBOUND" "$SERVE_PID" >"$T/shutdown.out" <<'PY'
import os, signal, socket, sys, time, smtpc
port, rcpt, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
busy = smtpc.Client(port); busy.chat("EHLO busy.test")
busy.send("MAIL FROM:<alice@acme.example>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt)
print("busy_data", busy.replies(3)[2][:3])
idle = smtpc.Client(port); idle.chat("EHLO idle.test")
os.kill(pid, signal.SIGTERM)
print("idle", idle.reply(timeout=3), "closed", idle.closed())
time.sleep(0.3)
try:
    socket.create_connection(("127.0.0.1", port), timeout=2).recv(100)
    print("new_connection accepted")
except OSError:
    print("new_connection refused")
busy.send("Subject: finished during shutdown\r\n\r\nbody\r\n.\r\n")
print("busy_end", busy.reply())
print("busy_mail", busy.chat("MAIL FROM:<alice@acme.example>"), "closed", busy.closed())
PY
out=$(cat "$T/shutdown.out"); echo "$out"
assert_contains "$out" "busy_data 354" "a session in DATA when SIGTERM arrives"
assert_contains "$out" "idle 421 4.3.2 Service shutting down, closing connection closed True" "idle session gets 421 4.3.2 and is closed"
assert_contains "$out" "new_connection refused" "listener closed at once"
assert_contains "$out" "busy_end 250 2.0.0 Ok: queued as" "the transaction in flight finishes with a durable 250"
assert_contains "$out" "busy_mail 421 4.3.2" "its next MAIL gets 421"
rc=0; wait "$SERVE_PID" || rc=$?
SERVE_PID=
assert_eq 0 "$rc" "serve exits 0 after draining"
assert_eq 1 "$(db_query "select count(*) from messages where subject='finished during shutdown'")" "the message accepted during shutdown is archived"

# grace period: a session that never finishes is closed when it ends
start_serve
pyc "$SMTP_PORT" "$SERVE_PID" >"$T/grace.out" <<'PY'
import os, signal, sys, time, smtpc
port, pid = int(sys.argv[1]), int(sys.argv[2])
c = smtpc.Client(port); c.chat("EHLO slow.test")
c.chat("MAIL FROM:<alice@acme.example>")
t0 = time.time()
os.kill(pid, signal.SIGTERM)
print("closed", c.closed(timeout=8), "after_s=%d" % int(time.time() - t0))
PY
out=$(cat "$T/grace.out"); echo "$out"
if [[ "$out" =~ closed\ True\ after_s=([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge 3 ] && [ "${BASH_REMATCH[1]}" -le 5 ]; then
  pass "a session still in a transaction is closed after the 3 s grace period (${BASH_REMATCH[1]} s)"
else fail "grace period close: $out"; fi
rc=0; wait "$SERVE_PID" || rc=$?
SERVE_PID=
assert_eq 0 "$rc" "serve exits 0 after the grace period"
finish
