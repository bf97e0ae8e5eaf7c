#!/usr/bin/env bash
# smtp_fsync.sh - durable acknowledgement proven, not assumed (SIGKILL keeps the page cache):
# 1. an LD_PRELOAD shim makes fsync/fdatasync fail while a control file exists: every client gets
#    451 4.3.0, never 250, and nothing of those messages is archived; once syncs work again, 250.
# 2. under strace -f, every "250 ... queued as ID" write comes after completed syncs, following
#    the message's DATA, of the spool database (three messages of a few KB: their octets are in
#    their spool rows, no body file); and for the two messages over 64 KiB, also of their body
#    files spool/ID.eml and of the spool directory.
source "$(dirname "$0")/lib/common.sh"
source "$FIXTURES_DIR/smtp/setup.sh"

smtp_setup
SHIM="${BUILD_DIR:-}/tests/support/libfsyncfail.so"
if [ ! -f "$SHIM" ]; then   # not wired into the build: make it here
  SHIM="$T/libfsyncfail.so"
  cc -shared -fPIC -o "$SHIM" "$SRC_DIR/tests/support/fsyncfail.c" -ldl
fi

# Under -DSANITIZE=ON the ASan runtime must come first in the preload list, before the shim.
# awk reads ldd's output to the end: the loader writes its list a line at a time, so an awk that
# exited at the first match could kill it with SIGPIPE, which pipefail and set -e turned into a
# silent failure of this test now and then (under ASan, where libasan is listed near the top).
PRELOAD="$SHIM"
asan_rt=$(ldd "$MAILAGENT" | awk '/libasan/ && !found {print $3; found = 1}')
[ -n "$asan_rt" ] && PRELOAD="$asan_rt:$SHIM"

sw() { swaks --server "127.0.0.1:$SMTP_PORT" --from alice@acme.example --to "$INBOUND" "$@" 2>&1 || true; }

# ---- 1. failing fsync -> 4xx, never 250 -------------------------------------------------------
LD_PRELOAD="$PRELOAD" FSYNCFAIL_FILE="$T/fail-sync" FSYNCFAIL_LOG=1 start_serve
touch "$T/fail-sync"
for i in 1 2 3; do
  out=$(sw --header "Subject: during-failure-$i")
  assert_contains "$out" "<** 451 4.3.0" "fsync failing: message $i gets 451 4.3.0"
  assert_not_contains "$out" "<-  250 2.0.0" "fsync failing: message $i never gets 250"
done
assert_contains "$(cat "$T/serve.log")" "fsyncfail: fdatasync" "the shim really failed the spool's sync"
rm -f "$T/fail-sync"
out=$(sw --header "Subject: after-recovery")
assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "sync works again: 250"
assert_eq 1 "$(wait_archived 1)" "the acknowledged message is archived"
sleep 1
assert_eq 0 "$(db_query "select count(*) from messages where subject like 'during-failure%'")" "no refused message archived"
# (a finished file is kept as "<n>.free" to become a later message's file: not a message; the
# archived one's file goes once the pipeline's spool_done commits, just after the archive's)
messages() { ls -A "$T/data/spool" | grep -v '^[0-9]*\.free$' || true; }
for _ in $(seq 1 50); do [ -z "$(messages)" ] && break; sleep 0.1; done
assert_eq "" "$(messages)" "no body file left behind by the refused messages (nor the archived one)"
stop_serve
assert_eq "" "$(ls -A "$T/data/spool")" "a clean stop leaves no recycled file either"

# ---- 2. strace: sync completes before each 250 is written --------------------------------------
REAL="$MAILAGENT"
cat >"$T/traced" <<SH
#!/bin/sh
exec strace -f -tt -y -s 200 -e trace=fsync,fdatasync,write,writev,pwrite64,sendto,sendmsg -o "$T/strace.out" "$REAL" "\$@"
SH
chmod +x "$T/traced"
"$REAL" init -c "$CONF" >/dev/null # not under strace: LeakSanitizer cannot run under ptrace
MAILAGENT="$T/traced" start_serve --no-init
python3 -c 'print(("x" * 98 + "\r\n") * 1000)' >"$T/big-body.txt" # 100 KB: over a body's buffer
for i in 1 2 3 4 5; do
  big=(); [ "$i" -gt 3 ] && big=(--body "@$T/big-body.txt")
  out=$(sw --header "Subject: traced-$i" "${big[@]}")
  assert_contains "$out" "<-  250 2.0.0 Ok: queued as" "traced delivery $i"
done
# stop the traced daemon itself (strace forwards nothing), then let strace finish its log
child=$(pgrep -P "$SERVE_PID" | head -1)
kill -TERM "$child" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=
check=$(/usr/bin/python3 "$FIXTURES_DIR/smtp/strace_check.py" "$T/strace.out" 2>&1 || true)
echo "$check"
assert_contains "$check" "ok 5 rows=3 files=2" "strace: each of the 5 replies 250 follows the sync of the spool database (the 3 small messages in their rows), and the 2 large ones' also the syncs of their body files and the spool directory"
finish
