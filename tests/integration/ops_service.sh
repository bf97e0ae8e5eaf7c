#!/usr/bin/env bash
# ops_service.sh - `serve` as a service manager sees it: `--version` names the libraries at run
# time; the sd_notify messages READY=1, RELOADING=1 (+READY=1) on SIGHUP and STOPPING=1 on SIGTERM
# arrive in that order on a NOTIFY_SOCKET the test provides (as systemd's Type=notify would); exit
# statuses follow the README's table (bad config 2, port in use 75); a data directory that `init`
# never prepared is refused with the command to run, and nothing is created in it.
. "$(dirname "$0")/lib/common.sh"

# --version and `version --json`: the program and every library it links.
assert_status 0 "$MAILAGENT" --version
out=$(cat "$T/last.out")
assert_contains "$out" "mailagent 0." "--version names the program"
for lib in GMime SQLite OpenSSL libevent libetpan PCRE2 libcurl; do
  assert_contains "$out" "$lib" "--version names $lib"
done
assert_status 0 "$MAILAGENT" version --json
assert_eq "GMime SQLite OpenSSL libevent libetpan PCRE2 libcurl GLib jansson" \
  "$(json_get "$T/last.out" '" ".join(l["name"] for l in d["libraries"])')" "version --json lists the libraries in order"

# A data directory init never prepared: refused, with the command to run; nothing created.
write_config
assert_status 1 "$MAILAGENT" serve -c "$CONF"
assert_contains "$(cat "$T/last.err")" "run \`mailagent init\`" "serve on an uninitialised data dir says to run init"
assert_eq "" "$(ls "$T/data" 2>/dev/null || true)" "serve created nothing in the uninitialised data dir"

# Bad config: 2 and the file named. Port in use: 75.
printf '[smtp]\nlisten = 127.0.0.1:%s\nno_such_key = 1\n' "$(free_port)" >"$T/bad.conf"
assert_status 2 "$MAILAGENT" serve -c "$T/bad.conf"
assert_contains "$(cat "$T/last.err")" "no_such_key" "a bad config names the key"
ma init >/dev/null
python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$SMTP_PORT" &
holder=$!
CLEANUP_PIDS+=("$holder")
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/"$SMTP_PORT") 2>/dev/null && break; sleep 0.1; done
assert_status 75 "$MAILAGENT" serve -c "$CONF"
assert_contains "$(cat "$T/last.err")" "$SMTP_PORT" "port in use: the error names the address"
kill "$holder"; wait "$holder" 2>/dev/null || true

# sd_notify: a datagram socket standing in for systemd records every message serve sends.
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as log:
    while True:
        data = s.recv(4096).decode()
        log.write(" ".join(l for l in data.split("\n") if l.split("=")[0] in ("READY", "RELOADING", "STOPPING")) + "\n")
PY
listener=$!
CLEANUP_PIDS+=("$listener")
for _ in $(seq 1 50); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
wait_lines() { for _ in $(seq 1 100); do [ "$(grep -c . "$T/notify.log" 2>/dev/null || echo 0)" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
NOTIFY_SOCKET=$T/notify.sock start_serve
wait_lines 1 || true
assert_eq "READY=1" "$(sed -n 1p "$T/notify.log")" "READY=1 once serve listens"
kill -HUP "$SERVE_PID"
wait_lines 3 || true
assert_eq "RELOADING=1" "$(sed -n 2p "$T/notify.log")" "RELOADING=1 on SIGHUP"
assert_eq "READY=1" "$(sed -n 3p "$T/notify.log")" "READY=1 after the reload"
kill -TERM "$SERVE_PID"
rc=0; wait "$SERVE_PID" || rc=$?
SERVE_PID=
assert_eq 0 "$rc" "serve exits 0 after SIGTERM"
assert_eq "STOPPING=1" "$(sed -n 4p "$T/notify.log")" "STOPPING=1 on SIGTERM"
assert_eq 4 "$(grep -c . "$T/notify.log")" "exactly four state messages"
finish
