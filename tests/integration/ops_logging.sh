#!/usr/bin/env bash
# ops_logging.sh - where log records go. On standard error: one line per record, and a deprecated
# key ([pipeline] log_level) is named with its file and line. In the journal ([log] target =
# journal, or auto when standard error is connected to the journal as under systemd): one native
# record per log call with PRIORITY by level (6 info, 4 warn, 3 error), MAILAGENT_COMPONENT and
# MAILAGENT_<KEY> fields from the message's key=value words, and nothing on standard error. The
# journal is a socket this test serves at /run/systemd/journal/socket in a private mount namespace.
. "$(dirname "$0")/lib/common.sh"

write_config "[pipeline]" "log_level = warn"
assert_status 0 ma init
assert_contains "$(cat "$T/last.err")" "WARN config: $CONF:$(grep -n '^log_level' "$CONF" | cut -d: -f1): [pipeline] log_level is deprecated: use [log] level" \
  "a deprecated key is named with its file and line on stderr"

[ "$(id -u)" = 0 ] || skip "a private /run/systemd needs root"
write_config # a fresh file without the deprecated key; same data directory
cat >"$T/journal.py" <<'PY'
"""Serves /run/systemd/journal/socket (datagrams in the journal's native protocol) and a stdout
stream socket; runs serve three ways and writes what arrived as JSON lines to argv[1]."""
import json, os, signal, socket, struct, subprocess, sys, time
out, mailagent, conf, smtp_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def parse(datagram):
    rec, i = {}, 0
    while i < len(datagram):
        nl = datagram.index(b"\n", i)
        line = datagram[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1); rec[k.decode()] = v.decode(); i = nl + 1
        else:
            n = struct.unpack("<Q", datagram[nl + 1:nl + 9])[0]
            rec[line.decode()] = datagram[nl + 9:nl + 9 + n].decode(); i = nl + 9 + n + 1
    return rec

journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
journal.bind("/run/systemd/journal/socket")
journal.settimeout(0.2)
stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stream.bind("/run/systemd/journal/stdout"); stream.listen(4)

import threading
current = {"mode": None}
records = []
def reader():  # the journal reads all the time: a full socket queue would block the writer, as with journald
    while True:
        try:
            r = parse(journal.recv(65536)); r["mode"] = current["mode"]; records.append(r)
        except socket.timeout:
            continue
        except OSError:
            return
threading.Thread(target=reader, daemon=True).start()
def drain(records, mode):
    time.sleep(0.5)

def run(mode, extra_env, stderr, broken):
    current["mode"] = mode
    env = dict(os.environ, **extra_env)
    p = subprocess.Popen([mailagent, "serve", "-c", conf], stderr=stderr, stdout=subprocess.DEVNULL, env=env)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", smtp_port), 0.2).close(); break
        except OSError:
            time.sleep(0.1)
    # An SMTP client that names an unknown recipient: an info record with client=.
    s = socket.create_connection(("127.0.0.1", smtp_port), 5); f = s.makefile("rwb")
    f.readline()
    for cmd in (b"EHLO t\r\n", b"MAIL FROM:<a@b.example>\r\n", b"RCPT TO:<nobody@nowhere.example>\r\n", b"QUIT\r\n"):
        f.write(cmd); f.flush()
        while True:
            line = f.readline()
            if not line or line[3:4] != b"-": break
    s.close()
    with open(conf, "w") as f: f.write(broken)
    p.send_signal(signal.SIGHUP)  # the reload of the broken file is an error record
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM); p.wait(30)
    return p.returncode

with open(conf) as f: good = f.read()
bad = good + "\n[smtp]\nno_such_key = 1\n"
# journal target, stderr to a file
with open(conf, "w") as f: f.write(good + "\n[log]\ntarget = journal\n")
err = open(out + ".stderr", "wb")
rc1 = run("journal", {}, err, bad + "\n[log]\ntarget = journal\n")
drain(records, "journal")
# auto target with stderr connected to the journal's stdout stream, as systemd does
with open(conf, "w") as f: f.write(good)
client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); client.connect("/run/systemd/journal/stdout")
peer, _ = stream.accept(); peer.setblocking(False)
rc2 = run("auto", {}, client.fileno(), bad)
drain(records, "auto")
try:
    streamed = peer.recv(65536)
except BlockingIOError:
    streamed = b""
with open(out, "w") as f:
    for r in records: f.write(json.dumps(r) + "\n")
    f.write(json.dumps({"summary": True, "rc_journal": rc1, "rc_auto": rc2, "streamed": len(streamed)}) + "\n")
PY
unshare -m --propagation private bash -c "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/journal && \
  exec python3 '$T/journal.py' '$T/journal.jsonl' '$MAILAGENT' '$CONF' '$SMTP_PORT'" >"$T/journal.log" 2>&1 \
  || { cat "$T/journal.log"; fail "journal run"; finish; }
py() { python3 -c "
import json
recs = [json.loads(l) for l in open('$T/journal.jsonl')]
summary = recs[-1]; recs = recs[:-1]
print($1)"; }
for mode in journal auto; do
  assert_eq True "$(py "any(r['mode']=='$mode' and r.get('MAILAGENT_COMPONENT')=='serve' and r['PRIORITY']=='6' and 'listening' in r['MESSAGE'] for r in recs)")" \
    "$mode: an info record (PRIORITY=6) from serve"
  assert_eq True "$(py "any(r['mode']=='$mode' and r['PRIORITY']=='3' and 'reload' in r['MESSAGE'] for r in recs)")" \
    "$mode: the failed reload is an error record (PRIORITY=3)"
  assert_eq True "$(py "any(r['mode']=='$mode' and r.get('MAILAGENT_CLIENT')=='127.0.0.1' and r.get('MAILAGENT_COMPONENT')=='smtp' for r in recs)")" \
    "$mode: SMTP records carry MAILAGENT_CLIENT"
  assert_eq True "$(py "all(r.get('SYSLOG_IDENTIFIER')=='mailagent' for r in recs if r['mode']=='$mode')")" \
    "$mode: every record is identified as mailagent"
done
assert_eq True "$(py "any(r['PRIORITY']=='4' for r in recs)")" "a warning record (PRIORITY=4)"
assert_eq "0 0" "$(py "'%d %d' % (summary['rc_journal'], summary['rc_auto'])")" "serve stopped cleanly both times"
assert_eq 0 "$(wc -c <"$T/journal.jsonl.stderr")" "target=journal writes nothing on stderr"
assert_eq 0 "$(py "summary['streamed']")" "auto under the journal writes records, not text on the stream"
finish
