#!/usr/bin/env bash
# cli_config_example.sh - mailagent.conf.example documents every key of agent/lib/config.c with
# the code's default, and the example with every default uncommented is a valid configuration.
. "$(dirname "$0")/lib/common.sh"

EX=$SRC_DIR/mailagent.conf.example
# The key table of config.c: S/I/L/E/A/U("group", "key", field, "default" | NULL).
/usr/bin/python3 - "$SRC_DIR/agent/lib/config.c" "$EX" > "$T/check.out" <<'PY'
import re, sys
code = open(sys.argv[1]).read()
example = open(sys.argv[2]).read()
keys = re.findall(r'^\s*[SILEAU]\("(\w+)",\s*"(\w+)",\s*\w+,\s*(NULL|"[^"]*")(?:,\s*"[^"]*")?\)', code, re.M)
# Sections of the example and the commented "# key = value" lines under each.
section, doc = None, {}
for line in example.splitlines():
    m = re.match(r'^\[(\w+)\]', line)
    if m: section = m.group(1); continue
    m = re.match(r'^#\s*(\w+)\s*=\s*(.*)$', line)
    if m and section: doc.setdefault((section, m.group(1)), m.group(2).strip())
print(len(keys), "keys")
for g, k, d in keys:
    if (g, k) not in doc: print("MISSING", g, k); continue
    if d != "NULL" and doc[(g, k)] != d.strip('"'): print("DEFAULT", g, k, "code", d, "example", doc[(g, k)])
for (g, k) in doc:
    if (g, k) not in [(a, b) for a, b, _ in keys]: print("UNKNOWN", g, k)
PY
out=$(cat "$T/check.out")
n=$(head -1 "$T/check.out" | cut -d' ' -f1)
[ "$n" -ge 30 ] && pass "read $n keys from config.c" || fail "could not read config.c's key table: $out"
assert_not_contains "$out" "MISSING" "every key is documented"
assert_not_contains "$out" "DEFAULT" "documented defaults match the code"
assert_not_contains "$out" "UNKNOWN" "no documented key is unknown to the code"

# Uncomment every key that has a default (keeping the sections), point data_dir at the test dir:
# the result must load (init runs with it).
/usr/bin/python3 - "$SRC_DIR/agent/lib/config.c" "$EX" "$T" > "$T/full.conf" <<'PY'
import re, sys
code = open(sys.argv[1]).read()
with_default = {(g, k) for g, k, d in re.findall(r'^\s*[SILEAU]\("(\w+)",\s*"(\w+)",\s*\w+,\s*(NULL|"[^"]*")(?:,\s*"[^"]*")?\)', code, re.M) if d != "NULL"}
section = None
for line in open(sys.argv[2]).read().splitlines():
    m = re.match(r'^\[(\w+)\]', line)
    if m: section = m.group(1); print(line); continue
    m = re.match(r'^#\s*(\w+)\s*=\s*(.*)$', line)
    if m and (section, m.group(1)) in with_default:
        v = sys.argv[3] + "/data" if m.group(1) == "data_dir" else m.group(2)
        print(f"{m.group(1)} = {v}")
PY
assert_contains "$(cat "$T/full.conf")" "max_message_size = 52428800" "defaults uncommented"
assert_status 0 "$MAILAGENT" init -c "$T/full.conf"
assert_status 0 "$MAILAGENT" enterprise list -c "$T/full.conf"
# And the example as shipped (everything commented) loads too.
mkdir -p "$T/shipped"
assert_status 0 bash -c "cd '$T/shipped' && '$MAILAGENT' init -c '$EX'"
assert_status 0 test -d "$T/shipped/data"
finish
