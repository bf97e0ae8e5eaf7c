#!/usr/bin/env bash
# build_clang.sh - every source file of the daemon (agent/, storage/, rules/) is also valid C for
# clang, which the build (gcc) is not asked to be. The point is one defect gcc compiles silently: a
# goto that jumps past the initialisation of a g_autofree/g_autoptr variable, whose cleanup then
# frees an uninitialised pointer when the jump is taken (`mailagent send` crashed so on a missing
# file). clang refuses such a jump as an error. Each file is checked with its own flags from the
# build's compile_commands.json, -fsyntax-only and warnings off (gcc's warnings are the build's);
# a snippet with such a jump must be refused, so the check can fail.
. "$(dirname "$0")/lib/common.sh"
command -v clang >/dev/null || fail "clang is not installed (scripts/setup.sh installs it)"
: "${BUILD_DIR:?}"

/usr/bin/python3 - "$BUILD_DIR/compile_commands.json" "$SRC_DIR" "$T" >"$T/check.out" 2>&1 <<'PY' || fail "clang refuses: $(head -c 3000 "$T/check.out")"
import concurrent.futures, json, os, shlex, subprocess, sys
db, src, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
roots = tuple(os.path.join(src, d) + "/" for d in ("agent", "storage", "rules"))
entries = [e for e in json.load(open(db)) if e["file"].startswith(roots)]
if len(entries) < 100:
    sys.exit(f"only {len(entries)} daemon sources in {db}")

def argv_of(entry, file=None):
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    out, skip = ["clang"], False
    for a in args[1:]:
        if skip:
            skip = False
        elif a == "-o":
            skip = True
        elif a == entry["file"] and file:
            out.append(file)
        elif not a.startswith("-fanalyzer"):
            out.append(a)
    return out + ["-fsyntax-only", "-w"]

def check(entry, file=None):
    r = subprocess.run(argv_of(entry, file), cwd=entry["directory"], capture_output=True, text=True)
    return entry["file"] if file is None else file, r.returncode, r.stderr

# the check can fail: a jump past an auto-freed variable, compiled with a real file's flags
probe = os.path.join(tmp, "jump.c")
with open(probe, "w") as f:
    f.write('#include <glib.h>\nint probe(int x);\nint probe(int x)\n{\n  if (x) goto out;\n'
            '  g_autofree char *s = g_strdup("x");\n  (void) s;\nout:\n  return x;\n}\n')
_, rc, err = check(entries[0], probe)
if rc == 0:
    sys.exit("clang accepted a jump past an auto-freed variable: the check proves nothing")

with concurrent.futures.ThreadPoolExecutor(2) as pool:
    results = list(pool.map(check, entries))
bad = [r for r in results if r[1] != 0]
for file, _, err in bad:
    print(file, err[:1500])
print(f"{len(entries)} files, {len(bad)} refused")
sys.exit(1 if bad else 0)
PY
pass "$(tail -1 "$T/check.out"), and a jump past an auto-freed variable is refused"
finish
