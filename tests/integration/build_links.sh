#!/usr/bin/env bash
# build_links.sh - CMake's link dependencies equal the includes: scripts/check_links.py finds no
# module (nor the executable) that includes another module's or a library's header without linking
# it, or links one it does not include; and it does catch both kinds of difference (it is run on a
# copy of CMakeLists.txt with one link added and one removed).
. "$(dirname "$0")/lib/common.sh"

python3 "$SRC_DIR/scripts/check_links.py" "$SRC_DIR" >"$T/check.out" || fail "link dependencies differ from the includes: $(cat "$T/check.out")"

mkdir -p "$T/src"
cp -r "$SRC_DIR/agent" "$SRC_DIR/storage" "$SRC_DIR/rules" "$T/src/"
sed -e 's/^ma_module(match    agent\/match    ma_lib ma_storage ma_tenant)/ma_module(match    agent\/match    ma_lib ma_storage ma_tenant ma_dkim)/' \
    -e 's/^ma_module(codec    agent\/codec    ma_lib ma_storage ma_search PkgConfig::JANSSON)/ma_module(codec    agent\/codec    ma_lib ma_storage ma_search)/' \
    "$SRC_DIR/CMakeLists.txt" > "$T/src/CMakeLists.txt"
cmp -s "$SRC_DIR/CMakeLists.txt" "$T/src/CMakeLists.txt" && fail "the test's edits no longer apply to CMakeLists.txt"
out=$(python3 "$SRC_DIR/scripts/check_links.py" "$T/src") && fail "a changed CMakeLists.txt passed: $out"
grep -q "ma_match: links ma_dkim without including it" <<<"$out" || fail "an unused link was not reported: $out"
grep -q "ma_codec: includes PkgConfig::JANSSON without linking it" <<<"$out" || fail "an undeclared link was not reported: $out"
pass "links equal includes, and a changed CMakeLists.txt is caught both ways"
finish
