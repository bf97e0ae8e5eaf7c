#!/usr/bin/env bash
# run.sh - IMAP collection figures for issue 12 (not a timed test).
#
#   scripts/bench/imap/run.sh                 (uses ./build/mailagent, or $MAILAGENT)
#   MSGS=10000 SIZE=4096 scripts/bench/imap/run.sh
#
# In one run, against one private Dovecot on loopback (IMAPS, test CA) holding MSGS messages of
# about SIZE bytes in one INBOX:
#   bare     one `UID FETCH 1:* BODY.PEEK[]` read to the end (the server's own ceiling);
#   mailagent `mailagent mailbox sync` of a fresh binding until every message is archived (each
#            FETCH round fsync'd in the spool before its checkpoint, then the pipeline);
#   mbsync   isync's mbsync pulling the folder into a Maildir (default settings).
# Prints the three times, mbsync/mailagent, mailagent/bare, and mailagent's peak RSS.
# Then memory with many mailboxes (MULTI, default 10; 0 skips it): `mailagent serve` collects one
# mailbox of MSGS/MULTI messages, then MULTI such mailboxes at once (its bounded collector pool,
# [collector] threads); prints both peak RSS figures and whether the growth stays within the pool's
# bound (each worker holds at most one FETCH round, whatever the number of mailboxes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
MAILAGENT=${MAILAGENT:-$ROOT/build/mailagent}
MSGS=${MSGS:-10000}; SIZE=${SIZE:-4096}
T=$(mktemp -d /tmp/mailagent-bench.XXXXXX); chmod 755 "$T"
CLEANUP_CMDS=(); FAILURES=0
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cleanup() { for c in "${CLEANUP_CMDS[@]:-}"; do [ -n "$c" ] && eval "$c" >/dev/null 2>&1 || true; done; rm -rf "$T"; }
trap cleanup EXIT
source "$ROOT/tests/fixtures/collector/dovecot.sh"

MULTI=${MULTI:-10}
PER=$(( MULTI > 0 ? MSGS / MULTI : 0 ))
pki_make
dovecot_user bench@example.test bench-secret
for i in $(seq 1 "$MULTI"); do dovecot_user "m$i@example.test" bench-secret; done
# make_maildir DIR N: N messages of ~SIZE bytes (Message-IDs unique to the mailbox: no dedup across them)
make_maildir() {
mkdir -p "$1/cur" "$1/new" "$1/tmp"
/usr/bin/python3 - "$1" "$2" "$SIZE" "$(basename "$1")" <<'PY'
import os, sys, time
md, n, size, owner = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
now = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
line = "The quick brown fox writes to a customer about the order.\r\n"
for i in range(1, n + 1):
    head = ("From: Customer %d <c%d@client.test>\r\nTo: bench@example.test\r\nSubject: Order %d\r\n"
            "Message-ID: <bench%d.%s>\r\nDate: %s\r\n\r\n") % (i % 97, i % 97, i, i, owner, now)
    body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
    with open(os.path.join(md, "cur", "%d.M%dP1.bench:2," % (int(time.time()), i)), "w") as f:
        f.write(head + body)
PY
}
make_maildir "$T/dovecot/mail/bench@example.test" "$MSGS"
for i in $(seq 1 "$MULTI"); do make_maildir "$T/dovecot/mail/m$i@example.test" "$PER"; done
[ "$(id -u)" = 0 ] && chown -R dovecot:dovecot "$T/dovecot/mail"
dovecot_start
doveadm -c "$DOVECOT_CONF" index -u bench@example.test INBOX 2>/dev/null || true

bare() {
  /usr/bin/python3 - "$IMAPS_PORT" "$T/pki/root.pem" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
def until(tag):
    n, tail = 0, b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk: raise SystemExit("closed")
        n += len(chunk)
        tail = (tail + chunk)[-4096:]
        if (b"\r\n" + tag + b" ") in tail or (n == len(tail) and tail.startswith(tag + b" ")): return n
until(b"*")
s.sendall(b"a LOGIN bench@example.test bench-secret\r\n"); until(b"a")
s.sendall(b"b EXAMINE INBOX\r\n"); until(b"b")
t = time.monotonic()
s.sendall(b"c UID FETCH 1:* BODY.PEEK[]\r\n"); n = until(b"c")
print("%.3f %d" % (time.monotonic() - t, n))
PY
}
bare >/dev/null # warm the server's cache the same way for everyone
read -r BARE BARE_BYTES < <(bare)

# ---- mailagent ---------------------------------------------------------------------------------
cat > "$T/mailagent.conf" <<CONF
[storage]
data_dir = $T/data
[collector]
ca_file = $T/pki/root.pem
initial_days = 3650
CONF
ma() { "$MAILAGENT" "$1" -c "$T/mailagent.conf" "${@:2}"; }
ma init >/dev/null
ma enterprise add --name Bench --slug bench --domain example.test >/dev/null
ma settings bench archive_unmatched=on >/dev/null
echo bench-secret > "$T/pw"
ma mailbox bind bench bench@example.test --host localhost --port "$IMAPS_PORT" --password-file "$T/pw" --folders INBOX >/dev/null 2>&1
ID=$(ma mailbox list bench --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
t0=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$T/rss" "$MAILAGENT" mailbox sync -c "$T/mailagent.conf" bench "$ID" >/dev/null 2>"$T/sync.log"
t1=$(date +%s.%N)
MA_TIME=$(echo "$t1 - $t0" | bc -l)
ARCHIVED=$(sqlite3 -readonly "$T/data/mailagent.db" "select count(*) from messages")
[ "$ARCHIVED" = "$MSGS" ] || fail "mailagent archived $ARCHIVED of $MSGS"

# ---- mbsync ------------------------------------------------------------------------------------
mkdir -p "$T/mbsync/inbox"
cat > "$T/mbsyncrc" <<RC
IMAPAccount bench
Host localhost
Port $IMAPS_PORT
User bench@example.test
Pass bench-secret
SSLType IMAPS
CertificateFile $T/pki/root.pem

IMAPStore remote
Account bench

MaildirStore local
Path $T/mbsync/
Inbox $T/mbsync/inbox

Channel bench
Far :remote:INBOX
Near :local:INBOX
Sync Pull
Create Near
SyncState $T/mbsync/
RC
t0=$(date +%s.%N)
mbsync -q -c "$T/mbsyncrc" bench
t1=$(date +%s.%N)
MB_TIME=$(echo "$t1 - $t0" | bc -l)
MB_COUNT=$(find "$T/mbsync/inbox/cur" "$T/mbsync/inbox/new" -type f | wc -l)
[ "$MB_COUNT" = "$MSGS" ] || fail "mbsync stored $MB_COUNT of $MSGS"

printf 'messages: %d of ~%d bytes (%d bytes fetched by the bare FETCH)\n' "$MSGS" "$SIZE" "$BARE_BYTES"
printf 'bare UID FETCH 1:* BODY.PEEK[]: %.2f s\n' "$BARE"
printf 'mailagent (until archived):   %.2f s  (%.0f messages/s), peak RSS %d MB\n' "$MA_TIME" "$(echo "$MSGS / $MA_TIME" | bc -l)" $(( $(cat "$T/rss") / 1024 ))
printf 'mbsync (default settings):    %.2f s\n' "$MB_TIME"
printf 'mbsync / mailagent: %.2fx   mailagent / bare FETCH: %.1fx\n' "$(echo "$MB_TIME / $MA_TIME" | bc -l)" "$(echo "$MA_TIME / $BARE" | bc -l)"

# ---- memory with many mailboxes: serve's peak RSS for 1 mailbox, then for MULTI at once -----------
# serve_peak N: a fresh data directory, N bindings (m1..mN), serve until all N*PER are archived;
# prints serve's peak RSS (VmHWM) in kB
serve_peak() {
  local d=$T/multi$1 port_smtp port_api port_sub pid want i
  port_smtp=$(free_port); port_api=$(free_port); port_sub=$(free_port)
  cat > "$d.conf" <<CONF
[storage]
data_dir = $d
[smtp]
listen = 127.0.0.1:$port_smtp
[submission]
listen = 127.0.0.1:$port_sub
[api]
listen = 127.0.0.1:$port_api
[collector]
ca_file = $T/pki/root.pem
initial_days = 3650
CONF
  "$MAILAGENT" init -c "$d.conf" >/dev/null
  "$MAILAGENT" enterprise -c "$d.conf" add --name Bench --slug bench --domain example.test >/dev/null
  "$MAILAGENT" settings -c "$d.conf" bench archive_unmatched=on >/dev/null
  for i in $(seq 1 "$1"); do
    "$MAILAGENT" mailbox -c "$d.conf" bind bench "m$i@example.test" --host localhost --port "$IMAPS_PORT" \
      --password-file "$T/pw" --folders INBOX >/dev/null 2>&1 || fail "bind m$i"
  done
  "$MAILAGENT" serve -c "$d.conf" >"$d.log" 2>&1 &
  pid=$!
  CLEANUP_CMDS+=("kill $pid")
  want=$(( $1 * PER ))
  for _ in $(seq 1 6000); do
    [ "$(sqlite3 -readonly "$d/mailagent.db" 'select count(*) from messages' 2>/dev/null || echo 0)" -ge "$want" ] && break
    kill -0 "$pid" 2>/dev/null || fail "serve exited: $(tail -3 "$d.log")"
    sleep 0.1
  done
  [ "$(sqlite3 -readonly "$d/mailagent.db" 'select count(*) from messages')" -ge "$want" ] || fail "serve archived too little"
  awk '/^VmHWM/ {print $2}' "/proc/$pid/status"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
}
if [ "$MULTI" -gt 0 ]; then
  ONE=$(serve_peak 1)
  MANY=$(serve_peak "$MULTI")
  # The bound: the collector pool's workers ([collector] threads, default 4) each hold at most one
  # FETCH round ([collector] batch_bytes, default 4 MiB), plus 8 MiB for their stacks and buffers.
  BOUND=$(( 4 * 4096 + 8192 ))
  printf 'serve, peak RSS: 1 mailbox of %d messages %d MB; %d such mailboxes at once %d MB (+%d MB; %s the pool bound of +%d MB)\n' \
    "$PER" $((ONE / 1024)) "$MULTI" $((MANY / 1024)) $(((MANY - ONE) / 1024)) \
    "$([ $((MANY - ONE)) -le "$BOUND" ] && echo within || echo OVER)" $((BOUND / 1024))
fi
echo "reproduce: MSGS=$MSGS SIZE=$SIZE MULTI=$MULTI scripts/bench/imap/run.sh"
