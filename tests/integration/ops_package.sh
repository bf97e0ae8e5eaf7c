#!/usr/bin/env bash
# ops_package.sh - the installation as an administrator gets it. `cmake --install` lays out the
# binary, the unit, both man pages (which name every subcommand and every config key, and render
# without warnings), the packaged configuration and the documented example. The Debian package
# built by CPack carries shlibdeps dependencies and maintainer scripts; installed with apt into a
# throw-away root (an overlay of this machine in private mount and network namespaces), it creates
# the mailagent user and /var/lib/mailagent (0700), the unit passes `systemd-analyze verify`, the
# unit's own ExecStart line runs as the unit's User and reports READY over sd_notify, root gets the
# first admin key with `mailagent apikey create --admin` and it works over the API, and purge
# removes the user and the data.
. "$(dirname "$0")/lib/common.sh"

: "${BUILD_DIR:?}"
R=$T/root
DESTDIR=$R cmake --install "$BUILD_DIR" >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "cmake --install"; }
for f in usr/bin/mailagent usr/lib/systemd/system/mailagent.service usr/share/man/man8/mailagent.8 \
         usr/share/man/man5/mailagent.conf.5 etc/mailagent/mailagent.conf usr/share/doc/mailagent/mailagent.conf.example; do
  if [ -e "$R/$f" ]; then pass "installed /$f"; else fail "not installed: /$f"; fi
done
assert_contains "$(grep '^ExecStart=' "$R/usr/lib/systemd/system/mailagent.service")" \
  "/usr/bin/mailagent serve -c /etc/mailagent/mailagent.conf" "the unit starts the installed binary with the installed config"

# The man pages: render cleanly, name every subcommand and every key.
for page in man8/mailagent.8 man5/mailagent.conf.5; do
  warnings=$(MANWIDTH=100 man --warnings -l "$R/usr/share/man/$page" 2>&1 >/dev/null || true)
  assert_eq "" "$warnings" "$page renders without warnings"
done
man8=$(MANWIDTH=200 man -l "$R/usr/share/man/man8/mailagent.8" 2>/dev/null)
for sub in $("$MAILAGENT" --help | awk '/^subcommands:/ {on=1; next} on && !NF {exit} on {print $1}'); do
  grep -qE "^ +$sub( |$)" <<<"$man8" && pass "mailagent(8) describes '$sub'" || fail "mailagent(8) lacks subcommand '$sub'"
done
man5=$(MANWIDTH=200 man -l "$R/usr/share/man/man5/mailagent.conf.5" 2>/dev/null)
echo "$man5" >"$T/man5.txt"
missing=$(python3 - "$SRC_DIR/agent/lib/config.c" "$T/man5.txt" <<'PY'
import re, sys
page = open(sys.argv[2]).read()
keys = re.findall(r'^\s*[SILEAU]\("(\w+)",\s*"(\w+)"', open(sys.argv[1]).read(), re.M)
sections = re.split(r'^\s*\[(\w+)\]\s*$', page, flags=re.M)
body = {sections[i]: sections[i + 1] for i in range(1, len(sections) - 1, 2)}
print(" ".join("[%s] %s" % (g, k) for g, k in keys if not re.search(r'^\s+%s(\s|$)' % k, body.get(g, ""), re.M)))
PY
)
assert_eq "" "$missing" "mailagent.conf(5) documents every key under its section"

# The Debian package.
(cd "$BUILD_DIR" && cpack -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1) || { cat "$T/cpack.log"; fail "cpack"; }
deb=$(ls "$T"/pkg/mailagent_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] && pass "cpack made $(basename "$deb")" || { fail "no package"; finish; }
info=$(dpkg-deb -I "$deb")
for dep in libgmime-3.0 libsqlite3 libssl3 libevent libetpan adduser; do
  assert_contains "$(grep '^ Depends:' <<<"$info")" "$dep" "package depends on $dep (shlibdeps)"
done
contents=$(dpkg-deb -c "$deb")
assert_contains "$contents" "./usr/bin/mailagent" "package holds the binary"
assert_contains "$contents" "./etc/mailagent/mailagent.conf" "package holds the configuration"
assert_contains "$(dpkg-deb -f "$deb" Package) $(dpkg-deb --ctrl-tarfile "$deb" | tar -t)" "./conffiles" "the configuration is a conffile"

[ "$(id -u)" = 0 ] || { echo "SKIP - installing the package needs root"; finish; }
M=$T/ovl/merged
mkdir -p "$T/ovl/upper" "$T/ovl/work" "$M"
cp "$deb" "$T/ovl/mailagent.deb"
cat >"$T/inner.sh" <<INNER
set -u
out=$T/results
ip link set lo up
mount -t overlay overlay -o lowerdir=/,upperdir=$T/ovl/upper,workdir=$T/ovl/work $M || { echo "overlay=no" >>\$out; exit 0; }
mount -t proc proc $M/proc
mount --rbind /dev $M/dev
mount -t tmpfs tmpfs $M/run
mount -t tmpfs tmpfs $M/tmp
cp $T/ovl/mailagent.deb $M/tmp/
chroot $M apt-get install -y -q /tmp/mailagent.deb >$T/apt.log 2>&1; echo "apt=\$?" >>\$out
echo "user=\$(chroot $M id -un mailagent 2>/dev/null)" >>\$out
echo "version=\$(chroot $M mailagent --version | head -1)" >>\$out
echo "datadir=\$(chroot $M stat -c '%a %U' /var/lib/mailagent)" >>\$out
echo "conf=\$(chroot $M stat -c '%a %U:%G' /etc/mailagent/mailagent.conf)" >>\$out
chroot $M systemd-analyze verify mailagent.service >$T/verify.log 2>&1; echo "verify=\$?" >>\$out
systemd-analyze verify --root=$M --man=no mailagent.service >>$T/verify.log 2>&1; echo "verify_root=\$?" >>\$out
exec_start=\$(sed -n 's/^ExecStart=//p' $M/usr/lib/systemd/system/mailagent.service)
unit_user=\$(sed -n 's/^User=//p' $M/usr/lib/systemd/system/mailagent.service)
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
s.settimeout(20)
try:
    while True:
        d = s.recv(4096).decode()
        open(sys.argv[2], "a").write(d.replace("\n", " ") + "\n")
        if "READY=1" in d: break
except socket.timeout:
    pass' $M/run/notify.sock $T/notify.log &
for _ in \$(seq 1 50); do [ -S $M/run/notify.sock ] && break; sleep 0.1; done
chmod 666 $M/run/notify.sock # systemd's socket accepts the service's user too
chroot $M runuser -u "\$unit_user" -- env NOTIFY_SOCKET=/run/notify.sock \$exec_start >$T/unit-serve.log 2>&1 &
serve=\$!
for _ in \$(seq 1 100); do grep -q READY=1 $T/notify.log 2>/dev/null && break; sleep 0.1; done
echo "ready=\$(grep -c READY=1 $T/notify.log 2>/dev/null)" >>\$out
echo "serve_uid=\$(ps -o uid= -p \$(pgrep -f '^/usr/bin/mailagent serve' | head -1) 2>/dev/null | tr -d ' ')" >>\$out
echo "unit_uid=\$(chroot $M id -u "\$unit_user")" >>\$out
key=\$(chroot $M mailagent apikey create --admin -c /etc/mailagent/mailagent.conf 2>>$T/apikey.log | grep -o 'maa_[0-9a-f]*')
echo "key=\${key:0:4}" >>\$out
echo "api=\$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer \$key" http://127.0.0.1:8025/v1/enterprises)" >>\$out
echo "root_files=\$(chroot $M find /var/lib/mailagent ! -user mailagent | wc -l)" >>\$out
pkill -TERM -f 'mailagent serve -c /etc/mailagent'; wait
chroot $M apt-get purge -y -q mailagent >>$T/apt.log 2>&1; echo "purge=\$?" >>\$out
echo "after_purge=\$(chroot $M id -un mailagent 2>/dev/null)\$(chroot $M ls -d /var/lib/mailagent 2>/dev/null)" >>\$out
INNER
if ! unshare -m -n --propagation private bash "$T/inner.sh" 2>"$T/inner.err"; then
  echo "SKIP - no private mount and network namespace here: $(head -c 200 "$T/inner.err")"; finish
fi
if grep -q '^overlay=no' "$T/results"; then echo "SKIP - no overlay mount of / here"; finish; fi
r() { sed -n "s/^$1=//p" "$T/results"; }
assert_eq 0 "$(r apt)" "apt installs the package ($(tail -1 "$T/apt.log"))"
assert_eq mailagent "$(r user)" "the package creates the mailagent user"
assert_contains "$(r version)" "mailagent 0." "the installed mailagent --version runs"
assert_eq "700 mailagent" "$(r datadir)" "/var/lib/mailagent is 0700 and the user's"
assert_eq "640 root:mailagent" "$(r conf)" "the configuration is readable by the daemon's group only"
assert_eq 0 "$(r verify)" "systemd-analyze verify passes on the installed unit ($(head -c 300 "$T/verify.log"))"
assert_eq 0 "$(r verify_root)" "systemd-analyze verify --root passes"
assert_eq 1 "$(r ready)" "the unit's ExecStart line, run as its User, reports READY=1"
assert_eq "$(r unit_uid)" "$(r serve_uid)" "the daemon runs as the unit's user"
assert_eq maa_ "$(r key)" "root gets the first admin key with apikey create --admin"
assert_eq 200 "$(r api)" "the key works on the installed daemon's API"
assert_eq 0 "$(r root_files)" "nothing in /var/lib/mailagent is owned by root"
assert_eq 0 "$(r purge)" "apt purges the package"
assert_eq "" "$(r after_purge)" "purge removes the user and the data directory"
finish
