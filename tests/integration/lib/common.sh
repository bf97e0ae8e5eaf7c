# common.sh - sourced by every integration test. Gives each test a private temporary directory,
# free loopback ports, a config file, helpers to start/stop `mailagent serve`, and assertions that
# print what differed. Everything started here is stopped by the EXIT trap.
#
# Environment from ctest: MAILAGENT (binary), SRC_DIR, BUILD_DIR, FIXTURES_DIR.
set -euo pipefail

: "${MAILAGENT:?run through ctest (MAILAGENT is the binary)}"
: "${SRC_DIR:?}" "${FIXTURES_DIR:?}"

T=$(mktemp -d "${TMPDIR:-/tmp}/mailagent-test.XXXXXX")
CLEANUP_PIDS=()
CLEANUP_CMDS=()
FAILURES=0
PASSES=0

cleanup() {
  local rc=$?
  for cmd in "${CLEANUP_CMDS[@]:-}"; do [ -n "$cmd" ] && eval "$cmd" >/dev/null 2>&1 || true; done
  [ -d "$T" ] && : > "$T/cleaned" # the guard (cleanup_cmd) has nothing left to do
  for pid in "${CLEANUP_PIDS[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${CLEANUP_PIDS[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  if [ -f "$T/ports" ]; then
    while read -r port; do rm -rf "$PORT_RESERVATIONS/$port"; done < "$T/ports"
  fi
  if [ "$rc" -eq 0 ] && [ "${KEEP_TEST_DIR:-0}" != 1 ]; then rm -rf "$T"; else echo "test files kept in $T"; fi
}
trap cleanup EXIT

# cleanup_cmd CMD: CMD (stopping a daemon the test started) runs at exit. A daemon detaches from
# the test's process tree, so when ctest kills a test that ran over its timeout (SIGKILL, which no
# EXIT trap sees; ctest kills only the tree) the daemon would live on, holding its ports and files
# for the rest of the suite. So the first call also starts a guard in a session of its own (not in
# that tree; its descriptors closed, so ctest does not wait for it): once this shell is gone and
# cleanup has not run, it runs the commands. A passed test's cleanup removes $T, a failed one's
# leaves $T/cleaned: either way the guard then exits without running anything.
cleanup_cmd() {
  CLEANUP_CMDS+=("$1")
  printf '%s\n' "$1" >> "$T/cleanup-cmds"
  [ -n "${CLEANUP_GUARD:-}" ] && return 0
  CLEANUP_GUARD=1
  setsid -f bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done
    if [ -e "$2/cleaned" ] || [ ! -f "$2/cleanup-cmds" ]; then exit 0; fi
    while IFS= read -r cmd; do eval "$cmd" || true; done < "$2/cleanup-cmds"' cleanup-guard "$$" "$T" \
    </dev/null >/dev/null 2>&1
}

# free_port: prints a loopback TCP port nobody listens on and no other test holds. The kernel's
# bind-to-port-0 may hand the same port out twice once the probing socket is closed (CI saw the
# API and submission listeners given one port), and tests run in parallel. So a port is taken
# from below the ephemeral range (outgoing connections never occupy it), reserved machine-wide by
# creating a directory named after it (atomic; a reservation whose test process is gone is taken
# over), checked free by bind, and released by the EXIT trap.
PORT_RESERVATIONS=${TMPDIR:-/tmp}/mailagent-test-ports
free_port() {
  /usr/bin/python3 - "$PORT_RESERVATIONS" "$$" "$T/ports" <<'PY'
import os, random, socket, sys
registry, owner, mine = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(registry, exist_ok=True)
def alive(pid):
    try:
        os.kill(int(pid), 0)
        return True
    except (OSError, ValueError):
        return False
for _ in range(2000):
    port = random.randrange(20000, 32000)
    slot = os.path.join(registry, str(port))
    try:
        os.mkdir(slot)
    except FileExistsError:
        try:
            holder = open(os.path.join(slot, "pid")).read().strip()
        except OSError:
            continue  # being created by another test right now
        if alive(holder):
            continue
        # the holder is gone: take the reservation over
    with open(os.path.join(slot, "pid"), "w") as f:
        f.write(owner)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue  # in use by something else; keep the reservation so nobody retries it now
    finally:
        s.close()
    with open(mine, "a") as f:
        f.write(f"{port}\n")
    print(port)
    sys.exit(0)
sys.exit("free_port: no free loopback port found")
PY
}

# write_config [extra ini lines...]: writes $T/mailagent.conf with a data dir and free ports,
# exporting SMTP_PORT, API_PORT, SUBMISSION_PORT and CONF.
write_config() {
  SMTP_PORT=$(free_port); API_PORT=$(free_port); SUBMISSION_PORT=$(free_port)
  CONF=$T/mailagent.conf
  {
    echo "[storage]"; echo "data_dir=$T/data"
    echo "[smtp]"; echo "listen=127.0.0.1:$SMTP_PORT"; echo "inbound_domain=inbound.test"
    echo "hostname=mx.inbound.test"
    echo "[submission]"; echo "listen=127.0.0.1:$SUBMISSION_PORT"
    echo "[api]"; echo "listen=127.0.0.1:$API_PORT"
    for line in "$@"; do echo "$line"; done
  } > "$CONF"
  export SMTP_PORT API_PORT SUBMISSION_PORT CONF
}

# ma ARGS...: runs the binary with the test's config.
ma() { "$MAILAGENT" "$1" -c "$CONF" "${@:2}"; }

# start_serve [--no-init]: runs `mailagent init` (idempotent: serve refuses a data directory init
# never prepared; --no-init when the test prepared it and wants serve to see it as it is), starts
# `mailagent serve` in the background and waits until SMTP and API answer. One serve at a time:
# refused while the one started before still runs.
start_serve() {
  # two serves on one data directory would race for the same queue (outbound_hostile once had its
  # last message claimed and delivered by the serve of the section before, still running)
  if [ -n "${SERVE_PID:-}" ] && kill -0 "$SERVE_PID" 2>/dev/null && \
     [ "$(awk '{print $3}' /proc/"$SERVE_PID"/stat 2>/dev/null)" != Z ]; then
    fail "start_serve: serve $SERVE_PID is still running (stop_serve first)"; return 1
  fi
  if [ "${1:-}" != --no-init ]; then
    "$MAILAGENT" init -c "$CONF" >>"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "init failed"; return 1; }
  fi
  "$MAILAGENT" serve -c "$CONF" >>"$T/serve.log" 2>&1 &
  SERVE_PID=$!
  CLEANUP_PIDS+=("$SERVE_PID")
  # a generous cap: under ASan on loaded cores serve took over 10 s to open its ports
  for _ in $(seq 1 600); do
    if (exec 3<>/dev/tcp/127.0.0.1/"$SMTP_PORT") 2>/dev/null && \
       (exec 3<>/dev/tcp/127.0.0.1/"$API_PORT") 2>/dev/null; then return 0; fi
    kill -0 "$SERVE_PID" 2>/dev/null || { cat "$T/serve.log"; fail "serve exited during start"; return 1; }
    sleep 0.1
  done
  cat "$T/serve.log"; fail "serve did not start listening"; return 1
}

stop_serve() {
  [ -n "${SERVE_PID:-}" ] || return 0
  kill -TERM "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=
}

pass() { PASSES=$((PASSES + 1)); echo "ok - $*"; }
# skip REASON: the test cannot run here (ctest shows it as skipped, not passed).
skip() { echo "SKIP - $*"; exit 77; }
fail() { FAILURES=$((FAILURES + 1)); echo "FAIL - $*" >&2; }

# assert_eq WANT GOT WHAT
assert_eq() { if [ "$1" == "$2" ]; then pass "$3"; else fail "$3: want [$1] got [$2]"; fi; }
# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() { if [[ "$1" == *"$2"* ]]; then pass "$3"; else fail "$3: [$2] not in [$1]"; fi; }
assert_not_contains() { if [[ "$1" != *"$2"* ]]; then pass "$3"; else fail "$3: [$2] unexpectedly in [$1]"; fi; }
# assert_status WANT CMD... : runs CMD, compares its exit status
assert_status() {
  local want=$1; shift
  local got=0; "$@" >"$T/last.out" 2>"$T/last.err" || got=$?
  if [ "$got" == "$want" ]; then pass "exit $want: $*"; else fail "exit of [$*]: want $want got $got; stderr: $(head -c 500 "$T/last.err")"; fi
}
# jq-free JSON field read: json_get FILE_OR_- PYTHON_EXPR (e.g. 'd["items"][0]["id"]')
json_get() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1]) if sys.argv[1]!='-' else sys.stdin); print($2)" "$1"; }

# finish: prints the closing count line and exits non-zero on any failure.
# Under -DSANITIZE=ON a report from a background `serve` (a leak at exit, say) would not change any
# exit status the test looks at, so the logs are searched for one after serve has stopped.
finish() {
  stop_serve
  local reports
  reports=$(grep -rlE "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T" --include='*.log' 2>/dev/null || true)
  if [ -n "$reports" ]; then fail "sanitizer reports in: $reports"; grep -hE -A20 "Sanitizer|runtime error:" $reports | head -60 >&2; fi
  echo "$PASSES passed, $FAILURES failed"
  [ "$FAILURES" -eq 0 ] && [ "$PASSES" -gt 0 ]
}

# The test clock (tests/README.md): clock_start [SECONDS] makes the binaries started afterwards
# follow $T/clock (default: the real time now); clock_set SECONDS and clock_advance SECONDS move it.
clock_start() {
  export MAILAGENT_CLOCK_FILE=$T/clock
  clock_set "${1:-$(date +%s)}"
}
clock_set() { echo "$1" > "$T/clock.new" && mv -f "$T/clock.new" "$T/clock"; }
clock_now() { cat "$T/clock"; }
clock_advance() { clock_set $(( $(clock_now) + $1 )); }

# silent_listener PORT: a loopback TCP listener that accepts connections and never says anything
# (a peer whose greeting never comes); stopped by the EXIT trap.
silent_listener() {
  /usr/bin/python3 - "$1" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
PY
  CLEANUP_PIDS+=($!)
}

# hold_write_lock DB: a helper process takes DB's write lock (BEGIN EXCLUSIVE) and holds it until
# release_write_lock; returns once the lock is held. One lock at a time.
hold_write_lock() {
  rm -f "$T/lock.release" "$T/lock.held"
  /usr/bin/python3 - "$1" "$T/lock" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2] + ".held", "w").close()
while not os.path.exists(sys.argv[2] + ".release"):
    time.sleep(0.05)
db.execute("ROLLBACK")
PY
  LOCK_PID=$!
  CLEANUP_PIDS+=("$LOCK_PID")
  for _ in $(seq 1 600); do [ -e "$T/lock.held" ] && return 0; sleep 0.05; done
  fail "the write lock of $1 was not taken"
}
release_write_lock() { touch "$T/lock.release"; wait "$LOCK_PID" 2>/dev/null || true; }
