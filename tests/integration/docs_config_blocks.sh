#!/usr/bin/env bash
# docs_config_blocks.sh - every ```ini block in README.md and docs/*.md is a configuration an
# administrator will paste: each one, written to a file as it stands (inline comments included),
# passes `mailagent serve --check-config` without a word on stderr.
. "$(dirname "$0")/lib/common.sh"

python3 - "$SRC_DIR" "$T" <<'PY' >"$T/blocks.txt"
import glob, os, re, sys
src, tmp = sys.argv[1], sys.argv[2]
files = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
n = 0
for path in files:
    text = open(path).read()
    for m in re.finditer(r"^```ini\n(.*?)^```", text, re.S | re.M):
        n += 1
        out = os.path.join(tmp, "block%d.conf" % n)
        open(out, "w").write(m.group(1))
        line = text[:m.start()].count("\n") + 1
        print(out, os.path.relpath(path, src) + ":" + str(line))
PY
[ -s "$T/blocks.txt" ] || fail "no \`\`\`ini block found in the docs"
while read -r conf where; do
  # secret_file and the like name files of the administrator's machine: the block must load as
  # configuration; checking those files is serve's job.
  assert_status 0 "$MAILAGENT" serve --check-config -c "$conf"
  [ "$(cat "$T/last.err")" = "" ] && pass "$where loads without a word" || fail "$where: $(cat "$T/last.err")"
done <"$T/blocks.txt"
finish
