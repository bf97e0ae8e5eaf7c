#!/usr/bin/env bash
# Runs the whole test suite through ctest (unit tests and integration tests against real peers on
# loopback). Builds first if needed. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${MAILAGENT_CMAKE_ARGS:-}
fi
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
