# dns.sh - a real authoritative DNS server for integration tests, sourced after common.sh.
#
#   dns_start ZONEFILE...   starts nsd on 127.0.0.1 (a free high port, UDP and TCP, no root
#                           needed) serving each zone file; the zone's origin is the file's
#                           $ORIGIN line, else its name without ".zone" (example.test.zone ->
#                           example.test). Exports DNS_PORT and DNS_SERVERS ("127.0.0.1:PORT",
#                           the value for `[dns] servers`). Waits until nsd answers a query for
#                           the first zone's SOA. Stopped by common.sh's EXIT trap.
#   dns_blackhole           opens a UDP (and TCP) socket on loopback that reads queries and never
#                           answers; exports BLACKHOLE_PORT and BLACKHOLE_SERVERS. Use it as the
#                           only server of a resolver to get a time-out.
#   dns_query NAME TYPE [PORT] prints the answer's RCODE and records, one per line, as seen on the
#                           wire (a probe for tests; TXT strings are printed quoted, space-separated).
#
# Zone files live under tests/fixtures/dns/ (see the README there for what each name serves).
# Needs nsd (scripts/setup.sh installs it); the packaged nsd service is not used.

DNS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

dns_start() {
  [ "$#" -ge 1 ] || { echo "dns_start: give at least one zone file" >&2; return 1; }
  local dir=$T/nsd first_origin="" zone origin
  mkdir -p "$dir/zones"
  DNS_PORT=$(free_port)
  {
    echo "server:"
    echo "  ip-address: 127.0.0.1@$DNS_PORT"
    echo "  port: $DNS_PORT"
    echo "  server-count: 1"
    echo "  username: \"\""
    echo "  chroot: \"\""
    echo "  database: \"\""
    echo "  zonelistfile: \"$dir/zone.list\""
    echo "  xfrdfile: \"$dir/xfrd.state\""
    echo "  pidfile: \"$dir/nsd.pid\""
    echo "  zonesdir: \"$dir/zones\""
    echo "  logfile: \"$dir/nsd.log\""
    echo "  verbosity: 1"
    echo "  hide-version: yes"
    echo "  rrl-ratelimit: 0"  # tests ask fast from one address: no response rate limiting
    echo "  minimal-responses: no"
    echo "  do-ip6: no"
    echo "remote-control:"
    echo "  control-enable: no"
  } > "$dir/nsd.conf"
  for zone in "$@"; do
    origin=$(awk 'toupper($1) == "$ORIGIN" { sub(/\.$/, "", $2); print $2; exit }' "$zone")
    [ -n "$origin" ] || origin=$(basename "$zone" .zone)
    [ -n "$first_origin" ] || first_origin=$origin
    cp "$zone" "$dir/zones/$origin.zone"
    if ! nsd-checkzone "$origin" "$dir/zones/$origin.zone" >"$dir/checkzone.log" 2>&1; then
      cat "$dir/checkzone.log" >&2; fail "dns_start: zone $zone does not load"; return 1
    fi
    printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$origin" "$origin" >> "$dir/nsd.conf"
  done
  nsd -d -c "$dir/nsd.conf" >>"$dir/nsd.log" 2>&1 &
  DNS_PID=$!
  CLEANUP_PIDS+=("$DNS_PID")
  for _ in $(seq 1 300); do
    if dns_query "$first_origin" SOA "$DNS_PORT" 2>/dev/null | grep -q '^rcode 0'; then
      DNS_SERVERS="127.0.0.1:$DNS_PORT"; export DNS_PORT DNS_SERVERS; return 0
    fi
    kill -0 "$DNS_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/nsd.log" >&2; fail "dns_start: nsd did not answer on 127.0.0.1:$DNS_PORT"; return 1
}

dns_blackhole() {
  BLACKHOLE_PORT=$(free_port)
  /usr/bin/python3 - "$BLACKHOLE_PORT" >"$T/blackhole.log" 2>&1 <<'PY' &
import select, socket, sys
port = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", port))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("127.0.0.1", port)); t.listen(16)
print("ready", flush=True)
held = []
while True:  # read and drop every query; accept TCP connections and never answer them either
    r, _, _ = select.select([u, t] + held, [], [])
    for s in r:
        if s is u: u.recv(65535); print("query", flush=True)
        elif s is t: held.append(t.accept()[0])
        elif not s.recv(65535): held.remove(s); s.close()
PY
  CLEANUP_PIDS+=("$!")
  for _ in $(seq 1 600); do grep -q ready "$T/blackhole.log" 2>/dev/null && break; sleep 0.05; done
  grep -q ready "$T/blackhole.log" || { cat "$T/blackhole.log" >&2; fail "dns_blackhole: not listening"; return 1; }
  BLACKHOLE_SERVERS="127.0.0.1:$BLACKHOLE_PORT"
  export BLACKHOLE_PORT BLACKHOLE_SERVERS
}

dns_query() {
  /usr/bin/python3 "$DNS_LIB_DIR/dns_query.py" "$1" "$2" "${3:-$DNS_PORT}"
}
