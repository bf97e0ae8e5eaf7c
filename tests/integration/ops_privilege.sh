#!/usr/bin/env bash
# ops_privilege.sh - started by root with [process] user, `serve` binds a port below 1024 and runs
# as that user with no capability left; `init` and an administrative command run by root create
# nothing owned by root in the data directory (the daemon could not write it afterwards).
. "$(dirname "$0")/lib/common.sh"

[ "$(id -u)" = 0 ] || skip "switching users needs root"
nobody_uid=$(id -u nobody 2>/dev/null) || skip "no user 'nobody'"
chmod 755 "$T" # the unprivileged user must reach its data directory
low=$(python3 -c '
import socket
for p in range(700, 1000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); s.close(); print(p); break
    except OSError:
        s.close()')
write_config "[process]" "user=nobody"
sed -i "s/^listen=127.0.0.1:$SMTP_PORT\$/listen=127.0.0.1:$low/" "$CONF"
SMTP_PORT=$low

assert_status 0 ma init
assert_eq nobody "$(stat -c %U "$T/data")" "init run by root creates the data dir as [process] user"
assert_eq "" "$(find "$T/data" ! -user nobody)" "init run by root leaves no file owned by root"

start_serve
assert_eq "$nobody_uid" "$(awk '/^Uid:/ {print $2}' /proc/"$SERVE_PID"/status)" "serve runs as [process] user"
assert_eq "0000000000000000" "$(awk '/^CapEff:/ {print $2}' /proc/"$SERVE_PID"/status)" "no capability left once listening"
assert_eq "0000000000000000" "$(awk '/^CapPrm:/ {print $2}' /proc/"$SERVE_PID"/status)" "none can be regained"
exec 3<>/dev/tcp/127.0.0.1/"$low"
read -r -t 5 banner <&3 || banner=
exec 3>&-
assert_contains "$banner" "220 " "the SMTP listener on port $low (below 1024) answers"

assert_status 0 ma apikey create --admin --label ops
assert_contains "$(cat "$T/last.out")" "maa_" "root creates an admin key while serve runs"
assert_eq "" "$(find "$T/data" ! -user nobody)" "nothing in the data dir is owned by root afterwards"
finish
